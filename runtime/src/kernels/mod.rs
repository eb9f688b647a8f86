//! Matrix-vector kernels. `generic` is the scalar reference every faster variant is tested
//! against; it is written so that the compiler vectorises it (independent accumulators, fixed
//! chunk widths), which makes it the fallback for every target.
//!
//! The platform modules (`x86_64`, `aarch64`) hold hand-written SIMD variants. [`best`] starts
//! from [`generic()`] and lets the platform module upgrade the entries its CPU supports: checked
//! at run time (once, then cached) with `std`, at compile time from the enabled target
//! features without it. A [`Kernels`] is a few function pointers, so callers pick it once (the
//! [`crate::Model`] does so when it is built) and pay no detection cost per call.
//!
//! Shapes, for every kernel: `w` is row-major `[rows, cols]` with `cols = x.len()` and
//! `rows = y.len()`. The SIMD variants panic when `w.len() != rows * cols`. int8 variants are
//! bit-identical to the generic i32 sums, for every int8 input; f32 variants differ only by
//! summation order and fused multiply-adds. The free functions [`matvec_f32`] and
//! [`matvec_i8`] re-exported here are the generic ones.
//!
//! This module and its children are the only place in the crate with `unsafe` code: SIMD
//! loads through raw pointers and calls into `#[target_feature]` functions, each behind a
//! `// SAFETY:` note.

pub mod generic;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use alloc::vec::Vec;

pub use generic::{
    dot_f32, dot_i8, matvec_f32_generic as matvec_f32, matvec_i8_generic as matvec_i8,
};

/// `y = W x` in f32 (see the module docs for shapes).
pub type MatvecF32 = fn(w: &[f32], x: &[f32], y: &mut [f32]);

/// `acc = Q x` of int8 values, exact in i32 (see the module docs for shapes).
pub type MatvecI8 = fn(q: &[i8], x: &[i8], acc: &mut [i32]);

/// One set of kernels, all usable on the CPU that produced it.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// Which variant this is, e.g. `"generic"` or `"x86_64 avx512vnni"`.
    pub name: &'static str,
    /// `y = W x` in f32.
    pub matvec_f32: MatvecF32,
    /// `acc = Q x` of int8 values, exact in i32.
    pub matvec_i8: MatvecI8,
    /// `acc = (Q |Q|) x` of int8 values, exact in i32: Krotov currents for `p = 3`.
    pub currents_p3_i8: MatvecI8,
}

impl Kernels {
    /// `y = W x` in f32 with this set's kernel.
    #[inline]
    pub fn matvec_f32(&self, w: &[f32], x: &[f32], y: &mut [f32]) {
        (self.matvec_f32)(w, x, y)
    }

    /// `acc = Q x` of int8 values with this set's kernel.
    #[inline]
    pub fn matvec_i8(&self, q: &[i8], x: &[i8], acc: &mut [i32]) {
        (self.matvec_i8)(q, x, acc)
    }

    /// `acc = (Q |Q|) x` of int8 values with this set's kernel.
    #[inline]
    pub fn currents_p3_i8(&self, q: &[i8], x: &[i8], acc: &mut [i32]) {
        (self.currents_p3_i8)(q, x, acc)
    }
}

/// The portable scalar kernels: the reference, and the fallback on every target.
pub fn generic() -> Kernels {
    Kernels {
        name: "generic",
        matvec_f32: generic::matvec_f32_generic,
        matvec_i8: generic::matvec_i8_generic,
        currents_p3_i8: generic::currents_p3_i8_generic,
    }
}

/// The fastest kernels this CPU supports. With `std` the CPU is probed on the first call and
/// the answer cached; without it the choice follows the target features enabled at compile
/// time (e.g. `-C target-feature=+avx2,+fma` or `+dotprod`).
pub fn best() -> Kernels {
    #[cfg(feature = "std")]
    {
        static BEST: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
        *BEST.get_or_init(detect)
    }
    #[cfg(not(feature = "std"))]
    {
        detect()
    }
}

/// Every variant usable on this CPU, slowest first: `generic()` first, `best()` last. For
/// benchmarks and tests.
pub fn available() -> Vec<Kernels> {
    #[allow(unused_mut)] // nothing to add on targets without SIMD variants
    let mut out = Vec::from([generic()]);
    #[cfg(target_arch = "x86_64")]
    out.extend(x86_64::variants().into_iter().flatten());
    #[cfg(target_arch = "aarch64")]
    out.extend(aarch64::variants().into_iter().flatten());
    out
}

