//! The models the trainer makes, as a type: which trainer runs a model, and what its family
//! implies, is decided by matching on [`ModelKind`] rather than on prefixes of its name.

use std::fmt;

use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::mlp::Feedback;

/// One of the models `plastic-train` and `plastic compare` train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// `krotov`: a Krotov-Hopfield layer under a power/tanh readout.
    Krotov,
    /// `krotov-linear`: a Krotov-Hopfield layer under a linear readout.
    KrotovLinear,
    /// `mlp-bp`: an MLP trained by backpropagation.
    MlpBp,
    /// `mlp-fa`: an MLP trained by feedback alignment.
    MlpFa,
    /// `mlp-dfa`: an MLP trained by direct feedback alignment.
    MlpDfa,
    /// `mlp-ss`: an MLP trained by sign symmetry.
    MlpSs,
    /// `hebbnet`: Hebbian layers under a linear stack.
    HebbNet,
    /// `cnn`: a CNN trained by backpropagation.
    Cnn,
    /// `cnn-fa`: a CNN's convolutions frozen under a head trained by feedback alignment.
    CnnFa,
    /// `softhebb`: convolutions learned by SoftHebb's soft winner-take-all rule under a
    /// linear readout.
    SoftHebb,
}

impl ModelKind {
    /// Every model, in the comparison's order.
    pub const ALL: [ModelKind; 10] = [
        Self::Krotov,
        Self::KrotovLinear,
        Self::MlpBp,
        Self::MlpFa,
        Self::MlpDfa,
        Self::MlpSs,
        Self::HebbNet,
        Self::Cnn,
        Self::CnnFa,
        Self::SoftHebb,
    ];

    /// The model's name on the command line and in presets (`krotov`, `mlp-fa`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Krotov => "krotov",
            Self::KrotovLinear => "krotov-linear",
            Self::MlpBp => "mlp-bp",
            Self::MlpFa => "mlp-fa",
            Self::MlpDfa => "mlp-dfa",
            Self::MlpSs => "mlp-ss",
            Self::HebbNet => "hebbnet",
            Self::Cnn => "cnn",
            Self::CnnFa => "cnn-fa",
            Self::SoftHebb => "softhebb",
        }
    }

    /// The model named `name` exactly; `None` for a name that is none of [`Self::ALL`]'s.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// A command-line parser that accepts exactly the models' names (a wrong one is a usage
    /// error listing them, as with any clap choice) and gives the model.
    pub fn value_parser() -> impl TypedValueParser<Value = Self> {
        PossibleValuesParser::new(MODEL_NAMES)
            .map(|name| Self::from_name(&name).expect("the parser offers only the models' names"))
    }

    /// A Krotov-Hopfield layer under a readout (`krotov`, `krotov-linear`).
    pub fn is_krotov(self) -> bool {
        matches!(self, Self::Krotov | Self::KrotovLinear)
    }

    /// A multilayer perceptron (`mlp-*`).
    pub fn is_mlp(self) -> bool {
        self.feedback().is_some()
    }

    /// A convolutional network (`cnn`, `cnn-fa`).
    pub fn is_cnn(self) -> bool {
        matches!(self, Self::Cnn | Self::CnnFa)
    }

    /// How an MLP's error reaches its hidden layers; `None` for the other families.
    pub fn feedback(self) -> Option<Feedback> {
        match self {
            Self::MlpBp => Some(Feedback::Backprop),
            Self::MlpFa => Some(Feedback::Alignment),
            Self::MlpDfa => Some(Feedback::Direct),
            Self::MlpSs => Some(Feedback::SignSymmetry),
            _ => None,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The models' names, in [`ModelKind::ALL`]'s order.
pub const MODEL_NAMES: [&str; 10] = {
    let mut names = [""; 10];
    let mut i = 0;
    while i < names.len() {
        names[i] = ModelKind::ALL[i].name();
        i += 1;
    }
    names
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_families_partition_the_models() {
        for m in ModelKind::ALL {
            assert_eq!(ModelKind::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
            let families = [
                m.is_krotov(),
                m.is_mlp(),
                m.is_cnn(),
                m == ModelKind::HebbNet,
                m == ModelKind::SoftHebb,
            ];
            assert_eq!(families.iter().filter(|&&f| f).count(), 1, "{m}");
            assert_eq!(m.is_mlp(), m.name().starts_with("mlp-"), "{m}");
            assert_eq!(m.is_krotov(), m.name().starts_with("krotov"), "{m}");
            assert_eq!(m.is_cnn(), m.name().starts_with("cnn"), "{m}");
        }
        assert_eq!(ModelKind::from_name("mlp"), None);
        assert_eq!(ModelKind::from_name("Krotov"), None);
        assert_eq!(
            MODEL_NAMES,
            [
                "krotov",
                "krotov-linear",
                "mlp-bp",
                "mlp-fa",
                "mlp-dfa",
                "mlp-ss",
                "hebbnet",
                "cnn",
                "cnn-fa",
                "softhebb"
            ]
        );
    }
}
