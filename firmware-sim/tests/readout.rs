//! A model that is not a Krotov one learns on the device through its readout
//! (`plastic_runtime::AdaptiveReadout`): the shipped SoftHebb device model
//! (`models/default/mnist-softhebb-device.int8.safetensors`) on scenarios of the bank, its state
//! saved and resumed, and `--adapt unsupervised` refused with the reason.
//!
//! The bank's figures are skipped under an emulator (`PLASTIC_SIM_RUNNER`) and without the
//! MNIST test set, as in `bank.rs`; the full table is in docs/RESULTS.md
//! (`python3 bench/shift_bank.py --extra "--model ..."`).

mod common;

use serde_json::Value;

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../models/default/mnist-softhebb-device.int8.safetensors"
);

/// The windows compared against the frozen device.
const WINDOWS: [&str; 4] = ["before_shift", "after_shift", "late_shift", "after_return"];

fn skipped() -> bool {
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

fn windows(run: &Value) -> [f64; 4] {
    WINDOWS.map(|w| common::window(run, w))
}

#[test]
fn labels_teach_the_softhebb_readout_a_new_view_without_costing_the_old_one() {
    if skipped() {
        return;
    }
    // Seed 0 (the rate and the replay were chosen on seed 0 of `tilt` and `thick-pen`; these
    // two scenarios were not looked at before). Measured: with labels on 20 % of frames dim
    // light wins back 57 % of its 20.7-point drop, noisy blur 50 % of 7.4 points, and no window
    // is below the frozen device; seeds 1 and 2 of the whole bank are in docs/RESULTS.md.
    for (scenario, bar) in [("dim-light", 0.35), ("noisy-blur", 0.35)] {
        let camera = format!("synthetic:{scenario}");
        let runs = common::devices(
            &["--model", MODEL, "--camera", &camera],
            &["off", "labels:0.2"],
        );
        let (frozen, labels) = (windows(&runs[0]), windows(&runs[1]));
        assert_eq!(runs[1]["label_steps"].as_u64().map(|n| n > 500), Some(true));
        let drop = frozen[0] - frozen[1];
        assert!(
            drop > 0.03,
            "{scenario}: the frozen device drops only {drop:.3}"
        );
        let won = (labels[2] - frozen[2]) / drop;
        println!(
            "{scenario}: labels on 20 % of frames win back {:.0} %",
            won * 100.0
        );
        assert!(won >= bar, "{scenario}: {won:.3} < {bar}");
        for (i, (l, f)) in labels.iter().zip(&frozen).enumerate() {
            assert!(
                l + 0.01 >= *f,
                "{scenario}, window {}: learning {l:.4} vs frozen {f:.4}",
                WINDOWS[i]
            );
        }
    }
}

#[test]
fn the_learned_readout_is_saved_and_taken_back_at_the_next_boot() {
    let dir = common::temp_dir("readout-state");
    let state = dir.join("state.safetensors");
    let state_arg = state.to_str().unwrap();
    let args = [
        "--model",
        MODEL,
        "--camera",
        "synthetic:digits",
        "--frames",
        "300",
        "--adapt",
        "labels:0.5",
        "--state",
        state_arg,
        "--json",
    ];
    let first = common::run_json(&args);
    assert!(first["label_steps"].as_u64().unwrap() > 100, "{first}");
    let saved = plastic_models::Checkpoint::from_bytes(&std::fs::read(&state).unwrap()).unwrap();
    let shipped = plastic_models::Checkpoint::from_bytes(&std::fs::read(MODEL).unwrap()).unwrap();
    let last = saved.layers.len() - 1;
    assert!(matches!(
        saved.layers[last].weight,
        plastic_models::Weights::F32(_)
    ));
    assert_ne!(saved.layers[last].weight, shipped.layers[last].weight);
    assert_eq!(saved.layers[..last], shipped.layers[..last]);
    assert_eq!(saved.train["frames_seen"], 300);
    assert!(
        saved.train["on_device"]["guard"].is_object(),
        "{}",
        saved.train
    );

    let out = common::spawn(&args).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("resuming from"), "{stderr}");
    let second = common::summary(&out);
    assert_eq!(second["frames"], 300);
    let again = plastic_models::Checkpoint::from_bytes(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(again.train["frames_seen"], 600);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_labels_a_softhebb_model_says_it_learns_only_from_them() {
    let out = common::sim()
        .args(["--model", MODEL, "--frames", "5", "--adapt", "unsupervised"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("learns from labels") && stderr.contains("--adapt labels:RATE"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
