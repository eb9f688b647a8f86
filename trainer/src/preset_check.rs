//! Range checks of a preset's numbers, before anything trains.
//!
//! Why: the reference's notebooks trained for hours with settings that turned the learning off
//! without a word. A zero learning rate, zero epochs or a schedule that grows where it should
//! decay give a checkpoint and an accuracy, just not of a trained model. These are refused
//! when the preset is read and again after command-line overrides, naming the key to fix.
//! HebbNet's `eta = 0` stays allowed: it is how its random-feature baseline is measured.

use plastic_models::MAX_KROTOV_K;
use plastic_models::limits::MAX_KROTOV_P;

use crate::preset::{Preset, SoftHebbSection};
use crate::{Error, Result};

/// One phase's epochs, minibatch and Adam schedule, as `[section]` names them.
struct Phase<'a> {
    section: &'a str,
    epochs: usize,
    batch: usize,
    /// `(lr0, lr_end)`; `None` for a phase without Adam (the Krotov layer).
    schedule: Option<(f64, f64)>,
}

impl Phase<'_> {
    fn check(&self) -> std::result::Result<(), String> {
        let s = self.section;
        if self.epochs == 0 {
            return Err(format!("[{s}] epochs = 0 trains nothing: use 1 or more"));
        }
        if self.batch == 0 {
            return Err(format!("[{s}] batch must be 1 or more"));
        }
        if let Some((lr0, lr_end)) = self.schedule {
            if !(lr0.is_finite() && lr0 > 0.0) {
                return Err(format!(
                    "[{s}] lr0 = {lr0} would not learn: use a positive rate (1e-3 is Adam's usual)"
                ));
            }
            if !(lr_end.is_finite() && (0.0..=lr0).contains(&lr_end)) {
                return Err(format!(
                    "[{s}] lr_end = {lr_end} must lie in 0..=lr0 ({lr0}): the rate decays from \
                     lr0 to lr_end"
                ));
            }
        }
        Ok(())
    }
}

impl Preset {
    /// Checks the numbers every phase trains with; the error names the key to fix.
    pub fn check(&self) -> Result<()> {
        self.numbers_problem().map_err(|reason| Error::Preset {
            name: self.model.clone(),
            reason,
        })
    }

    /// What is wrong with the numbers, as a phrase naming the key; the caller names the preset.
    pub(crate) fn numbers_problem(&self) -> std::result::Result<(), String> {
        let mut phases = Vec::new();
        if let Some(k) = &self.krotov {
            phases.push(Phase {
                section: "krotov",
                epochs: k.epochs,
                batch: k.batch,
                schedule: None,
            });
            if !(k.eps0.is_finite() && k.eps0 > 0.0) {
                return Err(format!(
                    "[krotov] eps0 = {} would not learn: use a positive rate (the paper: 2e-2)",
                    k.eps0
                ));
            }
            // The spec check's bounds, so that a run does not train for hours and then fail to
            // write its checkpoint.
            if !(2.0..=f64::from(MAX_KROTOV_P)).contains(&k.p) {
                return Err(format!(
                    "[krotov] p = {} must lie in 2..={MAX_KROTOV_P} (the paper: 3)",
                    k.p
                ));
            }
            if !(2..=k.hidden.min(MAX_KROTOV_K)).contains(&k.k) {
                return Err(format!(
                    "[krotov] k = {} must lie in 2..=min(hidden = {}, {MAX_KROTOV_K}) (the paper: 7)",
                    k.k, k.hidden
                ));
            }
        }
        if let Some(r) = &self.readout {
            phases.push(Phase {
                section: "readout",
                epochs: r.epochs,
                batch: r.batch,
                schedule: Some((r.lr0, r.lr_end)),
            });
        }
        if let Some(m) = &self.mlp {
            phases.push(Phase {
                section: "mlp",
                epochs: m.epochs,
                batch: m.batch,
                schedule: Some((m.lr0, m.lr_end)),
            });
        }
        if let Some(c) = &self.cnn {
            phases.push(Phase {
                section: "cnn",
                epochs: c.epochs,
                batch: c.batch,
                schedule: Some((c.lr0, c.lr_end)),
            });
        }
        if let Some(h) = &self.hebbnet {
            phases.push(Phase {
                section: "hebbnet",
                epochs: h.epochs,
                batch: h.batch,
                schedule: Some((h.lr0, h.lr_end)),
            });
            if !(h.eta.is_finite() && h.eta >= 0.0) {
                return Err(format!(
                    "[hebbnet] eta = {} must be finite and 0 or more (0: random features)",
                    h.eta
                ));
            }
            if let Some(p) = h.percentile
                && !(0.0..100.0).contains(&p)
            {
                return Err(format!(
                    "[hebbnet] percentile = {p} must lie in 0..100 (the reference used 60)"
                ));
            }
        }
        if let Some(s) = &self.softhebb {
            phases.push(Phase {
                section: "softhebb",
                epochs: s.epochs,
                batch: s.batch,
                schedule: Some((s.lr0, s.lr_end)),
            });
            softhebb_problem(s)?;
        }
        phases.iter().try_for_each(Phase::check)
    }
}

