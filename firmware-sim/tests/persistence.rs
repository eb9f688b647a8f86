//! What the device learned survives power cuts, and a bad state file never costs a run.

mod common;
#[path = "../../models/tests/support/header.rs"]
mod header;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use plastic_models::Checkpoint;
use plastic_sim::rng::SplitMix64;

/// The demo model's spec: what every saved state must carry.
fn default_spec() -> plastic_models::ModelSpec {
    Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT)
        .unwrap()
        .spec
}

/// Loads a state file as the device would, and returns its `frames_seen`.
fn check_state(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let ckpt = Checkpoint::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("state file does not load after a power cut: {e}"));
    assert_eq!(ckpt.spec, default_spec());
    assert_eq!(ckpt.train["adapt"], "unsupervised");
    ckpt.train["frames_seen"].as_u64().expect("frames_seen")
}

/// Starts a learning device that saves to `state` after every frame, so that a kill often
/// lands inside a save.
fn spawn_saving_device(state: &Path, seed: u64) -> Child {
    common::spawn(&[
        "--camera",
        "synthetic:digits",
        "--frames",
        "1000000",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
        "--persist-every",
        "1",
        "--seed",
        &seed.to_string(),
    ])
}

/// How long a device takes from its start to its first saved state on this machine. Natively
/// that is about ten milliseconds; under an emulator (qemu runs the aarch64 build) it is
/// ten or more times longer, so the kill moments are spread around this measurement rather
/// than around a fixed number.
fn time_to_first_save(dir: &Path) -> Duration {
    let state = dir.join("calibration.safetensors");
    let mut child = spawn_saving_device(&state, 0);
    let start = Instant::now();
    while !state.exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(state.exists(), "the device saved nothing in {took:?}");
    std::fs::remove_file(&state).unwrap();
    took
}

