"""Simple Pirate worker (zguide chapter 4), written from its description.

REQ socket to the broker's backend; says READY (one frame, 0x01) once,
then echoes every request it gets (the whole multipart message, envelope
included). Prints "served <body>" for each.
"""
import sys

import zmq

endpoint = sys.argv[1]
ctx = zmq.Context()
sock = ctx.socket(zmq.REQ)
sock.setsockopt(zmq.LINGER, 0)
sock.connect(endpoint)
sock.send(b"\x01")
while True:
    msg = sock.recv_multipart()
    print("served", msg[-1].decode(errors="replace"), flush=True)
    sock.send_multipart(msg)
