//! What a user would do instead of the device's own learning, measured on the same frames:
//! `--baseline slda:RATE` and `--baseline refit:RATE`.
//!
//! Why here: the device's rule is only worth its complexity if it beats the simple things a
//! user tries first with the same labels. Both baselines read the shipped model's hidden code
//! (the Krotov layer frozen, no drift correction, no anchor) and get a label on the same frames
//! as `--adapt labels:RATE` would (the same seeded button stream):
//!
//! - `slda`: a streaming linear discriminant (Hayes & Kanan 2020, "Deep SLDA"): one running
//!   mean per class and one shared covariance, updated per label, no backprop; it answers
//!   `argmax_c (w_c . h + b_c)` with `W = Lambda mu`, `b_c = -mu_c . Lambda mu_c / 2` and
//!   `Lambda = ((1 - s) Sigma + s (tr Sigma / d) I)^-1` (shrinkage `s`). The means count at most
//!   [`SLDA_MEAN_CAP`] labels, so that a class's mean follows a new view.
//! - `refit`: the readout fitted again to every labelled frame so far, by ridge regression of
//!   the readout's targets (+1 for the label, -1 for the others) on the hidden code.
//!
//! A baseline has no training data on the device, so it starts as Deep SLDA's base
//! initialisation would, from the original view: over the first 1000 frames it learns the
//! shipped readout's answers (right on 93 % of them), then the labels. Until it can answer
//! (every class seen once for `slda`, [`REFIT_MIN_LABELS`] codes for `refit`) the shipped
//! readout answers. Both refit their weights every
//! [`REFIT_EVERY`] labels (a dense solve in the code's dimension: milliseconds for 400 units).
//! They are measuring instruments for the simulator, not part of the runtime: they store
//! codes or a covariance a microcontroller could not hold.

use std::str::FromStr;

/// Labels between two solves of a baseline's weights.
pub const REFIT_EVERY: u64 = 10;
/// Labels `refit` needs before it answers.
pub const REFIT_MIN_LABELS: usize = 20;
/// Labels a class mean of `slda` averages at most (older ones fade).
pub const SLDA_MEAN_CAP: u64 = 50;
/// Shrinkage of `slda`'s covariance toward a multiple of the identity.
pub const SLDA_SHRINKAGE: f64 = 0.5;
/// Ridge of `refit`, relative to the codes' mean squared norm per unit.
pub const REFIT_RIDGE: f64 = 0.1;
/// Labelled codes `refit` keeps at most (the oldest go first).
pub const REFIT_CAPACITY: usize = 4000;

/// Which baseline, and on which fraction of labelled frames it gets a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineSpec {
    /// The learner.
    pub kind: BaselineKind,
    /// Fraction of labelled frames whose label it learns from.
    pub rate: f32,
}

/// The baseline learners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineKind {
    /// Streaming linear discriminant on the hidden code.
    Slda,
    /// The readout refitted to the labelled frames.
    Refit,
}

impl FromStr for BaselineSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a baseline: use slda:RATE or refit:RATE with RATE a fraction of \
                 labelled frames in 0..1 (slda:0.05)"
            )
        };
        let (kind, rate) = text.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "slda" => BaselineKind::Slda,
            "refit" => BaselineKind::Refit,
            _ => return Err(bad()),
        };
        let rate = rate
            .parse::<f32>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(bad)?;
        Ok(Self { kind, rate })
    }
}

impl std::fmt::Display for BaselineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            BaselineKind::Slda => "slda",
            BaselineKind::Refit => "refit",
        };
        write!(f, "{kind}:{}", self.rate)
    }
}

/// A baseline learner on hidden codes of `dim` units and `classes` classes.
#[derive(Debug, Clone)]
pub struct Baseline {
    kind: BaselineKind,
    dim: usize,
    classes: usize,
    /// `slda`: class means `[classes][dim]` and their label counts.
    means: Vec<f64>,
    counts: Vec<u64>,
    /// `slda`: the shared covariance `[dim][dim]` and the labels it has seen.
    covariance: Vec<f64>,
    seen: u64,
    /// `refit`: the labelled codes and labels kept.
    codes: Vec<Vec<f32>>,
    labels: Vec<usize>,
    /// The fitted weights `[classes][dim + 1]` (the last column is the bias), once fitted.
    weights: Option<Vec<f64>>,
    since_fit: u64,
}

