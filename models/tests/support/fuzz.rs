//! Seeded mutation fuzzing on stable Rust, shared by the fuzz tests of the crates (each
//! includes this file with `#[path]`).
//!
//! Why not cargo-fuzz or proptest: cargo-fuzz needs a nightly compiler and proptest a tree of
//! dependencies; the targets here are parsers of small files, for which a seeded mutation loop
//! (bit flips, truncations, edited numbers, random spans) over valid files reaches the same
//! error paths, reproducibly: a failing case prints its seed and case number.
//!
//! `PLASTIC_FUZZ_CASES` sets the cases per target (each target has a default that keeps a
//! test run to seconds) and `PLASTIC_FUZZ_SEED` the seed (default 1).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cases to run: `PLASTIC_FUZZ_CASES`, else `default`.
pub fn cases(default: usize) -> usize {
    std::env::var("PLASTIC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seed: `PLASTIC_FUZZ_SEED`, else 1.
pub fn seed() -> u64 {
    std::env::var("PLASTIC_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// The runtime's seeded generator ([`plastic_runtime::rng::SplitMix64`]), started per target
/// and case.
pub struct Rng(plastic_runtime::rng::SplitMix64);

impl Rng {
    /// A generator for one target and case, so a case reruns on its own.
    pub fn new(target: &str, case: usize) -> Self {
        let mut h = seed() ^ 0x9E37_79B9_7F4A_7C15;
        for b in target.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01B3);
        }
        Self(plastic_runtime::rng::SplitMix64::new(
            h ^ (case as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        ))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values that break parsers: zero, signs, limits, and the bit patterns of f32 specials.
const SPECIAL_U32: [u32; 12] = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x7F80_0000, // +inf
    0x7FC0_0000, // NaN
    0x0000_0001, // smallest subnormal
    0x7E3D_7EE7, // 6.3e37
];

/// Numbers written into a JSON header in place of one that was there.
const SPECIAL_NUMBERS: [&str; 14] = [
    "0",
    "-1",
    "1",
    "3",
    "255",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e39",
    "-1e39",
    "1e-45",
    "NaN",
    "2.5",
];

/// One generic mutation of `bytes` (any file format): bit flips, truncation, a random span,
/// special values, insertion or deletion, or wholly random bytes.
pub fn mutate_bytes(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let len = out.len().max(1);
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if !out.is_empty() {
                    let at = rng.below(out.len());
                    out[at] ^= 1 << rng.below(8);
                }
            }
        }
        1 => out.truncate(rng.below(len)),
        2 => {
            if !out.is_empty() {
                let at = rng.below(out.len());
                let n = (1 + rng.below(16)).min(out.len() - at);
                let span = rng.bytes(n);
                out[at..at + n].copy_from_slice(&span);
            }
        }
        3 => {
            if out.len() >= 4 {
                let at = rng.below(out.len() - 3);
                let v = *rng.pick(&SPECIAL_U32);
                let v = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                out[at..at + 4].copy_from_slice(&v);
            }
        }
        4 => {
            let at = rng.below(len.min(out.len() + 1));
            let n = 1 + rng.below(64);
            let extra = rng.bytes(n);
            out.splice(at..at, extra);
        }
        5 => {
            if !out.is_empty() {
                let at = rng.below(out.len());
                let n = (1 + rng.below(64)).min(out.len() - at);
                out.drain(at..at + n);
            }
        }
        _ => {
            let n = rng.below(2 * len.min(4096));
            out = rng.bytes(n);
        }
    }
    out
}

/// Header length, header text and tensor data of a safetensors file, if it splits.
fn split(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header = std::str::from_utf8(bytes.get(8..8usize.checked_add(len)?)?).ok()?;
    Some((header.to_string(), &bytes[8 + len..]))
}

fn join(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Records the checksum of the file's current tensor data in its `checksum` metadata (when it
/// has one and still parses), as a writer of those bytes would: the mutation then reaches the
/// value checks behind the checksum.
pub fn reseal(bytes: &mut [u8]) {
    let Ok(crc) = plastic_models::checksum::of_safetensors(bytes) else {
        return;
    };
    let key = b"\"checksum\":\"crc32:";
    let Some(end) = split(bytes).map(|(h, _)| 8 + h.len()) else {
        return;
    };
    if let Some(at) = bytes[..end].windows(key.len()).position(|w| w == key) {
        let at = at + key.len();
        if at + 8 <= end {
            bytes[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
        }
    }
}

/// One mutation of a valid safetensors checkpoint: a generic one, an edited number of the
/// JSON header (shapes, offsets, spec constants) with the length prefix fixed, an edited
/// header length, or values written into the tensor data with the checksum recomputed.
pub fn mutate_safetensors(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let Some((header, data)) = split(bytes) else {
        return mutate_bytes(rng, bytes);
    };
    match rng.below(8) {
        0..=2 => mutate_bytes(rng, bytes),
        3 | 4 => {
            // Replace one run of digits (a shape, an offset, a spec number) with a special.
            let digits: Vec<usize> = header
                .char_indices()
                .filter(|&(i, c)| {
                    c.is_ascii_digit() && !header[..i].ends_with(|p: char| p.is_ascii_digit())
                })
                .map(|(i, _)| i)
                .collect();
            if digits.is_empty() {
                return mutate_bytes(rng, bytes);
            }
            let start = *rng.pick(&digits);
            let end = header[start..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
                .map_or(header.len(), |n| start + n);
            let edited = format!(
                "{}{}{}",
                &header[..start],
                rng.pick(&SPECIAL_NUMBERS),
                &header[end..]
            );
            let mut out = join(&edited, data);
            if rng.below(2) == 0 {
                reseal(&mut out);
            }
            out
        }
        5 => {
            let mut out = bytes.to_vec();
            let len = *rng.pick(&[
                0u64,
                1,
                7,
                u64::MAX,
                u64::MAX / 2,
                1 << 40,
                header.len() as u64 + 1,
            ]);
            out[..8].copy_from_slice(&len.to_le_bytes());
            out
        }
        _ => {
            // Values in the tensor data (f32 specials, huge and tiny numbers, random bits),
            // the checksum recomputed so that the value checks see them.
            let mut out = bytes.to_vec();
            let base = 8 + header.len();
            if data.len() >= 4 {
                for _ in 0..1 + rng.below(4) {
                    let at = base + rng.below(data.len() - 3);
                    let v = match rng.below(3) {
                        0 => *rng.pick(&SPECIAL_U32),
                        1 => (rng.below(2) as u32) << 30 | (rng.next_u64() as u32 & 0x3FFF_FFFF),
                        _ => rng.next_u64() as u32,
                    };
                    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            reseal(&mut out);
            out
        }
    }
}

/// The largest single allocation since the last [`reset_peak`]: the fuzz targets assert it
/// stays bounded (a length field read as 2^40 must be an error, not a 1 TB request).
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that records the largest request. A test binary installs it with
/// `#[global_allocator] static A: fuzz::Peak = fuzz::Peak;`.
pub struct Peak;

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        PEAK.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        PEAK.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Starts a new measurement of the largest allocation.
pub fn reset_peak() {
    PEAK.store(0, Ordering::Relaxed);
}

/// The largest allocation since [`reset_peak`] (of every thread of the test binary).
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Runs `target` on `cases` inputs made by `make`, and reports the first panic with the case
/// that caused it (its number and seed rerun it alone) instead of a bare backtrace. Returns
/// (inputs accepted, inputs refused).
pub fn run(
    name: &str,
    cases: usize,
    max_alloc: usize,
    mut make: impl FnMut(&mut Rng) -> Vec<u8>,
    target: impl Fn(&[u8]) -> bool + std::panic::RefUnwindSafe,
) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..cases {
        let mut rng = Rng::new(name, case);
        let input = make(&mut rng);
        reset_peak();
        let outcome = std::panic::catch_unwind(|| target(&input));
        let peak = peak();
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => refused += 1,
            Err(_) => {
                let path = std::env::temp_dir().join(format!("plastic-fuzz-{name}-{case}.bin"));
                let _ = std::fs::write(&path, &input);
                panic!(
                    "{name}: case {case} (PLASTIC_FUZZ_SEED={}) panicked; input saved to {}",
                    seed(),
                    path.display()
                );
            }
        }
        assert!(
            peak <= max_alloc,
            "{name}: case {case} (PLASTIC_FUZZ_SEED={}) allocated {peak} bytes at once from a {}-byte input",
            seed(),
            input.len()
        );
    }
    eprintln!("{name}: {cases} cases, {accepted} accepted, {refused} refused, 0 panics");
    (accepted, refused)
}
