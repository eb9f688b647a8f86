//! The scenarios of `synthetic:NAME`: which [`View`] each frame of a stream is seen through.
//!
//! Why a bank: a device that keeps learning must hold on shifts nobody tuned it for, so the
//! simulator carries one scenario per kind of shift a deployed camera meets: the pen (thicker,
//! thinner), the camera's pose (a turn, perspective, distance), the light (dim, uneven, negative),
//! the optics (blur and noise), the framing (a digit that fills the frame), the stream's class
//! mix (one class for a long stretch), and a new task. Each bank scenario plays the original
//! view for the first two fifths of the run, the shifted view for the next two fifths, and the
//! original view again for the last fifth, so one run measures the drop, what learning wins back
//! within 2000 frames, and what it forgot when the original view returns.

use std::ops::Range;

use super::view::View;

/// Frames a bare run of `synthetic:digits` takes from this endless source.
pub const DEFAULT_FRAMES: u64 = 200;
/// Frames a bare run of `mnist-drift`, `mnist-return` or `fashion-after-mnist` takes: enough
/// for a device to adapt after the shift.
pub const DEFAULT_SCENARIO_FRAMES: u64 = 4000;
/// Frames a bare run of a bank scenario takes: 2000 original, 2000 shifted, 1000 original.
pub const DEFAULT_BANK_FRAMES: u64 = 5000;

/// Which view each frame of the stream is seen through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// The original camera throughout: the no-shift control.
    Digits,
    /// The original camera for the first half, [`View::DRIFTED`] for the second.
    MnistDrift,
    /// The original camera, [`View::DRIFTED`] for the middle third, the original again for
    /// the last third.
    MnistReturn,
    /// Digits for the first half, Fashion-MNIST items (same camera) for the second: a new task.
    FashionAfterMnist,
    /// The bank: thicker strokes (a marker instead of a pen).
    ThickPen,
    /// The bank: thinner strokes (a fine pen).
    ThinPen,
    /// The bank: the camera turned 30 degrees the other way from `mnist-drift`, lens sharp.
    Tilt,
    /// The bank: the paper far from the camera, digits a quarter of their usual size.
    Small,
    /// The bank: the camera looks at the paper from below (keystone perspective).
    Perspective,
    /// The bank: a dim room, faint ink, a strong light gradient.
    DimLight,
    /// The bank: a negative image (light ink on dark paper) under a strong light gradient.
    Negative,
    /// The bank: a lens far out of focus and a noisy sensor.
    NoisyBlur,
    /// The bank: digits held close, filling the frame (their margins cut off).
    FillFrame,
    /// The bank: a label shift, 70 % of the frames show one class (8), same camera.
    OneClass,
}

impl Scenario {
    /// The scenarios outside the bank, in the order `--help` lists them.
    pub const FIRST: [Scenario; 4] = [
        Scenario::Digits,
        Scenario::MnistDrift,
        Scenario::MnistReturn,
        Scenario::FashionAfterMnist,
    ];

    /// The bank of shifts: original, shifted, original again.
    pub const BANK: [Scenario; 10] = [
        Scenario::ThickPen,
        Scenario::ThinPen,
        Scenario::Tilt,
        Scenario::Small,
        Scenario::Perspective,
        Scenario::DimLight,
        Scenario::Negative,
        Scenario::NoisyBlur,
        Scenario::FillFrame,
        Scenario::OneClass,
    ];

