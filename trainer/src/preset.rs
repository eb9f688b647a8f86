//! Experiment presets (`models/presets/*.toml`) parsed into training configurations.

use plastic_runtime::learn::krotov::KrotovParams;
use serde::{Deserialize, Serialize};

use plastic_models::{Activation, Preprocess};

use crate::hebbian::HebbianRule;
use crate::hebbnet::HebbNetConfig;
use crate::krotov::KrotovConfig;
use crate::readout::{Head, ReadoutConfig};
use crate::softhebb_net::{BlockConfig, Pool};
use crate::{Error, Result};

/// A whole experiment: which model, which data, and the settings of each phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Model family, e.g. `krotov` or `krotov-linear`.
    pub model: String,
    /// Dataset the settings were chosen for.
    pub dataset: String,
    /// The unsupervised layer (Krotov models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub krotov: Option<KrotovSection>,
    /// The supervised readout (Krotov models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout: Option<ReadoutSection>,
    /// The network and its optimiser (MLP models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<MlpSection>,
    /// The Hebbian layers, their rule and the linear stack (HebbNet models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hebbnet: Option<HebbNetSection>,
    /// The convolutions and the fully connected head (CNN models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnn: Option<CnnSection>,
    /// The Hebbian convolution blocks and the linear readout (SoftHebb models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub softhebb: Option<SoftHebbSection>,
}

/// `[softhebb]`: the blocks (`[[softhebb.blocks]]`, input first), the unsupervised pass's
/// minibatch, and the linear readout's Adam settings (on cached features of the last block,
/// with dropout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SoftHebbSection {
    pub blocks: Vec<SoftHebbBlockSection>,
    /// Minibatch of the unsupervised pass (one epoch, every block learning).
    pub hebbian_batch: usize,
    /// Fraction of the features dropped per training sample of the readout.
    pub dropout: f64,
    /// Readout epochs.
    pub epochs: usize,
    pub batch: usize,
    pub lr0: f64,
    pub lr_end: f64,
}

/// `[[softhebb.blocks]]`: one block, see [`crate::softhebb_net::BlockConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SoftHebbBlockSection {
    pub channels: usize,
    pub kernel: usize,
    /// Inverse temperature `1 / tau` of the soft winner-take-all.
    pub inv_tau: f64,
    /// Power of the triangle activation.
    pub power: f64,
    /// Base rate of the rule.
    pub lr0: f64,
    /// `max` or `avg`.
    pub pool: String,
    pub pool_size: usize,
    /// Step between pooling windows (max pooling; average pooling steps by its size).
    #[serde(default)]
    pub pool_stride: Option<usize>,
    /// Zeros around the input of max pooling.
    #[serde(default)]
    pub pool_padding: usize,
}

/// `[cnn]`: convolutions (each `relu(max_pool(conv))`, stride 1), the fully connected head's
/// hidden widths, and Adam's settings. `cnn` trains all of it by backprop; `cnn-fa` does so
/// for `epochs`, freezes the convolutions, and trains a fresh head by feedback alignment for
/// another `epochs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CnnSection {
    /// Output channels of each convolution.
    pub channels: Vec<usize>,
    pub kernel: usize,
    pub padding: usize,
    pub pool: usize,
    /// Widths of the head's hidden layers (the classes follow).
    pub hidden: Vec<usize>,
    /// Largest random shift, in pixels, of training images (0: none).
    #[serde(default)]
    pub shift: usize,
    /// Mirror half of the training images left to right (CIFAR-10, not digits).
    #[serde(default)]
    pub flip: bool,
    pub epochs: usize,
    pub batch: usize,
    pub lr0: f64,
    pub lr_end: f64,
}

/// `[hebbnet]`: see [`crate::hebbnet::HebbNetConfig`]. `rule` is `hebb`, `oja` or `gupta`
/// (with `percentile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct HebbNetSection {
    /// Widths of the Hebbian layers after the input.
    pub hebbian: Vec<usize>,
    /// Widths of the hidden linear layers (the classes follow).
    pub linear: Vec<usize>,
    pub rule: String,
    #[serde(default)]
    pub percentile: Option<f64>,
    pub eta: f64,
    pub winners: usize,
    /// Rectified power `n` of what the linear stack sees; none: the plain ReLU output.
    #[serde(default)]
    pub power: Option<f64>,
    pub epochs: usize,
    /// The first epochs, during which the Hebbian layers learn; all of them if absent.
    #[serde(default)]
    pub hebbian_epochs: Option<usize>,
    pub batch: usize,
    pub lr0: f64,
    pub lr_end: f64,
}

/// `[mlp]`: hidden widths and Adam's settings; the feedback comes from the model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MlpSection {
    pub hidden: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
    pub lr0: f64,
    pub lr_end: f64,
}

