//! The binary end to end: a hand-made model, a folder camera, the saved display, and failures.

mod common;

use std::path::Path;
use std::process::Output;

fn sim(args: &[&str]) -> Output {
    common::sim()
        .args(common::on_krotov_unless_named(args))
        .output()
        .unwrap()
}

fn image_size(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn class_mean_model_on_the_sample_folder_is_accurate_and_the_display_is_saved() {
    let dir = common::temp_dir("e2e");
    let model = common::write_class_mean_model(&dir);
    let display = dir.join("display");
    let camera = format!("dir:{}", common::samples_dir().display());
    let out = sim(&[
        "--model",
        model.to_str().unwrap(),
        "--camera",
        &camera,
        "--json",
        "--display",
        display.to_str().unwrap(),
        "--frames",
        "40",
    ]);
    let summary = common::summary(&out);
    assert_eq!(summary["frames"], 40);
    assert_eq!(summary["labelled"], 40);
    let accuracy = summary["accuracy"].as_f64().expect("accuracy is a number");
    assert!(accuracy > 0.5, "accuracy {accuracy}");
    assert_eq!(summary["precision"], "f32");
    assert_eq!(summary["model"], "class-means");
    assert!(summary["mean_infer_us"].as_f64().unwrap() > 0.0);
    assert!(summary["fps"].as_f64().unwrap() > 0.0);

    assert_eq!(image_size(&display.join("frame_00000.png")), (320, 240));
    assert_eq!(image_size(&display.join("frame_00039.png")), (320, 240));
    let gif = display.join("display.gif");
    assert_eq!(image_size(&gif), (320, 240));
    assert_eq!(
        image::ImageFormat::from_path(&gif).unwrap(),
        image::ImageFormat::Gif
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_synthetic_camera_runs_by_default_and_prints_a_human_summary() {
    let dir = common::temp_dir("synthetic");
    let model = common::write_class_mean_model(&dir);
    let samples = common::samples_dir();
    let out = sim(&[
        "--model",
        model.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
        "--frames",
        "30",
        "--seed",
        "4",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("frames     30") && stdout.contains("accuracy"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_garbage_image_is_skipped_and_the_run_goes_on() {
    let dir = common::temp_dir("garbage");
    let model = common::write_class_mean_model(&dir);
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    let digits = common::samples();
    for (i, d) in digits.iter().take(3).enumerate() {
        let name = format!("{i:04}_{}.png", d.label);
        std::fs::copy(&d.path, frames.join(name)).unwrap();
    }
    // Random bytes (fixed, so the test is reproducible) dressed as a PNG.
    let garbage: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(frames.join("x_3.png"), garbage).unwrap();
    let camera = format!("dir:{}", frames.display());
    let out = sim(&[
        "--model",
        model.to_str().unwrap(),
        "--camera",
        &camera,
        "--json",
    ]);
    let summary = common::summary(&out);
    assert_eq!(summary["frames"], 3);
    assert_eq!(summary["labelled"], 3);
    assert_eq!(summary["skipped"], 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("x_3.png"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_or_garbage_model_file_fails_with_its_path() {
    let dir = common::temp_dir("bad-model");
    let missing = dir.join("missing.safetensors");
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a checkpoint").unwrap();
    for path in [&missing, &garbage] {
        let out = sim(&["--model", path.to_str().unwrap(), "--frames", "1", "--json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert!(
            stderr.contains("error:") && stderr.contains("hint:"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_camera_lists_the_valid_ones() {
    let out = sim(&["--camera", "webcam:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("dir:PATH") && stderr.contains("synthetic:digits"),
        "{stderr}"
    );
}

#[test]
fn a_camera_that_opens_nothing_fails_with_a_message_not_a_panic() {
    // Without the feature: how to rebuild. With it: the device path and the OS's reason.
    let out = sim(&["--camera", "v4l2:/nonexistent/video9", "--frames", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--features v4l2") || stderr.contains("/nonexistent/video9"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_model_that_cannot_learn_runs_frozen_but_refuses_to_adapt() {
    let dir = common::temp_dir("not-adaptive");
    let model = common::write_class_mean_model(&dir);
    let model = model.to_str().unwrap();
    let frozen = common::summary(&sim(&["--model", model, "--frames", "5", "--json"]));
    assert_eq!(frozen["frames"], 5);
    assert_eq!(frozen["adapt"], "off");
    let out = sim(&["--model", model, "--adapt", "unsupervised", "--frames", "5"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot learn on the device")
            && stderr.contains("hint: run it with --adapt off"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn memory_and_frame_budgets_are_checked_and_counted() {
    let out = sim(&["--mem-budget", "100000", "--frames", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(
        stderr.contains("over the memory budget of 100000 bytes"),
        "{stderr}"
    );

    let s = common::summary(&sim(&[
        "--mem-budget",
        "4000000",
        "--frame-budget-us",
        "1",
        "--frames",
        "20",
        "--adapt",
        "labels:0.5",
        "--json",
    ]));
    assert_eq!(s["budget_misses"], 20, "every frame takes more than 1 us");
    assert_eq!(s["frame_budget_us"], 1);
    common::assert_a_step_on_every_digit(&s, 20);
    assert!(s["label_steps"].as_u64().unwrap() > 0);
    let model = s["model_bytes"].as_u64().unwrap();
    assert!(s["peak_memory_bytes"].as_u64().unwrap() > model + 160 * 120);
    if cfg!(target_os = "linux") {
        assert!(s["peak_rss_kb"].as_u64().unwrap() > 0);
    }
    let unbudgeted = common::summary(&sim(&["--frames", "2", "--json"]));
    assert!(unbudgeted["budget_misses"].is_null());
}

/// The camera's frames count against `--mem-budget`: a raw stream of huge frames is refused
/// before a byte is read, and a folder image too large for what the budget leaves is a bad
/// frame (skipped, counted), not an allocation.
#[test]
fn camera_frames_count_against_the_memory_budget() {
    let out = common::sim()
        .args([
            "--camera",
            "stdin:16384x16384:rgb24",
            "--mem-budget",
            "4000000",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("805306368 of them for one camera frame")
            && stderr.contains("over the memory budget of 4000000 bytes"),
        "{stderr}"
    );

    let dir = common::temp_dir("budget-frames");
    let frames = dir.join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    for (i, side) in [28u32, 2000, 28].into_iter().enumerate() {
        image::GrayImage::from_pixel(side, side, image::Luma([200]))
            .save(frames.join(format!("{i:04}_3.png")))
            .unwrap();
    }
    let camera = format!("dir:{}", frames.display());
    let s = common::summary(&sim(&[
        "--camera",
        &camera,
        "--mem-budget",
        "4000000",
        "--json",
    ]));
    assert_eq!(
        s["frames"], 2,
        "the 2000x2000 image (4 MB) is over what is left"
    );
    assert_eq!(s["skipped"], 1, "{s}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Options of a Krotov layer's learning given to the built-in model, which has none: a warning
/// names them and the run goes on; the Krotov demo takes them without one.
#[test]
fn krotov_options_on_a_model_without_a_krotov_layer_are_named_in_a_warning() {
    let samples = format!("dir:{}", common::samples_dir().display());
    let args = [
        "--camera",
        &samples,
        "--frames",
        "3",
        "--adapt",
        "labels:0.5",
        "--eps",
        "0.02",
        "--no-recruit",
        "--json",
    ];
    let built_in = common::sim().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&built_in.stderr);
    assert_eq!(common::summary(&built_in)["frames"], 3);
    assert!(
        stderr.contains("warning: --eps, --no-recruit: options of a Krotov layer's learning"),
        "{stderr}"
    );
    let krotov = sim(&args);
    assert_eq!(common::summary(&krotov)["frames"], 3);
    assert!(!String::from_utf8_lossy(&krotov.stderr).contains("warning"));
}
