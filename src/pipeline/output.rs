//! The output: `-o FILE` or stdout, its format, colour and width, and the renderer for it.

use super::UsageError;
use crate::cli::{ColorChoice, Format, OutputArgs};
use crate::events::{Event, Meta, Summary};
use crate::filter::ConnFilter;
use crate::render::group::{FilteredJsonl, Grouped, Stacked, StackedBatch};
use crate::render::jsonl::JsonlRenderer;
use crate::render::mermaid::{MermaidRenderer, MermaidTarget};
use crate::render::report::ReportRenderer;
use crate::render::svg::SvgRenderer;
use crate::render::{RenderOpts, Renderer};
use anyhow::Context;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

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
    pub out: Box<dyn Write + Send>,
    /// It is a terminal (stdout, no `-o`).
    pub terminal: bool,
    /// Render options.
    pub opts: RenderOpts,
    /// The chosen format.
    pub format: Format,
    /// Where Mermaid diagrams go (`-o x.mmd`: one; `-o DIR/`: a file each).
    mermaid: Option<MermaidTarget>,
    /// The output again, to write the SVG's height into its header at the end (`--format svg`
    /// into a regular file, or the null device).
    rewrite: Option<Box<dyn crate::render::Rewrite>>,
}

impl Output {
    /// The renderer for this output's format.
    pub fn renderer(&mut self, cf: ConnFilter) -> Box<dyn Renderer> {
        match (self.format, self.mermaid.take()) {
            (Format::Mermaid, Some(target)) => {
                Box::new(Grouped::new(MermaidRenderer::new(self.opts, target), cf))
            }
            (format, _) => renderer_for(format, self.opts, cf),
        }
    }

    /// `renderer`, for a whole file read as fast as it goes: pieces of the output that do not
    /// depend on each other (each connection's ladder or timeline, batches of JSON lines) are
    /// drawn on worker threads (`pool`), written in order. Not for a live view: output waits
    /// for its piece. Four pieces at most are out at once (eight held ~2 MB more, no faster).
    pub fn file_renderer(&mut self, cf: ConnFilter) -> Box<dyn Renderer> {
        use super::pool::{heavy_workers, workers, Pool};
        use crate::render::group::Gathered;
        use std::sync::Arc;
        let stacked = |s: Stacked| {
            let pool = stacked_pool(&s, 4);
            s.with_pieces(pool)
        };
        match self.format {
            Format::Jsonl if !cf.needs_verdict() => {
                let lines = |events: &mut Vec<Event>| {
                    let mut out = Vec::with_capacity(events.len() * 320);
                    JsonlRenderer::lines(events, &mut out)?;
                    Ok(out)
                };
                Box::new(JsonlRenderer::with_pieces(Box::new(Pool::new(
                    Arc::new(lines),
                    workers(),
                    4,
                ))))
            }
            Format::Ladder => Box::new(Grouped::new(
                stacked(crate::render::ladder::renderer(self.opts)),
                cf,
            )),
            Format::Summary => {
                // Grouping, totals and rows together on a thread of their own: a verdict is
                // little work, but it comes cold out of the tracker's time-ordered queue.
                use crate::render::summary::SummaryRenderer;
                let width = self.opts.width;
                Box::new(super::render_thread::RenderThread::spawn(Box::new(
                    move || Box::new(Grouped::new(SummaryRenderer::new(width).handing_back(), cf)),
                )))
            }
            Format::Timeline => Box::new(Grouped::new(
                stacked(crate::render::timeline::renderer(self.opts)),
                cf,
            )),
            Format::Svg | Format::Html => {
                let r = if self.format == Format::Svg {
                    SvgRenderer::svg(self.opts)
                } else {
                    SvgRenderer::html(self.opts)
                };
                let opts = r.opts();
                let drawings =
                    move |batch: &mut Vec<Gathered>| Ok(SvgRenderer::drawings(batch, &opts));
                let pool = Pool::new(Arc::new(drawings), heavy_workers(), 4);
                let r = match self.format {
                    Format::Svg => r.with_rewrite(self.rewrite.take()),
                    _ => r,
                };
                Box::new(Grouped::new(r.with_pieces(Box::new(pool)), cf))
            }
            _ => self.renderer(cf),
        }
    }

