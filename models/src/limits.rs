//! The bounds a spec or checkpoint must keep, in one place, so that the spec check, the
//! trainer, the runtime and the firmware agree on them.
//!
//! Why bounds at all: a checkpoint is input like any other. A size whose product wraps, a
//! rank beyond a fixed buffer or a constant that is infinite in f32 must be refused where the
//! file is read, with its name, not found later as a panic, an endless loop or a gigabyte
//! allocation on the device. Every bound is far above what a real model uses.

/// Largest Krotov rank `k` (the unit that gets the anti-Hebbian push): the ranking keeps the
/// `k` best currents in a fixed buffer of this many slots, so that a learning step allocates
/// nothing. The spec check, the trainer and the runtime's rule all read this constant.
pub const MAX_KROTOV_K: usize = 32;

/// Largest Lebesgue norm `p` of a Krotov layer. `|w|^(p-1)` of a weight away from 1 under-
/// or overflows f32 long before this (the paper uses 2 to 6).
pub const MAX_KROTOV_P: f32 = 100.0;

/// Largest input vector (`width * height * channels`), in values: a 4096x4096 gray image.
pub const MAX_INPUT_LEN: usize = 1 << 24;

/// Largest layer width (inputs or outputs), in values.
pub const MAX_LAYER_WIDTH: usize = 1 << 24;

/// Largest weight (or feedback) matrix of one layer, in values: 1 GiB of f32.
pub const MAX_LAYER_WEIGHTS: u64 = 1 << 28;

/// Largest `|mean|` of a mean/std preprocessing, on the 0..1 pixel scale.
pub const MAX_ABS_MEAN: f32 = 1e6;

/// Smallest and largest std of a mean/std preprocessing, on the 0..1 pixel scale. Together
/// with [`MAX_ABS_MEAN`] they keep `(x - mean) / std` finite for every pixel (at most about
/// 1e12), where a subnormal std would make every frame infinite.
pub const STD_RANGE: core::ops::RangeInclusive<f32> = 1e-6..=1e6;

/// Largest scale of an int8 weight row. `127 * scale` is then at most f16's largest value, so
/// every weight the row holds stays finite in each precision the device keeps it in (f32, and
/// the f16 master of a learning layer). A trained model's scales are below 1.
pub const MAX_WEIGHT_SCALE: f32 = 65504.0 / 127.0;

/// Largest checkpoint file a reader loads, in bytes: several of the largest layers. Readers
/// check the size before reading, so a device file or a runaway file is refused, not read
/// until memory runs out.
pub const MAX_CHECKPOINT_BYTES: u64 = 1 << 32;
