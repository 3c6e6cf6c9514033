"""A ROUTER that never answers: it binds, prints its endpoint, then
prints one line per message received: "<identity hex> <frame hex>...".
Used to watch a Paranoid Pirate worker give up on a silent broker and
reconnect (a new DEALER, so a new identity, sending READY again).
"""
import sys

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
sock.bind("tcp://127.0.0.1:*")
print("bound", sock.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
while True:
    frames = sock.recv_multipart()
    print("got", " ".join(f.hex() for f in frames), flush=True)
