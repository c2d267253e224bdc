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
//! from them once the document is parsed. Nothing per connection stays in memory.
//!
//! Which connections carry their ladder ([`LadderChoice`]): every one in a small capture;
//! in a large one the first [`FIRST_LADDERS`], then the first [`PER_CLASS`] of each kind of
//! trouble (each outcome but `closed`, and closed ones with each kind of anomaly), within
//! [`LADDER_BYTES`] in all. The page says which rule applied. A drawing keeps at most
//! [`LADDER_SEGMENTS`] segments unless `--max-segments` says otherwise.
//!
//! Pure: no clock, no environment.

pub mod row;
pub mod totals;

use super::group::{ConnGroup, GroupRenderer};
use super::svg::write_connection_svg;
use super::RenderOpts;
use crate::events::{Meta, Outcome, Summary, TcpState};
use crate::timestamp::Timestamp;
use serde::Serialize;
use std::io::{self, Write};
use totals::Totals;

/// The connections that always carry their ladder: the first ones.
pub const FIRST_LADDERS: u64 = 1000;
/// Past those, ladders for the first this many connections of each kind of trouble.
pub const PER_CLASS: u64 = 200;
/// All ladders together stay within this many bytes.
pub const LADDER_BYTES: u64 = 32 << 20;
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
}

impl LadderChoice {
    fn new() -> Self {
        LadderChoice {
            first: FIRST_LADDERS,
            per_class_limit: PER_CLASS,
            byte_limit: LADDER_BYTES,
            ..LadderChoice::default()
        }
    }

    /// The kind of trouble of a connection: its outcome but `closed`, else the lowest kind
    /// of anomaly it has (offset by the outcomes), else none.
    fn class(g: &ConnGroup) -> Option<usize> {
        let v = &g.verdict;
        if v.outcome != Outcome::Closed {
            return Outcome::ALL.iter().position(|o| *o == v.outcome);
        }
        let k = row::kinds(g);
        (k != 0).then(|| Outcome::ALL.len() + k.trailing_zeros() as usize)
    }

    /// Does `g` get its ladder?
    fn wants(&mut self, g: &ConnGroup) -> bool {
        self.seen += 1;
        let yes = self.bytes < LADDER_BYTES
            && (self.seen <= FIRST_LADDERS
                || Self::class(g).is_some_and(|c| {
                    let n = &mut self.per_class[c];
                    *n += 1;
                    *n <= PER_CLASS
                }));
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
    /// The first connection's start, µs since 1970 (the rows' `start` counts from it).
    t0_us: i64,
    /// State names by index.
    states: Vec<&'static str>,
    /// Anomaly kinds by bit.
    kinds: Vec<&'static str>,
    totals: &'a Totals,
    ladders: &'a LadderChoice,
}

/// Writes the report page as the connections come.
pub struct ReportRenderer {
    opts: RenderOpts,
    title: String,
    input: String,
    t0: Option<Timestamp>,
    chunk: String,
    totals: Totals,
    ladders: LadderChoice,
    svg: Vec<u8>,
}

impl ReportRenderer {
    /// A report with `opts` (its ladders are drawn as `--format svg` draws).
    pub fn new(mut opts: RenderOpts) -> Self {
        opts.max_segments = opts.max_segments.or(Some(LADDER_SEGMENTS));
        ReportRenderer {
            opts,
            title: String::new(),
            input: String::new(),
            t0: None,
            chunk: String::new(),
            totals: Totals::new(),
            ladders: LadderChoice::new(),
            svg: Vec::new(),
        }
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
}

/// JSON for inside a `<script>` element: `<` (only ever inside strings) as `\u003c`, so no
/// text of the input (a file name) can end the element.
fn script_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .expect("plain data serializes")
        .replace('<', "\\u003c")
}

impl GroupRenderer for ReportRenderer {
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

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        let t0 = *self.t0.get_or_insert(g.verdict.start);
        self.totals.add(g);
        let ladder = self.ladders.wants(g);
        if ladder {
            self.svg.clear();
            let title = format!("conn {}", g.verdict.conn);
            write_connection_svg(g, &self.opts, &title, &mut self.svg)?;
            // The SVG escapes every `<` of its text: its only `</` are its own end tags.
            write!(
                out,
                "<script type=\"image/svg+xml\" id=\"l{}\">",
                g.verdict.conn
            )?;
            out.write_all(&self.svg)?;
            out.write_all(b"</script>\n")?;
            self.ladders.kept += 1;
            self.ladders.bytes += self.svg.len() as u64;
        }
        row::push_row(&mut self.chunk, g, t0, ladder);
        if self.chunk.len() >= CHUNK {
            self.flush_rows(out)?;
        }
        Ok(())
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
