//! `--tui`: the full-screen view on the terminal. The terminal's setup and restoration (on
//! quitting, Ctrl-C, SIGTERM and panic), a thread that reads the terminal's keys into a
//! channel, and the loops that feed the model from a live interface (`watch`) or from files
//! (`replay`, `demo`) and draw it at most `FRAME_INTERVAL` apart. The model and its drawing
//! are `tui`'s (no terminal there).

use crate::capture::live::{LiveSource, Polled};
use crate::capture::pcap_reader::PcapSource;
use crate::capture::pcap_writer::PcapWriter;
use crate::events::Meta;
use crate::filter::{ConnFilter, SegmentFilter};
use crate::frame::{LinkType, OwnedFrame};
use crate::pipeline::{wall_clock, Pipeline, UsageError};
use crate::render::RenderOpts;
use crate::tracker::{Tracker, TrackerConfig};
use crate::tui::export::Exported;
use crate::tui::feed::Feed;
use crate::tui::{Command, Key, Limits, Model};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::cell::RefCell;
use std::io::{self, IsTerminal, Stdout};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most 20 redraws a second.
const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// How long to wait with nothing to draw (the stop flag is looked at this often).
const IDLE: Duration = Duration::from_millis(250);
/// Frames per batch from the file reader.
const BATCH: usize = 1024;

/// What the loop waits for.
enum Input {
    Key(Key),
    Resize(u16, u16),
    Frames(Vec<OwnedFrame>),
    Warning(String),
    End,
}

/// `--tui` needs a terminal on both ends.
pub fn check_terminal() -> anyhow::Result<()> {
    if !io::stdout().is_terminal() {
        return Err(UsageError("--tui draws on a terminal: stdout is not one".into()).into());
    }
    Ok(())
}

