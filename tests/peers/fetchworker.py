"""A classic task broker's fetch worker, written from corsair's
design.md section 2 (the fetch-worker protocol).

A REQ socket on the broker's WORKERS endpoint asks for work with one
frame; the reply is `task-id body...`; the answer goes to the broker's
ANSWERS endpoint (PULL) over PUSH as `task-id answer...`, then the worker
asks again.

usage: fetchworker.py WORKERS ANSWERS [--drop P] [--delay SECONDS] [--name NAME]

Prints one line per task, flushed:
  task <name> <task-id hex> <body>
  drop <name> <task-id hex> <body>     (never answered)
  answer <name> <task-id hex> <body>   (answered with "<name>:<body>")
"""
import argparse
import random
import time

import zmq

p = argparse.ArgumentParser()
p.add_argument("workers")
p.add_argument("answers")
p.add_argument("--drop", type=float, default=0.0)
p.add_argument("--delay", type=float, default=0.0)
p.add_argument("--name", default="w")
args = p.parse_args()

ctx = zmq.Context()
ask = ctx.socket(zmq.REQ)
ask.setsockopt(zmq.LINGER, 0)
ask.connect(args.workers)
out = ctx.socket(zmq.PUSH)
out.setsockopt(zmq.LINGER, 1000)
out.connect(args.answers)
print("ready", args.name, flush=True)

while True:
    ask.send(b"ready")
    frames = ask.recv_multipart()
    if len(frames) < 2:
        print("malformed task", frames, flush=True)
        continue
    task_id, body = frames[0], frames[1]
    text = body.decode(errors="replace")
    print("task", args.name, task_id.hex(), text, flush=True)
    if random.random() < args.drop:
        print("drop", args.name, task_id.hex(), text, flush=True)
        continue
    if args.delay:
        time.sleep(args.delay)
    out.send_multipart([task_id, args.name.encode() + b":" + body])
    print("answer", args.name, task_id.hex(), text, flush=True)
