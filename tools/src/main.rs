//! `plastic`: the front door for people — quantize, evaluate, inspect and visualise
//! checkpoints, benchmark the training and inference paths, and fetch the datasets.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod calibrate;
mod chart;
mod compare;
mod dataset;
mod eval;
mod export;
mod fetch;
mod inspect;
mod io;
mod quantize;
mod viz;

/// Work with plastic checkpoints.
#[derive(Debug, Parser)]
#[command(name = "plastic", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Quantize an f32 checkpoint to int8 weights with one f32 scale per output row.
    Quantize(quantize::Args),
    /// Measure a convolutional model's channel statistics on training images and save them
    /// with it: the reference a learning device brings its channels back to.
    Calibrate(calibrate::Args),
    /// Accuracy of an f32 or int8 checkpoint on a test set, computed by the runtime.
    Eval(eval::Args),
    /// Print a checkpoint's spec, tensors, provenance and metrics.
    Inspect(inspect::Args),
    /// Pictures of a checkpoint.
    #[command(subcommand)]
    Viz(viz::Command),
    /// Time the training and inference paths against their baselines; prints a table.
    Bench(bench::Args),
    /// Train every model at equal settings and compare accuracy, time and size.
    Compare(compare::Args),
    /// Write a checkpoint as an ONNX graph that computes the runtime's scores from pixels.
    Export(export::Args),
    /// Download MNIST or Fashion-MNIST into --data-dir, each file SHA-256 verified (CIFAR-10:
    /// prints where to get it and the layout).
    Fetch(fetch::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Quantize(a) => quantize::run(a),
        Command::Calibrate(a) => calibrate::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Viz(c) => viz::run(c),
        Command::Bench(a) => bench::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Export(a) => export::run(a),
        Command::Fetch(a) => fetch::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
