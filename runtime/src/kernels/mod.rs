//! Matrix-vector kernels. `generic` is the scalar reference every faster variant is tested
//! against; it is written so that the compiler vectorises it (independent accumulators, fixed
//! chunk widths), which makes it the fallback for every target.

pub mod generic;

pub use generic::{
    dot_f32, dot_i8, matvec_f32_generic as matvec_f32, matvec_i8_generic as matvec_i8,
};
