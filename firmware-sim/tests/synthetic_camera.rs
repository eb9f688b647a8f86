//! The simulated camera: reproducible, labelled, and recoverable by the MNIST framing.

mod common;

use plastic_runtime::preprocess::{PixelFormat, frame_like_mnist};
use plastic_sim::camera::{Camera, SyntheticDigits};

fn frames(seed: u64, n: usize) -> Vec<plastic_sim::Frame> {
    let mut cam = SyntheticDigits::open(&common::samples_dir(), seed).unwrap();
    (0..n).map(|_| cam.next_frame().unwrap().unwrap()).collect()
}

#[test]
fn the_same_seed_gives_the_same_frames_and_another_seed_differs() {
    let a = frames(7, 5);
    assert_eq!(a, frames(7, 5));
    let b = frames(8, 5);
    assert!(a.iter().zip(&b).all(|(x, y)| x.data != y.data));
}

#[test]
fn frames_are_160x120_gray_with_the_label_of_the_sample_shown() {
    let mut cam = SyntheticDigits::open(&common::samples_dir(), 1).unwrap();
    for _ in 0..20 {
        let frame = cam.next_frame().unwrap().unwrap();
        assert_eq!((frame.width, frame.height), (160, 120));
        assert_eq!(frame.format, PixelFormat::Gray8);
        assert_eq!(frame.data.len(), 160 * 120);
        assert_eq!(frame.label, Some(cam.last_digit().unwrap().label));
    }
    assert_eq!(cam.default_frames(), Some(200));
}

/// Thin strokes (7s, 9s) lose correlation to a pixel of shift or a tenth of scale, which the
/// threshold-based bounding box of the framing cannot avoid; on the MNIST test digits 39 to 45
/// of 50 frames pass r > 0.6 for seeds 0..10, so 35 leaves room for other sample sets.
#[test]
fn mnist_framing_recovers_the_sample_digit_from_most_frames() {
    let mut cam = SyntheticDigits::open(&common::samples_dir(), 3).unwrap();
    let mut recovered = 0;
    let mut worst = f64::MAX;
    for _ in 0..50 {
        let frame = cam.next_frame().unwrap().unwrap();
        let mut input = [0u8; 784];
        frame_like_mnist(&frame.data, frame.width, frame.height, &mut input).unwrap();
        let r = common::correlation(&input, &cam.last_digit().unwrap().pixels);
        worst = worst.min(r);
        recovered += usize::from(r > 0.6);
    }
    assert!(
        recovered >= 35,
        "{recovered} of 50 frames recovered, worst r = {worst:.2}"
    );
}
