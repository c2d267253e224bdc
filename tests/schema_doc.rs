//! docs/SCHEMA.md is what synfin emits. The document's tables (one `### record: NAME` or
//! `### object: NAME` heading each; columns field | type | present | values | meaning) are
//! parsed and checked against
//! - the JSON Lines of the binary replaying every capture in `captures/` (and two runs that
//!   force an eviction and timer-driven TIME_WAIT ends), and
//! - lines the library's JSONL renderer writes for every variant of every enum in the schema;
//!
//! every key must be documented for its record (or object), every `always` key present, every
//! value of a field with a values list in that list (`<n>`: a decimal number), and every listed
//! value produced by some line, so the document can neither miss nor invent one.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use synfin::events::{
    AnomalyEvent, AnomalyKind, CallEvent, CallName, CallResult, CallSource, ConnState,
    ConnectionEvent, Dir, Endpoint, Errno, Event, FinalStates, Initiator, Meta, Note, Outcome,
    Owner, Phase, Role, SegmentEvent, StateEvent, StateSource, Summary, TcpState,
};
use synfin::frame::LinkType;
use synfin::render::jsonl::JsonlRenderer;
use synfin::render::Renderer;
use synfin::segment::{PayloadPrefix, TcpFlags, TcpOptions};
use synfin::timestamp::Timestamp;

#[derive(Debug, Clone)]
struct Field {
    always: bool,
    /// Allowed values (`<n>` matches a decimal number); empty: free-form.
    values: Vec<String>,
}

/// `record:segment`, `object:options`, … → field name → its row.
type Tables = BTreeMap<String, BTreeMap<String, Field>>;

/// The text between each pair of backticks.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn parse_doc(text: &str) -> Tables {
    let mut tables = Tables::new();
    let mut current: Option<String> = None;
    for (no, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            current = line
                .strip_prefix("### ")
                .and_then(|h| h.split_once(": "))
                .filter(|(kind, _)| *kind == "record" || *kind == "object")
                .map(|(kind, name)| format!("{kind}:{}", name.trim()));
            if let Some(c) = &current {
                assert!(
                    tables.insert(c.clone(), BTreeMap::new()).is_none(),
                    "docs/SCHEMA.md:{}: {c} twice",
                    no + 1
                );
            }
            continue;
        }
        let (Some(table), true) = (&current, line.starts_with('|')) else {
            continue;
        };
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells[0] == "field" || cells[0].starts_with("---") {
            continue;
        }
        assert!(
            cells.len() >= 5,
            "docs/SCHEMA.md:{}: a table row needs field | type | present | values | meaning",
            no + 1
        );
        let name = code_spans(cells[0]).into_iter().next().unwrap_or_else(|| {
            panic!(
                "docs/SCHEMA.md:{}: the field name must be in backticks",
                no + 1
            )
        });
        let field = Field {
            always: cells[2].starts_with("always"),
            values: code_spans(cells[3]),
        };
        let fields = tables.get_mut(table).expect("inserted at its heading");
        assert!(
            fields.insert(name.clone(), field).is_none(),
            "docs/SCHEMA.md:{}: {table}: `{name}` twice",
            no + 1
        );
    }
    tables
}

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.split_once("<n>") {
        None => pattern == value,
        Some((pre, post)) => {
            value.len() > pre.len() + post.len() && {
                let mid = value
                    .strip_prefix(pre)
                    .and_then(|v| v.strip_suffix(post))
                    .unwrap_or("");
                !mid.is_empty() && mid.bytes().all(|b| b.is_ascii_digit())
            }
        }
    }
}

