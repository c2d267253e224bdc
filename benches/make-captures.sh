#!/usr/bin/env bash
# make-captures.sh - loopback TCP captures for the benchmarks, made with the repo's own load
# generator (examples/loadgen.rs) and tcpdump. Only 127.0.0.1 is used.
#
# tcpdump captures `lo` (port-filtered) while the generator runs an upper-casing echo server
# (SERVERS threads) and WORKERS client threads; tcpdump is stopped by SIGINT (by PID).
#
# Connection mix (chosen per connection index from a fixed seed, so the shape is the same on
# every run; exact packet timing/coalescing varies a little):
#   ~65% normal    connect, 1-5 short messages each echoed back, close()
#   ~20% halfclose send all messages, shutdown(SHUT_WR), read replies to EOF
#   ~10% abort     echo exchange, then SO_LINGER=0 + close() -> RST
#   ~5%  refused   connect to a closed port (nothing listens) -> SYN, RST/ACK
#   (normal/halfclose: the client closes first, the server closes on EOF)
#
# Usage:
#   benches/make-captures.sh gen N OUT.pcap      one capture of N connections
#   benches/make-captures.sh stats FILE.pcap     packet/flag/connection counts of a capture
#   benches/make-captures.sh all                 small (1k), medium (20k) (+ medium.pcapng when
#                                                editcap is there), large (LARGE_N, default
#                                                250k) in $CAPDIR
#   benches/make-captures.sh live SECS BUF MODE  live-capture load test: the client runs flat
#                                                out for SECS (<= 600) while tcpdump captures
#                                                lo with buffer BUF KiB (`default` = no -B) and
#                                                MODE `write` (-w to $CAPDIR/live.pcap, deleted
#                                                afterwards) or `print` (text to /dev/null);
#                                                prints conn/s, pkt/s and tcpdump's drop count
#
# Environment (defaults):
#   CAPDIR=${TMPDIR:-/tmp}/synfin-bench  PORT_BASE=27000  NPORTS=512  WORKERS=8  SERVERS=2
#   SEED=1  BUFFER_KIB=131072 (tcpdump -B during generation)  LARGE_N=250000
#   CLIENT_BIND=1  SPORT_LOW=61000  RATE=0 (connections/s over all workers; 0 = flat out)
#
# Listening ports are PORT_BASE..PORT_BASE+NPORTS-1; the NPORTS ports after them are closed
# (refused connections). The capture filter is `tcp portrange PORT_BASE-(PORT_BASE+2*NPORTS-1)`.
# Connection i goes to port index i % NPORTS and (CLIENT_BIND=1) binds source port
# SPORT_LOW + i / NPORTS, so every connection has its own 4-tuple for N <= NPORTS*(65536-SPORT_LOW)
# (2.3M with the defaults). With CLIENT_BIND=0 the kernel picks source ports and reuses
# 4-tuples within seconds once a few hundred connections go to one port.
# Needs: bash, cargo, tcpdump; root (or CAP_NET_RAW) for capture. editcap (wireshark-common)
# only for the optional pcapng copy.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)

CAPDIR=${CAPDIR:-${TMPDIR:-/tmp}/synfin-bench}
PORT_BASE=${PORT_BASE:-27000}
NPORTS=${NPORTS:-512}
WORKERS=${WORKERS:-8}
SERVERS=${SERVERS:-2}
SEED=${SEED:-1}
BUFFER_KIB=${BUFFER_KIB:-131072}
LARGE_N=${LARGE_N:-250000}
CLIENT_BIND=${CLIENT_BIND:-1}
SPORT_LOW=${SPORT_LOW:-61000}
RATE=${RATE:-0}

