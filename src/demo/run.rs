//! `synfin demo`: capture on lo, run a scenario, then draw it with the observed calls merged
//! into the timeline of the captured segments.

use super::calls::{CallLog, ObservedCall};
use super::kernel_trace::KernelTrace;
use super::netns::enter_private_netns;
use super::scenarios::{client_addr, start_echo_server, Ctx, Scenario, SCENARIOS};
use super::sockets::Sock;
use crate::capture::live::LiveSource;
use crate::capture::pcap_writer::{PcapNgWriter, PcapWriter};
use crate::capture::proc_net::time_wait_sockets;
use crate::cli::{DemoArgs, ScenarioId};
use crate::decode::decode;
use crate::events::{Event, Meta};
use crate::filter::{ConnFilter, SegmentFilter};
use crate::frame::{Frame, LinkType, OwnedFrame};
use crate::kernel::check::{compare, report};
use crate::pipeline::config::tracker_config;
use crate::pipeline::observed::{self, CallNote};
use crate::pipeline::output::open_output;
use crate::pipeline::{stop_flag, Pipeline, UsageError};
use crate::timestamp::Timestamp;
use crate::tracker::Tracker;
use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Run the demo.
pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    if a.list_scenarios {
        for s in SCENARIOS {
            println!("{:<19} {}", s.name(), s.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| a.scenario == ScenarioId::All || s.id == a.scenario)
        .collect();
    // The address must be free before anything starts.
    if a.scenario != ScenarioId::Refused {
        if let Err(e) = std::net::TcpListener::bind(a.addr) {
            return Err(UsageError(format!(
                "cannot bind {}: {e} (try --addr 127.0.0.1:0)",
                a.addr
            ))
            .into());
        }
    }
    let addr = if a.addr.port() == 0 {
        let l = std::net::TcpListener::bind(a.addr)?;
        l.local_addr()?
    } else {
        a.addr
    };
    if a.interactive {
        return run_interactive(&a, addr);
    }
    let cfg = tracker_config(&a.tracker, crate::cli::Format::Jsonl)?;
    let messages = if a.messages.is_empty() {
        vec!["hello".to_string()]
    } else {
        a.messages.clone()
    };

    // Capture first: it must see the very first SYN.
    // The kernel's own trace starts first, so it sees every socket of the demo.
    let kernel = if a.kernel_check {
        // SAFETY: geteuid(2) cannot fail and touches nothing.
        if unsafe { libc::geteuid() } != 0 {
            return Err(UsageError(
                "--kernel-check reads the kernel's own trace (tracefs), which needs root".into(),
            )
            .into());
        }
        Some(KernelTrace::start(&[
            addr.port(),
            addr.port().wrapping_add(1),
        ])?)
    } else {
        None
    };
    let stop = stop_flag()?;
    let log = CallLog::default();
    let here: Vec<&Scenario> = chosen
        .iter()
        .copied()
        .filter(|s| !s.private_netns)
        .collect();
    let apart: Vec<&Scenario> = chosen.iter().copied().filter(|s| s.private_netns).collect();
    let mut passes = Vec::new();
    if !here.is_empty() {
        passes.push(run_pass(&here, addr, &messages, &log, &stop)?);
    }
    if !apart.is_empty() {
        // A thread of its own enters a new network namespace; the threads it starts
        // (capture, server) inherit it, the rest of the process stays where it was.
        let (m, l, st) = (messages.clone(), log.clone(), Arc::clone(&stop));
        let ids: Vec<ScenarioId> = apart.iter().map(|s| s.id).collect();
        let pass = thread::spawn(move || -> anyhow::Result<Pass> {
            let scenarios: Vec<&Scenario> = SCENARIOS.iter().filter(|s| ids.contains(&s.id)).collect();
            enter_private_netns().map_err(|e| {
                UsageError(format!(
                    "{} cannot run here: cannot make a private network namespace ({e}); it needs root",
                    scenarios[0].name()
                ))
            })?;
            run_pass(&scenarios, addr, &m, &l, &st)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))??;
        passes.push(pass);
    }
    let link = passes.first().map_or(LinkType::EN10MB, |p| p.link);
    let mut frames = Vec::new();
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let mut self_ports = Vec::new();
    let mut time_wait = HashSet::new();
    let mut sections = Vec::new();
    for p in passes {
        frames.extend(p.frames);
        notes.extend(p.notes);
        sections.extend(p.sections);
        failures.extend(p.failures);
        self_ports.extend(p.self_ports);
        time_wait.extend(p.time_wait);
    }
    frames.sort_by_key(|f| f.ts);

    let mut ports = vec![addr.port()];
    ports.extend(self_ports);
    let sf = SegmentFilter::ports(&ports);
    // Only the demo's own traffic is drawn and saved (lo may carry other connections).
    frames.retain(|f| {
        let frame = Frame {
            number: 0,
            ts: f.ts,
            link,
            orig_len: f.orig_len,
            data: &f.data,
        };
        decode(&frame).is_ok_and(|seg| sf.matches(&seg))
    });
    let calls = log.calls();
    let inferred = first_pass(&frames, link, &sf, cfg);
    let kernel_report = match kernel {
        Some(trace) => {
            let transitions = trace.finish()?;
            let checks = compare(&inferred, &transitions, &time_wait);
            Some((report(&checks), checks.iter().all(|c| c.passes())))
        }
        None => None,
    };

    // In the listed order, whatever pass ran them.
    sections.sort_by_key(|s| SCENARIOS.iter().position(|x| x.id == s.id));
    let format = draw(
        &a,
        &frames,
        &calls,
        link,
        &sf,
        a.write.as_deref(),
        &sections,
    )?;
    let mut err = std::io::stderr().lock();
    if !sectioned(format) && !matches!(format, crate::cli::Format::Jsonl | crate::cli::Format::None)
    {
        for n in &notes {
            writeln!(err, "note: {n}")?;
        }
    }
    let mut code = ExitCode::SUCCESS;
    if let Some((text, agree)) = kernel_report {
        write!(err, "{text}")?;
        if !agree {
            code = ExitCode::from(1);
        }
    }
    // Whatever the format: a scenario that could not run is an error.
    for f in &failures {
        writeln!(err, "synfin: {f}")?;
        code = ExitCode::from(1);
    }
    Ok(code)
}

/// `-w FILE.pcapng`: every frame, each with the observed calls made since the frame before
/// it as packet comments (`» connect() enter 127.0.0.1:40000`).
fn write_pcapng(
    path: &std::path::Path,
    link: LinkType,
    frames: &[OwnedFrame],
    calls: &[ObservedCall],
) -> anyhow::Result<()> {
    let mut w = PcapNgWriter::create(path, link)?;
    let mut marks: Vec<(Timestamp, String)> = calls
        .iter()
        .flat_map(|c| c.notes())
        .map(|n| (n.t, n.to_comment()))
        .collect();
    marks.sort_by_key(|m| m.0);
    let mut next = 0;
    for (i, f) in frames.iter().enumerate() {
        let last = i + 1 == frames.len();
        let mut comments = Vec::new();
        while next < marks.len() && (marks[next].0 <= f.ts || last) {
            comments.push(marks[next].1.clone());
            next += 1;
        }
        w.write(
            &Frame {
                number: i as u64 + 1,
                ts: f.ts,
                link,
                orig_len: f.orig_len,
                data: &f.data,
            },
            &comments,
        )?;
    }
    w.flush()?;
    Ok(())
}

/// One scenario's stretch of the capture.
struct Section {
    id: ScenarioId,
    about: &'static str,
    from: Timestamp,
    to: Timestamp,
    notes: Vec<String>,
}

impl Section {
    /// The whole capture, with no heading and no notes (the interactive demo).
    fn whole() -> Section {
        Section {
            id: ScenarioId::Basic,
            about: "",
            from: Timestamp(i64::MIN),
            to: Timestamp(i64::MAX),
            notes: Vec::new(),
        }
    }
}

/// What one capture pass gives.
struct Pass {
    link: LinkType,
    frames: Vec<OwnedFrame>,
    notes: Vec<String>,
    /// Scenarios that failed, each with why.
    failures: Vec<String>,
    self_ports: Vec<u16>,
    /// Each scenario run: when it started and ended (capture clock), and its notes.
    sections: Vec<Section>,
    /// Sockets in TIME_WAIT at the end, seen from this pass's namespace.
    time_wait: HashSet<(std::net::SocketAddr, std::net::SocketAddr)>,
}

/// Capture on `lo` (of the calling thread's namespace) while the scenarios run.
fn run_pass(
    scenarios: &[&Scenario],
    addr: std::net::SocketAddr,
    messages: &[String],
    log: &CallLog,
    stop: &AtomicBool,
) -> anyhow::Result<Pass> {
    // Capture first: it must see the very first SYN.
    let capture_stop = Arc::new(AtomicBool::new(false));
    let mut source = LiveSource::open("lo", Arc::clone(&capture_stop), None)?;
    let link = source.link_type();
    let cap = thread::spawn(move || -> anyhow::Result<Vec<OwnedFrame>> {
        let mut frames = Vec::new();
        while let Some(f) = source.next_frame()? {
            frames.push(OwnedFrame::of(&f, usize::MAX));
        }
        Ok(frames)
    });
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let mut self_ports = Vec::new();
    let mut sections = Vec::new();
    for s in scenarios {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let from = super::calls::now();
        let mut ctx = Ctx {
            addr,
            log: log.clone(),
            messages: messages.to_vec(),
            notes: Vec::new(),
        };
        if let Err(e) = (s.run)(&mut ctx) {
            failures.push(format!("scenario {} failed: {e}", s.name()));
        }
        if s.id == ScenarioId::SelfConnect {
            self_ports.extend(
                log.calls()
                    .iter()
                    .filter(|c| c.peer == Some(c.local))
                    .map(|c| c.local.port()),
            );
        }
        for n in &ctx.notes {
            notes.push(format!("{}: {n}", s.name()));
        }
        // Let the last segments (final ACKs, delayed ACKs) reach the capture.
        thread::sleep(Duration::from_millis(250));
        sections.push(Section {
            id: s.id,
            about: s.about,
            from,
            to: super::calls::now(),
            notes: ctx.notes,
        });
    }
    capture_stop.store(true, Ordering::Relaxed);
    let frames = cap
        .join()
        .map_err(|_| anyhow::anyhow!("capture thread panicked"))??;
    Ok(Pass {
        link,
        frames,
        notes,
        failures,
        self_ports,
        sections,
        time_wait: time_wait_sockets(),
    })
}

/// Text formats draw each scenario under its own heading, its notes under it.
fn sectioned(format: crate::cli::Format) -> bool {
    use crate::cli::Format;
    matches!(format, Format::Ladder | Format::Timeline | Format::Summary)
}

/// Render the frames with the observed calls merged in (and save them with `-w`): in the
/// text formats one scenario after another, each under its heading (when there are several)
/// with its notes after it; in the others all at once.
fn draw(
    a: &DemoArgs,
    frames: &[OwnedFrame],
    calls: &[ObservedCall],
    link: LinkType,
    sf: &SegmentFilter,
    write: Option<&std::path::Path>,
    sections: &[Section],
) -> anyhow::Result<crate::cli::Format> {
    let mut output = open_output(&a.output)?;
    output.opts.payload = true;
    let format = output.format;
    match write {
        Some(p) if p.extension().is_some_and(|e| e == "pcapng") => {
            write_pcapng(p, link, frames, calls)?
        }
        Some(p) => {
            let mut w = PcapWriter::create(p, link)?;
            for (i, f) in frames.iter().enumerate() {
                w.write(&frame_of(i, f))?;
            }
            w.flush()?;
        }
        None => {}
    }
    if !sectioned(format) {
        let renderer = output.renderer(ConnFilter::default());
        let out = std::mem::replace(&mut output.out, Box::new(std::io::sink()));
        draw_part(a, frames, calls, link, sf, renderer, out)?;
        return Ok(format);
    }
    let mut out: Box<dyn Write> = Box::new(std::mem::replace(
        &mut output.out,
        Box::new(std::io::sink()),
    ));
    for (k, sec) in sections.iter().enumerate() {
        if sections.len() > 1 {
            if k > 0 {
                writeln!(out)?;
            }
            writeln!(out, "━━ {}: {}", sec.id.name(), sec.about)?;
            writeln!(out)?;
        }
        let part: Vec<OwnedFrame> = frames
            .iter()
            .filter(|f| f.ts >= sec.from && f.ts <= sec.to)
            .cloned()
            .collect();
        let part_calls: Vec<ObservedCall> = calls
            .iter()
            .filter(|c| c.enter >= sec.from && c.enter <= sec.to)
            .cloned()
            .collect();
        let renderer =
            crate::pipeline::output::renderer_for(format, output.opts, ConnFilter::default());
        out = draw_part(a, &part, &part_calls, link, sf, renderer, out)?;
        for n in &sec.notes {
            writeln!(out, "note: {n}")?;
        }
    }
    out.flush()?;
    Ok(format)
}

/// The `i`th frame of a part, numbered from 1 within it.
fn frame_of(i: usize, f: &OwnedFrame) -> Frame<'_> {
    Frame {
        number: i as u64 + 1,
        ..f.frame()
    }
}

