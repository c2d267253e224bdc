//! Textbook diagrams (issue #17): in the SVG, each arrow leaves its sender's lifeline at its
//! capture time and reaches its receiver's when the tracker delivered it, so crossed SYNs
//! and FINs cross, a lost copy stops short, and long waits break the axis; the ladder,
//! which cannot slope, marks crossed and lost segments. Geometry is read back from the
//! arrows' `<line class="seg" data-…>` shafts.

mod support;

use assert_cmd::Command;
use std::path::Path;
use support::{Gen, ACK, FIN, PSH, SYN};

/// A connection whose client FIN is lost and sent again after an RTO of 200 ms; the second
/// copy is acknowledged, then the server closes (the client ends in TIME_WAIT).
fn retransmitted_fin(path: &Path) {
    let mut g = Gen::create(path);
    let (c, s) = (support::client(1), support::server());
    let us = 1_000;
    g.seg(c, s, SYN, 100, 0, &[], us);
    g.seg(s, c, SYN | ACK, 500, 101, &[], 40 * us);
    g.seg(c, s, ACK, 101, 501, &[], 20 * us);
    g.seg(c, s, ACK | PSH, 101, 501, b"hello", 30 * us);
    g.seg(s, c, ACK, 501, 106, &[], 40 * us);
    g.seg(c, s, FIN | ACK, 106, 501, &[], 500 * us); // frame 6: lost
    g.seg(c, s, FIN | ACK, 106, 501, &[], 200_000 * us); // frame 7: the RTO's copy
    g.seg(s, c, ACK, 501, 107, &[], 40 * us);
    g.seg(s, c, FIN | ACK, 501, 107, &[], 300 * us);
    g.seg(c, s, ACK, 107, 502, &[], 40 * us);
    g.finish();
}

/// The same, but the server acknowledges the first FIN before the (spurious) copy: nothing
/// is lost.
fn spurious_retransmission(path: &Path) {
    let mut g = Gen::create(path);
    let (c, s) = (support::client(2), support::server());
    let us = 1_000;
    g.seg(c, s, SYN, 100, 0, &[], us);
    g.seg(s, c, SYN | ACK, 500, 101, &[], 40 * us);
    g.seg(c, s, ACK, 101, 501, &[], 20 * us);
    g.seg(c, s, FIN | ACK, 101, 501, &[], 500 * us);
    g.seg(s, c, ACK, 501, 102, &[], 40 * us);
    g.seg(c, s, FIN | ACK, 101, 501, &[], 200_000 * us);
    g.seg(s, c, FIN | ACK, 501, 102, &[], 300 * us);
    g.seg(c, s, ACK, 102, 502, &[], 40 * us);
    g.finish();
}

fn synfin(args: &[&str]) -> String {
    let out = Command::cargo_bin("synfin")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synfin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn svg(path: &str, scale: &str) -> String {
    synfin(&["replay", path, "-f", "svg", "--time-scale", scale])
}

/// The value of attribute `name` in one tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        .parse()
        .unwrap()
}

/// One arrow as the SVG draws it (in its connection's coordinates).
#[derive(Debug, Clone)]
struct Arrow {
    frame: u64,
    c2s: bool,
    t_send: f64,
    t_recv: Option<f64>,
    lost: Option<u64>,
    crossed: Vec<u64>,
    /// The shaft: send end, then the end towards the receiver.
    line: ((f64, f64), (f64, f64)),
    /// The arrowhead's tip (none on a lost copy).
    tip: Option<(f64, f64)>,
    /// Its label.
    label: String,
}

/// Every arrow (`<line class="seg" …>`, its arrowhead and label) of every connection.
fn arrows(svg: &str) -> Vec<Vec<Arrow>> {
    let mut conns = Vec::new();
    for part in svg.split("<g transform=\"translate(").skip(1) {
        let mut out = Vec::new();
        let part = &part[..part.find("</g>").expect("the connection ends")];
        for (at, _) in part.match_indices("<line ") {
            let g = &part[at + "<line".len()..];
            let line = g[..g.find("/>").unwrap()].to_string();
            if attr(&line, "class") != Some("seg") {
                continue;
            }
            // The shaft and what follows it up to its label.
            let rest = &g[..g.find("</text>").expect("a label")];
            let tip = rest.find("<polygon").map(|i| {
                let pts = attr(&rest[i..], "points").unwrap();
                let (x, y) = pts.split(' ').next().unwrap().split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            });
            let text = &rest[rest.find("<text").expect("a label")..];
            let label = &text[text.find('>').unwrap() + 1..];
            out.push(Arrow {
                frame: num(&line, "data-frame") as u64,
                c2s: attr(&line, "data-dir") == Some("c2s"),
                t_send: num(&line, "data-t-send"),
                t_recv: attr(&line, "data-t-recv").map(|t| t.parse().unwrap()),
                lost: attr(&line, "data-lost").map(|f| f.parse().unwrap()),
                crossed: attr(&line, "data-crossed")
                    .map(|l| l.split(' ').map(|f| f.parse().unwrap()).collect())
                    .unwrap_or_default(),
                line: (
                    (num(&line, "x1"), num(&line, "y1")),
                    (num(&line, "x2"), num(&line, "y2")),
                ),
                tip,
                label: label.to_string(),
            });
        }
        conns.push(out);
    }
    conns
}

