#!/usr/bin/env bash
# The README's pictures of the full-screen view: `synfin replay --tui` on the repo's captures,
# run in tmux, the screen read back as text (docs/tui-list.txt, docs/tui-ladder.txt) and, with
# its colours, turned into HTML and photographed by headless Chromium (docs/tui-*.png).
#
#   docs/tui-screenshot.sh        (needs tmux, python3 and /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin synfin
session=synfin-shot-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
tmux new-session -d -s "$session" -x 100 -y 26 \
  "cd captures && ../target/debug/synfin replay --tui --color always basic.pcap abort.pcap refused.pcap backlog.pcap half-close.pcap unread.pcap; sleep 60"
wait_for() {
  for _ in $(seq 200); do
    tmux capture-pane -p -t "$session" | grep -q "$1" && return 0
    sleep 0.05
  done
  echo "never saw: $1" >&2
  exit 1
}
wait_for "end of input"
tmux send-keys -t "$session" Up Up Up
wait_for PAUSED
tmux capture-pane -p -t "$session" | sed 's/ *$//' >docs/tui-list.txt
tmux capture-pane -e -p -t "$session" >"/tmp/$session-list.ansi"
tmux send-keys -t "$session" Enter
wait_for "lines 1"
tmux capture-pane -p -t "$session" | sed 's/ *$//' >docs/tui-ladder.txt
tmux capture-pane -e -p -t "$session" >"/tmp/$session-ladder.ansi"
tmux send-keys -t "$session" q
for name in list ladder; do
  python3 - "/tmp/$session-$name.ansi" "/tmp/$session-$name.html" <<'PY'
import html, re, sys
colors = {30: "#000", 31: "#c33", 32: "#393", 33: "#b80", 34: "#36c", 35: "#a3a", 36: "#099", 37: "#aaa",
          90: "#666", 91: "#e55", 92: "#5b5", 93: "#db3", 94: "#58e", 95: "#c5c", 96: "#3bb", 97: "#fff"}
out, style = [], {}
def span(text):
    if not text:
        return ""
    fg, bg = style.get("fg", "#ddd"), style.get("bg", "#1e1e1e")
    if style.get("rev"):
        fg, bg = bg, fg
    css = f"color:{fg};background:{bg}"
    if style.get("bold"):
        css += ";font-weight:bold"
    if style.get("ul"):
        css += ";text-decoration:underline"
    return f'<span style="{css}">{html.escape(text)}</span>'
for line in open(sys.argv[1], encoding="utf-8").read().split("\n")[:26]:
    parts = re.split(r"\x1b\[([0-9;]*)m", line)
    row = span(parts[0])
    for i in range(1, len(parts), 2):
        codes = [int(c or 0) for c in (parts[i] or "0").split(";")]
        while codes:
            c = codes.pop(0)
            if c in (38, 48) and len(codes) >= 2 and codes[0] == 5:
                n = codes[1]
                codes = codes[2:]
                name = colors.get(30 + n if n < 8 else 82 + n)
                if name:
                    style["fg" if c == 38 else "bg"] = name
            elif c == 0: style = {}
            elif c == 1: style["bold"] = True
            elif c == 22: style.pop("bold", None)
            elif c == 4: style["ul"] = True
            elif c == 24: style.pop("ul", None)
            elif c == 7: style["rev"] = True
            elif c == 27: style.pop("rev", None)
            elif c in colors: style["fg"] = colors[c]
            elif c == 39: style.pop("fg", None)
            elif c == 49: style.pop("bg", None)
        row += span(parts[i + 1])
    out.append(row)
page = ('<!doctype html><meta charset="utf-8"><body style="margin:0;background:#1e1e1e">'
        '<pre style="margin:8px;font:14px/1.2 \'DejaVu Sans Mono\',monospace;color:#ddd">'
        + "\n".join(out) + "</pre>")
open(sys.argv[2], "w", encoding="utf-8").write(page)
PY
  /usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=900,460 --screenshot="docs/tui-$name.png" "file:///tmp/$session-$name.html" 2>/dev/null
  rm -f "/tmp/$session-$name.ansi" "/tmp/$session-$name.html"
done
ls -l docs/tui-*
