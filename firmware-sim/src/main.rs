//! `plastic-sim`: runs the simulated device and prints its summary.
//!
//! Exit code 0 only on success; on failure one `error:` line says what went wrong and a
//! `hint:` line how to fix it.

use std::process::ExitCode;

use clap::Parser;
use plastic_sim::cli::{self, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(hint) = err.downcast_ref::<plastic_sim::Error>().map(|e| e.hint()) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let summary = cli::run(args, &mut std::io::stderr())?;
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    Ok(())
}
