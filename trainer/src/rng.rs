//! The trainer's seeded generator: the runtime's [`SplitMix64`], the one generator of plastic.
//!
//! candle's CPU random tensors draw from a thread RNG that cannot be seeded, and results must
//! reproduce from `--seed`. [`seeded`] salts the seed before the stream starts: the trainer's
//! results were recorded with this salt, so it stays.

pub use plastic_runtime::rng::SplitMix64;

/// The generator a trainer seed starts; distinct seeds give unrelated streams.
pub fn seeded(seed: u64) -> SplitMix64 {
    SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_the_salt_is_applied() {
        let (mut a, mut b) = (seeded(3), seeded(3));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(seeded(4).next_u64(), seeded(3).next_u64());
        assert_eq!(
            seeded(0).next_u64(),
            SplitMix64::new(0x5DEE_CE66_D1CE_4E5B).next_u64()
        );
    }
}
