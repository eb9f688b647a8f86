//! Krotov & Hopfield, "Unsupervised learning by competing hidden units", PNAS 2019.
//!
//! Symbols, as in the paper: `v` is an input vector (length `n`), `W` the `[hidden, n]` weights,
//! row `W_mu` belongs to hidden unit `mu`; `p` is the Lebesgue norm, `k` the rank that gets the
//! anti-Hebbian push of strength `delta`.
//!
//! ```text
//! I_mu   = <W_mu, v>_mu = sum_i sign(W_mu,i) |W_mu,i|^(p-1) v_i         (currents)
//! g(mu)  = 1 for the unit with the largest current, -delta for the unit ranked k-th, else 0
//! ds_mu  = sum_b g_b(mu) v_b - (sum_b g_b(mu) I_b,mu) W_mu             (over a minibatch b)
//! W     += eps * ds / max(|ds|)                                        (max over the matrix)
//! ```
//!
//! The division by the largest entry of `ds` (floored at `1e-30`) comes from Krotov's own code,
//! not the paper: it makes `eps` the largest change of any weight in one step, whatever the
//! batch. Only the rows with a non-zero `g` change — at most two per sample — so [`KrotovStep`]
//! accumulates those rows only, instead of the dense `[hidden, n]` matrix of the reference code.

use alloc::vec;
use alloc::vec::Vec;

use crate::{Error, Result};

pub use plastic_models::MAX_KROTOV_K;

/// Floor of the normaliser `max |ds|`, as in the reference code (`prec`).
pub const PREC: f32 = 1e-30;

/// The rule's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KrotovParams {
    /// Lebesgue norm `p >= 2`.
    pub p: f32,
    /// Rank `k >= 2` of the unit pushed away.
    pub k: usize,
    /// Strength `delta` of the anti-Hebbian push.
    pub delta: f32,
}

/// `sign(w) |w|^(p-1)`: the weight as seen by the `p`-norm inner product.
#[inline]
pub fn lebesgue_weight(w: f32, p: f32) -> f32 {
    if p == 2.0 {
        w
    } else if p == 3.0 {
        w * w.abs()
    } else {
        libm::copysignf(libm::powf(w.abs(), p - 1.0), w)
    }
}

/// Writes `sign(W) |W|^(p-1)` of every entry of `w` into `out`; `currents = out · v` then.
pub fn lebesgue_weights(w: &[f32], p: f32, out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(w) {
        *o = lebesgue_weight(x, p);
    }
}

/// Indices of the unit with the largest current (rank 1) and of the unit ranked `k`-th.
/// Ties keep the lower index first. `k` must be in `2..=currents.len()` and at most
/// [`MAX_KROTOV_K`] (see [`check_rank`]); a `k` outside is clamped into that range, so a
/// caller that skipped the check gets a wrong rank, never a panic.
pub fn rank_winner_and_kth(currents: &[f32], k: usize) -> (usize, usize) {
    let k = k.clamp(1, MAX_KROTOV_K.min(currents.len()).max(1));
    // The k best so far, best first: an insertion list is faster than a sort for small k.
    let mut best_idx = [0usize; MAX_KROTOV_K];
    let mut best_val = [f32::NEG_INFINITY; MAX_KROTOV_K];
    let mut filled = 0;
    for (mu, &value) in currents.iter().enumerate() {
        if filled == k && value <= best_val[k - 1] {
            continue;
        }
        let mut pos = filled.min(k - 1);
        while pos > 0 && best_val[pos - 1] < value {
            best_val[pos] = best_val[pos - 1];
            best_idx[pos] = best_idx[pos - 1];
            pos -= 1;
        }
        best_val[pos] = value;
        best_idx[pos] = mu;
        filled = (filled + 1).min(k);
    }
    (best_idx[0], best_idx[k - 1])
}

/// Checks that rank `k` fits a layer of `hidden` units and the ranking's buffer:
/// `2 <= k <= min(hidden, MAX_KROTOV_K)`, the bound the spec check applies too.
pub fn check_rank(k: usize, hidden: usize) -> Result<()> {
    let most = hidden.min(MAX_KROTOV_K);
    if (2..=most).contains(&k) {
        Ok(())
    } else {
        Err(Error::KrotovRank { k, most })
    }
}

