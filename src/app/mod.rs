//! Wiring: the command line → a source → the pipeline. With `capture/` and `demo/`, the only
//! code that touches the OS: files, stdout, the environment, signals.

mod allocator;
mod filters;
mod latency;
mod paced_output;
mod replay;
mod traced;
mod tui;
mod watch;

pub use filters::from_args;

use crate::capture::CaptureError;
use crate::cli::{Cli, Cmd};
use crate::pipeline::UsageError;
use std::io;
use std::process::ExitCode;

/// Run the command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    allocator::tune();
    let result = match cli.cmd {
        Cmd::Replay(a) => replay::run(a),
        Cmd::Watch(a) => watch::run(a),
        Cmd::Demo(a) if a.tui => tui::demo(a),
        Cmd::Demo(a) => crate::demo::run::run(a),
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "synfin", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    };
    result.map_err(with_privilege_hint)
}

/// A capture refused for want of privileges: say how to run this very command with them.
fn with_privilege_hint(e: anyhow::Error) -> anyhow::Error {
    let Some(CaptureError::PermissionDenied { iface }) =
        e.chain().find_map(|c| c.downcast_ref::<CaptureError>())
    else {
        return e;
    };
    let args: Vec<String> = std::env::args().collect();
    let shell_safe = |a: &String| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./:=,+-@%".contains(c))
    };
    // As typed when it names a path (./target/release/synfin), else the real path.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "synfin".into());
    let typed = match args.first() {
        Some(a0) if a0.contains('/') && shell_safe(a0) => a0.clone(),
        _ => exe.clone(),
    };
    let rest = if args[1..].iter().all(shell_safe) {
        args[1..].join(" ")
    } else {
        args.get(1).cloned().unwrap_or_default()
    };
    UsageError(format!(
        "capturing on {iface} needs root or CAP_NET_RAW: run `sudo {typed} {rest}`, or once \
         `sudo setcap cap_net_raw,cap_net_admin=eip {exe}`"
    ))
    .into()
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
