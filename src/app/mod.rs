//! Wiring: the command line → a source → the pipeline. With `capture/` and `demo/`, the only
//! code that touches the OS: files, stdout, the environment, signals.

mod filters;
mod replay;
mod watch;

pub use filters::from_args;

use crate::capture::CaptureError;
use crate::cli::{Cli, Cmd};
use crate::pipeline::UsageError;
use std::io;
use std::process::ExitCode;

/// Run the command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Replay(a) => replay::run(a),
        Cmd::Watch(a) => watch::run(a),
        Cmd::Demo(a) => crate::demo::run::run(a),
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
