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
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

/// Whether to paint: `--color`, then for `auto` whether *this* output is a terminal,
/// NO_COLOR (set and non-empty: <https://no-color.org>) and TERM=dumb. Pure: the environment
/// comes in as `env`, so every case can be tested without touching the process's own.
pub fn color_wanted(
    choice: ColorChoice,
    to_terminal: bool,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
            let dumb = env("TERM").is_some_and(|t| t == "dumb");
            to_terminal && !no_color && !dumb
        }
    }
}

/// Decide colour once from the process environment, and tell `colored`, once.
pub fn decide_color(choice: ColorChoice, to_terminal: bool) -> bool {
    let color = color_wanted(choice, to_terminal, &|k| std::env::var_os(k));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Environment variables: (name, value).
    type Vars<'a> = &'a [(&'a str, &'a str)];

    /// `color_wanted` with exactly these variables set.
    fn wanted(choice: ColorChoice, terminal: bool, vars: Vars) -> bool {
        let env = |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| OsString::from(v))
        };
        color_wanted(choice, terminal, &env)
    }

    #[test]
    fn auto_paints_a_terminal_unless_no_color_or_a_dumb_term() {
        // (terminal, environment, paint?)
        let cases: [(bool, Vars, bool); 9] = [
            (true, &[], true),
            (true, &[("TERM", "xterm-256color")], true),
            (true, &[("NO_COLOR", "1")], false),
            (true, &[("NO_COLOR", "0")], false), // any non-empty value
            (true, &[("NO_COLOR", "")], true),   // empty is unset
            (true, &[("TERM", "dumb")], false),
            (true, &[("TERM", "dumb"), ("NO_COLOR", "")], false),
            (false, &[], false), // a pipe or a file
            (false, &[("TERM", "xterm")], false),
        ];
        for (terminal, vars, paint) in cases {
            assert_eq!(
                wanted(ColorChoice::Auto, terminal, vars),
                paint,
                "auto, terminal {terminal}, {vars:?}"
            );
        }
    }

    #[test]
    fn always_and_never_ignore_the_environment_and_the_terminal() {
        let envs: [Vars; 4] = [
            &[],
            &[("NO_COLOR", "1")],
            &[("TERM", "dumb")],
            &[("NO_COLOR", ""), ("TERM", "xterm")],
        ];
        for vars in envs {
            for terminal in [true, false] {
                assert!(wanted(ColorChoice::Always, terminal, vars), "{vars:?}");
                assert!(!wanted(ColorChoice::Never, terminal, vars), "{vars:?}");
            }
        }
    }
}
