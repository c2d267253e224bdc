//! The full-screen view without a terminal: its model fed from captures through the real
//! pipeline, its screens drawn through ratatui's TestBackend and snapshot (list, ladder,
//! state strip, filter prompt, help; at 80×24 and 120×32), and the model's sort, filter
//! and eviction limit.

mod support;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use synfin::capture::pcap_reader::PcapSource;
use synfin::events::{Meta, Outcome, TcpState};
use synfin::filter::SegmentFilter;
use synfin::filter_expr::NoResolver;
use synfin::pipeline::Pipeline;
use synfin::render::RenderOpts;
use synfin::tracker::{Tracker, TrackerConfig};
use synfin::tui::feed::Feed;
use synfin::tui::model::{Prompt, Screen, SortKey};
use synfin::tui::{Command, Key, Limits, Model};

/// A mix: a clean close, resets, refusals, a full backlog, a half close, unread data.
const MIX: &[&str] = &[
    "basic.pcap",
    "abort.pcap",
    "refused.pcap",
    "half-close.pcap",
    "unread.pcap",
    "simultaneous-close.pcap",
    "backlog.pcap",
];

/// The model after `paths` went through the pipeline, one after another (as `--tui` feeds
/// it: each frame to the model, then to the pipeline).
fn model_of_paths(paths: &[&Path], limits: Limits) -> Model {
    model_upto(paths, limits, None)
}

/// The model after the first `upto` frames (all, and the input's end, for `None`).
fn model_upto(paths: &[&Path], limits: Limits, upto: Option<usize>) -> Model {
    let meta = Meta {
        schema: 1,
        tool: "synfin",
        version: "test",
        source: "replay",
        input: "captures".into(),
        linktype: "EN10MB".into(),
    };
    let opts = RenderOpts {
        color: false,
        ..RenderOpts::default()
    };
    let model = Rc::new(RefCell::new(Model::new(meta, opts, limits)));
    let mut p = Pipeline::new(
        Tracker::new(TrackerConfig::default()),
        SegmentFilter::default(),
        Box::new(Feed(Rc::clone(&model))),
        Box::new(std::io::sink()),
    );
    let mut number = 1;
    let mut fed = 0;
    for path in paths {
        let mut src = PcapSource::open(path, number).unwrap();
        while let Some(f) = src.next_frame().unwrap() {
            if upto.is_some_and(|n| fed == n) {
                drop(p);
                return Rc::try_unwrap(model).ok().unwrap().into_inner();
            }
            model.borrow_mut().handle_frame(&f);
            p.frame(&f).unwrap();
            fed += 1;
        }
        number = src.next_number();
    }
    p.finish().unwrap();
    Rc::try_unwrap(model).ok().unwrap().into_inner()
}

fn model_of(files: &[&str]) -> Model {
    let paths: Vec<_> = files
        .iter()
        .map(|f| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("captures")
                .join(f)
        })
        .collect();
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    model_of_paths(&refs, Limits::default())
}

/// The screen as text, one line per row (trailing blanks kept off).
fn screen(m: &mut Model, w: u16, h: u16) -> String {
    m.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| synfin::tui::draw::draw(m, f.area(), f.buffer_mut()))
        .unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn keys(m: &mut Model, keys: &[Key]) -> Vec<Command> {
    keys.iter().filter_map(|&k| m.handle_key(k)).collect()
}

fn typed(m: &mut Model, text: &str) {
    for c in text.chars() {
        assert_eq!(m.handle_key(Key::Char(c)), None);
    }
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 32)];

#[test]
fn list_screen() {
    for (w, h) in SIZES {
        let mut m = model_of(MIX);
        insta::assert_snapshot!(format!("list_{w}x{h}"), screen(&mut m, w, h));
    }
}

#[test]
fn ladder_screen_of_the_selected_connection() {
    for (w, h) in SIZES {
        let mut m = model_of(MIX);
        // Up twice from the newest, then open its ladder.
        keys(&mut m, &[Key::Up, Key::Up, Key::Enter]);
        assert_eq!(m.screen, Screen::Ladder);
        insta::assert_snapshot!(format!("ladder_{w}x{h}"), screen(&mut m, w, h));
        // Scrolled a page down, the title says which lines show.
        keys(&mut m, &[Key::PageDown]);
        insta::assert_snapshot!(format!("ladder_scrolled_{w}x{h}"), screen(&mut m, w, h));
    }
}