/// Why a `[softhebb]` section cannot train, if it cannot: a zero temperature would divide by
/// zero, a zero rate learns nothing, an even kernel has no centre to pad around.
fn softhebb_problem(s: &SoftHebbSection) -> std::result::Result<(), String> {
    if s.blocks.is_empty() {
        return Err("[softhebb] needs at least one [[softhebb.blocks]]".into());
    }
    if s.hebbian_batch == 0 {
        return Err("[softhebb] hebbian_batch = 0: the unsupervised pass needs a minibatch".into());
    }
    if !(0.0..1.0).contains(&s.dropout) {
        return Err(format!(
            "[softhebb] dropout = {} must lie in 0..1",
            s.dropout
        ));
    }
    for (i, b) in s.blocks.iter().enumerate() {
        let at = format!("[softhebb] block {i}");
        if !(b.inv_tau.is_finite() && b.inv_tau > 0.0) {
            return Err(format!(
                "{at}: inv_tau = {} must be positive and finite (a zero temperature has no \
                 inverse; the paper's are 1, 0.65 and 0.25)",
                b.inv_tau
            ));
        }
        if !(b.power.is_finite() && b.power > 0.0) {
            return Err(format!(
                "{at}: power = {} must be positive and finite",
                b.power
            ));
        }
        if !(b.lr0.is_finite() && b.lr0 > 0.0) {
            return Err(format!("{at}: lr0 = {} must be positive and finite", b.lr0));
        }
        if b.channels == 0 || b.kernel % 2 == 0 || b.pool_size == 0 {
            return Err(format!(
                "{at}: channels and pool_size must be positive and the kernel odd \
                 (channels {}, kernel {}, pool_size {})",
                b.channels, b.kernel, b.pool_size
            ));
        }
        if b.pool_stride == Some(0) || 2 * b.pool_padding > b.pool_size {
            return Err(format!(
                "{at}: pool_stride must be positive and pool_padding at most half pool_size"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_preset_passes() {
        for name in Preset::names() {
            let preset = Preset::load(name).unwrap();
            preset.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn a_krotov_rank_beyond_the_runtime_limit_is_refused() {
        let mut preset = Preset::load("krotov-mnist").unwrap();
        let krotov = preset.krotov.as_mut().unwrap();
        krotov.k = MAX_KROTOV_K + 1;
        let e = preset.check().unwrap_err().to_string();
        assert!(e.contains("k = 33"), "{e}");
    }

    #[test]
    fn settings_that_turn_learning_off_are_refused_by_name() {
        let refused = |edit: fn(&mut Preset), key: &str| {
            let mut p = Preset::load("hebbnet-mnist").unwrap();
            edit(&mut p);
            let e = p.check().unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        };
        refused(|p| p.hebbnet_mut().unwrap().lr0 = 0.0, "lr0 = 0");
        refused(|p| p.hebbnet_mut().unwrap().lr0 = f64::NAN, "lr0 = NaN");
        refused(|p| p.hebbnet_mut().unwrap().lr_end = 1.0, "lr_end = 1");
        refused(|p| p.set_epochs(0), "epochs = 0");
        refused(|p| p.set_batch(0), "batch");
        refused(|p| p.hebbnet_mut().unwrap().eta = -1e-3, "eta");
        refused(
            |p| p.hebbnet_mut().unwrap().percentile = Some(100.0),
            "percentile",
        );

        let mut krotov = Preset::load("krotov-mnist").unwrap();
        krotov.krotov_mut().unwrap().eps0 = 0.0;
        assert!(krotov.check().unwrap_err().to_string().contains("eps0"));

        // Random features are a measurement, not a mistake.
        let mut random = Preset::load("hebbnet-mnist").unwrap();
        random.hebbnet_mut().unwrap().eta = 0.0;
        random.check().unwrap();
    }

    #[test]
    fn a_preset_file_with_a_zero_rate_is_refused_when_read() {
        let text = plastic_models::presets::preset("mlp-bp-mnist")
            .unwrap()
            .replace("lr0 = 1e-3", "lr0 = 0.0");
        assert!(text.contains("lr0 = 0.0"), "{text}");
        let e = Preset::parse("zero", &text).unwrap_err().to_string();
        assert!(e.contains("lr0 = 0"), "{e}");
    }
}