impl Baseline {
    /// A fresh learner.
    pub fn new(kind: BaselineKind, dim: usize, classes: usize) -> Self {
        let slda = kind == BaselineKind::Slda;
        Self {
            kind,
            dim,
            classes,
            means: vec![0.0; if slda { classes * dim } else { 0 }],
            counts: vec![0; classes],
            covariance: vec![0.0; if slda { dim * dim } else { 0 }],
            seen: 0,
            codes: Vec::new(),
            labels: Vec::new(),
            weights: None,
            since_fit: 0,
        }
    }

    /// Learns one labelled code (a code of another width or a label out of range is ignored).
    pub fn learn(&mut self, code: &[f32], label: usize) {
        if code.len() != self.dim || label >= self.classes {
            return;
        }
        match self.kind {
            BaselineKind::Slda => self.learn_slda(code, label),
            BaselineKind::Refit => {
                if self.codes.len() == REFIT_CAPACITY {
                    self.codes.remove(0);
                    self.labels.remove(0);
                }
                self.codes.push(code.to_vec());
                self.labels.push(label);
                self.counts[label] += 1;
            }
        }
        self.since_fit += 1;
        if self.since_fit >= REFIT_EVERY || self.weights.is_none() {
            self.fit();
        }
    }

    fn learn_slda(&mut self, code: &[f32], label: usize) {
        let d = self.dim;
        let mean = &mut self.means[label * d..(label + 1) * d];
        // Covariance first, with the mean before this code (Hayes & Kanan, eq. 3).
        let t = self.seen as f64;
        let delta: Vec<f64> = code
            .iter()
            .zip(mean.iter())
            .map(|(&x, &m)| f64::from(x) - m)
            .collect();
        let scale = if self.counts[label] == 0 {
            0.0
        } else {
            t / (t + 1.0)
        };
        for i in 0..d {
            let row = &mut self.covariance[i * d..(i + 1) * d];
            for (j, c) in row.iter_mut().enumerate() {
                *c = (t * *c + scale * delta[i] * delta[j]) / (t + 1.0);
            }
        }
        self.counts[label] += 1;
        let rate = 1.0 / self.counts[label].min(SLDA_MEAN_CAP) as f64;
        for (m, dx) in mean.iter_mut().zip(&delta) {
            *m += rate * dx;
        }
        self.seen += 1;
    }

    /// Solves for the weights, when there is enough to answer.
    fn fit(&mut self) {
        self.since_fit = 0;
        self.weights = match self.kind {
            BaselineKind::Slda if self.counts.iter().all(|&c| c > 0) => self.fit_slda(),
            BaselineKind::Refit if self.labels.len() >= REFIT_MIN_LABELS => self.fit_refit(),
            _ => None,
        };
    }

    fn fit_slda(&self) -> Option<Vec<f64>> {
        let d = self.dim;
        let trace: f64 = (0..d).map(|i| self.covariance[i * d + i]).sum();
        let ridge = SLDA_SHRINKAGE * (trace / d as f64).max(1e-12);
        let mut a: Vec<f64> = self
            .covariance
            .iter()
            .map(|c| (1.0 - SLDA_SHRINKAGE) * c)
            .collect();
        (0..d).for_each(|i| a[i * d + i] += ridge);
        // Right-hand sides: the class means, one column each.
        let mut b = vec![0.0; d * self.classes];
        for c in 0..self.classes {
            for i in 0..d {
                b[i * self.classes + c] = self.means[c * d + i];
            }
        }
        solve_spd(&mut a, d, &mut b, self.classes)?;
        let mut w = vec![0.0; self.classes * (d + 1)];
        for c in 0..self.classes {
            let mut bias = 0.0;
            for i in 0..d {
                let wi = b[i * self.classes + c];
                w[c * (d + 1) + i] = wi;
                bias += wi * self.means[c * d + i];
            }
            w[c * (d + 1) + d] = -0.5 * bias;
        }
        Some(w)
    }

