"""Majordomo peers for corsair's interop tests, written from the RFCs:
7/MDP (MDP/0.1 client and worker) and 18/MDP (MDP/0.2 client and worker).

Subcommands (each prints flushed lines that the Rust tests read):

  client1 EP SERVICE [--requests N] [--timeout S] [--retries N] [BODY...]
      MDP/0.1 client as the zguide's mdcliapi: REQ, poll with a timeout,
      on timeout close (linger 0), reconnect and resend, up to --retries
      times, then print "timeout" and exit 1. Checks each reply as
      mdcliapi does (>= 3 frames, header MDPC01, the service asked for;
      a failed check exits 2). Prints "reply <body frames joined by |>".
  client2 EP SERVICE [--requests N] [--timeout S] [BODY...]
      MDP/0.2 client over DEALER, one request at a time: prints
      "partial <frames>" per PARTIAL and "final <frames>" for the FINAL.
  worker1 EP SERVICE [options]    MDP/0.1 worker (DEALER)
  worker2 EP SERVICE [options]    MDP/0.2 worker (DEALER)
      --heartbeat S (2.5)  --liveness N (3)  --reply-prefix TEXT
      --partials K (worker2: K PARTIALs "part-1".."part-K" first)
      --delay S  --drop P  --silent-after-request  --ready-twice
      Prints "ready" after each READY, "request <frames>" per request,
      "replied" after each reply, "disconnect" on DISCONNECT from the
      broker, "reconnect" when it starts a new socket.
  raw EP HEX...
      A DEALER sends one message of the given frames (hex; "-" for an
      empty frame) and prints what comes back within 1 s as
      "got <hex frames>".
"""
import argparse
import random
import signal
import sys
import time

import zmq

C01, W01, C02, W02 = b"MDPC01", b"MDPW01", b"MDPC02", b"MDPW02"

# Worker command bytes by version: READY, REQUEST, PARTIAL, FINAL,
# HEARTBEAT, DISCONNECT (0.1 has no PARTIAL; its REPLY is FINAL).
COMMANDS = {
    1: dict(ready=1, request=2, partial=None, final=3, heartbeat=4, disconnect=5),
    2: dict(ready=1, request=2, partial=3, final=4, heartbeat=5, disconnect=6),
}

ctx = zmq.Context()


def show(frames):
    return "|".join(f.decode(errors="replace") for f in frames)


def bodies(args, i):
    if args.body:
        return [b.encode() for b in args.body]
    return [f"request-{i}".encode()]


def client1(args):
    sock = None

    def connect():
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(args.endpoint)
        return s

    sock = connect()
    service = args.service.encode()
    for i in range(1, args.requests + 1):
        request = [C01, service] + bodies(args, i)
        retries = args.retries
        while True:
            sock.send_multipart(request)
            if sock.poll(int(args.timeout * 1000)) & zmq.POLLIN:
                msg = sock.recv_multipart()
                if len(msg) < 3 or msg[0] != C01 or msg[1] != service:
                    print("bad reply", msg, file=sys.stderr, flush=True)
                    sys.exit(2)
                print("reply", show(msg[2:]), flush=True)
                break
            sock.close()
            if retries == 0:
                print("timeout", flush=True)
                sys.exit(1)
            retries -= 1
            sock = connect()


def client2(args):
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    service = args.service.encode()
    for i in range(1, args.requests + 1):
        sock.send_multipart([C02, b"\x01", service] + bodies(args, i))
        while True:
            if not sock.poll(int(args.timeout * 1000)) & zmq.POLLIN:
                print("timeout", flush=True)
                sys.exit(1)
            msg = sock.recv_multipart()
            if len(msg) < 4 or msg[0] != C02 or msg[2] != service:
                print("bad reply", msg, file=sys.stderr, flush=True)
                sys.exit(2)
            if msg[1] == b"\x02":
                print("partial", show(msg[3:]), flush=True)
            elif msg[1] == b"\x03":
                print("final", show(msg[3:]), flush=True)
                break
            else:
                print("bad command", msg, file=sys.stderr, flush=True)
                sys.exit(2)