#[test]
fn state_strip_shows_a_time_wait_pile_up_and_its_end() {
    // Many connections closed by the client in a row: each leaves a TIME_WAIT socket.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pile.pcap");
    let mut g = support::Gen::create(&path);
    for i in 0..40 {
        g.connection(support::client(i), support::server(), 1000 * i, 7, 1, 10);
        g.t += 500_000_000; // 0.5 s between connections
    }
    // A minute later the first TIME_WAITs have ended (Linux: 60 s), one by one.
    g.t += 45_000_000_000;
    for i in 40..50 {
        g.connection(support::client(i), support::server(), 1000 * i, 7, 1, 10);
        g.t += 1_000_000_000;
    }
    g.finish();
    let mut m = model_of_paths(&[&path], Limits::default());
    let tw = m.counts[TcpState::TimeWait as usize];
    assert!(tw < 40 + 10, "some TIME_WAITs ended: {tw}");
    for (w, h) in SIZES {
        let text = screen(&mut m, w, h);
        // The strip: its rule and rows, at the bottom above the status line.
        let strip: Vec<&str> = text.lines().rev().skip(1).take(6).collect();
        let strip: Vec<&str> = strip.into_iter().rev().collect();
        insta::assert_snapshot!(format!("strip_{w}x{h}"), strip.join("\n"));
    }
}

#[test]
fn ladder_of_an_open_connection_grows_with_its_segments() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/basic.pcap");
    let mut lens = Vec::new();
    for upto in [3, 6] {
        let mut m = model_upto(&[&path], Limits::default(), Some(upto));
        keys(&mut m, &[Key::Enter]);
        let text = screen(&mut m, 80, 24);
        assert!(text.contains("open · S1"), "{text}");
        lens.push(m.selected_conn().unwrap().events.len());
        if upto == 3 {
            insta::assert_snapshot!("ladder_open_80x24", text);
        }
    }
    assert!(lens[0] < lens[1], "{lens:?}");
}

#[test]
fn filter_prompt_and_the_filtered_list() {
    for (w, h) in SIZES {
        let mut m = model_of(MIX);
        assert!(keys(&mut m, &[Key::Char('f')]).is_empty());
        typed(&mut m, "tcp[tcpflags] & tcp-rst != 0");
        insta::assert_snapshot!(format!("filter_prompt_{w}x{h}"), screen(&mut m, w, h));
        let cmd = keys(&mut m, &[Key::Enter]);
        assert_eq!(
            cmd,
            [Command::Filter("tcp[tcpflags] & tcp-rst != 0".into())]
        );
        m.apply_filter("tcp[tcpflags] & tcp-rst != 0", &NoResolver)
            .unwrap();
        insta::assert_snapshot!(format!("filtered_{w}x{h}"), screen(&mut m, w, h));
    }
}

#[test]
fn help_screen() {
    for (w, h) in SIZES {
        let mut m = model_of(MIX);
        keys(&mut m, &[Key::Char('?')]);
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen(&mut m, w, h));
        // Any key closes it.
        keys(&mut m, &[Key::Char('x')]);
        assert!(!m.help);
    }
}

#[test]
fn sort_orders_the_list_and_reverse_turns_it() {
    let mut m = model_of(MIX);
    let ids = |m: &Model| m.visible().iter().map(|c| c.id).collect::<Vec<_>>();
    let by_id = ids(&m);
    assert!(by_id.windows(2).all(|w| w[0] < w[1]), "{by_id:?}");
    // s: activity, state, outcome, anomalies.
    keys(&mut m, &[Key::Char('s'), Key::Char('s'), Key::Char('s')]);
    assert_eq!(m.sort, SortKey::Outcome);
    let outcomes: Vec<&str> = m.visible().iter().map(|c| c.outcome().as_str()).collect();
    let mut sorted = outcomes.clone();
    sorted.sort();
    assert_eq!(outcomes, sorted);
    keys(&mut m, &[Key::Char('s')]);
    assert_eq!(m.sort, SortKey::Anomalies);
    let an: Vec<u32> = m.visible().iter().map(|c| c.anomalies).collect();
    assert!(an.windows(2).all(|w| w[0] <= w[1]), "{an:?}");
    assert!(
        an.last().unwrap() > &0,
        "some connection of the mix has an anomaly"
    );
    keys(&mut m, &[Key::Char('r')]);
    let an_rev: Vec<u32> = m.visible().iter().map(|c| c.anomalies).collect();
    assert!(an_rev.windows(2).all(|w| w[0] >= w[1]), "{an_rev:?}");
}

