//! `plastic compare`: every model the trainer makes, trained on the same data with the same
//! seed, epoch budget and minibatch size, then quantized and evaluated by the runtime. Writes
//! `table.md`, `table.json`, the checkpoints, and `accuracy.svg` (test accuracy per epoch of
//! every model on one chart).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use plastic_runtime::Model;
use plastic_trainer::ModelKind;
use plastic_trainer::data::{self, DatasetKind, Split};
use plastic_trainer::device::{DeviceChoice, device_name};
use plastic_trainer::experiment::{RunOptions, TrainingRun, train_model};
use plastic_trainer::preset::Preset;
use serde_json::json;

use crate::chart::{Axes, Curve, accuracy_chart, bar_chart};
use crate::dataset;
use crate::io::{print_stdout, write_atomically};
use crate::quantize::{int8_metrics, quantize};

/// Arguments of `plastic compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset (a model trains with its `<model>-<dataset>` preset where one exists, else with
    /// its MNIST one).
    #[arg(long, value_enum, ignore_case = true, default_value_t = DatasetKind::Mnist)]
    dataset: DatasetKind,
    /// Folder holding the dataset's folder; defaults to $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Epoch budget of every model (Krotov models: unsupervised and readout epochs each).
    #[arg(long, default_value_t = 10, conflicts_with = "preset_budgets")]
    epochs: usize,
    /// Train every model at its preset's own epochs instead of `--epochs` (the full
    /// schedules; a GPU run).
    #[arg(long, conflicts_with = "quick")]
    preset_budgets: bool,
    /// Where to train: `auto` takes the GPU when this build has CUDA and one answers.
    #[arg(long, value_enum, ignore_case = true, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Minibatch size of every model and phase.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Seed of every model.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A quick version: 20,000 training and 5,000 test images, 5 epochs, smaller layers.
    #[arg(long)]
    quick: bool,
    /// Only these models, comma-separated (default: all of them).
    #[arg(long, value_delimiter = ',', value_parser = ModelKind::value_parser())]
    models: Vec<ModelKind>,
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

fn preset_for(model: ModelKind, args: &Args, epochs: usize) -> anyhow::Result<Preset> {
    // The dataset's own preset where there is one (CIFAR-10's CNN pads its convolutions),
    // else the MNIST one: the widths follow the input.
    let own = format!("{model}-{}", args.dataset.name());
    let name = if Preset::names().contains(&own.as_str()) {
        own
    } else {
        format!("{model}-mnist")
    };
    let mut p = Preset::load(&name)?;
    if !args.preset_budgets {
        p.set_epochs(epochs);
        if let Ok(r) = p.readout_mut() {
            r.epochs = epochs;
        }
    }
    p.set_batch(args.batch);
    // Quick runs narrow the wide layers; the CNNs' heads are small already; SoftHebb's
    // blocks keep an eighth of their channels (12, 48, 192).
    if args.quick && model == ModelKind::SoftHebb {
        p.narrow_softhebb(8);
    } else if args.quick && !model.is_cnn() {
        p.set_hidden(if model.is_krotov() { 400 } else { 256 });
    }
    Ok(p)
}

/// Runs `plastic compare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let kind = args.dataset;
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
    let device = args.device.open()?;
    eprintln!("compare: training on {}", device_name(&device));
    let options = RunOptions {
        seed: args.seed,
        device_name: device_name(&device).into(),
        progress: true,
    };
    let mut entries = Vec::new();
    let chosen = ModelKind::ALL
        .into_iter()
        .filter(|m| args.models.is_empty() || args.models.contains(m));
    for model in chosen {
        eprintln!("compare: training {model}");
        let preset = preset_for(model, &args, epochs)?;
        let start = Instant::now();
        let ckpt = train_model(
            model,
            &TrainingRun {
                preset: &preset,
                kind,
                split: &split,
                device: &device,
                options: &options,
            },
        )?;
        let train_seconds = start.elapsed().as_secs_f64();
        let f32_bytes = ckpt.to_bytes()?;
        let mut q = quantize(&ckpt);
        let f32_accuracy = dataset::score(&Model::from_checkpoint(&ckpt)?, &split.test)?.accuracy();
        let int8_score = dataset::score(&Model::from_checkpoint(&q)?, &split.test)?;
        let int8_accuracy = int8_score.accuracy();
        // The int8 file records what it scored, as `plastic quantize --measure` does.
        q.metrics = int8_metrics(kind, int8_score);
        let int8_bytes = q.to_bytes()?;
        write_atomically(&args.out.join(format!("{model}.safetensors")), &f32_bytes)?;
        write_atomically(
            &args.out.join(format!("{model}.int8.safetensors")),
            &int8_bytes,
        )?;
        let metrics = &ckpt.metrics;
        let curve = metrics["test_accuracy_per_epoch"]
            .as_array()
            .or_else(|| metrics["test_accuracy_per_readout_epoch"].as_array())
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        entries.push(Entry {
            model: model.name(),
            f32_accuracy,
            int8_accuracy,
            train_seconds,
            f32_bytes: f32_bytes.len(),
            int8_bytes: int8_bytes.len(),
            curve,
        });
    }
    let setting = format!(
        "{} ({} train / {} test images), seed {}, {}, minibatch {}, on {}{}",
        kind.name(),
        split.train.len(),
        split.test.len(),
        args.seed,
        if args.preset_budgets {
            "each preset's own epochs".to_string()
        } else {
            format!("{epochs} epochs per phase")
        },
        args.batch,
        device_name(&device),
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
        "\nTest accuracy per epoch (readout epochs for the Krotov models; the FA head's for \
         cnn-fa): `accuracy.svg`. Train time, int8 checkpoint size and int8 accuracy: `cost.svg`.\n",
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
    let names: Vec<&str> = entries.iter().map(|e| e.model).collect();
    let panel = |title, value: &dyn Fn(&Entry) -> (f64, String)| -> crate::chart::Panel<'_> {
        (title, entries.iter().map(value).collect())
    };
    let cost = bar_chart(
        &names,
        &[
            panel("train time", &|e| {
                (e.train_seconds, format!("{:.0} s", e.train_seconds))
            }),
            panel("int8 checkpoint", &|e| {
                let mb = e.int8_bytes as f64 / 1e6;
                (mb, format!("{mb:.2} MB"))
            }),
            panel("int8 test accuracy", &|e| {
                (e.int8_accuracy, format!("{:.2} %", e.int8_accuracy * 100.0))
            }),
        ],
    );
    write_atomically(&args.out.join("cost.svg"), cost.as_bytes())?;
    print_stdout(&md)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
