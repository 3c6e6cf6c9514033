"""Sends malformed messages to both broker sockets.

Frontend (as a DEALER, so no REQ delimiter is added): a frame with no
delimiter, an empty delimiter with no body. Backend: an unknown command
byte, an overlong command frame, two frames with no delimiter, a reply
whose envelope names no request. Prints "sent N" with the count per side.
"""
import sys
import time

import zmq

frontend, backend = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
front = ctx.socket(zmq.DEALER)
front.setsockopt(zmq.LINGER, 1000)
front.connect(frontend)
back = ctx.socket(zmq.DEALER)
back.setsockopt(zmq.LINGER, 1000)
back.connect(backend)
time.sleep(0.2)
front_msgs = [[b"no delimiter"], [b""]]
back_msgs = [[b"\x07"], [b"READY"], [b"x", b"y"], [b"not-an-id", b"", b"body"]]
for m in front_msgs:
    front.send_multipart(m)
for m in back_msgs:
    back.send_multipart(m)
print("sent", len(front_msgs), len(back_msgs), flush=True)
front.close()
back.close()
ctx.term()
