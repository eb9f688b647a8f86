//! HebbNet on a slice of real MNIST: the Hebbian weights change on every batch (the reference
//! updated them once per epoch), each rule trains to a usable model, and the runtime runs the
//! checkpoint with the trainer's accuracy. Needs the shared data folder; skips without.

mod common;

use candle_core::{Device, Tensor};
use plastic_trainer::data::DatasetKind;
use plastic_trainer::experiment::{RunOptions, TrainingRun, channel_stats, train_hebbnet};
use plastic_trainer::features;
use plastic_trainer::hebbnet::HebbNet;
use plastic_trainer::preset::Preset;

fn small_preset(rule: &str) -> Preset {
    let mut p = Preset::load("hebbnet-mnist").unwrap();
    let h = p.hebbnet_mut().unwrap();
    h.rule = rule.into();
    h.hebbian = vec![500];
    h.epochs = 4;
    h.lr0 = 3e-3;
    h.lr_end = 1e-3;
    p
}

#[test]
fn the_hebbian_weights_change_on_every_batch_for_every_rule() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let pre = channel_stats(&split.train);
    let x = features::inputs(&split.train, &pre).unwrap();
    let x = Tensor::from_vec(x, (split.train.len(), 784), &Device::Cpu).unwrap();
    for rule in ["hebb", "oja", "gupta"] {
        let cfg = small_preset(rule).hebbnet_config(784, 10).unwrap();
        let mut net = HebbNet::new(&cfg, 1, &Device::Cpu).unwrap();
        for batch in 0..5 {
            let before = net.hebbian.weights[0]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let xb = x.narrow(0, batch * cfg.batch, cfg.batch).unwrap();
            net.hebbian_step(&xb, &cfg).unwrap();
            let after = net.hebbian.weights[0]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
            assert!(
                changed > 0 && after.iter().all(|v| v.is_finite()),
                "{rule}: batch {batch} changed {changed} weights"
            );
        }
    }
}

#[test]
fn every_rule_trains_a_model_the_runtime_runs() {
    let Some(split) = common::mnist_slice(6000, 1000) else {
        return;
    };
    let options = RunOptions {
        seed: 5,
        device_name: "cpu".into(),
        progress: false,
    };
    for rule in ["hebb", "oja", "gupta"] {
        let ckpt = train_hebbnet(&TrainingRun {
            preset: &small_preset(rule),
            kind: DatasetKind::Mnist,
            split: &split,
            device: &Device::Cpu,
            options: &options,
        })
        .unwrap();
        let acc = ckpt.metrics["test_accuracy"].as_f64().unwrap();
        // 6000 digits, 4 epochs, 500 Hebbian units: about 89 % for each rule.
        eprintln!("hebbnet {rule}: {acc}");
        assert!(acc > 0.85, "{rule} reached only {acc}");
        let bytes = ckpt.to_bytes().unwrap();
        let runtime_acc = common::runtime_accuracy(&bytes, &split.test);
        assert!(
            (runtime_acc - acc).abs() < 0.002,
            "{rule}: runtime {runtime_acc} vs trainer {acc}"
        );
    }
}
