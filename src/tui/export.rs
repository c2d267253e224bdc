//! The selected connection, drawn by the existing renderers: the ladder as text (also what
//! the ladder screen shows), SVG and Mermaid as files' bytes. The frames for a pcap are the
//! caller's to write (`capture` does files).

use super::conn::ConnEntry;
use super::keys::ExportKind;
use super::model::Model;
use crate::events::Summary;
use crate::frame::OwnedFrame;
use crate::render::group::GroupRenderer;
use crate::render::mermaid::{MermaidRenderer, MermaidTarget};
use crate::render::svg::SvgRenderer;
use crate::render::RenderOpts;
use std::io;

/// The ladder of `c` as the ladder renderer draws it, `width` columns wide, in lines.
pub fn ladder_lines(c: &ConnEntry, opts: &RenderOpts, width: usize) -> Vec<String> {
    let Some(g) = c.group() else {
        return vec![format!("conn {}: no segment yet", c.id)];
    };
    let o = RenderOpts {
        width: width.max(40),
        ..*opts
    };
    let mut out = Vec::new();
    // Writing to memory does not fail.
    let _ = crate::render::ladder::render_connection(&g, &o, &mut out);
    let text = String::from_utf8_lossy(&out);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if c.events.dropped > 0 {
        lines.insert(
            1,
            format!(
                "({} events of its middle not kept: the view keeps the first and last {})",
                c.events.dropped,
                super::conn::EVENTS_KEPT
            ),
        );
    }
    lines
}

/// What an export writes.
pub enum Exported<'a> {
    /// Bytes for a file.
    Bytes(Vec<u8>),
    /// Frames for a pcap file (the first and the last kept, cut to a snap length), and how
    /// many of its frames were not kept.
    Frames(Vec<&'a OwnedFrame>, u64),
}

impl Model {
    /// The selected connection as `kind`, with the file name to suggest, or why not.
    pub fn export(&self, kind: ExportKind) -> Result<(String, Exported<'_>), String> {
        let c = self.selected_conn().ok_or("no connection selected")?;
        let name = format!("synfin-conn-{}.{}", c.id, kind.extension());
        let plain = RenderOpts {
            color: false,
            ..self.opts
        };
        let g = c.group().ok_or("the connection has no segment yet")?;
        let bytes = |r: &mut dyn GroupRenderer| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            r.start(&self.meta, &mut out)?;
            r.connection(&g, &mut out)?;
            r.finish(&Summary::default(), &mut out)?;
            Ok(out)
        };
        let out = match kind {
            ExportKind::Ladder => {
                let mut out = Vec::new();
                crate::render::ladder::render_connection(&g, &plain, &mut out).map(|_| out)
            }
            ExportKind::Svg => bytes(&mut SvgRenderer::svg(plain)),
            ExportKind::Mermaid => bytes(&mut MermaidRenderer::new(plain, MermaidTarget::Single)),
            ExportKind::Pcap => {
                if c.frames.is_empty() {
                    return Err("no frames kept for this connection".into());
                }
                return Ok((
                    name,
                    Exported::Frames(c.frames.iter().collect(), c.frames.dropped),
                ));
            }
        };
        out.map(|b| (name, Exported::Bytes(b)))
            .map_err(|e| e.to_string())
    }
}
