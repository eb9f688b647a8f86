//! Fuzzing of what the device reads, on the Krotov demo and on the built-in SoftHebb device:
//! its saved state (`persist::read_state`, then the boot of a learning engine from a state that
//! loads, with one frame, one unsupervised step and one label) and the raw frames of the stdin
//! camera (`stdin:WxH:FORMAT` parsed, frames of random bytes read from the stream and run
//! through the pipeline with each framing). Inputs are mutations of valid ones (see
//! `models/tests/support/fuzz.rs`). Errors are fine; a panic or an allocation beyond the bound
//! fails.
//!
//! `PLASTIC_FUZZ_CASES=1000 cargo test --release -p plastic-sim --test fuzz_inputs` runs a
//! longer campaign (docs/RESULTS.md).

#[path = "../../models/tests/support/fuzz.rs"]
mod fuzz;

use std::io::Cursor;

use plastic_models::Checkpoint;
use plastic_runtime::policy::LearningPolicy;
use plastic_runtime::preprocess::{FrameStyle, Framing, PixelFormat};
use plastic_sim::camera::{CameraSpec, RawCamera};
use plastic_sim::persist::{StateFile, read_state};
use plastic_sim::{AdaptMode, Camera, Pipeline};

#[global_allocator]
static ALLOC: fuzz::Peak = fuzz::Peak;

/// Largest single allocation a case may make (the states are 320 KB; frames are at most
/// 64x64 RGB here).
const MAX_ALLOC: usize = 64 << 20;

/// A state as the device saves it: the Krotov demo after a few learning steps, with the
/// running means, usage and guard records in `train.on_device`.
fn saved_krotov_state() -> Vec<u8> {
    let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
    let mut engine = plastic_sim::loader::engine_for(&ckpt, AdaptMode::Unsupervised).unwrap();
    let plastic_sim::Engine::Adaptive(model) = &mut engine else {
        panic!("the Krotov demo is adaptive");
    };
    model.enable_alignment(2, 8);
    let input: Vec<f32> = (0..784).map(|i| (i % 13) as f32 / 400.0).collect();
    for _ in 0..4 {
        model.infer(&input).unwrap();
        model.adapt_unsupervised(&input, 0.02).unwrap();
    }
    let train = serde_json::json!({"adapt": "unsupervised", "frames_seen": 4});
    model
        .checkpoint(train, serde_json::Value::Null)
        .to_bytes()
        .unwrap()
}

/// A state of the built-in device as it saves it after a few labelled frames: its learned
/// readout, its channels' running statistics, its digit statistics and its guard's records.
fn saved_device_state(frame: &plastic_sim::Frame) -> Vec<u8> {
    let ckpt = Checkpoint::from_bytes(plastic_models::DEVICE_CHECKPOINT).unwrap();
    let mode = AdaptMode::Labels(0.5);
    let engine = plastic_sim::loader::engine_for(&ckpt, mode).unwrap();
    let shipped = plastic_sim::loader::engine_for(&ckpt, mode).unwrap();
    let mut pipeline = Pipeline::new(engine).unwrap();
    let arbiter = pipeline.engine().arbiter(true).unwrap();
    pipeline.enable_guard(&shipped, arbiter).unwrap();
    pipeline.enable_policy(&LearningPolicy::default()).unwrap();
    for label in [3, 5, 3, 1] {
        pipeline.run(frame).unwrap();
        pipeline.adapt_label(label, 5.0, 0.0, false).unwrap();
    }
    let train = serde_json::json!({"adapt": "labels:0.5", "frames_seen": 4});
    let state = pipeline.engine().checkpoint(train, serde_json::Value::Null);
    state.unwrap().to_bytes().unwrap()
}

