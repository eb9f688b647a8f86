//! Frozen and adapting devices on the same drifting stream (`synthetic:mnist-drift`,
//! `synthetic:mnist-return`), with the Krotov demo and the default learning rates.
//!
//! The digits are the MNIST test set when the shared data folder is there, else the shipped
//! samples (the summary's `digits_source` says which); the asserts hold for both. Every run is
//! seeded, so the figures printed here are reproducible with the commands in the messages.

mod common;

use serde_json::Value;

const DRIFT_FRAMES: &str = "4000";
const RETURN_FRAMES: &str = "6000";

/// One device per mode on `camera` for `frames` frames (see [`common::devices`]).
fn devices(camera: &str, frames: &str, modes: &[&str]) -> Vec<Value> {
    common::devices(&["--camera", camera, "--frames", frames], modes)
}

fn windows(s: &Value) -> [f64; 3] {
    ["before_shift", "after_shift", "end"].map(|w| common::window(s, w))
}

#[test]
fn after_the_camera_drifts_labels_on_five_percent_of_frames_win_back_a_share_of_the_drop() {
    // Under an emulator the ablation devices are left out: they measure the rules, which the
    // kernel tests already hold equal across architectures, and each costs minutes there.
    let emulated = std::env::var_os("PLASTIC_SIM_RUNNER").is_some();
    let mut modes = vec!["off", "unsupervised", "labels:0.05"];
    if !emulated {
        modes.extend([
            "labels:0.05 --no-anchor",
            "labels:0.05 --no-anchor --no-recruit --align-horizon 0 --no-digit-warp",
        ]);
    }
    let runs = devices("synthetic:mnist-drift", DRIFT_FRAMES, &modes);
    let [frozen, unsupervised, labels] = [0, 1, 2].map(|i| windows(&runs[i]));
    println!(
        "windows (before_shift, after_shift, end): frozen {frozen:?}, unsupervised {unsupervised:?}, labels:0.05 {labels:?}"
    );
    assert_eq!(runs[0]["shift"], serde_json::json!([2000, 4000]));
    let without_digit = common::assert_a_step_on_every_digit(&runs[2], 4000);
    assert!(without_digit < 80, "{without_digit} frames without a digit");
    assert!(runs[2]["label_steps"].as_u64().unwrap() > 100);
    // Labels the device got wrong recruit units (24 on the MNIST test digits, 10 on the 200
    // samples, which it reads better since the framing joins a digit's faint ink).
    assert!(runs[2]["recruited_units"].as_u64().unwrap() >= 5);
    assert_eq!(runs[0]["adaptation_steps"], 0);
    assert!(runs[2]["anchor"]["answers"].as_u64().unwrap() > 0);

    // The shift costs the frozen device a clear drop (22 points on the MNIST test digits,
    // 18.6 on the 200 samples).
    let drop = frozen[0] - frozen[1];
    assert!(drop > 0.15, "frozen device drops only {drop:.3}");

    // Learning without labels never costs more than half a point in any window.
    for (i, (u, f)) in unsupervised.iter().zip(&frozen).enumerate() {
        assert!(
            u + 0.005 >= *f,
            "window {i}: unsupervised {u:.4} vs frozen {f:.4}"
        );
    }

    // With a label on 5 % of the frames, the share of the drop won back within 2000 frames of
    // the shift (accuracy over frames 1000-2000 after it, the `end` window, against the frozen
    // device's on the same frames). The anchor, which keeps the original view safe, costs
    // part of it: measured 65 % with it and 69 % without (seed 0, MNIST test digits).
    let recovered = |w: &[f64; 3]| (w[2] - frozen[2]) / drop;
    println!(
        "labels:0.05 recovers {:.0} % of the drop by the end",
        recovered(&labels) * 100.0
    );
    assert!(recovered(&labels) >= 0.3, "{labels:?} vs {frozen:?}");
    if emulated {
        return;
    }
    let [unanchored, plain] = [3, 4].map(|i| windows(&runs[i]));
    println!(
        "without the anchor {unanchored:?} ({:.0} %), without anchor, recruits, alignment and warp {plain:?}",
        recovered(&unanchored) * 100.0
    );
    assert!(runs[3]["anchor"].is_null());
    assert!(runs[3]["recruited_units"].as_u64().unwrap() > 10);
    assert_eq!(runs[4]["recruited_units"], 0);
    assert!(
        recovered(&unanchored) >= 0.5,
        "{unanchored:?} vs {frozen:?}"
    );

    // Recruiting units for missed labels, correcting the hidden code's drift and warping the
    // digits back add to it: measured 2.6 points at the end (seed 0). The warp alone gives
    // more here (3.3 points: the camera's turn is what costs accuracy, and the warp undoes
    // it); with it, recruits and the drift correction cost 0.7 points on this stream.
    assert!(
        unanchored[2] > plain[2] + 0.01,
        "with recruits, alignment and warp {unanchored:?}, without {plain:?}"
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
    // point of a frozen device on the same frames (measured: 0.1 point below, seed 0; 0.8
    // points below its own accuracy before the shift, where the frames differ).
    assert!(
        labels[2] + 0.01 >= frozen[2],
        "labels:0.05 after the return {:.4}, frozen {:.4}",
        labels[2],
        frozen[2]
    );
    assert!(
        unsupervised[2] + 0.005 >= frozen[2],
        "unsupervised after the return {:.4}, frozen {:.4}",
        unsupervised[2],
        frozen[2]
    );
}

#[test]
fn a_new_task_is_learned_only_from_labels() {
    if common::fashion_dir().is_none() {
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
    // The new task: the frozen device is no better than chance; labels teach it (6.8 % and
    // 43.3 % over the last 1000 frames, seed 0; 25.8 % without recruits and alignment).
    assert!(frozen[2] < 0.15, "{frozen:?}");
    assert!(labels[2] > frozen[2] + 0.08, "{labels:?} vs {frozen:?}");
}
