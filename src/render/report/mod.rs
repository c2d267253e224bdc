//! `--format report` (and `-o FILE.html`): one self-contained HTML page for a whole capture.
//! Totals and the outcome breakdown; a connection table that sorts and filters (only the
//! visible rows are in the DOM); a stacked chart of the sockets in each state over time,
//! per server address:port; the distributions of handshake RTT and duration; and a click on
//! a row draws that connection's ladder, the very SVG of `--format svg`, with a link
//! (`#conn-N`) that selects it. No network at view time: the styles and the script are
//! inline and hand-written (`page.css`, `page.js`).
//!
//! Written as it streams, in bounded memory: the page's shell first, then each connection's
//! line ([`row`]) as its verdict comes, in `<script type="text/plain" class="rows">` chunks,
//! each kept ladder as its own `<script type="image/svg+xml" id="lN">`, and last the totals
//! (`<script type="application/json" id="meta">`) and the script, which builds the page
//! from them once the document is parsed. It groups the events itself rather than through
//! [`super::group::Grouped`], which keeps every event of every open connection (with
//! thousands open at once, tens of MB): of an open connection it keeps only what its line
//! needs ([`row::Seen`]), and its whole events only while it may still get a ladder.
//!
//! Which connections carry their ladder ([`LadderChoice`]): every one in a small capture;
//! in a large one the first [`FIRST_LADDERS`], then the first [`PER_CLASS`] of each kind of
//! trouble (each outcome but `closed`, and closed ones with each kind of anomaly), within
//! [`LADDER_BYTES`] in all, and as long as the events waiting for their verdicts fit in
//! [`HELD_BYTES`] (a connection whose events do not is drawn without). The page
//! says which rule applied. A drawing keeps at most [`LADDER_SEGMENTS`] segments unless
//! `--max-segments` says otherwise. Rows come in the order the verdicts come (the table
//! sorts by id first).
//!
//! Pure: no clock, no environment.

pub mod held;
pub mod row;
pub mod totals;

use super::group::ConnGroup;
use super::svg::write_connection_svg;
use super::{RenderOpts, Renderer};
use crate::events::{ConnId, ConnectionEvent, Event, Meta, Outcome, Summary, TcpState};
use crate::filter::ConnFilter;
use crate::timestamp::Timestamp;
use held::Held;
use row::Seen;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};
use totals::Totals;

/// The connections that always carry their ladder: the first ones.
pub const FIRST_LADDERS: u64 = 1000;
/// Past those, ladders for the first this many connections of each kind of trouble.
pub const PER_CLASS: u64 = 200;
/// All ladders together stay within this many bytes.
pub const LADDER_BYTES: u64 = 32 << 20;
/// The events kept for ladders of connections not yet judged take at most this many bytes
/// (RST-ended connections are judged only once they stop lingering, so many wait at once).
pub const HELD_BYTES: usize = 8 << 20;
/// Segments drawn per ladder (the first and last halves) unless `--max-segments` is given.
pub const LADDER_SEGMENTS: usize = 200;
/// A chunk of rows is written once it holds this many bytes.
const CHUNK: usize = 1 << 16;

/// The page's shell, styles and script.
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");
const BODY: &str = include_str!("page.html");

/// Which connections carry their ladder, decided as they come.
#[derive(Debug, Default, Clone, Serialize)]
pub struct LadderChoice {
    /// Ladders written.
    pub kept: u64,
    /// Connections seen.
    pub seen: u64,
    /// Bytes of ladders written.
    pub bytes: u64,
    /// Ladders kept per class past the first ones (index: [`LadderChoice::class`]).
    #[serde(skip)]
    per_class: [u64; 16],
    /// Some connection went without its ladder.
    pub some_left_out: bool,
    /// The rule's numbers, for the page's sentence.
    pub first: u64,
    /// See [`PER_CLASS`].
    pub per_class_limit: u64,
    /// See [`LADDER_BYTES`].
    pub byte_limit: u64,
    /// See [`HELD_BYTES`].
    pub held_limit: u64,
    /// Connections the rule would have drawn whose events could not be kept (past
    /// [`HELD_BYTES`] waiting at once).
    pub not_held: u64,
}

impl LadderChoice {
    fn new() -> Self {
        LadderChoice {
            first: FIRST_LADDERS,
            per_class_limit: PER_CLASS,
            byte_limit: LADDER_BYTES,
            held_limit: HELD_BYTES as u64,
            ..LadderChoice::default()
        }
    }