    fn fit_refit(&self) -> Option<Vec<f64>> {
        let d1 = self.dim + 1;
        let mut a = vec![0.0; d1 * d1];
        let mut b = vec![0.0; d1 * self.classes];
        let mut x = vec![0.0; d1];
        let mut norm = 0.0;
        for (code, &label) in self.codes.iter().zip(&self.labels) {
            for (xi, &c) in x.iter_mut().zip(code) {
                *xi = f64::from(c);
            }
            x[self.dim] = 1.0;
            norm += x[..self.dim].iter().map(|v| v * v).sum::<f64>();
            for i in 0..d1 {
                for j in 0..d1 {
                    a[i * d1 + j] += x[i] * x[j];
                }
                for c in 0..self.classes {
                    b[i * self.classes + c] += x[i] * if c == label { 1.0 } else { -1.0 };
                }
            }
        }
        let ridge = REFIT_RIDGE * (norm / self.dim as f64).max(1e-12);
        (0..d1).for_each(|i| a[i * d1 + i] += ridge);
        solve_spd(&mut a, d1, &mut b, self.classes)?;
        let mut w = vec![0.0; self.classes * d1];
        for c in 0..self.classes {
            for i in 0..d1 {
                w[c * d1 + i] = b[i * self.classes + c];
            }
        }
        Some(w)
    }

    /// The class this baseline answers for `code`; `None` until it can answer.
    pub fn predict(&self, code: &[f32]) -> Option<usize> {
        let w = self.weights.as_ref()?;
        if code.len() != self.dim {
            return None;
        }
        let d1 = self.dim + 1;
        (0..self.classes)
            .map(|c| {
                let row = &w[c * d1..(c + 1) * d1];
                let score = row[self.dim]
                    + row
                        .iter()
                        .zip(code)
                        .map(|(w, &x)| w * f64::from(x))
                        .sum::<f64>();
                (c, score)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c)
    }
}

/// Solves `A X = B` in place for a symmetric positive definite `n x n` matrix `a` (row-major,
/// overwritten by its Cholesky factor) and `m` right-hand sides `b` (`n x m`, row-major,
/// overwritten by `X`); `None` when `A` is not positive definite.
pub fn solve_spd(a: &mut [f64], n: usize, b: &mut [f64], m: usize) -> Option<()> {
    // A = L L^T, L in the lower triangle of `a`.
    for j in 0..n {
        let mut diag = a[j * n + j];
        for k in 0..j {
            diag -= a[j * n + k] * a[j * n + k];
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return None;
        }
        let diag = diag.sqrt();
        a[j * n + j] = diag;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / diag;
        }
    }
    // L Y = B, then L^T X = Y.
    for c in 0..m {
        for i in 0..n {
            let mut v = b[i * m + c];
            for k in 0..i {
                v -= a[i * n + k] * b[k * m + c];
            }
            b[i * m + c] = v / a[i * n + i];
        }
        for i in (0..n).rev() {
            let mut v = b[i * m + c];
            for k in i + 1..n {
                v -= a[k * n + i] * b[k * m + c];
            }
            b[i * m + c] = v / a[i * n + i];
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_hand_system_and_refuses_an_indefinite_one() {
        // [4 2; 2 3] x = [2; 5] -> x = [-0.5, 2].
        let mut a = [4.0, 2.0, 2.0, 3.0];
        let mut b = [2.0, 5.0];
        solve_spd(&mut a, 2, &mut b, 1).unwrap();
        assert!(
            (b[0] + 0.5).abs() < 1e-12 && (b[1] - 2.0).abs() < 1e-12,
            "{b:?}"
        );
        let mut a = [1.0, 2.0, 2.0, 1.0];
        assert!(solve_spd(&mut a, 2, &mut [1.0, 1.0], 1).is_none());
    }

    /// Two well-separated classes in two dimensions: both baselines learn them from labels.
    #[test]
    fn both_baselines_separate_two_clusters_after_a_few_labels() {
        for kind in [BaselineKind::Slda, BaselineKind::Refit] {
            let mut b = Baseline::new(kind, 2, 2);
            assert_eq!(b.predict(&[1.0, 0.0]), None, "nothing learned yet");
            for i in 0..40 {
                let jitter = (i % 5) as f32 * 0.05;
                b.learn(&[1.0 + jitter, 0.1 - jitter], 0);
                b.learn(&[0.1 + jitter, 1.0 - jitter], 1);
            }
            assert_eq!(b.predict(&[0.9, 0.2]), Some(0), "{kind:?}");
            assert_eq!(b.predict(&[0.2, 0.9]), Some(1), "{kind:?}");
            assert_eq!(b.predict(&[0.2]), None);
        }
    }

    #[test]
    fn specs_parse_and_print_back() {
        for text in ["slda:0.05", "refit:1"] {
            assert_eq!(text.parse::<BaselineSpec>().unwrap().to_string(), text);
        }
        for bad in ["slda", "lda:0.1", "refit:2", "slda:x"] {
            assert!(
                bad.parse::<BaselineSpec>()
                    .unwrap_err()
                    .contains("slda:RATE")
            );
        }
    }
}
