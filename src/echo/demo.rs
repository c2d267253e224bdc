//! `synfin demo`.
use crate::cli::DemoArgs;
use std::process::ExitCode;

/// Run the demo.
pub fn run(_a: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("demo: being built")
}
