#!/bin/bash
# Latency with slow workers, by dispatch batch: a `corsair broker` with
# `--batch N`, 20 `corsair worker` processes that take 5 ms a request
# one at a time with credit 8, and 4 clients with 8 requests in flight
# each (32 in all, fewer than the 160 the workers would take).
#
# usage: scripts/slow-workers.sh [BATCH] [DURATION]
# needs: a release build (cargo build --release). Loopback only; the
# broker picks its ports.
set -eu
batch=${1:-1}; duration=${2:-6s}
bin=${BIN:-$(dirname "$0")/../target/release/corsair}
log=$(mktemp)
"$bin" broker --frontend 'tcp://127.0.0.1:*' --backend 'tcp://127.0.0.1:*' \
    --batch "$batch" > "$log" 2>&1 &
pids=$!
trap 'kill $pids 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q "clients on" "$log" && break; sleep 0.1; done
line=$(grep -o "clients on .*" "$log")
front=$(echo "$line" | sed 's/clients on \([^,]*\),.*/\1/')
back=$(echo "$line" | sed 's/.*workers on //')
for _ in $(seq 20); do
    "$bin" worker --connect "$back" --credit 8 --delay 5ms > /dev/null 2>&1 &
    pids="$pids $!"
done
sleep 1
echo "batch $batch: $("$bin" bench --connect "$front" --clients 4 --window 8 --duration "$duration" 2>&1 | tail -1)"
