//! Inputs a fuzzing run found to crash, hang or exhaust the simulator: each now ends in an
//! `error:` line and a `hint:`, or runs with the bad file refused, never in a panic or a hang.

mod common;
#[path = "../../models/tests/support/header.rs"]
mod header;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Runs the simulator with a deadline: a hang is a test failure, not a stuck test run.
fn run_with_deadline(args: &[&str], deadline: Duration) -> Output {
    let mut child = common::spawn(args);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            child.kill().unwrap();
            panic!("plastic-sim {args:?} still runs after {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("error:") && stderr.contains("hint:") && stderr.contains(needle),
        "{stderr}"
    );
}

/// 9223372036854776200 x 2 wrapped to 784 and passed the spec check; the simulator then
/// panicked in the preprocessing.
#[test]
fn a_model_whose_input_size_wraps_is_refused() {
    let dir = common::temp_dir("wrapping-input");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        header::with_spec_edit(plastic_models::DEFAULT_CHECKPOINT, |spec| {
            spec.replace(
                "\"width\":28,\"height\":28",
                "\"width\":9223372036854776200,\"height\":2",
            )
        }),
    )
    .unwrap();
    let out = run_with_deadline(
        &["--model", model.to_str().unwrap(), "--frames", "5"],
        Duration::from_secs(60),
    );
    assert_refused(&out, "above the");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A mean of 1e39 is infinite in f32: every frame was skipped and the run never ended.
#[test]
fn a_model_with_an_infinite_mean_is_refused() {
    let dir = common::temp_dir("infinite-mean");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        header::with_spec_edit(plastic_models::DEFAULT_CHECKPOINT, |spec| {
            let at = spec.find("\"preprocess\":").unwrap();
            let end = at + spec[at..].find('}').unwrap() + 1;
            format!(
                "{}\"preprocess\":{{\"kind\":\"mean_std\",\"mean\":[1e39],\"std\":[0.5]}}{}",
                &spec[..at],
                &spec[end..]
            )
        }),
    )
    .unwrap();
    let out = run_with_deadline(
        &["--model", model.to_str().unwrap(), "--frames", "5"],
        Duration::from_secs(60),
    );
    assert_refused(&out, "mean");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// k = 33 of 400 units passed the spec check; inference worked and the first learning step
/// panicked on the ranking's 32 slots.
#[test]
fn a_krotov_rank_beyond_the_kernel_limit_is_refused() {
    let dir = common::temp_dir("krotov-k");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        header::with_spec_edit(plastic_models::DEFAULT_CHECKPOINT, |spec| {
            spec.replace("\"k\":7", "\"k\":33")
        }),
    )
    .unwrap();
    let out = run_with_deadline(
        &[
            "--model",
            model.to_str().unwrap(),
            "--frames",
            "5",
            "--adapt",
            "unsupervised",
        ],
        Duration::from_secs(60),
    );
    assert_refused(&out, "k = 33");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `/dev/zero` as the model was read until memory ran out.
#[cfg(unix)]
#[test]
fn a_device_file_as_the_model_is_refused_unread() {
    let out = run_with_deadline(
        &["--model", "/dev/zero", "--frames", "5"],
        Duration::from_secs(60),
    );
    assert_refused(&out, "not a regular file");
}

/// A FIFO as the model blocked the open until a writer came.
#[cfg(unix)]
#[test]
fn a_fifo_as_the_model_is_refused_without_waiting() {
    let dir = common::temp_dir("fifo-model");
    let fifo = dir.join("model.safetensors");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = run_with_deadline(
        &["--model", fifo.to_str().unwrap(), "--frames", "5"],
        Duration::from_secs(60),
    );
    assert_refused(&out, "not a regular file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `/dev/zero` as the state: refused unread, the device runs from the shipped model.
#[cfg(unix)]
#[test]
fn a_device_file_as_the_state_is_refused_unread() {
    let out = run_with_deadline(
        &[
            "--frames",
            "5",
            "--adapt",
            "unsupervised",
            "--state",
            "/dev/zero",
            "--json",
        ],
        Duration::from_secs(60),
    );
    let s = common::summary(&out);
    assert_eq!(s["frames"], 5);
    assert_eq!(s["persist_count"], 0);
    let status = s["persistence"].as_str().unwrap();
    assert!(status.contains("not a regular file"), "{status}");
}

/// A symlink planted at the old fixed temp name `STATE.tmp` had its target overwritten.
#[cfg(unix)]
#[test]
fn a_symlink_at_the_old_temp_name_is_not_followed() {
    let dir = common::temp_dir("planted-link");
    let state = dir.join("state.safetensors");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("state.safetensors.tmp")).unwrap();
    let s = common::run_json(&[
        "--frames",
        "20",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
        "--persist-every",
        "10",
        "--json",
    ]);
    assert_eq!(s["persist_count"], 2);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(Path::new(&state).is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two devices on one `--state` shared the temp file and produced a torn state. The second
/// is now refused while the first runs, and may start once it has gone.
#[cfg(unix)]
#[test]
fn a_second_learning_device_on_one_state_is_refused() {
    use std::io::{BufRead, BufReader};
    let dir = common::temp_dir("two-devices");
    let state = dir.join("state.safetensors");
    let args = [
        "--frames",
        "1000000",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
    ];
    let mut first = common::spawn(&args);
    let mut stderr = BufReader::new(first.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("frame 100:") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    let mut second_args = args;
    second_args[1] = "5";
    let out = run_with_deadline(&second_args, Duration::from_secs(60));
    assert_refused(&out, "another process is using this state");
    first.kill().unwrap();
    first.wait().unwrap();
    let s = common::run_json(&[&second_args[..], &["--json"]].concat());
    assert_eq!(s["frames"], 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file named `0000_99.png` for a model of 10 classes: its label was counted as a wrong
/// answer, and a label step on it failed with "expected 10 values, got 99" on every frame.
/// Now such frames play unlabelled, one warning names the first, and the rest of the stream
/// is scored and taught as before.
#[test]
fn a_label_the_model_has_no_class_for_plays_unlabelled() {
    let dir = common::temp_dir("foreign-labels");
    let samples = common::samples_dir();
    let mut names: Vec<_> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    for (i, name) in names.iter().take(20).enumerate() {
        let renamed = if i < 5 {
            format!("{i:04}_{}.png", 10 + i * 20)
        } else {
            format!("{i:04}_{}", name.rsplit_once('_').unwrap().1)
        };
        std::fs::copy(samples.join(name), dir.join(renamed)).unwrap();
    }
    let camera = format!("dir:{}", dir.display());
    let out = run_with_deadline(
        &["--camera", &camera, "--adapt", "labels:1.0", "--json"],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("label step failed"), "{stderr}");
    assert!(
        stderr.contains("frame 0 is labelled 10, but the model has 10 classes"),
        "{stderr}"
    );
    assert!(stderr.contains("5 frames had a label"), "{stderr}");
    let s = common::summary(&out);
    assert_eq!(s["frames"], 20);
    assert_eq!(s["foreign_labels"], 5);
    assert_eq!(s["labelled"], 15);
    std::fs::remove_dir_all(&dir).unwrap();
}
