//! The report as a person uses it, in headless Chromium driven through the DevTools protocol
//! (real mouse clicks and typing): a generated capture of 1,201 connections to three servers
//! with every kind of ending, whose report must load without console errors, show the
//! summary's row count and totals, sort and filter, draw a clicked connection's ladder with
//! that connection's states, open the one a `#conn-N` link names, and chart as many TIME_WAIT
//! sockets at the end as the summary counts. Skips with a message where `/usr/bin/chromium`
//! is missing, unless `SYNFIN_REQUIRE_BROWSER=1`, where it fails.
//!
//! `report_timings_on_a_large_page` (ignored) loads a report made beforehand
//! (SYNFIN_REPORT_PAGE=/path/report.html) and prints Chromium's load time and the time of a
//! sort by duration.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use support::cdp::{skip_without_browser, Browser};
use support::{Gen, ACK, FIN, PSH, RST, SYN};

/// The three servers.
fn servers() -> [SocketAddrV4; 3] {
    [
        SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 1), 80),
        SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 2), 443),
        SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 3), 8080),
    ]
}

/// Connection `i`'s kind of ending.
fn write_connection(g: &mut Gen, i: u32) {
    let c = support::client(i);
    let s = servers()[(i % 3) as usize];
    let (ci, si) = (1000 + i * 7, 500_000 + i * 11);
    let us = 1_000 + i64::from(i % 7) * 300; // varied durations
    let handshake = |g: &mut Gen| {
        g.seg(c, s, SYN, ci, 0, &[], us);
        g.seg(s, c, SYN | ACK, si, ci + 1, &[], us);
        g.seg(c, s, ACK, ci + 1, si + 1, &[], us);
        g.seg(c, s, ACK | PSH, ci + 1, si + 1, b"hello", us);
        g.seg(s, c, ACK, si + 1, ci + 6, &[], us);
    };
    match i % 10 {
        0..=4 => g.connection(c, s, ci, si, 1 + (i % 4) as usize, 10),
        5 | 6 => {
            // The server closes first: TIME_WAIT on the server.
            handshake(g);
            g.seg(s, c, FIN | ACK, si + 1, ci + 6, &[], us);
            g.seg(c, s, ACK, ci + 6, si + 2, &[], us);
            g.seg(c, s, FIN | ACK, ci + 6, si + 2, &[], us);
            g.seg(s, c, ACK, si + 2, ci + 7, &[], us);
        }
        7 => {
            g.seg(c, s, SYN, ci, 0, &[], us);
            g.seg(s, c, RST | ACK, 0, ci + 1, &[], us);
        }
        8 => {
            handshake(g);
            g.seg(c, s, RST, ci + 6, 0, &[], us);
        }
        _ if i % 20 == 9 => g.seg(c, s, SYN, ci, 0, &[], us), // no answer
        _ => handshake(g),                                    // still open
    }
}

/// Run the debug binary; its stdout.
fn synfin(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The summary's totals: outcome → count, and the TIME_WAIT ends (client, server).
fn summary_totals(summary: &str) -> (BTreeMap<String, u64>, u64, u64) {
    let line = summary
        .lines()
        .find(|l| l.contains(" connections (") || l.contains(" connection ("))
        .expect("the totals line");
    let inside = &line[line.find('(').unwrap() + 1..line.find(')').unwrap()];
    let outcomes = inside
        .split(", ")
        .filter(|p| *p != "none")
        .map(|p| {
            let (o, n) = p.split_once(' ').unwrap();
            (o.to_string(), n.parse().unwrap())
        })
        .collect();
    let tw = summary
        .lines()
        .find(|l| l.starts_with("ended in TIME_WAIT: "))
        .expect("the TIME_WAIT line");
    let nums: Vec<u64> = tw
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    (outcomes, nums[0], nums[1])
}

/// Every state name in `text`.
fn state_names(text: &str) -> BTreeSet<String> {
    let names = [
        "UNKNOWN",
        "CLOSED",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECEIVED",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
    ];
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| names.contains(w))
        .map(str::to_string)
        .collect()
}

