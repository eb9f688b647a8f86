//! A Krotov-Hopfield layer that keeps learning on the device.
//!
//! The layer keeps a master copy of its weights (f32, or f16 to halve the memory) that the rule
//! updates, and an int8 copy (one scale per row) that inference reads. A learning step changes
//! at most two rows (the winner and the k-th), so only those rows are written back to the master
//! and re-quantized. Guards keep a bad frame from breaking what was learned: the learning rate is
//! clamped to bounds, and a step that makes a row non-finite or pushes its p-norm past a bound is
//! rolled back (nothing is written).
//!
//! Every buffer is sized at construction; [`PlasticLayer::learn`] allocates nothing.

use alloc::vec;
use alloc::vec::Vec;
use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::kernels::{self, Kernels};
use crate::learn::krotov::{KrotovParams, KrotovStep, lebesgue_weight};
use crate::quant::quantize_vector;
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
}

/// Rows converted per block when computing currents: 64 rows of 784 floats (200 KB) stay in
/// a desktop core's L2 cache; small layers use one block.
const BLOCK_ROWS: usize = 64;

#[derive(Debug, Clone)]
enum Master {
    F32(Vec<f32>),
    F16(Vec<f16>),
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
    /// A block of rows of the master in f32, for the currents.
    block: Vec<f32>,
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
        if weights.len() != rows * cols || rows < params.k || params.k < 2 {
            return Err(Error::WrongLength {
                what: "plastic layer weights",
                expected: rows * cols,
                found: weights.len(),
            });
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let master = match precision {
            MasterPrecision::F32 => Master::F32(weights.to_vec()),
            MasterPrecision::F16 => {
                let mut m = vec![f16::ZERO; weights.len()];
                m.convert_from_f32_slice(weights);
                Master::F16(m)
            }
        };
        let mut layer = Self {
            rows,
            cols,
            params,
            guards,
            master,
            q: vec![0; rows * cols],
            scale: vec![0.0; rows],
            step: KrotovStep::new(rows, cols, 1),
            currents: vec![0.0; rows],
            row: vec![0.0; cols],
            block: vec![0.0; BLOCK_ROWS.min(rows) * cols],
            kernels: kernels::best(),
            touched: vec![0.0; 2 * cols],
            stats: PlasticStats::default(),
        };
        for mu in 0..rows {
            layer.requantize(mu);
        }
        Ok(layer)
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
        if q.len() != rows * cols {
            return Err(Error::WrongLength {
                what: "plastic layer int8 weights",
                expected: rows * cols,
                found: q.len(),
            });
        }
        let w: Vec<f32> = q
            .chunks_exact(cols.max(1))
            .zip(scale)
            .flat_map(|(row, &s)| row.iter().map(move |&v| f32::from(v) * s))
            .collect();
        Self::new(&w, rows, cols, params, precision, guards)
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
        }
    }

    /// Bytes of the master copy, the int8 copy and scales, and the learning buffers.
    pub fn memory_bytes(&self) -> usize {
        let master = match &self.master {
            Master::F32(w) => w.len() * 4,
            Master::F16(w) => w.len() * 2,
        };
        let buffers =
            (self.block.len() + self.touched.len() + self.row.len() + self.currents.len()) * 4;
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

    fn requantize(&mut self, mu: usize) {
        let mut row = core::mem::take(&mut self.row);
        self.master_row(mu, &mut row);
        let span = mu * self.cols..(mu + 1) * self.cols;
        self.scale[mu] = quantize_vector(&row, &mut self.q[span]);
        self.row = row;
    }

    /// One learning step on the preprocessed input `v` with learning rate `eps` (clamped to
    /// `0..=guards.eps_max`): currents from the master copy, ranking, the Krotov update of the
    /// winner's and k-th unit's rows, guards, write-back and re-quantization of those rows.
    pub fn learn(&mut self, v: &[f32], eps: f32) -> Result<StepOutcome> {
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
        if eps == 0.0 || v.iter().all(|&x| x == 0.0) {
            return Ok(StepOutcome::Skipped);
        }
        let p = self.params.p;
        let cols = self.cols;
        // Currents I = sign(W)|W|^(p-1) v, a block of rows at a time: the block is converted
        // from the master, powered, and multiplied by the fastest matvec kernel while it is
        // still in cache.
        let mut block = core::mem::take(&mut self.block);
        let block_rows = block.len() / cols.max(1);
        for start in (0..self.rows).step_by(block_rows.max(1)) {
            let end = (start + block_rows).min(self.rows);
            let chunk = &mut block[..(end - start) * cols];
            let span = start * cols..end * cols;
            match &self.master {
                Master::F32(w) => chunk.copy_from_slice(&w[span]),
                Master::F16(w) => w[span].convert_to_f32_slice(chunk),
            }
            if p != 2.0 {
                chunk.iter_mut().for_each(|w| *w = lebesgue_weight(*w, p));
            }
            self.kernels
                .matvec_f32(chunk, v, &mut self.currents[start..end]);
        }
        self.block = block;
        self.step.clear();
        let winner = self.step.add_sample(v, &self.currents, self.params)?;
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
        for slot in 0..slots {
            let mu = self.step.changed_rows()[slot];
            let src = &self.touched[slot * cols..(slot + 1) * cols];
            match &mut self.master {
                Master::F32(w) => w[mu * cols..(mu + 1) * cols].copy_from_slice(src),
                Master::F16(w) => w[mu * cols..(mu + 1) * cols].convert_from_f32_slice(src),
            }
            self.requantize(mu);
        }
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
    fn f16_master_halves_the_memory_and_tracks_the_f32_one() {
        let w: Vec<f32> = (0..64 * 20)
            .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let params = KrotovParams {
            p: 3.0,
            k: 3,
            delta: 0.4,
        };
        let mut a =
            PlasticLayer::new(&w, 64, 20, params, MasterPrecision::F32, Guards::default()).unwrap();
        let mut b =
            PlasticLayer::new(&w, 64, 20, params, MasterPrecision::F16, Guards::default()).unwrap();
        assert_eq!(a.memory_bytes() - b.memory_bytes(), 64 * 20 * 2);
        for i in 0..50 {
            let v: Vec<f32> = (0..20)
                .map(|j| ((i * 31 + j * 17) % 11) as f32 / 10.0)
                .collect();
            a.learn(&v, 0.02).unwrap();
            b.learn(&v, 0.02).unwrap();
        }
        let (mut ra, mut rb) = ([0.0; 20], [0.0; 20]);
        let mut worst = 0.0f32;
        for mu in 0..64 {
            a.master_row(mu, &mut ra);
            b.master_row(mu, &mut rb);
            for (x, y) in ra.iter().zip(&rb) {
                worst = worst.max((x - y).abs());
            }
        }
        assert!(worst < 0.02, "f16 master drifted by {worst}");
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
