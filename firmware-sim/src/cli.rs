//! The command line (see the `plastic-sim` line of DESIGN.md) and what it runs.
//!
//! Why here and not in `main.rs`: parsing and wiring are testable as a library, and the binary
//! stays a thin shell that only prints results and errors.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use crate::camera::{self, CameraSpec, parse_camera};
use crate::device::{self, DisplayOptions, RunOptions, Summary};
use crate::error::Error;
use crate::loader::load_model;
use crate::pipeline::{Pipeline, precision_name};

/// The sample digits shipped with the simulator, drawn from by `synthetic:digits`.
pub const DEFAULT_SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/mnist");

/// A simulated edge device: camera in, plastic runtime, display out.
///
/// Runs a plastic model on frames from a camera source, prints accuracy and per-stage timings,
/// and optionally saves what the device's 320x240 screen shows.
#[derive(Debug, Clone, Parser)]
#[command(name = "plastic-sim", version)]
pub struct Args {
    /// Checkpoint to run (f32 or int8 `plastic/1` safetensors); default: the built-in model.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// Frame source: `dir:PATH` (a folder of images, labels from names like `0000_7.png`) or
    /// `synthetic:digits` (sample digits through a simulated camera).
    #[arg(long, value_name = "SPEC", default_value = "synthetic:digits", value_parser = parse_camera)]
    pub camera: CameraSpec,

    /// Stop after N frames (default: until the camera ends; 200 for synthetic cameras).
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,

    /// Seed of the synthetic camera's stream.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,

    /// Folder of 28x28 sample digits named `NNNN_L.png` for `synthetic:digits`.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_SAMPLES)]
    pub samples: PathBuf,

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

/// Loads the model, opens the camera and runs the device loop; progress goes to `log`.
pub fn run(args: &Args, log: &mut dyn Write) -> Result<Summary, Error> {
    let model = load_model(args.model.as_deref())?;
    let mut pipeline = Pipeline::new(model)?;
    let mut camera = camera::open(&args.camera, &args.samples, args.seed)?;
    let options = RunOptions {
        frames: args.frames,
        display: args.display.as_ref().map(|dir| DisplayOptions {
            dir: dir.clone(),
            snapshot_every: args.snapshot_every,
        }),
    };
    let model = pipeline.model();
    let _ = writeln!(
        log,
        "plastic-sim: model `{}` ({}, {} KiB of weights), camera {}",
        model.spec().name,
        precision_name(model.precision()),
        model.weight_bytes().div_ceil(1024),
        args.camera
    );
    device::run(&mut pipeline, camera.as_mut(), &options, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let args = Args::try_parse_from(["plastic-sim"]).unwrap();
        assert_eq!(args.camera, CameraSpec::SyntheticDigits);
        assert_eq!((args.seed, args.snapshot_every, args.json), (0, 1, false));
        assert!(args.samples.ends_with("samples/mnist"));
        assert!(args.model.is_none() && args.frames.is_none() && args.display.is_none());
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        let err = Args::try_parse_from(["plastic-sim", "--camera", "v4l2:0"]).unwrap_err();
        assert!(err.to_string().contains("synthetic:digits"), "{err}");
        assert!(Args::try_parse_from(["plastic-sim", "--snapshot-every", "0"]).is_err());
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
    }
}
