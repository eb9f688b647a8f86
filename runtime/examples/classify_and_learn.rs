//! What an application that embeds the runtime does with each camera frame: frame it, classify
//! it, learn from it (without a label, and from one when the user gives it), and keep what it
//! learned across restarts.
//!
//! ```text
//! cargo run --release -p plastic-runtime --example classify_and_learn -- \
//!     firmware-sim/samples/mnist/0000_7.png [LABEL] [--model M.safetensors] [--state S.safetensors]
//! ```
//!
//! Without `--model` it uses the demo model built into the runtime. With `--state`, a state
//! saved by an earlier run (or by `plastic-sim --state`) is resumed when it exists and written
//! back, crash-safely, after the frame.

use std::path::PathBuf;
use std::process::ExitCode;

use plastic_runtime::adaptive::LabelRates;
use plastic_runtime::models::Checkpoint;
use plastic_runtime::plastic::{Guards, MasterPrecision};
use plastic_runtime::policy::{self, LearningPolicy};
use plastic_runtime::preprocess::{self, Framing};
use plastic_runtime::{AdaptiveModel, input_file, persist};

/// The largest checkpoint or state the example reads.
const MAX_FILE_BYTES: u64 = 256 << 20;

struct Args {
    image: PathBuf,
    label: Option<usize>,
    model: Option<PathBuf>,
    state: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut image, mut label, mut model, mut state) = (None, None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next().map(PathBuf::from),
            "--state" => state = args.next().map(PathBuf::from),
            _ if image.is_none() => image = Some(PathBuf::from(arg)),
            _ => {
                label = Some(
                    arg.parse()
                        .map_err(|_| format!("`{arg}` is not a class number"))?,
                )
            }
        }
    }
    Ok(Args {
        image: image.ok_or("give the image of a digit to classify")?,
        label,
        model,
        state,
    })
}

fn read_checkpoint(path: &std::path::Path) -> Result<Checkpoint, String> {
    let bytes = input_file::read_regular_file(path, MAX_FILE_BYTES)
        .map_err(|e| format!("could not read {}: {e}", path.display()))?;
    Checkpoint::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let shipped = match &args.model {
        Some(path) => read_checkpoint(path)?,
        None => Checkpoint::from_bytes(plastic_runtime::models::DEFAULT_CHECKPOINT)
            .map_err(|e| e.to_string())?,
    };
    // The state, when there is one, is what the device learned; the shipped model stays the
    // anchor that the learning model is judged against (see `plastic_runtime::guard`).
    let resumed = match &args.state {
        Some(path) if path.exists() => Some(read_checkpoint(path)?),
        _ => None,
    };
    let build = |ckpt: &Checkpoint| {
        AdaptiveModel::from_checkpoint(ckpt, MasterPrecision::Q16, Guards::default())
            .map_err(|e| e.to_string())
    };
    let anchor = build(&shipped)?;
    let mut model = build(resumed.as_ref().unwrap_or(&shipped))?;
    // The guard and the corrections of a new view as every host of the runtime runs them.
    model
        .enable_guard(&anchor, AdaptiveModel::arbiter(args.label.is_some()))
        .map_err(|e| e.to_string())?;
    model
        .enable_policy(&LearningPolicy::default())
        .map_err(|e| e.to_string())?;

    // Camera bytes to the model's input: gray, framed as MNIST was made, normalised.
    let gray = image::open(&args.image)
        .map_err(|e| format!("could not read {}: {e}", args.image.display()))?
        .to_luma8();
    let (width, height) = (gray.width() as usize, gray.height() as usize);
    let mut pixels = [0u8; 784];
    preprocess::frame_digit(
        gray.as_raw(),
        width,
        height,
        Framing::default(),
        &mut pixels,
    )
    .map_err(|e| e.to_string())?;
    // The digit as the learning model reads it (warped once its statistics ask for it); the
    // anchor reads it as framed.
    let mut seen = [0u8; 784];
    let warped = model.warp_digit(&pixels, &mut seen).is_some();
    let normalize = |digit: &[u8; 784]| -> Result<Vec<f32>, String> {
        let mut input = vec![0.0f32; 784];
        preprocess::normalize(digit, &model.spec().input.preprocess, &mut input)
            .map_err(|e| e.to_string())?;
        Ok(input)
    };
    let input = normalize(&seen)?;
    let answer = if warped {
        model.infer_beside_anchor(&input, &normalize(&pixels)?)
    } else {
        model.infer(&input)
    }
    .map_err(|e| e.to_string())?;
    println!(
        "{}: class {} ({:.0} % sure)",
        args.image.display(),
        model.spec().classes[answer.class],
        answer.confidence * 100.0
    );
    // Learning: one unsupervised step on every frame, and the label's steps when there is one.
    let eps = policy::default_eps(args.label.is_some()) * model.rate_scale();
    model
        .adapt_unsupervised(&input, eps)
        .map_err(|e| e.to_string())?;
    if let Some(label) = args.label {
        model
            .learn_label(&input, label, LabelRates::default())
            .map_err(|e| e.to_string())?;
        println!("learned from label {label}");
    }
    if let Some(path) = &args.state {
        let state = model.checkpoint(serde_json::json!({}), serde_json::Value::Null);
        let bytes = state.to_bytes().map_err(|e| e.to_string())?;
        persist::write_atomically(path, &bytes)
            .map_err(|e| format!("could not save {}: {e}", path.display()))?;
        println!("saved what it learned to {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("classify_and_learn: {e}");
            ExitCode::FAILURE
        }
    }
}
