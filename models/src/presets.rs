//! The experiment presets of `models/presets/*.toml`, compiled in so every binary has them.
//! The trainer parses them; the text here is the single source.

/// `(name, TOML text)` of every preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("krotov-mnist", include_str!("../presets/krotov-mnist.toml")),
    (
        "krotov-mnist-paper",
        include_str!("../presets/krotov-mnist-paper.toml"),
    ),
    (
        "krotov-mnist-demo",
        include_str!("../presets/krotov-mnist-demo.toml"),
    ),
    (
        "krotov-cifar10",
        include_str!("../presets/krotov-cifar10.toml"),
    ),
    (
        "krotov-cifar10-paper",
        include_str!("../presets/krotov-cifar10-paper.toml"),
    ),
    (
        "krotov-linear-mnist",
        include_str!("../presets/krotov-linear-mnist.toml"),
    ),
    ("mlp-bp-mnist", include_str!("../presets/mlp-bp-mnist.toml")),
    ("mlp-fa-mnist", include_str!("../presets/mlp-fa-mnist.toml")),
    (
        "mlp-dfa-mnist",
        include_str!("../presets/mlp-dfa-mnist.toml"),
    ),
    ("mlp-ss-mnist", include_str!("../presets/mlp-ss-mnist.toml")),
    (
        "mlp-bp-mnist-deep",
        include_str!("../presets/mlp-bp-mnist-deep.toml"),
    ),
    (
        "mlp-fa-mnist-deep",
        include_str!("../presets/mlp-fa-mnist-deep.toml"),
    ),
    (
        "mlp-dfa-mnist-deep",
        include_str!("../presets/mlp-dfa-mnist-deep.toml"),
    ),
    (
        "mlp-ss-mnist-deep",
        include_str!("../presets/mlp-ss-mnist-deep.toml"),
    ),
    (
        "hebbnet-mnist",
        include_str!("../presets/hebbnet-mnist.toml"),
    ),
    (
        "hebbnet-cifar10",
        include_str!("../presets/hebbnet-cifar10.toml"),
    ),
    (
        "hebbnet-mix-1-4-mnist",
        include_str!("../presets/hebbnet-mix-1-4-mnist.toml"),
    ),
    (
        "hebbnet-mix-2-3-mnist",
        include_str!("../presets/hebbnet-mix-2-3-mnist.toml"),
    ),
    (
        "hebbnet-mix-3-2-mnist",
        include_str!("../presets/hebbnet-mix-3-2-mnist.toml"),
    ),
    (
        "hebbnet-mix-4-1-mnist",
        include_str!("../presets/hebbnet-mix-4-1-mnist.toml"),
    ),
    ("cnn-mnist", include_str!("../presets/cnn-mnist.toml")),
    ("cnn-fa-mnist", include_str!("../presets/cnn-fa-mnist.toml")),
    ("cnn-cifar10", include_str!("../presets/cnn-cifar10.toml")),
    (
        "cnn-fa-cifar10",
        include_str!("../presets/cnn-fa-cifar10.toml"),
    ),
    (
        "softhebb-cifar10",
        include_str!("../presets/softhebb-cifar10.toml"),
    ),
    (
        "softhebb-mnist",
        include_str!("../presets/softhebb-mnist.toml"),
    ),
    (
        "softhebb-fashion-mnist",
        include_str!("../presets/softhebb-fashion-mnist.toml"),
    ),
    (
        "softhebb-mnist-device",
        include_str!("../presets/softhebb-mnist-device.toml"),
    ),
];

/// The TOML text of the preset called `name`.
pub fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
