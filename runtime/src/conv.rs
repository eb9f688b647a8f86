//! The two steps a convolution layer adds to a matrix-vector product: gathering one receptive
//! field of the input (im2col, one output position at a time, so the buffer is one patch long)
//! and max-pooling the convolution's output. Layouts are planar, channel first (`[c][y][x]`).
//! Private to the crate: callers pass only convolutions a validated spec declared, whose sizes
//! are non-zero and whose buffers the model sized from them.

use plastic_models::{Conv2d, PaddingMode, PoolKind};

/// Writes into `patch` (`conv.patch_len()` long) the receptive field of output position
/// `(oy, ox)`, in the weight rows' order `[c][ky][kx]`; positions in the padding read 0, or
/// the input mirrored at its edge for [`PaddingMode::Reflect`].
pub(crate) fn gather_patch(conv: &Conv2d, x: &[f32], oy: usize, ox: usize, patch: &mut [f32]) {
    let (h, w, k) = (conv.height, conv.width, conv.kernel);
    let reflect = conv.padding_mode == PaddingMode::Reflect;
    let mut out = patch.iter_mut();
    for plane in x.chunks_exact(h * w).take(conv.in_channels) {
        for ky in 0..k {
            // Row `oy + ky` of the padded input is row `oy + ky - padding` of the input.
            let iy = source_index(oy + ky, conv.padding, h, reflect);
            for kx in 0..k {
                let ix = source_index(ox + kx, conv.padding, w, reflect);
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

/// The input index that padded index `padded` reads along a side of `side` pixels padded by
/// `padding`: `None` for a zero, or the mirrored index when `reflect` (a validated spec keeps
/// `padding < side` there, and the clamp keeps any other in range).
fn source_index(padded: usize, padding: usize, side: usize, reflect: bool) -> Option<usize> {
    match padded.checked_sub(padding) {
        Some(i) if i < side => Some(i),
        _ if !reflect => None,
        Some(i) => Some((2 * (side - 1)).saturating_sub(i).min(side - 1)),
        None => Some((padding - padded).min(side - 1)),
    }
}

/// Pools `conv_out` (`[out_channels][conv h][conv w]`) into `y`
/// (`[out_channels][pooled h][pooled w]`) as the layer's spec says: windows of `pool x pool`,
/// [`Conv2d::pool_step`] apart, over the output padded by `pool_padding` zeros; the largest
/// value of each window, or its mean.
pub(crate) fn pool(conv: &Conv2d, conv_out: &[f32], y: &mut [f32]) {
    let (ch, cw) = conv.conv_size();
    let (ph, pw) = conv.output_size();
    let (size, step, pad) = (conv.pool.max(1), conv.pool_step(), conv.pool_padding);
    let average = conv.pool_kind == PoolKind::Avg;
    let inv_area = 1.0 / (size * size) as f32;
    for (plane, pooled) in conv_out
        .chunks_exact(ch * cw)
        .zip(y.chunks_exact_mut(ph * pw))
    {
        for py in 0..ph {
            for px in 0..pw {
                let (mut best, mut sum) = (f32::NEG_INFINITY, 0.0);
                for dy in 0..size {
                    for dx in 0..size {
                        let at = (
                            (py * step + dy).checked_sub(pad).filter(|&r| r < ch),
                            (px * step + dx).checked_sub(pad).filter(|&c| c < cw),
                        );
                        let v = match at {
                            (Some(r), Some(c)) => plane[r * cw + c],
                            _ => 0.0,
                        };
                        best = best.max(v);
                        sum += v;
                    }
                }
                pooled[py * pw + px] = if average { sum * inv_area } else { best };
            }
        }
    }
}

/// SoftHebb's triangle on one position's channels `column`, in place:
/// `relu(x_c - mean x)^power`.
pub(crate) fn triangle(column: &mut [f32], power: f32) {
    let mean = column.iter().sum::<f32>() / column.len().max(1) as f32;
    for v in column.iter_mut() {
        let centred = (*v - mean).max(0.0);
        *v = if power == 1.0 || centred == 0.0 {
            centred
        } else {
            libm::powf(centred, power)
        };
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
            ..Default::default()
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
            ..Default::default()
        };
        let conv_out: Vec<f32> = (0..25).map(|v| -(v as f32)).collect();
        let mut y = [0.0; 4];
        pool(&c, &conv_out, &mut y);
        // Window maxima of -v: the smallest v of each window is its top-left corner.
        assert_eq!(y, [0.0, -2.0, -10.0, -12.0]);
    }

    #[test]
    fn reflected_patches_mirror_the_input_at_its_edge() {
        // One 3x3 plane 1..=9, a 3x3 kernel with reflected padding 1: the patch around the
        // corner (0, 0) reads rows 1, 0, 1 and columns 1, 0, 1, as PyTorch's `reflect`.
        let c = Conv2d {
            in_channels: 1,
            kernel: 3,
            padding: 1,
            padding_mode: PaddingMode::Reflect,
            ..conv(3, 1, 1)
        };
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut patch = [0.0; 9];
        gather_patch(&c, &x, 0, 0, &mut patch);
        assert_eq!(patch, [5.0, 4.0, 5.0, 2.0, 1.0, 2.0, 5.0, 4.0, 5.0]);
        gather_patch(&c, &x, 2, 2, &mut patch);
        assert_eq!(patch, [5.0, 6.0, 5.0, 8.0, 9.0, 8.0, 5.0, 6.0, 5.0]);
    }

    #[test]
    fn overlapping_padded_max_pooling_and_average_pooling_by_hand() {
        // A 4x4 output 0..16 (kernel 1 on a 4x4 input), SoftHebb's max-pooling: windows of 4,
        // 2 apart, over the output padded by one zero.
        let c = Conv2d {
            in_channels: 1,
            height: 4,
            width: 4,
            out_channels: 1,
            kernel: 1,
            pool: 4,
            pool_stride: 2,
            pool_padding: 1,
            ..Default::default()
        };
        assert_eq!(c.output_size(), (2, 2));
        let conv_out: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let mut y = [0.0; 4];
        pool(&c, &conv_out, &mut y);
        assert_eq!(y, [10.0, 11.0, 14.0, 15.0]);
        let avg = Conv2d {
            pool: 2,
            pool_kind: PoolKind::Avg,
            pool_stride: 0,
            pool_padding: 0,
            ..c
        };
        pool(&avg, &conv_out, &mut y);
        assert_eq!(y, [2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn triangle_by_hand() {
        let mut column = [1.0, 2.0, 6.0];
        triangle(&mut column, 2.0);
        assert_eq!(column, [0.0, 0.0, 9.0]);
        let mut flat = [3.0; 4];
        triangle(&mut flat, 0.7);
        assert_eq!(flat, [0.0; 4]);
    }
}
