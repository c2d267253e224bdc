#!/usr/bin/env bash
# Segment-to-screen latency and kernel drops of `synfin watch` under the live load, for the
# streaming view (`--format stream`) and the full-screen view (`--tui`), each drawing on a
# real terminal (a tmux pane, 200x50), with tcpdump capturing the same load beside it
# (benches/make-captures.sh live: its drop count is tcpdump's).
#
#   RATE=7000 benches/live-latency.sh [SECS]          defaults: RATE=7000 (~90k packets/s), 8 s
#   MODES=stream ...                                 only some views (default: stream tui)
#
# Latency: synfin notes each frame's kernel timestamp and the moment what it caused reached the
# terminal (SYNFIN_LATENCY_LOG, src/app/latency.rs): the stream view's lines written (lines left
# out for a terminal that fell behind are counted as not_shown), the
# full-screen view drawn. Drops: PACKET_STATISTICS, as synfin reports them at the end.
# With --no-calls: the streaming view logs latency on its untraced path only (call tracing's
# cost is benches/call-overhead.sh's).
# Needs root, tmux, tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
export RATE=${RATE:-7000}
cargo build --release --quiet --bins --example loadgen
out=$(mktemp -d)
session=""
cleanup() {
  [ -n "$session" ] && tmux kill-session -t "$session" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
# The load generator's ports (make-captures.sh: PORT_BASE=27000, NPORTS=512, and as many closed).
filter="tcp portrange 27000-28023"
wait_file() {
  for _ in $(seq 1200); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}
echo "rate: $RATE connections/s for $SECS s; terminal 200x50 (tmux)"
for mode in ${MODES:-stream tui}; do
  session=synfin-latency-$$-$mode
  if [ "$mode" = tui ]; then view=--tui; else view="--format stream"; fi
  tmux new-session -d -s "$session" -x 200 -y 50 \
    "SYNFIN_LATENCY_LOG=$out/$mode.latency ./target/release/synfin watch -i lo --no-calls --duration $((SECS + 3)) $view $filter 2>$out/$mode.err; touch $out/$mode.done; sleep 600"
  sleep 1
  bash benches/make-captures.sh live "$SECS" default print >"$out/$mode.load" 2>&1
  if [ "$mode" = tui ]; then
    # The view stays when the capture ends: wait for that, then q.
    for _ in $(seq 300); do
      tmux capture-pane -p -t "$session" | grep -q "end of input" && break
      sleep 0.1
    done
    tmux send-keys -t "$session" q
  fi
  wait_file "$out/$mode.done"
  wait_file "$out/$mode.latency"
  drops=$(grep -o "dropped [0-9]* frames" "$out/$mode.err" || echo "dropped 0 frames")
  printf '%-7s synfin: %s, kernel %s\n' "$mode" "$(cat "$out/$mode.latency")" "$drops"
  tail -2 "$out/$mode.load" | sed 's/^/        /' 
  tmux kill-session -t "$session"
  session=""
done
