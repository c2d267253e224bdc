//! `--format jsonl`: shared/SCHEMA.md exactly, one object per line.

use super::Renderer;
use crate::timeline::{Event, Meta, Summary};
use serde::Serialize;
use std::io::{self, Write};

/// Writes every event as one JSON line.
#[derive(Debug, Default)]
pub struct JsonlRenderer;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Meta(&'a Meta),
    Summary(&'a Summary),
}

fn line(out: &mut dyn Write, v: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

impl Renderer for JsonlRenderer {
    fn start(&mut self, meta: &Meta, out: &mut dyn Write) -> io::Result<()> {
        line(out, &Line::Meta(meta))
    }
    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        line(out, event)
    }
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        line(out, &Line::Summary(summary))
    }
}