/// Whether the terminal is in full-screen mode (set by `Screen::enter`).
static FULL_SCREEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Put the terminal back: raw mode off, the main screen back, the cursor shown. Once: a panic
/// restores in its hook, then unwinding drops the `Screen`, and leaving the alternate screen a
/// second time would move the cursor back to where it was saved, over the panic's message.
fn restore() {
    if !FULL_SCREEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let _ = crossterm::execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// The terminal in full-screen mode, put back when dropped (or on a panic, by the hook,
/// before the panic's message is printed).
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        FULL_SCREEN.store(true, std::sync::atomic::Ordering::SeqCst);
        terminal::enable_raw_mode()?;
        crossterm::execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(Screen { terminal })
    }

    fn draw(&mut self, model: &Model) -> io::Result<()> {
        self.terminal
            .draw(|f| crate::tui::draw::draw(model, f.area(), f.buffer_mut()))
            .map(|_| ())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// The terminal's key as the view's.
fn key_of(k: event::KeyEvent) -> Option<Key> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Interrupt,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// A thread that reads the terminal's events into `tx` (it ends with the process).
fn spawn_keys(tx: SyncSender<Input>) {
    std::thread::spawn(move || loop {
        let input = match event::read() {
            Ok(TermEvent::Key(k)) => match key_of(k) {
                Some(k) => Input::Key(k),
                None => continue,
            },
            Ok(TermEvent::Resize(w, h)) => Input::Resize(w, h),
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(input).is_err() {
            return;
        }
    });
}

/// What a key asked for, done: `true` to quit.
fn carry_out(model: &mut Model, cmd: Option<Command>) -> bool {
    match cmd {
        None => false,
        Some(Command::Quit) => true,
        Some(Command::Filter(text)) => {
            match model.apply_filter(&text, &crate::filter_expr::SystemResolver) {
                Ok(()) if text.trim().is_empty() => model.message = Some("no filter".into()),
                Ok(()) => model.message = Some(format!("filter: {text}")),
                Err(e) => {
                    model.message = Some(format!("filter: {e}"));
                    model.prompt = Some(crate::tui::model::Prompt::Filter(text));
                }
            }
            false
        }
        Some(Command::Export(kind)) => {
            model.message = Some(match model.export(kind) {
                Err(why) => format!("cannot export: {why}"),
                Ok((name, what)) => match write_export(Path::new(&name), what) {
                    Ok(said) => said,
                    Err(e) => format!("cannot write {name}: {e:#}"),
                },
            });
            false
        }
    }
}

/// Write an export to `path`; what to tell.
fn write_export(path: &Path, what: Exported<'_>) -> anyhow::Result<String> {
    match what {
        Exported::Bytes(b) => {
            std::fs::write(path, &b)?;
            Ok(format!("wrote {} ({} bytes)", path.display(), b.len()))
        }
        Exported::Frames(frames, dropped) => {
            let link = frames.first().map_or(LinkType::EN10MB, |f| f.link);
            let mut w = PcapWriter::create(path, link)?;
            for f in &frames {
                w.write(&f.frame())?;
            }
            w.flush()?;
            let mut said = format!(
                "wrote {}: {} frames (the first and last {} kept, each cut to {} bytes)",
                path.display(),
                frames.len(),
                crate::tui::conn::FRAMES_KEPT,
                crate::tui::conn::FRAME_SNAP
            );
            if dropped > 0 {
                said.push_str(&format!(", {dropped} between them not kept"));
            }
            Ok(said)
        }
    }
}

/// Redraws no more often than `FRAME_INTERVAL`.
struct Pacer {
    last: Option<Instant>,
    dirty: bool,
    /// `SYNFIN_LATENCY_LOG`: capture-to-screen times.
    latency: Option<super::latency::LatencyLog>,
}

impl Pacer {
    /// How long to wait for input before the next draw is due.
    fn wait(&self) -> Duration {
        match (self.dirty, self.last) {
            (false, _) => IDLE,
            (true, None) => Duration::ZERO,
            (true, Some(t)) => (t + FRAME_INTERVAL).saturating_duration_since(Instant::now()),
        }
    }

    /// Draw if something changed and it is time.
    fn maybe_draw(&mut self, screen: &mut Screen, model: &Model) -> io::Result<()> {
        if self.dirty && self.wait().is_zero() {
            screen.draw(model)?;
            self.last = Some(Instant::now());
            self.dirty = false;
            // Test builds only: a panic on purpose, so that a test in a real terminal can see
            // the hook put the terminal back (tests/tui_terminal.rs).
            #[cfg(debug_assertions)]
            if std::env::var_os("SYNFIN_TEST_TUI_PANIC").is_some() {
                panic!("SYNFIN_TEST_TUI_PANIC: a panic on purpose, after the first screen");
            }
            if let Some(l) = &mut self.latency {
                l.shown(wall_clock());
            }
        }
        Ok(())
    }
}

/// Handle one input from the terminal; `true` to quit.
fn terminal_input(model: &mut Model, input: Input) -> bool {
    match input {
        Input::Key(k) => {
            let cmd = model.handle_key(k);
            carry_out(model, cmd)
        }
        Input::Resize(w, h) => {
            model.size = (w, h);
            false
        }
        _ => false,
    }
}

fn terminal_size() -> (u16, u16) {
    terminal::size().unwrap_or((80, 24))
}

/// Replay files in the full-screen view: a thread reads them (merged by time, or one after
/// another), this one tracks and draws; the view stays until `q`. Returns the warnings.
pub fn replay(
    model: Rc<RefCell<Model>>,
    p: Pipeline,
    sources: Vec<PcapSource>,
    concatenate: bool,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<String>> {
    let (tx, rx) = sync_channel(16);
    spawn_reader(sources, concatenate, tx.clone());
    let mut screen = Screen::enter()?;
    spawn_keys(tx);
    model.borrow_mut().size = terminal_size();
    let mut pipeline = Some(p);
    let mut warnings = Vec::new();
    let mut pacer = Pacer {
        last: None,
        dirty: true,
        latency: None,
    };
    loop {
        pacer.maybe_draw(&mut screen, &model.borrow())?;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let input = match rx.recv_timeout(pacer.wait()) {
            Ok(i) => i,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        pacer.dirty = true;
        match input {
            Input::Frames(batch) => {
                if let Some(p) = &mut pipeline {
                    for f in &batch {
                        model.borrow_mut().handle_frame(&f.frame());
                        p.frame(&f.frame())?;
                    }
                }
            }
            Input::Warning(w) => {
                model.borrow_mut().message = Some(crate::text::printable(&w).into_owned());
                warnings.push(w);
            }
            Input::End => {
                if let Some(p) = pipeline.take() {
                    p.finish()?;
                }
            }
            other => {
                if terminal_input(&mut model.borrow_mut(), other) {
                    break;
                }
            }
        }
    }
    drop(screen);
    Ok(warnings)
}

/// Read `sources` into `tx` in batches, merged by time (ties in argument order) or one
/// after another, numbering frames 1.. in that order.
fn spawn_reader(mut sources: Vec<PcapSource>, concatenate: bool, tx: SyncSender<Input>) {
    std::thread::spawn(move || {
        let mut heads: Vec<Option<OwnedFrame>> = Vec::new();
        let warn = |tx: &SyncSender<Input>, text: String| {
            let _ = tx.send(Input::Warning(text));
        };
        let next = |s: &mut PcapSource, tx: &SyncSender<Input>| -> Option<OwnedFrame> {
            let got = match s.next_frame() {
                // Numbered again in the merged order.
                Ok(Some(f)) => Some(OwnedFrame::of(&f, usize::MAX)),
                Ok(None) => None,
                Err(e) => {
                    warn(tx, e.to_string());
                    None
                }
            };
            if let Some(w) = s.take_warning() {
                warn(tx, w);
            }
            got
        };
        for s in &mut sources {
            heads.push(next(s, &tx));
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut number = 0u64;
        loop {
            let pick = if concatenate {
                heads.iter().position(Option::is_some)
            } else {
                heads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| h.as_ref().map(|f| (f.ts, i)))
                    .min()
                    .map(|(_, i)| i)
            };
            let Some(i) = pick else { break };
            let mut f = heads[i].take().expect("picked a head");
            heads[i] = next(&mut sources[i], &tx);
            number += 1;
            f.number = number;
            batch.push(f);
            if batch.len() == BATCH && tx.send(Input::Frames(std::mem::take(&mut batch))).is_err() {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Input::Frames(batch));
        }
        let _ = tx.send(Input::End);
    });
}

/// Watch a live interface in the full-screen view until `q`, Ctrl-C or SIGTERM. `count`
/// stops capturing (the view stays) after that many segments. Returns the kernel's drops.
pub fn watch(
    model: Rc<RefCell<Model>>,
    p: Pipeline,
    mut source: LiveSource,
    count: Option<u64>,
    stop: Arc<AtomicBool>,
    mut traced: Option<super::traced::Traced>,
) -> anyhow::Result<u64> {
    let (tx, rx) = sync_channel(64);
    let mut screen = Screen::enter()?;
    spawn_keys(tx);
    model.borrow_mut().size = terminal_size();
    let mut p = Some(p);
    let mut matched = 0u64;
    let mut pacer = Pacer {
        last: None,
        dirty: true,
        latency: super::latency::LatencyLog::from_env(),
    };
    let mut drops = 0;
    'run: loop {
        while let Ok(input) = rx.try_recv() {
            pacer.dirty = true;
            if terminal_input(&mut model.borrow_mut(), input) {
                break 'run;
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Ages grow and the strip moves on with nothing captured: a redraw a second.
        if pacer
            .last
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(1))
        {
            pacer.dirty = true;
        }
        if pacer.dirty {
            let now = wall_clock();
            model.borrow_mut().tick(now);
        }
        pacer.maybe_draw(&mut screen, &model.borrow())?;
        let Some(pipe) = &mut p else {
            // Capture ended (-c, --duration): the view stays until q.
            match rx.recv_timeout(IDLE) {
                Ok(input) => {
                    pacer.dirty = true;
                    if terminal_input(&mut model.borrow_mut(), input) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            continue;
        };
        // Sleep (in poll(2) on the socket) until a frame, the tracker's next deadline, the
        // next draw, or a look at the keys: whichever is first.
        let deadline = pipe
            .tracker
            .poll_timeout()
            .map(|at| Duration::from_nanos(at.since(wall_clock()).max(0) as u64));
        let wait = [
            Some(
                pacer
                    .wait()
                    .max(Duration::from_millis(1))
                    .min(FRAME_INTERVAL),
            ),
            deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        let mut polled = source.poll_for(wait)?;
        let busy_until = Instant::now() + FRAME_INTERVAL;
        let mut ended = false;
        loop {
            match polled {
                Polled::Stopped => {
                    ended = true;
                    break;
                }
                Polled::Idle => {
                    pipe.tick(wall_clock())?;
                    break;
                }
                Polled::Frame => {
                    pacer.dirty = true;
                    let f = source.frame();
                    if let Some(l) = &mut pacer.latency {
                        l.fed(f.ts);
                    }
                    model.borrow_mut().handle_frame(&f);
                    if pipe.frame(&f)? {
                        matched += 1;
                        if count.is_some_and(|c| matched >= c) {
                            ended = true;
                            break;
                        }
                    }
                }
            }
            // Read on without sleeping while frames come, handing over to the screen and
            // the keys at least every FRAME_INTERVAL.
            if Instant::now() >= busy_until {
                break;
            }
            polled = source.poll_for(Some(Duration::ZERO))?;
        }
        // The processes' calls, as the trace tells them (owners for the list).
        if let Some(t) = &mut traced {
            t.feed(pipe)?;
            pacer.dirty = true;
        }
        if ended {
            drops = source.kernel_drops();
            if let Some(pipe) = p.take() {
                pipe.finish()?;
            }
            pacer.dirty = true;
        }
    }
    drop(screen);
    if let Some(pipe) = &mut p {
        // Left while capturing (q, Ctrl-C, SIGTERM): the frames captured until now are still
        // read (a `-w` file keeps them), as without the view.
        stop.store(true, Ordering::Relaxed);
        while source.poll_for(Some(Duration::ZERO))? == Polled::Frame {
            pipe.frame(&source.frame())?;
        }
        drops = source.kernel_drops();
    }
    if let Some(l) = pacer.latency.take() {
        l.write()?;
    }
    Ok(drops)
}

/// The model and a pipeline that feeds it (the command line's verdict filters and `-o` are
/// for the printed views: refused here).
pub fn pipeline(
    meta: &Meta,
    opts: RenderOpts,
    output: &Option<PathBuf>,
    cf: &ConnFilter,
    cfg: TrackerConfig,
    sf: SegmentFilter,
) -> anyhow::Result<(Rc<RefCell<Model>>, Pipeline)> {
    if output.is_some() {
        return Err(UsageError("--tui draws on the terminal: drop -o".into()).into());
    }
    if cf.needs_verdict() {
        return Err(UsageError(
            "--tui filters with an expression (and f in the view); --conn, --state, \
             --outcome and --anomalies are for the printed views"
                .into(),
        )
        .into());
    }
    let model = Rc::new(RefCell::new(Model::new(
        meta.clone(),
        opts,
        Limits::default(),
    )));
    let mut p = Pipeline::new(
        Tracker::new(cfg),
        sf,
        Box::new(Feed(Rc::clone(&model))),
        Box::new(io::sink()),
    );
    p.start(meta)?;
    Ok((model, p))
}

/// `demo --tui`: run the demo's scenarios (their capture saved to a temporary file), then
/// show their connections in the full-screen view.
pub fn demo(mut a: crate::cli::DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    check_terminal()?;
    if a.interactive || a.write.is_some() {
        return Err(UsageError("demo --tui takes neither --interactive nor -w".into()).into());
    }
    let path = std::env::temp_dir().join(format!("synfin-demo-{}.pcap", std::process::id()));
    a.write = Some(path.clone());
    a.output.format = Some(crate::cli::Format::None);
    let opts = RenderOpts {
        color: crate::pipeline::output::decide_color(a.output.color, true),
        payload: a.output.payload,
        max_segments: a.output.max_segments,
        ..RenderOpts::default()
    };
    let cfg = crate::pipeline::config::tracker_config(&a.tracker, crate::cli::Format::Ladder)?;
    let code = crate::demo::run::run(a)?;
    let shown = (|| {
        let source = PcapSource::open(&path, 1)?;
        let meta = Meta::synfin(
            "demo",
            "lo".into(),
            source.link_type().unwrap_or(LinkType::EN10MB).name(),
        );
        let (model, p) = pipeline(
            &meta,
            opts,
            &None,
            &ConnFilter::default(),
            cfg,
            SegmentFilter::default(),
        )?;
        replay(model, p, vec![source], false, crate::pipeline::stop_flag()?)
    })();
    let _ = std::fs::remove_file(&path);
    shown?;
    Ok(code)
}
