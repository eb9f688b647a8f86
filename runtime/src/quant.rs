//! Symmetric int8 quantization with one f32 scale per output row.
//!
//! Row `r` is stored as `q[r, j] = round(w[r, j] / s_r)` with `s_r = max_j |w[r, j]| / 127`, so
//! each row uses the full int8 range whatever its norm (Krotov rows all have p-norm near 1, but
//! readout rows differ widely). Activations are quantized the same way per vector at run time.

/// Quantizes one vector into `q` and returns its scale (`x ≈ q * scale`). An all-zero vector
/// gets scale 0 and zeros.
pub fn quantize_vector(x: &[f32], q: &mut [i8]) -> f32 {
    debug_assert_eq!(x.len(), q.len());
    let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        q.fill(0);
        return 0.0;
    }
    let scale = max / 127.0;
    let inv = 1.0 / scale;
    for (o, &v) in q.iter_mut().zip(x) {
        *o = libm::roundf(v * inv).clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// Quantizes a row-major `[rows, cols]` matrix row by row into `q` and `scales`.
pub fn quantize_rows(w: &[f32], cols: usize, q: &mut [i8], scales: &mut [f32]) {
    for ((row, qrow), s) in w
        .chunks_exact(cols)
        .zip(q.chunks_exact_mut(cols))
        .zip(scales.iter_mut())
    {
        *s = quantize_vector(row, qrow);
    }
}

/// The f32 matrix `q[r, :] * scale[r]` of row-quantized int8 weights (`cols` per row).
pub fn dequantize_rows(q: &[i8], scale: &[f32], cols: usize) -> alloc::vec::Vec<f32> {
    q.chunks_exact(cols.max(1))
        .zip(scale)
        .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_entry_maps_to_127_and_rounding_is_to_nearest() {
        let mut q = [0i8; 4];
        let s = quantize_vector(&[0.5, -1.27, 0.006, 0.0049], &mut q);
        assert!((s - 0.01).abs() < 1e-7);
        assert_eq!(q, [50, -127, 1, 0]);
    }

    #[test]
    fn rows_get_their_own_scale() {
        let w = [1.0, -2.0, 0.1, 0.05];
        let mut q = [0i8; 4];
        let mut s = [0.0f32; 2];
        quantize_rows(&w, 2, &mut q, &mut s);
        assert_eq!(q, [64, -127, 127, 64]);
        assert!((s[0] - 2.0 / 127.0).abs() < 1e-7 && (s[1] - 0.1 / 127.0).abs() < 1e-7);
    }

    #[test]
    fn dequantize_undoes_the_row_scales() {
        assert_eq!(
            dequantize_rows(&[2, -1, 4, 0], &[0.5, 0.25], 2),
            [1.0, -0.5, 1.0, 0.0]
        );
    }

    #[test]
    fn zero_vector_has_zero_scale() {
        let mut q = [5i8; 3];
        assert_eq!(quantize_vector(&[0.0; 3], &mut q), 0.0);
        assert_eq!(q, [0; 3]);
    }
}
