//! `--camera stdin:WxH:FORMAT`: raw frames piped in, as from a capture tool or ffmpeg.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs the simulator on `camera` with `bytes` on its standard input.
fn piped(camera: &str, bytes: Vec<u8>) -> Output {
    let mut child = common::sim()
        .args(["--camera", camera, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from a thread, so a large input cannot block against a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// A gray frame with a dark digit-like bar on light paper.
fn bar_frame(w: usize, h: usize) -> Vec<u8> {
    let mut f = vec![220u8; w * h];
    for y in h / 4..3 * h / 4 {
        for x in w / 2 - 2..w / 2 + 2 {
            f[y * w + x] = 30;
        }
    }
    f
}

#[test]
fn whole_frames_run_and_the_end_of_the_stream_ends_the_run() {
    let bytes: Vec<u8> = (0..3).flat_map(|_| bar_frame(64, 48)).collect();
    let out = piped("stdin:64x48:gray8", bytes);
    let s = common::summary(&out);
    assert_eq!(s["frames"], 3);
    assert_eq!(s["skipped"], 0);
    assert_eq!(s["labelled"], 0);
    assert!(
        s["accuracy"].is_null() && s["windows"]["end"].is_null(),
        "{s}"
    );

    // No bytes at all: an empty stream, not an error.
    let s = common::summary(&piped("stdin:64x48:gray8", Vec::new()));
    assert_eq!(s["frames"], 0);
}

#[test]
fn a_short_last_frame_is_reported_and_the_summary_still_printed() {
    // Two whole RGB frames of seeded garbage, then 100 bytes of a third.
    let mut rng = plastic_sim::rng::SplitMix64::new(9);
    let bytes: Vec<u8> = (0..2 * 32 * 24 * 3 + 100)
        .map(|_| rng.next_u64() as u8)
        .collect();
    let out = piped("stdin:32x24:rgb24", bytes);
    let s = common::summary(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(s["frames"], 2);
    assert_eq!(s["skipped"], 1);
    assert!(
        stderr.contains("stream ended inside frame 2: got 100 of 2304 bytes"),
        "{stderr}"
    );
}

/// The data folder holding `video/bigbuckbunny.mp4`, if present.
fn video() -> Option<PathBuf> {
    let data = plastic_sim::camera::mnist::shared_data_dir()?;
    Some(data.join("video/bigbuckbunny.mp4")).filter(|p| p.is_file())
}

/// A real video decoded by ffmpeg and piped in, as a camera pipeline would: every frame runs,
/// no labels. Skipped (with a message) without ffmpeg or the shared data.
#[test]
fn an_ffmpeg_decoded_video_plays_through_the_device() {
    let Some(video) = video() else {
        eprintln!("skipped: no shared data with video/bigbuckbunny.mp4 (set PLASTIC_DATA)");
        return;
    };
    let ffmpeg = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&video)
        .args([
            "-vf",
            "scale=320:240",
            "-pix_fmt",
            "gray",
            "-f",
            "rawvideo",
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut ffmpeg) = ffmpeg else {
        eprintln!("skipped: ffmpeg is not installed (apt-get install ffmpeg)");
        return;
    };
    let out = common::sim()
        .args(["--camera", "stdin:320x240:gray8", "--json"])
        .stdin(Stdio::from(ffmpeg.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(ffmpeg.wait().unwrap().success());
    let s = common::summary(&out);
    assert_eq!(s["frames"], 132);
    assert_eq!(s["skipped"], 0);
    assert!(s["accuracy"].is_null());
    // The frame buffer is part of the device's memory: one 320x240 gray frame.
    assert!(s["peak_memory_bytes"].as_u64().unwrap() > s["model_bytes"].as_u64().unwrap() + 76_800);
}
