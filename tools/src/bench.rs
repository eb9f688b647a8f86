//! `plastic bench`: times our training and inference paths against a baseline in the same run
//! and prints a Markdown table. Ratios are what to compare; the machine may be busy.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{Device, Tensor};
use plastic_models::{Activation, Checkpoint, LayerKind, Preprocess};
use plastic_runtime::Model;
use plastic_runtime::learn::krotov::KrotovParams;
use plastic_runtime::policy::LearningPolicy;
use plastic_trainer::data::{self, DatasetKind};
use plastic_trainer::device::{DeviceChoice, device_name};
use plastic_trainer::features;
use plastic_trainer::krotov::{self, KrotovConfig};
use plastic_trainer::labelled::Labelled;
use plastic_trainer::readout::{self, Head, ReadoutConfig};

use crate::io::print_stdout;

/// Arguments of `plastic bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding `mnist/`; defaults to $PLASTIC_DATA or ../shared/data.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Hidden units of the Krotov layer.
    #[arg(long, default_value_t = 2000)]
    hidden: usize,
    /// Minibatches the dense baseline runs (its epoch time is extrapolated from them).
    #[arg(long, default_value_t = 30)]
    baseline_batches: usize,
    /// Frames timed per inference path.
    #[arg(long, default_value_t = 2000)]
    frames: usize,
    /// Time inference and on-device learning on this checkpoint instead of random weights of
    /// the same shape.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Only the inference and on-device learning rows (no training, no dataset needed).
    #[arg(long)]
    inference_only: bool,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Where the training rows run (inference rows always time the runtime on the CPU):
    /// `auto` takes the GPU when this build has CUDA and one answers. On a GPU, a row also
    /// checks the CUDA Krotov step against the CPU's.
    #[arg(long, value_enum, ignore_case = true, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

struct Row {
    key: &'static str,
    what: String,
    ours: f64,
    baseline: f64,
    unit: &'static str,
    baseline_name: String,
}

impl Row {
    /// A row timed in microseconds against one int8 inference of `i8_us`.
    fn against_int8(key: &'static str, what: String, us: f64, i8_us: f64) -> Self {
        Self {
            key,
            what,
            ours: us,
            baseline: i8_us,
            unit: "us",
            baseline_name: "one int8 inference".into(),
        }
    }
}

/// Runs `plastic bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut rows = if args.inference_only {
        Vec::new()
    } else {
        training_rows(&args)?
    };
    rows.extend(device_rows(&args)?);
    if args.json {
        let map: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                (
                    r.key.to_string(),
                    serde_json::json!({"ours": r.ours, "baseline": r.baseline, "unit": r.unit}),
                )
            })
            .collect();
        return print_stdout(&format!("{}\n", serde_json::Value::Object(map)));
    }
    let mut table = String::from("| what | ours | baseline | baseline is | speed-up |\n");
    table.push_str("|---|---|---|---|---|\n");
    for r in rows {
        // A check row (an agreement, baseline 0) has no speed-up.
        let ratio = if r.baseline > 0.0 {
            format!("{:.2}x", r.baseline / r.ours)
        } else {
            "-".into()
        };
        table.push_str(&format!(
            "| {} | {} {} | {} {} | {} | {ratio} |\n",
            r.what,
            number(r.ours),
            r.unit,
            number(r.baseline),
            r.unit,
            r.baseline_name,
        ));
    }
    print_stdout(&table)
}

