//! A Krotov-Hopfield layer that keeps learning on the device.
//!
//! The layer keeps a master copy of its weights that the rule updates, and an int8 copy (one
//! scale per row) that inference reads. The master is f32, f16 (half the memory), or `Q16`: an
//! int8 residual plane beside the int8 weights, so that `scale * (q + r / 256)` is a 16-bit
//! fixed-point master and the inference copy is part of it (2 bytes per weight in all). A
//! learning step changes at most two rows (the winner and the k-th), so only those rows are
//! written back to the master and re-quantized.
//!
//! Ranking needs the currents of every hidden unit, the one full pass over the weights per
//! step. For `p = 3` (the paper's MNIST setting) the layer ranks from the int8 weights
//! (`sum q|q| x`, one exact integer kernel) and then computes the two chosen units' currents
//! exactly from the master, so the update itself is exact; near-ties may rank differently
//! than exact f32 currents would (a test measures how rarely on MNIST). Other `p` rank from the
//! master in f32. Guards keep a bad frame from breaking what was learned: the learning rate is
//! clamped to bounds, and a step that makes a row non-finite or pushes its p-norm past a bound is
//! rolled back (nothing is written).
//!
//! Every buffer is sized at construction; [`PlasticLayer::learn`] allocates nothing.

use alloc::vec;
use alloc::vec::Vec;
use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::kernels::{self, Kernels};
use crate::learn::krotov::{
    KrotovParams, KrotovStep, check_rank, lebesgue_weight, rank_winner_and_kth,
};
use crate::quant::{dequantize_rows, quantize_vector};
use crate::{Error, Result};

/// Precision of the master copy that the rule updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterPrecision {
    /// 4 bytes per weight.
    F32,
    /// 2 bytes per weight: half the memory; each step's change must exceed f16's resolution
    /// (about 1e-3 relative), which the rule's step normalisation (largest change = eps) gives
    /// for eps above about 1e-3.
    F16,
    /// 16-bit fixed point per row: the int8 inference weights plus an int8 residual, 2 bytes per
    /// weight including the inference copy (f32 and f16 masters add it on top). Resolution:
    /// the row's largest weight / 32512.
    Q16,
}

/// Widest row for int8 ranking: `127^2 * 127 * cols` must fit in i32.
const MAX_INT8_RANK_COLS: usize = 1040;

/// Rows converted per block when computing currents: 64 rows of 784 floats (200 KB) stay in
/// a desktop core's L2 cache; small layers use one block.
const BLOCK_ROWS: usize = 64;

#[derive(Debug, Clone)]
enum Master {
    F32(Vec<f32>),
    F16(Vec<f16>),
    /// The residual plane `r`: weight = `scale * (q + r / 256)`.
    Q16(Vec<i8>),
}

/// Bounds that a learning step must respect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guards {
    /// Largest learning rate accepted; larger requests are clamped to it.
    pub eps_max: f32,
    /// Largest row p-norm accepted after a step (the rule pulls rows to p-norm 1).
    pub max_row_norm: f32,
}

impl Default for Guards {
    fn default() -> Self {
        Self {
            eps_max: 0.05,
            max_row_norm: 4.0,
        }
    }
}

/// What one learning step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepOutcome {
    /// The winner's and the k-th unit's rows were updated and re-quantized.
    Updated {
        /// Unit with the largest current.
        winner: usize,
    },
    /// The step would have broken a guard; nothing changed.
    RolledBack,
    /// Nothing to learn (learning rate 0 or an all-zero input).
    Skipped,
}

/// Counters since construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlasticStats {
    /// Steps that updated the layer.
    pub updates: u64,
    /// Steps refused by a guard.
    pub rollbacks: u64,
}

