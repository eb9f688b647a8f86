//! Frozen and adapting devices on the same drifting stream (`synthetic:mnist-drift`,
//! `synthetic:mnist-return`), with the built-in demo model and the default learning rates.
//!
//! The digits are the MNIST test set when the shared data folder is there, else the shipped
//! samples (the summary's `digits_source` says which); the asserts hold for both. Every run is
//! seeded, so the figures printed here are reproducible with the commands in the messages.

mod common;

use serde_json::Value;

const DRIFT_FRAMES: &str = "4000";
const RETURN_FRAMES: &str = "6000";

/// Runs one device per adaptation mode on the same scenario, in parallel, and returns the
/// summaries in the order of `modes`. A mode may carry more options after a space
/// (`"labels:0.05 --label-eps 0"`).
fn devices(camera: &str, frames: &str, modes: &[&str]) -> Vec<Value> {
    let children: Vec<_> = modes
        .iter()
        .map(|mode| {
            let mut args = vec!["--camera", camera, "--frames", frames, "--json", "--adapt"];
            args.extend(mode.split_whitespace());
            common::spawn(&args)
        })
        .collect();
    let summaries: Vec<Value> = children
        .into_iter()
        .map(|c| common::summary(&c.wait_with_output().unwrap()))
        .collect();
    for (mode, s) in modes.iter().zip(&summaries) {
        println!("plastic-sim --camera {camera} --frames {frames} --adapt {mode} --json\n{s}\n");
    }
    summaries
}

fn windows(s: &Value) -> [f64; 3] {
    ["before_shift", "after_shift", "end"].map(|w| common::window(s, w))
}

#[test]
fn after_the_camera_drifts_the_frozen_device_drops_and_learning_devices_recover_part_of_it() {
    let runs = devices(
        "synthetic:mnist-drift",
        DRIFT_FRAMES,
        &[
            "off",
            "unsupervised",
            "labels:0.05",
            "labels:0.05 --label-eps 0",
        ],
    );
    let [frozen, unsupervised, labels, readout_only] = [0, 1, 2, 3].map(|i| windows(&runs[i]));
    println!(
        "windows (before_shift, after_shift, end): frozen {frozen:?}, unsupervised {unsupervised:?}, labels:0.05 {labels:?}, readout only {readout_only:?}"
    );
    assert_eq!(runs[0]["shift"], serde_json::json!([2000, 4000]));
    assert_eq!(runs[2]["adaptation_steps"], 4000);
    assert!(runs[2]["label_steps"].as_u64().unwrap() > 100);
    assert_eq!(runs[0]["adaptation_steps"], 0);

    // The shift costs the frozen device a clear drop (23 points on the MNIST test digits,
    // 17.5 on the 200 samples).
    let drop = frozen[0] - frozen[1];
    assert!(drop > 0.15, "frozen device drops only {drop:.3}");

    // Learning without labels never costs more than a point in any window.
    for (i, (u, f)) in unsupervised.iter().zip(&frozen).enumerate() {
        assert!(
            u + 0.01 >= *f,
            "window {i}: unsupervised {u:.4} vs frozen {f:.4}"
        );
    }

    // With a label on 5 % of the frames, the device gets back part of the drop within the
    // 2000 frames after the shift (8 points over the 2000 frames, 10 over the last 1000, on
    // the MNIST test digits). Half of the drop, which the issue asks for, is not reached: see
    // the ignored test below.
    let recovered = (labels[2] - frozen[2]) / drop;
    println!(
        "labels:0.05 recovers {:.0} % of the drop by the end",
        recovered * 100.0
    );
    assert!(labels[1] > frozen[1] + 0.05, "{labels:?} vs {frozen:?}");
    assert!(labels[2] > frozen[2] + 0.07, "{labels:?} vs {frozen:?}");

    // A label also moves a Krotov unit of its class toward the frame: without that step (the
    // readout's delta rule alone) the device recovers less (2.4 points less over the last 1000
    // frames on the MNIST test digits, 3.4 on the samples).
    assert!(
        labels[2] > readout_only[2] + 0.015,
        "with the Krotov step {labels:?}, readout only {readout_only:?}"
    );
}

