#!/bin/bash
# The broker's memory under requests that each name a new service: a
# `corsair broker` (wait limit 1 s, queue 1,000,000) and ROUNDS rounds of
# 200,000 Majordomo 0.1 requests, every one to a service nobody serves
# and no earlier request named. Each request ends with the failure reply
# at the wait limit; the broker's resident memory is printed before each
# round, at its peak and after it.
#
# usage: scripts/service-flood.sh [ROUNDS]
# needs: a release build (cargo build --release), python3 with pyzmq.
# Loopback only; ports picked at random below the ephemeral range.
set -eu
rounds=${1:-4}
bin=${BIN:-$(dirname "$0")/../target/release/corsair}
p=$((20000 + RANDOM % 12000))
"$bin" broker --frontend tcp://127.0.0.1:$p --backend tcp://127.0.0.1:$((p + 1)) \
    --wait-limit 1s --queue-limit 1000000 2>/dev/null &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
sleep 0.5
for round in $(seq "$rounds"); do
    timeout 60 python3 - "tcp://127.0.0.1:$p" $broker 200000 "$round" <<'PY'
import sys, time, zmq
endpoint, pid, n, round_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

client = zmq.Context().socket(zmq.DEALER)
client.connect(endpoint)
before, peak, replies = rss_kib(), 0, 0

def take():
    global replies
    while client.poll(0):
        client.recv_multipart()
        replies += 1

for i in range(n):
    client.send_multipart([b"", b"MDPC01", b"flood-%s-%d" % (round_.encode(), i), b"x"])
    take()
deadline = time.time() + 30
while replies < n and time.time() < deadline:
    peak = max(peak, rss_kib())
    client.poll(100)
    take()
time.sleep(0.5)
print(f"round {round_}: {replies} failure replies; broker RSS KiB before {before}, peak {peak}, after {rss_kib()}")
PY
done
