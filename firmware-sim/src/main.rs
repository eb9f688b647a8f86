//! `plastic-sim`: runs the simulated device and prints its summary.
//!
//! Exit code 0 only on success; on failure one `error:` line says what went wrong and a
//! `hint:` line how to fix it. SIGINT and SIGTERM end the run between frames: the device saves
//! what it learned, prints its summary and exits 0, as a device told to shut down would. A
//! second signal while it is finishing ends the process at once (exit 130).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as it was before this signal: a second
        // signal exits at once, the first only sets the flag.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let summary = cli::run_until(args, Some(stop), &mut std::io::stderr())?;
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    Ok(())
}
