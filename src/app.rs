//! Wiring: command line → source → decode → tracker → renderer. The only place (with
//! `capture/` and `echo/`) that touches the OS: files, stdout, the environment, signals.

use crate::capture::decoded_stream::{self, Decoded};
use crate::capture::live::{LiveSource, Polled};
use crate::capture::pcap_reader::PcapSource;
use crate::capture::pcap_writer::PcapWriter;
use crate::capture::{CaptureError, Frame, LinkType};
use crate::cli::{Cli, Cmd, ColorChoice, Format, OutputArgs, ReplayArgs, TrackerArgs, WatchArgs};
use crate::decode::{decode, Skip};
use crate::filter::{self, ConnFilter, SegmentFilter};
use crate::render::group::{FilteredJsonl, Grouped};
use crate::render::jsonl::JsonlRenderer;
use crate::render::mermaid::MermaidRenderer;
use crate::render::summary::StreamingSummary;
use crate::render::svg::SvgRenderer;
use crate::render::{RenderOpts, Renderer};
use crate::timeline::{Event, Meta, Summary};
use crate::tracker::queue::Wanted;
use crate::tracker::{Tracker, TrackerConfig};
use anyhow::Context;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Run the command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Replay(a) => replay(a),
        Cmd::Watch(a) => watch(a),
        Cmd::Demo(a) => crate::echo::demo::run(a),
    }
}

/// Is this error a closed stdout (`synfin replay x | head`)? Then exit 0, quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// 2 for what the user must fix in how synfin is run (privileges, interface, address), 1 for
/// bad input.
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    for c in e.chain() {
        if let Some(ce) = c.downcast_ref::<CaptureError>() {
            return match ce {
                CaptureError::PermissionDenied { .. }
                | CaptureError::NoSuchInterface { .. }
                | CaptureError::Live { .. } => 2,
                _ => 1,
            };
        }
        if c.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
    }
    1
}

/// A mistake in how synfin was run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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

/// Tracker settings from the command line.
pub fn tracker_config(a: &TrackerArgs, format: Format) -> anyhow::Result<TrackerConfig> {
    if !(a.time_wait.is_finite() && a.time_wait >= 0.0 && a.time_wait < 1e6) {
        return Err(UsageError(format!(
            "--time-wait {}: give seconds from 0 to 999999",
            a.time_wait
        ))
        .into());
    }
    Ok(TrackerConfig {
        time_wait_ns: (a.time_wait * 1e9) as i64,
        max_connections: a.max_connections.max(1),
        // A summary (or nothing) needs only the verdicts: skip building the rest.
        wanted: match format {
            Format::Summary | Format::None => Wanted::VERDICTS,
            _ => Wanted::ALL,
        },
        ..TrackerConfig::default()
    })
}

/// Everything after the source, shared by replay, watch and demo.
pub struct Pipeline {
    /// The tracker.
    pub tracker: Tracker,
    segments: SegmentFilter,
    renderer: Box<dyn Renderer>,
    out: Box<dyn Write>,
    /// Totals so far.
    pub summary: Summary,
    writer: Option<PcapWriter>,
    /// Extra events (observed calls) to merge by time.
    extra: std::collections::VecDeque<Event>,
}

impl Pipeline {
    /// A pipeline writing to `output`.
    pub fn new(
        tracker: Tracker,
        segments: SegmentFilter,
        renderer: Box<dyn Renderer>,
        out: Box<dyn Write>,
    ) -> Pipeline {
        Pipeline {
            tracker,
            segments,
            renderer,
            out,
            summary: Summary::default(),
            writer: None,
            extra: Default::default(),
        }
    }

    /// Also save frames to `w`.
    pub fn with_writer(mut self, w: Option<PcapWriter>) -> Pipeline {
        self.writer = w;
        self
    }

    /// Events (sorted by time) to merge into the output, e.g. the demo's observed calls.
    pub fn with_extra_events(mut self, mut events: Vec<Event>) -> Pipeline {
        events.sort_by_key(|e| e.t());
        self.extra = events.into();
        self
    }

    /// Write the meta line (or header).
    pub fn start(&mut self, meta: &Meta) -> io::Result<()> {
        self.renderer.start(meta, &mut self.out)
    }

    /// Feed one frame; returns whether it was a TCP segment that passed the filters.
    pub fn frame(&mut self, frame: &Frame<'_>) -> anyhow::Result<bool> {
        self.summary.frames += 1;
        let decoded = decode(frame);
        // `-w` keeps what the filters keep (everything, without filters), like a capture
        // filter would.
        let keep = match &decoded {
            Ok(seg) => self.segments.matches(seg),
            Err(_) => self.segments.is_empty(),
        };
        if let (Some(w), true) = (&mut self.writer, keep) {
            w.write(frame)?;
        }
        match decoded {
            Ok(seg) => {
                if !keep {
                    return Ok(false);
                }
                self.segment(&seg)?;
                Ok(true)
            }
            Err(
                Skip::NotIp
                | Skip::NotTcp
                | Skip::Fragment
                | Skip::Truncated
                | Skip::UnsupportedLink,
            ) => {
                self.summary.skipped_frames += 1;
                Ok(false)
            }
        }
    }

    /// Time passes with no segment (live capture): settle what waited too long.
    pub fn tick(&mut self, now: crate::timestamp::Timestamp) -> io::Result<()> {
        self.tracker.handle_timeout(now);
        self.drain()
    }

