//! A memory of the latest labelled frames' readout inputs, replayed a few at each new label.
//!
//! Why: a label on 5 % of frames is about one label per class every 200 frames, and one
//! delta-rule step per label moves a trained readout little. Replaying stored labelled codes
//! after each label's own step is experience replay (Lin 1992; in streaming classifiers,
//! REMIND, Hayes et al. 2020): each label keeps teaching for as long as it is in the memory,
//! so a readout learns from few labels nearly what a refit on all of them would, with the same
//! local step. The codes are stored in int8 with one scale each (what the runtime's kernels
//! read anyway): 200 codes of 2304 features are 460 KB.

use alloc::vec;
use alloc::vec::Vec;

use crate::quant::quantize_vector;
use crate::rng::SplitMix64;

/// Labelled frames a memory holds by default.
pub const DEFAULT_REPLAY_CAPACITY: usize = 200;
/// Stored frames replayed after each label's own step, by default.
pub const DEFAULT_REPLAY_PER_LABEL: usize = 10;
/// Seed of the draws (a run replays exactly).
const REPLAY_SEED: u64 = 0x5eed;

/// Ring buffer of `(code, label)` pairs and the generator that draws from it.
#[derive(Debug, Clone)]
pub struct ReplayMemory {
    dim: usize,
    codes: Vec<i8>,
    scales: Vec<f32>,
    labels: Vec<usize>,
    /// A drawn code, dequantized.
    scratch: Vec<f32>,
    capacity: usize,
    per_label: usize,
    next: usize,
    rng: SplitMix64,
}

impl ReplayMemory {
    /// An empty memory of codes `dim` long: at most `capacity` of them, `per_label` drawn per
    /// label. Nothing is allocated for the codes until they arrive.
    pub fn new(dim: usize, capacity: usize, per_label: usize) -> Self {
        Self {
            dim,
            codes: Vec::new(),
            scales: Vec::new(),
            labels: Vec::new(),
            scratch: vec![0.0; dim],
            capacity,
            per_label,
            next: 0,
            rng: SplitMix64::new(REPLAY_SEED),
        }
    }

    /// Draws per label (0 when the memory is off).
    pub fn per_label(&self) -> usize {
        if self.capacity == 0 {
            0
        } else {
            self.per_label
        }
    }

    /// Bytes it holds when full.
    pub fn bytes(&self) -> usize {
        self.capacity * (self.dim + core::mem::size_of::<f32>() + core::mem::size_of::<usize>())
    }

    /// Stores `code` (its length the memory's) with its label, over the oldest when full.
    pub fn push(&mut self, code: &[f32], label: usize) {
        if self.capacity == 0 || code.len() != self.dim {
            return;
        }
        if self.labels.len() < self.capacity {
            self.codes.resize(self.codes.len() + self.dim, 0);
            self.scales.push(0.0);
            self.labels.push(label);
        }
        let slot = &mut self.codes[self.next * self.dim..][..self.dim];
        self.scales[self.next] = quantize_vector(code, slot);
        self.labels[self.next] = label;
        self.next = (self.next + 1) % self.capacity;
    }

    /// A stored code, dequantized, and its label, drawn uniformly; `None` while empty.
    pub fn draw(&mut self) -> Option<(&[f32], usize)> {
        if self.labels.is_empty() {
            return None;
        }
        let j = self.rng.below(self.labels.len());
        let scale = self.scales[j];
        for (v, &q) in self
            .scratch
            .iter_mut()
            .zip(&self.codes[j * self.dim..][..self.dim])
        {
            *v = f32::from(q) * scale;
        }
        Some((&self.scratch, self.labels[j]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_back_as_stored_and_the_oldest_goes_first() {
        let mut m = ReplayMemory::new(2, 2, 1);
        assert!(m.draw().is_none());
        m.push(&[0.0, 1.27], 3);
        let (code, label) = m.draw().unwrap();
        assert_eq!(label, 3);
        assert!(
            (code[0]).abs() < 1e-6 && (code[1] - 1.27).abs() < 1e-6,
            "{code:?}"
        );
        m.push(&[1.0, 0.0], 4);
        m.push(&[-1.0, 0.0], 5);
        let mut seen = [false; 6];
        for _ in 0..50 {
            seen[m.draw().unwrap().1] = true;
        }
        assert_eq!(seen, [false, false, false, false, true, true]);
        assert_eq!(m.bytes(), 2 * (2 + 4 + core::mem::size_of::<usize>()));
    }

    #[test]
    fn a_memory_of_no_capacity_stores_nothing() {
        let mut m = ReplayMemory::new(2, 0, 10);
        m.push(&[1.0, 2.0], 0);
        assert!(m.draw().is_none());
        assert_eq!(m.per_label(), 0);
    }
}
