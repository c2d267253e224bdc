//! The one layout model (`render::layout`) and its drawings: `--max-segments N` never puts a
//! state change on another segment's row, and the ladder, the SVG and Mermaid say the same
//! things (why lines, call words, states) because they draw the same rows.

use assert_cmd::Command;
use std::path::Path;
use synfin::capture::pcap_reader::PcapSource;
use synfin::decode::decode;
use synfin::events::{Event, Note, Role, StateEvent, TcpState};
use synfin::render::group::ConnGroup;
use synfin::render::layout::{hidden_segments, segment_text, Layout, RowKind, LEFT, RIGHT};
use synfin::tracker::{Tracker, TrackerConfig};

/// Every connection of a capture, as the grouping renderers get them.
fn groups(path: &str) -> Vec<ConnGroup> {
    let mut src = PcapSource::open(Path::new(path), 1).unwrap();
    let mut t = Tracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    while let Some(f) = src.next_frame().unwrap() {
        if let Ok(seg) = decode(&f) {
            t.handle_segment(&seg);
        }
        while let Some(e) = t.poll_event() {
            events.push(e);
        }
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        events.push(e);
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Event::Connection(v) = e {
            out.push(ConnGroup {
                events: events[..i]
                    .iter()
                    .filter(|x| x.conn() == v.conn && !matches!(x, Event::Connection(_)))
                    .cloned()
                    .collect(),
                verdict: v.clone(),
            });
        }
    }
    assert!(!out.is_empty(), "{path}: no connection");
    out
}

fn states(g: &ConnGroup) -> impl Iterator<Item = &StateEvent> {
    g.events.iter().filter_map(|e| match e {
        Event::State(s) => Some(s),
        _ => None,
    })
}

fn side(s: &StateEvent) -> usize {
    match s.role {
        Role::Client => LEFT,
        Role::Server => RIGHT,
    }
}

#[test]
fn max_segments_puts_each_state_change_on_the_row_of_its_segment() {
    let g = &groups("captures/basic.pcap")[0];
    let frames: Vec<u64> = g
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Segment(s) => Some(s.frame),
            _ => None,
        })
        .collect();
    let total = frames.len();
    // What the tracker says each frame did, per side.
    let caused = |pick: &dyn Fn(u64) -> bool, s: usize| -> Vec<TcpState> {
        states(g)
            .filter(|st| st.frame.is_some_and(pick) && side(st) == s)
            .map(|st| st.to)
            .collect()
    };
    for n in (0..=6).map(Some).chain([None]) {
        let lay = Layout::new(g, n);
        let hidden = hidden_segments(&g.events, n);
        let hidden_frames: Vec<u64> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| hidden.contains(&(i + 1)))
            .map(|(_, f)| *f)
            .collect();
        let mut shown = 0;
        let mut elision_rows = 0;
        for row in &lay.rows {
            let got = |s: usize| row.states[s].iter().map(|m| m.to).collect::<Vec<_>>();
            match row.kind {
                RowKind::Segment(seg) => {
                    shown += 1;
                    for s in [LEFT, RIGHT] {
                        assert_eq!(
                            got(s),
                            caused(&|f| f == seg.frame, s),
                            "--max-segments {n:?}: side {s} of frame {}'s row",
                            seg.frame
                        );
                    }
                }
                RowKind::Elided { segments, .. } => {
                    elision_rows += 1;
                    assert_eq!(segments, hidden_frames.len(), "--max-segments {n:?}");
                    for s in [LEFT, RIGHT] {
                        assert_eq!(
                            got(s),
                            caused(&|f| hidden_frames.contains(&f), s),
                            "--max-segments {n:?}: side {s} of the elision row"
                        );
                    }
                }
                _ => assert!(
                    row.states.iter().all(|s| s.is_empty()),
                    "--max-segments {n:?}: states on a {:?} row",
                    row.kind
                ),
            }
        }
        let expect_shown = n.map_or(total, |n| n.min(total));
        assert_eq!(shown, expect_shown, "--max-segments {n:?}");
        assert_eq!(elision_rows, usize::from(expect_shown < total));
    }
}

#[test]
fn every_capture_keeps_each_sides_states_in_order_for_any_max_segments() {
    for entry in std::fs::read_dir("captures").unwrap() {
        let path = entry.unwrap().path().display().to_string();
        if !(path.ends_with(".pcap") || path.ends_with(".pcapng")) {
            continue;
        }
        for g in groups(&path) {
            let v = &g.verdict;
            let self_connect = v.client == v.server;
            for n in (0..=6).map(Some).chain([None]) {
                let lay = Layout::new(&g, n);
                for s in [LEFT, RIGHT] {
                    let drawn: Vec<TcpState> = lay
                        .rows
                        .iter()
                        .flat_map(|r| r.states[s].iter().map(|m| m.to))
                        .collect();
                    let told: Vec<TcpState> = states(&g)
                        .filter(|st| self_connect || side(st) == s)
                        .map(|st| st.to)
                        .collect();
                    assert_eq!(drawn, told, "{path} conn {} --max-segments {n:?}", v.conn);
                }
            }
        }
    }
}

