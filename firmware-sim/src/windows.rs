//! Accuracy per window of the stream: before the shift, just after it, at the end.
//!
//! Why windows: one accuracy over a drifting stream hides what matters, how far the shift
//! knocks the device down and how much it gets back. The loop logs one bit "labelled" and one
//! bit "correct" per frame (16 KiB per million frames), so a window can be any range, also for
//! a source whose length is only known when it ends (a folder with undecodable files, a pipe).

use std::ops::Range;

/// Frames after the shift that the `after_shift` window covers at most.
pub const AFTER_SHIFT_FRAMES: u64 = 2000;

/// Per-frame outcomes, two bits a frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    labelled: Vec<u64>,
    correct: Vec<u64>,
    len: u64,
}

impl Outcomes {
    /// Room for `frames` frames without growing (the loop should not allocate).
    pub fn with_capacity(frames: u64) -> Self {
        let words = usize::try_from(frames.div_ceil(64))
            .unwrap_or(0)
            .min(1 << 20);
        Self {
            labelled: Vec::with_capacity(words),
            correct: Vec::with_capacity(words),
            len: 0,
        }
    }

    /// Logs the next frame: `None` when its label is unknown, else whether it was right.
    pub fn push(&mut self, correct: Option<bool>) {
        let (word, bit) = ((self.len / 64) as usize, self.len % 64);
        if bit == 0 {
            self.labelled.push(0);
            self.correct.push(0);
        }
        if let Some(right) = correct {
            self.labelled[word] |= 1 << bit;
            self.correct[word] |= u64::from(right) << bit;
        }
        self.len += 1;
    }

    /// Frames logged.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Labelled and correct frames in `range` (clipped to the frames logged).
    pub fn count(&self, range: Range<u64>) -> (u64, u64) {
        let (mut labelled, mut correct) = (0, 0);
        for i in range.start..range.end.min(self.len) {
            let (word, bit) = ((i / 64) as usize, i % 64);
            labelled += (self.labelled[word] >> bit) & 1;
            correct += (self.correct[word] >> bit) & 1;
        }
        (labelled, correct)
    }

    /// Accuracy over the labelled frames of `range`; `None` when it has none.
    pub fn accuracy(&self, range: Range<u64>) -> Option<f64> {
        let (labelled, correct) = self.count(range);
        (labelled > 0).then(|| correct as f64 / labelled as f64)
    }
}

/// The three windows of a run of `frames` frames, given the source's shift (0-based frame
/// ranges; `None` where a window does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRanges {
    /// Every frame before the shift (the whole run when there is no shift).
    pub before_shift: Range<u64>,
    /// The first [`AFTER_SHIFT_FRAMES`] frames of the shift (fewer if it is shorter).
    pub after_shift: Option<Range<u64>>,
    /// The second half of `after_shift`: where a learning device has had
    /// [`AFTER_SHIFT_FRAMES`]` / 2` frames to adapt (what it "won back" is measured here).
    pub late_shift: Option<Range<u64>>,
    /// Every frame after the shift ended, when the run goes on past it: the original view
    /// again (what a learning device forgot is measured here).
    pub after_return: Option<Range<u64>>,
    /// The last quarter of the run.
    pub end: Range<u64>,
}

impl WindowRanges {
    /// The windows of a run of `frames` frames with the given shift.
    pub fn new(frames: u64, shift: Option<&Range<u64>>) -> Self {
        let before_end = shift.map_or(frames, |s| s.start.min(frames));
        let after_shift = shift.map(|s| {
            let start = s.start.min(frames);
            start
                ..s.start
                    .saturating_add(AFTER_SHIFT_FRAMES)
                    .min(s.end)
                    .min(frames)
        });
        let late_shift = after_shift.as_ref().map(|r| {
            let start = r.start.saturating_add(AFTER_SHIFT_FRAMES / 2).min(r.end);
            start..r.end
        });
        let after_return = shift
            .filter(|s| s.end < frames)
            .map(|s| s.end.max(before_end)..frames);
        Self {
            before_shift: 0..before_end,
            after_shift,
            late_shift,
            after_return,
            end: frames - frames.div_ceil(4)..frames,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_range_across_words() {
        let mut o = Outcomes::with_capacity(200);
        for i in 0..200u64 {
            // Every third frame unlabelled; of the rest, even frames right.
            o.push((i % 3 != 0).then_some(i % 2 == 0));
        }
        assert_eq!(o.len(), 200);
        let (labelled, correct) = o.count(0..200);
        assert_eq!(labelled, (0..200).filter(|i| i % 3 != 0).count() as u64);
        assert_eq!(
            correct,
            (0..200).filter(|i| i % 3 != 0 && i % 2 == 0).count() as u64
        );
        assert_eq!(o.count(60..70), (6, 3)); // 61 62 64 65 67 68; right: 62 64 68
        assert_eq!(o.accuracy(0..1), None);
        assert_eq!(o.count(190..500), o.count(190..200));
    }

    #[test]
    fn windows_follow_the_shift() {
        let w = WindowRanges::new(4000, Some(&(2000..4000)));
        assert_eq!(w.before_shift, 0..2000);
        assert_eq!(w.after_shift, Some(2000..4000));
        assert_eq!(w.end, 3000..4000);
        assert_eq!((w.late_shift, w.after_return), (Some(3000..4000), None));
        let w = WindowRanges::new(9000, Some(&(3000..6000)));
        assert_eq!(w.after_shift, Some(3000..5000));
        assert_eq!(w.late_shift, Some(4000..5000));
        assert_eq!(w.after_return, Some(6000..9000));
        assert_eq!(w.end, 6750..9000);
        let w = WindowRanges::new(10, None);
        assert_eq!((w.before_shift, w.after_shift, w.end), (0..10, None, 7..10));
        assert_eq!((w.late_shift, w.after_return), (None, None));
        // A short shift: the late window is what is left of it.
        let w = WindowRanges::new(1000, Some(&(100..600)));
        assert_eq!(w.late_shift, Some(600..600));
        // A run stopped before its shift: the after-shift window is empty.
        let w = WindowRanges::new(100, Some(&(2000..4000)));
        assert_eq!(w.after_shift, Some(100..100));
    }
}
