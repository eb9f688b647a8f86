//! `plastic-train`: trains a model from a preset and writes a `plastic/1` checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use plastic_trainer::ModelKind;
use plastic_trainer::data::{self, DatasetKind};
use plastic_trainer::device::{DeviceChoice, device_name};
use plastic_trainer::experiment::{RunOptions, TrainingRun, learned_nothing, train_model};
use plastic_trainer::preset::Preset;

/// Train a biologically plausible model and write its checkpoint.
#[derive(Debug, Parser)]
#[command(name = "plastic-train", version)]
struct Args {
    /// Model: `krotov` (Krotov-Hopfield layer + power/tanh readout), `krotov-linear`, `mlp-bp`,
    /// `mlp-fa`, `mlp-dfa`, `mlp-ss`, `hebbnet`, `cnn` (trained by backprop), `cnn-fa` (its
    /// convolutions frozen under a head trained by feedback alignment) or `softhebb`
    /// (convolutions learned by SoftHebb's soft winner-take-all rule under a linear readout).
    #[arg(value_parser = ModelKind::value_parser())]
    model: ModelKind,
    /// Dataset to train and test on.
    #[arg(long, value_enum, ignore_case = true, default_value_t = DatasetKind::Mnist)]
    dataset: DatasetKind,
    /// Folder holding the dataset's folder (or the dataset's folder itself); defaults to
    /// $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Preset name or TOML file; defaults to `<model>-<dataset>`.
    #[arg(long)]
    preset: Option<String>,
    /// Override the epochs of the preset (of each phase of `cnn-fa`; of the unsupervised layer
    /// of a Krotov model).
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the readout epochs of the preset.
    #[arg(long)]
    readout_epochs: Option<usize>,
    /// Override the width of the hidden layers (a CNN's: of its fully connected head).
    #[arg(long)]
    hidden: Option<usize>,
    /// Train on the first N training samples only (quick runs, tests).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Seed of init and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to train: `auto` takes the GPU when this build has CUDA and one answers.
    #[arg(long, value_enum, ignore_case = true, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
    /// Print the final metrics and the checkpoint's path as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Where to write the checkpoint.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let kind = args.dataset;
    let preset_name = args
        .preset
        .clone()
        .unwrap_or_else(|| format!("{}-{}", args.model, kind.name()));
    let mut preset = Preset::load(&preset_name)?;
    if let Some(e) = args.epochs {
        preset.set_epochs(e);
    }
    if let Some(e) = args.readout_epochs {
        preset.readout_mut()?.epochs = e;
    }
    if let Some(h) = args.hidden {
        preset.set_hidden(h);
    }
    let device = args.device.open()?;
    let dir = data::dataset_folder(kind, args.data_dir.as_deref())?;
    let mut split = data::load(kind, &dir)?;
    if let Some(limit) = args.train_limit {
        split.train = split.train.take(limit);
    }
    eprintln!(
        "training {} on {} ({} train / {} test samples) with preset {preset_name} on {} ({} CPU threads)",
        args.model,
        kind.name(),
        split.train.len(),
        split.test.len(),
        device_name(&device),
        rayon::current_num_threads()
    );
    let options = RunOptions {
        seed: args.seed,
        device_name: device_name(&device).into(),
        progress: !args.quiet,
    };
    let ckpt = train_model(
        args.model,
        &TrainingRun {
            preset: &preset,
            kind,
            split: &split,
            device: &device,
            options: &options,
        },
    )?;
    plastic_runtime::persist::write_atomically(&args.out, &ckpt.to_bytes()?)
        .with_context(|| format!("could not write {}", args.out.display()))?;
    eprintln!(
        "test accuracy {:.2} % in {:.0} s; wrote {}",
        ckpt.metrics["test_accuracy"].as_f64().unwrap_or(0.0) * 100.0,
        ckpt.train["wall_seconds"].as_f64().unwrap_or(0.0),
        args.out.display()
    );
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "model": args.model.name(),
                "dataset": kind.name(),
                "preset": preset_name,
                "out": args.out.display().to_string(),
                "metrics": ckpt.metrics,
                "device": ckpt.train["device"],
                "wall_seconds": ckpt.train["wall_seconds"],
                "epoch_seconds_mean": ckpt.train.get("epoch_seconds_mean"),
                "unsupervised_epoch_seconds_mean": ckpt.train.get("unsupervised_epoch_seconds_mean"),
                "readout_epoch_seconds_mean": ckpt.train.get("readout_epoch_seconds_mean"),
            })
        );
    }
    let accuracy = ckpt.metrics["test_accuracy"].as_f64().unwrap_or(0.0);
    if learned_nothing(accuracy, kind.classes().len()) {
        bail!(
            "{:.2} % is chance level: the model learned nothing (the checkpoint is kept for \
             inspection). {}",
            accuracy * 100.0,
            if args.model == ModelKind::Krotov {
                "A power/tanh readout on a dense hidden code saturates at once: raise the \
                 readout's `n` (the paper uses 10 on CIFAR-10) or lower its `beta`"
            } else {
                "Lower the preset's learning rates, or check the data"
            }
        );
    }
    Ok(())
}
