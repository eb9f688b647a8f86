//! Every kind of model the trainer makes keeps its accuracy when quantized to int8: the
//! runtime's int8 accuracy is within 0.3 points of its f32 accuracy on the 10,000 MNIST test digits.
//! Small models on a slice of MNIST keep this fast; needs the shared data (skips without).

use candle_core::Device;
use plastic_runtime::Model;
use plastic_trainer::ModelKind;
use plastic_trainer::data::{self, DatasetKind, Split};
use plastic_trainer::experiment::{RunOptions, TrainingRun, train_model};
use plastic_trainer::features::runtime_correct_count;
use plastic_trainer::preset::Preset;

fn accuracy(model: &Model, split: &Split) -> f64 {
    runtime_correct_count(model, &split.test).unwrap() as f64 / split.test.len() as f64
}

#[test]
fn int8_is_within_0_3_points_of_f32_for_every_model_kind() {
    let Some(dir) = data::shared_data_dir() else {
        eprintln!("skipped: no shared data (set PLASTIC_DATA)");
        return;
    };
    let full = data::load(DatasetKind::Mnist, &dir.join("mnist")).unwrap();
    let split = Split {
        train: full.train.take(6000),
        test: full.test,
    };
    let options = RunOptions {
        seed: 4,
        device_name: "cpu".into(),
        progress: false,
    };
    for name in ModelKind::ALL {
        let mut preset = Preset::load(&format!("{name}-mnist")).unwrap();
        if name == ModelKind::HebbNet {
            let h = preset.hebbnet_mut().unwrap();
            h.hebbian = vec![256];
            h.epochs = 5;
            (h.lr0, h.lr_end) = (3e-3, 1e-3);
        } else if name.is_cnn() {
            // Three epochs of each phase of a CNN + FA: after two, the network is still
            // unsure of so many digits that int8 rounding flips 0.3 % of them.
            preset.set_epochs(3);
        } else if name == ModelKind::SoftHebb {
            preset.narrow_softhebb(8);
            preset.set_epochs(5);
        } else if name.is_mlp() {
            let m = preset.mlp_mut().unwrap();
            m.hidden = vec![256];
            m.epochs = 5;
        } else {
            let k = preset.krotov_mut().unwrap();
            k.hidden = 200;
            k.k = 2;
            k.eps0 = 0.04;
            k.epochs = 20;
            preset.readout_mut().unwrap().epochs = 20;
        }
        let ckpt = train_model(
            name,
            &TrainingRun {
                preset: &preset,
                kind: DatasetKind::Mnist,
                split: &split,
                device: &Device::Cpu,
                options: &options,
            },
        )
        .unwrap();
        let f32_model = Model::from_checkpoint(&ckpt).unwrap();
        let (a32, a8) = (
            accuracy(&f32_model, &split),
            accuracy(&f32_model.quantized(), &split),
        );
        eprintln!("{name}: f32 {a32:.4}, int8 {a8:.4}");
        // A sanity bar: these are small, briefly trained models.
        assert!(a32 > 0.75, "{name}: f32 accuracy {a32}");
        assert!((a32 - a8).abs() <= 0.003, "{name}: f32 {a32} vs int8 {a8}");
    }
}
