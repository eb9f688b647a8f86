//! A tiny seeded random number generator for reproducible simulated streams.
//!
//! Why not a crate: the simulator needs exactly one property, that a seed gives the same frames
//! on every machine and every build, forever. SplitMix64 (Steele, Lea & Flood, OOPSLA 2014) is
//! ten lines, passes BigCrush, and its output is fixed by its definition, so a scenario recorded
//! today replays bit for bit after any dependency upgrade.

/// SplitMix64: a 64-bit state advanced by the golden-ratio increment, output by a mixing
/// function. Every seed (0 included) gives a full-period, well-mixed stream.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
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
    /// bias is below 2^-32 for any `n` the simulator uses.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Standard normal sample (Box-Muller; the second value is dropped to keep the stream
    /// position simple to reason about).
    pub fn gaussian(&mut self) -> f32 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f32();
        let u2 = self.next_f32();
        (-2.0 * u1.ln()).sqrt() * (core::f32::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_stream() {
        // First outputs for seed 0 from the reference C implementation (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn ranges_are_respected_and_gaussian_is_roughly_standard() {
        let mut r = SplitMix64::new(42);
        let n = 20_000;
        let (mut sum, mut sq) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let u = r.uniform(2.0, 3.5);
            assert!((2.0..3.5).contains(&u));
            assert!(r.below(7) < 7);
            let g = f64::from(r.gaussian());
            sum += g;
            sq += g * g;
        }
        let mean = sum / f64::from(n);
        let var = sq / f64::from(n) - mean * mean;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
        assert_eq!(r.below(0), 0);
    }
}
