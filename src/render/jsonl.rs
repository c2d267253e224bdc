//! `--format jsonl`: the JSON Lines schema of docs/SCHEMA.md, one object per line.

use super::Renderer;
use crate::events::{Event, Meta, Summary};
use serde::Serialize;
use std::io::{self, Write};

/// Writes every event as one JSON line.
#[derive(Default)]
pub struct JsonlRenderer {
    /// One line is built here, then written at once: serde_json makes many tiny writes,
    /// each a dynamic call through `dyn Write`.
    line: Vec<u8>,
    /// Where batches of lines are made when not here ([`JsonlRenderer::lines`] each).
    pieces: Option<Box<dyn super::Pieces<Vec<Event>>>>,
    batch: Vec<Event>,
}

/// `e`'s line, appended to `buf`: the frequent events written directly (`json_line`), the
/// others by serde.
fn event_line(buf: &mut Vec<u8>, e: &Event) -> io::Result<()> {
    if !super::json_line::write_event(buf, e) {
        serde_json::to_writer(&mut *buf, e).map_err(io::Error::other)?;
    }
    buf.push(b'\n');
    Ok(())
}

/// Events per batch handed to `pieces`.
pub const BATCH: usize = 1024;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Meta(&'a Meta),
    Summary(&'a Summary),
}

impl JsonlRenderer {
    /// Have the lines made by `pieces`, [`BATCH`] events at a time (for a file: lines wait
    /// for their batch, so not for a live view).
    pub fn with_pieces(pieces: Box<dyn super::Pieces<Vec<Event>>>) -> Self {
        JsonlRenderer {
            pieces: Some(pieces),
            batch: Vec::with_capacity(BATCH),
            ..Default::default()
        }
    }

    /// The lines of `events`, in order, appended to `buf`.
    pub fn lines(events: &[Event], buf: &mut Vec<u8>) -> io::Result<()> {
        for e in events {
            event_line(buf, e)?;
        }
        Ok(())
    }

    /// Hand the batch on.
    fn submit(&mut self, out: &mut dyn Write) -> io::Result<()> {
        super::submit_batch(&mut self.pieces, &mut self.batch, BATCH, out)
    }

    fn event_line(&mut self, out: &mut dyn Write, e: &Event) -> io::Result<()> {
        self.line.clear();
        event_line(&mut self.line, e)?;
        out.write_all(&self.line)
    }

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
        if self.pieces.is_some() {
            return self.event_owned(event.clone(), out);
        }
        self.event_line(out, event)
    }
    fn events_owned(&mut self, events: &mut Vec<Event>, out: &mut dyn Write) -> io::Result<()> {
        if self.pieces.is_none() {
            for e in events.drain(..) {
                self.event_line(out, &e)?;
            }
            return Ok(());
        }
        // Moved as one block, into room made for it: a batch without room for the run goes
        // first, short (the lines are the same whatever the batches).
        if self.batch.len() + events.len() > self.batch.capacity() {
            self.submit(out)?;
        }
        self.batch.append(events);
        if self.batch.len() >= BATCH {
            self.submit(out)?;
        }
        Ok(())
    }
    fn event_owned(&mut self, event: Event, out: &mut dyn Write) -> io::Result<()> {
        if self.pieces.is_none() {
            return self.event_line(out, &event);
        }
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.submit(out)?;
        }
        Ok(())
    }
    fn finish(&mut self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.submit(out)?;
        if let Some(p) = &mut self.pieces {
            p.drain(&mut super::write_to(out))?;
        }
        self.line(out, &Line::Summary(summary))
    }
}
