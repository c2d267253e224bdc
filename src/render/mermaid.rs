//! `--format mermaid`: a `sequenceDiagram` per connection, with `Note over` lines for states
//! and calls, as GitHub renders it.

use super::group::{ConnGroup, GroupRenderer};
use super::ladder::segment_label;
use super::RenderOpts;
use crate::events::{Dir, Event, Meta, Summary};
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
        let [cr, sr] = super::role_names(v);
        writeln!(out, "    participant C as {} ({cr})", v.client)?;
        writeln!(out, "    participant S as {} ({sr})", v.server)?;
        for e in &g.events {
            match e {
                Event::Segment(s) => {
                    let arrow = match s.dir {
                        Dir::C2s => "C->>S",
                        Dir::S2c => "S->>C",
                    };
                    let ms = s.t.since(v.start) as f64 / 1e6;
                    writeln!(
                        out,
                        "    {arrow}: {} (+{ms:.3} ms)",
                        clean(&segment_label(s, self.opts.payload))
                    )?;
                }
                Event::State(st) => {
                    let who = if st.endpoint == v.client { "C" } else { "S" };
                    writeln!(out, "    Note over {who}: {}", st.to)?;
                }
                Event::Call(c) => {
                    let who = if c.endpoint == v.client { "C" } else { "S" };
                    let r = c
                        .result
                        .map(|r| format!(" → {}", clean(&r.as_text())))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "    Note over {who}: {}() {:?}{r}",
                        c.call.as_str(),
                        c.phase
                    )?;
                }
                Event::Anomaly(a) => {
                    writeln!(
                        out,
                        "    Note over C,S: {}: {}",
                        a.kind.as_str(),
                        clean(&a.detail)
                    )?;
                }
                Event::Connection(_) => {}
            }
        }
        writeln!(out)
    }

    fn finish(&mut self, _s: &Summary, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}