/// One Krotov update, accumulated over a minibatch in the rows it touches only.
///
/// Buffers are sized at construction (`2 * max_batch` rows), so accumulating and applying a
/// step allocates nothing: the same type serves the trainer's minibatches and the device's
/// one-frame steps.
#[derive(Debug, Clone)]
pub struct KrotovStep {
    n: usize,
    /// Slot of each hidden unit in `ds`, or `u32::MAX` when the row is untouched.
    slot_of: Vec<u32>,
    rows: Vec<usize>,
    /// `sum_b g_b(mu) v_b`, then `ds_mu`, one slot per touched row.
    ds: Vec<f32>,
    /// `sum_b g_b(mu) I_b,mu` per slot.
    coef: Vec<f32>,
    samples: usize,
    max_batch: usize,
}

impl KrotovStep {
    /// A step for a `[hidden, n]` layer that takes up to `max_batch` samples.
    pub fn new(hidden: usize, n: usize, max_batch: usize) -> Self {
        let slots = (2 * max_batch).min(hidden);
        Self {
            n,
            slot_of: vec![u32::MAX; hidden],
            rows: Vec::with_capacity(slots),
            ds: vec![0.0; slots * n],
            coef: vec![0.0; slots],
            samples: 0,
            max_batch,
        }
    }

    /// The rows touched since the last [`KrotovStep::clear`].
    pub fn changed_rows(&self) -> &[usize] {
        &self.rows
    }

    /// Forgets the accumulated step.
    pub fn clear(&mut self) {
        for &mu in &self.rows {
            self.slot_of[mu] = u32::MAX;
        }
        self.rows.clear();
        self.samples = 0;
    }

    /// Adds `g v` and `g I` of one sample to row `mu`.
    fn accumulate(&mut self, mu: usize, g: f32, v: &[f32], current: f32) {
        let slot = match self.slot_of[mu] {
            u32::MAX => {
                let slot = self.rows.len();
                self.slot_of[mu] = slot as u32;
                self.rows.push(mu);
                self.ds[slot * self.n..(slot + 1) * self.n].fill(0.0);
                self.coef[slot] = 0.0;
                slot
            }
            s => s as usize,
        };
        for (d, &x) in self.ds[slot * self.n..(slot + 1) * self.n]
            .iter_mut()
            .zip(v)
        {
            *d += g * x;
        }
        self.coef[slot] += g * current;
    }

    /// Ranks the hidden units for input `v` by its `currents` and accumulates the sample's
    /// `g` into the step. Returns the winner.
    pub fn add_sample(
        &mut self,
        v: &[f32],
        currents: &[f32],
        params: KrotovParams,
    ) -> Result<usize> {
        if v.len() != self.n {
            return Err(Error::WrongLength {
                what: "Krotov input",
                expected: self.n,
                found: v.len(),
            });
        }
        if currents.len() != self.slot_of.len() {
            return Err(Error::WrongLength {
                what: "Krotov currents",
                expected: self.slot_of.len(),
                found: currents.len(),
            });
        }
        check_rank(params.k, currents.len())?;
        let (winner, kth) = rank_winner_and_kth(currents, params.k);
        self.add_ranked(v, currents, (winner, kth), params.delta)?;
        Ok(winner)
    }

    /// Like [`KrotovStep::add_sample`] with the ranking already done (by
    /// [`rank_winner_and_kth`], e.g. for many samples in parallel).
    pub fn add_ranked(
        &mut self,
        v: &[f32],
        currents: &[f32],
        (winner, kth): (usize, usize),
        delta: f32,
    ) -> Result<()> {
        if self.samples == self.max_batch {
            return Err(Error::WrongLength {
                what: "Krotov minibatch",
                expected: self.max_batch,
                found: self.max_batch + 1,
            });
        }
        if v.len() != self.n || winner.max(kth) >= currents.len() {
            return Err(Error::WrongLength {
                what: "Krotov input",
                expected: self.n,
                found: v.len(),
            });
        }
        self.samples += 1;
        self.accumulate(winner, 1.0, v, currents[winner]);
        self.accumulate(kth, -delta, v, currents[kth]);
        Ok(())
    }