/// A Krotov layer with an updatable master copy and an int8 copy for inference.
#[derive(Debug, Clone)]
pub struct PlasticLayer {
    rows: usize,
    cols: usize,
    params: KrotovParams,
    guards: Guards,
    master: Master,
    q: Vec<i8>,
    scale: Vec<f32>,
    step: KrotovStep,
    currents: Vec<f32>,
    /// One row of the master in f32 (for re-quantization).
    row: Vec<f32>,
    /// A block of rows of the master in f32, for exact currents (empty when ranking in int8).
    block: Vec<f32>,
    /// Rank from `sum q|q| x` on the int8 weights (p = 3) instead of exact f32 currents.
    rank_int8: bool,
    xq: Vec<i8>,
    acc: Vec<i32>,
    kernels: Kernels,
    /// The touched rows in f32, in the step's slot order.
    touched: Vec<f32>,
    stats: PlasticStats,
}

impl PlasticLayer {
    /// A layer from f32 weights (`[rows, cols]`, row-major).
    pub fn new(
        weights: &[f32],
        rows: usize,
        cols: usize,
        params: KrotovParams,
        precision: MasterPrecision,
        guards: Guards,
    ) -> Result<Self> {
        check_rank(params.k, rows)?;
        if Some(weights.len()) != rows.checked_mul(cols) {
            return Err(Error::WrongLength {
                what: "plastic layer weights",
                expected: rows.saturating_mul(cols),
                found: weights.len(),
            });
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let n = weights.len();
        let master = match precision {
            MasterPrecision::F32 => Master::F32(vec![0.0; n]),
            MasterPrecision::F16 => Master::F16(vec![f16::ZERO; n]),
            MasterPrecision::Q16 => Master::Q16(vec![0; n]),
        };
        let rank_int8 = params.p == 3.0 && cols <= MAX_INT8_RANK_COLS;
        let mut layer = Self {
            rows,
            cols,
            params,
            guards,
            master,
            q: vec![0; n],
            scale: vec![0.0; rows],
            step: KrotovStep::new(rows, cols, 1),
            currents: vec![0.0; rows],
            row: vec![0.0; cols],
            block: Vec::new(),
            rank_int8: false,
            xq: vec![0; cols],
            acc: vec![0; rows],
            kernels: kernels::best(),
            touched: vec![0.0; 2 * cols],
            stats: PlasticStats::default(),
        };
        layer.set_exact_ranking(!rank_int8);
        for (mu, row) in weights.chunks_exact(cols).enumerate() {
            layer.store_row(mu, row);
        }
        Ok(layer)
    }

    /// Ranks from exact f32 currents (`true`), or from the int8 weights where `p = 3` allows
    /// it (`false`, the default then). Allocates the exact path's block buffer when needed.
    pub fn set_exact_ranking(&mut self, exact: bool) {
        self.rank_int8 = !exact && self.params.p == 3.0 && self.cols <= MAX_INT8_RANK_COLS;
        let block_len = if self.rank_int8 {
            0
        } else {
            BLOCK_ROWS.min(self.rows) * self.cols
        };
        self.block = vec![0.0; block_len];
    }

    /// A layer from int8 weights: the master starts as `q * scale`.
    pub fn from_int8(
        q: &[i8],
        scale: &[f32],
        cols: usize,
        params: KrotovParams,
        precision: MasterPrecision,
        guards: Guards,
    ) -> Result<Self> {
        let rows = scale.len();
        if Some(q.len()) != rows.checked_mul(cols) {
            return Err(Error::WrongLength {
                what: "plastic layer int8 weights",
                expected: rows.saturating_mul(cols),
                found: q.len(),
            });
        }
        let w = dequantize_rows(q, scale, cols);
        Self::new(&w, rows, cols, params, precision, guards)
    }

    /// Sets every row to `q * scale` (int8 weights of the same shape, such as the ones the layer
    /// started from): a roll-back. Allocates nothing.
    pub fn restore_int8(&mut self, q: &[i8], scale: &[f32]) -> Result<()> {
        if q.len() != self.rows * self.cols || scale.len() != self.rows {
            return Err(Error::WrongLength {
                what: "plastic layer int8 weights",
                expected: self.rows * self.cols,
                found: q.len(),
            });
        }
        let mut row = core::mem::take(&mut self.row);
        for (mu, (qs, &s)) in q.chunks_exact(self.cols).zip(scale).enumerate() {
            for (w, &qv) in row.iter_mut().zip(qs) {
                *w = f32::from(qv) * s;
            }
            self.store_row(mu, &row);
        }
        self.row = row;
        Ok(())
    }

    /// The int8 weights and row scales that inference reads.
    pub fn int8(&self) -> (&[i8], &[f32]) {
        (&self.q, &self.scale)
    }

    /// Row `mu` of the master copy, in f32, into `out`.
    pub fn master_row(&self, mu: usize, out: &mut [f32]) {
        let span = mu * self.cols..(mu + 1) * self.cols;
        match &self.master {
            Master::F32(w) => out.copy_from_slice(&w[span]),
            Master::F16(w) => w[span].convert_to_f32_slice(out),
            Master::Q16(r) => {
                let s = self.scale[mu];
                for ((o, &q), &r) in out.iter_mut().zip(&self.q[span.clone()]).zip(&r[span]) {
                    *o = s * (f32::from(q) + f32::from(r) * (1.0 / 256.0));
                }
            }
        }
    }

    /// Writes row `mu` (f32) into the master and its int8 copy.
    fn store_row(&mut self, mu: usize, row: &[f32]) {
        let span = mu * self.cols..(mu + 1) * self.cols;
        self.scale[mu] = quantize_vector(row, &mut self.q[span.clone()]);
        match &mut self.master {
            Master::F32(w) => w[span].copy_from_slice(row),
            Master::F16(w) => w[span].convert_from_f32_slice(row),
            Master::Q16(r) => {
                let s = self.scale[mu];
                let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
                for ((r, &q), &w) in r[span.clone()].iter_mut().zip(&self.q[span]).zip(row) {
                    let residual = (w * inv - f32::from(q)) * 256.0;
                    *r = libm::roundf(residual).clamp(-128.0, 127.0) as i8;
                }
            }
        }
    }

    /// The exact current `sign(W_mu)|W_mu|^(p-1) . v` of one unit, from the master.
    fn exact_current(&mut self, mu: usize, v: &[f32]) -> f32 {
        let mut row = core::mem::take(&mut self.row);
        self.master_row(mu, &mut row);
        let p = self.params.p;
        let current = row
            .iter()
            .zip(v)
            .map(|(&w, &x)| lebesgue_weight(w, p) * x)
            .sum();
        self.row = row;
        current
    }

    /// Bytes of the master copy, the int8 copy and scales, and the learning buffers.
    pub fn memory_bytes(&self) -> usize {
        let master = match &self.master {
            Master::F32(w) => w.len() * 4,
            Master::F16(w) => w.len() * 2,
            Master::Q16(r) => r.len(),
        };
        let buffers =
            (self.block.len() + self.touched.len() + self.row.len() + self.currents.len()) * 4
                + self.xq.len()
                + self.acc.len() * 4;
        master + self.q.len() + self.scale.len() * 4 + buffers
    }

    /// Counters since construction.
    pub fn stats(&self) -> PlasticStats {
        self.stats
    }

    /// Shape `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The unit with the largest current for `v` and the unit ranked `k`-th, from the int8
    /// weights or exactly (see [`PlasticLayer::set_exact_ranking`]). `v` must have the layer's
    /// width and be finite ([`PlasticLayer::learn`] checks both).
    pub fn rank(&mut self, v: &[f32]) -> (usize, usize) {
        if self.rank_int8 {
            // I_mu ~ scale_mu^2 * s_x * sum q|q| x_q.
            let sx = quantize_vector(v, &mut self.xq);
            self.kernels
                .currents_p3_i8(&self.q, &self.xq, &mut self.acc);
            for ((c, &a), &s) in self.currents.iter_mut().zip(&self.acc).zip(&self.scale) {
                *c = a as f32 * s * s * sx;
            }
        } else {
            self.exact_currents(v);
        }
        rank_winner_and_kth(&self.currents, self.params.k)
    }

    /// Exact currents `sign(W)|W|^(p-1) v` of every unit, a block of rows at a time: the block
    /// is converted from the master, powered, and multiplied by the fastest matvec kernel while
    /// it is still in cache.
    fn exact_currents(&mut self, v: &[f32]) {
        let (p, cols) = (self.params.p, self.cols);
        let mut block = core::mem::take(&mut self.block);
        let block_rows = block.len() / cols.max(1);
        for start in (0..self.rows).step_by(block_rows.max(1)) {
            let end = (start + block_rows).min(self.rows);
            let chunk = &mut block[..(end - start) * cols];
            for (mu, row) in (start..end).zip(chunk.chunks_exact_mut(cols)) {
                self.master_row(mu, row);
            }
            if p != 2.0 {
                chunk.iter_mut().for_each(|w| *w = lebesgue_weight(*w, p));
            }
            self.kernels
                .matvec_f32(chunk, v, &mut self.currents[start..end]);
        }
        self.block = block;
    }

    /// One learning step on the preprocessed input `v` with learning rate `eps` (clamped to
    /// `0..=guards.eps_max`): currents from the master copy, ranking, the Krotov update of the
    /// winner's and k-th unit's rows, guards, write-back and re-quantization of those rows.
    pub fn learn(&mut self, v: &[f32], eps: f32) -> Result<StepOutcome> {
        let Some(eps) = self.checked_rate(v, eps)? else {
            return Ok(StepOutcome::Skipped);
        };
        let ranked = self.rank(v);
        self.learn_ranked(v, eps, ranked)
    }

    /// One supervised step (a label says which units may answer for `v`): the best-matching
    /// unit among those `is_target` accepts gets the Hebbian part of the Krotov update and the
    /// overall winner, when `is_target` refuses it, the anti-Hebbian part (else the `k`-th
    /// ranked unit does, as in [`PlasticLayer::learn`]). `Updated` names the unit that learned;
    /// `Skipped` when no unit is a target.
    pub fn learn_supervised(
        &mut self,
        v: &[f32],
        eps: f32,
        is_target: impl Fn(usize) -> bool,
    ) -> Result<StepOutcome> {
        let Some(eps) = self.checked_rate(v, eps)? else {
            return Ok(StepOutcome::Skipped);
        };
        let (winner, kth) = self.rank(v);
        let teacher = (0..self.rows)
            .filter(|&mu| is_target(mu))
            .max_by(|&a, &b| self.currents[a].total_cmp(&self.currents[b]));
        let Some(teacher) = teacher else {
            return Ok(StepOutcome::Skipped);
        };
        let rival = if teacher == winner { kth } else { winner };
        self.learn_ranked(v, eps, (teacher, rival))
    }

    /// Replaces unit `mu`'s weights by `row` (a recruited unit, see
    /// [`crate::AdaptiveModel::recruit`]), master and int8 copy, under the same guards as a
    /// learning step: a row with a non-finite weight or a p-norm past the bound is refused
    /// (`RolledBack`, nothing written).
    pub fn replace_row(&mut self, mu: usize, row: &[f32]) -> Result<StepOutcome> {
        if row.len() != self.cols {
            return Err(Error::WrongLength {
                what: "plastic layer row",
                expected: self.cols,
                found: row.len(),
            });
        }
        if mu >= self.rows {
            return Err(Error::WrongLength {
                what: "plastic layer unit",
                expected: self.rows,
                found: mu,
            });
        }
        let p = self.params.p;
        let norm: f32 = row.iter().map(|&w| lebesgue_weight(w, p) * w).sum();
        if !norm.is_finite() || libm::powf(norm, 1.0 / p) > self.guards.max_row_norm {
            self.stats.rollbacks += 1;
            return Ok(StepOutcome::RolledBack);
        }
        self.store_row(mu, row);
        self.stats.updates += 1;
        Ok(StepOutcome::Updated { winner: mu })
    }

    /// Checks `v` and clamps `eps` to `0..=guards.eps_max`; `None` when the step would change
    /// nothing (a zero rate or an all-zero input).
    fn checked_rate(&self, v: &[f32], eps: f32) -> Result<Option<f32>> {
        if v.len() != self.cols {
            return Err(Error::WrongLength {
                what: "plastic layer input",
                expected: self.cols,
                found: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let eps = if eps.is_finite() {
            eps.clamp(0.0, self.guards.eps_max)
        } else {
            0.0
        };
        Ok((eps > 0.0 && v.iter().any(|&x| x != 0.0)).then_some(eps))
    }

    /// The Krotov update of `winner` (Hebbian) and `kth` (anti-Hebbian) for `v`, guarded.
    fn learn_ranked(
        &mut self,
        v: &[f32],
        eps: f32,
        (winner, kth): (usize, usize),
    ) -> Result<StepOutcome> {
        let p = self.params.p;
        let cols = self.cols;
        self.step.clear();
        // The update uses the exact currents of the two units it changes.
        self.currents[winner] = self.exact_current(winner, v);
        self.currents[kth] = self.exact_current(kth, v);
        self.step
            .add_ranked(v, &self.currents, (winner, kth), self.params.delta)?;
        let slots = self.step.changed_rows().len();
        for slot in 0..slots {
            let mu = self.step.changed_rows()[slot];
            let mut dst = core::mem::take(&mut self.touched);
            self.master_row(mu, &mut dst[slot * cols..(slot + 1) * cols]);
            self.touched = dst;
        }
        self.step
            .apply_compact(&mut self.touched[..slots * cols], eps);
        let bad = self.touched[..slots * cols].chunks_exact(cols).any(|r| {
            let norm: f32 = r.iter().map(|&w| lebesgue_weight(w, p) * w).sum();
            !norm.is_finite() || libm::powf(norm, 1.0 / p) > self.guards.max_row_norm
        });
        if bad {
            self.stats.rollbacks += 1;
            return Ok(StepOutcome::RolledBack);
        }
        let touched = core::mem::take(&mut self.touched);
        for slot in 0..slots {
            let mu = self.step.changed_rows()[slot];
            self.store_row(mu, &touched[slot * cols..(slot + 1) * cols]);
        }
        self.touched = touched;
        self.stats.updates += 1;
        Ok(StepOutcome::Updated { winner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: KrotovParams = KrotovParams {
        p: 3.0,
        k: 2,
        delta: 0.4,
    };

    fn weights() -> Vec<f32> {
        vec![
            0.5, -0.5, 0.0, 1.0, //
            1.0, 0.0, 0.5, 0.0, //
            0.0, 1.0, 0.0, -0.5,
        ]
    }

    /// The 3x4 layer of [`weights`], f32 master, default guards.
    fn layer() -> PlasticLayer {
        PlasticLayer::new(
            &weights(),
            3,
            4,
            PARAMS,
            MasterPrecision::F32,
            Guards::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_replaced_row_is_stored_whole_and_a_bad_one_is_refused() {
        let mut layer = layer();
        let new_row = [0.25, -0.5, 0.75, 0.0];
        assert_eq!(
            layer.replace_row(2, &new_row).unwrap(),
            StepOutcome::Updated { winner: 2 }
        );
        let mut row = [0.0; 4];
        layer.master_row(2, &mut row);
        assert_eq!(row, new_row);
        // int8 copy: largest magnitude to 127.
        assert_eq!(&layer.int8().0[8..], &[42, -85, 127, 0]);

        for bad in [[f32::NAN, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]] {
            assert_eq!(layer.replace_row(1, &bad).unwrap(), StepOutcome::RolledBack);
        }
        layer.master_row(1, &mut row);
        assert_eq!(row, [1.0, 0.0, 0.5, 0.0], "refused rows write nothing");
        assert!(layer.replace_row(3, &new_row).is_err());
        assert!(layer.replace_row(0, &new_row[..3]).is_err());
        assert_eq!(layer.stats().rollbacks, 2);
    }

    #[test]
    fn a_restore_puts_int8_rows_back() {
        let mut layer = layer();
        let (q, scale) = (layer.int8().0.to_vec(), layer.int8().1.to_vec());
        // Unit 1 wins [0.5; 4] (the hand case below) and learns.
        let out = layer.learn(&[0.5; 4], 0.1).unwrap();
        assert_eq!(out, StepOutcome::Updated { winner: 1 });
        assert_ne!(layer.int8().0, &q[..]);
        layer.restore_int8(&q, &scale).unwrap();
        assert_eq!(layer.int8().0, &q[..]);
        let mut row = [0.0; 4];
        layer.master_row(1, &mut row);
        let expected: Vec<f32> = q[4..8].iter().map(|&v| f32::from(v) * scale[1]).collect();
        assert_eq!(row.to_vec(), expected);
        assert!(layer.restore_int8(&q[..4], &scale).is_err());
    }

    #[test]
    fn a_step_equals_the_rule_and_requantizes_only_the_touched_rows() {
        let guards = Guards {
            eps_max: 0.1,
            ..Guards::default()
        };
        let mut layer =
            PlasticLayer::new(&weights(), 3, 4, PARAMS, MasterPrecision::F32, guards).unwrap();
        let q_before = layer.int8().0.to_vec();
        // The hand-computed case of learn::krotov: unit 1 wins, unit 0 is second.
        let out = layer.learn(&[0.5; 4], 0.1).unwrap();
        assert_eq!(out, StepOutcome::Updated { winner: 1 });
        let mut row = [0.0; 4];
        layer.master_row(1, &mut row);
        for (a, b) in row.iter().zip([0.975, 0.1, 0.5375, 0.1]) {
            assert!((a - b).abs() < 1e-6, "{row:?}");
        }
        let (q, scale) = layer.int8();
        assert_eq!(&q[8..], &q_before[8..], "untouched row 2 re-quantized");
        // Row 1's int8 copy follows its master: 0.975 is its largest entry -> 127.
        assert_eq!(q[4], 127);
        assert!((scale[1] - 0.975 / 127.0).abs() < 1e-7);
        assert_eq!(layer.stats().updates, 1);
    }

    #[test]
    fn a_supervised_step_moves_the_best_target_unit_and_pushes_a_wrong_winner() {
        let guards = Guards {
            eps_max: 0.1,
            ..Guards::default()
        };
        let make =
            || PlasticLayer::new(&weights(), 3, 4, PARAMS, MasterPrecision::F32, guards).unwrap();
        let rows = |layer: &PlasticLayer| {
            let mut w = [[0.0f32; 4]; 3];
            for (mu, row) in w.iter_mut().enumerate() {
                layer.master_row(mu, row);
            }
            w
        };
        // Currents for v = 0.5: 0.5, 0.625, 0.375. Only unit 2 may answer, so it learns
        // (ds_2 = v - 0.375 W_2) and the winner, unit 1, is pushed (ds_1 = -0.4 (v - 0.625
        // W_1)); max |ds| = 0.6875.
        let mut layer = make();
        let out = layer
            .learn_supervised(&[0.5; 4], 0.1, |mu| mu == 2)
            .unwrap();
        assert_eq!(out, StepOutcome::Updated { winner: 2 });
        let s = 0.1 / 0.6875;
        let expected = [
            [0.5, -0.5, 0.0, 1.0],
            [1.0 + 0.05 * s, -0.2 * s, 0.5 - 0.075 * s, -0.2 * s],
            [0.5 * s, 1.0 + 0.125 * s, 0.5 * s, -0.5 + 0.6875 * s],
        ];
        for (got, want) in rows(&layer).iter().zip(&expected) {
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        }
        // When the winner may answer, the step is the unsupervised one.
        let (mut supervised, mut plain) = (make(), make());
        supervised
            .learn_supervised(&[0.5; 4], 0.1, |mu| mu != 2)
            .unwrap();
        plain.learn(&[0.5; 4], 0.1).unwrap();
        assert_eq!(rows(&supervised), rows(&plain));
        // No unit may answer: nothing changes.
        let mut none = make();
        let out = none.learn_supervised(&[0.5; 4], 0.1, |_| false).unwrap();
        assert_eq!(out, StepOutcome::Skipped);
        assert_eq!(rows(&none), rows(&make()));
    }

    #[test]
    fn f16_and_q16_masters_save_memory_and_track_the_f32_one() {
        let w: Vec<f32> = (0..64 * 20)
            .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let params = KrotovParams {
            p: 3.0,
            k: 3,
            delta: 0.4,
        };
        let make = |precision| {
            let mut l =
                PlasticLayer::new(&w, 64, 20, params, precision, Guards::default()).unwrap();
            // Exact ranking: the same winners in all three, so only precision differs.
            l.set_exact_ranking(true);
            l
        };
        let (mut a, mut b, mut c) = (
            make(MasterPrecision::F32),
            make(MasterPrecision::F16),
            make(MasterPrecision::Q16),
        );
        assert_eq!(a.memory_bytes() - b.memory_bytes(), 64 * 20 * 2);
        assert_eq!(a.memory_bytes() - c.memory_bytes(), 64 * 20 * 3);
        for i in 0..50 {
            let v: Vec<f32> = (0..20)
                .map(|j| ((i * 31 + j * 17) % 11) as f32 / 10.0)
                .collect();
            a.learn(&v, 0.02).unwrap();
            b.learn(&v, 0.02).unwrap();
            c.learn(&v, 0.02).unwrap();
        }
        let (mut ra, mut rb, mut rc) = ([0.0; 20], [0.0; 20], [0.0; 20]);
        let (mut f16_drift, mut q16_drift) = (0.0f32, 0.0f32);
        for mu in 0..64 {
            a.master_row(mu, &mut ra);
            b.master_row(mu, &mut rb);
            c.master_row(mu, &mut rc);
            for ((x, y), z) in ra.iter().zip(&rb).zip(&rc) {
                f16_drift = f16_drift.max((x - y).abs());
                q16_drift = q16_drift.max((x - z).abs());
            }
        }
        assert!(f16_drift < 0.02, "f16 master drifted by {f16_drift}");
        assert!(q16_drift < 0.02, "q16 master drifted by {q16_drift}");
    }

    #[test]
    fn q16_master_round_trips_a_row_to_its_resolution() {
        let w: Vec<f32> = (0..3 * 40)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let layer =
            PlasticLayer::new(&w, 3, 40, PARAMS, MasterPrecision::Q16, Guards::default()).unwrap();
        let mut row = [0.0; 40];
        for mu in 0..3 {
            layer.master_row(mu, &mut row);
            let max = w[mu * 40..(mu + 1) * 40]
                .iter()
                .fold(0.0f32, |m, v| m.max(v.abs()));
            for (a, b) in row.iter().zip(&w[mu * 40..]) {
                // Resolution: max / 127 / 256, half of it by rounding.
                assert!(
                    (a - b).abs() <= max / 127.0 / 256.0 * 0.5 + 1e-7,
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn guards_clamp_the_rate_and_roll_back_a_step_that_breaks_the_norm_bound() {
        let guards = Guards {
            eps_max: 0.1,
            max_row_norm: 1.0,
        };
        let mut layer =
            PlasticLayer::new(&weights(), 3, 4, PARAMS, MasterPrecision::F32, guards).unwrap();
        // Row 1 has p-norm (1 + 0.125)^(1/3) = 1.04 already; the step would keep it above 1.
        let before = layer.int8().0.to_vec();
        assert_eq!(
            layer.learn(&[0.5; 4], 5.0).unwrap(),
            StepOutcome::RolledBack
        );
        assert_eq!(layer.int8().0, &before[..]);
        assert_eq!(
            layer.stats(),
            PlasticStats {
                updates: 0,
                rollbacks: 1
            }
        );
        assert_eq!(layer.learn(&[0.0; 4], 0.1).unwrap(), StepOutcome::Skipped);
        assert!(matches!(
            layer.learn(&[f32::NAN; 4], 0.1),
            Err(Error::NonFiniteInput)
        ));
        assert!(matches!(
            layer.learn(&[1.0; 3], 0.1),
            Err(Error::WrongLength { .. })
        ));
    }
}
