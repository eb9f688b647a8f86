//! `plastic compare`: every model the trainer makes, trained on the same data with the same
//! seed, epoch budget and minibatch size, then quantized and evaluated by the runtime. Writes
//! `table.md`, `table.json`, the checkpoints, and `accuracy.svg` (test accuracy per epoch of
//! every model on one chart).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use plastic_runtime::Model;
use plastic_trainer::data::{self, DatasetKind, Split};
use plastic_trainer::experiment::{MODELS, RunOptions, train_model};
use plastic_trainer::features::runtime_correct_count;
use plastic_trainer::preset::Preset;
use serde_json::json;

use crate::chart::{Axes, Curve, accuracy_chart};
use crate::io::write_atomically;
use crate::quantize::quantize;

/// Arguments of `plastic compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// mnist, fashion-mnist or cifar10 (presets exist for mnist; the others reuse them).
    #[arg(long, default_value = "mnist")]
    dataset: String,
    /// Folder holding the dataset's folder; defaults to $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Epoch budget of every model (Krotov models: unsupervised and readout epochs each).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Minibatch size of every model and phase.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Seed of every model.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A quick version: 20,000 training and 5,000 test images, 5 epochs, smaller layers.
    #[arg(long)]
    quick: bool,
    /// Folder for the report.
    #[arg(long)]
    out: PathBuf,
}

struct Entry {
    model: &'static str,
    f32_accuracy: f64,
    int8_accuracy: f64,
    train_seconds: f64,
    f32_bytes: usize,
    int8_bytes: usize,
    curve: Vec<f64>,
}

fn preset_for(model: &str, args: &Args, epochs: usize) -> anyhow::Result<Preset> {
    let mut p = Preset::load(&format!("{model}-mnist"))?;
    if model.starts_with("krotov") {
        let k = p.krotov_mut()?;
        k.epochs = epochs;
        k.batch = args.batch;
        if args.quick {
            k.hidden = 400;
        }
        let r = p.readout_mut()?;
        r.epochs = epochs;
        r.batch = args.batch;
    } else if model == "hebbnet" {
        let h = p.hebbnet_mut()?;
        h.epochs = epochs;
        h.batch = args.batch;
        if args.quick {
            h.hebbian.iter_mut().for_each(|w| *w = 256);
        }
    } else {
        let m = p.mlp_mut()?;
        m.epochs = epochs;
        m.batch = args.batch;
        if args.quick {
            m.hidden.iter_mut().for_each(|w| *w = 256);
        }
    }
    Ok(p)
}

/// Runs `plastic compare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let kind = DatasetKind::parse(&args.dataset)?;
    let mut split = data::load(kind, &data::dataset_folder(kind, args.data_dir.as_deref())?)?;
    let epochs = if args.quick { 5 } else { args.epochs };
    if args.quick {
        split = Split {
            train: split.train.take(20_000),
            test: split.test.take(5_000),
        };
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("could not create {}", args.out.display()))?;
    let options = RunOptions {
        seed: args.seed,
        device_name: "cpu".into(),
        progress: true,
    };
    let mut entries = Vec::new();
    for model in MODELS {
        eprintln!("compare: training {model}");
        let preset = preset_for(model, &args, epochs)?;
        let start = Instant::now();
        let ckpt = train_model(model, &preset, kind, &split, &Device::Cpu, &options)?;
        let train_seconds = start.elapsed().as_secs_f64();
        let f32_bytes = ckpt.to_bytes()?;
        let q = quantize(&ckpt);
        let int8_bytes = q.to_bytes()?;
        write_atomically(&args.out.join(format!("{model}.safetensors")), &f32_bytes)?;
        write_atomically(
            &args.out.join(format!("{model}.int8.safetensors")),
            &int8_bytes,
        )?;
        let n = split.test.len().max(1) as f64;
        let f32_accuracy =
            runtime_correct_count(&Model::from_checkpoint(&ckpt)?, &split.test)? as f64 / n;
        let int8_accuracy =
            runtime_correct_count(&Model::from_checkpoint(&q)?, &split.test)? as f64 / n;
        let metrics = &ckpt.metrics;
        let curve = metrics["test_accuracy_per_epoch"]
            .as_array()
            .or_else(|| metrics["test_accuracy_per_readout_epoch"].as_array())
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        entries.push(Entry {
            model,
            f32_accuracy,
            int8_accuracy,
            train_seconds,
            f32_bytes: f32_bytes.len(),
            int8_bytes: int8_bytes.len(),
            curve,
        });
    }
    let setting = format!(
        "{} ({} train / {} test images), seed {}, {} epochs per phase, minibatch {}{}",
        kind.name(),
        split.train.len(),
        split.test.len(),
        args.seed,
        epochs,
        args.batch,
        if args.quick {
            ", --quick (smaller layers)"
        } else {
            ""
        }
    );
    let mut md = format!(
        "# plastic compare\n\n{setting}; accuracies computed by the runtime.\n\n\
         | model | test accuracy f32 | int8 | train time | checkpoint f32 | int8 |\n\
         |---|---|---|---|---|---|\n"
    );
    for e in &entries {
        writeln!(
            md,
            "| {} | {:.2} % | {:.2} % | {:.1} s | {:.2} MB | {:.2} MB |",
            e.model,
            e.f32_accuracy * 100.0,
            e.int8_accuracy * 100.0,
            e.train_seconds,
            e.f32_bytes as f64 / 1e6,
            e.int8_bytes as f64 / 1e6
        )?;
    }
    md.push_str(
        "\nTest accuracy per epoch (readout epochs for the Krotov models): `accuracy.svg`.\n",
    );
    let table = json!({
        "setting": setting,
        "models": entries.iter().map(|e| json!({
            "model": e.model,
            "accuracy_f32": e.f32_accuracy,
            "accuracy_int8": e.int8_accuracy,
            "train_seconds": e.train_seconds,
            "checkpoint_bytes_f32": e.f32_bytes,
            "checkpoint_bytes_int8": e.int8_bytes,
            "test_accuracy_per_epoch": e.curve,
        })).collect::<Vec<_>>(),
    });
    write_atomically(&args.out.join("table.md"), md.as_bytes())?;
    write_atomically(&args.out.join("table.json"), table.to_string().as_bytes())?;
    let curves: Vec<Curve<'_>> = entries
        .iter()
        .map(|e| (e.model, e.curve.iter().copied().map(Some).collect()))
        .collect();
    let epochs = entries.iter().map(|e| e.curve.len()).max().unwrap_or(0);
    let axes = Axes {
        x_label: &format!("epoch (1 to {epochs})"),
        ..Axes::default()
    };
    write_atomically(
        &args.out.join("accuracy.svg"),
        accuracy_chart(&curves, &axes).as_bytes(),
    )?;
    print!("{md}");
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