fn synfin(args: &[&str]) -> String {
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "synfin {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// What one drawing says, per connection: why lines, call words, and each side's states
/// row by row (without the first and final rows, which Mermaid does not draw).
#[derive(Debug, Default, PartialEq)]
struct Said {
    why: Vec<String>,
    elided: Vec<String>,
    calls: Vec<String>,
    states: [Vec<String>; 2],
}

impl Said {
    /// The same, but that a drawing with narrower columns may cut a long text with `…`.
    fn agrees_with(&self, full: &Said) -> bool {
        let same = |a: &[String], b: &[String]| {
            a.len() == b.len()
                && a.iter().zip(b).all(|(a, b)| {
                    a == b || a.strip_suffix('…').is_some_and(|cut| b.starts_with(cut))
                })
        };
        same(&self.why, &full.why)
            && same(&self.elided, &full.elided)
            && same(&self.calls, &full.calls)
            && same(&self.states[LEFT], &full.states[LEFT])
            && same(&self.states[RIGHT], &full.states[RIGHT])
    }
}

/// The ladder at width 200: time 11 + 2, sides of 26, an arrow of 133.
fn ladder_says(path: &str, extra: &[&str]) -> Said {
    let args = [
        "replay", path, "-f", "ladder", "--color", "never", "--width", "200",
    ];
    let text = synfin(&[&args[..], extra].concat());
    let mut said = Said::default();
    // After a row with states, lines with no time that carry only side text continue them
    // (a chain of states too long for its column wraps after an arrow).
    let mut continues = false;
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let cut = |a: usize, b: usize| -> String {
            chars[a.min(chars.len())..b.min(chars.len())]
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        };
        let rest = cut(13, chars.len());
        let no_time = line.starts_with("             ");
        let is_row = line.contains('▶') || line.contains('◀') || line.contains(" elided …");
        if continues && no_time && !is_row && !rest.starts_with(['»', '~', 'w', '!']) {
            for (s, t) in [(LEFT, cut(13, 39)), (RIGHT, cut(174, chars.len()))] {
                if let (false, Some(last)) = (t.is_empty(), said.states[s].last_mut()) {
                    last.push(' ');
                    last.push_str(&t);
                }
            }
            continue;
        }
        continues = is_row;
        if no_time && (rest.starts_with("why:") || rest.starts_with("! ")) {
            said.why.push(rest);
        } else if rest.starts_with(['»', '~']) {
            said.calls.push(rest);
        } else if line.contains('▶') || line.contains('◀') || line.contains(" elided …") {
            if line.contains(" elided …") {
                said.elided.push(cut(40, 173));
            }
            let (l, r) = (cut(13, 39), cut(174, chars.len()));
            for (s, t) in [(LEFT, l), (RIGHT, r)] {
                if t.starts_with(['»', '~']) {
                    said.calls.push(t);
                } else if !t.is_empty() {
                    said.states[s].push(t);
                }
            }
        } else if cut(174, chars.len()).starts_with(['»', '~']) {
            said.calls.push(cut(174, chars.len()));
        }
    }
    said
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn svg_says(path: &str, extra: &[&str]) -> Said {
    let text = synfin(&[&["replay", path, "-f", "svg"][..], extra].concat());
    let mut said = Said::default();
    let mut bold: [Vec<String>; 2] = Default::default();
    // Each connection's states, without each side's first and final words.
    let flush = |bold: &mut [Vec<String>; 2], said: &mut Said| {
        for (s, b) in bold.iter_mut().enumerate() {
            if b.len() >= 2 {
                said.states[s].extend(b.drain(1..b.len() - 1));
            }
            b.clear();
        }
    };
    for line in text.lines() {
        if line.starts_with("<g ") {
            flush(&mut bold, &mut said);
        }
        let Some(body) = line.strip_prefix("<text ") else {
            continue;
        };
        let (attrs, content) = body.split_once('>').unwrap();
        let content = unescape(content.trim_end_matches("</text>"));
        let left = attrs.starts_with("x=\"334\"");
        let right = attrs.starts_with("x=\"962\"");
        if content.ends_with(" elided …") {
            said.elided.push(content);
        } else if attrs.contains("fill=\"#8e24aa\"") {
            said.why.push(content);
        } else if attrs.contains("fill=\"#00695c\"") {
            said.calls.push(content);
        } else if attrs.contains("font-weight=\"bold\"") && (left || right) {
            bold[if left { LEFT } else { RIGHT }].push(content);
        }
    }
    flush(&mut bold, &mut said);
    said
}

fn mermaid_says(path: &str, extra: &[&str]) -> Said {
    let text = synfin(&[&["replay", path, "-f", "mermaid"][..], extra].concat());
    let mut said = Said::default();
    for line in text.lines() {
        let Some(note) = line.trim().strip_prefix("Note over ") else {
            continue;
        };
        let (who, words) = note.split_once(": ").unwrap();
        let words = words.to_string();
        if words.ends_with(" elided …") {
            said.elided.push(words);
        } else if who == "C,S" {
            said.why.push(words);
        } else if words.starts_with(['»', '~']) {
            said.calls.push(words);
        } else {
            said.states[if who == "C" { LEFT } else { RIGHT }].push(words);
        }
    }
    said
}

#[test]
fn ladder_svg_and_mermaid_say_the_same_whys_calls_and_states() {
    for name in ["refused.pcap", "self-connect.pcap", "abort.pcap"] {
        let path = format!("captures/{name}");
        let ladder = ladder_says(&path, &[]);
        assert_eq!(svg_says(&path, &[]), ladder, "{name}: SVG and ladder");
        assert_eq!(
            mermaid_says(&path, &[]),
            ladder,
            "{name}: Mermaid and ladder"
        );
    }
    // Every capture, with Mermaid (which never cuts a text) as the reference.
    for entry in std::fs::read_dir("captures").unwrap() {
        let path = entry.unwrap().path().display().to_string();
        if !(path.ends_with(".pcap") || path.ends_with(".pcapng")) {
            continue;
        }
        let full = mermaid_says(&path, &[]);
        assert!(ladder_says(&path, &[]).agrees_with(&full), "{path}: ladder");
        assert!(svg_says(&path, &[]).agrees_with(&full), "{path}: svg");
    }
    let refused = ladder_says("captures/refused.pcap", &[]);
    assert_eq!(
        refused.why,
        ["why: RST answers the SYN: nothing listens on 127.0.0.9:8888 → ECONNREFUSED"]
    );
    assert_eq!(refused.calls, ["~ connect()", "~ connect() → ECONNREFUSED"]);
    // A self-connected socket is both sides: its states are drawn on both.
    let selfc = ladder_says("captures/self-connect.pcap", &[]);
    assert_eq!(
        selfc.states[LEFT],
        [
            "SYN_SENT → SYN_RECEIVED",
            "ESTABLISHED",
            "FIN_WAIT_1 → CLOSING",
            "TIME_WAIT"
        ]
    );
    assert_eq!(selfc.states[RIGHT], selfc.states[LEFT]);
}

#[test]
fn segment_notes_use_the_schema_names() {
    let g = &groups("captures/basic.pcap")[0];
    let mut seg = g
        .events
        .iter()
        .find_map(|e| match e {
            Event::Segment(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    seg.notes = [Note::OutOfOrder, Note::OutOfOrder, Note::RstOutOfWindow]
        .into_iter()
        .collect();
    assert_eq!(
        segment_text(&seg, false),
        "SYN seq=0 [out_of_order,rst_out_of_window]"
    );
    // backlog.pcap retransmits SYNs: every drawing names the note the same way.
    for f in ["ladder", "svg", "mermaid"] {
        let out = synfin(&["replay", "captures/backlog.pcap", "-f", f, "--width", "200"]);
        assert!(out.contains("SYN seq=0 [retransmission]"), "{f}");
    }
}

#[test]
fn every_per_connection_format_elides_the_same_way() {
    for n in 0..=6usize {
        let n_arg = n.to_string();
        let run = |f: &str| {
            synfin(&[
                "replay",
                "captures/basic.pcap",
                "-f",
                f,
                "--color",
                "never",
                "--width",
                "200",
                "--max-segments",
                &n_arg,
            ])
        };
        let hidden = 10 - n;
        let words = format!("… {hidden} segments elided …");
        let (ladder, svg, mermaid) = (run("ladder"), run("svg"), run("mermaid"));
        assert!(ladder.contains(&words), "ladder, {n}: {ladder}");
        assert!(svg.contains(&words), "svg, {n}");
        assert!(mermaid.contains(&words), "mermaid, {n}: {mermaid}");
        assert_eq!(mermaid.matches("->>").count(), n, "mermaid arrows, {n}");
        let timeline = run("timeline");
        assert!(
            timeline.contains(&format!("~ {hidden} segments elided")),
            "timeline, {n}: {timeline}"
        );
        // The SYN's row (when shown) carries the client's SYN_SENT and nothing more.
        if n >= 2 {
            let syn = ladder.lines().find(|l| l.contains(" SYN seq=0 ")).unwrap();
            assert!(syn.contains("SYN_SENT "), "{n}: {syn}");
            assert!(!syn.contains("ESTABLISHED"), "{n}: {syn}");
            assert!(!syn.contains("FIN_WAIT"), "{n}: {syn}");
        }
        // The ladder, the SVG and Mermaid say the same things.
        let max = ["--max-segments", &n_arg];
        let full = mermaid_says("captures/basic.pcap", &max);
        assert_eq!(full.elided, [words.as_str()]);
        for (f, said) in [
            ("ladder", ladder_says("captures/basic.pcap", &max)),
            ("svg", svg_says("captures/basic.pcap", &max)),
        ] {
            assert!(said.agrees_with(&full), "{f}, {n}: {said:?}\n{full:?}");
        }
    }
}
