//! A camera held sideways: the learning device finds which way its camera is turned from the
//! shipped model's own sureness, with no label, and reads the frames turned back; when the
//! camera is held as before again, it reads them as they come within a few frames
//! (docs/RESULTS.md, "Which way the camera is mounted"). A digit held before the camera for
//! many frames is evidence once ("A digit held before the camera"), a turn the next digits
//! do not bear out is not taken ("A turn on trial"), nor one whose answers collapse or whose
//! digits read clearly in no orientation ("A turn where no reading is clear"), and a return
//! they do not bear out is undone ("Views that come and go").
//!
//! Skipped without the MNIST test set in the shared data folder (set PLASTIC_DATA).

mod common;

use common::{frames_log, mnist_digits, next_gray, write_stream};
use plastic_sim::camera::SyntheticDigits;

/// Frames as the camera gives them, then turned a quarter, then as they come again.
const BEFORE: usize = 300;
const TURNED: usize = 600;
const AFTER: usize = 600;

/// The `width x height` gray frame turned a quarter clockwise: `height x width`.
fn turned_clockwise(pixels: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = vec![0; pixels.len()];
    for y in 0..width {
        for x in 0..height {
            out[y * height + x] = pixels[(height - 1 - x) * width + y];
        }
    }
    out
}

/// The accuracy over frames `range` of a frames log, and the orientations read there.
fn read_log(log: &str, range: std::ops::Range<usize>) -> (f64, Vec<String>) {
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let span = &lines[range];
    let right = span.iter().filter(|l| l["correct"] == true).count();
    let mut seen: Vec<String> = span
        .iter()
        .map(|l| l["orientation"].as_str().unwrap_or("none").to_string())
        .collect();
    seen.dedup();
    (right as f64 / span.len() as f64, seen)
}

/// What both streams must show: the turned digits mostly misread by the frozen device; as
/// they come, the learning device never turned and as good as frozen; late in the turned
/// frames, one turned orientation (besides false returns the device undid) read within 3
/// points of the frozen device as they came.
fn assert_turned_back_only_when_turned(
    (frozen_before, frozen_turned): (f64, f64),
    (before, seen_before): (f64, &[String]),
    (late, seen_late): (f64, &[String]),
) {
    assert!(
        frozen_turned < 0.5,
        "frozen on turned frames: {frozen_turned}"
    );
    assert_eq!(seen_before, ["as-it-comes"]);
    assert!(
        before >= frozen_before - 0.005,
        "{before} vs {frozen_before}"
    );
    let mut turned: Vec<&String> = seen_late.iter().filter(|o| *o != "as-it-comes").collect();
    turned.dedup();
    assert_eq!(turned.len(), 1, "{seen_late:?}");
    assert!(turned[0].starts_with("turned-"), "{seen_late:?}");
    assert!(seen_late.last() == Some(turned[0]), "{seen_late:?}");
    assert!(late >= frozen_before - 0.03, "{late} vs {frozen_before}");
}

