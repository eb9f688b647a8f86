//! The `plastic-train` binary: a run that learned nothing is an error, not a result (and
//! `--json` reports it); a model, dataset or device it does not know is a usage error that
//! lists the choices.

use std::process::Command;

use plastic_trainer::preset::Preset;

/// A Krotov run whose readout never moves (a learning rate of 1e-30, too small to change an
/// f32 weight) stays at chance level: the binary keeps the checkpoint for inspection, says why
/// and what to change, and exits non-zero so that no script takes it for a model.
#[test]
fn a_run_at_chance_level_fails_with_a_hint() {
    let Some(dir) = plastic_trainer::data::shared_data_dir() else {
        eprintln!("skipped: no shared data (set PLASTIC_DATA)");
        return;
    };
    let tmp = std::env::temp_dir().join(format!("plastic-train-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let preset = tmp.join("still.toml");
    let mut still = Preset::load("krotov-mnist").unwrap();
    let readout = still.readout_mut().unwrap();
    (readout.lr0, readout.lr_end) = (1e-30, 0.0);
    let text = toml::to_string(&still).unwrap();
    std::fs::write(&preset, text).unwrap();
    let out_file = tmp.join("still.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_plastic-train"))
        .args(["krotov", "--data-dir"])
        .arg(&dir)
        .arg("--preset")
        .arg(&preset)
        .args([
            "--train-limit",
            "10",
            "--epochs",
            "1",
            "--readout-epochs",
            "1",
            "--hidden",
            "20",
        ])
        .args(["--quiet", "--json", "--seed", "3", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // `--json` reports the run on stdout, a failed one too (its checkpoint was written).
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["model"], "krotov");
    assert_eq!(report["out"], out_file.to_str().unwrap());
    assert!(report["metrics"]["test_accuracy"].as_f64().unwrap() < 0.2);
    assert!(stderr.contains("is chance level"), "{stderr}");
    assert!(stderr.contains("raise the readout's `n`"), "{stderr}");
    assert!(out_file.exists(), "the checkpoint is kept for inspection");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A preset whose rate is 0 never trains: the binary refuses it before loading any data,
/// names the key, and writes nothing.
#[test]
fn a_preset_that_cannot_learn_is_refused_before_training() {
    let tmp = std::env::temp_dir().join(format!("plastic-train-zero-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let preset = tmp.join("zero.toml");
    let mut zero = Preset::load("mlp-bp-mnist").unwrap();
    zero.mlp_mut().unwrap().lr0 = 0.0;
    std::fs::write(&preset, toml::to_string(&zero).unwrap()).unwrap();
    let out_file = tmp.join("zero.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_plastic-train"))
        .args(["mlp-bp", "--data-dir"])
        .arg(tmp.join("no-data-needed"))
        .arg("--preset")
        .arg(&preset)
        .arg("--out")
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("[mlp] lr0 = 0 would not learn"), "{stderr}");
    assert!(!out_file.exists());
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `--help` lists the models, datasets and devices, and a name outside them exits with code 2
/// and the choices before anything is loaded.
#[test]
fn wrong_names_exit_2_with_the_choices() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_plastic-train"))
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for name in [
        "krotov-linear",
        "cnn-fa",
        "fashion-mnist",
        "cifar10",
        "cuda",
    ] {
        assert!(text.contains(name), "{name} missing from --help: {text}");
    }
    for (args, wrong, choices) in [
        (&["resnet", "--out", "x"][..], "'resnet'", "mlp-dfa, mlp-ss"),
        (
            &["krotov", "--dataset", "svhn", "--out", "x"],
            "'svhn'",
            "fashion-mnist, cifar10",
        ),
        (
            &["krotov", "--device", "tpu", "--out", "x"],
            "'tpu'",
            "cpu, cuda",
        ),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(wrong) && err.contains(choices),
            "{args:?}: {err}"
        );
    }
}

/// Asking for CUDA from a build without it says how to get it, before any data is read; the
/// default `auto` trains on the CPU instead (the other tests).
#[test]
#[cfg(not(feature = "cuda"))]
fn cuda_without_the_feature_says_how_to_build_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_plastic-train"))
        .args(["krotov", "--device", "cuda", "--data-dir", "/nonexistent"])
        .args(["--out", "/nonexistent/x.safetensors"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--features cuda") && err.contains("--device cpu"),
        "{err}"
    );
}
