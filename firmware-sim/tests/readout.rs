//! A model that is not a Krotov one learns on the device through its readout
//! (`plastic_runtime::AdaptiveReadout`): the shipped SoftHebb device model
//! (`models/default/mnist-softhebb-device.int8.safetensors`) on scenarios of the bank, with
//! and without labels, its state saved and resumed; a dense model that is not of digits
//! learns from labels and refuses `--adapt unsupervised` with the reason; its last convolution
//! learns by its SoftHebb rule where asked (`--conv-rate`), and only where it can.
//!
//! The bank's figures are skipped under an emulator (`PLASTIC_SIM_RUNNER`) and without the
//! MNIST test set, as in `bank.rs`; the full table is in docs/RESULTS.md
//! (`python3 bench/shift_bank.py --extra "--model ..."`).

mod common;

const MODEL: &str = common::BUILT_IN;

fn skipped() -> bool {
    common::bank_skipped()
}

#[test]
fn labels_teach_the_softhebb_readout_a_new_view_without_costing_the_old_one() {
    if skipped() {
        return;
    }
    // Seed 0, labels on 5 % of frames. Measured: a turned camera (with the digit warp) wins
    // back 103 % of its 13.4-point drop, a thicker pen 16 % of 3.7 points, and no window is
    // below the frozen device. The thicker pen's share is the noisier: 32 % before the paper's
    // surface (plastic_runtime::paper_surface) changed 5 of its 5000 frozen frames, -9 to 32 %
    // over the bank's seeds (docs/RESULTS.md), so its bar is 10 %. The rate and the replay were
    // chosen on seed 0 of these two before the framing brought digits to MNIST's ink levels;
    // seeds 1 and 2 of the whole bank, and streams nothing was chosen on, are in
    // docs/RESULTS.md.
    for (scenario, bar) in [("tilt", 0.5), ("thick-pen", 0.10)] {
        let camera = format!("synthetic:{scenario}");
        let runs = common::devices(
            &["--model", MODEL, "--camera", &camera],
            &["off", "labels:0.05"],
        );
        let (frozen, labels) = (
            common::bank_windows(&runs[0]),
            common::bank_windows(&runs[1]),
        );
        assert_eq!(runs[1]["label_steps"].as_u64().map(|n| n > 200), Some(true));
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
        common::assert_never_below(scenario, &labels, &frozen, 0.01);
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
    // The summary gives the settings of the learner that ran, not the Krotov layer's.
    assert_eq!(first["channel_horizon"], 500, "{first}");
    assert!(
        first["eps"].is_null() && first["recruit"].is_null(),
        "{first}"
    );
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
    // The channels' running statistics, beside the reference the model shipped with.
    let channels = &saved.train["on_device"]["channels"];
    assert_eq!(channels["frames"], 300, "{channels}");
    assert_eq!(
        channels["reference"],
        shipped.train["on_device"]["channels"]["reference"]
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
fn without_labels_the_softhebb_device_undoes_a_turned_camera_and_never_costs() {
    if skipped() {
        return;
    }
    // The digit warp needs no labels and works before any model (seed 0). Measured: 105 % of
    // the turned camera's 13.3-point drop won back (31 % when the guard chose frame by frame),
    // no window more than 0.1 points below the frozen device.
    let runs = common::devices(
        &["--model", MODEL, "--camera", "synthetic:tilt"],
        &["off", "unsupervised"],
    );
    let (frozen, learning) = (
        common::bank_windows(&runs[0]),
        common::bank_windows(&runs[1]),
    );
    let won = common::won_back(&learning, &frozen);
    println!("tilt: without labels {:.0} % won back", won * 100.0);
    assert!(won >= 0.6, "{won:.3}");
    common::assert_never_below("tilt without labels", &learning, &frozen, 0.005);
}

#[test]
fn without_labels_the_softhebb_device_never_costs_on_a_new_pen_light_or_class_mix() {
    if skipped() {
        return;
    }
    // Seed 0, the channels' statistics aligned to those the model shipped with (the horizon
    // was chosen among 200, 500 and 1000 on this seed; the three gave the same within 2 %).
    // Measured: no window below the frozen device by more than 0.1 point on a thicker pen,
    // dim light and a label shift (70 % eights, where a device without the guard lost up to
    // 19 points). Before the framing brought digits to MNIST's ink levels, dim light dropped
    // 20.7 points and the alignment won back 73 %: most of that loss was the framing's, which
    // now leaves 3.4 points.
    for scenario in ["thick-pen", "dim-light", "one-class"] {
        let camera = format!("synthetic:{scenario}");
        let runs = common::devices(
            &["--model", MODEL, "--camera", &camera],
            &["off", "unsupervised"],
        );
        let (frozen, learning) = (
            common::bank_windows(&runs[0]),
            common::bank_windows(&runs[1]),
        );
        println!(
            "{scenario}: without labels {:.0} % won back",
            common::won_back(&learning, &frozen) * 100.0
        );
        common::assert_never_below(scenario, &learning, &frozen, 0.005);
    }
}

/// A two-layer model of 8x8 RGB images (not digits), all weights zero.
fn colour_model(dir: &std::path::Path) -> std::path::PathBuf {
    use plastic_models::{
        Activation, Checkpoint, InputSpec, LayerKind, LayerSpec, LayerTensors, ModelSpec,
        Preprocess, Weights,
    };
    let dense = |inputs, outputs| LayerSpec {
        kind: LayerKind::Dense,
        inputs,
        outputs,
        bias: true,
        activation: Activation::Relu,
        conv: None,
    };
    let tensors = |n: usize, b: usize| LayerTensors {
        weight: Weights::F32(vec![0.0; n]),
        bias: Some(vec![0.0; b]),
        feedback: None,
    };
    let ckpt = Checkpoint {
        spec: ModelSpec {
            name: "colour".into(),
            input: InputSpec {
                width: 8,
                height: 8,
                channels: 3,
                preprocess: Preprocess::Scale01,
            },
            layers: vec![dense(192, 16), dense(16, 10)],
            classes: vec![],
        },
        layers: vec![tensors(192 * 16, 16), tensors(160, 10)],
        train: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    };
    let path = dir.join("colour.safetensors");
    std::fs::write(&path, ckpt.to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn a_model_that_is_not_of_digits_learns_from_labels_and_says_why_not_without() {
    let dir = common::temp_dir("readout-colour");
    let model = colour_model(&dir);
    let model = model.to_str().unwrap();
    let run = |mode: &str| {
        common::sim()
            .args([
                "--model", model, "--frames", "20", "--adapt", mode, "--json",
            ])
            .output()
            .unwrap()
    };
    let labels = common::summary(&run("labels:0.5"));
    assert!(labels["label_steps"].as_u64().unwrap() > 0, "{labels}");
    let out = run("unsupervised");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("learns from labels") && stderr.contains("--adapt labels:RATE"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_last_convolution_learns_only_where_it_can_and_says_why_not() {
    let softhebb = "models/default/mnist-softhebb-device.int8.safetensors";
    let model = MODEL;
    let run = |extra: &[&str]| {
        common::sim()
            .args(["--frames", "30", "--adapt", "unsupervised", "--json"])
            .args(extra)
            .output()
            .unwrap()
    };
    // The Krotov demo, a SoftHebb model without its channels aligned, a negative rate:
    // refused with the reason and the fix, nothing panics.
    for (extra, reason) in [
        (
            vec!["--model", common::KROTOV, "--conv-rate", "0.01"],
            "Krotov layer",
        ),
        (
            vec![
                "--model",
                model,
                "--conv-rate",
                "0.01",
                "--channel-horizon",
                "0",
            ],
            "channels aligned",
        ),
        (vec!["--model", model, "--conv-rate=-1"], "above 0"),
    ] {
        let out = run(&extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(
            stderr.contains(reason) && stderr.contains(softhebb) && !stderr.contains("panicked"),
            "{extra:?}: {stderr}"
        );
    }
    // Where it can, it steps on every frame once the reference is known (the shipped model
    // brings it, so from the second frame on).
    let summary = common::summary(&run(&["--model", model, "--conv-rate", "0.003"]));
    common::assert_a_step_on_every_digit(&summary, 29);
    assert_eq!(summary["conv_rate"].as_f64(), Some(0.003), "{summary}");
}