/// Measured: frozen, 98.3 % of the frames as they come, 12.0 % of the turned ones and 98.0 %
/// of those after; the learning device 98.3 %, 87.0 % of the turned frames (it turns after
/// about 75 of them, the last 8 its turn's trial) and 97.0 % of their last 300 (a false
/// return on the way back's sum, undone as a return in doubt), and 97.5 % after (three
/// frames of 600).
#[test]
fn a_camera_held_sideways_is_turned_back_without_labels_and_let_go_when_it_returns() {
    let Some(digits) = mnist_digits(3000) else {
        return;
    };
    let dir = common::temp_dir("orientation");
    let mut camera = SyntheticDigits::from_digits(digits, 9).unwrap();
    let stream = dir.join("sideways");
    write_stream(
        &stream,
        (0..BEFORE + TURNED + AFTER).map(|n| {
            let (gray, width, height, label) = next_gray(&mut camera);
            let (w, h) = (width as u32, height as u32);
            if (BEFORE..BEFORE + TURNED).contains(&n) {
                (turned_clockwise(&gray, width, height), h, w, label)
            } else {
                (gray, w, h, label)
            }
        }),
    );
    let (frozen, learning) = (
        frames_log(&dir, &stream, "off"),
        frames_log(&dir, &stream, "unsupervised"),
    );
    let turned = BEFORE..BEFORE + TURNED;
    let settled = BEFORE + TURNED / 2..BEFORE + TURNED;
    let returned = BEFORE + TURNED..BEFORE + TURNED + AFTER;
    let (frozen_before, _) = read_log(&frozen, 0..BEFORE);
    let (frozen_turned, _) = read_log(&frozen, turned.clone());
    let (frozen_returned, _) = read_log(&frozen, returned.clone());
    let (before, seen_before) = read_log(&learning, 0..BEFORE);
    let (whole, _) = read_log(&learning, turned);
    let (late, seen_late) = read_log(&learning, settled);
    let (back, _) = read_log(&learning, returned.clone());
    let (_, seen_end) = read_log(&learning, returned.end - 100..returned.end);
    eprintln!(
        "frozen {frozen_before:.3} {frozen_turned:.3} {frozen_returned:.3}; learning \
         {before:.3} {whole:.3} {late:.3} {back:.3}; {seen_before:?} {seen_late:?} {seen_end:?}"
    );
    assert_turned_back_only_when_turned(
        (frozen_before, frozen_turned),
        (before, &seen_before),
        (late, &seen_late),
    );
    assert!(whole >= frozen_turned + 0.4, "{whole} vs {frozen_turned}");
    // The camera held as before again: within a point of the frozen device.
    assert!(
        back >= frozen_returned - 0.01,
        "{back} vs {frozen_returned}"
    );
    assert_eq!(seen_end, ["as-it-comes"]);
    if std::env::var_os("PLASTIC_KEEP_STREAMS").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A hand holding each digit before the camera: frames `0..frames`, each camera frame shown
/// for 4 to 39 frames, moved a pixel every other frame (the device frames it again, so its
/// framed picture barely changes), turned a quarter from frame `turn_from` on.
fn held_stream(camera: &mut SyntheticDigits, frames: usize, turn_from: usize) -> Vec<StreamFrame> {
    let mut out = Vec::with_capacity(frames);
    let mut hold = 0;
    while out.len() < frames {
        let (gray, width, height, label) = next_gray(camera);
        hold += 1;
        for k in 0..4 + (hold * 13) % 36 {
            if out.len() == frames {
                break;
            }
            // A pixel to the right on odd frames: the row shifted, its first pixel repeated.
            let mut moved = gray.clone();
            if k % 2 == 1 {
                for row in moved.chunks_exact_mut(width) {
                    row.copy_within(..width - 1, 1);
                }
            }
            let (w, h) = (width as u32, height as u32);
            out.push(if out.len() >= turn_from {
                (turned_clockwise(&moved, width, height), h, w, label)
            } else {
                (moved, w, h, label)
            });
        }
    }
    out
}

/// One frame as `write_stream` takes it: gray pixels, width, height, label.
type StreamFrame = (Vec<u8>, u32, u32, u8);

/// Measured: frozen, 89.2 % of the held digits as they come (a misread digit held long
/// weighs more) and 12.1 % turned; the learning device 89.2 % and 51.3 % of the turned frames,
/// turning once, and 97.3 % of their last 600 (65.0 %, 433 frames or about 20 digits in,
/// before a turn waited for its trial's 8 digits: held 4 to 39 frames each). Counted frame
/// by frame, as before held digits were evidence once, it turned 10 times on this stream,
/// going back to the frames as they come while the camera stayed turned, and read 79.0 % of
/// the last 600.
#[test]
fn a_held_digit_neither_turns_the_device_nor_brings_it_back() {
    const AS_THEY_COME: usize = 800;
    const FRAMES: usize = 2000;
    let Some(digits) = mnist_digits(3000) else {
        return;
    };
    let dir = common::temp_dir("orientation-held");
    let mut camera = SyntheticDigits::from_digits(digits, 10).unwrap();
    let stream = dir.join("held");
    write_stream(
        &stream,
        held_stream(&mut camera, FRAMES, AS_THEY_COME).into_iter(),
    );
    let (frozen, learning) = (
        frames_log(&dir, &stream, "off"),
        frames_log(&dir, &stream, "unsupervised"),
    );
    let (frozen_before, _) = read_log(&frozen, 0..AS_THEY_COME);
    let (frozen_turned, _) = read_log(&frozen, AS_THEY_COME..FRAMES);
    let (before, seen_before) = read_log(&learning, 0..AS_THEY_COME);
    let (whole, seen_turned) = read_log(&learning, AS_THEY_COME..FRAMES);
    let (late, seen_late) = read_log(&learning, FRAMES - 600..FRAMES);
    eprintln!(
        "frozen {frozen_before:.3} {frozen_turned:.3}; learning {before:.3} {whole:.3} \
         {late:.3}; {seen_before:?} {seen_turned:?}"
    );
    assert_turned_back_only_when_turned(
        (frozen_before, frozen_turned),
        (before, &seen_before),
        (late, &seen_late),
    );
    // One turn, never back while the camera stays turned.
    assert_eq!(seen_turned.len(), 2, "{seen_turned:?}");
    if std::env::var_os("PLASTIC_KEEP_STREAMS").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A camera rolled 20 degrees with a pen a pixel wider, each digit held for a few frames
/// (`bench/held_out_streams.py --seed 54 --hold 4 --roll 20 --pen 1`: 2000 MNIST digits as the
/// camera gives them, 2000 so, 1000 as before), made after the finder's first constants were
/// chosen; the trial of a turn was then made on it and the recorded sureness of four others,
/// and shown on streams made afterwards (docs/RESULTS.md, "A turn on trial"). No quarter turn
/// or mirror reads it better, but a stretch of digits that read surer mirrored carried the
/// running means over the margin: the device turned to `turned-270-mirrored` for 46 frames
/// and read 1.0 point below a frozen one over the 2000 rolled frames (2.9 over their first
/// 1000). Measured now: no turn (one proposal refused by its trial), 89.5 % of the rolled
/// frames against 88.6 % frozen.
#[test]
fn a_turn_the_next_digits_do_not_bear_out_is_refused() {
    let args = ["--seed", "54", "--hold", "4", "--roll", "20", "--pen", "1"];
    assert_refused_and_never_below_frozen(&args, "2000..4000");
}

/// A camera rolled 150 degrees the other way under a rolling shutter's bands, with a pen a
/// pixel thinner (`bench/held_out_streams.py --seed 152 --change banding --roll -150 --pen -1`:
/// 2000 MNIST digits as the camera gives them, 2000 so, 1000 as before), made to check the
/// trial's floor on a stream it was not chosen on (docs/RESULTS.md, "A turn where no reading
/// is clear"). The shipped model reads no orientation of these digits clearly (35.5 % of them
/// frozen): two trials read them surer mirrored and diagonal, 0.55 and 0.63 sure on average,
/// and the device turned and came back 36 times, 1.6 points below a frozen one over 1000
/// frames. Measured now: no turn, six proposals refused, 38.5 % of the changed frames.
#[test]
fn no_turn_is_taken_where_no_reading_is_clear() {
    let args = [
        "--seed", "152", "--change", "banding", "--roll", "-150", "--pen", "-1",
    ];
    assert_refused_and_never_below_frozen(&args, "2000..4000");
}

/// The frozen and the learning device without labels (shift range `shift`) on the stream
/// `bench/held_out_streams.py` writes with `args`, the stream removed after. `None` (with the
/// reason printed) where the bank's figures are not measured or Python or its packages are
/// missing.
fn frozen_and_learning_on(args: &[&str], shift: &str) -> Option<Vec<serde_json::Value>> {
    devices_on_stream("held_out_streams.py", args, shift, &["off", "unsupervised"])
}

/// [`frozen_and_learning_on`] a stream of any script of `bench/`, one device per `--adapt`
/// mode of `modes`.
fn devices_on_stream(
    script: &str,
    args: &[&str],
    shift: &str,
    modes: &[&str],
) -> Option<Vec<serde_json::Value>> {
    if common::bank_skipped() {
        return None;
    }
    let data = plastic_sim::camera::mnist::shared_data_dir()?;
    let dir = common::bench_stream(script, &data, args, "numpy scipy")?;
    let runs = common::built_in_on_stream(&dir, shift, modes);
    let _ = std::fs::remove_dir_all(&dir);
    Some(runs)
}

/// On the stream `bench/held_out_streams.py` writes with `args`, the learning device (shift
/// range `shift`) never turns, refuses a proposal at least, and is in no window more than half
/// a point below the frozen device. Nothing where [`frozen_and_learning_on`] skips.
fn assert_refused_and_never_below_frozen(args: &[&str], shift: &str) {
    let Some(runs) = frozen_and_learning_on(args, shift) else {
        return;
    };
    let report = &runs[1]["orientation"];
    assert_eq!(report["turns"], 0, "{report}");
    assert!(report["refused"].as_u64().unwrap() >= 1, "{report}");
    common::assert_never_below(
        "learning",
        &common::bank_windows(&runs[1]),
        &common::bank_windows(&runs[0]),
        0.005,
    );
}

/// A device put before a camera rolled 25 degrees, with a pen a pixel wider, from its first
/// frame on (`bench/held_out_streams.py --seed 71 --segments changed:2000,plain:2000,changed:1000
/// --roll 25 --pen 1`: 2000 digits so, 2000 as MNIST's, 1000 so again), made after the trial
/// was chosen. 800 frames into the second rolled stretch the running means proposed a mirrored
/// diagonal reading, the next 8 digits read surer there, and the device turned for 38 frames:
/// 1.2 points below a frozen one over those 1000 frames. Its answers read that way fell on a
/// few classes (`0`s and `4`s), 1.2 bits less spread than as the frames came; a proposal whose
/// answers are 0.5 bits less spread is now refused (docs/RESULTS.md, "Views that come and go").
/// Measured now: no turn, three proposals refused, never below the frozen device.
#[test]
fn a_turn_to_an_orientation_whose_answers_collapse_is_refused() {
    let args = [
        "--seed",
        "71",
        "--segments",
        "changed:2000,plain:2000,changed:1000",
        "--roll",
        "25",
        "--pen",
        "1",
    ];
    // The plain stretch is the "shift" here, so the second rolled one is the return window.
    assert_refused_and_never_below_frozen(&args, "2000..4000");
}

/// A camera rolled 160 degrees with a pen a pixel thinner (`bench/held_out_streams.py --seed
/// 97 --roll -160 --pen -1`: 2000 MNIST digits as the camera gives them, 2000 so, 1000 as
/// before), made after the finder's constants were chosen. Turned upside down the digits read
/// right nine times in ten, but a run of `0`s, `1`s and `8`s reads as surely as they come, and
/// a turned `6` as a `9`: the way back brought the device back falsely, the probes took it
/// back only after twice the wait and more, and it read the last 550 frames of the shift as
/// they came (43.3 % of frames 1000-2000 of the shift). A return is now in doubt for the
/// next 32 pictures, and the fast means take the orientation left again when it stands out
/// (docs/RESULTS.md, "Views that come and go"). Measured now: 87.9 % there against 35.6 %
/// frozen; the original view's return costs 0.7 points (13 frames late).
#[test]
fn a_return_the_next_digits_do_not_bear_out_is_undone_within_a_few_frames() {
    let args = ["--seed", "97", "--roll", "-160", "--pen", "-1"];
    let Some(runs) = frozen_and_learning_on(&args, "2000..4000") else {
        return;
    };
    let (frozen, learning) = (
        common::bank_windows(&runs[0]),
        common::bank_windows(&runs[1]),
    );
    assert!(learning[2] >= 0.8, "late in the shift: {learning:?}");
    common::assert_never_below("learning", &learning, &frozen, 0.01);
}

/// Digits held about 40 frames each before a camera mounted upside down under a shadow
/// (`bench/held_out_streams.py --seed 14 --change upside --shadow 0.5 --hold 40`: 2000 frames
/// of MNIST digits as they come, 2000 upside down, 1000 as before). The fast means of the way
/// back carried the turned stretch's lead into the return, and the first digits back were a
/// `0`, an `8` and `9`s, which read about as surely upside down: the device came back 349
/// frames late, 20.8 points below a frozen device over the 1000 frames of the return. The
/// way back's sum, which stores no lead up (docs/RESULTS.md, "Views that come and go"), takes
/// it back 99 frames late, some of them digits that read right either way: 3.8 points.
#[test]
fn a_long_turned_stretch_does_not_hold_the_way_back_up() {
    let args = [
        "--seed", "14", "--change", "upside", "--shadow", "0.5", "--hold", "40",
    ];
    let Some(runs) = frozen_and_learning_on(&args, "2000..4000") else {
        return;
    };
    let (frozen, learning) = (
        common::bank_windows(&runs[0]),
        common::bank_windows(&runs[1]),
    );
    assert!(
        learning[2] >= frozen[2] + 0.5,
        "late in the shift: {learning:?} vs {frozen:?}"
    );
    assert!(
        learning[3] >= frozen[3] - 0.06,
        "the return: {learning:?} vs {frozen:?}"
    );
}

/// A camera turning slowly to 120 degrees and back, a little with every frame
/// (`bench/drifting_streams.py --kind roll-and-back --seed 1`: 1000 MNIST digits as they come,
/// 4000 while it turns and turns back, 1000 as they come). No orientation of the square is
/// right for long: the device follows the turn with its finder and its digit warp, a quarter
/// turn at a time. Measured: 90.3 % of the first 2000 turning frames against 44.9 % frozen,
/// 95.2 % of the second 1000 of them against 17.6 %, and 0.2 points below the frozen device
/// once the camera is straight again (docs/RESULTS.md, "Views that drift frame by frame").
#[test]
fn a_camera_that_turns_slowly_and_back_is_followed() {
    let args = ["--kind", "roll-and-back", "--seed", "1"];
    let modes = ["off", "unsupervised"];
    let Some(runs) = devices_on_stream("drifting_streams.py", &args, "1000..5000", &modes) else {
        return;
    };
    let (frozen, learning) = (
        common::bank_windows(&runs[0]),
        common::bank_windows(&runs[1]),
    );
    for w in [1, 2] {
        assert!(
            learning[w] >= 0.8 && learning[w] >= frozen[w] + 0.3,
            "while it turns: {learning:?} vs {frozen:?}"
        );
    }
    common::assert_never_below("learning", &learning, &frozen, 0.005);
}

/// A camera turning slowly through half a turn, then straight again (`bench/drifting_streams.py
/// --kind ramp-roll --seed 1`), with labels on 5 % of frames. The learning model, taught on the
/// turning view, went on answering the original one when it came back (a `3` for many `8`s,
/// `5`s and `2`s), 2.1 points below a frozen device over those 1000 frames: the guard's label
/// records had been filled on the turned view, and no labelled frame of the return fell on a
/// disagreement of the two models to turn them. Coming back from a turn held long, the guard
/// now forgets them (`Guard::forget_label_records`): 0.9 points below, within the bar
/// of a point (docs/RESULTS.md, "Views that drift frame by frame").
#[test]
fn with_labels_the_original_view_is_read_as_before_after_a_long_turn() {
    let args = ["--kind", "ramp-roll", "--seed", "1"];
    let modes = ["off", "labels:0.05 --seed 1"];
    let Some(runs) = devices_on_stream("drifting_streams.py", &args, "1000..5000", &modes) else {
        return;
    };
    let (frozen, learning) = (
        common::bank_windows(&runs[0]),
        common::bank_windows(&runs[1]),
    );
    assert!(
        learning[3] >= frozen[3] - 0.01,
        "the return: {learning:?} vs {frozen:?}"
    );
    assert!(
        learning[2] >= frozen[2] + 0.3,
        "while it turns: {learning:?} vs {frozen:?}"
    );
}
