//! The command line (see the `plastic-sim` line of DESIGN.md) and what it runs.
//!
//! Why here and not in `main.rs`: parsing and wiring are testable as a library, and the binary
//! stays a thin shell that only prints results and errors.

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Parser;
use plastic_runtime::Model;
use plastic_runtime::policy::LearningPolicy;

use crate::adapt::{AdaptMode, parse_adapt, parse_rate};
use crate::baseline::BaselineSpec;
use crate::camera::{self, CameraSpec, OpenOptions, parse_camera};
use crate::device::{
    self, AdaptOptions, DEFAULT_EPS_SETTLE, DEFAULT_LABEL_EPS, DisplayOptions, PersistOptions,
    RunOptions, Summary,
};
use crate::error::Error;
use crate::loader::{engine_for, load_checkpoint};
use crate::persist::{StateFile, read_state};
use crate::pipeline::{Engine, Pipeline, precision_name};
use crate::state_lock::StateLock;
use plastic_runtime::preprocess::{FrameStyle, Framing};

/// The sample digits shipped with the simulator, drawn from by `synthetic:digits`.
pub const DEFAULT_SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/mnist");

/// A simulated edge device: camera in, plastic runtime, display out.
///
/// Runs a plastic model on frames from a camera source, optionally learning from them on the
/// device; prints accuracy (per window around a scenario's camera shift), per-stage timings and
/// memory, saves what it learned, and optionally what the device's 320x240 screen shows.
#[derive(Debug, Clone, Parser)]
#[command(name = "plastic-sim", version)]
pub struct Args {
    /// Checkpoint to run (f32 or int8 `plastic/1` safetensors); default: the built-in device
    /// model (SoftHebb's convolutions and a learning readout, 186 KB int8; the Krotov demo is
    /// `models/default/mnist-krotov.int8.safetensors`).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Frame source: `dir:PATH` (a folder of images, labels from names like `0000_7.png`),
    /// `stdin:WxH:gray8|rgb24` (raw frames on standard input, e.g. from `ffmpeg -f rawvideo -`),
    /// `v4l2:/dev/videoN`, or a simulated camera: `synthetic:digits` (sample digits on paper),
    /// `synthetic:mnist-drift` (the camera turns 25 degrees, blurs and inverts at mid-run),
    /// `synthetic:mnist-return` (shifted for the middle third only),
    /// `synthetic:fashion-after-mnist` (a new task at mid-run), and the bank of shifts, each
    /// shifted from 2/5 to 4/5 of the run: `thick-pen`, `thin-pen`, `tilt`, `small`,
    /// `perspective`, `dim-light`, `negative`, `noisy-blur`, `fill-frame`, `one-class`.
    #[arg(long, value_name = "SPEC", default_value = "synthetic:digits", value_parser = parse_camera)]
    pub camera: CameraSpec,

    /// Stop after N frames (default: until the camera ends; 200 for synthetic:digits, 4000 for
    /// the drift scenarios, 5000 for the bank).
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,

    /// Seed of the synthetic camera's stream and of the label presses.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Folder of 28x28 sample digits named `NNNN_L.png` for synthetic cameras (default: the
    /// shipped samples for synthetic:digits; for the drift scenarios the MNIST test set from
    /// $PLASTIC_DATA or ../shared/data when present, else the shipped samples).
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,

    /// What the device learns: `off`, `unsupervised` (its Krotov layer, from every frame) or
    /// `labels:RATE` (also its readout and its Krotov layer, from a label on a fraction RATE of
    /// labelled frames).
    #[arg(long, value_name = "MODE", default_value = "off", value_parser = parse_adapt)]
    pub adapt: AdaptMode,

    /// Learning rate of the Krotov layer: the largest weight change of one step [default:
    /// 0.005, or 0.01 with labels, which re-teach the readout as the units move].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub eps: Option<f32>,

    /// Let the Krotov layer's rate settle while nothing drifts: it halves after N frames
    /// without a drift alert, falls on as N / (N + quiet frames), and comes back in full when
    /// the drift indicator alerts. 0: a constant rate.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EPS_SETTLE)]
    pub eps_settle: u64,