/// Do two line segments cross (touching at an end does not count)?
fn intersect(a: ((f64, f64), (f64, f64)), b: ((f64, f64), (f64, f64))) -> bool {
    let side = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
    };
    let (d1, d2) = (side(b.0, b.1, a.0), side(b.0, b.1, a.1));
    let (d3, d4) = (side(a.0, a.1, b.0), side(a.0, a.1, b.1));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// Every capture in `captures/`.
fn captures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("captures")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".pcap") || p.ends_with(".pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "{v:?}");
    v
}

#[test]
fn the_geometry_reader_knows_a_cross_from_a_touch() {
    let ((a, b), (c, d)) = (((0.0, 0.0), (10.0, 10.0)), ((0.0, 10.0), (10.0, 0.0)));
    assert!(intersect((a, b), (c, d)));
    // Meeting at an end, as two arrows one of which leaves where the other arrives.
    assert!(!intersect(
        ((0.0, 0.0), (10.0, 10.0)),
        ((10.0, 10.0), (0.0, 20.0))
    ));
    assert!(!intersect(
        ((0.0, 0.0), (10.0, 0.0)),
        ((0.0, 5.0), (10.0, 5.0))
    ));
}

#[test]
fn crossed_fins_and_syns_cross_on_the_page() {
    for (capture, flag) in [
        ("captures/simultaneous-close.pcap", "FIN"),
        ("captures/simultaneous-open.pcap", "SYN seq=0"),
    ] {
        for scale in ["compressed", "linear"] {
            let conn = &arrows(&svg(capture, scale))[0];
            let pair: Vec<&Arrow> = conn.iter().filter(|a| a.label.starts_with(flag)).collect();
            assert_eq!(pair.len(), 2, "{capture}: {pair:?}");
            let (a, b) = (pair[0], pair[1]);
            assert_ne!(a.c2s, b.c2s, "{capture}: one each way");
            assert!(
                intersect(a.line, b.line),
                "{capture} --time-scale {scale}: the two arrows do not cross: {a:?} {b:?}"
            );
            assert_eq!((&a.crossed, &b.crossed), (&vec![b.frame], &vec![a.frame]));
            // The first one sent arrives after the second was sent: later than captured.
            assert!(a.t_recv.unwrap() > a.t_send, "{a:?}");
            assert!(a.t_recv.unwrap() >= b.t_send, "{a:?} {b:?}");
            for x in [a, b] {
                assert!(x.label.ends_with("⤫ crossed"), "{}", x.label);
            }
        }
        // Evenly spaced rows keep them level, side by side.
        let conn = &arrows(&svg(capture, "rows"))[0];
        let pair: Vec<&Arrow> = conn.iter().filter(|a| a.label.starts_with(flag)).collect();
        assert!(!intersect(pair[0].line, pair[1].line));
    }
}

#[test]
fn no_arrow_arrives_before_it_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let lost = dir.path().join("lost-fin.pcap");
    retransmitted_fin(&lost);
    let mut paths = captures();
    paths.push(lost.display().to_string());
    let mut sloped = 0;
    for path in &paths {
        for scale in ["compressed", "linear", "rows"] {
            let svg = svg(path, scale);
            let conns = arrows(&svg);
            let segs = svg.matches(" class=\"seg\"").count();
            assert_eq!(conns.iter().map(Vec::len).sum::<usize>(), segs, "{path}");
            for a in conns.iter().flatten() {
                let ((x1, y1), (x2, y2)) = a.line;
                let ctx = format!("{path} --time-scale {scale}: {a:?}");
                // Leaves its sender's lifeline, heads for the receiver's, never upwards.
                assert_eq!(a.c2s, x1 < x2, "{ctx}");
                assert!(y2 >= y1, "{ctx}");
                if let Some((_, ty)) = a.tip {
                    assert!(ty >= y1 && ty >= y2 - 0.1, "{ctx}");
                }
                match (a.t_recv, a.lost) {
                    (Some(t), None) => assert!(t >= a.t_send, "{ctx}"),
                    (None, Some(_)) => assert!(a.tip.is_none(), "{ctx}"),
                    _ => panic!("an arrival time or a loss: {ctx}"),
                }
                if scale == "rows" {
                    assert_eq!(y1, y2, "{ctx}");
                } else if y2 > y1 {
                    sloped += 1;
                }
            }
        }
    }
    assert!(sloped >= 4, "some arrows slope ({sloped})");
}

#[test]
fn rows_keep_the_even_layout() {
    let svg = svg("captures/basic.pcap", "rows");
    let ys: Vec<f64> = arrows(&svg)[0].iter().map(|a| a.line.0 .1).collect();
    for w in ys.windows(2) {
        let rows = (w[1] - w[0]) / 24.0;
        assert!(rows >= 1.0 && rows.fract() == 0.0, "{ys:?}");
    }
    assert!(!svg.contains("font-style=\"italic\""), "no broken axis");
    assert!(!svg.contains("TIME_WAIT 60.0 s"));
}