/// The scalars a values list constrains: the value itself, an array's elements, an object's
/// values.
fn scalars(v: &Value) -> Vec<String> {
    fn one(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some("null".into()),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
    match v {
        Value::Array(a) => a.iter().filter_map(one).collect(),
        Value::Object(o) => o.values().filter_map(one).collect(),
        _ => one(v).into_iter().collect(),
    }
}

/// What the lines showed.
#[derive(Default)]
struct Report {
    /// Each problem once, with the first line that showed it ("" when no line did).
    errors: BTreeMap<String, String>,
    /// (table, field, pattern) met by some value.
    seen: BTreeSet<(String, String, String)>,
}

impl Report {
    fn error(&mut self, msg: String, line: &str) {
        self.errors.entry(msg).or_insert_with(|| line.to_string());
    }
}

fn check_object(
    tables: &Tables,
    table: &str,
    obj: &serde_json::Map<String, Value>,
    line: &str,
    r: &mut Report,
) {
    let Some(fields) = tables.get(table) else {
        r.error(format!("{table} is not documented"), line);
        return;
    };
    for (name, f) in fields {
        if f.always && !obj.contains_key(name) {
            r.error(
                format!("{table}: `{name}` is documented `always` but missing"),
                line,
            );
        }
    }
    for (key, v) in obj {
        let Some(f) = fields.get(key) else {
            r.error(format!("{table}: key `{key}` is not documented"), line);
            continue;
        };
        if !f.values.is_empty() {
            for s in scalars(v) {
                match f.values.iter().find(|p| matches(p, &s)) {
                    Some(p) => {
                        r.seen.insert((table.into(), key.clone(), p.clone()));
                    }
                    None => r.error(
                        format!("{table}: `{key}` value `{s}` is not among the documented values"),
                        line,
                    ),
                }
            }
        }
        if let Value::Object(inner) = v {
            let sub = format!("object:{key}");
            if tables.contains_key(&sub) {
                check_object(tables, &sub, inner, line, r);
            }
        }
    }
}

/// Check every line; then every documented value must have been met. Problem → first line.
fn check(tables: &Tables, lines: &[String]) -> BTreeMap<String, String> {
    let mut r = Report::default();
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let Value::Object(obj) = &v else {
            r.error("not an object".into(), line);
            continue;
        };
        let Some(ty) = obj.get("type").and_then(Value::as_str) else {
            r.error("no \"type\"".into(), line);
            continue;
        };
        check_object(tables, &format!("record:{ty}"), obj, line, &mut r);
    }
    for (table, fields) in tables {
        for (name, f) in fields {
            for p in &f.values {
                if !r.seen.contains(&(table.clone(), name.clone(), p.clone())) {
                    r.error(
                        format!("{table}: `{name}` value `{p}` is documented but no line has it"),
                        "",
                    );
                }
            }
        }
    }
    r.errors
}

fn doc() -> Tables {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SCHEMA.md");
    let text = std::fs::read_to_string(&path).expect("docs/SCHEMA.md");
    let t = parse_doc(&text);
    for r in [
        "meta",
        "segment",
        "state",
        "call",
        "anomaly",
        "connection",
        "summary",
    ] {
        assert!(
            t.contains_key(&format!("record:{r}")),
            "docs/SCHEMA.md has no `### record: {r}` table"
        );
    }
    t
}

