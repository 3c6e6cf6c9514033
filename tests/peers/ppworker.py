"""Paranoid Pirate worker (6/PPP), written from the RFC.

DEALER socket; sends READY (0x01), then HEARTBEAT (0x02) every interval;
a request is three frames (address, empty, body) and is echoed whole.
Every silent interval costs one unit of liveness; at zero it reconnects
after a back-off doubling from 1 s to 32 s. Prints "served <body>".
"""
import sys
import time

import zmq

endpoint = sys.argv[1]
INTERVAL = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
LIVENESS = 3
READY, HEARTBEAT = b"\x01", b"\x02"
ctx = zmq.Context()


def connect():
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send(READY)
    return s


sock = connect()
liveness = LIVENESS
backoff = 1.0
heartbeat_at = time.time() + INTERVAL
while True:
    if sock.poll(int(INTERVAL * 1000)) & zmq.POLLIN:
        frames = sock.recv_multipart()
        if len(frames) == 3:
            print("served", frames[2].decode(errors="replace"), flush=True)
            sock.send_multipart(frames)
            liveness = LIVENESS
        elif frames == [HEARTBEAT]:
            liveness = LIVENESS
        else:
            print("invalid message", frames, flush=True)
        backoff = 1.0
    else:
        liveness -= 1
        if liveness == 0:
            print("heartbeat failure, reconnecting in", backoff, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, 32.0)
            sock.close()
            sock = connect()
            liveness = LIVENESS
    if time.time() > heartbeat_at:
        heartbeat_at = time.time() + INTERVAL
        sock.send(HEARTBEAT)