/// Three decimals, or three significant digits for values below 0.01 (a weight difference).
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// The unsupervised epoch and the readout epoch, against the reference algorithm's structure.
fn training_rows(args: &Args) -> anyhow::Result<Vec<Row>> {
    let dir = data::dataset_folder(DatasetKind::Mnist, args.data_dir.as_deref())?;
    let split = data::load(DatasetKind::Mnist, &dir)?;
    let x = features::inputs(&split.train, &Preprocess::UnitNorm)?;
    let n = split.train.sample_len();
    let samples = split.train.len();
    let params = KrotovParams {
        p: 3.0,
        k: 7,
        delta: 0.4,
    };
    let cfg = KrotovConfig {
        hidden: args.hidden,
        params,
        eps0: 0.02,
        epochs: 1,
        batch: 100,
        init_std: 1.0,
    };
    let dev = args.device.open()?;
    let on = device_name(&dev);
    let mut rows = Vec::new();
    // On a GPU the first epoch also loads the kernels and uploads the data: time the second.
    let epochs = if dev.is_cpu() { 1 } else { 2 };
    eprintln!(
        "timing the unsupervised epoch ({} hidden, {samples} samples, on {on})...",
        args.hidden
    );
    let mut ours = 0.0;
    let w = krotov::train(
        &x,
        n,
        &KrotovConfig {
            epochs,
            ..cfg.clone()
        },
        0,
        &dev,
        |e| ours = f64::from(e.seconds),
    )?;

    eprintln!(
        "timing the dense baseline on {} minibatches...",
        args.baseline_batches
    );
    let mut wt = Tensor::from_slice(&w, (args.hidden, n), &dev)?;
    let mut time_dense = |batches: usize| -> anyhow::Result<f64> {
        let start = Instant::now();
        for b in 0..batches {
            let at = (b * 100) % (samples - 100);
            let v = Tensor::from_slice(&x[at * n..(at + 100) * n], (100, n), &dev)?;
            wt = krotov::dense_step(&wt, &v, params, 0.01)?;
        }
        Ok(start.elapsed().as_secs_f64())
    };
    time_dense(2)?; // warm-up: kernel loading on a GPU
    let dense = time_dense(args.baseline_batches)? / args.baseline_batches as f64
        * samples.div_ceil(100) as f64;
    rows.push(Row {
        key: "krotov_epoch",
        what: format!("Krotov epoch, {} hidden, full MNIST, on {on}", args.hidden),
        ours,
        baseline: dense,
        unit: "s",
        baseline_name: format!(
            "dense update + full power matrix per minibatch (reference algorithm, candle, {on})"
        ),
    });
    if !dev.is_cpu() {
        rows.push(agreement_row(&x[..2000 * n], n, &cfg, &dev)?);
    }

    eprintln!("timing readout epochs...");
    let act = Activation::RectifiedPower { n: 4.5 };
    let start = Instant::now();
    let h = readout::hidden_activations(&x, n, &w, &act, &dev)?;
    let cache = start.elapsed().as_secs_f64();
    let labels = features::labels(&split.train);
    let rcfg = ReadoutConfig {
        epochs: 1,
        batch: 100,
        lr0: 1e-3,
        lr_end: 1e-3,
    };
    let h_test = h.narrow(0, 0, 1000)?;
    let start = Instant::now();
    let cached = Labelled {
        x_train: &h,
        y_train: &labels,
        x_test: &h_test,
        y_test: &labels[..1000],
    };
    readout::train(
        cached,
        10,
        Head::PowerTanh { beta: 1.0, m: 6.0 },
        &rcfg,
        0,
        |_| {},
    )?;
    let epoch = start.elapsed().as_secs_f64();
    rows.push(Row {
        key: "readout_epoch",
        what: "readout epoch (power/tanh), cached activations".into(),
        ours: epoch,
        baseline: epoch + cache,
        unit: "s",
        baseline_name: "recomputing the frozen layer every epoch (reference code)".into(),
    });

    Ok(rows)
}