    /// Applies `W += eps * ds / max(|ds|)` to the touched rows of the row-major `[hidden, n]`
    /// weights `w` and returns `max(|ds|)`. The step stays readable through
    /// [`KrotovStep::changed_rows`] until [`KrotovStep::clear`].
    pub fn apply(&mut self, w: &mut [f32], eps: f32) -> f32 {
        let n = self.n;
        let rows = core::mem::take(&mut self.rows);
        let max_abs =
            self.finish_ds_slots(rows.len(), |slot| &w[rows[slot] * n..(rows[slot] + 1) * n]);
        let scale = eps / max_abs.max(PREC);
        for (slot, &mu) in rows.iter().enumerate() {
            add_scaled(
                &mut w[mu * n..(mu + 1) * n],
                &self.ds[slot * n..(slot + 1) * n],
                scale,
            );
        }
        self.rows = rows;
        max_abs
    }

    /// Like [`KrotovStep::apply`] on a compact copy of the touched rows: `rows` holds `W_mu`
    /// for `mu = changed_rows()[slot]` at `slot * n`. Lets a caller keep its master weights in
    /// another precision and convert only these rows.
    pub fn apply_compact(&mut self, rows: &mut [f32], eps: f32) -> f32 {
        let n = self.n;
        let slots = self.rows.len();
        let max_abs = self.finish_ds_slots(slots, |slot| &rows[slot * n..(slot + 1) * n]);
        let scale = eps / max_abs.max(PREC);
        for (slot, dst) in rows.chunks_exact_mut(n).take(slots).enumerate() {
            add_scaled(dst, &self.ds[slot * n..(slot + 1) * n], scale);
        }
        max_abs
    }

    /// Turns the accumulated `sum g v` of the first `slots` slots into
    /// `ds_mu = sum g v - (sum g I) W_mu` (`row(slot)` gives `W_mu`) and returns `max |ds|`.
    fn finish_ds_slots<'a>(&mut self, slots: usize, row: impl Fn(usize) -> &'a [f32]) -> f32 {
        let n = self.n;
        // Independent lanes of maxima let the compiler vectorise the reduction.
        let mut lane_max = [0.0f32; 16];
        for slot in 0..slots {
            let coef = self.coef[slot];
            let w_mu = row(slot);
            let ds = &mut self.ds[slot * n..(slot + 1) * n];
            for (dc, wc) in ds.chunks_mut(16).zip(w_mu.chunks(16)) {
                for ((d, &wi), m) in dc.iter_mut().zip(wc).zip(lane_max.iter_mut()) {
                    *d -= coef * wi;
                    let a = d.abs();
                    *m = if a > *m { a } else { *m };
                }
            }
        }
        lane_max
            .iter()
            .fold(0.0f32, |m, &v| if v > m { v } else { m })
    }
}