    /// The kind of trouble of a connection: its outcome but `closed`, else the lowest kind
    /// of anomaly it has (offset by the outcomes), else none.
    fn class(v: &ConnectionEvent, seen: &Seen) -> Option<usize> {
        if v.outcome != Outcome::Closed {
            return Outcome::ALL.iter().position(|o| *o == v.outcome);
        }
        let k = seen.kinds();
        (k != 0).then(|| Outcome::ALL.len() + k.trailing_zeros() as usize)
    }

    /// Should a connection that starts now keep its events (any may turn out to be trouble)?
    fn may_want(&self, held_bytes: usize) -> bool {
        held_bytes < HELD_BYTES && self.bytes < LADDER_BYTES
    }

    /// Does a connection judged now get its ladder? `ordinal`: its place in order of first
    /// appearance; `held`: were its events kept.
    fn wants(&mut self, v: &ConnectionEvent, seen: &Seen, ordinal: u64, held: bool) -> bool {
        self.seen += 1;
        let class = Self::class(v, seen);
        let chosen = self.bytes < LADDER_BYTES
            && (ordinal <= FIRST_LADDERS || class.is_some_and(|c| self.per_class[c] < PER_CLASS));
        let yes = chosen && held;
        if yes && ordinal > FIRST_LADDERS {
            if let Some(c) = class {
                self.per_class[c] += 1;
            }
        }
        if chosen && !held {
            self.not_held += 1;
        }
        if !yes {
            self.some_left_out = true;
        }
        yes
    }
}

/// What the script needs besides the rows.
#[derive(Serialize)]
struct PageMeta<'a> {
    title: &'a str,
    input: &'a str,
    /// The first event's time, µs since 1970 (the rows' `start` counts from it).
    t0_us: i64,
    /// State names by index.
    states: Vec<&'static str>,
    /// Anomaly kinds by bit.
    kinds: Vec<&'static str>,
    totals: &'a Totals,
    ladders: &'a LadderChoice,
}

/// One open connection: what its line needs, and its events while it may get a ladder.
struct Open {
    /// Its place in order of first appearance (1-based).
    ordinal: u64,
    seen: Seen,
    events: Option<Held>,
}

/// Writes the report page as the connections come.
pub struct ReportRenderer {
    opts: RenderOpts,
    filter: ConnFilter,
    title: String,
    input: String,
    t0: Option<Timestamp>,
    open: HashMap<ConnId, Open>,
    /// The memory of the events kept ([`Held::bytes`]).
    held_bytes: usize,
    /// Connections met so far.
    met: u64,
    /// Ids judged, one bit each (their later events, such as TIME_WAIT's end, are ignored).
    judged: Vec<u64>,
    chunk: String,
    totals: Totals,
    ladders: LadderChoice,
    svg: Vec<u8>,
}

impl ReportRenderer {
    /// A report of the connections that pass `filter`, its ladders drawn with `opts` as
    /// `--format svg` draws them.
    pub fn new(mut opts: RenderOpts, filter: ConnFilter) -> Self {
        opts.max_segments = opts.max_segments.or(Some(LADDER_SEGMENTS));
        ReportRenderer {
            opts,
            filter,
            title: String::new(),
            input: String::new(),
            t0: None,
            open: HashMap::new(),
            held_bytes: 0,
            met: 0,
            judged: Vec::new(),
            chunk: String::new(),
            totals: Totals::new(),
            ladders: LadderChoice::new(),
            svg: Vec::new(),
        }
    }

