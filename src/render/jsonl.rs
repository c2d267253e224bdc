//! `--format jsonl`: the JSON Lines schema of docs/SCHEMA.md, one object per line.

use super::Renderer;
use crate::events::{Event, Meta, Summary};
use serde::Serialize;
use std::io::{self, Write};

/// Writes every event as one JSON line.
#[derive(Debug, Default)]
pub struct JsonlRenderer {
    /// One line is built here, then written at once: serde_json makes many tiny writes,
    /// each a dynamic call through `dyn Write`.
    line: Vec<u8>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Meta(&'a Meta),
    Summary(&'a Summary),
}

impl JsonlRenderer {
    fn line(&mut self, out: &mut dyn Write, v: &impl Serialize) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, v).map_err(io::Error::other)?;
        self.line.push(b'\n');
        out.write_all(&self.line)
    }
}

impl Renderer for JsonlRenderer {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        self.line(out, &Line::Meta(meta))
    }
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        self.line(out, event)
    }
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.line(out, &Line::Summary(summary))
    }
}
