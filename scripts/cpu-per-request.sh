#!/bin/bash
# CPU time the server process spends per request under `corsair bench`
# load: `corsair broker` (PPP workers, credit 64) or a pyzmq zmq.proxy
# process (REP workers), 4 clients, window 64, 4 workers, 8 s.
#
# usage: scripts/cpu-per-request.sh broker|proxy [SIZE] [BROKER FLAGS...]
# BENCH_FLAGS (environment): extra `corsair bench` flags, e.g.
# "--io-batch 8192" for a load with stock libzmq I/O batches.
# needs: a release build (cargo build --release), python3 with pyzmq
# for `proxy`. Loopback only; ports picked at random.
set -eu
kind=${1:?broker or proxy}; size=${2:-64}; shift $(( $# >= 2 ? 2 : 1 ))
bin=${BIN:-$(dirname "$0")/../target/release/corsair}
p1=$((20000 + RANDOM % 20000)); p2=$((p1 + 1))
front=tcp://127.0.0.1:$p1; back=tcp://127.0.0.1:$p2
if [ "$kind" = proxy ]; then
    python3 -c '
import sys, zmq
ctx = zmq.Context()
f = ctx.socket(zmq.ROUTER); f.bind(sys.argv[1])
b = ctx.socket(zmq.DEALER); b.bind(sys.argv[2])
zmq.proxy(f, b)' "$front" "$back" &
    pid=$!; workers="--worker-dialect rep"
else
    "$bin" broker --frontend "$front" --backend "$back" "$@" 2>/dev/null &
    pid=$!; workers="--worker-dialect ppp --credit 64"
fi
trap 'kill -9 $pid 2>/dev/null || true' EXIT
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
# shellcheck disable=SC2086
out=$("$bin" bench --connect "$front" --backend "$back" --workers 4 $workers ${BENCH_FLAGS:-} \
    --clients 4 --window 64 --size "$size" --duration 8s 2>&1 | tail -1)
t1=$(ticks)
rate=$(echo "$out" | grep -o '[0-9]* req/s' | cut -d' ' -f1)
echo "$kind, $size B: $out"
python3 -c "
hz = $(getconf CLK_TCK); cpu = ($t1 - $t0) / hz
print(f'  server CPU {cpu:.2f} s in 8 s ({cpu / 8:.2f} cores): {cpu * 1e6 / ($rate * 8):.2f} us per request')"
