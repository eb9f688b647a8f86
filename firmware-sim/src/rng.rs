//! The simulator's streams and label presses draw from the runtime's generator, the one seeded
//! generator of plastic (see [`plastic_runtime::rng`]): a seed gives the same frames on every
//! machine and build.

pub use plastic_runtime::rng::SplitMix64;
