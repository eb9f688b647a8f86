//! Inputs a fuzzing run found to crash, hang or exhaust the `plastic` command: each now ends
//! in an `error:` line and a non-zero exit (or, for a closed pipe, a quiet success), never in
//! a panic, a hang or a runaway allocation.

#[path = "../../models/tests/support/header.rs"]
mod header;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const F32: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-krotov.safetensors"
);

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "plastic-tools-hostile-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `plastic` with a deadline: a hang is a test failure, not a stuck test run.
fn plastic(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plastic"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plastic runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("plastic {args:?} still runs after a minute");
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
        stderr.contains("error:") && stderr.contains(needle),
        "{stderr}"
    );
}

/// 9223372036854776200 x 2 wraps to 784: `viz fields` panicked or tried to allocate 846 GB.
#[test]
fn viz_fields_refuses_an_input_size_that_wraps() {
    let dir = temp_dir("wrap");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        header::with_spec_edit(&std::fs::read(F32).unwrap(), |spec| {
            spec.replace(
                "\"width\":28,\"height\":28",
                "\"width\":9223372036854776200,\"height\":2",
            )
        }),
    )
    .unwrap();
    let png = dir.join("fields.png");
    let out = plastic(&[
        "viz",
        "fields",
        model.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_refused(&out, "above the");
    assert!(!png.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A mean of 1e39 (infinite in f32) was read and written back as `"mean": [null]`, a file
/// no tool reads.
#[test]
fn quantize_refuses_an_infinite_mean() {
    let dir = temp_dir("mean");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        header::with_spec_edit(&std::fs::read(F32).unwrap(), |spec| {
            spec.replace(
                "{\"kind\":\"unit_norm\"}",
                "{\"kind\":\"mean_std\",\"mean\":[1e39],\"std\":[0.5]}",
            )
        }),
    )
    .unwrap();
    let q = dir.join("model.int8.safetensors");
    let out = plastic(&[
        "quantize",
        model.to_str().unwrap(),
        "--out",
        q.to_str().unwrap(),
    ]);
    assert_refused(&out, "mean");
    assert!(!q.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `/dev/zero` was read until memory ran out; a FIFO blocked until a writer came.
#[cfg(unix)]
#[test]
fn device_files_and_fifos_are_refused_unread() {
    let out = plastic(&["inspect", "/dev/zero"]);
    assert_refused(&out, "not a regular file");
    let dir = temp_dir("fifo");
    let fifo = dir.join("model.safetensors");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = plastic(&["inspect", fifo.to_str().unwrap()]);
    assert_refused(&out, "not a regular file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `plastic inspect X | head` panicked when the reader closed the pipe first.
#[cfg(unix)]
#[test]
fn a_closed_stdout_is_not_a_panic() {
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plastic"))
            .args(["inspect", F32])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(status.success(), "{status:?}: {stderr}");
    }
}