    /// Learning rate of the readout's delta rule, per label; defaults to 0.01 for a Krotov
    /// model and to 5 for any other model's readout (a normalised step: how far it moves the
    /// frame's own logits per unit of error, for logits that spread as the built-in device's
    /// do, about 30; a readout whose logits spread less steps proportionally less).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub eta: Option<f32>,

    /// Learning rate of the Krotov layer's supervised step on a labelled frame: the unit that
    /// matches the frame best among those the readout reads as its label moves toward it
    /// (largest weight change). 0 leaves the Krotov layer to the unsupervised steps.
    #[arg(long, value_name = "RATE", default_value_t = DEFAULT_LABEL_EPS, value_parser = parse_rate)]
    pub label_eps: f32,

    /// Do not recruit units: by default a label the model got wrong gives its frame to the
    /// Krotov unit idle longest, read by the readout as that label.
    #[arg(long)]
    pub no_recruit: bool,

    /// Correct the hidden code for the camera's drift: the mean code of the first 1000 frames
    /// is the reference, the mean over the last N frames is subtracted from it and the
    /// difference added to every code. 0: no correction. Learning modes and Krotov models only.
    #[arg(long, value_name = "N", default_value_t = LearningPolicy::default().align_horizon)]
    pub align_horizon: u32,

    /// Do not warp digits: by default a learning device measures the framed digits' slant
    /// (its mean over the first 1000 frames is the reference, per class it answers) and turns
    /// each digit by the difference of the recent means, so a turned camera is undone before
    /// the model reads the digit; the anchor reads the digit unwarped. MNIST-style models
    /// only.
    #[arg(long)]
    pub no_digit_warp: bool,

    /// Do not look for the camera's orientation: by default a device of 28x28 digits learning
    /// through its readout (the built-in SoftHebb device) reads every eighth frame in all
    /// eight orientations of the square (quarter turns, each also mirrored) with the shipped
    /// model, and reads frames in the one the model is clearly surest in, so a camera held
    /// sideways, upside down or mirrored is undone without labels; the original view's return
    /// is caught within a few frames. For models of MNIST's digits only, and not for the
    /// Krotov demo (see docs/DESIGN.md).
    #[arg(long)]
    pub no_orientation: bool,

    /// Bring a convolutional model's channels back to where they were in training: before each
    /// convolution, every input channel is shifted and scaled so that its mean and spread over
    /// about the last N frames match the reference (saved with the model, or else measured on
    /// the first frames); the anchor reads the model as shipped. 0: never. Learning modes and
    /// convolutional models only.
    #[arg(long, value_name = "N", default_value_t = LearningPolicy::default().channel_horizon)]
    pub channel_horizon: u32,

    /// Let the last convolution before the readout keep learning from every frame by the rule
    /// it was trained with (SoftHebb's), at this base rate; the anchor keeps it as shipped.
    /// 0: it stays as shipped. Needs a SoftHebb model and the channels aligned
    /// (`--channel-horizon` above 0); learning modes only.
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    pub conv_rate: f32,

    /// How a frame becomes the 28x28 image a model of 28x28 gray images reads: `auto` uses a
    /// frame that is already framed (28x28, light on a black field, a digit placed as MNIST's
    /// are) as it is and frames anything else as the model's training set was
    /// (`fashion-mnist` for a model trained on Fashion-MNIST, `mnist` for any other); `mnist`
    /// finds the digit on the paper (dark or light ink, uneven light, any size) and frames it
    /// as MNIST was made (20x20 in 28x28, centred by its mass); `fashion-mnist` finds the
    /// object the same way and frames it as Fashion-MNIST was made (its longer side 28,
    /// centred by its box). All three first take impulse noise (dead and hot pixels) off the
    /// frame, as every other model's frames are; `none` area-resizes the whole frame as it
    /// comes, noise and all.
    #[arg(long, value_enum, default_value_t = FramingArg::Auto)]
    pub framing: FramingArg,

