//! x86_64 kernels, in two tiers:
//!
//! - `avx2+fma`: f32 with 8-float FMAs; int8 sign-extended to i16 (`_mm256_cvtepi8_epi16`) and
//!   multiplied pairwise into i32 (`_mm256_madd_epi16`), exact for every int8 input.
//! - `avx512vnni`: int8 with `_mm512_dpbusd_epi32` (64 products per instruction), f32 with
//!   16-float FMAs; tails by masked loads instead of scalar loops.
//!
//! Every kernel computes 4 rows per pass so that each load of `x` serves 4 rows, then the
//! remaining rows one at a time with the same code.

use core::arch::x86_64::*;

use super::{Kernels, ROWS, by_blocks, check_shapes, x86_has};

/// AVX2 + FMA, if this CPU has them.
pub(super) fn avx2_fma() -> Option<Kernels> {
    x86_has!("avx2", "fma").then_some(Kernels {
        name: "x86_64 avx2+fma",
        matvec_f32: matvec_f32_avx2,
        matvec_i8: matvec_i8_avx2,
        currents_p3_i8: super::generic::currents_p3_i8_generic,
    })
}

/// AVX-512 with VNNI, if this CPU has them.
pub(super) fn avx512vnni() -> Option<Kernels> {
    x86_has!("avx512f", "avx512bw", "avx512vnni").then_some(Kernels {
        name: "x86_64 avx512vnni",
        matvec_f32: matvec_f32_avx512,
        matvec_i8: matvec_i8_vnni,
        currents_p3_i8: currents_p3_avx512,
    })
}

/// Every variant of this module, slowest first, `None` where the CPU lacks the features.
pub(super) fn variants() -> [Option<Kernels>; 2] {
    [avx2_fma(), avx512vnni()]
}

/// Replaces the generic kernels with the best tier this CPU supports.
pub(super) fn plug(k: &mut Kernels) {
    if let Some(best) = avx512vnni().or_else(avx2_fma) {
        *k = best;
    }
}

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA

fn matvec_f32_avx2(w: &[f32], x: &[f32], y: &mut [f32]) {
    if check_shapes(w.len(), x.len(), y.len()) == 0 {
        return y.fill(0.0);
    }
    // SAFETY: this function is only reachable through the `Kernels` that `avx2_fma()` returns
    // after checking that the CPU has AVX2 and FMA.
    unsafe { f32_avx2(w, x, y) }
}

#[target_feature(enable = "avx2,fma")]
fn f32_avx2(w: &[f32], x: &[f32], y: &mut [f32]) {
    by_blocks(
        w,
        x,
        y,
        |b, x| dot_f32_avx2::<ROWS>(b, x),
        |r, x| dot_f32_avx2::<1>(r, x)[0],
    );
}

/// The dot products of the `R` consecutive rows in `block` with `x`: 16 columns per step in
/// two accumulators per row, then 8, then a scalar tail.
#[target_feature(enable = "avx2,fma")]
fn dot_f32_avx2<const R: usize>(block: &[f32], x: &[f32]) -> [f32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    let mut j = 0;
    while j + 16 <= cols {
        // SAFETY: `j + 16 <= cols`: the loads read `x[j..j + 16]` and, for each row `r`,
        // `block[r * cols + j..][..16]`, inside the row since `block.len() == R * cols`.
        unsafe {
            let x0 = _mm256_loadu_ps(xp.add(j));
            let x1 = _mm256_loadu_ps(xp.add(j + 8));
            for (r, a) in acc.iter_mut().enumerate() {
                let p = wp.add(r * cols + j);
                a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(p), x0, a[0]);
                a[1] = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(8)), x1, a[1]);
            }
        }
        j += 16;
    }
    if j + 8 <= cols {
        // SAFETY: `j + 8 <= cols`, as above with 8 columns.
        unsafe {
            let x0 = _mm256_loadu_ps(xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                a[0] = _mm256_fmadd_ps(_mm256_loadu_ps(wp.add(r * cols + j)), x0, a[0]);
            }
        }
        j += 8;
    }
    let mut out = [0.0; R];
    for (r, (o, a)) in out.iter_mut().zip(&acc).enumerate() {
        let tail = block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]);
        *o = tail.fold(hsum_ps(_mm256_add_ps(a[0], a[1])), |s, (w, x)| s + w * x);
    }
    out
}

#[target_feature(enable = "avx2")]
fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

fn matvec_i8_avx2(q: &[i8], x: &[i8], acc: &mut [i32]) {
    if check_shapes(q.len(), x.len(), acc.len()) == 0 {
        return acc.fill(0);
    }
    // SAFETY: only reachable through the `Kernels` of `avx2_fma()`, which checked AVX2.
    unsafe { i8_avx2(q, x, acc) }
}

#[target_feature(enable = "avx2")]
fn i8_avx2(q: &[i8], x: &[i8], acc: &mut [i32]) {
    by_blocks(
        q,
        x,
        acc,
        |b, x| dot_i8_avx2::<ROWS>(b, x),
        |r, x| dot_i8_avx2::<1>(r, x)[0],
    );
}