    fn is_judged(&self, id: ConnId) -> bool {
        let i = (id / 64) as usize;
        self.judged
            .get(i)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_judged(&mut self, id: ConnId) {
        let i = (id / 64) as usize;
        if self.judged.len() <= i {
            self.judged.resize(i + 1, 0);
        }
        self.judged[i] |= 1 << (id % 64);
    }

    fn flush_rows(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        // Rows hold addresses, numbers and letters only: no `<` to end the element early.
        out.write_all(b"<script type=\"text/plain\" class=\"rows\">\n")?;
        out.write_all(self.chunk.as_bytes())?;
        out.write_all(b"</script>\n")?;
        self.chunk.clear();
        Ok(())
    }

    /// A connection's verdict: its line, and its ladder if it gets one.
    fn judge(&mut self, v: &ConnectionEvent, out: &mut dyn Write) -> io::Result<()> {
        self.set_judged(v.conn);
        let open = self.open.remove(&v.conn);
        let (ordinal, seen, events) = match open {
            Some(o) => {
                if let Some(h) = &o.events {
                    self.held_bytes -= h.bytes();
                }
                (o.ordinal, o.seen, o.events)
            }
            // A verdict with no event before it (ids not from this tracker).
            None => {
                self.met += 1;
                (self.met, Seen::default(), None)
            }
        };
        if !self.filter.matches(v) {
            return Ok(());
        }
        let t0 = *self.t0.get_or_insert(v.start);
        self.totals.add(v, &seen);
        let ladder = self
            .ladders
            .wants(v, &seen, ordinal, events.is_some())
            .then_some(events)
            .flatten();
        let drawn = ladder.is_some();
        if let Some(held) = ladder {
            let g = ConnGroup {
                events: held.into_events(),
                verdict: Box::new(v.clone()),
            };
            self.svg.clear();
            let title = format!("conn {}", v.conn);
            write_connection_svg(&g, &self.opts, &title, &mut self.svg)?;
            // The SVG escapes every `<` of its text: its only `</` are its own end tags.
            write!(out, "<script type=\"image/svg+xml\" id=\"l{}\">", v.conn)?;
            out.write_all(&self.svg)?;
            out.write_all(b"</script>\n")?;
            self.ladders.kept += 1;
            self.ladders.bytes += self.svg.len() as u64;
        }
        row::push_row(&mut self.chunk, v, &seen, t0, drawn);
        if self.chunk.len() >= CHUNK {
            self.flush_rows(out)?;
        }
        Ok(())
    }
}

/// JSON for inside a `<script>` element: `<` (only ever inside strings) as `\u003c`, so no
/// text of the input (a file name) can end the element.
fn script_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .expect("plain data serializes")
        .replace('<', "\\u003c")
}

impl Renderer for ReportRenderer {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.input = meta.input.clone();
        self.title = format!("synfin report: {}", meta.input);
        let title = super::svg::xml_escape(&self.title);
        write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width\">\n<title>{title}</title>\n\
             <style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n{BODY}"
        )
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        // Events come in time order: the first is the capture's start, as near as matters.
        self.t0.get_or_insert(event.t());
        match event {
            Event::Connection(v) => self.judge(v, out),
            // Calls on no connection (listen()) belong to no row.
            e if e.conn() == 0 => Ok(()),
            // After the verdict (TIME_WAIT's end: the verdict has it already).
            e if self.is_judged(e.conn()) => Ok(()),
            e => {
                if !self.open.contains_key(&e.conn()) {
                    self.met += 1;
                    let keep = self.ladders.may_want(self.held_bytes);
                    let o = Open {
                        ordinal: self.met,
                        seen: Seen::default(),
                        events: keep.then(Held::default),
                    };
                    self.open.insert(e.conn(), o);
                }
                let o = self.open.get_mut(&e.conn()).expect("inserted above");
                o.seen.add(e);
                if let Some(h) = &mut o.events {
                    let before = h.bytes();
                    h.push(e);
                    self.held_bytes += h.bytes() - before;
                    if self.held_bytes > HELD_BYTES {
                        // Past the budget, the growing one lets go (one long connection
                        // cannot take it all).
                        self.held_bytes -= h.bytes();
                        o.events = None;
                    }
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.flush_rows(out)?;
        self.totals.set_summary(summary);
        let t0_us = self.t0.map_or(0, |t| t.as_nanos().div_euclid(1_000));
        let meta = PageMeta {
            title: &self.title,
            input: &self.input,
            t0_us,
            states: TcpState::ALL.iter().map(|s| s.name()).collect(),
            kinds: row::ANOMALY_KINDS.iter().map(|k| k.as_str()).collect(),
            totals: &self.totals,
            ladders: &self.ladders,
        };
        writeln!(
            out,
            "<script type=\"application/json\" id=\"meta\">{}</script>",
            script_json(&meta)
        )?;
        write!(out, "<script>\n{JS}</script>\n</body>\n</html>\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_end_its_element() {
        let s = script_json(&"a</script><b>");
        assert!(!s.contains('<'), "{s}");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a</script><b>");
    }
}
