//! aarch64 kernels, in two tiers:
//!
//! - `neon`: f32 with `vfmaq_f32`; int8 multiplied into i16 with `vmull_s8` (one product per
//!   lane, so `-128 * -128` fits) and accumulated pairwise into i32 with `vpadalq_s16`.
//! - `neon+dotprod`: int8 with `sdot` (4 products per i32 lane, 16 per instruction), f32 as
//!   `neon`. `vdotq_s32` is not stable in core yet, so `sdot` is written as inline assembly.
//!
//! Every kernel computes 4 rows per pass so that each load of `x` serves 4 rows, then the
//! remaining rows one at a time with the same code; the last columns (fewer than a vector)
//! go through a scalar loop.

use core::arch::aarch64::*;
use core::arch::asm;

use super::{Kernels, ROWS, aarch64_has, by_blocks, check_shapes};

/// NEON, if this CPU has it (every aarch64 Linux CPU does).
pub(super) fn neon() -> Option<Kernels> {
    aarch64_has!("neon").then_some(Kernels {
        name: "aarch64 neon",
        matvec_f32: matvec_f32_neon,
        matvec_i8: matvec_i8_neon,
        currents_p3_i8: super::generic::currents_p3_i8_generic,
    })
}

/// NEON with the int8 dot product instructions, if this CPU has them.
pub(super) fn dotprod() -> Option<Kernels> {
    aarch64_has!("neon", "dotprod").then_some(Kernels {
        name: "aarch64 neon+dotprod",
        matvec_f32: matvec_f32_neon,
        matvec_i8: matvec_i8_dotprod,
        currents_p3_i8: super::generic::currents_p3_i8_generic,
    })
}

/// Every variant of this module, slowest first, `None` where the CPU lacks the features.
pub(super) fn variants() -> [Option<Kernels>; 2] {
    [neon(), dotprod()]
}

/// Replaces the generic kernels with the best tier this CPU supports.
pub(super) fn plug(k: &mut Kernels) {
    if let Some(best) = dotprod().or_else(neon) {
        *k = best;
    }
}

// ---------------------------------------------------------------------------------------------
// NEON

fn matvec_f32_neon(w: &[f32], x: &[f32], y: &mut [f32]) {
    if check_shapes(w.len(), x.len(), y.len()) == 0 {
        return y.fill(0.0);
    }
    // SAFETY: only reachable through the `Kernels` of `neon()` or `dotprod()`, which checked
    // that the CPU has NEON.
    unsafe { f32_neon(w, x, y) }
}

#[target_feature(enable = "neon")]
fn f32_neon(w: &[f32], x: &[f32], y: &mut [f32]) {
    by_blocks(
        w,
        x,
        y,
        |b, x| dot_f32_neon::<ROWS>(b, x),
        |r, x| dot_f32_neon::<1>(r, x)[0],
    );
}

/// The dot products of the `R` consecutive rows in `block` with `x`: 8 columns per step in
/// two accumulators per row, then 4, then a scalar tail.
#[target_feature(enable = "neon")]
fn dot_f32_neon<const R: usize>(block: &[f32], x: &[f32]) -> [f32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [[vdupq_n_f32(0.0); 2]; R];
    let mut j = 0;
    while j + 8 <= cols {
        // SAFETY: `j + 8 <= cols`: the loads read `x[j..j + 8]` and `block[r * cols + j..][..8]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let x0 = vld1q_f32(xp.add(j));
            let x1 = vld1q_f32(xp.add(j + 4));
            for (r, a) in acc.iter_mut().enumerate() {
                let p = wp.add(r * cols + j);
                a[0] = vfmaq_f32(a[0], vld1q_f32(p), x0);
                a[1] = vfmaq_f32(a[1], vld1q_f32(p.add(4)), x1);
            }
        }
        j += 8;
    }
    if j + 4 <= cols {
        // SAFETY: `j + 4 <= cols`, as above with 4 columns.
        unsafe {
            let x0 = vld1q_f32(xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                a[0] = vfmaq_f32(a[0], vld1q_f32(wp.add(r * cols + j)), x0);
            }
        }
        j += 4;
    }
    let mut out = [0.0; R];
    for (r, (o, a)) in out.iter_mut().zip(&acc).enumerate() {
        let tail = block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]);
        *o = tail.fold(vaddvq_f32(vaddq_f32(a[0], a[1])), |s, (w, x)| s + w * x);
    }
    out
}

fn matvec_i8_neon(q: &[i8], x: &[i8], acc: &mut [i32]) {
    if check_shapes(q.len(), x.len(), acc.len()) == 0 {
        return acc.fill(0);
    }
    // SAFETY: only reachable through the `Kernels` of `neon()`, which checked NEON.
    unsafe { i8_neon(q, x, acc) }
}

