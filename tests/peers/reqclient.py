"""A plain REQ client of the classic task broker: sends numbered
requests one after another and waits for each answer, with no retries
of its own (the broker retries across workers).

usage: reqclient.py ENDPOINT COUNT [--name NAME] [--timeout SECONDS]
                    [--server-key FILE --curve-key FILE]

With --server-key (the broker's public key file) and --curve-key (this
client's secret key file), the connection uses CURVE.

Prints per request, flushed: "answer <request> <reply>", or
"failure <request>" for the broker's failure reply (one empty frame);
"timeout <request>" and exit 1 when nothing comes within the timeout.
"""
import argparse
import sys

import zmq

p = argparse.ArgumentParser()
p.add_argument("endpoint")
p.add_argument("count", type=int)
p.add_argument("--name", default="c")
p.add_argument("--timeout", type=float, default=30.0)
p.add_argument("--server-key")
p.add_argument("--curve-key")
args = p.parse_args()

ctx = zmq.Context()
sock = ctx.socket(zmq.REQ)
sock.setsockopt(zmq.LINGER, 0)
if args.server_key:
    def key(path):
        with open(path) as f:
            return f.read().strip().encode()
    secret = key(args.curve_key)
    sock.curve_serverkey = key(args.server_key)
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
sock.connect(args.endpoint)
for i in range(1, args.count + 1):
    request = f"{args.name}-{i}"
    sock.send(request.encode())
    if not sock.poll(int(args.timeout * 1000)):
        print("timeout", request, flush=True)
        sys.exit(1)
    reply = sock.recv_multipart()
    if reply == [b""]:
        print("failure", request, flush=True)
    else:
        print("answer", request, b"|".join(reply).decode(errors="replace"), flush=True)