    /// `renderer`, for a live view: each connection's ladder or timeline is drawn on a worker
    /// thread as it ends and written as soon as it is drawn, in order, so that the capturing
    /// thread only tracks (drawing there, a busy loopback's ring overflowed). Up to
    /// [`LIVE_IN_FLIGHT`] connections wait to be drawn before the capturing thread waits.
    pub fn live_renderer(&mut self, cf: ConnFilter) -> Box<dyn Renderer> {
        let s = match self.format {
            Format::Ladder => crate::render::ladder::renderer(self.opts),
            Format::Timeline => crate::render::timeline::renderer(self.opts),
            _ => return self.renderer(cf),
        };
        let pool = stacked_pool(&s, LIVE_IN_FLIGHT);
        Box::new(Grouped::new(s.with_live_pieces(pool), cf))
    }
}

/// Connections a live view's drawing threads may fall behind by (a burst of endings; the
/// capturing thread never waits for a drawing short of that).
const LIVE_IN_FLIGHT: usize = 1024;

/// Worker threads drawing `s`'s connections as `s` would, at most `in_flight` pieces out.
fn stacked_pool(s: &Stacked, in_flight: usize) -> Box<dyn crate::render::Pieces<StackedBatch>> {
    use super::pool::{workers, Pool};
    let (draw, opts) = s.drawing();
    let piece = move |batch: &mut StackedBatch| {
        // Room for the whole piece at once (the buffer growing by doubling copied the piece
        // twice over): a ladder takes ~68 bytes an event and its connection's four more
        // lines, a timeline a third of that (large.pcap); pieces out at once hold this room.
        let events: usize = batch.iter().map(|(_, g)| g.len() + 4).sum();
        let mut out = Vec::with_capacity((events * 80).min(4 << 20));
        for (first, g) in batch {
            Stacked::piece(draw, &opts, *first, g.group(), &mut out)?;
            g.drawn();
        }
        Ok(out)
    };
    Box::new(Pool::new(std::sync::Arc::new(piece), workers(), in_flight))
}

/// The format `-o FILE`'s extension asks for: `.svg`, `.html` (the report: `--format html`
/// gives the SVG in a page), `.jsonl`/`.json`, `.mmd` (one Mermaid diagram), `.md` (Mermaid in
/// Markdown), `.txt` (the ladder).
pub fn format_of_path(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "svg" => Format::Svg,
        "html" | "htm" => Format::Report,
        "jsonl" | "json" | "ndjson" => Format::Jsonl,
        "mmd" | "md" | "markdown" => Format::Mermaid,
        "txt" | "text" => Format::Ladder,
        _ => return None,
    })
}

/// `-o DIR/`: a directory (one file per connection).
fn is_dir_target(p: &Path) -> bool {
    p.as_os_str().to_string_lossy().ends_with('/') || p.is_dir()
}

/// Open `-o FILE` (or `-o DIR/`) or stdout, and settle format, colour and width. The ladder
/// is the default everywhere, as tcpdump keeps text when piped; `-o`'s extension picks
/// another unless `--format` says otherwise.
pub fn open_output(a: &OutputArgs) -> anyhow::Result<Output> {
    open_output_for(a, Format::Ladder)
}

/// `open_output` with `default` as the format when neither `--format` nor `-o` says one
/// (`watch` and `replay` of a pipe: the live view).
pub fn open_output_for(a: &OutputArgs, default: Format) -> anyhow::Result<Output> {
    let mut mermaid = None;
    let mut rewrite = None;
    let (out, terminal, format): (Box<dyn Write + Send>, bool, Format) = match &a.output {
        Some(dir) if is_dir_target(dir) => {
            let format = a.format.unwrap_or(Format::Mermaid);
            if format != Format::Mermaid {
                return Err(UsageError(format!(
                    "-o {}: a directory takes one Mermaid file per connection (--format mermaid)",
                    dir.display()
                ))
                .into());
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let dir = dir.clone();
            mermaid = Some(MermaidTarget::Files(Box::new(move |conn| {
                let path = dir.join(format!("conn-{conn}.mmd"));
                let f = std::fs::File::create(&path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
                })?;
                Ok(Box::new(io::BufWriter::new(f)) as Box<dyn Write>)
            })));
            (Box::new(io::sink()), false, format)
        }
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            let format = a
                .format
                .or_else(|| format_of_path(p))
                .unwrap_or(Format::Ladder);
            if format == Format::Svg {
                rewrite = f.try_clone().ok().and_then(FileRewrite::of);
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if format == Format::Mermaid && ext.eq_ignore_ascii_case("mmd") {
                mermaid = Some(MermaidTarget::Single);
            }
            (
                Box::new(io::BufWriter::with_capacity(1 << 16, f)),
                false,
                format,
            )
        }
        None => {
            let terminal = io::stdout().is_terminal();
            let format = a.format.unwrap_or(default);
            if format == Format::Svg {
                use std::os::fd::AsFd;
                rewrite = io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .ok()
                    .and_then(|fd| FileRewrite::of(std::fs::File::from(fd)));
            }
            (
                Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout())),
                terminal,
                format,
            )
        }
    };
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
        terminal,
        opts: RenderOpts {
            color,
            width,
            payload: a.payload,
            max_segments: a.max_segments,
            log_time: !a.linear_time,
            time_scale: match a.time_scale {
                crate::cli::TimeScale::Compressed => crate::render::TimeScale::Compressed,
                crate::cli::TimeScale::Linear => crate::render::TimeScale::Linear,
                crate::cli::TimeScale::Rows => crate::render::TimeScale::Rows,
            },
        },
        format,
        mermaid,
        rewrite: rewrite.map(|r| Box::new(r) as Box<dyn crate::render::Rewrite>),
    })
}

