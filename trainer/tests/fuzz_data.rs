//! Fuzzing of the dataset parsers: IDX images and labels (MNIST, Fashion-MNIST), raw and
//! gzipped, read from files as the trainer reads them, and CIFAR-10 binary batches. Inputs are
//! mutations of small valid files (see `models/tests/support/fuzz.rs`). Errors are fine; a
//! panic, an answer that disagrees with the header, or an allocation beyond the bound fails.
//!
//! `PLASTIC_FUZZ_CASES=10000 cargo test --release -p plastic-trainer --test fuzz_data` runs a
//! longer campaign (docs/RESULTS.md).

#[path = "../../models/tests/support/fuzz.rs"]
mod fuzz;

use std::io::Write;

use plastic_trainer::data::cifar::parse_cifar_batch;
use plastic_trainer::data::idx::{parse_idx_images, parse_idx_labels, read_idx_images};

#[global_allocator]
static ALLOC: fuzz::Peak = fuzz::Peak;

/// Largest single allocation a case may make: inputs are a few KB (a gzip stream that
/// declares more is decoded no further than its header says).
const MAX_ALLOC: usize = 16 << 20;

fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn mutated_idx_files_never_panic_nor_allocate_without_bound() {
    let images = idx(0x803, &[3, 4, 5], &(0..60).collect::<Vec<u8>>());
    let labels = idx(0x801, &[6], &[0, 1, 2, 9, 4, 5]);
    let dir = std::env::temp_dir().join(format!("plastic-fuzz-idx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("images-idx3-ubyte");
    let (accepted, refused) = fuzz::run(
        "idx",
        fuzz::cases(1000),
        MAX_ALLOC,
        |rng| {
            let seed = if rng.below(2) == 0 { &images } else { &labels };
            // Raw, gzipped then mutated, or mutated then gzipped (a valid stream of a bad
            // file); the first byte says which file it is.
            let mut out = vec![(seed == &labels) as u8];
            out.extend(match rng.below(3) {
                0 => fuzz::mutate_bytes(rng, seed),
                1 => fuzz::mutate_bytes(rng, &gzip(seed)),
                _ => gzip(&fuzz::mutate_bytes(rng, seed)),
            });
            out
        },
        |input| {
            let (is_labels, bytes) = (input[0] == 1, &input[1..]);
            if is_labels {
                if let Ok(labels) = parse_idx_labels(bytes, "fuzz") {
                    assert!(labels.iter().all(|&l| l < 10));
                    return true;
                }
                return false;
            }
            let in_memory = parse_idx_images(bytes, "fuzz");
            if let Ok((pixels, n, rows, cols)) = &in_memory {
                assert_eq!(pixels.len(), n * rows * cols);
            }
            std::fs::write(&path, bytes).unwrap();
            match read_idx_images(&path) {
                Ok((pixels, n, rows, cols)) => {
                    assert_eq!(pixels.len(), n * rows * cols);
                    true
                }
                Err(_) => false,
            }
        },
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn mutated_cifar_batches_never_panic_nor_allocate_without_bound() {
    let mut batch = Vec::new();
    for label in [3u8, 9] {
        batch.push(label);
        batch.extend((0..3072).map(|i| (i * 7 % 256) as u8));
    }
    let (accepted, refused) = fuzz::run(
        "cifar",
        fuzz::cases(1000),
        MAX_ALLOC,
        |rng| fuzz::mutate_bytes(rng, &batch),
        |bytes| match parse_cifar_batch(bytes, "fuzz") {
            Ok((images, labels)) => {
                assert_eq!(images.len(), labels.len() * 3072);
                assert!(labels.iter().all(|&l| l < 10));
                true
            }
            Err(_) => false,
        },
    );
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