/// The states (from and to) of connection `conn`'s state events in the JSON Lines.
fn jsonl_states(jsonl: &str, conn: u64) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in jsonl.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "state" && v["conn"] == conn {
            for k in ["from", "to"] {
                out.insert(v[k].as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// The visible rows' cells (each a list of column texts).
fn visible_rows(b: &mut Browser) -> Vec<Vec<String>> {
    let v = b.eval(
        "[...document.querySelectorAll('#rows .row')].map(r => [...r.children].map(c => c.textContent))",
    );
    serde_json::from_value(v).unwrap()
}

fn rows_shown(b: &mut Browser) -> u64 {
    b.eval("+document.getElementById('rowcount').dataset.rows")
        .as_u64()
        .unwrap()
}

fn total(b: &mut Browser, key: &str) -> u64 {
    b.eval(&format!(
        "+document.querySelector('[data-total=\"{key}\"]').textContent"
    ))
    .as_u64()
    .unwrap_or_else(|| panic!("no total {key}"))
}

/// Wait for the page to paint (two animation frames: input and scroll events come first).
fn frames(b: &mut Browser) {
    b.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
}

/// Click row `conn` and return the ladder's text. The table is unfiltered and sorted by
/// id (connection k is row k-1): scrolled there, then clicked.
fn open_ladder(b: &mut Browser, conn: u64) -> String {
    b.eval(&format!(
        "document.getElementById('scroller').scrollTop = {} - 100",
        (conn - 1) * 20
    ));
    frames(b);
    let sel = format!("#rows .row[data-conn=\"{conn}\"]");
    b.click(&sel);
    // The click changes the URL's fragment; the page draws on its hashchange event.
    b.eval(&format!(
        "new Promise(ok => {{ let n = 0; const f = () => document.getElementById('ladder-svg').dataset.conn \
         === '{conn}' || n++ > 600 ? ok(true) : requestAnimationFrame(f); f(); }})"
    ));
    ladder_text(b)
}

/// The drawn ladder's texts but its legend (which names TIME_WAIT to explain it), then the
/// note under the title.
fn ladder_text(b: &mut Browser) -> String {
    b.eval(
        "[...document.querySelectorAll('#ladder-svg svg text')].map(t => t.textContent)\
         .filter(t => !t.startsWith('calls:')).join(' | ') + ' | ' \
         + document.getElementById('ladder-note').textContent",
    )
    .as_str()
    .unwrap()
    .to_string()
}

#[test]
fn the_report_in_a_browser_agrees_with_the_summary() {
    if skip_without_browser() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("many.pcap");
    let mut g = Gen::create(&pcap);
    for i in 0..1200 {
        write_connection(&mut g, i);
    }
    // Last, a close whose final ACK is not captured: the client enters TIME_WAIT with the
    // capture's last segment (the chart's end counts it).
    let (c, s) = (support::client(1200), servers()[0]);
    g.seg(c, s, SYN, 7, 0, &[], 1_000);
    g.seg(s, c, SYN | ACK, 70, 8, &[], 1_000);
    g.seg(c, s, ACK, 8, 71, &[], 1_000);
    g.seg(c, s, FIN | ACK, 8, 71, &[], 1_000);
    g.seg(s, c, ACK, 71, 9, &[], 1_000);
    g.seg(s, c, FIN | ACK, 71, 9, &[], 1_000);
    g.finish();
    let pcap = pcap.to_str().unwrap();
    let page = dir.path().join("report.html");
    synfin(&["replay", pcap, "-o", page.to_str().unwrap()]);
    let summary = synfin(&["replay", pcap, "-f", "summary", "--width", "170"]);
    let jsonl = synfin(&["replay", pcap, "-f", "jsonl"]);
    let rows = support::summary_rows(&summary);
    let (outcomes, tw_client, tw_server) = summary_totals(&summary);
    assert_eq!(rows.len(), 1201);
    assert!(outcomes.len() >= 5, "every kind of ending: {outcomes:?}");

    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let mut b = Browser::start(&profile, 1400, 1000);
    let url = format!("file://{}", page.display());
    b.navigate(&url);
    assert_eq!(b.eval("document.body.dataset.ready"), "1");

    // Rows and totals are the summary's.
    assert_eq!(rows_shown(&mut b), rows.len() as u64);
    for o in [
        "closed",
        "reset",
        "refused",
        "aborted",
        "incomplete",
        "open",
    ] {
        let want = outcomes.get(o).copied().unwrap_or(0);
        assert_eq!(total(&mut b, &format!("outcome-{o}")), want, "{o}");
    }
    assert_eq!(total(&mut b, "connections"), rows.len() as u64);
    assert_eq!(total(&mut b, "TIME_WAIT at end, client side"), tw_client);
    assert_eq!(total(&mut b, "TIME_WAIT at end, server side"), tw_server);

    // The chart's TIME_WAIT count at the capture's end: the summary's, in all and per server.
    let tw_end = |b: &mut Browser| {
        b.eval("+(document.querySelector('#chart-legend [data-state=TIME_WAIT]') || {dataset: {endCount: 0}}).dataset.endCount")
            .as_u64()
            .unwrap()
    };
    assert_eq!(tw_end(&mut b), tw_client + tw_server);
    assert!(tw_client > 0 && tw_server > 0);
    let server = servers()[1].to_string();
    b.eval(&format!(
        "(() => {{ const s = document.getElementById('server'); s.value = '{server}'; \
         s.dispatchEvent(new Event('change')); }})()"
    ));
    // Summary columns: … 3 server … 12 final (client/server).
    let want: u64 = rows
        .iter()
        .filter(|r| r[3] == server)
        .map(|r| r[12].matches("TIME_WAIT").count() as u64)
        .sum();
    assert!(want > 0 && want < tw_client + tw_server);
    assert_eq!(tw_end(&mut b), want, "TIME_WAIT at the end on {server}");

    // Sorting by duration (a click on its heading): ascending, then descending.
    let durs: Vec<f64> = rows.iter().map(|r| r[4].parse().unwrap()).collect();
    let min = durs.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = durs.iter().cloned().fold(0.0, f64::max);
    b.click("#thead [data-col=\"4\"]");
    let shown = visible_rows(&mut b);
    let dur_col: Vec<f64> = shown.iter().map(|r| r[4].parse().unwrap()).collect();
    assert!(dur_col.windows(2).all(|w| w[0] <= w[1]), "{dur_col:?}");
    assert!((dur_col[0] - min).abs() < 0.0015, "{} vs {min}", dur_col[0]);
    b.click("#thead [data-col=\"4\"]");
    let dur_col: Vec<f64> = visible_rows(&mut b)
        .iter()
        .map(|r| r[4].parse().unwrap())
        .collect();
    assert!(dur_col.windows(2).all(|w| w[0] >= w[1]), "{dur_col:?}");
    assert!((dur_col[0] - max).abs() < 0.0015, "{} vs {max}", dur_col[0]);

    // Filtering by typing: the refused ones, then one server's.
    b.click("#filter");
    b.type_text("refused");
    frames(&mut b);
    assert_eq!(rows_shown(&mut b), outcomes["refused"]);
    assert!(visible_rows(&mut b).iter().all(|r| r[8] == "refused"));
    b.eval("document.getElementById('filter').select()");
    b.type_text(&server);
    frames(&mut b);
    let on_server = rows.iter().filter(|r| r[3] == server).count() as u64;
    assert_eq!(rows_shown(&mut b), on_server);

    // Back to every row (emptied with the keyboard), sorted by id (a click on its heading).
    b.eval("document.getElementById('filter').select()");
    b.call(
        "Input.dispatchKeyEvent",
        serde_json::json!({"type": "keyDown", "key": "Backspace", "code": "Backspace",
                           "windowsVirtualKeyCode": 8}),
    );
    b.call(
        "Input.dispatchKeyEvent",
        serde_json::json!({"type": "keyUp", "key": "Backspace", "code": "Backspace",
                           "windowsVirtualKeyCode": 8}),
    );
    frames(&mut b);
    assert_eq!(rows_shown(&mut b), rows.len() as u64);
    b.click("#thead [data-col=\"0\"]");
    assert_eq!(visible_rows(&mut b)[0][0], "1");

    // A click on a row draws its ladder, with that connection's states; its link selects it.
    for conn in [1u64, 6, 8, 9, 10] {
        let text = open_ladder(&mut b, conn);
        assert_eq!(b.eval("location.hash"), format!("#conn-{conn}"));
        assert_eq!(
            b.eval("document.querySelectorAll('#ladder-svg svg').length"),
            1
        );
        assert_eq!(
            state_names(&text),
            jsonl_states(&jsonl, conn),
            "conn {conn}'s ladder: {text}"
        );
    }
    // Past the first 1,000, a plainly closed connection carries no ladder, and says so.
    let text = open_ladder(&mut b, 1101);
    assert!(text.contains("not in the page"), "{text}");
    assert!(b
        .eval("document.getElementById('ladder-rule').textContent")
        .as_str()
        .unwrap()
        .starts_with("Only "));
    // …but a refused one past them does.
    let text = open_ladder(&mut b, 1108);
    assert_eq!(state_names(&text), jsonl_states(&jsonl, 1108));

    // A link opens the page with its connection drawn (from another page: a new fragment on
    // the same page is no new load).
    b.navigate("about:blank");
    b.navigate(&format!("{url}#conn-7"));
    assert_eq!(
        b.eval("document.getElementById('ladder-svg').dataset.conn"),
        "7"
    );
    let text = ladder_text(&mut b);
    assert_eq!(state_names(&text), jsonl_states(&jsonl, 7));
    assert!(b.eval("document.querySelector('#rows .row.sel[data-conn=\"7\"]') !== null") == true);

    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Chromium's load time and a sort by duration on a report made beforehand:
/// `SYNFIN_REPORT_PAGE=/tmp/report.html cargo test --test report_browser -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_timings_on_a_large_page() {
    let Ok(page) = std::env::var("SYNFIN_REPORT_PAGE") else {
        panic!("set SYNFIN_REPORT_PAGE to a report made with synfin replay … -o report.html");
    };
    let page = Path::new(&page).canonicalize().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Browser::start(dir.path(), 1400, 1000);
    let t = std::time::Instant::now();
    b.navigate(&format!("file://{}", page.display()));
    let load = t.elapsed();
    let timings = b.eval("window.synfinTimings");
    let rows = rows_shown(&mut b);
    let t = std::time::Instant::now();
    b.click("#thead [data-col=\"4\"]");
    b.eval("new Promise(r => requestAnimationFrame(r))");
    let sort = t.elapsed();
    let sorted = b.eval("window.synfinTimings.sort_ms");
    b.click("#filter");
    let t = std::time::Instant::now();
    b.type_text("refused");
    b.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))");
    let filter = t.elapsed();
    println!(
        "rows {rows}; navigate→load event {load:?} (page script: {timings}); \
         sort by duration: {sort:?} round trip, {sorted} ms in the page; \
         filter 'refused': {filter:?} round trip, {} rows",
        rows_shown(&mut b)
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}
