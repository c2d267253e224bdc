#!/usr/bin/env bash
# What call tracing costs the traced programs: the load generator (examples/loadgen.rs: an
# echo server and client threads, every connection real connect/accept/send/recv/shutdown/
# close calls) runs flat out for SECS, alone, beside `synfin watch --no-calls`, and beside `synfin watch`
# (tracing every process's socket calls in the kernel); interleaved, RUNS times each.
# Then, at a fixed RATE (connections/s), whether synfin with tracing keeps up: the
# kernel's frame drops and the trace's lost events.
#
#   benches/call-overhead.sh [SECS] [RUNS]     defaults: 5 3   (RATE=7000 for the second part)
#
# Needs root (capture and tracefs).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
RUNS=${2:-3}
RATE=${RATE:-7000}
cargo build --release --quiet --bins --example loadgen
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
FILTER="tcp portrange 27000-28023"

# One run: conn/s of the generator, with synfin in MODE (none, no-calls, calls) beside it.
run() {
    local mode=$1 rate=${2:-0} pid=
    if [ "$mode" != none ]; then
        local extra=()
        [ "$mode" = no-calls ] && extra=(--no-calls)
        ./target/release/synfin watch -i lo -f summary --color never --width 200 \
            --duration $((SECS + 3)) "${extra[@]}" $FILTER >"$out/summary.txt" 2>"$out/err.txt" &
        pid=$!
        sleep 1
    fi
    ./target/release/examples/loadgen --rate "$rate" live "$SECS" 2>&1 |
        sed -n 's/.*(\([0-9]*\) conn\/s).*/\1/p' >"$out/rate.txt"
    if [ -n "$pid" ]; then wait "$pid"; fi
    cat "$out/rate.txt"
}

declare -A sum
for mode in none no-calls calls; do sum[$mode]=""; done
for i in $(seq "$RUNS"); do
    for mode in none no-calls calls; do
        r=$(run "$mode")
        sum[$mode]="${sum[$mode]} $r"
        echo "run $i $mode: $r conn/s"
    done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_none=$(echo "${sum[none]}" | median)
m_plain=$(echo "${sum[no-calls]}" | median)
m_calls=$(echo "${sum[calls]}" | median)
echo "median conn/s flat out: alone $m_none, beside watch --no-calls $m_plain, beside watch (calls traced) $m_calls"
awk -v a="$m_plain" -v b="$m_calls" -v n="$m_none" 'BEGIN {
    printf "ratio traced / untraced watch: %.2f; traced watch / no synfin: %.2f\n", b / a, b / n }'

echo "at RATE=$RATE conn/s, synfin watch with call tracing:"
RATE_ARGS=$RATE
r=$(run calls "$RATE_ARGS")
echo "  the generator made $r conn/s"
echo "  synfin: $(grep " connections (" "$out/summary.txt" || true)"
if grep -q -e dropped -e lost "$out/err.txt"; then
    grep -e dropped -e lost "$out/err.txt" | sed 's/^/  /'
else
    echo "  synfin: the kernel dropped 0 frames; the trace lost 0 events"
fi
