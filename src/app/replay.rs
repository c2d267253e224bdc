//! `synfin replay FILE...`: files (or stdin) → the reader thread → the pipeline.

use super::filters::from_args;
use crate::capture::pcap_reader::PcapSource;
use crate::cli::ReplayArgs;
use crate::events::Meta;
use crate::filter::SegmentFilter;
use crate::frame::LinkType;
use crate::pipeline::config::tracker_config;
use crate::pipeline::decoded_stream::{self, Decoded, Order};
use crate::pipeline::output::open_output;
use crate::pipeline::Pipeline;
use crate::tracker::Tracker;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Split `replay`'s words into files and a filter expression: `-r` files, then the leading
/// words that are `-`, name an existing file, or look like a path (so a missing capture is
/// reported as one); the first other word starts the expression.
fn files_and_expression(a: &ReplayArgs) -> (Vec<PathBuf>, Vec<String>) {
    let mut files: Vec<PathBuf> = a.read.clone();
    let mut words = a.inputs.iter().peekable();
    while let Some(w) = words.peek() {
        let looks_like_path = w.contains('/')
            || [".pcap", ".pcapng", ".cap", ".gz", ".zst", ".xz"]
                .iter()
                .any(|ext| w.ends_with(ext));
        let is_file = *w == "-" || Path::new(w).exists() || looks_like_path;
        // Without -r, the first word is a file whatever it looks like.
        if !is_file && !files.is_empty() {
            break;
        }
        files.push(PathBuf::from(w));
        words.next();
    }
    (files, words.cloned().collect())
}

/// Run `replay`.
pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (files, expression) = files_and_expression(&a);
    let (sf, cf) = from_args(&a.filter, &expression)?;
    // Open every input before writing anything: a bad file is an error, not output.
    let sources = files
        .iter()
        .map(|f| PcapSource::open(f, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let mut output = open_output(&a.output)?;
    let cfg = tracker_config(&a.tracker, output.format)?;
    let link = sources[0].link_type().unwrap_or(LinkType::EN10MB);
    let meta = Meta {
        schema: 1,
        tool: "synfin",
        version: env!("CARGO_PKG_VERSION"),
        source: "replay",
        input: files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
        linktype: link.name(),
    };
    let renderer = output.renderer(cf);
    // The reader thread filters; the pipeline sees only what passed.
    let mut p = Pipeline::new(
        Tracker::new(cfg),
        SegmentFilter::default(),
        renderer,
        output.out,
    );
    p.start(&meta)?;
    // One thread reads and decodes, this one tracks and renders.
    let order = if a.concatenate {
        Order::Concatenate
    } else {
        Order::Time
    };
    let (rx, reader) = decoded_stream::spawn(sources, order, sf);
    let mut warnings = Vec::new();
    let mut damaged = false;
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
            Decoded::Warning { text, damage } => {
                damaged |= damage;
                warnings.push(text);
            }
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
    // A cut or damaged capture: what was read is shown, and the exit says it was not all
    // (as tcpdump exits 1), so scripts notice.
    Ok(if damaged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
