//! Helpers shared by the integration tests: the sample digits, a hand-made model, temp paths.
#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use plastic_models::{
    Activation, Checkpoint, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec, Preprocess,
    Weights,
};
use plastic_sim::camera::{Camera, Digit, SyntheticDigits};

/// The sample digits the simulator ships (`PLASTIC_SIM_SAMPLES` overrides, for trying other
/// sample sets).
pub fn samples_dir() -> PathBuf {
    std::env::var_os("PLASTIC_SIM_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(plastic_sim::cli::DEFAULT_SAMPLES))
}

/// The sample digits, loaded as the synthetic camera loads them.
pub fn samples() -> Vec<Digit> {
    let dir = samples_dir();
    let cam = SyntheticDigits::open(&dir, 0)
        .unwrap_or_else(|e| panic!("sample digits in {} are needed: {e}", dir.display()));
    cam.digits().to_vec()
}

/// A fresh, empty folder under the system temp dir, unique to this process and call.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("plastic-sim-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 784 -> 10 linear model whose rows are the unit-norm mean digit of each class: template
/// matching by cosine similarity, about 80 % on MNIST, with no training.
pub fn class_mean_checkpoint(digits: &[Digit]) -> Checkpoint {
    let mut rows = vec![0.0f32; 10 * 784];
    for d in digits {
        let row = &mut rows[usize::from(d.label) * 784..][..784];
        for (r, &p) in row.iter_mut().zip(&d.pixels) {
            *r += f32::from(p) / 255.0;
        }
    }
    for row in rows.chunks_exact_mut(784) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    Checkpoint {
        spec: ModelSpec {
            name: "class-means".into(),
            input: InputSpec {
                width: 28,
                height: 28,
                channels: 1,
                preprocess: Preprocess::UnitNorm,
            },
            layers: vec![LayerSpec {
                kind: LayerKind::Dense,
                inputs: 784,
                outputs: 10,
                bias: false,
                activation: Activation::Identity,
                conv: None,
            }],
            classes: vec![],
        },
        layers: vec![LayerTensors {
            weight: Weights::F32(rows),
            bias: None,
            feedback: None,
        }],
        train: serde_json::json!({"how": "class means of the sample digits"}),
        metrics: serde_json::Value::Null,
    }
}

/// Writes the class-mean model to `dir/class-means.safetensors`.
pub fn write_class_mean_model(dir: &Path) -> PathBuf {
    let path = dir.join("class-means.safetensors");
    let bytes = class_mean_checkpoint(&samples()).to_bytes().unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Pearson correlation of two equally long byte images.
pub fn correlation(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len() as f64;
    let mean = |v: &[u8]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        cov += dx * dy;
        va += dx * dx;
        vb += dy * dy;
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// The simulator binary, ready to take arguments.
///
/// `PLASTIC_SIM_RUNNER` (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) is put in front of it,
/// so the tests of a cross-built simulator run it the way cargo runs the tests themselves.
pub fn sim() -> Command {
    let binary = env!("CARGO_BIN_EXE_plastic-sim");
    let runner = std::env::var("PLASTIC_SIM_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(binary);
            command
        }
        None => Command::new(binary),
    }
}

/// The Krotov demo model (`models/default/mnist-krotov.int8.safetensors`), the device's
/// built-in model before the SoftHebb one.
pub const KROTOV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-krotov.int8.safetensors"
);

/// The device's built-in model (`plastic_models::DEVICE_CHECKPOINT`) as a file, for tests
/// that run it while [`on_krotov_unless_named`] would put the Krotov demo in its place.
pub const BUILT_IN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-softhebb-device.int8.safetensors"
);

/// `args` with `--model` [`KROTOV`] in front unless they name a model: the tests of the
/// device's rules (recruits, the Krotov steps, the drift correction, the bank's figures) were
/// written for, and measured on, the Krotov demo, and run it in a tenth of the time. The
/// built-in model is tested by name (`tests/readout.rs`) and as the default (`tests/streams.rs`).
pub fn on_krotov_unless_named<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::with_capacity(args.len() + 2);
    if !args.contains(&"--model") {
        all.extend(["--model", KROTOV]);
    }
    all.extend_from_slice(args);
    all
}