fn add_scaled(w: &mut [f32], ds: &[f32], scale: f32) {
    for (wi, &d) in w.iter_mut().zip(ds) {
        *wi += scale * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::matvec_f32;

    const PARAMS: KrotovParams = KrotovParams {
        p: 3.0,
        k: 2,
        delta: 0.4,
    };

    #[test]
    fn update_on_a_3x4_case_matches_hand_computation() {
        let mut w = [
            0.5, -0.5, 0.0, 1.0, //
            1.0, 0.0, 0.5, 0.0, //
            0.0, 1.0, 0.0, -0.5,
        ];
        let v = [0.5; 4];
        // p = 3: sign(W)|W|^2 = [.25 -.25 0 1 | 1 0 .25 0 | 0 1 0 -.25];
        // I = 0.5 * row sums = [0.5, 0.625, 0.375]: unit 1 wins, unit 0 is ranked 2nd.
        let mut wp = [0.0; 12];
        lebesgue_weights(&w, 3.0, &mut wp);
        let mut currents = [0.0; 3];
        matvec_f32(&wp, &v, &mut currents);
        assert_eq!(currents, [0.5, 0.625, 0.375]);
        let mut step = KrotovStep::new(3, 4, 1);
        assert_eq!(step.add_sample(&v, &currents, PARAMS).unwrap(), 1);
        // ds_1 = v - 0.625 W_1 = [-0.125, 0.5, 0.1875, 0.5]
        // ds_0 = -0.4 v + 0.4 * 0.5 W_0 = [-0.1, -0.3, -0.2, 0.0]; max |ds| = 0.5.
        let max = step.apply(&mut w, 0.1);
        assert_eq!(max, 0.5);
        // W += 0.1 / 0.5 * ds
        let expected = [
            0.48, -0.56, -0.04, 1.0, //
            0.975, 0.1, 0.5375, 0.1, //
            0.0, 1.0, 0.0, -0.5,
        ];
        for (a, b) in w.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
        let mut rows = step.changed_rows().to_vec();
        rows.sort();
        assert_eq!(rows, [0, 1]);
    }

    #[test]
    fn a_unit_hit_twice_in_a_batch_accumulates_both_terms() {
        // Two samples, same winner: ds_w = v1 + v2 - (I1 + I2) W_w.
        let mut w = [1.0, 0.0, 0.0, 1.0, 0.1, 0.1];
        let mut step = KrotovStep::new(3, 2, 2);
        let (v1, v2) = ([1.0, 0.0], [0.5, 0.0]);
        step.add_sample(&v1, &[1.0, 0.0, 0.1], PARAMS).unwrap();
        step.add_sample(&v2, &[0.5, 0.0, 0.05], PARAMS).unwrap();
        // winner 0: ds_0 = [1.5, 0] - 1.5 * [1, 0] = [0, 0]
        // 2nd (unit 2): ds_2 = -0.4 [1.5, 0] + 0.4 * 0.15 * [0.1, 0.1] = [-0.594, 0.006]
        step.apply(&mut w, 1.0);
        assert_eq!(&w[..2], &[1.0, 0.0]);
        assert!((w[4] - (0.1 - 1.0)).abs() < 1e-6);
        assert!((w[5] - (0.1 + 0.006 / 0.594)).abs() < 1e-6);
    }

    #[test]
    fn ranking_finds_winner_and_kth_with_ties_to_lower_index() {
        let c = [0.1, 0.9, 0.5, 0.9, -1.0, 0.7];
        assert_eq!(rank_winner_and_kth(&c, 2), (1, 3));
        assert_eq!(rank_winner_and_kth(&c, 3), (1, 5));
        assert_eq!(rank_winner_and_kth(&c, 6), (1, 4));
    }

    /// k = 33 with 64 hidden units passed the spec check and overran the ranking's buffer at
    /// the device's first learning step.
    #[test]
    fn a_rank_beyond_the_buffer_is_an_error_not_a_panic() {
        let currents: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let v = [1.0];
        let params = KrotovParams {
            k: MAX_KROTOV_K + 1,
            ..PARAMS
        };
        let mut step = KrotovStep::new(64, 1, 1);
        assert!(matches!(
            step.add_sample(&v, &currents, params),
            Err(Error::KrotovRank { k: 33, most: 32 })
        ));
        // Ranked directly, the rank is clamped to the buffer.
        assert_eq!(rank_winner_and_kth(&currents, 33), (63, 32));
        assert_eq!(rank_winner_and_kth(&currents, usize::MAX), (63, 32));
        assert_eq!(rank_winner_and_kth(&currents[..1], 7), (0, 0));
        assert_eq!(rank_winner_and_kth(&[], 7), (0, 0));
        assert!(check_rank(MAX_KROTOV_K, 64).is_ok());
        assert!(check_rank(3, 2).is_err());
    }

    #[test]
    fn general_p_matches_the_power_formula() {
        assert!((lebesgue_weight(-0.5, 4.5) + 0.5f32.powf(3.5)).abs() < 1e-7);
        assert_eq!(lebesgue_weight(-0.5, 3.0), -0.25);
    }

    #[test]
    fn overfull_batch_is_an_error() {
        let mut step = KrotovStep::new(3, 1, 1);
        step.add_sample(&[1.0], &[1.0, 0.0, 0.0], PARAMS).unwrap();
        assert!(step.add_sample(&[1.0], &[1.0, 0.0, 0.0], PARAMS).is_err());
        step.clear();
        assert!(step.add_sample(&[1.0], &[1.0, 0.0, 0.0], PARAMS).is_ok());
    }
}