#[test]
fn filter_keeps_connections_with_a_matching_segment() {
    let mut m = model_of(MIX);
    let all = m.visible().len();
    m.apply_filter("tcp[tcpflags] & tcp-rst != 0", &NoResolver)
        .unwrap();
    let with_rst: Vec<_> = m.visible().iter().map(|c| c.outcome()).collect();
    assert!(!with_rst.is_empty() && with_rst.len() < all, "{with_rst:?}");
    assert!(
        !with_rst.contains(&Outcome::Closed) || with_rst.len() > 1,
        "{with_rst:?}"
    );
    // Every connection refused or reset sent an RST; a clean close sent none.
    for c in m.connections() {
        let rst = matches!(
            c.outcome(),
            Outcome::Refused | Outcome::Reset | Outcome::Aborted
        );
        if rst {
            assert!(
                m.visible().iter().any(|v| v.id == c.id),
                "conn {} ({:?}) must pass",
                c.id,
                c.outcome()
            );
        }
    }
    // A port no connection used: none; a bad expression: an error, the filter unchanged.
    m.apply_filter("port 1", &NoResolver).unwrap();
    assert!(m.visible().is_empty());
    assert!(m.apply_filter("port", &NoResolver).is_err());
    assert_eq!(m.filter.as_ref().map(|f| f.0.as_str()), Some("port 1"));
    // Empty: no filter.
    m.apply_filter("", &NoResolver).unwrap();
    assert_eq!(m.visible().len(), all);
    // The prompt starts with the filter in force.
    m.apply_filter("port 8888", &NoResolver).unwrap();
    keys(&mut m, &[Key::Char('f')]);
    assert_eq!(m.prompt, Some(Prompt::Filter("port 8888".into())));
}

#[test]
fn eviction_keeps_the_newest_ended_connections_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.pcap");
    let mut g = support::Gen::create(&path);
    for i in 0..50 {
        g.connection(support::client(i), support::server(), 1000 * i, 7, 1, 10);
    }
    g.finish();
    let limits = Limits {
        ended: 10,
        ..Limits::default()
    };
    let m = model_of_paths(&[&path], limits);
    let ids: Vec<u64> = m.visible().iter().map(|c| c.id).collect();
    assert_eq!(ids, (41..=50).collect::<Vec<u64>>());
    assert_eq!(m.evicted, 40);
    assert_eq!(m.seen, 50);
    // The TIME_WAIT sockets of those that left are still counted.
    assert_eq!(m.counts[TcpState::TimeWait as usize], 50);
}

#[test]
fn search_and_next_anomaly_select_and_pause() {
    let mut m = model_of(MIX);
    assert!(m.follow);
    keys(&mut m, &[Key::Char('/')]);
    typed(&mut m, "refused");
    keys(&mut m, &[Key::Enter]);
    assert!(!m.follow);
    assert_eq!(m.selected_conn().unwrap().outcome(), Outcome::Refused);
    keys(&mut m, &[Key::Char('a')]);
    assert!(m.selected_conn().unwrap().anomalies > 0);
}