/// The exact dot products of `R` int8 rows with `x`: 16 columns per step, widened to i16
/// (so `-128 * -128` cannot saturate) and summed in pairs into i32, then a scalar tail.
#[target_feature(enable = "avx2")]
fn dot_i8_avx2<const R: usize>(block: &[i8], x: &[i8]) -> [i32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [_mm256_setzero_si256(); R];
    let mut j = 0;
    while j + 16 <= cols {
        // SAFETY: `j + 16 <= cols`: the loads read `x[j..j + 16]` and `block[r * cols + j..][..16]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let xv = _mm256_cvtepi8_epi16(_mm_loadu_si128(xp.add(j).cast()));
            for (r, a) in acc.iter_mut().enumerate() {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(wp.add(r * cols + j).cast()));
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, xv));
            }
        }
        j += 16;
    }
    let mut out = [0; R];
    for (r, (o, a)) in out.iter_mut().zip(&acc).enumerate() {
        let tail = block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]);
        *o = tail.fold(hsum_epi32(*a), |s, (&w, &x)| {
            s.wrapping_add(i32::from(w) * i32::from(x))
        });
    }
    out
}

#[target_feature(enable = "avx2")]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

// ---------------------------------------------------------------------------------------------
// AVX-512 (F, BW, VNNI)

/// The lanes `0..n` of a 64-lane mask, `n < 64`.
#[inline(always)]
fn low_lanes(n: usize) -> u64 {
    debug_assert!(n < 64);
    (1u64 << n) - 1
}

fn matvec_f32_avx512(w: &[f32], x: &[f32], y: &mut [f32]) {
    if check_shapes(w.len(), x.len(), y.len()) == 0 {
        return y.fill(0.0);
    }
    // SAFETY: only reachable through the `Kernels` of `avx512vnni()`, which checked AVX-512F.
    unsafe { f32_avx512(w, x, y) }
}

#[target_feature(enable = "avx512f")]
fn f32_avx512(w: &[f32], x: &[f32], y: &mut [f32]) {
    by_blocks(
        w,
        x,
        y,
        |b, x| dot_f32_avx512::<ROWS>(b, x),
        |r, x| dot_f32_avx512::<1>(r, x)[0],
    );
}

/// The dot products of `R` rows with `x`: 32 columns per step in two accumulators per row,
/// then 16, then the last `< 16` columns by masked loads (masked-off lanes read as 0).
#[target_feature(enable = "avx512f")]
fn dot_f32_avx512<const R: usize>(block: &[f32], x: &[f32]) -> [f32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); 2]; R];
    let mut j = 0;
    while j + 32 <= cols {
        // SAFETY: `j + 32 <= cols`: the loads read `x[j..j + 32]` and `block[r * cols + j..][..32]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let x0 = _mm512_loadu_ps(xp.add(j));
            let x1 = _mm512_loadu_ps(xp.add(j + 16));
            for (r, a) in acc.iter_mut().enumerate() {
                let p = wp.add(r * cols + j);
                a[0] = _mm512_fmadd_ps(_mm512_loadu_ps(p), x0, a[0]);
                a[1] = _mm512_fmadd_ps(_mm512_loadu_ps(p.add(16)), x1, a[1]);
            }
        }
        j += 32;
    }
    if j + 16 <= cols {
        // SAFETY: `j + 16 <= cols`, as above with 16 columns.
        unsafe {
            let x0 = _mm512_loadu_ps(xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                a[0] = _mm512_fmadd_ps(_mm512_loadu_ps(wp.add(r * cols + j)), x0, a[0]);
            }
        }
        j += 16;
    }
    if j < cols {
        let m = low_lanes(cols - j) as __mmask16;
        // SAFETY: the mask enables lanes `0..cols - j` only, so the loads read `x[j..cols]` and
        // `block[r * cols + j..(r + 1) * cols]`; masked-off lanes are not accessed.
        unsafe {
            let x0 = _mm512_maskz_loadu_ps(m, xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                let wv = _mm512_maskz_loadu_ps(m, wp.add(r * cols + j));
                a[1] = _mm512_fmadd_ps(wv, x0, a[1]);
            }
        }
    }
    acc.map(|a| _mm512_reduce_add_ps(_mm512_add_ps(a[0], a[1])))
}

fn matvec_i8_vnni(q: &[i8], x: &[i8], acc: &mut [i32]) {
    if check_shapes(q.len(), x.len(), acc.len()) == 0 {
        return acc.fill(0);
    }
    // SAFETY: only reachable through the `Kernels` of `avx512vnni()`, which checked AVX-512F,
    // AVX-512BW and AVX-512VNNI.
    unsafe { i8_vnni(q, x, acc) }
}

