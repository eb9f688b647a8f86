//! What the device learns while it runs: `--adapt off|unsupervised|labels:RATE`.
//!
//! Why three modes: they are the three devices worth comparing on one stream. `off` is the
//! shipped model, frozen. `unsupervised` lets the Krotov layer follow the camera from the frames
//! alone (no one labels anything on a deployed device). `labels:RATE` adds what a user gives now
//! and then: on a fraction RATE of the labelled frames (a button press saying "this was a 7"),
//! drawn from a seeded stream so a run replays exactly, the readout takes one delta-rule step and
//! the Krotov layer one supervised step (`--label-eps`). A model without a Krotov layer learns
//! only in `labels:RATE`, through its readout (`plastic_runtime::AdaptiveReadout`).

/// How the device adapts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AdaptMode {
    /// Inference only.
    Off,
    /// A Krotov step on every frame.
    Unsupervised,
    /// A Krotov step on every frame, and a readout step and a supervised Krotov step on this
    /// fraction of labelled frames.
    Labels(f32),
}

impl AdaptMode {
    /// Whether the device changes its weights in this mode.
    pub fn learns(self) -> bool {
        self != AdaptMode::Off
    }

    /// Fraction of labelled frames that get a label step.
    pub fn label_rate(self) -> f32 {
        match self {
            AdaptMode::Labels(rate) => rate,
            _ => 0.0,
        }
    }
}

impl std::fmt::Display for AdaptMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdaptMode::Off => f.write_str("off"),
            AdaptMode::Unsupervised => f.write_str("unsupervised"),
            AdaptMode::Labels(rate) => write!(f, "labels:{rate}"),
        }
    }
}

/// Parses `off`, `unsupervised` or `labels:RATE` (RATE a fraction in 0..=1).
pub fn parse_adapt(text: &str) -> Result<AdaptMode, String> {
    match text {
        "off" => Ok(AdaptMode::Off),
        "unsupervised" => Ok(AdaptMode::Unsupervised),
        _ => {
            let rate = text
                .strip_prefix("labels:")
                .and_then(|r| r.parse::<f32>().ok())
                .filter(|r| (0.0..=1.0).contains(r));
            rate.map(AdaptMode::Labels).ok_or_else(|| {
                format!(
                    "`{text}` is not an adaptation mode: use off, unsupervised or labels:RATE \
                     with RATE a fraction of labelled frames in 0..1 (labels:0.05)"
                )
            })
        }
    }
}

/// A learning rate: finite and not negative.
pub fn parse_rate(text: &str) -> Result<f32, String> {
    text.parse::<f32>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a learning rate (a number >= 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_back() {
        for text in ["off", "unsupervised", "labels:0.05", "labels:1"] {
            assert_eq!(parse_adapt(text).unwrap().to_string(), text);
        }
        assert_eq!(parse_adapt("labels:0.05").unwrap().label_rate(), 0.05);
        assert!(!AdaptMode::Off.learns() && AdaptMode::Unsupervised.learns());
        for bad in [
            "on",
            "labels",
            "labels:",
            "labels:1.5",
            "labels:-0.1",
            "labels:nan",
        ] {
            let err = parse_adapt(bad).unwrap_err();
            assert!(err.contains("labels:RATE"), "{err}");
        }
        assert_eq!(parse_rate("0.01").unwrap(), 0.01);
        assert!(parse_rate("-1").is_err() && parse_rate("inf").is_err());
    }
}