/// `[krotov]`: see [`KrotovConfig`]. Reals are f64 here so that the provenance JSON shows the
/// values as written (0.4, not 0.4000000059604645).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct KrotovSection {
    pub hidden: usize,
    pub p: f64,
    pub k: usize,
    pub delta: f64,
    pub eps0: f64,
    pub epochs: usize,
    pub batch: usize,
    pub init_std: f64,
    /// Each image's own mean removed before it is made a unit vector
    /// ([`Preprocess::CentredUnitNorm`]); the paper's plain unit vectors if
    /// absent.
    #[serde(default)]
    pub centre: bool,
}

/// `[readout]`: head kind, rectified power `n` of the hidden layer, and Adam's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReadoutSection {
    /// `power-tanh` or `linear`.
    pub head: String,
    pub n: f64,
    #[serde(default)]
    pub m: Option<f64>,
    #[serde(default)]
    pub beta: Option<f64>,
    pub epochs: usize,
    pub batch: usize,
    pub lr0: f64,
    pub lr_end: f64,
}

impl Preset {
    /// A built-in preset by name, or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<Self> {
        let text = match plastic_models::presets::preset(name_or_path) {
            Some(text) => text.to_string(),
            None => std::fs::read_to_string(name_or_path).map_err(|e| Error::Preset {
                name: name_or_path.into(),
                reason: format!(
                    "not a built-in preset ({}) and not a readable file: {e}",
                    Self::names().join(", ")
                ),
            })?,
        };
        Self::parse(name_or_path, &text)
    }

    /// Parses preset TOML and checks its numbers ([`Preset::check`]).
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let preset: Self = toml::from_str(text).map_err(|e| Error::Preset {
            name: name.into(),
            reason: e.to_string(),
        })?;
        preset.numbers_problem().map_err(|reason| Error::Preset {
            name: name.into(),
            reason,
        })?;
        Ok(preset)
    }

    /// Names of the built-in presets.
    pub fn names() -> Vec<&'static str> {
        plastic_models::presets::PRESETS
            .iter()
            .map(|(n, _)| *n)
            .collect()
    }

    fn missing(&self, section: &str) -> Error {
        Error::Preset {
            name: self.model.clone(),
            reason: format!("model `{}` needs a [{section}] section", self.model),
        }
    }

    /// The `[krotov]` section.
    pub fn krotov(&self) -> Result<&KrotovSection> {
        self.krotov.as_ref().ok_or_else(|| self.missing("krotov"))
    }

    /// The `[krotov]` section, to override values.
    pub fn krotov_mut(&mut self) -> Result<&mut KrotovSection> {
        let err = self.missing("krotov");
        self.krotov.as_mut().ok_or(err)
    }

    /// The `[readout]` section.
    pub fn readout(&self) -> Result<&ReadoutSection> {
        self.readout.as_ref().ok_or_else(|| self.missing("readout"))
    }

    /// The `[readout]` section, to override values.
    pub fn readout_mut(&mut self) -> Result<&mut ReadoutSection> {
        let err = self.missing("readout");
        self.readout.as_mut().ok_or(err)
    }

    /// The `[mlp]` section.
    pub fn mlp(&self) -> Result<&MlpSection> {
        self.mlp.as_ref().ok_or_else(|| self.missing("mlp"))
    }

    /// The `[mlp]` section, to override values.
    pub fn mlp_mut(&mut self) -> Result<&mut MlpSection> {
        let err = self.missing("mlp");
        self.mlp.as_mut().ok_or(err)
    }

    /// The `[hebbnet]` section.
    pub fn hebbnet(&self) -> Result<&HebbNetSection> {
        self.hebbnet.as_ref().ok_or_else(|| self.missing("hebbnet"))
    }

    /// The `[hebbnet]` section, to override values.
    pub fn hebbnet_mut(&mut self) -> Result<&mut HebbNetSection> {
        let err = self.missing("hebbnet");
        self.hebbnet.as_mut().ok_or(err)
    }

    /// The `[cnn]` section.
    pub fn cnn(&self) -> Result<&CnnSection> {
        self.cnn.as_ref().ok_or_else(|| self.missing("cnn"))
    }

    /// The `[softhebb]` section.
    pub fn softhebb(&self) -> Result<&SoftHebbSection> {
        self.softhebb
            .as_ref()
            .ok_or_else(|| self.missing("softhebb"))
    }

    /// The `[softhebb]` section, to override values.
    pub fn softhebb_mut(&mut self) -> Result<&mut SoftHebbSection> {
        let err = self.missing("softhebb");
        self.softhebb.as_mut().ok_or(err)
    }

    /// Divides the channels of every SoftHebb block by `factor` (at least one channel each):
    /// the network of a quick run or a test, the cost falling about with the square.
    pub fn narrow_softhebb(&mut self, factor: usize) {
        if let Some(s) = &mut self.softhebb {
            for b in &mut s.blocks {
                b.channels = (b.channels / factor.max(1)).max(1);
            }
        }
    }

    /// The SoftHebb blocks as the network builds them.
    pub fn softhebb_blocks(&self) -> Result<Vec<BlockConfig>> {
        self.softhebb()?
            .blocks
            .iter()
            .map(|b| {
                let pool = match b.pool.as_str() {
                    "max" => Pool::Max {
                        size: b.pool_size,
                        stride: b.pool_stride.unwrap_or(b.pool_size),
                        padding: b.pool_padding,
                    },
                    "avg" => Pool::Avg { size: b.pool_size },
                    other => {
                        return Err(Error::Preset {
                            name: self.model.clone(),
                            reason: format!("[softhebb] pool = {other:?}: `max` or `avg`"),
                        });
                    }
                };
                Ok(BlockConfig {
                    out_channels: b.channels,
                    kernel: b.kernel,
                    inv_tau: b.inv_tau as f32,
                    power: b.power as f32,
                    lr0: b.lr0 as f32,
                    pool,
                })
            })
            .collect()
    }

    /// Sets the epochs of the model's training (of each phase of a CNN + FA; of a Krotov
    /// model's unsupervised layer, its readout's being `readout.epochs`; of a SoftHebb
    /// model's readout, its unsupervised pass being one epoch).
    pub fn set_epochs(&mut self, epochs: usize) {
        if let Some(s) = &mut self.softhebb {
            s.epochs = epochs;
        }
        if let Some(k) = &mut self.krotov {
            k.epochs = epochs;
        }
        if let Some(m) = &mut self.mlp {
            m.epochs = epochs;
        }
        if let Some(h) = &mut self.hebbnet {
            h.epochs = epochs;
        }
        if let Some(c) = &mut self.cnn {
            c.epochs = epochs;
        }
    }

    /// Sets the minibatch size of every supervised phase and of the unsupervised ones whose
    /// rule sums over a minibatch (SoftHebb's unsupervised pass keeps its own: the rule's step
    /// is normalised per minibatch, so its size sets how far the filters move in one epoch).
    pub fn set_batch(&mut self, batch: usize) {
        if let Some(s) = &mut self.softhebb {
            s.batch = batch;
        }
        if let Some(k) = &mut self.krotov {
            k.batch = batch;
        }
        if let Some(r) = &mut self.readout {
            r.batch = batch;
        }
        if let Some(m) = &mut self.mlp {
            m.batch = batch;
        }
        if let Some(h) = &mut self.hebbnet {
            h.batch = batch;
        }
        if let Some(c) = &mut self.cnn {
            c.batch = batch;
        }
    }

    /// Sets the width of every hidden layer the model learns without convolution: the
    /// Krotov layer, the MLP's, HebbNet's Hebbian layers, a CNN head's.
    pub fn set_hidden(&mut self, width: usize) {
        if let Some(k) = &mut self.krotov {
            k.hidden = width;
        }
        if let Some(m) = &mut self.mlp {
            m.hidden.iter_mut().for_each(|w| *w = width);
        }
        if let Some(h) = &mut self.hebbnet {
            h.hebbian.iter_mut().for_each(|w| *w = width);
        }
        if let Some(c) = &mut self.cnn {
            c.hidden.iter_mut().for_each(|w| *w = width);
        }
    }

    /// The HebbNet configuration for `inputs` input values and `classes` classes.
    pub fn hebbnet_config(&self, inputs: usize, classes: usize) -> Result<HebbNetConfig> {
        let h = self.hebbnet()?;
        let rule = match (h.rule.as_str(), h.percentile) {
            ("hebb", _) => HebbianRule::Hebb,
            ("oja", _) => HebbianRule::Oja,
            ("gupta", Some(p)) => HebbianRule::Gupta {
                percentile: p as f32,
            },
            ("gupta", None) => {
                return Err(Error::Preset {
                    name: self.model.clone(),
                    reason: "rule `gupta` needs `percentile` (the reference used 60)".into(),
                });
            }
            (other, _) => {
                return Err(Error::Preset {
                    name: self.model.clone(),
                    reason: format!("unknown Hebbian rule `{other}` (hebb, oja, gupta)"),
                });
            }
        };
        let mut hebbian = vec![inputs];
        hebbian.extend(&h.hebbian);
        let mut linear = vec![*hebbian.last().unwrap_or(&inputs)];
        linear.extend(&h.linear);
        linear.push(classes);
        Ok(HebbNetConfig {
            hebbian,
            linear,
            rule,
            eta: h.eta as f32,
            winners: h.winners,
            activation: match h.power {
                Some(n) => Activation::RectifiedPower { n: n as f32 },
                None => Activation::Relu,
            },
            epochs: h.epochs,
            hebbian_epochs: h.hebbian_epochs.unwrap_or(h.epochs).min(h.epochs),
            batch: h.batch,
            lr0: h.lr0,
            lr_end: h.lr_end,
        })
    }

    /// The unsupervised phase's configuration.
    pub fn krotov_config(&self) -> Result<KrotovConfig> {
        let k = self.krotov()?;
        Ok(KrotovConfig {
            hidden: k.hidden,
            params: KrotovParams {
                p: k.p as f32,
                k: k.k,
                delta: k.delta as f32,
            },
            eps0: k.eps0 as f32,
            epochs: k.epochs,
            batch: k.batch,
            init_std: k.init_std as f32,
        })
    }

    /// How the Krotov model's inputs are normalised: each image a unit vector, centred first
    /// if the preset says so.
    pub fn krotov_preprocess(&self) -> Result<Preprocess> {
        Ok(if self.krotov()?.centre {
            Preprocess::CentredUnitNorm
        } else {
            Preprocess::UnitNorm
        })
    }

    /// The readout head.
    pub fn head(&self) -> Result<Head> {
        let r = self.readout()?;
        match r.head.as_str() {
            "power-tanh" => Ok(Head::PowerTanh {
                beta: r.beta.unwrap_or(1.0) as f32,
                m: r.m.unwrap_or(6.0) as f32,
            }),
            "linear" => Ok(Head::Linear),
            other => Err(Error::Preset {
                name: self.model.clone(),
                reason: format!("unknown readout head `{other}` (power-tanh, linear)"),
            }),
        }
    }

    /// The readout's optimiser settings.
    pub fn readout_config(&self) -> Result<ReadoutConfig> {
        let r = self.readout()?;
        Ok(ReadoutConfig {
            epochs: r.epochs,
            batch: r.batch,
            lr0: r.lr0,
            lr_end: r.lr_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelKind;

    #[test]
    fn every_built_in_preset_parses_with_a_known_head() {
        for name in Preset::names() {
            let p = Preset::load(name).unwrap();
            let model = ModelKind::from_name(&p.model).unwrap();
            if model.is_krotov() {
                p.head().unwrap();
                assert!(p.krotov().unwrap().hidden > 0, "{name}");
                assert!(p.readout().unwrap().epochs > 0, "{name}");
            } else if model.is_cnn() {
                let c = p.cnn().unwrap();
                assert!(c.epochs > 0 && !c.channels.is_empty(), "{name}");
            } else if model == ModelKind::HebbNet {
                let cfg = p.hebbnet_config(784, 10).unwrap();
                assert!(cfg.epochs > 0 && cfg.winners > 0, "{name}");
            } else if model == ModelKind::SoftHebb {
                assert_eq!(p.softhebb_blocks().unwrap().len(), 3, "{name}");
            } else {
                assert!(p.mlp().unwrap().epochs > 0, "{name}");
            }
        }
    }

    #[test]
    fn default_preset_holds_the_papers_rule_settings() {
        let p = Preset::load("krotov-mnist").unwrap();
        let k = p.krotov().unwrap();
        assert_eq!((k.hidden, k.p, k.k), (2000, 3.0, 7));
        assert_eq!((k.delta, p.readout().unwrap().n), (0.4, 4.5));
    }

    #[test]
    fn softhebb_presets_hold_the_published_network() {
        let p = Preset::load("softhebb-cifar10").unwrap();
        let blocks = p.softhebb_blocks().unwrap();
        let settings: Vec<_> = blocks
            .iter()
            .map(|b| (b.out_channels, b.kernel, b.inv_tau, b.power, b.lr0))
            .collect();
        assert_eq!(
            settings,
            [
                (96, 5, 1.0, 0.7, 0.08),
                (384, 3, 0.65, 1.4, 0.005),
                (1536, 3, 0.25, 1.0, 0.01)
            ]
        );
        let max = Pool::Max {
            size: 4,
            stride: 2,
            padding: 1,
        };
        assert_eq!(blocks[0].pool, max);
        assert_eq!(blocks[2].pool, Pool::Avg { size: 2 });
        assert_eq!(p.softhebb().unwrap().hebbian_batch, 10);
        // A zero temperature is refused before training, naming the key.
        let text = plastic_models::presets::preset("softhebb-mnist")
            .unwrap()
            .replace("inv_tau = 0.65", "inv_tau = 0.0");
        let e = Preset::parse("cold", &text).unwrap_err().to_string();
        assert!(e.contains("inv_tau = 0"), "{e}");
    }

    #[test]
    fn unknown_keys_and_names_are_errors() {
        assert!(Preset::parse("x", "model = 1").is_err());
        let err = Preset::load("no-such-preset").unwrap_err().to_string();
        assert!(err.contains("krotov-mnist"), "{err}");
    }
}