    /// The name used in `synthetic:NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Digits => "digits",
            Scenario::MnistDrift => "mnist-drift",
            Scenario::MnistReturn => "mnist-return",
            Scenario::FashionAfterMnist => "fashion-after-mnist",
            Scenario::ThickPen => "thick-pen",
            Scenario::ThinPen => "thin-pen",
            Scenario::Tilt => "tilt",
            Scenario::Small => "small",
            Scenario::Perspective => "perspective",
            Scenario::DimLight => "dim-light",
            Scenario::Negative => "negative",
            Scenario::NoisyBlur => "noisy-blur",
            Scenario::FillFrame => "fill-frame",
            Scenario::OneClass => "one-class",
        }
    }

    /// Every scenario, in the order `--help` lists them: [`Scenario::FIRST`], then the bank.
    pub fn all() -> impl Iterator<Item = Scenario> {
        Self::FIRST.into_iter().chain(Self::BANK)
    }

    /// The scenario called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|s| s.name() == name)
    }

    /// Whether this is one of the [`Scenario::BANK`].
    pub fn in_bank(self) -> bool {
        Self::BANK.contains(&self)
    }

    /// Frames a run takes when `--frames` is not given.
    pub fn default_frames(self) -> u64 {
        match self {
            Scenario::Digits => DEFAULT_FRAMES,
            Scenario::MnistDrift | Scenario::MnistReturn | Scenario::FashionAfterMnist => {
                DEFAULT_SCENARIO_FRAMES
            }
            _ => DEFAULT_BANK_FRAMES,
        }
    }

    /// The frames seen through the shifted view (or, for `fashion-after-mnist`, showing the
    /// new task) in a run of `frames` frames.
    pub fn shift(self, frames: u64) -> Option<Range<u64>> {
        match self {
            Scenario::Digits => None,
            Scenario::MnistDrift | Scenario::FashionAfterMnist => Some(frames / 2..frames),
            Scenario::MnistReturn => Some(frames / 3..2 * frames / 3),
            _ => Some(2 * frames / 5..4 * frames / 5),
        }
    }

    /// Whether the shift shows a new task (Fashion-MNIST items) rather than a new view.
    pub fn new_task(self) -> bool {
        self == Scenario::FashionAfterMnist
    }

    /// The view during the shift.
    pub fn shifted_view(self) -> View {
        let original = View::ORIGINAL;
        match self {
            Scenario::Digits | Scenario::FashionAfterMnist => original,
            Scenario::MnistDrift | Scenario::MnistReturn => View::DRIFTED,
            Scenario::ThickPen => View { pen: 1, ..original },
            Scenario::ThinPen => View {
                pen: -1,
                ..original
            },
            Scenario::Tilt => View {
                rotation_deg: -30.0,
                ..original
            },
            Scenario::Small => View {
                scale: (0.6, 0.9),
                ..original
            },
            Scenario::Perspective => View {
                keystone: 0.5,
                ..original
            },
            Scenario::DimLight => View {
                paper: (80.0, 130.0),
                ink: (0.3, 0.45),
                gradient: (60.0, 100.0),
                ..original
            },
            Scenario::Negative => View {
                invert: true,
                gradient: (40.0, 80.0),
                ..original
            },
            Scenario::NoisyBlur => View {
                blur_passes: 4,
                noise_sigma: 20.0,
                ..original
            },
            Scenario::FillFrame => View {
                scale: (5.4, 6.0),
                ..original
            },
            Scenario::OneClass => View {
                favoured: Some((8, 0.7)),
                ..original
            },
        }
    }

    /// One line per scenario, for `--help` and error messages.
    pub fn describe() -> String {
        Self::all()
            .map(|s| format!("synthetic:{}", s.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bank_scenarios_return_to_the_original_view() {
        assert_eq!(Scenario::all().count(), 14);
        for s in Scenario::all() {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
        }
        assert_eq!(Scenario::from_name("cats"), None);
        for s in Scenario::BANK {
            assert!(s.in_bank());
            assert_eq!(s.default_frames(), 5000);
            assert_eq!(s.shift(5000), Some(2000..4000));
            assert_ne!(s.shifted_view(), View::ORIGINAL, "{}", s.name());
        }
        assert!(!Scenario::MnistDrift.in_bank());
        assert_eq!(Scenario::MnistDrift.shift(4000), Some(2000..4000));
        assert_eq!(Scenario::Digits.shift(200), None);
    }
}