/// The output file, opened again (another descriptor of the same open file, so its position
/// is the output's), to write in it where it was written before.
struct FileRewrite(std::fs::File);

impl FileRewrite {
    /// `f` (a second descriptor of the output) for a regular file not opened to append (where
    /// a write at a place lands there) or the null device (where nothing lands anywhere);
    /// `None` for a pipe, a terminal, or other.
    fn of(f: std::fs::File) -> Option<FileRewrite> {
        use std::os::unix::fs::FileTypeExt;
        let meta = f.metadata().ok()?;
        let file_type = meta.file_type();
        let null = file_type.is_char_device() && {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/dev/null").is_ok_and(|n| n.rdev() == meta.rdev())
        };
        if !(file_type.is_file() || null) {
            return None;
        }
        use std::os::fd::AsRawFd;
        // SAFETY: F_GETFL only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || flags & libc::O_APPEND != 0 {
            return None;
        }
        Some(FileRewrite(f))
    }
}

impl crate::render::Rewrite for FileRewrite {
    fn position(&mut self) -> io::Result<u64> {
        use std::io::Seek;
        self.0.stream_position()
    }

    fn rewrite(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.0.write_all_at(bytes, at)
    }
}

/// The renderer for a format (Mermaid: a Markdown document).
pub fn renderer_for(format: Format, opts: RenderOpts, cf: ConnFilter) -> Box<dyn Renderer> {
    match format {
        Format::Jsonl if cf.needs_verdict() => Box::new(Grouped::new(FilteredJsonl, cf)),
        Format::Jsonl => Box::new(JsonlRenderer::default()),
        Format::Ladder => Box::new(Grouped::new(crate::render::ladder::renderer(opts), cf)),
        Format::Mermaid => Box::new(Grouped::new(
            MermaidRenderer::new(opts, MermaidTarget::Markdown),
            cf,
        )),
        Format::Timeline => Box::new(Grouped::new(crate::render::timeline::renderer(opts), cf)),
        Format::Svg => Box::new(Grouped::new(SvgRenderer::svg(opts), cf)),
        Format::Html => Box::new(Grouped::new(SvgRenderer::html(opts), cf)),
        Format::Report => Box::new(ReportRenderer::new(opts, cf)),
        Format::Summary => Box::new(crate::render::summary::streaming(cf, opts.width)),
        Format::Stream => Box::new(crate::render::stream::StreamRenderer::new(opts)),
        Format::None => Box::new(NoOutput),
    }
}

/// `--format none`: decode and track everything, print nothing (for timing).
struct NoOutput;

impl Renderer for NoOutput {
    fn start(&mut self, _: &Meta, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn minds_quiet(&self) -> bool {
        false
    }
    fn event(&mut self, _: &Event, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, s: &Summary, _: &mut dyn Write) -> io::Result<()> {
        use crate::render::summary::plural;
        eprintln!(
            "synfin: {}, {}, {}, {} skipped",
            plural(s.frames, "frame", "frames"),
            plural(s.tcp_segments, "TCP segment", "TCP segments"),
            plural(s.connections, "connection", "connections"),
            s.skipped_frames
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