    /// Where the stream's shift is, for the per-window report: `N` (from frame N to the end)
    /// or `N..M` (frames N to M-1; the frames from M on are the original view again). Replaces
    /// a synthetic scenario's own shift.
    #[arg(long, value_name = "N[..M]", value_parser = parse_shift)]
    pub shift_at: Option<Range<u64>>,

    /// Write one JSON line per frame to FILE: index, label (if known), prediction, confidence,
    /// whether the device learned on it, the drift indicator, whether it is in the shift, the
    /// digit warp the learning model read it through (null when none), and, when the shipped
    /// model runs beside the learning one, both models' answers and whose was given.
    #[arg(long, value_name = "FILE")]
    pub frames_log: Option<PathBuf>,

    /// Save the model's input of every labelled frame, as the device framed it (and warped it,
    /// when it learns), with its label, in DIR as an MNIST-format test set
    /// (`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`): `plastic eval --data-dir DIR`
    /// scores any checkpoint on what the device saw, and any MNIST loader reads it.
    #[arg(long, value_name = "DIR")]
    pub record_inputs: Option<PathBuf>,

    /// Do not run the shipped model beside the learning one. By default a learning device
    /// keeps the shipped model as an anchor: without labels the surer of the two answers and
    /// the learned weights roll back when they disagree too often on the frames the anchor is
    /// surest of; with labels each frame is answered by the model the recent labels show right
    /// more often at the confidence it has.
    #[arg(long)]
    pub no_anchor: bool,

    /// Instead of the device's learning, a baseline learner reads the shipped model's hidden
    /// code and gets a label on a fraction RATE of the labelled frames (the same frames as
    /// `--adapt labels:RATE`): `slda:RATE` (a streaming linear discriminant: class means and a
    /// shared covariance) or `refit:RATE` (the readout refitted to every labelled frame). With
    /// `--adapt off` only.
    #[arg(long, value_name = "KIND:RATE")]
    pub baseline: Option<BaselineSpec>,

    /// Count frames whose capture-to-display time exceeds N microseconds.
    #[arg(long, value_name = "N")]
    pub frame_budget_us: Option<u64>,

    /// Refuse to start when the weights and buffers need more than BYTES.
    #[arg(long, value_name = "BYTES")]
    pub mem_budget: Option<usize>,

    /// Resume from and save what the device learns to FILE (atomically; a corrupt or foreign
    /// file is refused and left untouched).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Save the state every N frames (and at the end).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub persist_every: u64,

    /// Draw the device screen and save PNG snapshots and `display.gif` into DIR.
    #[arg(long, value_name = "DIR")]
    pub display: Option<PathBuf>,

    /// Save a snapshot every N frames (with --display).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every: u64,

    /// Print one JSON object on stdout (logs stay on stderr).
    #[arg(long)]
    pub json: bool,
}

/// `--framing` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FramingArg {
    /// A framed image as it is, anything else framed as the model's training set was.
    Auto,
    /// Always framed like MNIST's digits.
    Mnist,
    /// Always framed like Fashion-MNIST's items.
    FashionMnist,
    /// The whole frame, resized, impulse noise and all.
    None,
}

impl FramingArg {
    /// The runtime's framing for a model trained on `dataset` (its checkpoint's
    /// `train.dataset`, when it says).
    pub fn for_model(self, dataset: Option<&str>) -> Framing {
        match self {
            FramingArg::Auto => {
                Framing::Auto(dataset.map(FrameStyle::of_dataset).unwrap_or_default())
            }
            FramingArg::Mnist => Framing::Always(FrameStyle::Mnist),
            FramingArg::FashionMnist => Framing::Always(FrameStyle::FashionMnist),
            FramingArg::None => Framing::None,
        }
    }
}

/// Parses `N` (frame N to the end of the stream) or `N..M`.
pub fn parse_shift(text: &str) -> Result<Range<u64>, String> {
    let bad = || {
        format!(
            "`{text}` is not a shift: give the first shifted frame (`--shift-at 1000`) or a range \
             of frames (`--shift-at 1000..3000`, the end excluded)"
        )
    };
    let number = |t: &str| t.trim().parse::<u64>().map_err(|_| bad());
    match text.split_once("..") {
        None => Ok(number(text)?..u64::MAX),
        Some((a, b)) => {
            let (start, end) = (number(a)?, number(b)?);
            if start < end {
                Ok(start..end)
            } else {
                Err(bad())
            }
        }
    }
}