class Worker:
    def __init__(self, args, version):
        self.args = args
        self.version = version
        self.cmd = COMMANDS[version]
        self.header = W01 if version == 1 else W02
        self.silent = False
        self.sock = None

    def frames(self, command, *rest):
        head = [b"", self.header] if self.version == 1 else [self.header]
        return head + [bytes([self.cmd[command]])] + list(rest)

    def send(self, command, *rest):
        if not self.silent:
            self.sock.send_multipart(self.frames(command, *rest))

    def connect(self):
        if self.sock is not None:
            self.sock.close()
            print("reconnect", flush=True)
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.args.endpoint)
        for _ in range(2 if self.args.ready_twice else 1):
            self.send("ready", self.args.service.encode())
            print("ready", flush=True)
        self.liveness = self.args.liveness
        self.heartbeat_at = time.time() + self.args.heartbeat

    def parse(self, msg):
        """Returns (command name, rest) or None if malformed."""
        if self.version == 1:
            if len(msg) < 3 or msg[0] != b"" or msg[1] != W01:
                return None
            rest = msg[2:]
        else:
            if len(msg) < 2 or msg[0] != W02:
                return None
            rest = msg[1:]
        if len(rest[0]) != 1:
            return None
        byte = rest[0][0]
        for name, value in self.cmd.items():
            if value == byte:
                return name, rest[1:]
        return None

    def handle(self, rest):
        # REQUEST: client address, empty, body...
        if len(rest) < 3 or rest[1] != b"":
            print("malformed request", rest, file=sys.stderr, flush=True)
            return
        address, body = rest[0], rest[2:]
        print("request", show(body), flush=True)
        if self.args.silent_after_request:
            self.silent = True
            return
        if random.random() < self.args.drop:
            return
        if self.args.delay:
            time.sleep(self.args.delay)
        if self.version == 2:
            for k in range(1, self.args.partials + 1):
                self.send("partial", address, b"", f"part-{k}".encode())
        reply = list(body)
        if self.args.reply_prefix:
            reply[0] = self.args.reply_prefix.encode() + reply[0]
        self.send("final", address, b"", *reply)
        print("replied", flush=True)

    def run(self):
        self.connect()
        while True:
            timeout = max(0, self.heartbeat_at - time.time())
            if self.sock.poll(int(timeout * 1000)) & zmq.POLLIN:
                msg = self.sock.recv_multipart()
                self.liveness = self.args.liveness
                parsed = self.parse(msg)
                if parsed is None:
                    print("malformed", msg, file=sys.stderr, flush=True)
                    continue
                name, rest = parsed
                if name == "request":
                    self.handle(rest)
                elif name == "disconnect":
                    print("disconnect", flush=True)
                    self.connect()
                elif name != "heartbeat":
                    print("malformed", msg, file=sys.stderr, flush=True)
            if time.time() >= self.heartbeat_at:
                self.heartbeat_at = time.time() + self.args.heartbeat
                if not self.silent:
                    self.liveness -= 1
                    if self.liveness <= 0:
                        self.connect()
                        continue
                self.send("heartbeat")


def raw(args):
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    frames = [b"" if h == "-" else bytes.fromhex(h) for h in args.frames]
    sock.send_multipart(frames)
    end = time.time() + 1.0
    while time.time() < end:
        if sock.poll(int(max(0, end - time.time()) * 1000)) & zmq.POLLIN:
            msg = sock.recv_multipart()
            print("got", " ".join(f.hex() if f else "-" for f in msg), flush=True)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="role", required=True)
    for name in ("client1", "client2"):
        c = sub.add_parser(name)
        c.add_argument("endpoint")
        c.add_argument("service")
        c.add_argument("body", nargs="*")
        c.add_argument("--requests", type=int, default=1)
        c.add_argument("--timeout", type=float, default=2.5 if name == "client1" else 5.0)
        if name == "client1":
            c.add_argument("--retries", type=int, default=3)
    for name in ("worker1", "worker2"):
        w = sub.add_parser(name)
        w.add_argument("endpoint")
        w.add_argument("service")
        w.add_argument("--heartbeat", type=float, default=2.5)
        w.add_argument("--liveness", type=int, default=3)
        w.add_argument("--reply-prefix", default="")
        w.add_argument("--partials", type=int, default=0)
        w.add_argument("--delay", type=float, default=0.0)
        w.add_argument("--drop", type=float, default=0.0)
        w.add_argument("--silent-after-request", action="store_true")
        w.add_argument("--ready-twice", action="store_true")
    r = sub.add_parser("raw")
    r.add_argument("endpoint")
    r.add_argument("frames", nargs="+")
    args = p.parse_args()
    try:
        if args.role == "client1":
            client1(args)
        elif args.role == "client2":
            client2(args)
        elif args.role == "raw":
            raw(args)
        else:
            Worker(args, 1 if args.role == "worker1" else 2).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
