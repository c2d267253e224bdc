//! `synfin replay FILE...`: files (or stdin) → the reader thread → the pipeline.

use super::filters::from_args;
use crate::capture::pcap_reader::PcapSource;
use crate::cli::ReplayArgs;
use crate::events::Meta;
use crate::filter::SegmentFilter;
use crate::frame::LinkType;
use crate::pipeline::config::tracker_config;
use crate::pipeline::decoded_stream::{self, Decoded};
use crate::pipeline::output::{open_output, renderer_for};
use crate::pipeline::Pipeline;
use crate::tracker::Tracker;
use std::process::ExitCode;

/// Run `replay`.
pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (sf, cf) = from_args(&a.filter);
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