/// [`run_until`] without a way to stop it early.
pub fn run(args: &Args, log: &mut dyn Write) -> Result<Summary, Error> {
    run_until(args, None, log)
}

/// The options of a Krotov layer's learning that `args` changed from their defaults, by flag.
fn krotov_options_given(args: &Args) -> Vec<&'static str> {
    let policy = LearningPolicy::default();
    [
        ("--eps", args.eps.is_some()),
        ("--eps-settle", args.eps_settle != DEFAULT_EPS_SETTLE),
        ("--label-eps", args.label_eps != DEFAULT_LABEL_EPS),
        ("--no-recruit", args.no_recruit),
        (
            "--align-horizon",
            args.align_horizon != policy.align_horizon,
        ),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect()
}

/// Says so when options of a Krotov layer's learning were given for a model without one (the
/// built-in SoftHebb device, say): they change nothing there, and a user who set them should
/// not believe they did.
fn warn_of_krotov_options(args: &Args, engine: &Engine, log: &mut dyn Write) {
    let given = krotov_options_given(args);
    if given.is_empty() || engine.adaptive().is_some() || !args.adapt.learns() {
        return;
    }
    let _ = writeln!(
        log,
        "warning: {}: options of a Krotov layer's learning, and this model has none, so they \
         are ignored (its readout's rate is --eta; the Krotov demo is \
         models/default/mnist-krotov.int8.safetensors)",
        given.join(", ")
    );
}

