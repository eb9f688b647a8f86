//! The two steps a convolution layer adds to a matrix-vector product: gathering one receptive
//! field of the input (im2col, one output position at a time, so the buffer is one patch long)
//! and max-pooling the convolution's output. Layouts are planar, channel first (`[c][y][x]`).
//! Private to the crate: callers pass only convolutions a validated spec declared, whose sizes
//! are non-zero and whose buffers the model sized from them.

use plastic_models::Conv2d;

/// Writes into `patch` (`conv.patch_len()` long) the receptive field of output position
/// `(oy, ox)`, in the weight rows' order `[c][ky][kx]`; positions in the padding read 0.
pub(crate) fn gather_patch(conv: &Conv2d, x: &[f32], oy: usize, ox: usize, patch: &mut [f32]) {
    let (h, w, k) = (conv.height, conv.width, conv.kernel);
    let mut out = patch.iter_mut();
    for plane in x.chunks_exact(h * w).take(conv.in_channels) {
        for ky in 0..k {
            // Row `oy + ky` of the padded input is row `oy + ky - padding` of the input.
            let iy = (oy + ky).checked_sub(conv.padding).filter(|&iy| iy < h);
            for kx in 0..k {
                let ix = (ox + kx).checked_sub(conv.padding).filter(|&ix| ix < w);
                let value = match (iy, ix) {
                    (Some(iy), Some(ix)) => plane[iy * w + ix],
                    _ => 0.0,
                };
                if let Some(o) = out.next() {
                    *o = value;
                }
            }
        }
    }
}

/// Max-pools `conv_out` (`[out_channels][conv h][conv w]`) into `y`
/// (`[out_channels][h / pool][w / pool]`), windows of `pool x pool` with stride `pool`.
pub(crate) fn max_pool(conv: &Conv2d, conv_out: &[f32], y: &mut [f32]) {
    let (ch, cw) = conv.conv_size();
    let (ph, pw) = conv.output_size();
    let pool = conv.pool.max(1);
    for (plane, pooled) in conv_out
        .chunks_exact(ch * cw)
        .zip(y.chunks_exact_mut(ph * pw))
    {
        for py in 0..ph {
            for px in 0..pw {
                let mut best = f32::NEG_INFINITY;
                for dy in 0..pool {
                    let row = &plane[(py * pool + dy) * cw..];
                    for &v in &row[px * pool..px * pool + pool] {
                        best = best.max(v);
                    }
                }
                pooled[py * pw + px] = best;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn conv(kernel: usize, padding: usize, pool: usize) -> Conv2d {
        Conv2d {
            in_channels: 2,
            height: 3,
            width: 3,
            out_channels: 1,
            kernel,
            padding,
            pool,
        }
    }

    #[test]
    fn patches_read_the_padding_as_zero() {
        // Two 3x3 planes: 1..=9 and 11..=19.
        let x: Vec<f32> = (1..=9).chain(11..=19).map(|v| v as f32).collect();
        let c = conv(2, 1, 1);
        let mut patch = [0.0; 8];
        // Output (0, 0) of the padded input covers input rows -1..=0, columns -1..=0.
        gather_patch(&c, &x, 0, 0, &mut patch);
        assert_eq!(patch, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 11.0]);
        // Output (2, 1) covers rows 1..=2, columns 0..=1.
        gather_patch(&c, &x, 2, 1, &mut patch);
        assert_eq!(patch, [4.0, 5.0, 7.0, 8.0, 14.0, 15.0, 17.0, 18.0]);
    }

    #[test]
    fn pooling_takes_each_window_maximum_and_drops_the_remainder() {
        // A 1-channel 5x5 convolution output (kernel 1 on a 5x5 input), pooled by 2: the last
        // row and column fall out, as in PyTorch.
        let c = Conv2d {
            in_channels: 1,
            height: 5,
            width: 5,
            out_channels: 1,
            kernel: 1,
            padding: 0,
            pool: 2,
        };
        let conv_out: Vec<f32> = (0..25).map(|v| -(v as f32)).collect();
        let mut y = [0.0; 4];
        max_pool(&c, &conv_out, &mut y);
        // Window maxima of -v: the smallest v of each window is its top-left corner.
        assert_eq!(y, [0.0, -2.0, -10.0, -12.0]);
    }
}
