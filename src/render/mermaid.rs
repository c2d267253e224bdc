//! `--format mermaid`: a `sequenceDiagram` per connection, as GitHub renders it: the rows of
//! the layout (`layout`), an arrow per segment, `Note over` lines for states, calls, why
//! lines and elided segments, in the ladder's words.

use super::group::{ConnGroup, GroupRenderer};
use super::layout::{elided_text, segment_text, states_text, Layout, RowKind};
use super::{call_text, RenderOpts};
use crate::events::{Dir, Meta, Summary};
use std::io::{self, Write};

/// Mermaid output.
pub struct MermaidRenderer {
    opts: RenderOpts,
}

impl MermaidRenderer {
    /// A Mermaid renderer.
    pub fn new(opts: RenderOpts) -> Self {
        MermaidRenderer { opts }
    }
}

/// Mermaid text must not contain `;`, `#` or line breaks (they end or escape statements).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ';' | '#' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

impl GroupRenderer for MermaidRenderer {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn connection(&mut self, g: &ConnGroup, out: &mut dyn Write) -> io::Result<()> {
        let v = &g.verdict;
        writeln!(
            out,
            "%% conn {}: {} · {} · history {}",
            v.conn,
            v.outcome.as_str(),
            v.conn_state,
            v.history
        )?;
        writeln!(out, "sequenceDiagram")?;
        let lay = Layout::new(g, self.opts.max_segments);
        let [l, r] = &lay.sides;
        writeln!(out, "    participant C as {} ({})", l.endpoint, l.role)?;
        writeln!(out, "    participant S as {} ({})", r.endpoint, r.role)?;
        const WHO: [&str; 2] = ["C", "S"];
        for row in &lay.rows {
            match row.kind {
                RowKind::Segment(s) => {
                    let arrow = match s.dir {
                        Dir::C2s => "C->>S",
                        Dir::S2c => "S->>C",
                    };
                    let ms = s.t.since(v.start) as f64 / 1e6;
                    writeln!(
                        out,
                        "    {arrow}: {} (+{ms:.3} ms)",
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
        writeln!(out)
    }

    fn finish(&mut self, _s: &Summary, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
