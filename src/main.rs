//! The `synfin` binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = synfin::cli::Cli::parse();
    match synfin::app::run(cli) {
        Ok(code) => code,
        Err(e) => {
            if synfin::app::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // The message may hold names from outside (a file name): no raw control bytes.
            eprintln!("synfin: {}", synfin::text::printable(&format!("{e:#}")));
            ExitCode::from(synfin::app::exit_code_of(&e))
        }
    }
}