#[target_feature(enable = "neon")]
fn i8_neon(q: &[i8], x: &[i8], acc: &mut [i32]) {
    by_blocks(
        q,
        x,
        acc,
        |b, x| dot_i8_neon::<ROWS>(b, x),
        |r, x| dot_i8_neon::<1>(r, x)[0],
    );
}

/// The exact dot products of `R` int8 rows with `x`: 16 columns per step as two widening
/// multiplies (i8 x i8 -> i16, one product per lane) each added pairwise into i32, then 8,
/// then a scalar tail.
#[target_feature(enable = "neon")]
fn dot_i8_neon<const R: usize>(block: &[i8], x: &[i8]) -> [i32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [[vdupq_n_s32(0); 2]; R];
    let mut j = 0;
    while j + 16 <= cols {
        // SAFETY: `j + 16 <= cols`: the loads read `x[j..j + 16]` and `block[r * cols + j..][..16]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let xv = vld1q_s8(xp.add(j));
            let xlo = vget_low_s8(xv);
            for (r, a) in acc.iter_mut().enumerate() {
                let wv = vld1q_s8(wp.add(r * cols + j));
                a[0] = vpadalq_s16(a[0], vmull_s8(vget_low_s8(wv), xlo));
                a[1] = vpadalq_s16(a[1], vmull_high_s8(wv, xv));
            }
        }
        j += 16;
    }
    if j + 8 <= cols {
        // SAFETY: `j + 8 <= cols`, as above with 8 columns.
        unsafe {
            let xv = vld1_s8(xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                a[0] = vpadalq_s16(a[0], vmull_s8(vld1_s8(wp.add(r * cols + j)), xv));
            }
        }
        j += 8;
    }
    let mut out = [0; R];
    for (r, (o, a)) in out.iter_mut().zip(&acc).enumerate() {
        let tail = block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]);
        *o = tail.fold(vaddvq_s32(vaddq_s32(a[0], a[1])), |s, (&w, &x)| {
            s.wrapping_add(i32::from(w) * i32::from(x))
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// NEON + dotprod

fn matvec_i8_dotprod(q: &[i8], x: &[i8], acc: &mut [i32]) {
    if check_shapes(q.len(), x.len(), acc.len()) == 0 {
        return acc.fill(0);
    }
    // SAFETY: only reachable through the `Kernels` of `dotprod()`, which checked NEON and
    // dotprod.
    unsafe { i8_dotprod(q, x, acc) }
}

#[target_feature(enable = "neon,dotprod")]
fn i8_dotprod(q: &[i8], x: &[i8], acc: &mut [i32]) {
    by_blocks(
        q,
        x,
        acc,
        |b, x| dot_i8_dotprod::<ROWS>(b, x),
        |r, x| dot_i8_dotprod::<1>(r, x)[0],
    );
}

/// `acc + [sum of a[4i..4i + 4] * b[4i..4i + 4]]` per i32 lane: `vdotq_s32`.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn sdot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    // SAFETY: `sdot` reads the two byte vectors and updates `acc`, all in registers; no memory,
    // stack or flags are touched. The CPU has the instruction: this function enables
    // `dotprod`, so it can only be called where that feature is known to be present.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// The exact dot products of `R` int8 rows with `x`: 32 columns per step in two accumulators
/// per row, then 16, then a scalar tail.
#[target_feature(enable = "neon,dotprod")]
fn dot_i8_dotprod<const R: usize>(block: &[i8], x: &[i8]) -> [i32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [[vdupq_n_s32(0); 2]; R];
    let mut j = 0;
    while j + 32 <= cols {
        // SAFETY: `j + 32 <= cols`: the loads read `x[j..j + 32]` and `block[r * cols + j..][..32]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let x0 = vld1q_s8(xp.add(j));
            let x1 = vld1q_s8(xp.add(j + 16));
            for (r, a) in acc.iter_mut().enumerate() {
                let p = wp.add(r * cols + j);
                a[0] = sdot(a[0], vld1q_s8(p), x0);
                a[1] = sdot(a[1], vld1q_s8(p.add(16)), x1);
            }
        }
        j += 32;
    }
    if j + 16 <= cols {
        // SAFETY: `j + 16 <= cols`, as above with 16 columns.
        unsafe {
            let x0 = vld1q_s8(xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                a[0] = sdot(a[0], vld1q_s8(wp.add(r * cols + j)), x0);
            }
        }
        j += 16;
    }
    let mut out = [0; R];
    for (r, (o, a)) in out.iter_mut().zip(&acc).enumerate() {
        let tail = block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]);
        *o = tail.fold(vaddvq_s32(vaddq_s32(a[0], a[1])), |s, (&w, &x)| {
            s.wrapping_add(i32::from(w) * i32::from(x))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    crate::kernels::variant_tests!(neon, crate::kernels::aarch64::neon());
    crate::kernels::variant_tests!(dotprod, crate::kernels::aarch64::dotprod());
}