/// The target: a device with labels on 5 % of the frames recovers at least half of the
/// drop within 2000 frames of the shift (here: its accuracy over frames 1000-2000 after the
/// shift, the `end` window of a 4000-frame run, against the frozen device's on the same frames).
///
/// It does not hold with the default rates: measured 46 % on the MNIST test digits (seed 0;
/// 26 to 46 %, mean 38 %, over seeds 0 to 5), against 28 % on average when a label only
/// trains the readout (`--label-eps 0`). What limits it is how fast the Krotov layer's units
/// follow the new view: larger label steps overwrite units faster than unlabelled frames
/// refine them (`--label-eps 0.2` ends below the frozen device), larger readout steps add
/// noise; a label on every frame recovers 81 % (60 % without the Krotov step). Kept as the
/// issue states it: run with `--ignored`.
#[test]
#[ignore = "does not hold yet: labels:0.05 recovers 26 to 46 % of the drop in 2000 frames"]
fn labels_on_five_percent_of_frames_recover_half_the_drop_within_2000_frames() {
    let runs = devices(
        "synthetic:mnist-drift",
        DRIFT_FRAMES,
        &["off", "labels:0.05"],
    );
    let [frozen, labels] = [0, 1].map(|i| windows(&runs[i]));
    let drop = frozen[0] - frozen[1];
    let recovered = labels[2] - frozen[2];
    assert!(
        recovered >= drop / 2.0,
        "recovered {recovered:.4} of a drop of {drop:.4}"
    );
}

#[test]
fn back_on_the_original_camera_the_learning_device_has_not_forgotten_it() {
    let runs = devices(
        "synthetic:mnist-return",
        RETURN_FRAMES,
        &["off", "unsupervised", "labels:0.05"],
    );
    let [frozen, unsupervised, labels] = [0, 1, 2].map(|i| windows(&runs[i]));
    println!(
        "windows (before_shift, after_shift, end): frozen {frozen:?}, unsupervised {unsupervised:?}, labels:0.05 {labels:?}"
    );
    assert_eq!(runs[0]["shift"], serde_json::json!([2000, 4000]));
    assert_eq!(
        runs[0]["window_frames"]["end"],
        serde_json::json!([4500, 6000])
    );
    // The middle third is the shifted camera: the frozen device drops there.
    assert!(frozen[1] < frozen[0] - 0.15, "{frozen:?}");
    // Back on the original camera, the device that learned through the shift is within a
    // point of where it was before it.
    assert!(
        labels[2] >= labels[0] - 0.01,
        "labels:0.05 before the shift {:.4}, after the return {:.4}",
        labels[0],
        labels[2]
    );
}

#[test]
fn a_new_task_is_learned_only_from_labels() {
    let fashion = plastic_sim::camera::mnist::shared_data_dir()
        .map(|d| d.join("fashion-mnist"))
        .filter(|d| plastic_sim::camera::mnist::has_test_set_in(d));
    if fashion.is_none() {
        eprintln!(
            "skipped: no Fashion-MNIST test set in the shared data folder (set PLASTIC_DATA)"
        );
        return;
    }
    let runs = devices(
        "synthetic:fashion-after-mnist",
        DRIFT_FRAMES,
        &["off", "labels:0.05"],
    );
    let [frozen, labels] = [0, 1].map(|i| windows(&runs[i]));
    assert!(
        runs[0]["digits_source"]
            .as_str()
            .is_some_and(|s| s.contains("fashion-mnist-test")),
        "{}",
        runs[0]
    );
    // Digits first: the shipped model knows them.
    assert!(frozen[0] > 0.85, "{frozen:?}");
    // The new task: the frozen device is no better than chance; labels teach it something
    // (6.8 % and 20.8 % over the last 1000 frames, seed 0).
    assert!(frozen[2] < 0.15, "{frozen:?}");
    assert!(labels[2] > frozen[2] + 0.08, "{labels:?} vs {frozen:?}");
}
