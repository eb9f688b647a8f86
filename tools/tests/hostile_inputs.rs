//! Inputs a fuzzing run found to crash, hang or exhaust the `plastic` command: each now ends
//! in an `error:` line and a non-zero exit (or, for a closed pipe, a quiet success), never in
//! a panic, a hang or a runaway allocation.

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

/// The shipped f32 model with its spec's JSON text edited by `edit` (the header is rebuilt;
/// tensor offsets are relative to the data and stay valid).
fn with_spec_edit(edit: impl Fn(&str) -> String) -> Vec<u8> {
    let bytes = std::fs::read(F32).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let spec = header["__metadata__"]["spec"].as_str().unwrap().to_string();
    let edited = edit(&spec);
    assert_ne!(edited, spec, "the edit changed nothing");
    header["__metadata__"]["spec"] = edited.into();
    let mut text = header.to_string().into_bytes();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + len..]);
    out
}

/// 9223372036854776200 x 2 wraps to 784: `viz fields` panicked or tried to allocate 846 GB.
#[test]
fn viz_fields_refuses_an_input_size_that_wraps() {
    let dir = temp_dir("wrap");
    let model = dir.join("model.safetensors");
    std::fs::write(
        &model,
        with_spec_edit(|spec| {
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
        with_spec_edit(|spec| {
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