#[test]
fn mutated_state_files_never_panic_nor_allocate_without_bound() {
    let pixels: Vec<u8> = (0..784).map(|i| (i * 31 % 256) as u8).collect();
    let frame = plastic_sim::Frame {
        width: 28,
        height: 28,
        format: PixelFormat::Gray8,
        data: pixels,
        label: Some(3),
    };
    let dir = std::env::temp_dir().join(format!("plastic-fuzz-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.safetensors");
    for (name, model, seed) in [
        (
            "state (Krotov demo)",
            plastic_models::DEFAULT_CHECKPOINT,
            saved_krotov_state(),
        ),
        (
            "state (built-in device)",
            plastic_models::DEVICE_CHECKPOINT,
            saved_device_state(&frame),
        ),
    ] {
        let spec = Checkpoint::from_bytes(model).unwrap().spec;
        let (accepted, refused) = fuzz::run(
            name,
            fuzz::cases(300),
            MAX_ALLOC,
            |rng| fuzz::mutate_safetensors(rng, &seed),
            |bytes| {
                std::fs::write(&path, bytes).unwrap();
                match read_state(&path, &spec) {
                    StateFile::Loaded { checkpoint, .. } => {
                        // The boot of a learning device from this state.
                        let Ok(engine) =
                            plastic_sim::loader::engine_for(&checkpoint, AdaptMode::Labels(0.5))
                        else {
                            return true;
                        };
                        let Ok(mut pipeline) = Pipeline::new(engine) else {
                            return true;
                        };
                        let _ = pipeline.enable_policy(&LearningPolicy::default());
                        let _ = pipeline.run(&frame);
                        let _ = pipeline.adapt_unsupervised(0.02);
                        let _ = pipeline.adapt_label(3, 0.05, 0.02, true);
                        true
                    }
                    StateFile::Refused { reason } => {
                        assert!(reason.starts_with("is corrupt") || reason.starts_with("belongs"));
                        false
                    }
                    StateFile::Absent => panic!("the state file was written"),
                }
            },
        );
        assert!(
            accepted > 0 && refused > 0,
            "{name}: {accepted} accepted, {refused} refused"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn raw_stdin_frames_never_panic_nor_allocate_without_bound() {
    // The Krotov demo and the built-in device, in turn.
    let models = [
        Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap(),
        Checkpoint::from_bytes(plastic_models::DEVICE_CHECKPOINT).unwrap(),
    ];
    let framings = [
        Framing::default(),
        Framing::Always(FrameStyle::Mnist),
        Framing::Auto(FrameStyle::FashionMnist),
        Framing::Always(FrameStyle::FashionMnist),
        Framing::None,
    ];
    let (accepted, refused) = fuzz::run(
        "raw-frames",
        fuzz::cases(500),
        MAX_ALLOC,
        |rng| {
            // The camera spec text, a NUL, then the stream: a few frames of structured or
            // random pixels, mutated.
            let (w, h) = (1 + rng.below(64), 1 + rng.below(64));
            let format = *rng.pick(&["gray8", "rgb24"]);
            let mut text = format!("stdin:{w}x{h}:{format}").into_bytes();
            if rng.below(8) == 0 {
                text = fuzz::mutate_bytes(rng, &text);
            }
            let bpp = if format == "gray8" { 1 } else { 3 };
            let mut stream = Vec::new();
            for _ in 0..rng.below(4) {
                let frame: Vec<u8> = match rng.below(4) {
                    0 => rng.bytes(w * h * bpp),
                    1 => vec![*rng.pick(&[0u8, 255, 128]); w * h * bpp],
                    // A dark stroke on paper.
                    _ => (0..w * h * bpp)
                        .map(|i| if (i / bpp) % w == w / 2 { 20 } else { 230 })
                        .collect(),
                };
                stream.extend_from_slice(&frame);
            }
            let stream = if rng.below(3) == 0 {
                fuzz::mutate_bytes(rng, &stream)
            } else {
                stream
            };
            text.retain(|&b| b != 0);
            text.push(0);
            text.extend_from_slice(&stream);
            text
        },
        |input| {
            let split = input.iter().position(|&b| b == 0).unwrap();
            let Ok(text) = std::str::from_utf8(&input[..split]) else {
                return false;
            };
            let Ok(CameraSpec::Stdin {
                width,
                height,
                format,
            }) = plastic_sim::parse_camera(text)
            else {
                return false;
            };
            if width * height > 64 * 64 {
                // A real size for a real camera: not one the fuzz buffers here.
                return false;
            }
            let mut camera =
                RawCamera::new(Cursor::new(&input[split + 1..]), width, height, format);
            let framing = framings[input.len() % framings.len()];
            let ckpt = &models[input.len() / framings.len() % models.len()];
            let engine = plastic_sim::loader::engine_for(ckpt, AdaptMode::Off).unwrap();
            let mut pipeline = Pipeline::new(engine).unwrap().with_framing(framing);
            let mut frames = 0;
            while let Some(frame) = camera.next_frame() {
                let Ok(frame) = frame else { continue };
                assert_eq!(frame.data.len(), width * height * format.bytes_per_pixel());
                let _ = pipeline.run(&frame);
                camera.recycle(frame);
                frames += 1;
            }
            frames > 0
        },
    );
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