/// Two epochs of a 400-unit layer on 2000 samples, on `dev` and on the CPU from the same
/// seed: the largest difference of a weight, with the CPU path as the baseline column's
/// (zero). A ranking tie broken differently by the two products' rounding moves a whole row,
/// so the row also counts the rows that differ by more than 1e-3.
fn agreement_row(x: &[f32], n: usize, cfg: &KrotovConfig, dev: &Device) -> anyhow::Result<Row> {
    let small = KrotovConfig {
        hidden: 400,
        epochs: 2,
        ..cfg.clone()
    };
    let on_device = krotov::train(x, n, &small, 1, dev, |_| {})?;
    let on_cpu = krotov::train(x, n, &small, 1, &Device::Cpu, |_| {})?;
    let mut largest = 0.0f32;
    let mut rows_apart = 0;
    for (a, b) in on_device.chunks(n).zip(on_cpu.chunks(n)) {
        let d = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        largest = largest.max(d);
        rows_apart += usize::from(d > 1e-3);
    }
    Ok(Row {
        key: "krotov_agreement",
        what: format!(
            "largest weight difference, {} step vs CPU step (2 epochs, 400 units; {rows_apart} of 400 rows apart by > 1e-3)",
            device_name(dev)
        ),
        ours: f64::from(largest),
        baseline: 0.0,
        unit: "",
        baseline_name: "the CPU's sparse step".into(),
    })
}