/// `synfin replay ARGS --format jsonl`, line by line.
fn replay(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("replay")
        .args(args)
        .args(["--format", "jsonl"])
        .output()
        .expect("run synfin");
    assert!(out.status.success(), "synfin replay {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

fn captured_lines() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("captures/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "captures/ holds {files:?}");
    let mut lines = Vec::new();
    for f in &files {
        lines.extend(replay(&[&format!("captures/{f}")]));
    }
    // Evictions (no frame), and TIME_WAIT ends by timer within the input (no frame).
    lines.extend(replay(&["captures/backlog.pcap", "--max-connections", "1"]));
    lines.extend(replay(&["captures/loop.pcap", "--time-wait", "0.000001"]));
    lines
}

// Every variant of every enum the schema prints. Each list is followed by a `match` without a
// wildcard, so a new variant does not compile until it is listed (and then documented).

fn notes() -> Vec<Note> {
    use Note::*;
    let all = vec![
        Retransmission,
        OutOfOrder,
        Duplicate,
        AfterClose,
        RstOutOfWindow,
    ];
    for n in &all {
        match n {
            Retransmission | OutOfOrder | Duplicate | AfterClose | RstOutOfWindow => {}
        }
    }
    all
}

fn anomaly_kinds() -> Vec<AnomalyKind> {
    use AnomalyKind::*;
    let all = vec![
        Retransmission,
        OutOfOrder,
        Midstream,
        RstOutOfWindow,
        IllegalTransition,
        TruncatedFrame,
        Duplicate,
        Evicted,
    ];
    for k in &all {
        match k {
            Retransmission | OutOfOrder | Midstream | RstOutOfWindow | IllegalTransition
            | TruncatedFrame | Duplicate | Evicted => {}
        }
    }
    all
}

fn call_names() -> Vec<CallName> {
    use CallName::*;
    let all = vec![Bind, Listen, Connect, Accept, Send, Recv, Shutdown, Close];
    for c in &all {
        match c {
            Bind | Listen | Connect | Accept | Send | Recv | Shutdown | Close => {}
        }
    }
    all
}

fn call_results() -> Vec<CallResult> {
    use CallResult as R;
    let mut all = vec![
        R::Ok,
        R::OkShutWr,
        R::OkShutRd,
        R::OkShutRdWr,
        R::Listening {
            reuse: true,
            backlog: 5,
        },
        R::Listening {
            reuse: false,
            backlog: 128,
        },
        R::Bytes(0),
        R::Bytes(1460),
        R::FinSent,
        R::ShutWrSent,
        R::RstSent,
        R::Killed,
    ];
    all.extend(
        [
            Errno::ECONNREFUSED,
            Errno::ECONNRESET,
            Errno::EADDRINUSE,
            Errno::EAGAIN,
            Errno::ETIMEDOUT,
            Errno::EPIPE,
            Errno::ENOTCONN,
            Errno::EINPROGRESS,
            Errno(71),
        ]
        .map(R::Errno),
    );
    for r in &all {
        match r {
            R::Ok
            | R::OkShutWr
            | R::OkShutRd
            | R::OkShutRdWr
            | R::Listening { .. }
            | R::Bytes(_)
            | R::Errno(_)
            | R::FinSent
            | R::ShutWrSent
            | R::RstSent
            | R::Killed => {}
        }
    }
    all
}

fn conn_states() -> Vec<ConnState> {
    use ConnState::*;
    let all = vec![
        S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH,
    ];
    for c in &all {
        match c {
            S0 | S1 | SF | REJ | S2 | S3 | RSTO | RSTR | RSTOS0 | RSTRH | SH | SHR | OTH => {}
        }
    }
    all
}

fn initiators() -> Vec<Option<Initiator>> {
    use Initiator::*;
    let all = vec![Some(Client), Some(Server), Some(Both), None];
    for i in all.iter().flatten() {
        match i {
            Client | Server | Both => {}
        }
    }
    all
}

fn ep(s: &str) -> Endpoint {
    Endpoint::new(s.parse::<SocketAddr>().expect("address"))
}

/// Lines the library's JSONL renderer writes for every variant.
fn synthetic_lines() -> Vec<String> {
    let t = Timestamp::from_secs_nanos(1_764_072_000, 123_456_789);
    let (c, s) = (ep("127.0.0.1:54321"), ep("[::1]:8888"));
    let mut events = Vec::new();
    let segment = |flags: u16, options: TcpOptions, notes: Vec<Note>, dir: Dir| {
        Event::Segment(SegmentEvent {
            frame: 1,
            t,
            conn: 1,
            src: c,
            dst: s,
            dir,
            flags: TcpFlags(flags),
            seq: 0,
            ack: 1,
            seq_raw: 7,
            ack_raw: 8,
            len: 0,
            win: 65535,
            options,
            notes: notes.into_iter().collect(),
            payload: PayloadPrefix::default(),
        })
    };
    let all_options = TcpOptions {
        mss: Some(1460),
        wscale: Some(7),
        sack_perm: true,
        ts: Some((1, 0)),
    };
    events.push(segment(0x1ff, all_options, notes(), Dir::C2s));
    events.push(segment(0, TcpOptions::default(), vec![], Dir::S2c));
    for (i, st) in TcpState::ALL.into_iter().enumerate() {
        events.push(Event::State(StateEvent {
            t,
            conn: 1,
            endpoint: c,
            role: if i % 2 == 0 {
                Role::Client
            } else {
                Role::Server
            },
            from: st,
            to: st,
            frame: (i % 2 == 0).then_some(3),
            projected: i == 0,
            source: if i == 1 {
                StateSource::Kernel
            } else {
                StateSource::Inferred
            },
        }));
    }
    for name in call_names() {
        for (phase, source) in [
            (Phase::Enter, CallSource::Observed),
            (Phase::Return, CallSource::Inferred),
        ] {
            events.push(Event::Call(CallEvent {
                t,
                conn: 0,
                endpoint: s,
                call: name,
                phase,
                result: None,
                source,
                owner: (phase == Phase::Enter).then(|| Owner {
                    pid: 4242,
                    tid: 4243,
                    comm: "python3".into(),
                }),
            }));
        }
    }
    for result in call_results() {
        events.push(Event::Call(CallEvent {
            t,
            conn: 1,
            endpoint: c,
            call: CallName::Close,
            phase: Phase::Return,
            result: Some(result),
            source: CallSource::Observed,
            owner: None,
        }));
    }
    for (i, kind) in anomaly_kinds().into_iter().enumerate() {
        events.push(Event::Anomaly(AnomalyEvent {
            t,
            conn: 1,
            frame: (i % 2 == 0).then_some(4),
            kind,
            detail: "a sentence".into(),
        }));
    }
    let cs = conn_states();
    let inits = initiators();
    for (i, conn_state) in cs.iter().enumerate() {
        let outcome = Outcome::ALL[i % Outcome::ALL.len()];
        events.push(Event::Connection(Box::new(ConnectionEvent {
            conn: 1,
            client: c,
            server: s,
            start: t,
            end: t,
            handshake_rtt_ms: (i % 2 == 0).then_some(0.057),
            packets: [6, 4],
            bytes: [5, 5],
            history: "ShADadFf".into(),
            conn_state: *conn_state,
            outcome,
            close_initiator: inits[i % inits.len()],
            final_states: FinalStates(
                TcpState::ALL
                    .into_iter()
                    .skip(i % TcpState::ALL.len())
                    .take(2)
                    .zip([c, s])
                    .map(|(st, e)| (e, st))
                    .collect(),
            ),
            time_wait_since: None,
            time_wait_until: None,
            anomalies: 0,
            retransmissions: 0,
            resets: 0,
            states_entered: 0,
            server_listened: false,
            roles_guessed: false,
            simultaneous_open: false,
            zeek_endpoints: [("TCP_CLOSED", 0); 2],
        })));
    }
    // The state lists hold 12 values and there are 13 ConnStates: every final state is met.
    assert!(cs.len() + 1 >= TcpState::ALL.len());

    let mut links: Vec<LinkType> = LinkType::SUPPORTED.to_vec();
    links.push(LinkType(147));
    let mut out = Vec::new();
    for (i, link) in links.into_iter().enumerate() {
        let mut r = JsonlRenderer::default();
        let meta = Meta {
            schema: 1,
            tool: "synfin",
            version: env!("CARGO_PKG_VERSION"),
            source: ["replay", "watch", "demo"][i % 3],
            input: "x.pcap".into(),
            linktype: link.name(),
        };
        r.start(&meta, &mut out).expect("write");
        if i == 0 {
            for e in &events {
                r.event(e, &mut out).expect("write");
            }
        }
        let summary = Summary {
            errors: vec!["the kernel dropped 3 frames".into()],
            ..Summary::default()
        };
        r.finish(&summary, &mut out).expect("write");
    }
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_schema_document_describes_what_synfin_emits() {
    let tables = doc();
    let mut lines = captured_lines();
    lines.extend(synthetic_lines());
    let errors = check(&tables, &lines);
    let text: Vec<String> = errors
        .iter()
        .map(|(msg, line)| match line.as_str() {
            "" => msg.clone(),
            l => format!("{msg}\n    first in: {l}"),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "docs/SCHEMA.md and synfin's JSON Lines disagree:\n{}",
        text.join("\n")
    );
}

#[test]
fn the_check_fails_on_an_undocumented_key_or_value() {
    let tables = doc();
    let lines = synthetic_lines();
    assert!(check(&tables, &lines).is_empty());

    let mut t = tables.clone();
    t.get_mut("record:segment").unwrap().remove("win");
    let e = check(&t, &lines);
    assert!(
        e.keys().any(|m| m.contains("`win` is not documented")),
        "{e:?}"
    );

    let mut t = tables.clone();
    let kinds = &mut t
        .get_mut("record:anomaly")
        .unwrap()
        .get_mut("kind")
        .unwrap()
        .values;
    kinds.retain(|k| k != "evicted");
    let e = check(&t, &lines);
    assert!(e.keys().any(|m| m.contains("value `evicted`")), "{e:?}");

    let mut t = tables.clone();
    t.get_mut("object:options").unwrap().remove("ts");
    let e = check(&t, &lines);
    assert!(
        e.keys().any(|m| m.contains("`ts` is not documented")),
        "{e:?}"
    );

    let mut t = tables;
    let to = &mut t
        .get_mut("record:state")
        .unwrap()
        .get_mut("to")
        .unwrap()
        .values;
    to.push("BOGUS".into());
    let e = check(&t, &lines);
    assert!(
        e.keys().any(|m| m.contains("`BOGUS` is documented")),
        "{e:?}"
    );
}

#[test]
fn value_patterns() {
    assert!(matches("<n> bytes", "5 bytes"));
    assert!(matches("LINKTYPE_<n>", "LINKTYPE_147"));
    assert!(!matches("<n> bytes", " bytes"));
    assert!(!matches("<n> bytes", "x bytes"));
    assert!(matches("ok", "ok"));
    assert!(!matches("ok", "ok (SHUT_WR)"));
}
