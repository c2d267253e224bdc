#!/usr/bin/env bash
# report.sh - the HTML report of a large capture: synfin's wall time and peak RSS to write it,
# the file's size, then Chromium's load time and the time of a sort by duration and of a
# filter (through the DevTools protocol: tests/report_browser.rs's ignored test).
#
# Usage: benches/report.sh [CAPTURE]   (default: ${CAPDIR:-/tmp/synfin-bench}/large.pcap,
#        made by benches/make-captures.sh all)
# Needs: a release build (cargo build --release -j1), /usr/bin/time, /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-${CAPDIR:-/tmp/synfin-bench}/large.pcap}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/time -v ./target/release/synfin replay "$cap" -o "$out/report.html" 2>"$out/time.txt"
echo "capture:    $cap"
echo "page:       $(stat -c %s "$out/report.html") bytes"
grep -E "Elapsed \(wall clock\)|Maximum resident" "$out/time.txt" | sed 's/^\s*/synfin:     /'
SYNFIN_REPORT_PAGE="$out/report.html" cargo test -j1 --test report_browser \
    report_timings_on_a_large_page -- --ignored --nocapture 2>/dev/null | grep '^rows'