#[test]
fn long_waits_break_the_axis_with_their_length() {
    let path = "captures/simultaneous-close.pcap";
    let compressed = svg(path, "compressed");
    // The 210.790 ms before the close, in the time column, and TIME_WAIT's 60 s after.
    assert!(compressed.contains(">+210.790 ms</text>"), "{compressed}");
    assert!(compressed.contains("⋯ TIME_WAIT 60.0 s ⋯"));
    let linear = svg(path, "linear");
    assert!(!linear.contains(">+210.790 ms</text>") && !linear.contains("⋯ TIME_WAIT"));
    // Linear gives the wait its length: far more room than the broken axis.
    let gap = |svg: &str| {
        let conn = &arrows(svg)[0];
        let y = |f: u64| conn.iter().find(|a| a.frame == f).unwrap().line.0 .1;
        y(8) - y(7)
    };
    let (c, l) = (gap(&compressed), gap(&linear));
    assert!(c < 100.0 && l > 10.0 * c, "compressed {c}, linear {l}");
    // Short gaps get room in proportion: 33 µs (SYN → SYN,ACK) more than 17 µs.
    let conn = &arrows(&compressed)[0];
    let y = |f: u64| conn.iter().find(|a| a.frame == f).unwrap().line.0 .1;
    assert!(y(2) - y(1) > y(3) - y(2), "{conn:?}");
}

#[test]
fn a_lost_copy_stops_short_and_the_copy_sent_again_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let lost = dir.path().join("lost-fin.pcap");
    retransmitted_fin(&lost);
    let path = lost.to_str().unwrap();
    for scale in ["compressed", "rows"] {
        let conn = &arrows(&svg(path, scale))[0];
        let first = conn.iter().find(|a| a.frame == 6).unwrap();
        let again = conn.iter().find(|a| a.frame == 7).unwrap();
        assert_eq!(first.lost, Some(7), "{first:?}");
        assert!(first.label.ends_with("✗ lost"), "{}", first.label);
        // Stops about half way between the lifelines (348 and 948).
        let x = first.line.1 .0;
        assert!(x > 500.0 && x < 800.0, "{first:?}");
        assert_eq!(again.lost, None);
        assert!(again.tip.unwrap().0 > 900.0, "{again:?}");
        assert_eq!(conn.iter().filter(|a| a.lost.is_some()).count(), 1);
    }
    // The ladder says it, and the server's CLOSE_WAIT is on the row of the copy it got.
    let ladder = synfin(&["replay", path, "--width", "120"]);
    assert_eq!(ladder.matches("✗ lost").count(), 1, "{ladder}");
    let row = |needle: &str| ladder.lines().find(|l| l.contains(needle)).unwrap();
    assert!(row("[retransmission]").ends_with("CLOSE_WAIT"), "{ladder}");
    assert!(!row("✗ lost").contains("CLOSE_WAIT"), "{ladder}");
    // Mermaid ends it in a cross.
    let mermaid = synfin(&["replay", path, "-f", "mermaid"]);
    assert_eq!(mermaid.matches("C-xS").count(), 1, "{mermaid}");
}

#[test]
fn an_acknowledged_copy_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spurious.pcap");
    spurious_retransmission(&p);
    let path = p.to_str().unwrap();
    let svg = svg(path, "compressed");
    assert!(svg.contains("[retransmission]"), "{svg}");
    assert!(!svg.contains("data-lost"), "{svg}");
    assert!(!synfin(&["replay", path]).contains("✗ lost"));
}

#[test]
fn the_ladder_marks_crossed_segments_and_only_them() {
    for (capture, n) in [
        ("captures/simultaneous-close.pcap", 2),
        ("captures/simultaneous-open.pcap", 2),
        ("captures/basic.pcap", 0),
        ("captures/self-connect.pcap", 0),
        ("captures/half-close.pcap", 0),
    ] {
        // In words where they fit beside the label; narrower, the glyph alone.
        for (width, mark) in [("100", "⤫ crossed"), ("60", "⤫")] {
            let ladder = synfin(&["replay", capture, "--width", width]);
            assert_eq!(ladder.matches(mark).count(), n, "{capture}:\n{ladder}");
            let arrows = ladder.matches('▶').count() + ladder.matches('◀').count();
            assert!(arrows >= 5, "{ladder}");
        }
    }
}

#[test]
fn html_wraps_the_same_geometry() {
    let path = "captures/simultaneous-close.pcap";
    let svg = svg(path, "compressed");
    let html = synfin(&["replay", path, "-f", "html"]);
    let body = |s: &str| -> Vec<String> {
        s[s.find("<svg").unwrap()..s.find("</svg>").unwrap()]
            .lines()
            .map(support::unpadded)
            .collect()
    };
    assert_eq!(body(&svg), body(&html));
}