/// `_mm512_dpbusd_epi32` multiplies unsigned by signed bytes, so each weight goes in as
/// `q + 128` (a flip of its top bit, exact as a u8) and the kernel sums `(q + 128) x`; the
/// excess `128 * sum(x)` is the same for every row, computed once and subtracted. `x` keeps its
/// sign, so all of -128..=127 works on both sides. All sums wrap in i32 like the generic ones,
/// so the results are bit-identical to them.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn i8_vnni(q: &[i8], x: &[i8], acc: &mut [i32]) {
    let excess = x
        .iter()
        .fold(0i32, |s, &v| s.wrapping_add(i32::from(v)))
        .wrapping_mul(128);
    by_blocks(
        q,
        x,
        acc,
        |b, x| dot_u8i8_vnni::<ROWS>(b, x),
        |r, x| dot_u8i8_vnni::<1>(r, x)[0],
    );
    acc.iter_mut().for_each(|a| *a = a.wrapping_sub(excess));
}

/// `sum_j (q[r, j] + 128) x[j]` for `R` rows: 64 columns per step, then the last `< 64` by
/// masked loads (masked-off bytes read as 0 in `x`, so they add nothing).
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dot_u8i8_vnni<const R: usize>(block: &[i8], x: &[i8]) -> [i32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc = [_mm512_setzero_si512(); R];
    let mut j = 0;
    while j + 64 <= cols {
        // SAFETY: `j + 64 <= cols`: the loads read `x[j..j + 64]` and `block[r * cols + j..][..64]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let xv = _mm512_loadu_si512(xp.add(j).cast());
            for (r, a) in acc.iter_mut().enumerate() {
                let wv = _mm512_loadu_si512(wp.add(r * cols + j).cast());
                *a = _mm512_dpbusd_epi32(*a, _mm512_xor_si512(wv, flip), xv);
            }
        }
        j += 64;
    }
    if j < cols {
        let m = low_lanes(cols - j);
        // SAFETY: the mask enables lanes `0..cols - j` only, so the loads read `x[j..cols]` and
        // `block[r * cols + j..(r + 1) * cols]`; masked-off lanes are not accessed.
        unsafe {
            let xv = _mm512_maskz_loadu_epi8(m, xp.add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                let wv = _mm512_maskz_loadu_epi8(m, wp.add(r * cols + j));
                *a = _mm512_dpbusd_epi32(*a, _mm512_xor_si512(wv, flip), xv);
            }
        }
    }
    acc.map(|a| _mm512_reduce_add_epi32(a))
}

#[cfg(test)]
mod tests {
    crate::kernels::variant_tests!(avx2_fma, crate::kernels::x86_64::avx2_fma());
    crate::kernels::variant_tests!(avx512vnni, crate::kernels::x86_64::avx512vnni());
}

fn currents_p3_avx512(q: &[i8], x: &[i8], acc: &mut [i32]) {
    if check_shapes(q.len(), x.len(), acc.len()) == 0 {
        return acc.fill(0);
    }
    // SAFETY: only reachable through the `Kernels` of `avx512vnni()`, which checked AVX-512F
    // and AVX-512BW.
    unsafe { p3_avx512(q, x, acc) }
}

#[target_feature(enable = "avx512f,avx512bw")]
fn p3_avx512(q: &[i8], x: &[i8], acc: &mut [i32]) {
    by_blocks(
        q,
        x,
        acc,
        |b, x| dot_p3_avx512::<ROWS>(b, x),
        |r, x| dot_p3_avx512::<1>(r, x)[0],
    );
}

/// `sum_j q|q| x` for `R` rows: 32 columns per step, weights and `x` sign-extended to i16,
/// `q|q|` (at most 2^14 in magnitude, so exact in i16) multiplied pairwise into i32 by
/// `_mm512_madd_epi16`; the last `< 32` columns in scalar code. Sums wrap like the generic ones.
#[target_feature(enable = "avx512f,avx512bw")]
fn dot_p3_avx512<const R: usize>(block: &[i8], x: &[i8]) -> [i32; R] {
    let cols = x.len();
    assert_eq!(block.len(), R * cols);
    let (wp, xp) = (block.as_ptr(), x.as_ptr());
    let mut acc = [_mm512_setzero_si512(); R];
    let mut j = 0;
    while j + 32 <= cols {
        // SAFETY: `j + 32 <= cols`: the loads read `x[j..j + 32]` and `block[r * cols + j..][..32]`
        // for each row `r`, inside the row since `block.len() == R * cols`.
        unsafe {
            let xv = _mm512_cvtepi8_epi16(_mm256_loadu_si256(xp.add(j).cast()));
            for (r, a) in acc.iter_mut().enumerate() {
                let w = _mm512_cvtepi8_epi16(_mm256_loadu_si256(wp.add(r * cols + j).cast()));
                let sq = _mm512_mullo_epi16(w, _mm512_abs_epi16(w));
                *a = _mm512_add_epi32(*a, _mm512_madd_epi16(sq, xv));
            }
        }
        j += 32;
    }
    let mut out = acc.map(|a| _mm512_reduce_add_epi32(a));
    for (r, o) in out.iter_mut().enumerate() {
        for (&w, &v) in block[r * cols + j..(r + 1) * cols].iter().zip(&x[j..]) {
            let w = i32::from(w);
            *o = o.wrapping_add(w * w.abs() * i32::from(v));
        }
    }
    out
}
