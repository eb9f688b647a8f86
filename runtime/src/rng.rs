//! The one seeded random number generator of plastic: the trainer's initial weights and
//! shuffles, the simulator's streams and label presses, and the tests' data all draw from it.
//!
//! Why not a crate: results must reproduce from a seed on every machine and build, forever.
//! SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) is ten lines, passes BigCrush, and its output is
//! fixed by its definition, so a run recorded today replays bit for bit after any dependency
//! upgrade. The normal samples use the host's `ln` and `cos` (feature `std`), as they did when
//! the recorded results were made.

use alloc::vec::Vec;

/// SplitMix64: a 64-bit state advanced by the golden-ratio increment, output by a mixing
/// function. Every seed (0 included) gives a full-period, well-mixed stream.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 24 bits (all an f32 mantissa holds).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Uniform integer in `0..n` (0 when `n` is 0). Uses a 128-bit multiply (Lemire), so the
    /// bias is below 2^-32 for any `n` below 2^32.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `n` values uniform in `[-bound, bound)`.
    pub fn uniform_vec(&mut self, n: usize, bound: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next_f32() * 2.0 - 1.0) * bound)
            .collect()
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(feature = "std")]
impl SplitMix64 {
    /// Standard normal sample in f32 (Box-Muller; the second value is dropped to keep the
    /// stream position simple to reason about): the simulator's sensor noise.
    pub fn gaussian(&mut self) -> f32 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f32();
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (core::f32::consts::TAU * u2).cos()
    }

    /// Standard normal sample computed in f64 from 53-bit uniforms (Box-Muller), rounded to
    /// f32: the trainer's initial weights.
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos()) as f32
    }

    /// `n` standard normal values scaled by `std`.
    pub fn normal_vec(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * std).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn matches_the_reference_splitmix64_stream() {
        // First outputs for seed 0 from the reference C implementation (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn ranges_are_respected() {
        let mut r = SplitMix64::new(42);
        for _ in 0..20_000 {
            let u = r.uniform(2.0, 3.5);
            assert!((2.0..3.5).contains(&u));
            assert!(r.below(7) < 7);
            let v = r.uniform_vec(1, 0.5)[0];
            assert!((-0.5..0.5).contains(&v));
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..100).collect();
        SplitMix64::new(9).shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        let mut one = vec![1];
        SplitMix64::new(9).shuffle(&mut one);
        assert_eq!(one, [1]);
    }

    #[cfg(feature = "std")]
    #[test]
    fn both_normals_have_unit_moments() {
        let mut r = SplitMix64::new(1);
        for draw in [SplitMix64::normal, SplitMix64::gaussian] {
            let v: Vec<f64> = (0..100_000).map(|_| f64::from(draw(&mut r))).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
            assert!(
                mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
                "{mean} {var}"
            );
        }
    }
}