LOADGEN=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/loadgen
TCPDUMP_PID=""
cleanup() {
    # stop only what this script started, by PID
    if [[ -n "$TCPDUMP_PID" ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

build() {
    cargo build --release --quiet --example loadgen --manifest-path "$REPO/Cargo.toml"
}

loadgen() {
    local sport=0
    [[ "$CLIENT_BIND" == 1 ]] && sport=$SPORT_LOW
    "$LOADGEN" --port-base "$PORT_BASE" --nports "$NPORTS" --workers "$WORKERS" \
        --servers "$SERVERS" --seed "$SEED" --sport-low "$sport" --rate "$RATE" "$@"
}

# start_capture LOG TCPDUMP-ARGS...: tcpdump on lo with the port filter, in the background;
# returns once tcpdump is listening. Its PID is kept for cleanup.
start_capture() {
    local log=$1; shift
    local last=$((PORT_BASE + 2 * NPORTS - 1))
    tcpdump -i lo -nn -s 262144 "$@" "tcp portrange ${PORT_BASE}-${last}" 2>"$log" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "listening on" "$log" || { cat "$log" >&2; echo "tcpdump did not start" >&2; exit 1; }
}

# stop_capture: tcpdump by SIGINT (flushes and prints its counts).
stop_capture() {
    sleep 1                                   # let the last FIN/ACKs land
    kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; TCPDUMP_PID=""
}

gen() {
    local n=$1 out=$2 log
    log=$(mktemp -t make-captures.tcpdump.XXXXXX)
    mkdir -p "$(dirname "$out")"
    rm -f "$out"
    # -Z root: Debian's tcpdump otherwise drops to user tcpdump and may not be able to write
    # into a root-owned output directory.
    start_capture "$log" -B "$BUFFER_KIB" -Z root -w "$out"
    loadgen gen "$n"
    stop_capture
    echo "tcpdump: $(grep -E 'packets (captured|received|dropped)' "$log" | paste -sd ';' -)"
    rm -f "$log"
    loadgen stats --expect "$n" "$out"
}

live() {
    local secs=$1 buf=$2 mode=$3
    (( secs > 0 && secs <= 600 )) || { echo "SECS must be 1..600" >&2; exit 2; }
    local bopt=() log out="$CAPDIR/live.pcap"
    [[ "$buf" == default ]] || bopt=(-B "$buf")
    log=$(mktemp -t make-captures.tcpdump.XXXXXX)
    mkdir -p "$CAPDIR"
    case "$mode" in
        write) start_capture "$log" "${bopt[@]}" -Z root -w "$out" ;;
        print) start_capture "$log" "${bopt[@]}" >/dev/null ;;
        *) echo "MODE must be write or print" >&2; exit 2 ;;
    esac
    local t0 t1
    t0=$(date +%s.%N)
    loadgen live "$secs"
    t1=$(date +%s.%N)
    stop_capture
    local cap rcv drop
    cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$log")
    rcv=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$log")
    drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$log")
    echo "tcpdump (buffer=$buf, $mode): captured=$cap received_by_filter=$rcv dropped_by_kernel=$drop"
    # On lo the packet socket sees every packet twice (outgoing + incoming copy; libpcap
    # discards the outgoing one in user space), so "received by filter" and "dropped by
    # kernel" count copies: packets on the wire = received/2.
    awk -v t0="$t0" -v t1="$t1" -v cap="$cap" -v rcv="$rcv" -v drop="$drop" 'BEGIN {
        dt = t1 - t0; r = rcv > 0 ? rcv : 1
        printf "load %.1f s: %.0f pkt/s on the wire (received/2), %.0f pkt/s captured; kernel dropped %.2f%% (dropped/received)\n",
            dt, rcv / 2 / dt, cap / dt, 100.0 * drop / r
    }'
    rm -f "$log" "$out"
}

case "${1:-}" in
    gen)
        [[ $# -eq 3 ]] || { echo "usage: $0 gen N OUT.pcap" >&2; exit 2; }
        build
        gen "$2" "$3"
        ;;
    stats)
        [[ $# -eq 2 ]] || { echo "usage: $0 stats FILE.pcap" >&2; exit 2; }
        build
        loadgen stats "$2"
        ;;
    all)
        build
        mkdir -p "$CAPDIR"
        gen 1000 "$CAPDIR/small.pcap"
        gen 20000 "$CAPDIR/medium.pcap"
        if command -v editcap >/dev/null; then
            editcap -F pcapng "$CAPDIR/medium.pcap" "$CAPDIR/medium.pcapng"
            echo "medium.pcapng: $(stat -c %s "$CAPDIR/medium.pcapng") bytes"
        else
            echo "no editcap (wireshark-common): medium.pcapng not made" >&2
        fi
        gen "$LARGE_N" "$CAPDIR/large.pcap"
        ls -l "$CAPDIR"
        ;;
    live)
        [[ $# -eq 4 ]] || { echo "usage: $0 live SECS BUF_KIB|default write|print" >&2; exit 2; }
        build
        live "$2" "$3" "$4"
        ;;
    *)
        sed -n '2,41p' "$0" >&2
        exit 2
        ;;
esac