fn detect() -> Kernels {
    #[allow(unused_mut)] // nothing to plug on targets without SIMD variants
    let mut k = generic();
    #[cfg(target_arch = "x86_64")]
    x86_64::plug(&mut k);
    #[cfg(target_arch = "aarch64")]
    aarch64::plug(&mut k);
    k
}

/// Checks the shapes a SIMD kernel relies on for its pointer arithmetic; returns `cols`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline]
fn check_shapes(w_len: usize, cols: usize, rows: usize) -> usize {
    assert_eq!(
        Some(w_len),
        rows.checked_mul(cols),
        "matvec: w has {w_len} entries, expected {rows} rows x {cols} cols"
    );
    cols
}

/// Rows per pass of the SIMD kernels: each load of `x` serves this many rows.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const ROWS: usize = 4;

/// Runs `rows(block, x)` on every `ROWS`-row block of `w`, then `row(row, x)` on the rows
/// left over, writing into `y`. Shapes are checked by the caller.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn by_blocks<T, O: Copy>(
    w: &[T],
    x: &[T],
    y: &mut [O],
    mut rows: impl FnMut(&[T], &[T]) -> [O; ROWS],
    mut row: impl FnMut(&[T], &[T]) -> O,
) {
    let cols = x.len();
    let mut blocks = w.chunks_exact(ROWS * cols);
    let mut outs = y.chunks_exact_mut(ROWS);
    for (block, out) in (&mut blocks).zip(&mut outs) {
        out.copy_from_slice(&rows(block, x));
    }
    for (r, out) in blocks
        .remainder()
        .chunks_exact(cols)
        .zip(outs.into_remainder())
    {
        *out = row(r, x);
    }
}

/// Is a CPU feature available? At run time with `std`, at compile time without.
#[cfg(all(target_arch = "x86_64", feature = "std"))]
macro_rules! x86_has {
    ($($feature:tt),+) => { true $(&& std::arch::is_x86_feature_detected!($feature))+ };
}
#[cfg(all(target_arch = "x86_64", not(feature = "std")))]
macro_rules! x86_has {
    ($($feature:tt),+) => { true $(&& cfg!(target_feature = $feature))+ };
}
#[cfg(target_arch = "x86_64")]
use x86_has;

/// Is a CPU feature available? At run time with `std`, at compile time without.
#[cfg(all(target_arch = "aarch64", feature = "std"))]
macro_rules! aarch64_has {
    ($($feature:tt),+) => { true $(&& std::arch::is_aarch64_feature_detected!($feature))+ };
}
#[cfg(all(target_arch = "aarch64", not(feature = "std")))]
macro_rules! aarch64_has {
    ($($feature:tt),+) => { true $(&& cfg!(target_feature = $feature))+ };
}
#[cfg(target_arch = "aarch64")]
use aarch64_has;

/// Instantiates the comparison against `generic` for one variant: `$variant` is an expression
/// giving `Option<Kernels>`, `None` when this CPU lacks the features (the tests then skip).
#[cfg(test)]
macro_rules! variant_tests {
    ($name:ident, $variant:expr) => {
        mod $name {
            #[test]
            fn matvec_i8_is_bit_identical_to_generic() {
                crate::kernels::testing::check_i8(stringify!($name), $variant);
            }

            #[test]
            fn matvec_i8_is_exact_at_the_extremes() {
                crate::kernels::testing::check_i8_extremes(stringify!($name), $variant);
            }

            #[test]
            fn matvec_f32_matches_generic() {
                crate::kernels::testing::check_f32(stringify!($name), $variant);
            }

            #[test]
            fn currents_p3_i8_is_bit_identical_to_generic() {
                crate::kernels::testing::check_p3(stringify!($name), $variant);
            }
        }
    };
}
#[cfg(test)]
use variant_tests;

#[cfg(test)]
mod testing {
    extern crate std;

    use super::{Kernels, generic};
    use alloc::vec;
    use alloc::vec::Vec;

    /// Column counts around the vector widths (16, 32, 64 bytes; 4, 8, 16 floats), the model's
    /// 784, and 1000 + 17: a row that exercises every tail loop.
    pub const COLS: [usize; 12] = [1, 7, 15, 16, 17, 31, 63, 64, 65, 127, 784, 1000 + 17];

