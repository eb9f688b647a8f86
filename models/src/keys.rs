//! Tensor names and metadata keys of the `plastic/1` checkpoint format.
//!
//! One safetensors file. Per layer `i`: `layers.{i}.weight` (F32, `[out, in]`),
//! `layers.{i}.bias` (F32, `[out]`), `layers.{i}.feedback` (F32, the fixed random matrix of a
//! feedback-alignment layer: `[out, in]` for FA, `[classes, out]` for DFA), or for int8 files `layers.{i}.weight_q` (I8,
//! `[out, in]`) with `layers.{i}.weight_scale` (F32, `[out]`, one scale per output row).
//! Metadata: `format`, `spec` (JSON [`crate::ModelSpec`]), `train` (JSON provenance),
//! `metrics` (JSON figures such as test accuracy), `checksum` (`crc32:` and eight hex digits:
//! the CRC-32 of the tensor data, see [`crate::checksum`]), `metadata_checksum` (the same of
//! the other metadata values).

use alloc::format;
use alloc::string::String;

/// The value of the `format` metadata key that this crate reads and writes.
pub const FORMAT: &str = "plastic/1";
/// Metadata key holding the format version.
pub const META_FORMAT: &str = "format";
/// Metadata key holding the JSON model spec.
pub const META_SPEC: &str = "spec";
/// Metadata key holding the JSON training provenance.
pub const META_TRAIN: &str = "train";
/// Metadata key holding the JSON metrics.
pub const META_METRICS: &str = "metrics";
/// Metadata key holding the checksum of the tensor data (see [`crate::checksum`]). Optional
/// when read (files written before checksums have none), always written.
pub const META_CHECKSUM: &str = "checksum";
/// Metadata key holding the checksum of the other metadata values (the spec, provenance and
/// metrics; see [`crate::checksum::metadata_crc32`]). Optional when read, always written.
pub const META_METADATA_CHECKSUM: &str = "metadata_checksum";

/// `layers.{i}.weight`: f32 weights, `[out, in]`.
pub fn weight(layer: usize) -> String {
    format!("layers.{layer}.weight")
}
/// `layers.{i}.bias`: f32 bias, `[out]`.
pub fn bias(layer: usize) -> String {
    format!("layers.{layer}.bias")
}
/// `layers.{i}.feedback`: the fixed random feedback matrix of a feedback-alignment layer.
pub fn feedback(layer: usize) -> String {
    format!("layers.{layer}.feedback")
}
/// `layers.{i}.weight_q`: int8 weights, `[out, in]`.
pub fn weight_q(layer: usize) -> String {
    format!("layers.{layer}.weight_q")
}
/// `layers.{i}.weight_scale`: f32 scale per output row of the int8 weights, `[out]`.
pub fn weight_scale(layer: usize) -> String {
    format!("layers.{layer}.weight_scale")
}
