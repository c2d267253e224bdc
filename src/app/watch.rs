//! `synfin watch`: a live interface → the pipeline, until Ctrl-C, `-c` or `--duration`; with
//! root, the socket calls of every process traced in the kernel beside the packets.

use super::filters::from_args;
use super::paced_output::{PacedHandle, PacedOutput};
use super::traced::Traced;
use crate::capture::live::{LiveSource, Polled};
use crate::capture::pcap_writer::CaptureWriter;
use crate::cli::{Format, WatchArgs};
use crate::events::Meta;
use crate::filter_expr::bpf;
use crate::frame::LinkType;
use crate::pipeline::config::tracker_config;
use crate::pipeline::live_calls::{LiveCalls, OwnerFilter};
use crate::pipeline::output::open_output_for;
use crate::pipeline::{stop_flag, wall_clock, Pipeline, UsageError};
use crate::tracker::Tracker;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Run `watch`.
pub fn run(a: WatchArgs) -> anyhow::Result<ExitCode> {
    tracker_config(&a.tracker, Format::None)?;
    let (sf, cf) = from_args(&a.filter, &a.expression)?;
    let duration = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => {
            return Err(
                UsageError(format!("--duration {d}: give a positive number of seconds")).into(),
            )
        }
        d => d.map(Duration::from_secs_f64),
    };
    let owners = OwnerFilter {
        pids: a.pid.clone(),
        comms: a.comm.clone(),
    };
    if a.no_calls && (!owners.is_empty() || a.kernel_check) {
        return Err(UsageError(
            "--pid, --comm and --kernel-check need call tracing: leave out --no-calls".into(),
        )
        .into());
    }
    let stop = stop_flag()?;
    if a.tui {
        super::tui::check_terminal()?;
    }
    let mut source = LiveSource::open(&a.iface, Arc::clone(&stop), duration)?;
    // The filter also runs in the kernel where it can be expressed (Ethernet framing, which
    // lo has too); it always runs here as well.
    if let (Some(expr), LinkType::EN10MB) = (sf.expr(), source.link_type()) {
        match bpf::compile(expr) {
            Ok(prog) => {
                let prog: Vec<libc::sock_filter> = prog.into_iter().map(Into::into).collect();
                source.set_filter(&prog)?;
            }
            Err(e) => eprintln!("synfin: note: filtering in user space only: {e}"),
        }
    }
    let traced = if a.no_calls {
        None
    } else {
        match Traced::start() {
            Ok(t) => Some(t),
            Err(e) if owners.is_empty() && !a.kernel_check => {
                eprintln!("synfin: note: socket calls are inferred from packets only: {e}");
                None
            }
            Err(e) => {
                return Err(UsageError(format!(
                    "--pid, --comm and --kernel-check need call tracing: {e}"
                ))
                .into())
            }
        }
    };
    let writer = match &a.write {
        Some(path) => Some(CaptureWriter::create(path, source.link_type())?),
        None => None,
    };
    let mut output = open_output_for(&a.output, Format::Stream)?;
    let mut cfg = tracker_config(&a.tracker, output.format)?;
    if a.kernel_check {
        // The check compares synfin's state changes: they must be made.
        cfg.wanted.states = true;
    }
    let meta = Meta::synfin("watch", a.iface.clone(), source.link_type().name());
    if a.tui {
        // Live: inferences come when settled, not held behind the first unsettled one.
        let cfg = crate::tracker::TrackerConfig { live: true, ..cfg };
        let (model, mut p) =
            super::tui::pipeline(&meta, output.opts, &a.output.output, &cf, cfg, sf)?;
        if let Some(t) = &traced {
            let mut live = LiveCalls::new(owners, false, false, true);
            t.seed(&mut live, &mut p.tracker);
            p = p.with_live_calls(live);
        }
        let drops = super::tui::watch(model, p.with_writer(writer), source, a.count, stop, traced)?;
        if drops > 0 {
            eprintln!(
                "synfin: warning: the kernel dropped {drops} frames on {}",
                crate::text::printable(&a.iface)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let show_kernel = output.format == Format::Jsonl;
    let renderer = output.live_renderer(cf);
    // Written by a thread of its own: a terminal that falls behind never holds the capture
    // back (its stale lines are left out, said); a pipe or a file gets every line.
    let (out, paced) = PacedOutput::start(
        output.out,
        output.terminal,
        super::latency::LatencyLog::from_env(),
    );
    let mut p = Pipeline::new(Tracker::new(cfg), sf, renderer, Box::new(out)).with_writer(writer);
    if let Some(t) = &traced {
        let mut live = LiveCalls::new(owners, a.kernel_check, show_kernel, cfg.wanted.calls);
        t.seed(&mut live, &mut p.tracker);
        p = p.with_live_calls(live);
    }
    p.start(&meta)?;
    let matched = match traced {
        Some(t) => t.run(&mut source, &mut p, a.count, a.kernel_check)?,
        None => untraced(&mut source, &mut p, a.count, &paced)?,
    };
    let _ = matched;
    paced.capture_ended();
    let drops = source.kernel_drops();
    if drops > 0 {
        p.summary
            .errors
            .push(format!("the kernel dropped {drops} frames"));
    }
    let tally = p.kernel_tally();
    p.finish()?;
    let (not_shown, latency) = paced.finish()?;
    if let Some(l) = latency {
        l.write()?;
    }
    if not_shown > 0 {
        eprintln!(
            "synfin: warning: {not_shown} lines were not shown: the terminal could not keep up \
             with the capture (watch --tui keeps up; -w FILE keeps every frame)"
        );
    }
    let (checked, disagreements) = tally.get();
    if drops > 0 {
        eprintln!(
            "synfin: warning: the kernel dropped {drops} frames on {}",
            crate::text::printable(&a.iface)
        );
    }
    if a.kernel_check {
        if disagreements == 0 {
            eprintln!("kernel check: {checked} endpoints agree");
        } else {
            eprintln!("kernel check: {disagreements} of {checked} endpoints disagree");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Frames only: read what has arrived without sleeping; when nothing has, show what is
/// settled and sleep until a frame comes or the tracker's next deadline (a held inference, a
/// TIME-WAIT end), whichever is first. Returns how many segments matched.
fn untraced(
    source: &mut LiveSource,
    p: &mut Pipeline,
    count: Option<u64>,
    paced: &PacedHandle,
) -> anyhow::Result<u64> {
    let mut matched = 0u64;
    let mut wait = Some(Duration::ZERO);
    // Whether the last poll only looked (no wait asked for yet). A tracker deadline already
    // past gives a zero wait too: that poll's Idle must tick, not look again (a spin).
    let mut looked = true;
    loop {
        match source.poll_for(wait)? {
            Polled::Stopped => break,
            Polled::Idle if looked => {
                p.settle()?;
                wait = p
                    .tracker
                    .poll_timeout()
                    .map(|at| Duration::from_nanos(at.since(wall_clock()).max(0) as u64));
                looked = false;
                continue;
            }
            // A deadline came: let the tracker's clock move on and show what it settled.
            Polled::Idle => {
                p.tick(wall_clock())?;
                p.settle()?;
            }
            Polled::Frame => {
                let f = source.frame();
                paced.fed(f.ts);
                if p.frame(&f)? {
                    matched += 1;
                    if count.is_some_and(|c| matched >= c) {
                        break;
                    }
                }
            }
        }
        wait = Some(Duration::ZERO);
        looked = true;
    }
    p.flush()?;
    Ok(matched)
}