/// Loads the model (and a saved state), opens the camera and runs the device loop until the
/// stream ends or `stop` is set; progress goes to `log`.
pub fn run_until(
    args: &Args,
    stop: Option<Arc<AtomicBool>>,
    log: &mut dyn Write,
) -> Result<Summary, Error> {
    if let Some(b) = args.baseline
        && args.adapt.learns()
    {
        return Err(Error::Baseline(format!(
            "--baseline {b} replaces the device's own learning, so it runs with --adapt off, not \
             --adapt {}",
            args.adapt
        )));
    }
    let shipped = load_checkpoint(args.model.as_deref())?;
    let model_error = |source| match &args.model {
        Some(path) => Error::BadModel {
            path: path.clone(),
            source,
        },
        None => Error::DefaultModel(source),
    };
    let not_adaptive = |reason| Error::NotAdaptive {
        model: shipped.spec.name.clone(),
        mode: args.adapt.to_string(),
        reason,
    };
    let build = |ckpt| {
        engine_for(ckpt, args.adapt).map_err(|e| {
            if args.adapt.learns() {
                not_adaptive(e)
            } else {
                model_error(e)
            }
        })
    };

    // One learning device per state: a second would undo the first's saves.
    let _state_lock =
        match &args.state {
            Some(path) if args.adapt.learns() => Some(StateLock::acquire(path).map_err(
                |source| Error::StateLocked {
                    path: path.clone(),
                    source,
                },
            )?),
            _ => None,
        };
    // A state file is used only when it loads and fits this model; otherwise the shipped model
    // runs and the file is left as it is.
    let state = args
        .state
        .as_ref()
        .map(|path| (path, read_state(path, &shipped.spec)));
    let mut persist = None;
    let (engine, persistence) = match &state {
        None => (build(&shipped)?, None),
        Some((path, StateFile::Refused { reason })) => {
            let status = format!(
                "disabled: state file `{}` {reason}; it is left untouched",
                path.display()
            );
            let _ = writeln!(
                log,
                "warning: state file `{}` {reason}; running {} and leaving the file untouched \
                 (nothing is saved this run)",
                path.display(),
                args.model
                    .as_ref()
                    .map_or("the built-in model".into(), |m| format!(
                        "`{}`",
                        m.display()
                    ))
            );
            (build(&shipped)?, Some(status))
        }
        Some((path, found)) => {
            let (engine, frames_seen, drift, resumed) = match found {
                StateFile::Loaded {
                    checkpoint,
                    frames_seen,
                    drift,
                } => {
                    let _ = writeln!(
                        log,
                        "plastic-sim: resuming from `{}` ({frames_seen} frames seen)",
                        path.display()
                    );
                    let resumed = format!("resumed after {frames_seen} frames");
                    (build(checkpoint)?, *frames_seen, *drift, resumed)
                }
                _ => (build(&shipped)?, 0, None, "new state".to_string()),
            };
            let status = if args.adapt.learns() {
                persist = Some(PersistOptions {
                    path: (*path).clone(),
                    every: args.persist_every,
                    frames_seen,
                    drift,
                });
                format!("enabled: {resumed}")
            } else {
                format!("read-only: {resumed}; --adapt off learns nothing to save")
            };
            (engine, Some(status))
        }
    };

    let dataset = shipped.train.get("dataset").and_then(|d| d.as_str());
    let mut pipeline = Pipeline::new(engine)?.with_framing(args.framing.for_model(dataset));
    warn_of_krotov_options(args, pipeline.engine(), log);
    let labelled = matches!(args.adapt, AdaptMode::Labels(_));
    if let Some(arbiter) = pipeline.engine().arbiter(labelled)
        && args.adapt.learns()
        && !args.no_anchor
    {
        pipeline.enable_guard(&build(&shipped)?, arbiter)?;
    }
    // Digits only: on a Fashion-MNIST model, whose items are nearly the same mirrored, the
    // finder turned falsely and labels then cost 10 points (tests/fashion.rs).
    if args.adapt.learns() && !args.no_orientation && dataset == Some("mnist") {
        pipeline.enable_orientation(Model::from_checkpoint(&shipped)?)?;
    }
    // Digits only too: what is learned without labels is learned from frames with a digit.
    if args.adapt.learns() && dataset == Some("mnist") {
        pipeline.learn_from_digits_only();
    }
    let needed = pipeline.engine().memory_bytes() + pipeline.buffer_bytes();
    if let Some(budget) = args.mem_budget
        && needed > budget
    {
        return Err(Error::MemoryBudget {
            needed,
            budget,
            frame: 0,
        });
    }
    let opened = camera::open(
        &args.camera,
        OpenOptions {
            samples: args.samples.as_deref(),
            seed: args.seed,
            frames: args.frames,
        },
    )?;
    let mut camera = opened.camera;
    if let Some(budget) = args.mem_budget {
        // The camera's frames count too: a raw or simulated frame's size is known now; a
        // folder's images are decoded within what the budget leaves.
        let frame = camera.frame_bytes().unwrap_or(0);
        if needed.saturating_add(frame) > budget {
            return Err(Error::MemoryBudget {
                needed: needed.saturating_add(frame),
                budget,
                frame,
            });
        }
        camera.limit_frame_bytes(budget - needed);
    }
    let options = RunOptions {
        frames: args.frames,
        display: args.display.as_ref().map(|dir| DisplayOptions {
            dir: dir.clone(),
            snapshot_every: args.snapshot_every,
        }),
        adapt: AdaptOptions {
            mode: args.adapt,
            eps: args.eps.unwrap_or_else(|| device::default_eps(args.adapt)),
            eps_settle: args.eps_settle,
            eta: args.eta.unwrap_or_else(|| pipeline.engine().default_eta()),
            label_eps: args.label_eps,
            recruit: !args.no_recruit,
            policy: LearningPolicy {
                align_horizon: args.align_horizon,
                warp_digits: !args.no_digit_warp,
                channel_horizon: args.channel_horizon,
                conv_rate: args.conv_rate,
            },
            seed: args.seed,
        },
        frame_budget: args.frame_budget_us.map(Duration::from_micros),
        persist,
        stop,
        shift: args.shift_at.clone(),
        frames_log: args.frames_log.clone(),
        record_inputs: args.record_inputs.clone(),
        baseline: args.baseline,
    };
    let engine = pipeline.engine();
    let _ = writeln!(
        log,
        "plastic-sim: model `{}` ({}, {} KiB held), camera {}{}, adapt {}",
        engine.spec().name,
        precision_name(engine.precision()),
        engine.memory_bytes().div_ceil(1024),
        args.camera,
        opened
            .digits_source
            .as_ref()
            .map_or(String::new(), |s| format!(" ({s})")),
        args.adapt
    );
    let mut summary = device::run(&mut pipeline, camera.as_mut(), &options, log)?;
    summary.persistence = persistence;
    summary.state = args.state.clone();
    summary.digits_source = opened.digits_source;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let args = Args::try_parse_from(["plastic-sim"]).unwrap();
        assert_eq!(
            args.camera,
            CameraSpec::Synthetic(crate::camera::Scenario::Digits)
        );
        assert_eq!((args.seed, args.snapshot_every, args.json), (0, 1, false));
        assert!(args.samples.is_none() && args.state.is_none());
        assert!(args.model.is_none() && args.frames.is_none() && args.display.is_none());
        assert_eq!(args.adapt, AdaptMode::Off);
        assert_eq!((args.eps, args.eta, args.persist_every), (None, None, 500));
        assert_eq!(device::default_eps(args.adapt), 0.005);
        assert_eq!(device::default_eps(AdaptMode::Labels(0.05)), 0.01);
        assert_eq!((args.eps_settle, args.label_eps), (2000, 0.05));
        assert_eq!((args.no_recruit, args.align_horizon), (false, 500));
        assert_eq!(args.channel_horizon, 500);
        assert!(
            !args.no_digit_warp,
            "learning devices warp digits by default"
        );
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        let err = Args::try_parse_from(["plastic-sim", "--camera", "webcam:0"]).unwrap_err();
        assert!(err.to_string().contains("synthetic:digits"), "{err}");
        assert!(Args::try_parse_from(["plastic-sim", "--snapshot-every", "0"]).is_err());
        assert!(Args::try_parse_from(["plastic-sim", "--persist-every", "0"]).is_err());
        assert!(Args::try_parse_from(["plastic-sim", "--adapt", "sometimes"]).is_err());
        assert!(Args::try_parse_from(["plastic-sim", "--eps", "-1"]).is_err());
        assert!(Args::try_parse_from(["plastic-sim", "--label-eps", "nan"]).is_err());
        let args = Args::try_parse_from([
            "plastic-sim",
            "--camera",
            "dir:/x",
            "--frames",
            "5",
            "--json",
            "--display",
            "/d",
        ])
        .unwrap();
        assert_eq!(args.camera, CameraSpec::Dir("/x".into()));
        assert_eq!(args.frames, Some(5));
        assert_eq!(args.framing, FramingArg::Auto);
        assert!(Args::try_parse_from(["plastic-sim", "--framing", "crop"]).is_err());
    }

    #[test]
    fn auto_framing_follows_the_dataset_the_model_was_trained_on() {
        let fashion = FrameStyle::FashionMnist;
        assert_eq!(
            FramingArg::Auto.for_model(Some("fashion-mnist")),
            Framing::Auto(fashion)
        );
        for dataset in [Some("mnist"), Some("emnist-letters"), None] {
            assert_eq!(FramingArg::Auto.for_model(dataset), Framing::default());
        }
        let forced = Args::try_parse_from(["plastic-sim", "--framing", "fashion-mnist"]).unwrap();
        assert_eq!(
            forced.framing.for_model(Some("mnist")),
            Framing::Always(fashion)
        );
        assert_eq!(
            FramingArg::None.for_model(Some("fashion-mnist")),
            Framing::None
        );
    }

    #[test]
    fn shifts_parse_as_a_start_or_a_range() {
        assert_eq!(parse_shift("1000"), Ok(1000..u64::MAX));
        assert_eq!(parse_shift("10..20"), Ok(10..20));
        for bad in ["", "x", "20..10", "5..5", "-1", "1..", "..3"] {
            let err = parse_shift(bad).unwrap_err();
            assert!(err.contains("--shift-at 1000"), "{err}");
        }
    }
}
