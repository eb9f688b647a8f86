//! Portable kernels. Shapes: `w` is row-major `[rows, cols]`, `x` has `cols` entries, `y` has
//! `rows` entries.

/// Lanes of independent accumulators: enough for the compiler to fill a 512-bit register, and
/// independent so the additions need not wait on each other.
const LANES: usize = 16;

/// `sum_i a_i b_i` in f32.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; LANES];
    let chunks = a.len() / LANES * LANES;
    for (ca, cb) in a[..chunks]
        .chunks_exact(LANES)
        .zip(b[..chunks].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in a[chunks..].iter().zip(&b[chunks..]) {
        sum += x * y;
    }
    sum
}

/// `sum_i a_i b_i` of int8 vectors, accumulated exactly in i32 (exact for rows up to 2^17
/// entries: 127 * 128 * 2^17 < 2^31).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0i32; LANES];
    let chunks = a.len() / LANES * LANES;
    for (ca, cb) in a[..chunks]
        .chunks_exact(LANES)
        .zip(b[..chunks].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] += i32::from(ca[l]) * i32::from(cb[l]);
        }
    }
    let mut sum: i32 = acc.iter().sum();
    for (&x, &y) in a[chunks..].iter().zip(&b[chunks..]) {
        sum += i32::from(x) * i32::from(y);
    }
    sum
}

/// `y = W x` in f32.
pub fn matvec_f32_generic(w: &[f32], x: &[f32], y: &mut [f32]) {
    let cols = x.len();
    debug_assert_eq!(w.len(), y.len() * cols);
    for (row, out) in w.chunks_exact(cols).zip(y.iter_mut()) {
        *out = dot_f32(row, x);
    }
}

/// `acc = Q x_q` in exact i32 arithmetic.
pub fn matvec_i8_generic(q: &[i8], x: &[i8], acc: &mut [i32]) {
    let cols = x.len();
    debug_assert_eq!(q.len(), acc.len() * cols);
    for (row, out) in q.chunks_exact(cols).zip(acc.iter_mut()) {
        *out = dot_i8(row, x);
    }
}

/// `acc = (Q |Q|) x` in exact (wrapping) i32 arithmetic: the Krotov currents for `p = 3`,
/// `sum_j sign(q_j) q_j^2 x_j`, computed from the int8 weights themselves. Each product fits
/// in i32; sums over rows of up to 1040 columns cannot wrap (127^2 * 127 * 1040 < 2^31).
pub fn currents_p3_i8_generic(q: &[i8], x: &[i8], acc: &mut [i32]) {
    let cols = x.len();
    debug_assert_eq!(q.len(), acc.len() * cols);
    if cols == 0 {
        return acc.fill(0);
    }
    for (row, out) in q.chunks_exact(cols).zip(acc.iter_mut()) {
        let mut sum = 0i32;
        for (&w, &v) in row.iter().zip(x) {
            let w = i32::from(w);
            sum = sum.wrapping_add(w * w.abs() * i32::from(v));
        }
        *out = sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_matvec_matches_hand_computation_with_a_tail() {
        // 2 x 17: the 17th column exercises the scalar tail loop.
        let mut w = [0.0f32; 34];
        w[0] = 1.0;
        w[16] = 2.0;
        w[17 + 3] = -1.0;
        let x: [f32; 17] = core::array::from_fn(|i| i as f32);
        let mut y = [0.0; 2];
        matvec_f32_generic(&w, &x, &mut y);
        assert_eq!(y, [0.0 * 1.0 + 16.0 * 2.0, -3.0]);
    }

    #[test]
    fn p3_currents_match_hand_computation() {
        // Row [2, -3, 1] . x [1, 1, -2] with q|q| = [4, -9, 1]: 4 - 9 - 2 = -7.
        let mut acc = [0i32; 1];
        currents_p3_i8_generic(&[2, -3, 1], &[1, 1, -2], &mut acc);
        assert_eq!(acc, [-7]);
    }

    #[test]
    fn i8_dot_is_exact_at_the_extremes() {
        let a = [-128i8; 33];
        let b = [-128i8; 33];
        assert_eq!(dot_i8(&a, &b), 33 * 16384);
        let c = [127i8; 33];
        assert_eq!(dot_i8(&a, &c), -33 * 128 * 127);
    }
}
