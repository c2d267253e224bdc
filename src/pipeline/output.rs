//! The output: `-o FILE` or stdout, its format, colour and width, and the renderer for it.

use crate::cli::{ColorChoice, Format, OutputArgs};
use crate::events::{Event, Meta, Summary};
use crate::filter::ConnFilter;
use crate::render::group::{FilteredJsonl, Grouped};
use crate::render::jsonl::JsonlRenderer;
use crate::render::mermaid::MermaidRenderer;
use crate::render::summary::StreamingSummary;
use crate::render::svg::SvgRenderer;
use crate::render::{RenderOpts, Renderer};
use anyhow::Context;
use std::io::{self, IsTerminal, Write};

/// Decide colour once: `--color`, NO_COLOR (set and non-empty), TERM=dumb, and whether
/// *this* output is a terminal. Then tell `colored`, once.
pub fn decide_color(choice: ColorChoice, to_terminal: bool) -> bool {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
            to_terminal && !no_color && !dumb
        }
    };
    colored::control::set_override(color);
    color
}

/// The output stream and the options derived from it.
pub struct Output {
    /// Where to write.
    pub out: Box<dyn Write>,
    /// Render options.
    pub opts: RenderOpts,
    /// The chosen format.
    pub format: Format,
}

/// Open `-o FILE` or stdout, and settle format, colour and width.
pub fn open_output(a: &OutputArgs) -> anyhow::Result<Output> {
    let (out, terminal): (Box<dyn Write>, bool) = match &a.output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            (Box::new(io::BufWriter::with_capacity(1 << 16, f)), false)
        }
        None => {
            let terminal = io::stdout().is_terminal();
            (
                Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout())),
                terminal,
            )
        }
    };
    let format = a.format.unwrap_or(if terminal {
        Format::Ladder
    } else {
        Format::Jsonl
    });
    let color = decide_color(a.color, terminal);
    let width = a.width.map(usize::from).unwrap_or_else(|| {
        if terminal {
            terminal_size::terminal_size()
                .map(|(w, _)| usize::from(w.0).clamp(40, 1000))
                .unwrap_or(100)
        } else {
            100
        }
    });
    Ok(Output {
        out,
        opts: RenderOpts {
            color,
            width,
            payload: a.payload,
            max_segments: a.max_segments,
            log_time: a.log_time,
        },
        format,
    })
}

/// The renderer for a format.
pub fn renderer_for(format: Format, opts: RenderOpts, cf: ConnFilter) -> Box<dyn Renderer> {
    match format {
        Format::Jsonl if cf.needs_verdict() => Box::new(Grouped::new(FilteredJsonl, cf)),
        Format::Jsonl => Box::new(JsonlRenderer::default()),
        Format::Ladder => Box::new(Grouped::new(crate::render::ladder::renderer(opts), cf)),
        Format::Mermaid => Box::new(Grouped::new(MermaidRenderer::new(opts), cf)),
        Format::Timeline => Box::new(Grouped::new(crate::render::timeline::renderer(opts), cf)),
        Format::Svg => Box::new(Grouped::new(SvgRenderer::svg(opts), cf)),
        Format::Html => Box::new(Grouped::new(SvgRenderer::html(opts), cf)),
        Format::Summary => Box::new(StreamingSummary::new(cf)),
        Format::None => Box::new(NoOutput),
    }
}

/// `--format none`: decode and track everything, print nothing (for timing).
struct NoOutput;

impl Renderer for NoOutput {
    fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn event(&mut self, _: &Event, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, s: &Summary, _: &mut dyn Write) -> io::Result<()> {
        eprintln!(
            "synfin: {} frames, {} TCP segments, {} connections, {} skipped",
            s.frames, s.tcp_segments, s.connections, s.skipped_frames
        );
        Ok(())
    }
}
