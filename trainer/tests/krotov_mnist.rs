//! The Krotov path on real MNIST digits: the layer converges to clean prototypes, its readouts
//! learn, and the runtime computes exactly what the trainer computes from the same checkpoint.
//! Needs the shared data folder ($PLASTIC_DATA or ../shared/data); skips with a message without.

mod common;

use candle_core::Device;
use plastic_models::{Preprocess, Weights};
use plastic_runtime::Model;
use plastic_runtime::learn::krotov::KrotovParams;
use plastic_trainer::data::{DatasetKind, Split};
use plastic_trainer::experiment::{RunOptions, TrainingRun, forward, train_krotov};
use plastic_trainer::features;
use plastic_trainer::krotov::{self, KrotovConfig};
use plastic_trainer::preset::Preset;

#[test]
fn small_layer_converges_to_unit_norm_prototypes() {
    let Some(split) = common::mnist() else { return };
    let train = split.train.take(3000);
    let x = features::inputs(&train, &Preprocess::UnitNorm).unwrap();
    let (n, hidden) = (784, 64);
    let cfg = KrotovConfig {
        hidden,
        params: KrotovParams {
            p: 3.0,
            k: 2,
            delta: 0.4,
        },
        eps0: 0.04,
        epochs: 100,
        batch: 100,
        init_std: 1.0,
    };
    let w = krotov::train(&x, n, &cfg, 7, &Device::Cpu, |_| {}).unwrap();
    let norms = krotov::row_norms(&w, n, 3.0);
    let near_one = norms.iter().filter(|&&r| (r - 1.0).abs() < 0.05).count();
    assert!(
        near_one >= hidden * 9 / 10,
        "only {near_one} of {hidden} rows have p-norm ~ 1: {norms:?}"
    );

    // Clean prototypes: each unit that wins for some digits looks like their mean (cosine).
    let mut sums = vec![0.0f32; hidden * n];
    let mut wins = vec![0usize; hidden];
    for v in x.chunks_exact(n) {
        let best = (0..hidden)
            .map(|mu| {
                let cur: f32 = w[mu * n..(mu + 1) * n]
                    .iter()
                    .zip(v)
                    .map(|(&a, &b)| a * a.abs() * b)
                    .sum();
                (mu, cur)
            })
            .fold((0, f32::MIN), |a, b| if b.1 > a.1 { b } else { a })
            .0;
        wins[best] += 1;
        for (s, &vi) in sums[best * n..(best + 1) * n].iter_mut().zip(v) {
            *s += vi;
        }
    }
    let mut cosines = Vec::new();
    for mu in (0..hidden).filter(|&mu| wins[mu] >= 5) {
        let (a, b) = (&w[mu * n..(mu + 1) * n], &sums[mu * n..(mu + 1) * n]);
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        cosines.push(dot / (na * nb));
    }
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    assert!(
        cosines.len() >= hidden / 2,
        "only {} units ever win",
        cosines.len()
    );
    assert!(mean > 0.6, "prototypes are not clean: mean cosine {mean}");
}

fn small_preset(name: &str) -> Preset {
    let mut preset = Preset::load(name).unwrap();
    let k = preset.krotov_mut().unwrap();
    k.hidden = 200;
    k.k = 2;
    k.eps0 = 0.04;
    k.epochs = 40;
    preset.readout_mut().unwrap().epochs = 30;
    preset
}

fn small_split(split: Split) -> Split {
    Split {
        train: split.train.take(10_000),
        test: split.test.take(2000),
    }
}

#[test]
fn small_model_with_power_tanh_readout_beats_90_percent() {
    let Some(split) = common::mnist() else { return };
    let split = small_split(split);
    let options = RunOptions {
        seed: 1,
        device_name: "cpu".into(),
        progress: false,
    };
    let ckpt = train_krotov(&TrainingRun {
        preset: &small_preset("krotov-mnist"),
        kind: DatasetKind::Mnist,
        split: &split,
        device: &Device::Cpu,
        options: &options,
    })
    .unwrap();
    let acc = ckpt.metrics["test_accuracy"].as_f64().unwrap();
    // 200 hidden units and 10000 digits: a linear model on raw pixels gets about 88 %.
    assert!(acc > 0.9, "power/tanh readout reached only {acc}");

    // The runtime's f32 forward equals the trainer's on the same checkpoint.
    let bytes = ckpt.to_bytes().unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    let test = split.test.take(200);
    let x = features::inputs(&test, &Preprocess::UnitNorm).unwrap();
    let trainer_out = forward(&ckpt, &x, &Device::Cpu)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut ws = model.workspace();
    let mut worst = 0.0f32;
    for (v, expected) in x.chunks_exact(784).zip(&trainer_out) {
        model.infer(v, &mut ws).unwrap();
        for (a, b) in ws.outputs(&model).iter().zip(expected) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst < 1e-4, "runtime and trainer differ by {worst}");
    assert!(matches!(ckpt.layers[0].weight, Weights::F32(_)));
}

#[test]
fn small_model_with_linear_readout_beats_85_percent() {
    let Some(split) = common::mnist() else { return };
    let split = small_split(split);
    let options = RunOptions {
        seed: 2,
        device_name: "cpu".into(),
        progress: false,
    };
    let ckpt = train_krotov(&TrainingRun {
        preset: &small_preset("krotov-linear-mnist"),
        kind: DatasetKind::Mnist,
        split: &split,
        device: &Device::Cpu,
        options: &options,
    })
    .unwrap();
    let acc = ckpt.metrics["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "linear readout reached only {acc}");
    assert!(ckpt.layers[1].bias.is_some());
}

#[test]
fn int8_ranking_on_the_device_picks_the_exact_winner_on_real_digits() {
    use plastic_runtime::plastic::{Guards, MasterPrecision, PlasticLayer};
    let Some(split) = common::mnist() else { return };
    let ckpt = plastic_models::Checkpoint::from_bytes(plastic_models::DEFAULT_CHECKPOINT).unwrap();
    let Weights::Int8 { q, scale } = &ckpt.layers[0].weight else {
        panic!("the shipped default model is int8")
    };
    let params = KrotovParams {
        p: 3.0,
        k: 7,
        delta: 0.4,
    };
    let make = |exact: bool| {
        let mut l = PlasticLayer::from_int8(
            q,
            scale,
            784,
            params,
            MasterPrecision::Q16,
            Guards::default(),
        )
        .unwrap();
        l.set_exact_ranking(exact);
        l
    };
    let (mut fast, mut exact) = (make(false), make(true));
    let test = split.test.take(1000);
    let x = features::inputs(&test, &Preprocess::UnitNorm).unwrap();
    let (mut same_winner, mut same_kth) = (0, 0);
    for v in x.chunks_exact(784) {
        let (a, b) = (fast.rank(v), exact.rank(v));
        same_winner += usize::from(a.0 == b.0);
        same_kth += usize::from(a.1 == b.1);
    }
    eprintln!("int8 ranking: winner agrees on {same_winner}/1000, k-th on {same_kth}/1000");
    assert!(
        same_winner >= 990,
        "winner agrees on only {same_winner} of 1000 digits"
    );
    assert!(
        same_kth >= 970,
        "k-th unit agrees on only {same_kth} of 1000 digits"
    );
}
