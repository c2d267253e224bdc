//! `synfin replay FILE...`: files (or stdin) → the reader thread → the pipeline.

use super::filters::from_args;
use crate::capture::pcap_reader::PcapSource;
use crate::cli::Format;
use crate::cli::ReplayArgs;
use crate::events::Event;
use crate::events::Meta;
use crate::filter::SegmentFilter;
use crate::frame::LinkType;
use crate::pipeline::config::tracker_config;
use crate::pipeline::decoded_stream::{self, Decoded, Order};
use crate::pipeline::observed::{self, CallNote};
use crate::pipeline::output::open_output_for;
use crate::pipeline::Pipeline;
use crate::pipeline::{stop_flag, Replaced, UsageError};
use crate::tracker::Tracker;
use crate::tracker::{TrackerConfig, Wanted};
use std::path::PathBuf;
use std::process::ExitCode;

/// Split `replay`'s words into files and a filter expression: the `-r` files, then (without
/// `-r`) the first word whatever it is, then each word that names a capture by its extension
/// (`.pcap`, `.pcapng`, `.cap`, and those compressed) or is `-`; the first other word starts
/// the expression (as tcpdump, a file named `tcp` is not read: `-r tcp` reads it).
fn files_and_expression(a: &ReplayArgs) -> (Vec<PathBuf>, Vec<String>) {
    let mut files: Vec<PathBuf> = a.read.clone();
    let mut words = a.inputs.iter().peekable();
    let capture_name = |w: &str| {
        let w = w.to_ascii_lowercase();
        !w.contains(' ')
            && [".pcap", ".pcapng", ".cap", ".gz", ".zst", ".xz"]
                .iter()
                .any(|ext| w.ends_with(ext))
    };
    while let Some(w) = words.peek() {
        if !(files.is_empty() || *w == "-" || capture_name(w)) {
            break;
        }
        files.push(PathBuf::from(w));
        words.next();
    }
    (files, words.cloned().collect())
}

/// The observed calls the files' packet comments hold, as events under their connections,
/// with the inferred calls they replace; `None` when the first packet of no file carries
/// one (the demo writes them from the first packet on) or an input is not a regular file.
fn observed_calls(
    files: &[PathBuf],
    order: Order,
    sf: &SegmentFilter,
    cfg: TrackerConfig,
) -> anyhow::Result<Option<(Vec<Event>, Replaced)>> {
    let regular = files.iter().all(|f| f.as_os_str() != "-" && f.is_file());
    if !regular {
        return Ok(None);
    }
    let annotated = files.iter().any(|f| {
        PcapSource::open(f, 1).is_ok_and(|mut s| {
            matches!(s.next_frame(), Ok(Some(_)))
                && s.comments().iter().any(|c| CallNote::parse(c).is_some())
        })
    });
    if !annotated {
        return Ok(None);
    }
    let sources = files
        .iter()
        .map(|f| PcapSource::open(f, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let (rx, reader, _) = decoded_stream::spawn(sources, order, sf.clone(), false);
    let mut tracker = Tracker::new(TrackerConfig {
        wanted: Wanted::VERDICTS,
        ..cfg
    });
    let (mut verdicts, mut notes) = (Vec::new(), Vec::new());
    for msg in rx {
        if let Decoded::Batch {
            segments,
            notes: mut n,
            ..
        } = msg
        {
            notes.append(&mut n);
            for seg in &segments {
                tracker.handle_segment(seg);
                while let Some(e) = tracker.poll_event() {
                    verdicts.push(e);
                }
            }
        }
    }
    // A damaged file is reported by the real pass.
    let _ = reader.join();
    tracker.finish();
    while let Some(e) = tracker.poll_event() {
        verdicts.push(e);
    }
    let events = observed::events(&notes, &observed::spans(&verdicts));
    Ok(Some((events, observed::replaced_by(&notes))))
}

/// Run `replay`.
pub fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (files, expression) = files_and_expression(&a);
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(UsageError("stdin (-) can be read only once".into()).into());
    }
    let (sf, cf) = from_args(&a.filter, &expression)?;
    // Open every input before writing anything: a bad file is an error, not output.
    if a.tui {
        super::tui::check_terminal()?;
    }
    let sources = files
        .iter()
        .map(|f| PcapSource::open(f, 1))
        .collect::<Result<Vec<_>, _>>()?;
    // A pipe (or stdin) is watched as it comes: the live view, rows as bytes arrive.
    let piped = files.iter().any(|f| f.as_os_str() == "-" || !f.is_file());
    let default = if piped {
        Format::Stream
    } else {
        Format::Ladder
    };
    let mut output = open_output_for(&a.output, default)?;
    let cfg = tracker_config(&a.tracker, output.format)?;
    let link = sources[0].link_type().unwrap_or(LinkType::EN10MB);
    let meta = Meta::synfin(
        "replay",
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
        link.name(),
    );
    if a.tui {
        let p = super::tui::pipeline(&meta, output.opts, &a.output.output, &cf, cfg, sf)?;
        let warnings = super::tui::replay(p.0, p.1, sources, a.concatenate, stop_flag()?)?;
        for w in &warnings {
            eprintln!("synfin: warning: {}", crate::text::printable(w));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let renderer = if piped {
        output.renderer(cf)
    } else {
        output.file_renderer(cf)
    };
    let order = if a.concatenate {
        Order::Concatenate
    } else {
        Order::Time
    };
    // Observed calls in the packet comments (a demo's -w x.pcapng) are drawn again: a first
    // pass files them under their connections.
    let observed = observed_calls(&files, order, &sf, cfg)?;
    // The reader thread filters; the pipeline sees only what passed.
    let mut p = Pipeline::new(
        Tracker::new(cfg),
        SegmentFilter::default(),
        renderer,
        output.out,
    );
    if let Some((events, replaced)) = observed {
        p = p.with_extra_events(events).with_replaced_calls(replaced);
    }
    p.start(&meta)?;
    // One thread reads and decodes, this one tracks and renders.
    let (rx, reader, spare) = decoded_stream::spawn(sources, order, sf, piped);
    let mut warnings = Vec::new();
    let mut damaged = false;
    // A pipe may be stopped (Ctrl-C, SIGTERM): the verdicts of what was seen still come.
    let stop = if piped { Some(stop_flag()?) } else { None };
    let mut stopped = false;
    loop {
        let msg = match &stop {
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
            Some(stop) => match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(m) => m,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        stopped = true;
                        break;
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            },
        };
        match msg {
            Decoded::Batch {
                segments,
                frames,
                skipped,
                ..
            } => {
                p.summary.frames += frames;
                p.summary.skipped_frames += skipped;
                for seg in &segments {
                    p.segment(seg)?;
                }
                let _ = spare.send(segments);
                // A pipe is watched as it comes: what is settled goes out now.
                if piped {
                    p.flush()?;
                }
            }
            Decoded::Warning { text, damage } => {
                damaged |= damage;
                warnings.push(text);
            }
        }
    }
    if !stopped {
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    }
    p.summary.errors = warnings.clone();
    p.finish()?;
    for w in &warnings {
        eprintln!("synfin: warning: {}", crate::text::printable(w));
    }
    // A cut or damaged capture: what was read is shown, and the exit says it was not all
    // (as tcpdump exits 1), so scripts notice.
    Ok(if damaged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
