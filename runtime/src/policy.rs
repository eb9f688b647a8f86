//! How a learning device learns besides its rules' equations: the corrections of a new view
//! and the convolution's own learning ([`LearningPolicy`]), and the default rates of the Krotov
//! device's steps and how its unsupervised rate settles while nothing drifts
//! ([`crate::drift`]), each with the measurement that chose it.
//!
//! Why here: the firmware simulator, `plastic bench` and any app that embeds the runtime must
//! learn the same way from the same frames. When each host switched these on from its own
//! flags, a host that forgot one (the digit warp, say) ran a device other than the one
//! measured in docs/RESULTS.md. A host now builds a [`LearningPolicy`] (its defaults, or
//! changed by its user) and gives it to the learner, which turns on what applies to it:
//! [`crate::AdaptiveModel::enable_policy`] (a Krotov layer: the hidden code's drift correction,
//! the digit warp) and [`crate::AdaptiveReadout::enable_policy`] (a learning readout: the
//! channel alignment, the digit warp, the convolution's rule).

use crate::adaptive::LabelRates;
use crate::align::DEFAULT_HORIZON_FRAMES;
use crate::channel_stats::DEFAULT_CHANNEL_HORIZON;

/// Rate of the Krotov layer's unsupervised step without labels (`--eps`). Measured on
/// `mnist-return` (seed 0, MNIST test digits): with 0.01 the original camera comes back 1.1
/// points below where it was (3.5 without the hidden code's drift correction), with 0.005 0.6
/// points above it: nothing corrects a unit that wanders off what the readout expects, so the
/// layer moves slowly. With the rate settling as the drift indicator stays quiet it stays above
/// the frozen device over 200,000 frames (docs/RESULTS.md).
pub const DEFAULT_EPS: f32 = 0.005;
/// Rate of the Krotov layer's unsupervised step with labels. The labels re-teach the readout as
/// units move, so the layer may follow a new camera faster. Measured on `mnist-drift` (seeds 0
/// to 5, MNIST test digits, labels on 5 % of frames, with recruits and the drift correction):
/// 0.005 wins back 48 % of the frozen device's drop on average, 0.01 53 %; on `mnist-return`
/// the original camera comes back within 0.7 points (seed 0).
pub const DEFAULT_EPS_WITH_LABELS: f32 = 0.01;
/// Rate of the Krotov device's readout step on a label ([`LabelRates::eta`]). The demo
/// readout's weights are large (its tanh outputs saturate), so a larger step recovers little
/// faster and adds noise: 0.03 costs 0.7 to 1.3 points on the original camera (seeds 0 and 1),
/// 0.1 about 3. A learning readout of another model takes its own normalised step
/// ([`crate::adaptive_readout::DEFAULT_READOUT_RATE`]).
pub const DEFAULT_ETA: f32 = 0.01;
/// Rate of the Krotov layer's supervised step on a label ([`LabelRates::eps`]). Measured on
/// `mnist-drift` (seeds 0 to 5, the MNIST test digits, labels on 5 % of frames): the share of
/// the frozen device's drop won back over the last quarter goes from 28 % on average without
/// the step to 36 % with 0.02 and 38 % with 0.05 (46 % for seed 0), at a cost of 0.5 points
/// before the shift; 0.1 and more overwrite the units they move faster than unlabelled frames
/// refine them (0.2 ends below the frozen device). Those figures predate recruits and the drift
/// correction, which take over much of what the step did: with them it adds 2 points (51 %
/// without it, 53 % with it, mean of seeds 0 to 5).
pub const DEFAULT_LABEL_EPS: f32 = 0.05;

/// Frames without a drift alert after which the Krotov layer's unsupervised rate has halved
/// ([`crate::drift::DriftMonitor::learning_scale`]; `--eps-settle`). Measured on `mnist-drift`
/// over 200,000 frames without labels (shift at mid-run): a constant rate ends 9 points below a
/// frozen device (60.6 % against 69.6 % over the last quarter) and is 3.5 points below it
/// before the shift; settling over 2000 frames ends 6.7 points above it (76.3 %) and loses
/// nothing before the shift (93.0 % against 92.8 %). On 4000-frame runs it costs 0.2 to 0.4
/// points against a constant rate; settling over 500 frames costs 2.
pub const DEFAULT_EPS_SETTLE: u64 = 2000;

/// The Krotov layer's unsupervised rate: [`DEFAULT_EPS_WITH_LABELS`] on a labelled stream,
/// else [`DEFAULT_EPS`].
pub fn default_eps(labelled: bool) -> f32 {
    if labelled {
        DEFAULT_EPS_WITH_LABELS
    } else {
        DEFAULT_EPS
    }
}

impl Default for LabelRates {
    /// The Krotov device's label steps at their defaults, recruiting.
    fn default() -> Self {
        Self {
            eta: DEFAULT_ETA,
            eps: DEFAULT_LABEL_EPS,
            recruit: true,
        }
    }
}

/// Which corrections of a new view a learning device runs, and the convolution's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearningPolicy {
    /// Frames the hidden code's recent mean spans, for a Krotov layer's drift correction (see
    /// [`crate::align`]); 0: no correction.
    pub align_horizon: u32,
    /// Whether framed 28x28 digits are turned and thinned to undo a new view's tilt and pen
    /// (see [`crate::digit_align`]); other models ignore it.
    pub warp_digits: bool,
    /// Frames over which a convolutional front end's input statistics are re-estimated, to
    /// bring its channels back to the reference (see [`crate::channel_stats`]); 0: never.
    pub channel_horizon: u32,
    /// Base rate of the last SoftHebb convolution's own steps (see [`crate::conv_learning`]);
    /// 0: it stays as shipped. Off by default: on the bank of shifts it added nothing at a
    /// safe rate and cost points at a rate that moves the filters (docs/RESULTS.md).
    pub conv_rate: f32,
}

impl Default for LearningPolicy {
    /// Every correction on at its measured horizon; the convolution as shipped.
    fn default() -> Self {
        Self {
            align_horizon: DEFAULT_HORIZON_FRAMES,
            warp_digits: true,
            channel_horizon: DEFAULT_CHANNEL_HORIZON,
            conv_rate: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_turns_every_correction_on_and_leaves_the_convolution_as_shipped() {
        let p = LearningPolicy::default();
        assert_eq!((p.align_horizon, p.channel_horizon), (500, 500));
        assert!(p.warp_digits);
        assert_eq!(p.conv_rate, 0.0);
    }

    #[test]
    fn the_krotov_rates_are_the_measured_ones() {
        assert_eq!((default_eps(false), default_eps(true)), (0.005, 0.01));
        let rates = LabelRates::default();
        assert_eq!((rates.eta, rates.eps, rates.recruit), (0.01, 0.05, true));
    }
}