/// Track and render `frames` with `calls` merged in; hand the output back.
fn draw_part(
    a: &DemoArgs,
    frames: &[OwnedFrame],
    calls: &[ObservedCall],
    link: LinkType,
    sf: &SegmentFilter,
    renderer: Box<dyn crate::render::Renderer>,
    out: Box<dyn Write>,
) -> anyhow::Result<Box<dyn Write>> {
    let inferred = first_pass(
        frames,
        link,
        sf,
        tracker_config(&a.tracker, crate::cli::Format::Jsonl)?,
    );
    let notes: Vec<CallNote> = calls.iter().flat_map(|c| c.notes()).collect();
    let extra = observed::events(&notes, &observed::spans(&inferred));
    let cfg = tracker_config(&a.tracker, crate::cli::Format::Ladder)?;
    let meta = Meta::synfin("demo", "lo".into(), link.name());
    let mut p = Pipeline::new(Tracker::new(cfg), sf.clone(), renderer, out)
        .with_extra_events(extra)
        .with_replaced_calls(observed::replaced_by(&notes));
    p.start(&meta)?;
    for (i, f) in frames.iter().enumerate() {
        p.frame(&frame_of(i, f))?;
    }
    Ok(p.finish_into()?.1)
}

/// `--interactive`: the lesson's `input('>>: ')` client. Each line typed is sent and echoed
/// back upper-cased, and the ladder is drawn again with what the capture has seen so far;
/// an empty line is skipped (the lesson's fix); Ctrl-D closes.
fn run_interactive(a: &DemoArgs, addr: std::net::SocketAddr) -> anyhow::Result<ExitCode> {
    use std::io::BufRead;
    let capture_stop = Arc::new(AtomicBool::new(false));
    let mut source = LiveSource::open("lo", Arc::clone(&capture_stop), None)?;
    let link = source.link_type();
    let frames = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&frames);
    let cap = thread::spawn(move || -> anyhow::Result<()> {
        while let Some(f) = source.next_frame()? {
            sink.lock()
                .expect("frames lock")
                .push(OwnedFrame::of(&f, usize::MAX));
        }
        Ok(())
    });
    let log = CallLog::default();
    let ctx = Ctx {
        addr,
        log: log.clone(),
        messages: Vec::new(),
        notes: Vec::new(),
    };
    let server = start_echo_server(&ctx, 1)?;
    let mut client = Sock::client(&log, client_addr(addr))?;
    client.connect(addr)?;
    let sf = SegmentFilter::ports(&[addr.port()]);
    let snapshot = |frames: &std::sync::Mutex<Vec<OwnedFrame>>| -> Vec<OwnedFrame> {
        frames.lock().expect("frames lock").to_vec()
    };
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        eprint!(">>: ");
        line.clear();
        if stdin.lock().read_line(&mut line)? == 0 {
            eprintln!();
            break;
        }
        let msg = line.trim_end_matches(['\n', '\r']);
        if msg.is_empty() {
            eprintln!("(empty line: not sent; send(b\"\") would put nothing on the wire and the server's recv() would wait forever)");
            continue;
        }
        client.send(msg.as_bytes())?;
        let reply = client.recv(1024)?;
        eprintln!(
            "<< {}",
            crate::render::escape::preview(&reply, reply.len() as u32)
        );
        // Let the ACKs reach the capture, then draw what it has.
        thread::sleep(Duration::from_millis(50));
        draw(
            a,
            &snapshot(&frames),
            &log.calls(),
            link,
            &sf,
            None,
            &[Section::whole()],
        )?;
    }
    client.close();
    server
        .join()
        .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
    thread::sleep(Duration::from_millis(250));
    capture_stop.store(true, Ordering::Relaxed);
    cap.join()
        .map_err(|_| anyhow::anyhow!("capture thread panicked"))??;
    draw(
        a,
        &snapshot(&frames),
        &log.calls(),
        link,
        &sf,
        a.write.as_deref(),
        &[Section::whole()],
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Track the frames once to learn each connection's id, span and inferred states.
fn first_pass(
    frames: &[OwnedFrame],
    link: LinkType,
    sf: &SegmentFilter,
    cfg: crate::tracker::TrackerConfig,
) -> Vec<Event> {
    let mut tracker = Tracker::new(cfg);
    let mut out = Vec::new();
    let keep = |tracker: &mut Tracker, out: &mut Vec<Event>| {
        while let Some(e) = tracker.poll_event() {
            if matches!(e, Event::Connection(_) | Event::State(_)) {
                out.push(e);
            }
        }
    };
    for (i, f) in frames.iter().enumerate() {
        let frame = Frame {
            number: i as u64 + 1,
            ts: f.ts,
            link,
            orig_len: f.orig_len,
            data: &f.data,
        };
        if let Ok(seg) = decode(&frame) {
            if sf.matches(&seg) {
                tracker.handle_segment(&seg);
            }
        }
        keep(&mut tracker, &mut out);
    }
    tracker.finish();
    keep(&mut tracker, &mut out);
    out
}
