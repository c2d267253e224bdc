//! `--format mermaid`: a `sequenceDiagram` per connection, as GitHub renders it: the rows of
//! the layout (`layout`), an arrow per segment, `Note over` lines for states, calls, why
//! lines and elided segments, in the ladder's words.
//!
//! A Mermaid file holds one diagram, so several connections are written as a Markdown
//! document (a heading and a fenced `mermaid` block per connection, which GitHub and most
//! Markdown viewers draw), or one `.mmd` file per connection (`-o DIR/`), or, for `-o x.mmd`,
//! a single diagram (a second connection is an error).

use super::group::{ConnGroup, GroupRenderer};
use super::layout::{elided_text, segment_text, states_text, travel_mark, Layout, RowKind};
use super::{call_text, RenderOpts};
use crate::events::{ConnId, ConnectionEvent, Dir, Meta, Summary};
use std::io::{self, Write};

/// Opens the writer for one connection's diagram (`-o DIR/`: `DIR/conn-N.mmd`).
pub type OpenDiagram = Box<dyn FnMut(ConnId) -> io::Result<Box<dyn Write>>>;

/// Where the diagrams go.
pub enum MermaidTarget {
    /// One Markdown document: a heading and a fenced block per connection.
    Markdown,
    /// One bare diagram; a second connection is an error.
    Single,
    /// One bare diagram per connection, each to the writer this opens.
    Files(OpenDiagram),
}

/// Mermaid output.
pub struct MermaidRenderer {
    opts: RenderOpts,
    target: MermaidTarget,
    written: u64,
    /// The one diagram of a `.mmd` file, until the input has ended.
    single: Option<Vec<u8>>,
}

impl MermaidRenderer {
    /// A Mermaid renderer writing to `target`.
    pub fn new(opts: RenderOpts, target: MermaidTarget) -> Self {
        MermaidRenderer {
            opts,
            target,
            written: 0,
            single: None,
        }
    }

    /// The `sequenceDiagram` of one connection.
    fn diagram(&self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        let v = &g.verdict;
        writeln!(out, "sequenceDiagram")?;
        let lay = Layout::new(g, self.opts.max_segments);
        let [l, r] = &lay.sides;
        writeln!(out, "    participant C as {} ({})", l.endpoint, l.role)?;
        writeln!(out, "    participant S as {} ({})", r.endpoint, r.role)?;
        const WHO: [&str; 2] = ["C", "S"];
        for row in &lay.rows {
            match row.kind {
                RowKind::Segment(s) => {
                    // A lost copy ends in a cross (`-x`); a crossed one says so.
                    let arrow = match (s.dir, row.travel.lost.is_some()) {
                        (Dir::C2s, false) => "C->>S",
                        (Dir::S2c, false) => "S->>C",
                        (Dir::C2s, true) => "C-xS",
                        (Dir::S2c, true) => "S-xC",
                    };
                    let ms = s.t.since(v.start) as f64 / 1e6;
                    let mark = travel_mark(&row.travel)
                        .map(|m| format!(" {m}"))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "    {arrow}: {}{mark} (+{ms:.3} ms)",
                        clean(&segment_text(s, self.opts.payload))
                    )?;
                }
                RowKind::Call { side, call } => {
                    writeln!(
                        out,
                        "    Note over {}: {}",
                        WHO[side],
                        clean(&call_text(call))
                    )?;
                }
                RowKind::Elided { segments, .. } => {
                    writeln!(out, "    Note over C,S: {}", elided_text(segments))?;
                }
                RowKind::Start | RowKind::States => {}
            }
            for (side, states) in row.states.iter().enumerate() {
                if !states.is_empty() {
                    writeln!(out, "    Note over {}: {}", WHO[side], states_text(states))?;
                }
            }
            for why in &row.why {
                writeln!(out, "    Note over C,S: {}", clean(&why.text))?;
            }
        }
        Ok(())
    }
}

/// Mermaid text must not contain `;`, `#` or line breaks (they end or escape statements).
fn clean(s: &str) -> String {
    crate::text::printable(s)
        .chars()
        .map(|c| match c {
            ';' | '#' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// `conn 1: 127.0.0.1:41509 → 127.0.0.9:8888 · closed · SF · history ShADadFf`.
fn title(v: &ConnectionEvent) -> String {
    format!(
        "conn {}: {} → {} · {} · {} · history {}",
        v.conn,
        v.client,
        v.server,
        v.outcome.as_str(),
        v.conn_state,
        v.history
    )
}

impl GroupRenderer for MermaidRenderer {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        if let MermaidTarget::Markdown = self.target {
            writeln!(out, "# synfin {}: {}\n", meta.source, clean(&meta.input))?;
        }
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        self.written += 1;
        let v = &g.verdict;
        match &mut self.target {
            MermaidTarget::Markdown => {
                writeln!(out, "## {}\n", clean(&title(v)))?;
                writeln!(out, "```mermaid")?;
                self.diagram(g, out)?;
                writeln!(out, "```\n")
            }
            MermaidTarget::Single if self.written > 1 => Err(io::Error::other(
                "a .mmd file holds one diagram and the input has more connections: \
                 write Markdown (-o FILE.md) or one file per connection (-o DIR/)",
            )),
            // Kept until the end: a file that cannot hold the input is left empty.
            MermaidTarget::Single => {
                let mut buf = Vec::new();
                writeln!(buf, "%% {}", clean(&title(v)))?;
                self.diagram(g, &mut buf)?;
                self.single = Some(buf);
                Ok(())
            }
            MermaidTarget::Files(open) => {
                let mut file = open(v.conn)?;
                writeln!(file, "%% {}", clean(&title(v)))?;
                self.diagram(g, &mut file)?;
                file.flush()
            }
        }
    }

    fn finish(&mut self, _s: &Summary, out: &mut dyn Write) -> io::Result<()> {
        match (&self.target, self.single.take()) {
            (MermaidTarget::Single, Some(diagram)) => out.write_all(&diagram),
            (MermaidTarget::Single, None) => Err(io::Error::other(
                "no connection to draw: a .mmd file holds one diagram",
            )),
            _ => Ok(()),
        }
    }
}