/// Power cuts: the device is killed (SIGKILL, no chance to clean up) at seeded random moments,
/// saving after every frame so a kill often lands inside a save. The moments spread from half
/// to three times the measured time to a first save, so some cuts land before anything was
/// saved, many inside a save, and some after many saves. After every cut the state file must
/// load and be valid, and what it remembers never goes backwards. 200 cycles, as the issue asks
/// (about 5 s on 2 cores, a minute under qemu); `PLASTIC_SIM_POWER_CUTS=N` runs another count.
#[test]
fn the_state_file_survives_power_cuts_at_random_moments() {
    let cycles: u64 = std::env::var("PLASTIC_SIM_POWER_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = common::temp_dir("power-cuts");
    let state = dir.join("state.safetensors");
    let state_arg = state.to_str().unwrap();
    let mut rng = SplitMix64::new(2024);
    let mut last_seen = 0;
    let mut with_state = 0;
    let first_save = time_to_first_save(&dir);
    let start = Instant::now();
    for cycle in 0..cycles {
        let mut child = spawn_saving_device(&state, cycle);
        let fraction = 0.5 + 2.5 * rng.below(1000) as f64 / 1000.0;
        std::thread::sleep(first_save.mul_f64(fraction));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        if state.exists() {
            with_state += 1;
            let seen = check_state(&state);
            assert!(
                seen >= last_seen,
                "cycle {cycle}: state went back from {last_seen} to {seen} frames"
            );
            last_seen = seen;
        }
    }
    // Each cut inside a save leaves that process's own temp file; nothing reads them.
    let torn_temp = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    println!(
        "{cycles} power cuts in {:.1} s (first save after {first_save:?}): state present \
         after {with_state}, {last_seen} frames remembered, {torn_temp} temp files left behind",
        start.elapsed().as_secs_f64()
    );
    assert!(
        with_state >= cycles / 2,
        "the state was saved in only {with_state} cycles"
    );
    assert!(last_seen > 0, "no frame was ever remembered");

    // A clean run resumes from what the cuts left.
    let s = common::run_json(&[
        "--frames",
        "5",
        "--adapt",
        "unsupervised",
        "--state",
        state_arg,
        "--json",
    ]);
    assert_eq!(s["frames_seen"], last_seen + 5);
    assert_eq!(s["persist_count"], 1);
    assert!(
        s["persistence"]
            .as_str()
            .unwrap()
            .starts_with("enabled: resumed"),
        "{s}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `bytes` as the state, runs a learning device on it and checks that the file was
/// refused, left byte for byte as it was, and the run still completed.
fn refused(bytes: &[u8], why: &str) {
    let dir = common::temp_dir("bad-state");
    let state = dir.join("state.safetensors");
    std::fs::write(&state, bytes).unwrap();
    let out = common::spawn(&[
        "--frames",
        "30",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
        "--persist-every",
        "10",
        "--json",
    ])
    .wait_with_output()
    .unwrap();
    let s = common::summary(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(s["frames"], 30);
    assert_eq!(s["persist_count"], 0);
    let status = s["persistence"].as_str().unwrap();
    assert!(
        status.starts_with("disabled: state file") && status.contains(why),
        "{status}"
    );
    assert!(
        stderr.contains("warning: state file") && stderr.contains("left untouched")
            || stderr.contains("leaving the file untouched"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        bytes,
        "the bad file was overwritten"
    );
    let left = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(left, 0, "a temp file was left");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_foreign_and_nan_state_files_are_refused_and_kept() {
    refused(b"definitely not a checkpoint", "is corrupt");

    // A valid checkpoint of another model.
    let other = common::class_mean_checkpoint(&common::samples());
    refused(&other.to_bytes().unwrap(), "belongs to another model");

    // The right model, with one weight turned into NaN in a file written before checksums
    // (a damaged file with a checksum is refused as damaged first, below).
    let ckpt = Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
    let bytes = header::without_checksum(&ckpt.to_bytes().unwrap());
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let scale = &header["layers.0.weight_scale"];
    assert_eq!(scale["dtype"], "F32");
    let at = 8 + header_len + scale["data_offsets"][0].as_u64().unwrap() as usize;
    let mut nan = bytes.clone();
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    refused(&nan, "NaN");

    // A truncated save (a card that lost its tail).
    let good = ckpt.to_bytes().unwrap();
    refused(&good[..good.len() / 2], "is corrupt");
}

/// One flipped bit in a weight of a state the device saved is refused as damage at the next boot: the device runs from the shipped model,
/// says why, and keeps the damaged file for inspection. A state saved before checksums still
/// loads.
#[test]
fn a_state_with_one_flipped_bit_is_refused_as_damaged_and_kept() {
    let dir = common::temp_dir("flipped-state");
    let state = dir.join("state.safetensors");
    let out = common::spawn(&[
        "--frames",
        "30",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
        "--persist-every",
        "10",
        "--json",
    ])
    .wait_with_output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = std::fs::read(&state).unwrap();
    assert!(Checkpoint::from_bytes(&saved).is_ok());
    let header_len = 8 + u64::from_le_bytes(saved[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&saved[8..header_len]).unwrap();
    assert!(
        header["__metadata__"]["checksum"]
            .as_str()
            .unwrap()
            .starts_with("crc32:")
    );
    // A bit of the first tensor and one of the last, whatever their precision.
    for (at, bit) in [(header_len + 3, 6), (saved.len() - 5, 0)] {
        let mut flipped = saved.clone();
        flipped[at] ^= 1 << bit;
        refused(&flipped, "the file is damaged");
    }
    // The same state without its checksum is a state from before checksums: it loads.
    let old = header::without_checksum(&saved);
    let ckpt = Checkpoint::from_bytes(&old).unwrap();
    assert_eq!(ckpt.spec, default_spec());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SIGTERM (a shutdown) ends the run between frames: the device saves, prints its summary and
/// exits 0.
#[cfg(unix)]
#[test]
fn sigterm_saves_what_was_learned_and_prints_the_summary() {
    let dir = common::temp_dir("sigterm");
    let state = dir.join("state.safetensors");
    let mut child = common::spawn(&[
        "--frames",
        "1000000",
        "--adapt",
        "unsupervised",
        "--state",
        state.to_str().unwrap(),
        "--persist-every",
        "1000000",
        "--json",
    ]);
    // Wait until the loop is running (its first progress line), then ask it to stop.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("frame 100:") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let s = common::summary(&out);
    assert_eq!(s["interrupted"], true);
    assert_eq!(s["persist_count"], 1);
    let frames = s["frames"].as_u64().unwrap();
    assert!(frames >= 100, "{s}");
    assert_eq!(check_state(&state), frames);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A device that resumes goes on with its drift indicator, and so with the learning rate it
/// had settled to, instead of starting again at full rate as after a camera change.
#[test]
fn a_resumed_device_goes_on_with_its_drift_indicator() {
    let dir = common::temp_dir("resume-drift");
    let state = dir.join("state.safetensors");
    let run = |frames: &str| {
        common::run_json(&[
            "--camera",
            "synthetic:digits",
            "--frames",
            frames,
            "--adapt",
            "unsupervised",
            "--state",
            state.to_str().unwrap(),
            "--json",
        ])
    };
    let saved_drift = || {
        let ckpt = Checkpoint::from_bytes(&std::fs::read(&state).unwrap()).unwrap();
        ckpt.train["drift"].clone()
    };
    run("300");
    let first = saved_drift();
    assert_eq!(first["frames"], 300, "{first}");
    let quiet = first["quiet"].as_u64().unwrap();
    assert!(quiet > 0 && quiet <= 300, "{first}");

    let s = run("100");
    assert_eq!(s["frames_seen"], 400);
    let second = saved_drift();
    assert_eq!(
        second["frames"], 400,
        "the monitor started afresh: {second}"
    );
    assert!(second["quiet"].as_u64().unwrap() <= quiet + 100, "{second}");

    // A state that claims the most frames a counter holds: the count saturates, not wraps.
    let mut ckpt = Checkpoint::from_bytes(&std::fs::read(&state).unwrap()).unwrap();
    ckpt.train["frames_seen"] = serde_json::json!(u64::MAX);
    std::fs::write(&state, ckpt.to_bytes().unwrap()).unwrap();
    assert_eq!(run("10")["frames_seen"], u64::MAX);
    let saved = Checkpoint::from_bytes(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved.train["frames_seen"], u64::MAX);
    std::fs::remove_dir_all(&dir).unwrap();
}