#[test]
fn exports_draw_the_selected_connection_with_the_renderers() {
    use synfin::tui::export::Exported;
    use synfin::tui::ExportKind;
    let mut m = model_of(&["basic.pcap"]);
    let Ok((name, Exported::Bytes(svg))) = m.export(ExportKind::Svg) else {
        panic!("an SVG")
    };
    assert_eq!(name, "synfin-conn-1.svg");
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    let Ok((_, Exported::Bytes(mmd))) = m.export(ExportKind::Mermaid) else {
        panic!("Mermaid")
    };
    assert!(String::from_utf8(mmd).unwrap().contains("sequenceDiagram"));
    let Ok((_, Exported::Bytes(txt))) = m.export(ExportKind::Ladder) else {
        panic!("a ladder")
    };
    assert!(String::from_utf8(txt).unwrap().starts_with("conn 1  "));
    let Ok((_, Exported::Frames(frames, dropped))) = m.export(ExportKind::Pcap) else {
        panic!("frames")
    };
    let c = m.selected_conn().unwrap();
    assert_eq!(frames.len() as u64, c.packets[0] + c.packets[1]);
    assert_eq!(dropped, 0);
    keys(&mut m, &[Key::Char('e')]);
    assert_eq!(m.prompt, Some(Prompt::Export));
    assert_eq!(
        keys(&mut m, &[Key::Char('p')]),
        [Command::Export(ExportKind::Pcap)]
    );
}

/// Every cell's colours, on the list and on a ladder.
fn colours_used(m: &mut Model) -> Vec<ratatui::style::Color> {
    use ratatui::style::Color;
    let mut used = Vec::new();
    for enter in [false, true] {
        if enter {
            keys(m, &[Key::Up, Key::Enter]);
        }
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| synfin::tui::draw::draw(m, f.area(), f.buffer_mut()))
            .unwrap();
        for cell in t.backend().buffer().content() {
            for c in [cell.fg, cell.bg] {
                if c != Color::Reset && !used.contains(&c) {
                    used.push(c);
                }
            }
        }
    }
    used
}

#[test]
fn no_colour_unless_the_options_say_so() {
    // --color never / NO_COLOR: the app passes color false; the selection is reversed text,
    // not a colour.
    let mut m = model_of(MIX);
    assert_eq!(colours_used(&mut m), []);
    let mut m = model_of(MIX);
    m.opts.color = true;
    // (`colored` paints the ladder only with its override on, as the app sets it.)
    colored::control::set_override(true);
    let used = colours_used(&mut m);
    assert!(
        used.len() >= 3,
        "states, outcomes and the ladder's arrows: {used:?}"
    );
}

#[test]
fn the_owner_column_appears_once_an_owner_is_known() {
    let mut m = model_of(&["basic.pcap"]);
    let before = screen(&mut m, 120, 32);
    assert!(!before.contains("owner"), "{before}");
    m.set_owner(1, "echo-server[4242]\x1b".into());
    let after = screen(&mut m, 120, 32);
    let row = after.lines().find(|l| l.starts_with("   1 ")).unwrap();
    assert!(after.lines().nth(1).unwrap().ends_with("owner"), "{after}");
    // Escaped like every captured or outside text: no raw control character on screen.
    assert!(
        row.ends_with("echo-server[4242]…") || row.contains("echo-server[42"),
        "{row}"
    );
    assert!(!after.contains('\x1b'), "{after}");
}

#[test]
fn a_traced_call_names_the_owner_and_its_inferred_twin_goes() {
    use synfin::events::{
        CallEvent, CallName, CallResult, CallSource, Endpoint, Event, Owner, Phase,
    };
    let mut m = model_of(&["basic.pcap"]);
    let c = m.connections().next().unwrap();
    let (id, client) = (c.id, c.client.unwrap());
    let t = c.group().unwrap().verdict.start;
    m.handle_event(&Event::Call(CallEvent {
        t,
        conn: id,
        endpoint: client,
        call: CallName::Connect,
        phase: Phase::Return,
        result: Some(CallResult::Ok),
        source: CallSource::Observed,
        owner: Some(Owner {
            pid: 4242,
            tid: 4243,
            comm: "python3".into(),
        }),
    }));
    let list = screen(&mut m, 120, 32);
    let row = list.lines().find(|l| l.starts_with("   1 ")).unwrap();
    assert!(row.ends_with("python3[4242]"), "{row}");
    // The ladder keeps the observed call, not the inferred ones of that end.
    let g = m.connections().next().unwrap().group().unwrap();
    let calls: Vec<(Endpoint, CallSource)> = g
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Call(c) => Some((c.endpoint, c.source)),
            _ => None,
        })
        .collect();
    assert!(calls.contains(&(client, CallSource::Observed)), "{calls:?}");
    assert!(
        !calls.contains(&(client, CallSource::Inferred)),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.1 == CallSource::Inferred),
        "the server's stay: {calls:?}"
    );
}