    /// Feed one decoded segment that passed the filters.
    pub fn segment(&mut self, seg: &crate::segment::Segment) -> io::Result<()> {
        self.summary.tcp_segments += 1;
        self.tracker.handle_segment(seg);
        self.drain()
    }

    fn drain(&mut self) -> io::Result<()> {
        while let Some(e) = self.tracker.poll_event() {
            while self.extra.front().is_some_and(|x| x.t() <= e.t()) {
                let x = self.extra.pop_front().expect("checked");
                self.renderer.event(&x, &mut self.out)?;
            }
            self.renderer.event(&e, &mut self.out)?;
        }
        Ok(())
    }

    /// Flush the writer (e.g. periodically while live).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// End of input: settle the tracker, write the remaining events and the summary.
    pub fn finish(mut self) -> anyhow::Result<Summary> {
        self.tracker.finish();
        self.drain()?;
        for x in std::mem::take(&mut self.extra) {
            self.renderer.event(&x, &mut self.out)?;
        }
        self.summary.connections = self.tracker.stats().connections;
        self.renderer.finish(&self.summary, &mut self.out)?;
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        self.out.flush()?;
        Ok(self.summary)
    }
}

fn replay(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (sf, cf) = filter::from_args(&a.filter);
    // Open every file before writing anything: a bad file is an error, not output. The later
    // ones are opened again, in turn, by the reader thread, so only regular files are checked
    // here: a pipe or `-` cannot be read twice.
    let first = PcapSource::open(&a.files[0], 1)?;
    for f in &a.files[1..] {
        let regular = match std::fs::metadata(f) {
            Ok(m) => m.is_file() || m.is_dir(),
            Err(_) => true, // let open() say why
        };
        if f.as_os_str() != "-" && regular {
            PcapSource::open(f, 1)?;
        }
    }
    let output = open_output(&a.output)?;
    let cfg = tracker_config(&a.tracker, output.format)?;
    let link = first.link_type().unwrap_or(LinkType::EN10MB);
    let meta = Meta {
        schema: 1,
        tool: "synfin",
        version: env!("CARGO_PKG_VERSION"),
        source: "replay",
        input: a
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
        linktype: link.name(),
    };
    let renderer = renderer_for(output.format, output.opts, cf);
    // The reader thread filters; the pipeline sees only what passed.
    let mut p = Pipeline::new(
        Tracker::new(cfg),
        SegmentFilter::default(),
        renderer,
        output.out,
    );
    p.start(&meta)?;
    // One thread reads and decodes, this one tracks and renders.
    let (rx, reader) = decoded_stream::spawn(first, a.files[1..].to_vec(), sf);
    let mut warnings = Vec::new();
    for msg in rx {
        match msg {
            Decoded::Batch {
                segments,
                frames,
                skipped,
            } => {
                p.summary.frames += frames;
                p.summary.skipped_frames += skipped;
                for seg in &segments {
                    p.segment(seg)?;
                }
            }
            Decoded::Warning(w) => warnings.push(w),
        }
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    p.summary.errors = warnings.clone();
    p.finish()?;
    for w in &warnings {
        eprintln!("synfin: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `CLOCK_REALTIME`, the clock of the kernel's capture timestamps.
fn wall_clock() -> crate::timestamp::Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::timestamp::Timestamp::from_secs_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

/// Ctrl-C and SIGTERM set this flag; live sources poll it.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot handle signals")?;
    }
    Ok(stop)
}

fn watch(a: WatchArgs) -> anyhow::Result<ExitCode> {
    tracker_config(&a.tracker, Format::None)?;
    let (sf, cf) = filter::from_args(&a.filter);
    let duration = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => {
            return Err(
                UsageError(format!("--duration {d}: give a positive number of seconds")).into(),
            )
        }
        d => d.map(Duration::from_secs_f64),
    };
    let stop = stop_flag()?;
    let mut source = LiveSource::open(&a.iface, stop, duration)?;
    let writer = match &a.write {
        Some(path) => Some(PcapWriter::create(path, source.link_type())?),
        None => None,
    };
    let output = open_output(&a.output)?;
    let cfg = tracker_config(&a.tracker, output.format)?;
    let meta = Meta {
        schema: 1,
        tool: "synfin",
        version: env!("CARGO_PKG_VERSION"),
        source: "watch",
        input: a.iface.clone(),
        linktype: source.link_type().name(),
    };
    let renderer = renderer_for(output.format, output.opts, cf);
    let mut p = Pipeline::new(Tracker::new(cfg), sf, renderer, output.out).with_writer(writer);
    p.start(&meta)?;
    let mut matched = 0u64;
    loop {
        match source.poll()? {
            Polled::Stopped => break,
            // Quiet: let the tracker's clock move on (held inferences, TIME_WAIT ends) and
            // show what is settled.
            Polled::Idle => {
                p.tick(wall_clock())?;
                p.flush()?;
            }
            Polled::Frame => {
                if p.frame(&source.frame())? {
                    matched += 1;
                    if a.count.is_some_and(|c| matched >= c) {
                        break;
                    }
                }
                if p.summary.frames % 64 == 0 {
                    p.flush()?;
                }
            }
        }
    }
    let drops = source.kernel_drops();
    if drops > 0 {
        p.summary
            .errors
            .push(format!("the kernel dropped {drops} frames"));
    }
    p.finish()?;
    if drops > 0 {
        eprintln!(
            "synfin: warning: the kernel dropped {drops} frames on {}",
            a.iface
        );
    }
    Ok(ExitCode::SUCCESS)
}
