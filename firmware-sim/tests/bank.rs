//! The bank of shifts (`synthetic:NAME`, original view / shifted / original again) with the
//! Krotov demo and the defaults: learning without labels never costs more than half a point
//! against a frozen device, a turned camera is undone without labels, and labels win back part
//! of the drop; on a stream of real digits by other writers, the device's built-in model.
//!
//! Every run is seeded; the figures in the messages are reproducible with the commands printed.
//! The full table over every scenario and four seeds is in docs/RESULTS.md
//! (`python3 bench/shift_bank.py`). Skipped under an emulator (`PLASTIC_SIM_RUNNER`): these are
//! measurements of the learning rules, which the kernel tests already hold equal across
//! architectures, and 5000-frame runs under emulation take minutes each.

mod common;

use serde_json::Value;

fn skipped() -> bool {
    common::bank_skipped()
}

/// One device per mode on `scenario` (seed 0; see [`common::devices`]).
fn devices(scenario: &str, modes: &[&str]) -> Vec<Value> {
    common::devices(&["--camera", &format!("synthetic:{scenario}")], modes)
}

#[test]
fn without_labels_the_device_is_never_half_a_point_below_a_frozen_one() {
    if skipped() {
        return;
    }
    // A thicker pen and a keystone. Without the anchor and the per-class drift correction
    // the first cost 4 points in a window. Measured (seed 0): never below the frozen device.
    // (The label shift, `one-class`, is the built-in device's test in `readout.rs`: the Krotov
    // demo comes back to the original view 0.5 points below a frozen one there, at the bar.)
    for scenario in ["thick-pen", "perspective"] {
        let runs = devices(scenario, &["off", "unsupervised"]);
        let (frozen, learning) = (
            common::bank_windows(&runs[0]),
            common::bank_windows(&runs[1]),
        );
        assert_eq!(runs[0]["shift"], serde_json::json!([2000, 4000]));
        let without_digit = common::assert_a_step_on_every_digit(&runs[1], 5000);
        assert!(
            without_digit < 100,
            "{without_digit} frames without a digit"
        );
        common::assert_never_below(scenario, &learning, &frozen, 0.005);
    }
}

#[test]
fn labels_on_five_percent_of_frames_win_back_part_of_the_drop_and_forget_nothing() {
    if skipped() {
        return;
    }
    // The share of the frozen device's drop won back within 2000 frames of the shift (its
    // lead over frames 1000-2000 after it), and the original view after the shift. Measured
    // (seed 0): 31 % of a keystone's 12.1-point drop and 87 % of a turned camera's 24.7, and
    // 0.1 and 0.5 points above the frozen device on the return. (Sensor blur and noise, the
    // second scenario here before, drops under 3 points since the framing cuts the digit at
    // its ink's typical strength.)
    for (scenario, bar) in [("perspective", 0.25), ("tilt", 0.5)] {
        let runs = devices(scenario, &["off", "labels:0.05"]);
        let (frozen, labels) = (
            common::bank_windows(&runs[0]),
            common::bank_windows(&runs[1]),
        );
        let drop = frozen[0] - frozen[1];
        assert!(
            drop > 0.03,
            "{scenario}: the frozen device drops only {drop:.3}"
        );
        let won = common::won_back(&labels, &frozen);
        println!(
            "{scenario}: labels on 5 % of frames win back {:.0} %",
            won * 100.0
        );
        assert!(won >= bar, "{scenario}: {won:.3} < {bar}");
        assert!(
            labels[3] + 0.01 >= frozen[3],
            "{scenario}: back on the original view {:.4} vs frozen {:.4}",
            labels[3],
            frozen[3]
        );
    }
}

/// The `writers` stream of the bank (`bench/writers_stream.py`: MNIST, then the UCI digits of
/// 43 other writers, then MNIST again) written to a fresh folder; `None` (with the reason
/// printed) where Python, numpy or scikit-learn, which ships the UCI digits, is missing.
fn writers_stream() -> Option<std::path::PathBuf> {
    let data = plastic_sim::camera::mnist::shared_data_dir()?;
    common::bench_stream("writers_stream.py", &data, &[], "numpy scikit-learn")
}

#[test]
fn on_a_new_population_of_writers_learning_never_costs_and_labels_win_back_the_drop() {
    if skipped() {
        return;
    }
    let Some(dir) = writers_stream() else {
        return;
    };
    // Real digits of other writers through another scanner, a shift nothing was tuned on,
    // on the device's built-in model. Measured (seed 0): the frozen device drops 18.2 points;
    // labels on 5 % of frames win back 59 % of the drop, on 20 % 83 % (seed 1, without labels:
    // 52 %, never more than 0.1 point below the frozen device). The Krotov demo, which this
    // test ran before, comes back to the original view 1.7 points below a frozen device after
    // labels on 20 % of this stream.
    let runs = common::built_in_on_stream(
        &dir,
        "2000..3797",
        &["off", "unsupervised", "labels:0.05", "labels:0.2"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let frozen = common::bank_windows(&runs[0]);
    let drop = frozen[0] - frozen[1];
    assert!(drop > 0.15, "the frozen device drops only {drop:.3}");
    common::assert_never_below(
        "without labels",
        &common::bank_windows(&runs[1]),
        &frozen,
        0.005,
    );
    for (run, bar) in [(&runs[2], 0.4), (&runs[3], 0.5)] {
        let labels = common::bank_windows(run);
        let won = common::won_back(&labels, &frozen);
        println!(
            "{}: {:.0} % of the drop won back",
            run["adapt"],
            won * 100.0
        );
        assert!(won >= bar, "{}: won back {won:.3} < {bar}", run["adapt"]);
        assert!(
            labels[3] + 0.01 >= frozen[3],
            "{}: back on the original view {:.4} vs frozen {:.4}",
            run["adapt"],
            labels[3],
            frozen[3]
        );
    }
}

#[test]
fn a_turned_camera_is_undone_without_labels_by_the_digit_warp() {
    if skipped() {
        return;
    }
    // The warp's horizons were chosen on seeds 0 and 1 of `tilt`; this is seed 2. Measured:
    // without labels the device wins back 77 % of the frozen device's drop (frames 1000-2000
    // of the shift), -6 % without the warp, and no window is below the frozen device's.
    let runs = common::devices(
        &["--camera", "synthetic:tilt", "--seed", "2"],
        &["off", "unsupervised", "unsupervised --no-digit-warp"],
    );
    let [frozen, warped, plain] = [0, 1, 2].map(|i| common::bank_windows(&runs[i]));
    let drop = frozen[0] - frozen[1];
    assert!(drop > 0.15, "the frozen device drops only {drop:.3}");
    let won = |run: &[f64; 4]| common::won_back(run, &frozen);
    println!(
        "won back: {:.0} % with the warp, {:.0} % without",
        won(&warped) * 100.0,
        won(&plain) * 100.0
    );
    assert!(won(&warped) >= 0.5, "{warped:?} vs frozen {frozen:?}");
    assert!(won(&plain) < 0.2, "without the warp: {plain:?}");
    common::assert_never_below("with the warp", &warped, &frozen, 0.005);
    let warp = &runs[1]["digit_warp"];
    assert!(warp["angle"].is_number(), "{warp}");
    assert!(runs[2]["digit_warp"].is_null());
}