    /// Row counts 1..=37 cover every remainder of the multi-row passes.
    pub const ROWS: core::ops::RangeInclusive<usize> = 1..=37;

    /// Test data from the crate's seeded generator ([`crate::rng::SplitMix64`]).
    pub struct Rng(crate::rng::SplitMix64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(crate::rng::SplitMix64::new(seed))
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0.next_u64()
        }

        /// Uniform in `lo..=hi`.
        pub fn i8_in(&mut self, lo: i8, hi: i8) -> i8 {
            let span = (i32::from(hi) - i32::from(lo) + 1) as u64;
            (i64::from(lo) + (self.next_u64() % span) as i64) as i8
        }

        /// Uniform in `[-1, 1)`.
        pub fn f32_sym(&mut self) -> f32 {
            (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    fn skip(name: &str) {
        std::eprintln!(
            "skipping {name}: not available here (the CPU lacks its features, or without `std` \
             they were not enabled at compile time)"
        );
    }

    /// Weights cover -128..=127 (both ends forced in), activations -127..=127 (what
    /// `quantize_vector` produces).
    pub fn check_i8(name: &str, k: Option<Kernels>) {
        let Some(k) = k else { return skip(name) };
        let mut rng = Rng::new(0x1eaf);
        for cols in COLS {
            for rows in ROWS {
                let mut q: Vec<i8> = (0..rows * cols).map(|_| rng.i8_in(-128, 127)).collect();
                let mut x: Vec<i8> = (0..cols).map(|_| rng.i8_in(-127, 127)).collect();
                q[0] = -128;
                *q.last_mut().unwrap() = 127;
                x[0] = -127;
                *x.last_mut().unwrap() = 127;
                let mut want = vec![0i32; rows];
                let mut got = vec![i32::MIN; rows];
                k.matvec_i8(&q, &x, &mut got);
                generic().matvec_i8(&q, &x, &mut want);
                assert_eq!(got, want, "{} vs generic, {rows} x {cols}", k.name);
            }
        }
    }

    /// Krotov p = 3 currents: weights -128..=127, activations -127..=127, bit-identical.
    pub fn check_p3(name: &str, k: Option<Kernels>) {
        let Some(k) = k else { return skip(name) };
        let mut rng = Rng::new(0x9e3);
        for cols in COLS {
            for rows in ROWS {
                let mut q: Vec<i8> = (0..rows * cols).map(|_| rng.i8_in(-128, 127)).collect();
                let x: Vec<i8> = (0..cols).map(|_| rng.i8_in(-127, 127)).collect();
                q[0] = -128;
                let mut want = vec![0i32; rows];
                let mut got = vec![i32::MIN; rows];
                k.currents_p3_i8(&q, &x, &mut got);
                generic().currents_p3_i8(&q, &x, &mut want);
                assert_eq!(got, want, "{} vs generic, {rows} x {cols}", k.name);
            }
        }
    }

    /// Every product at its extreme, -128 * -128 included: no i16 intermediate may saturate.
    pub fn check_i8_extremes(name: &str, k: Option<Kernels>) {
        let Some(k) = k else { return skip(name) };
        for cols in COLS {
            for (wv, xv) in [
                (-128, -128),
                (-128, 127),
                (127, -128),
                (127, 127),
                (-128, -127),
            ] {
                let rows = 5;
                let q = vec![wv; rows * cols];
                let x = vec![xv; cols];
                let mut got = vec![0i32; rows];
                k.matvec_i8(&q, &x, &mut got);
                let want = i32::from(wv) * i32::from(xv) * cols as i32;
                assert_eq!(
                    got,
                    vec![want; rows],
                    "{} at {wv} x {xv}, {cols} cols",
                    k.name
                );
            }
        }
    }

    /// Within 1e-4 of the generic result, relative to `sum_j |w_j x_j|` (the scale of the
    /// rounding errors of any summation order, even when the sum itself cancels to near 0).
    pub fn check_f32(name: &str, k: Option<Kernels>) {
        let Some(k) = k else { return skip(name) };
        let mut rng = Rng::new(0xf32);
        for cols in COLS {
            for rows in ROWS {
                let w: Vec<f32> = (0..rows * cols).map(|_| rng.f32_sym()).collect();
                let x: Vec<f32> = (0..cols).map(|_| rng.f32_sym()).collect();
                let mut want = vec![0.0f32; rows];
                let mut got = vec![f32::NAN; rows];
                k.matvec_f32(&w, &x, &mut got);
                generic().matvec_f32(&w, &x, &mut want);
                for (r, (g, e)) in got.iter().zip(&want).enumerate() {
                    let row = &w[r * cols..(r + 1) * cols];
                    let scale: f32 = row.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
                    assert!(
                        (g - e).abs() <= 1e-4 * scale.max(f32::MIN_POSITIVE),
                        "{} vs generic, {rows} x {cols}, row {r}: {g} vs {e}",
                        k.name
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    variant_tests!(generic_itself, Some(crate::kernels::generic()));
    variant_tests!(best, Some(crate::kernels::best()));

    #[test]
    fn best_is_cached_and_listed_last() {
        assert_eq!(best().name, best().name);
        let all = available();
        assert_eq!(all[0].name, "generic");
        assert_eq!(all.last().unwrap().name, best().name);
        std::eprintln!(
            "kernels available: {:?}; best: {}",
            all.iter().map(|k| k.name).collect::<Vec<_>>(),
            best().name
        );
    }

    #[test]
    fn simd_variants_reject_a_matrix_of_the_wrong_size() {
        for k in available().into_iter().skip(1) {
            let i8_call = std::panic::catch_unwind(|| k.matvec_i8(&[0; 10], &[0; 4], &mut [0; 3]));
            let f32_call =
                std::panic::catch_unwind(|| k.matvec_f32(&[0.0; 10], &[0.0; 4], &mut [0.0; 3]));
            assert!(i8_call.is_err() && f32_call.is_err(), "{}", k.name);
        }
    }

    #[test]
    fn shipped_int8_model_gives_identical_outputs_on_every_variant() {
        let model = crate::Model::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
        assert_eq!(model.precision(), crate::Precision::Int8);
        assert_eq!(model.kernels().name, best().name);
        let input: Vec<f32> = (0..model.spec().input_len())
            .map(|i| ((i * 37) % 256) as f32 / 255.0)
            .collect();
        let reference = model.clone().with_kernels(generic());
        let mut ws = reference.workspace();
        reference.infer(&input, &mut ws).unwrap();
        let want = ws.outputs(&reference).to_vec();
        for k in available() {
            let m = model.clone().with_kernels(k);
            m.infer(&input, &mut ws).unwrap();
            assert_eq!(ws.outputs(&m), &want[..], "{}", k.name);
        }
    }

    /// Timings, one thread: `cargo test --release -p plastic-runtime -- --ignored --nocapture
    /// bench_matvec`.
    #[test]
    #[ignore = "prints timings; run by hand"]
    fn bench_matvec() {
        use std::time::Instant;
        use testing::Rng;

        let mut rng = Rng::new(7);
        for (rows, cols) in [(2000, 784), (10, 2000)] {
            let q: Vec<i8> = (0..rows * cols).map(|_| rng.i8_in(-128, 127)).collect();
            let xq: Vec<i8> = (0..cols).map(|_| rng.i8_in(-127, 127)).collect();
            let w: Vec<f32> = (0..rows * cols).map(|_| rng.f32_sym()).collect();
            let x: Vec<f32> = (0..cols).map(|_| rng.f32_sym()).collect();
            let (mut acc, mut y) = (alloc::vec![0i32; rows], alloc::vec![0.0f32; rows]);
            // Enough repetitions for ~0.2 s of the generic f32 kernel.
            let reps = (400_000_000 / (rows * cols)).max(10);
            for k in available() {
                let time = |f: &mut dyn FnMut()| {
                    for _ in 0..reps.div_ceil(10) {
                        f();
                    }
                    // Best of 5 runs, each the mean over `reps` calls.
                    (0..5)
                        .map(|_| {
                            let t = Instant::now();
                            for _ in 0..reps {
                                f();
                            }
                            t.elapsed().as_secs_f64() * 1e6 / reps as f64
                        })
                        .fold(f64::INFINITY, f64::min)
                };
                let ti8 = time(&mut || k.matvec_i8(&q, &xq, &mut acc));
                let tf32 = time(&mut || k.matvec_f32(&w, &x, &mut y));
                std::println!(
                    "{rows:>5} x {cols:<5} {:<22} i8 {ti8:9.2} us   f32 {tf32:9.2} us",
                    k.name
                );
                core::hint::black_box((&acc, &y));
            }
        }
    }
}