/// Inference per frame (int8 against f32) and one on-device learning step, batch 1, one
/// thread.
fn device_rows(args: &Args) -> anyhow::Result<Vec<Row>> {
    eprintln!("timing inference and on-device learning...");
    let ckpt = match &args.model {
        Some(path) => crate::io::read_checkpoint(path)?,
        None => random_krotov_model(args.hidden)?,
    };
    let model = Model::from_checkpoint(&ckpt)?;
    let (f32_model, int8) = match model.precision() {
        plastic_runtime::Precision::F32 => (model.clone(), model.quantized()),
        plastic_runtime::Precision::Int8 => {
            anyhow::bail!("bench inference from an f32 checkpoint (the int8 one is made from it)")
        }
    };
    let n = ckpt.spec.input_len();
    let hidden = ckpt.spec.layers[0].outputs;
    let krotov = matches!(ckpt.spec.layers[0].kind, LayerKind::Krotov { .. });
    let mut rng = plastic_trainer::rng::seeded(2);
    let frames: Vec<Vec<f32>> = (0..args.frames.max(1))
        .map(|_| {
            let v: Vec<f32> = (0..n).map(|_| rng.next_f32().max(0.0)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect();
    let per_frame = |m: &Model| -> anyhow::Result<f64> {
        let mut ws = m.workspace();
        for f in frames.iter().take(100) {
            m.infer(f, &mut ws)?;
        }
        let start = Instant::now();
        for f in &frames {
            m.infer(f, &mut ws)?;
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / frames.len() as f64)
    };
    let (f32_us, i8_us) = (per_frame(&f32_model)?, per_frame(&int8)?);
    let mut rows = vec![Row {
        key: "infer_int8_us",
        what: format!("inference {n}-{hidden}-10, batch 1, one thread, int8"),
        ours: i8_us,
        baseline: f32_us,
        unit: "us",
        baseline_name: "the runtime's f32 path".into(),
    }];
    let q = crate::quantize::quantize(&ckpt);
    if !krotov {
        rows[0].what = format!(
            "inference of `{}`, batch 1, one thread, int8",
            ckpt.spec.name
        );
        rows.extend(readout_frame_rows(&q, &frames, i8_us)?);
        return Ok(rows);
    }
    use plastic_runtime::plastic::MasterPrecision;
    for (key, precision, name) in [
        (
            "learn_step_us",
            MasterPrecision::Q16,
            "Q16 master (int8 + int8 residual)",
        ),
        (
            "learn_step_f16_us",
            MasterPrecision::F16,
            "f16 master + int8 copy",
        ),
    ] {
        let mut adaptive = plastic_runtime::AdaptiveModel::from_checkpoint(
            &q,
            precision,
            plastic_runtime::plastic::Guards::default(),
        )?;
        let start = Instant::now();
        for f in &frames {
            adaptive.adapt_unsupervised(f, 0.001)?;
        }
        let learn_us = start.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
        rows.push(Row::against_int8(
            key,
            format!(
                "on-device Krotov step {n}-{hidden}, {name}: ranking, 2-row update, re-quantization; model in memory {:.2} MB",
                adaptive.memory_bytes() as f64 / 1e6
            ),
            learn_us,
            i8_us,
        ));
    }
    rows.push(device_frame_row(&q, &frames, i8_us)?);
    let input = &ckpt.spec.input;
    if (input.width, input.height, input.channels) == (28, 28, 1) {
        rows.push(digit_warp_row(args.frames.max(1), i8_us));
        rows.push(digit_shape_row(args.frames.max(1), i8_us));
    }
    Ok(rows)
}

/// Rings of ink in a 28x28 field, one per frame, at varied sizes: what the digit rows time
/// (their cost depends on the field's size more than on what is drawn).
fn ring_digits(frames: usize) -> Vec<[u8; 784]> {
    (0..frames)
        .map(|i| {
            let (half_w, half_h) = (4 + i % 4, 8 + i % 3);
            let mut d = [0u8; 784];
            for y in 14 - half_h..14 + half_h {
                for x in 14 - half_w..14 + half_w {
                    let inner = (y as isize - 14).unsigned_abs() + 2 < half_h
                        && (x as isize - 14).unsigned_abs() + 2 < half_w;
                    if !inner {
                        d[y * 28 + x] = 255;
                    }
                }
            }
            d
        })
        .collect()
}

/// What a learning device of digits adds per frame before the model when a new view is being
/// undone (`plastic_runtime::digit_align`): the digit's statistics, then a turn of 0.3 radians
/// and strokes a pixel thinner with the re-measured refinements, and the framing again.
fn digit_warp_row(frames: usize, i8_us: f64) -> Row {
    use plastic_runtime::digit_align::digit_stats;
    use plastic_runtime::digit_warp::{DigitWarper, Warp};
    let digits = ring_digits(frames);
    let mut warper = DigitWarper::new();
    let mut out = [0u8; 784];
    let warp = Warp {
        angle: 0.3,
        width: -1.0,
    };
    let start = Instant::now();
    for d in &digits {
        std::hint::black_box(digit_stats(d));
        warper.apply(d, warp, &mut out);
    }
    Row::against_int8(
        "digit_warp_us",
        "a digit warped before the model (statistics, turn by 0.3 rad, strokes 1 px thinner, \
               framed again): what a learning device adds per frame while it undoes a new view"
            .into(),
        start.elapsed().as_secs_f64() * 1e6 / frames as f64,
        i8_us,
    )
}

/// What a learning device of digits adds to every frame to learn from digits only
/// (`plastic_runtime::digit_shape`): whether the framed picture has a digit's shape.
fn digit_shape_row(frames: usize, i8_us: f64) -> Row {
    use plastic_runtime::digit_shape::looks_like_a_digit;
    let digits = ring_digits(frames);
    let start = Instant::now();
    for d in &digits {
        std::hint::black_box(looks_like_a_digit(std::hint::black_box(d)));
    }
    Row::against_int8(
        "digit_shape_us",
        "whether a framed picture has a digit's shape (strong ink's extent, fill and largest \
         part): what a learning device adds per frame to learn from digits only"
            .into(),
        start.elapsed().as_secs_f64() * 1e6 / frames as f64,
        i8_us,
    )
}

/// A whole frame of a device learning without labels, as `plastic-sim --adapt unsupervised`
/// runs it by default: inference by the learning model and by its anchor (the shipped model,
/// see `plastic_runtime::guard`), the drift correction of the hidden code, and the Krotov step.
/// What a user budgets per frame, beside the step alone.
fn device_frame_row(q: &Checkpoint, frames: &[Vec<f32>], i8_us: f64) -> anyhow::Result<Row> {
    use plastic_runtime::AdaptiveModel;
    use plastic_runtime::plastic::{Guards, MasterPrecision};
    let mut device = AdaptiveModel::from_checkpoint(q, MasterPrecision::Q16, Guards::default())?;
    let shipped = device.clone();
    device.enable_guard(&shipped, AdaptiveModel::arbiter(false))?;
    device.enable_policy(&LearningPolicy::default())?;
    let start = Instant::now();
    for f in frames {
        device.infer(f)?;
        device.adapt_unsupervised(f, 0.001)?;
    }
    let frame_us = start.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
    let (n, hidden) = (q.spec.input_len(), q.spec.layers[0].outputs);
    Ok(Row::against_int8(
        "device_frame_us",
        format!(
            "a learning frame {n}-{hidden} as the device runs it: inference, the anchor's \
             inference, drift correction, Krotov step (Q16); in memory {:.2} MB + the anchor's \
             {:.2} MB (flash on a device)",
            device.memory_bytes() as f64 / 1e6,
            device.anchor_bytes() as f64 / 1e6
        ),
        frame_us,
        i8_us,
    ))
}

/// The frames of a device whose readout learns (any model but a Krotov one, e.g. a SoftHebb
/// network: `plastic_runtime::AdaptiveReadout`), as `plastic-sim --adapt` runs them, with the
/// shipped readout as the anchor and the guard: for a model with convolutions, an unlabelled
/// frame with its channels aligned (the front end aligned, then once more as shipped for the
/// anchor; the reference measured on the bench's frames when the file brings none); then a
/// labelled frame, the readout's label step and its replays added, a label on every frame: the
/// most a frame can cost.
fn readout_frame_rows(q: &Checkpoint, frames: &[Vec<f32>], i8_us: f64) -> anyhow::Result<Vec<Row>> {
    use plastic_runtime::adaptive_readout::DEFAULT_READOUT_RATE;
    use plastic_runtime::channel_stats::ChannelAlignment;
    use plastic_runtime::{AdaptiveReadout, Model};
    let mut q = q.clone();
    if q.train["on_device"]["channels"].is_null() {
        let model = Model::from_checkpoint(&q)?;
        if let Some(reference) =
            ChannelAlignment::measure(&model, frames.iter().map(Vec::as_slice))?
        {
            q.train = crate::calibrate::with_channel_reference(q.train, reference.to_json());
        }
    }
    let shipped = AdaptiveReadout::from_checkpoint(&q)?;
    // A device without labels runs under its own arbiter; the labelled one under the labels'.
    let device_for = |labelled: bool| -> anyhow::Result<AdaptiveReadout> {
        let mut device = shipped.clone();
        device.enable_guard(&shipped, AdaptiveReadout::arbiter(labelled))?;
        device.enable_policy(&LearningPolicy::default())?;
        Ok(device)
    };
    let mut rows = Vec::new();
    let per_frame = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
    let mut unlabelled = device_for(false)?;
    if unlabelled.channel_alignment().is_some() {
        let start = Instant::now();
        for f in frames {
            unlabelled.infer(f)?;
        }
        rows.push(Row::against_int8(
            "aligned_frame_us",
            "an unlabelled frame with the convolutions' channels aligned: the front end \
                   aligned, then as shipped for the anchor, both readouts, the guard"
                .into(),
            per_frame(start),
            i8_us,
        ));
    }
    let classes = q.spec.output_len();
    let mut device = device_for(true)?;
    let start = Instant::now();
    let mut step = std::time::Duration::ZERO;
    for (i, f) in frames.iter().enumerate() {
        device.infer(f)?;
        let learning = Instant::now();
        device.learn_label(i % classes, DEFAULT_READOUT_RATE)?;
        step += learning.elapsed();
    }
    let frame_us = per_frame(start);
    let step_us = step.as_secs_f64() * 1e6 / frames.len() as f64;
    let features = q.spec.layers[q.spec.layers.len() - 1].inputs;
    rows.push(Row::against_int8(
        "readout_frame_us",
        format!(
            "a labelled frame of a learning readout ({features} features x {classes}) as the \
             device runs it: inference (channels aligned, if any), the anchor's readout, the \
             label step and its replays; in memory {:.2} MB",
            device.memory_bytes() as f64 / 1e6
        ),
        frame_us,
        i8_us,
    ));
    rows.push(Row::against_int8(
        "readout_step_us",
        "the learning step a label brings to a learning readout, alone: the normalised delta \
         rule and its replays from the memory of labelled features"
            .into(),
        step_us,
        i8_us,
    ));
    // The last convolution learning too, where it can: its SoftHebb step on every frame.
    let mut learning = device_for(false)?;
    if learning.enable_conv_learning(BENCH_CONV_RATE).is_ok() {
        // The first frame makes the learner; the timed ones each step.
        learning.infer(&frames[0])?;
        learning.adapt_features()?;
        let start = Instant::now();
        for f in frames {
            learning.infer(f)?;
            learning.adapt_features()?;
        }
        rows.push(Row::against_int8(
            "conv_learning_frame_us",
            format!(
                "an unlabelled frame whose last convolution learns (SoftHebb step over the \
                 frame's patches, folded back and re-quantized) beside the aligned channels \
                 and the anchor's shipped front end; in memory {:.2} MB",
                learning.memory_bytes() as f64 / 1e6
            ),
            per_frame(start),
            i8_us,
        ));
    }
    Ok(rows)
}

/// The rate of the timed convolution steps: the time does not depend on it.
const BENCH_CONV_RATE: f32 = 1e-3;

/// A 784-hidden-10 Krotov model with random weights: inference cost does not depend on them.
fn random_krotov_model(hidden: usize) -> anyhow::Result<Checkpoint> {
    use plastic_models::{InputSpec, LayerSpec, LayerTensors, ModelSpec, Weights};
    let mut rng = plastic_trainer::rng::seeded(1);
    Ok(Checkpoint {
        spec: ModelSpec {
            name: "bench".into(),
            input: InputSpec {
                width: 28,
                height: 28,
                channels: 1,
                preprocess: Preprocess::UnitNorm,
            },
            layers: vec![
                LayerSpec {
                    kind: LayerKind::Krotov {
                        p: 3.0,
                        k: 7,
                        delta: 0.4,
                    },
                    inputs: 784,
                    outputs: hidden,
                    bias: false,
                    activation: Activation::RectifiedPower { n: 4.5 },
                    conv: None,
                },
                LayerSpec {
                    kind: LayerKind::Dense,
                    inputs: hidden,
                    outputs: 10,
                    bias: false,
                    activation: Activation::Tanh { beta: 1.0 },
                    conv: None,
                },
            ],
            classes: vec![],
        },
        layers: vec![
            LayerTensors {
                weight: Weights::F32(rng.normal_vec(784 * hidden, 0.05)),
                bias: None,
                feedback: None,
            },
            LayerTensors {
                weight: Weights::F32(rng.normal_vec(hidden * 10, 0.05)),
                bias: None,
                feedback: None,
            },
        ],
        train: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digit_warp_row_times_a_warp_against_one_inference() {
        let row = digit_warp_row(8, 2.0);
        assert_eq!((row.key, row.baseline), ("digit_warp_us", 2.0));
        assert!(row.ours > 0.0 && row.ours.is_finite());
    }

    #[test]
    fn the_digit_shape_row_times_the_judgement_of_rings_that_pass_it() {
        assert!(
            ring_digits(12)
                .iter()
                .all(plastic_runtime::digit_shape::looks_like_a_digit)
        );
        let row = digit_shape_row(8, 2.0);
        assert_eq!((row.key, row.baseline), ("digit_shape_us", 2.0));
        assert!(row.ours > 0.0 && row.ours.is_finite());
    }

    #[test]
    fn the_device_frame_row_runs_the_whole_learning_frame_and_names_the_anchor() {
        let q = crate::quantize::quantize(&random_krotov_model(64).unwrap());
        let frames: Vec<Vec<f32>> = (0..50)
            .map(|i| {
                let mut v = vec![0.0f32; 784];
                v[(i * 37) % 784] = 0.6;
                v[(i * 91 + 5) % 784] = 0.8;
                v
            })
            .collect();
        let row = device_frame_row(&q, &frames, 1.0).unwrap();
        assert_eq!(row.key, "device_frame_us");
        assert!(row.ours > 0.0 && row.ours.is_finite());
        assert!(row.what.contains("784-64"), "{}", row.what);
        assert!(row.what.contains("the anchor's"), "{}", row.what);
    }
}