/// Starts the simulator with `args` (on [`KROTOV`] unless they name a model), stdout and
/// stderr captured, stdin closed.
pub fn spawn(args: &[&str]) -> Child {
    sim()
        .args(on_krotov_unless_named(args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plastic-sim starts")
}

/// The JSON summary a successful run printed; panics with its output otherwise.
pub fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Runs the simulator with `args` to the end and returns its JSON summary.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    summary(&spawn(args).wait_with_output().unwrap())
}

/// A window's accuracy from a summary (panics when it is null).
pub fn window(summary: &serde_json::Value, name: &str) -> f64 {
    summary["windows"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("window {name} has no accuracy: {summary}"))
}

/// Runs one simulator per mode (an `--adapt` value, optionally followed by more options after a
/// space: `"labels:0.05 --no-anchor"`) on `args`, in parallel, and returns their summaries in
/// the order of `modes`, printing each with its command line.
pub fn devices(args: &[&str], modes: &[&str]) -> Vec<serde_json::Value> {
    let children: Vec<_> = modes
        .iter()
        .map(|mode| {
            let mut all = args.to_vec();
            all.extend(["--json", "--adapt"]);
            all.extend(mode.split_whitespace());
            spawn(&all)
        })
        .collect();
    let runs: Vec<serde_json::Value> = children
        .into_iter()
        .map(|c| summary(&c.wait_with_output().unwrap()))
        .collect();
    for (mode, run) in modes.iter().zip(&runs) {
        println!(
            "plastic-sim {} --adapt {mode} --json\n{run}\n",
            args.join(" ")
        );
    }
    runs
}

/// Asserts that a learning run took a step on each of its `frames` frames but those without a
/// digit's shape (`adaptation_steps` plus `frames_without_digit`), and returns how many those
/// were.
pub fn assert_a_step_on_every_digit(run: &serde_json::Value, frames: u64) -> u64 {
    let without_digit = run["frames_without_digit"].as_u64().unwrap();
    assert_eq!(
        run["adaptation_steps"].as_u64().unwrap() + without_digit,
        frames,
        "{run}"
    );
    without_digit
}

/// The built-in device, one per mode, on the `dir:` stream `stream` whose change of view is
/// frames `shift` (`START..END`).
pub fn built_in_on_stream(stream: &Path, shift: &str, modes: &[&str]) -> Vec<serde_json::Value> {
    let camera = format!("dir:{}", stream.display());
    devices(
        &[
            "--model",
            BUILT_IN,
            "--camera",
            &camera,
            "--shift-at",
            shift,
        ],
        modes,
    )
}

/// Whether a test of the bank's figures must skip: under an emulator (`PLASTIC_SIM_RUNNER`),
/// where they are not measured, or without the MNIST test set the scenarios draw from (the
/// reason is printed).
pub fn bank_skipped() -> bool {
    if std::env::var_os("PLASTIC_SIM_RUNNER").is_some() {
        eprintln!("skipped under an emulator: the bank's figures are measured natively");
        return true;
    }
    let has_mnist = plastic_sim::camera::mnist::shared_data_dir()
        .is_some_and(|d| plastic_sim::camera::mnist::has_test_set(&d));
    if !has_mnist {
        eprintln!("skipped: no MNIST test set in the shared data folder (set PLASTIC_DATA)");
    }
    !has_mnist
}

/// The windows of a bank scenario, compared against the frozen device.
pub const BANK_WINDOWS: [&str; 4] = ["before_shift", "after_shift", "late_shift", "after_return"];

/// A run's accuracy in each of [`BANK_WINDOWS`].
pub fn bank_windows(run: &serde_json::Value) -> [f64; 4] {
    BANK_WINDOWS.map(|w| window(run, w))
}

/// The share of the frozen device's drop (before the shift against its first 2000 frames)
/// that a learning device wins back over frames 1000-2000 of the shift: its lead there over
/// the frozen device, over the drop. Both in the order of [`BANK_WINDOWS`].
pub fn won_back(learning: &[f64; 4], frozen: &[f64; 4]) -> f64 {
    (learning[2] - frozen[2]) / (frozen[0] - frozen[1])
}

/// Asserts that a learning device is in no window more than `slack` below the frozen one;
/// `what` names the run in the message.
pub fn assert_never_below(what: &str, learning: &[f64; 4], frozen: &[f64; 4], slack: f64) {
    for ((name, l), f) in BANK_WINDOWS.iter().zip(learning).zip(frozen) {
        assert!(
            l + slack >= *f,
            "{what}, window {name}: learning {l:.4} vs frozen {f:.4}"
        );
    }
}

/// A stream written by a script of `bench/` (`script`, with `args`) into a fresh folder,
/// given the shared data folder `data`; `None` (with the reason printed) where Python or a
/// package the script needs (`packages`, for the message) is missing.
pub fn bench_stream(script: &str, data: &Path, args: &[&str], packages: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bench")
        .join(script);
    let out = temp_dir(script.trim_end_matches(".py"));
    let made = Command::new("python3")
        .arg(path)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output();
    match made {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            eprintln!(
                "skipped: bench/{script} failed (python3 -m pip install {packages}): {}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("skipped: no python3 to run bench/{script}: {e}");
            None
        }
    }
}

/// The Fashion-MNIST test set's folder in the shared data folder, or `None` (with a note)
/// without it.
pub fn fashion_dir() -> Option<PathBuf> {
    let dir = plastic_sim::camera::fashion_dir();
    if dir.is_none() {
        eprintln!(
            "skipped: no Fashion-MNIST test set in the shared data folder (set PLASTIC_DATA)"
        );
    }
    dir
}

/// The simulated camera's next frame as gray bytes (the runtime's conversion), with its
/// width, height and label.
pub fn next_gray(camera: &mut SyntheticDigits) -> (Vec<u8>, usize, usize, u8) {
    let f = camera.next_frame().unwrap().unwrap();
    let mut gray = vec![0u8; f.width * f.height];
    plastic_runtime::preprocess::to_gray(&f.data, f.format, &mut gray).unwrap();
    (gray, f.width, f.height, f.label.unwrap())
}

/// A gray image read from a file: its path, pixels, width and height.
pub type GrayImage = (PathBuf, Vec<u8>, usize, usize);

/// The PNG images of the shared data folder's `folder`, sorted by name, gray; `None` (with a
/// note) without the folder.
pub fn shared_gray_images(data: &Path, folder: &str) -> Option<Vec<GrayImage>> {
    let Ok(entries) = std::fs::read_dir(data.join(folder)) else {
        eprintln!("skipped: no {folder} in the shared data");
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    paths.sort();
    let images = paths.into_iter().map(|path| {
        let gray = image::open(&path).unwrap().to_luma8();
        let (w, h) = (gray.width() as usize, gray.height() as usize);
        (path, gray.into_raw(), w, h)
    });
    Some(images.collect())
}

/// The first `n` MNIST test digits, or `None` (with a note) without the data.
pub fn mnist_digits(n: usize) -> Option<Vec<Digit>> {
    let Some(dir) = plastic_sim::camera::mnist::shared_data_dir().map(|d| d.join("mnist")) else {
        eprintln!("skipped: no shared data folder (set PLASTIC_DATA)");
        return None;
    };
    match plastic_sim::camera::mnist::load_test_set(&dir) {
        Ok(mut digits) => {
            digits.truncate(n);
            Some(digits)
        }
        Err(e) => {
            eprintln!("skipped: no MNIST test set: {e}");
            None
        }
    }
}

/// A small deterministic generator (the tests' streams must not change between runs).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Writes `(pixels, width, height, label)` frames into `dir` as a `dir:` camera's stream.
pub fn write_stream(dir: &Path, frames: impl Iterator<Item = (Vec<u8>, u32, u32, u8)>) {
    write_frames(dir, frames.map(|(p, w, h, label)| (p, w, h, Some(label))));
}

/// [`write_stream`] of frames that may have no label (`NNNNN.png`).
pub fn write_frames(dir: &Path, frames: impl Iterator<Item = (Vec<u8>, u32, u32, Option<u8>)>) {
    std::fs::create_dir_all(dir).unwrap();
    for (n, (pixels, w, h, label)) in frames.enumerate() {
        let name = match label {
            Some(label) => format!("{n:05}_{label}.png"),
            None => format!("{n:05}.png"),
        };
        image::GrayImage::from_raw(w, h, pixels)
            .unwrap()
            .save(dir.join(name))
            .unwrap();
    }
}

/// The built-in device's frames log over the `dir:` stream `stream` with `--adapt adapt`,
/// written into `dir`.
pub fn frames_log(dir: &Path, stream: &Path, adapt: &str) -> String {
    let camera = format!("dir:{}", stream.display());
    let log = dir.join(format!("{adapt}.jsonl"));
    let log_arg = log.display().to_string();
    run_json(&[
        "--json",
        "--model",
        BUILT_IN,
        "--camera",
        &camera,
        "--adapt",
        adapt,
        "--frames-log",
        &log_arg,
    ]);
    std::fs::read_to_string(&log).unwrap()
}

/// The built-in device's accuracy, learning nothing, on the `dir:` stream `stream`.
pub fn frozen_accuracy(stream: &Path) -> f64 {
    let camera = format!("dir:{}", stream.display());
    run_json(&["--json", "--model", BUILT_IN, "--camera", &camera])["accuracy"]
        .as_f64()
        .unwrap()
}
