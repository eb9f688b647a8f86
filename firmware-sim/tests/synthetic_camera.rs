//! The simulated camera: reproducible, labelled, and recoverable by the MNIST framing.

mod common;

use plastic_runtime::preprocess::{
    FrameStyle, Framing, PixelFormat, frame_digit, frame_like_mnist, is_already_framed,
};
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

/// The first `n` items of the Fashion-MNIST test set, or `None` (with a note) without it.
fn fashion_items(n: usize) -> Option<Vec<plastic_sim::camera::Digit>> {
    let dir = common::fashion_dir()?;
    let mut items = plastic_sim::camera::mnist::load_test_set(&dir).unwrap();
    items.truncate(n);
    Some(items)
}

/// Fashion-MNIST's own 28x28 items, as a camera that already gives framed images would, are
/// taken as they are by the automatic framing: re-framed, a Fashion-MNIST model read them at
/// 36 % instead of 82 %. An item's longer side spans the field, so only half of the outer ring
/// is black on the worst of them.
#[test]
fn fashion_mnist_items_are_already_framed() {
    let Some(items) = fashion_items(1000) else {
        return;
    };
    let framed = items
        .iter()
        .filter(|item| is_already_framed(&item.pixels, 28, 28))
        .count();
    assert!(framed >= 990, "{framed} of 1000 items taken as framed");
}

/// Fashion-MNIST items photographed by the simulated camera (dark on light paper, at any size
/// and place, uneven light, blur, noise) come back as the dataset framed them when framed in
/// its style: on the first 100 test items r > 0.8 for 88 to 91 of 100 frames over seeds 0 to
/// 5 (median r 0.91 to 0.92). MNIST's framing of the same frames (20x20, centred by the mass,
/// the faint parts of light fabrics cut off) recovers none.
#[test]
fn fashion_mnist_framing_recovers_the_item_from_most_frames() {
    let Some(items) = fashion_items(100) else {
        return;
    };
    let mut cam = SyntheticDigits::from_digits(items, 3).unwrap();
    let (mut as_fashion, mut as_digits) = (0, 0);
    for _ in 0..100 {
        let frame = cam.next_frame().unwrap().unwrap();
        let item = &cam.last_digit().unwrap().pixels;
        let mut input = [0u8; 784];
        let recovered = |style, input: &mut [u8; 784]| {
            let framing = Framing::Auto(style);
            frame_digit(&frame.data, frame.width, frame.height, framing, input).unwrap();
            common::correlation(input, item) > 0.8
        };
        as_fashion += usize::from(recovered(FrameStyle::FashionMnist, &mut input));
        as_digits += usize::from(recovered(FrameStyle::Mnist, &mut input));
    }
    assert!(as_fashion >= 80, "{as_fashion} of 100 items recovered");
    assert!(
        as_digits <= 5,
        "MNIST's framing recovered {as_digits} of 100"
    );
}
