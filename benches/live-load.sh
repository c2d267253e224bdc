#!/usr/bin/env bash
# Live capture under load: `synfin watch` on lo while benches/make-captures.sh (the repo's load
# generator, examples/loadgen.rs) drives loopback connections flat out (its own tcpdump
# captures the same load, for comparison).
#
#   benches/live-load.sh [SECS] [summary|write|ladder]     defaults: 10 summary
#
# `ladder` watches with the streaming ladder (`--format ladder`: each connection drawn as it
# ends) instead of the summary.
#
# SYNFIN=path runs another build (to compare builds interleaved).
#
# Prints the client's rate, tcpdump's kernel drops, and synfin's segment count and drops
# (synfin prints "the kernel dropped N frames" on stderr when N > 0).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
MODE=${2:-summary}
cargo build --release --quiet --bins --example loadgen
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(watch -i lo --format summary --color never --width 200 --duration $((SECS + 4)))
tdmode=print
if [ "$MODE" = write ]; then
  args+=(-w "$out/live.pcap")
  tdmode=write
elif [ "$MODE" = ladder ]; then
  args=(watch -i lo --format ladder --color never --width 120 --duration $((SECS + 4)))
fi
"${SYNFIN:-./target/release/synfin}" "${args[@]}" >"$out/summary.txt" 2>"$out/stderr.txt" &
pid=$!
sleep 1
bash benches/make-captures.sh live "$SECS" default "$tdmode" | tail -4
wait $pid
if [ "$MODE" = ladder ]; then
  echo "synfin watch (ladder): $(grep -c '^conn ' "$out/summary.txt") connections drawn, $(grep -c '─' "$out/summary.txt") arrow lines, $(wc -c <"$out/summary.txt") bytes"
else
  echo "synfin watch ($MODE): $(grep " connections (" "$out/summary.txt")"
fi
if grep -q "dropped" "$out/stderr.txt"; then
  echo "synfin: $(grep dropped "$out/stderr.txt")"
else
  echo "synfin: the kernel dropped 0 frames"
fi
if [ "$MODE" = write ]; then
  echo "synfin -w file: $(tcpdump -r "$out/live.pcap" 2>/dev/null | wc -l) packets"
fi
