#!/usr/bin/env bash
# Benchmark: synfin against tcpdump on the same captures, in one session, interleaved.
#
#   benches/compare.sh [CAPTURE...]     default: medium.pcap and large.pcap in $CAPDIR
#   SVG=1 benches/compare.sh ...        the SVG too (slow: ~30 s a run on large.pcap)
#
# Makes the captures with benches/make-captures.sh (the repo's own load generator,
# examples/loadgen.rs; needs root and tcpdump) when they are missing, outside the repo ($CAPDIR,
# default /tmp/synfin-bench). Each command runs RUNS times (default 5), round-robin; prints the
# median wall time, packets/s, peak RSS and the ratio to `tcpdump -nn -S -r FILE >/dev/null`
# measured in the same rounds (-S: absolute sequence numbers; without it tcpdump keeps a table
# of every connection to print relative ones and slows with every connection).
#
# tcpdump runs twice a round: as typed (TZ unset, as on a fresh machine) and with TZ=UTC. With
# TZ unset, glibc's localtime() stats /etc/localtime for every packet it prints (one
# newfstatat system call a packet: `strace -c tcpdump -nn -S -r FILE`), and what that costs
# depends on the machine (large.pcap: 4.5 s on one day's machine, 9 s on another's, 3.2 s
# with TZ=UTC on the second). Both ratios are printed; TZ=UTC's is the stricter yardstick.
set -euo pipefail
cd "$(dirname "$0")/.."
CAPDIR=${CAPDIR:-${TMPDIR:-/tmp}/synfin-bench}
RUNS=${RUNS:-5}
command -v tcpdump >/dev/null || { echo "compare.sh: needs tcpdump (apt-get install tcpdump)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "compare.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
SYNFIN=$PWD/target/release/synfin
if [ $# -eq 0 ]; then
  if [ ! -f "$CAPDIR/large.pcap" ]; then
    CAPDIR=$CAPDIR bash benches/make-captures.sh all >&2
  fi
  set -- "$CAPDIR/medium.pcap" "$CAPDIR/large.pcap"
fi
tfile=$(mktemp)
trap 'rm -f "$tfile"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(date -u +%F)"
for f in "$@"; do
  pkts=$(tcpdump -nn -S -r "$f" 2>/dev/null | wc -l)
  declare -A T=() M=()
  names=("tcpdump -nn -S -r" "TZ=UTC tcpdump -nn -S -r" "synfin --format summary" "synfin --format jsonl" "synfin --format ladder" "synfin --format none")
  [ -n "${SVG:-}" ] && names+=("synfin --format svg")
  for ((r = 0; r < RUNS; r++)); do
    for n in "${names[@]}"; do
      case $n in
        "tcpdump -nn -S -r") cmd=(env -u TZ tcpdump -nn -S -r "$f") ;;
        "TZ=UTC tcpdump -nn -S -r") cmd=(env TZ=UTC tcpdump -nn -S -r "$f") ;;
        "synfin --format summary") cmd=("$SYNFIN" replay "$f" --format summary --color never) ;;
        "synfin --format jsonl") cmd=("$SYNFIN" replay "$f" --format jsonl) ;;
        "synfin --format ladder") cmd=("$SYNFIN" replay "$f" --format ladder --color never) ;;
        "synfin --format svg") cmd=("$SYNFIN" replay "$f" --format svg) ;;
        "synfin --format none") cmd=("$SYNFIN" replay "$f" --format none) ;;
      esac
      /usr/bin/time -o "$tfile" -f "%e %M" "${cmd[@]}" >/dev/null 2>/dev/null || true
      out=$(tail -1 "$tfile")
      T[$n]+="${out% *} "; M[$n]+="${out#* } "
    done
  done
  base=$(echo ${T["tcpdump -nn -S -r"]} | tr ' ' '\n' | median)
  utc=$(echo ${T["TZ=UTC tcpdump -nn -S -r"]} | tr ' ' '\n' | median)
  echo
  echo "$(basename "$f"): $pkts packets, $(du -m "$f" | cut -f1) MB, $RUNS runs each (median)"
  printf '| %-25s | %8s | %12s | %9s | %9s | %10s |\n' command "wall s" "packets/s" "peak RSS" "x tcpdump" "x TZ=UTC"
  printf '|%s|%s|%s|%s|%s|%s|\n' "---------------------------" "----------" "--------------" "-----------" "-----------" "------------"
  for n in "${names[@]}"; do
    t=$(echo ${T[$n]} | tr ' ' '\n' | median)
    m=$(echo ${M[$n]} | tr ' ' '\n' | sort -n | tail -1)
    printf '| %-25s | %8.2f | %12.0f | %6.0f MiB | %9.3f | %10.3f |\n' "$n" "$t" "$(echo "$pkts / $t" | bc -l)" "$(echo "$m / 1024" | bc -l)" "$(echo "$t / $base" | bc -l)" "$(echo "$t / $utc" | bc -l)"
  done
  unset T M
done
