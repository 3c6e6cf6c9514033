#!/bin/bash
# What a request costs the broker and the load generator with a given
# number of connected workers: `corsair broker --batch 64` and `corsair
# bench` with WORKERS Paranoid Pirate echo workers of credit 64, 4
# clients, window 64, 64 B. Over 3 s in the middle of an 8 s run it
# prints the rate, the share of CPU time the host stole (a virtual
# machine's steal), each process's CPU time per request, user and kernel
# (from /proc) and, where `perf` can read syscall tracepoints, its
# system calls per request.
#
# With PARKED=N, N more workers (Majordomo 0.1, of another service, held
# by `corsair bench --clients 0`) are connected to the broker throughout
# and never get a request: the cost of connected workers apart from that
# of spreading the work over them. Where `nstat` is installed it also
# prints the machine's TCP segments, pure ACKs and delayed ACKs per
# request (machine-wide counters: anything else running counts too).
#
# With PERF=0 the system calls are not counted: tracing every system
# call may slow the two processes.
#
# usage: [PARKED=N] [PERF=0] scripts/workers-cost.sh WORKERS
# needs: a release build (cargo build --release); perf (optional, run
# as root or with kernel.perf_event_paranoid <= 1). Loopback only; ports
# picked at random below Linux's ephemeral range (32768 up), where the
# previous run's 1,000 connections may still hold one.
set -eu
n=${1:?number of workers}
case $n in '' | *[!0-9]* | 0) echo "WORKERS must be a number of workers, at least 1" >&2; exit 2 ;; esac
parked=${PARKED:-0}
case $parked in '' | *[!0-9]*) echo "PARKED must be a number of workers" >&2; exit 2 ;; esac
perf_on=${PERF:-1}
case $perf_on in 0 | 1) ;; *) echo "PERF must be 0 or 1" >&2; exit 2 ;; esac
bin=${BIN:-$(dirname "$0")/../target/release/corsair}
[ -x "$bin" ] || { echo "no corsair binary at $bin (cargo build --release, or BIN=...)" >&2; exit 2; }
p1=$((20000 + RANDOM % 12000)); p2=$((p1 + 1))
front=tcp://127.0.0.1:$p1; back=tcp://127.0.0.1:$p2
out=$(mktemp -d)
"$bin" broker --frontend "$front" --backend "$back" --batch 64 2>/dev/null &
broker=$!
disown $broker
held=
trap 'kill -9 $broker $held 2>/dev/null || true; rm -rf "$out"' EXIT
sleep 0.5
if [ "$parked" -gt 0 ]; then
    "$bin" bench --backend "$back" --workers "$parked" --worker-dialect mdp --service parked \
        --clients 0 --duration 60s >"$out/parked" 2>&1 &
    held=$!
    disown $held
    sleep 2
    kill -0 $held 2>/dev/null || { echo "the parked workers ended:" >&2; cat "$out/parked" >&2; exit 1; }
fi
"$bin" bench --connect "$front" --backend "$back" --workers "$n" --worker-dialect ppp \
    --credit 64 --clients 4 --window 64 --size 64 --duration 8s >"$out/bench" 2>&1 &
load=$!
sleep 2.5
# CPU ticks of every thread of a process: user, then kernel.
ticks() { cat "/proc/$1"/task/*/stat | awk '{u += $14; k += $15} END {print u, k}'; }
events=syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_poll,raw_syscalls:sys_enter
# The machine's CPU ticks, all states together, and those the host stole
# (a virtual machine's `st`), from the aggregate line of /proc/stat.
machine() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
read -r bu0 bk0 <<<"$(ticks $broker)"; read -r lu0 lk0 <<<"$(ticks $load)"; read -r m0 s0 <<<"$(machine)"
start=$(date +%s%N)
tcp=0
export NSTAT_HISTORY="$out/nstat.history"
command -v nstat >/dev/null 2>&1 && nstat -n >/dev/null && tcp=1
perf=0
if [ "$perf_on" = 1 ] && command -v perf >/dev/null 2>&1; then
    perf stat -x, -e "$events" -p $broker -o "$out/broker.perf" -- sleep 3 2>/dev/null &
    pb=$!
    perf stat -x, -e "$events" -p $load -o "$out/load.perf" -- sleep 3 2>/dev/null && perf=1
    wait $pb || perf=0
fi
# perf that may not trace ends at once: the window stays 3 s all the same.
left=$((3000000000 - ($(date +%s%N) - start)))
[ $left -gt 0 ] && sleep "$(awk -v n=$left 'BEGIN {print n / 1e9}')"
read -r bu1 bk1 <<<"$(ticks $broker)"; read -r lu1 lk1 <<<"$(ticks $load)"; read -r m1 s1 <<<"$(machine)"
window=$(($(date +%s%N) - start))
[ $tcp = 1 ] && nstat >"$out/tcp"
wait $load
line=$(tail -1 "$out/bench")
rate=$(echo "$line" | grep -o '[0-9]* req/s' | cut -d' ' -f1 || true)
if [ -z "$rate" ] || [ "$rate" = 0 ]; then
    echo "no rate from the load:" >&2; cat "$out/bench" >&2; exit 1
fi
if [ "$parked" -gt 0 ] && ! kill -0 $held 2>/dev/null; then
    echo "the parked workers ended before the load did" >&2; exit 1
fi
label="$n workers"
[ "$parked" -gt 0 ] && label="$label and $parked parked"
echo "$label: $line"
awk -v m=$((m1 - m0)) -v s=$((s1 - s0)) 'BEGIN {p = m ? s * 100 / m : 0
    printf "  host: %.0f%% of the CPU time stolen%s\n", p, (p > 5 ? " (a slow run under steal says little)" : "")}'
hz=$(getconf CLK_TCK)
# Requests in the window, from the run's average rate.
reqs=$((rate * window / 1000000000))
for side in broker load; do
    if [ $side = broker ]; then
        u=$((bu1 - bu0)); k=$((bk1 - bk0))
    else
        u=$((lu1 - lu0)); k=$((lk1 - lk0))
    fi
    printf '  %s: CPU %s us per request' $side \
        "$(awk -v u="$u" -v k="$k" -v hz="$hz" -v r="$reqs" 'BEGIN {f = 1e6 / hz / r
            printf "%.2f (user %.2f, kernel %.2f)", (u + k) * f, u * f, k * f}')"
    if [ $perf = 1 ]; then
        awk -F, -v r="$reqs" '!/^#/ && NF > 2 {split($3, a, ":"); printf "; %s %.3f", a[2], $1 / r}' \
            "$out/$side.perf"
        printf ' per request'
    fi
    echo
done
if [ $tcp = 1 ]; then
    # Pure ACKs (no data) received: TCPHPAcks on the kernel's fast path,
    # TCPPureAcks on the slow one; DelayedACKs: ACKs sent when the
    # delayed-ACK timer ran out.
    awk -v r="$reqs" '{v[$1] = $2}
        END {printf "  machine: per request, TCP segments %.3f, pure ACKs received %.4f (fast path %.4f, slow %.4f), delayed ACKs sent %.4f\n",
            v["TcpOutSegs"] / r, (v["TcpExtTCPHPAcks"] + v["TcpExtTCPPureAcks"]) / r,
            v["TcpExtTCPHPAcks"] / r, v["TcpExtTCPPureAcks"] / r, v["TcpExtDelayedACKs"] / r}' "$out/tcp"
fi
