"""Lazy Pirate client (zguide chapter 4), written from its description.

REQ socket; sends the sequence numbers 1..COUNT; waits TIMEOUT_MS for each
reply with poll; on timeout closes the socket (linger 0), reconnects and
resends, RETRIES times at most. Prints one line per request:
"ok N", "failure N" (the broker's empty failure reply) or "abandoning N".
Exits 0 when every request got a reply equal to it or a failure reply,
1 on a wrong reply, 2 when the server seems offline.
"""
import sys

import zmq

endpoint, count, timeout_ms, retries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ctx = zmq.Context()


def connect():
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


sock = connect()
for seq in range(1, count + 1):
    request = str(seq).encode()
    sock.send(request)
    left = retries
    while True:
        if sock.poll(timeout_ms) & zmq.POLLIN:
            reply = sock.recv_multipart()
            if reply == [b""]:
                print("failure", seq, flush=True)
            elif reply == [request]:
                print("ok", seq, flush=True)
            else:
                print("wrong reply", seq, reply, flush=True)
                sys.exit(1)
            break
        sock.close()
        if left == 0:
            print("abandoning", seq, flush=True)
            sys.exit(2)
        left -= 1
        sock = connect()
        sock.send(request)
sock.close()
ctx.term()
