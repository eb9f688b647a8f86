//! Reading and writing `plastic/1` checkpoints (see [`crate::keys`] for the layout).
//!
//! Reading validates everything a runtime relies on: the format string, the spec, the presence,
//! dtype and shape of every tensor the spec implies, that all values are finite, and, when the
//! file records one, that the tensor data matches its `checksum` ([`crate::checksum`]). A
//! truncated, hostile, damaged or foreign file is an [`Error`], never a panic.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::checksum::{Crc32, format_crc32, metadata_crc32, parse_crc32};
use crate::keys;
use crate::limits::MAX_WEIGHT_SCALE;
use crate::{Error, ModelSpec, Result};

/// The weights of one layer, in full or in 8-bit precision.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// Row-major `[out, in]` f32 weights.
    F32(Vec<f32>),
    /// Row-major `[out, in]` int8 weights; row `r` is `q[r, :] * scale[r]`.
    Int8 {
        /// Quantized weights.
        q: Vec<i8>,
        /// One scale per output row.
        scale: Vec<f32>,
    },
}

/// The tensors of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTensors {
    /// The weight matrix.
    pub weight: Weights,
    /// The bias, if the spec says the layer has one.
    pub bias: Option<Vec<f32>>,
    /// The fixed random feedback matrix of a feedback-alignment layer, row-major, of the
    /// shape [`ModelSpec::feedback_shape`] gives (`[out, in]` for FA, `[classes, out]` for
    /// DFA). Saved so that training can resume and results reproduce.
    pub feedback: Option<Vec<f32>>,
}

/// A whole checkpoint: spec, tensors and the JSON provenance and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// What the model is and how to feed it.
    pub spec: ModelSpec,
    /// One entry per layer of the spec.
    pub layers: Vec<LayerTensors>,
    /// Training provenance (dataset, epochs, seed, hyper-parameters, code version, wall time).
    pub train: serde_json::Value,
    /// Figures measured on the model (test accuracy etc.).
    pub metrics: serde_json::Value,
}

/// What the checksums of a file that loaded say: each is the recorded value (e.g.
/// `crc32:…`), which matched, or `None` when the file records none (it was written before that
/// checksum existed) and nothing was checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Integrity {
    /// The `checksum` of the tensor data.
    pub tensors: Option<String>,
    /// The `metadata_checksum` of the spec, provenance and metrics.
    pub metadata: Option<String>,
}

impl Checkpoint {
    /// True when every layer holds int8 weights.
    pub fn is_int8(&self) -> bool {
        self.layers
            .iter()
            .all(|l| matches!(l.weight, Weights::Int8 { .. }))
    }

    /// Parses and validates a checkpoint from the bytes of a safetensors file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes_with_integrity(bytes).map(|(ckpt, _)| ckpt)
    }

    /// [`Checkpoint::from_bytes`], also saying which checksums the file records (all of them
    /// matched: a mismatch is [`Error::Damaged`] or [`Error::MetadataDamaged`]).
    pub fn from_bytes_with_integrity(bytes: &[u8]) -> Result<(Self, Integrity)> {
        let tensors =
            SafeTensors::deserialize(bytes).map_err(|e| Error::NotSafetensors(format!("{e}")))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| Error::NotSafetensors(format!("{e}")))?;
        let meta = header.metadata().as_ref();
        let get = |key: &'static str| {
            meta.and_then(|m| m.get(key))
                .ok_or(Error::MissingMetadata(key))
        };
        let format = get(keys::META_FORMAT)?;
        if format != keys::FORMAT {
            return Err(Error::WrongFormat {
                found: format.clone(),
            });
        }
        // Before anything reads a value: a damaged file is named as such, not by the first odd
        // value the damage made.
        let tensors_checked = match meta.and_then(|m| m.get(keys::META_CHECKSUM)) {
            None => None,
            Some(value) => {
                let stored = parse_crc32(value).map_err(|reason| Error::BadMetadata {
                    key: keys::META_CHECKSUM,
                    reason,
                })?;
                let computed = tensor_crc32(&tensors);
                if computed != stored {
                    return Err(Error::Damaged {
                        stored: value.clone(),
                        computed: format_crc32(computed),
                    });
                }
                Some(value.clone())
            }
        };
        let metadata_checked = meta.and_then(|m| m.get(keys::META_METADATA_CHECKSUM));
        if let Some(value) = metadata_checked {
            let stored = parse_crc32(value).map_err(|reason| Error::BadMetadata {
                key: keys::META_METADATA_CHECKSUM,
                reason,
            })?;
            let entries = meta
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str()));
            let computed = metadata_crc32(entries);
            if computed != stored {
                return Err(Error::MetadataDamaged {
                    stored: value.clone(),
                    computed: format_crc32(computed),
                });
            }
        }
        let spec = ModelSpec::from_json(get(keys::META_SPEC)?)?;
        let json = |key: &'static str| -> Result<serde_json::Value> {
            match meta.and_then(|m| m.get(key)) {
                None => Ok(serde_json::Value::Null),
                Some(text) => serde_json::from_str(text).map_err(|e| Error::BadMetadata {
                    key,
                    reason: format!("{e}"),
                }),
            }
        };
        let train = json(keys::META_TRAIN)?;
        let metrics = json(keys::META_METRICS)?;

        let mut layers = Vec::with_capacity(spec.layers.len());
        for (i, layer) in spec.layers.iter().enumerate() {
            let matrix = layer.weight_shape();
            let rows = layer.rows();
            let weight = if tensors.tensor(&keys::weight_q(i)).is_ok() {
                Weights::Int8 {
                    q: read_i8(&tensors, &keys::weight_q(i), &matrix)?,
                    scale: read_f32(&tensors, &keys::weight_scale(i), &[rows])?,
                }
            } else {
                Weights::F32(read_f32(&tensors, &keys::weight(i), &matrix)?)
            };
            let bias = if layer.bias {
                Some(read_f32(&tensors, &keys::bias(i), &[rows])?)
            } else {
                None
            };
            let feedback = match (tensors.tensor(&keys::feedback(i)), spec.feedback_shape(i)) {
                (Ok(_), Some(shape)) => Some(read_f32(&tensors, &keys::feedback(i), &shape)?),
                _ => None,
            };
            layers.push(LayerTensors {
                weight,
                bias,
                feedback,
            });
        }
        let ckpt = Self {
            spec,
            layers,
            train,
            metrics,
        };
        // Shapes and finiteness were checked while reading; this adds the ranges.
        ckpt.validate()?;
        let integrity = Integrity {
            tensors: tensors_checked,
            metadata: metadata_checked.cloned(),
        };
        Ok((ckpt, integrity))
    }

    /// Checks a checkpoint held in memory as [`Checkpoint::from_bytes`] checks a file: a valid
    /// spec, one tensor set per layer, every tensor of the spec's shape, every value finite and
    /// every int8 scale within `0..=`[`MAX_WEIGHT_SCALE`]. Writing calls it, so that nothing is
    /// written that reading would refuse (a device would save a state it refuses at the next
    /// boot); the runtime calls it, so that a checkpoint built in code meets the same bar.
    pub fn validate(&self) -> Result<()> {
        self.spec.validate()?;
        if self.layers.len() != self.spec.layers.len() {
            return Err(Error::InvalidSpec(format!(
                "{} tensor sets for {} layers",
                self.layers.len(),
                self.spec.layers.len()
            )));
        }
        for (i, (layer, spec)) in self.layers.iter().zip(&self.spec.layers).enumerate() {
            let matrix = spec.weight_shape();
            let rows = spec.rows();
            match &layer.weight {
                Weights::F32(w) => check_f32(&keys::weight(i), &matrix, w)?,
                Weights::Int8 { q, scale } => {
                    check_len(&keys::weight_q(i), &matrix, q.len())?;
                    check_f32(&keys::weight_scale(i), &[rows], scale)?;
                    check_scales(&keys::weight_scale(i), scale)?;
                }
            }
            match (&layer.bias, spec.bias) {
                (Some(b), true) => check_f32(&keys::bias(i), &[rows], b)?,
                (None, false) => {}
                _ => {
                    return Err(Error::InvalidSpec(format!(
                        "layer {i}: bias presence disagrees with the spec"
                    )));
                }
            }
            match (&layer.feedback, self.spec.feedback_shape(i)) {
                (Some(fb), Some(shape)) => check_f32(&keys::feedback(i), &shape, fb)?,
                (Some(_), None) => {
                    return Err(Error::InvalidSpec(format!(
                        "layer {i} has a feedback matrix but is not a feedback-alignment layer"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Serialises the checkpoint into the bytes of a safetensors file, after
    /// [`Checkpoint::validate`]: a checkpoint that could not be read back is an error here.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (i, (layer, spec)) in self.layers.iter().zip(&self.spec.layers).enumerate() {
            let matrix = spec.weight_shape();
            let rows = spec.rows();
            match &layer.weight {
                Weights::F32(w) => owned.push(f32_entry(keys::weight(i), matrix, w)),
                Weights::Int8 { q, scale } => {
                    owned.push((
                        keys::weight_q(i),
                        Dtype::I8,
                        matrix,
                        q.iter().map(|&v| v as u8).collect(),
                    ));
                    owned.push(f32_entry(keys::weight_scale(i), vec![rows], scale));
                }
            }
            if let Some(b) = &layer.bias {
                owned.push(f32_entry(keys::bias(i), vec![rows], b));
            }
            if let (Some(fb), Some(shape)) = (&layer.feedback, self.spec.feedback_shape(i)) {
                owned.push(f32_entry(keys::feedback(i), shape.to_vec(), fb));
            }
        }
        // The checksum covers the tensors in the order of their names (see `crate::checksum`).
        owned.sort_by(|a, b| a.0.cmp(&b.0));
        let mut crc = Crc32::new();
        for (_, _, _, data) in &owned {
            crc.update(data);
        }
        let views = owned
            .iter()
            .map(|(name, dtype, shape, data)| {
                TensorView::new(*dtype, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| Error::Serialize(format!("{e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut entries = vec![
            (keys::META_FORMAT.to_string(), keys::FORMAT.to_string()),
            (keys::META_SPEC.to_string(), self.spec.to_json()),
            (keys::META_TRAIN.to_string(), self.train.to_string()),
            (keys::META_METRICS.to_string(), self.metrics.to_string()),
        ];
        let described = metadata_crc32(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        entries.push((
            keys::META_METADATA_CHECKSUM.to_string(),
            format_crc32(described),
        ));
        entries.push((keys::META_CHECKSUM.to_string(), format_crc32(crc.finish())));
        let metadata = entries.into_iter().collect();
        let mut bytes = safetensors::serialize(views, Some(metadata))
            .map_err(|e| Error::Serialize(format!("{e}")))?;
        canonicalize_header(&mut bytes)?;
        Ok(bytes)
    }
}

/// Rewrites the JSON header with its keys sorted. safetensors writes its metadata map in hash
/// order, which changes from run to run; sorted keys make the same checkpoint the same bytes,
/// so files can be compared and checksummed. The header keeps its length (same keys and
/// values), so tensor offsets stay valid.
fn canonicalize_header(bytes: &mut [u8]) -> Result<()> {
    let bad = |why: &str| Error::Serialize(format!("safetensors header: {why}"));
    let len = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad("too short"))? as usize;
    let header = bytes.get_mut(8..8 + len).ok_or_else(|| bad("truncated"))?;
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(&format!("{e}")))?;
    let sorted = serde_json::to_vec(&value).map_err(|e| bad(&format!("{e}")))?;
    if sorted.len() > header.len() {
        return Err(bad("sorted header is longer"));
    }
    header[..sorted.len()].copy_from_slice(&sorted);
    header[sorted.len()..].fill(b' ');
    Ok(())
}

/// The CRC-32 of every tensor's data, the tensors in the byte order of their names.
pub(crate) fn tensor_crc32(tensors: &SafeTensors<'_>) -> u32 {
    let mut names = tensors.names();
    names.sort_unstable();
    let mut crc = Crc32::new();
    for name in names {
        if let Ok(view) = tensors.tensor(name) {
            crc.update(view.data());
        }
    }
    crc.finish()
}

fn check_len(name: &str, shape: &[usize], len: usize) -> Result<()> {
    let expected: usize = shape.iter().product();
    if expected != len {
        return Err(Error::WrongShape {
            name: name.to_string(),
            expected: shape.to_vec(),
            found: vec![len],
        });
    }
    Ok(())
}

/// An f32 tensor of `shape` with finite values only, as reading requires.
fn check_f32(name: &str, shape: &[usize], values: &[f32]) -> Result<()> {
    check_len(name, shape, values.len())?;
    check_finite(name, values)
}

fn check_finite(name: &str, values: &[f32]) -> Result<()> {
    let count = values.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(Error::NonFinite {
            name: name.to_string(),
            count,
        });
    }
    Ok(())
}

/// Int8 scales within `0..=MAX_WEIGHT_SCALE` (see [`crate::limits::MAX_WEIGHT_SCALE`]).
fn check_scales(name: &str, scales: &[f32]) -> Result<()> {
    let count = scales
        .iter()
        .filter(|s| !(0.0..=MAX_WEIGHT_SCALE).contains(*s))
        .count();
    if count > 0 {
        return Err(Error::OutOfRange {
            name: name.to_string(),
            count,
            range: format!("0..={MAX_WEIGHT_SCALE}"),
        });
    }
    Ok(())
}

/// A tensor entry of a validated checkpoint (lengths were checked by `validate`).
fn f32_entry(
    name: String,
    shape: Vec<usize>,
    values: &[f32],
) -> (String, Dtype, Vec<usize>, Vec<u8>) {
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    (name, Dtype::F32, shape, bytes)
}

fn view<'a>(
    tensors: &SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<TensorView<'a>> {
    let view = tensors
        .tensor(name)
        .map_err(|_| Error::MissingTensor(name.to_string()))?;
    if view.dtype() != dtype {
        return Err(Error::WrongDtype {
            name: name.to_string(),
            expected: if dtype == Dtype::I8 { "I8" } else { "F32" },
            found: format!("{:?}", view.dtype()),
        });
    }
    if view.shape() != shape {
        return Err(Error::WrongShape {
            name: name.to_string(),
            expected: shape.to_vec(),
            found: view.shape().to_vec(),
        });
    }
    Ok(view)
}

fn read_f32(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let data = view(tensors, name, Dtype::F32, shape)?.data();
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    check_finite(name, &values)?;
    Ok(values)
}

fn read_i8(tensors: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<i8>> {
    let data = view(tensors, name, Dtype::I8, shape)?.data();
    Ok(data.iter().map(|&b| b as i8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::krotov_spec;

    fn checkpoint() -> Checkpoint {
        let mut spec = krotov_spec();
        spec.layers[1].kind = crate::LayerKind::FeedbackAlignment;
        Checkpoint {
            spec,
            layers: vec![
                LayerTensors {
                    weight: Weights::F32((0..12).map(|i| i as f32 * 0.1).collect()),
                    bias: None,
                    feedback: None,
                },
                LayerTensors {
                    weight: Weights::Int8 {
                        q: vec![1, -2, 3, -128, 127, 0],
                        scale: vec![0.5, 0.25],
                    },
                    bias: None,
                    feedback: Some(vec![0.0; 6]),
                },
            ],
            train: serde_json::json!({"epochs": 3}),
            metrics: serde_json::json!({"test_accuracy": 0.5}),
        }
    }

    /// Recomputes the `metadata_checksum` of a file whose header a test edited in place (same
    /// length), as a writer that wrote that spec itself would have.
    pub(crate) fn reseal_metadata(bytes: &mut [u8]) {
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let meta = header.metadata().as_ref().unwrap();
        let crc = metadata_crc32(meta.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        overwrite_crc(bytes, "metadata_checksum", crc);
    }

    /// Recomputes the `checksum` of a file whose tensor data a test changed, as a writer that
    /// wrote those values itself would have: the value checks then see them.
    pub(crate) fn reseal(bytes: &mut [u8]) {
        let crc = tensor_crc32(&SafeTensors::deserialize(bytes).unwrap());
        overwrite_crc(bytes, "checksum", crc);
    }

    /// Writes `crc` over the eight hex digits of metadata key `key` in the header, in place.
    fn overwrite_crc(bytes: &mut [u8], key: &str, crc: u32) {
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let key = format!("\"{key}\":\"crc32:");
        let at = bytes[..header_len]
            .windows(key.len())
            .position(|w| w == key.as_bytes())
            .unwrap()
            + key.len();
        bytes[at..at + 8].copy_from_slice(format!("{crc:08x}").as_bytes());
    }

    /// The header of `bytes` without its `checksum` metadata, as a file written before
    /// checksums.
    fn without_checksum(bytes: &[u8]) -> Vec<u8> {
        without_key(bytes, "checksum")
    }

    /// The header of `bytes` without metadata key `key`, as a file written before it existed.
    fn without_key(bytes: &[u8], key: &str) -> Vec<u8> {
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..header_len]).unwrap();
        header["__metadata__"]
            .as_object_mut()
            .unwrap()
            .remove(key)
            .unwrap();
        let text = serde_json::to_vec(&header).unwrap();
        let mut out = (text.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&text);
        out.extend_from_slice(&bytes[header_len..]);
        out
    }

    #[test]
    fn the_checksum_is_the_crc32_of_the_tensors_in_name_order() {
        let bytes = checkpoint().to_bytes().unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        // What a Python reader computes: zlib.crc32 of the data, tensors sorted by name.
        let mut names = tensors.names();
        names.sort();
        let mut data = Vec::new();
        for name in names {
            data.extend_from_slice(tensors.tensor(name).unwrap().data());
        }
        let expected = format_crc32(crate::checksum::crc32(&data));
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let stored = &header.metadata().as_ref().unwrap()["checksum"];
        assert_eq!(*stored, expected);
        let (_, integrity) = Checkpoint::from_bytes_with_integrity(&bytes).unwrap();
        assert_eq!(integrity.tensors, Some(expected));
        assert!(integrity.metadata.is_some());
    }

    /// A flipped bit in a weight turned 0.0115 into 3.9e36: finite, in range for an f32 layer,
    /// and accepted, while the device's accuracy fell from 95 % to 60 %. Every single-bit flip
    /// of the tensor data is now refused as damage.
    #[test]
    fn every_flipped_bit_of_the_tensor_data_is_refused_as_damage() {
        let bytes = checkpoint().to_bytes().unwrap();
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for at in header_len..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[at] ^= 1 << bit;
                let err = Checkpoint::from_bytes(&flipped).unwrap_err();
                assert!(
                    matches!(err, Error::Damaged { .. }),
                    "byte {at} bit {bit}: {err}"
                );
                assert!(
                    err.to_string().starts_with(
                        "the tensor data does not match its checksum: the file is damaged"
                    ),
                    "{err}"
                );
            }
        }
        // The weight of the report: 0.0115 and the same bits with bit 30 set.
        let mut ckpt = checkpoint();
        ckpt.layers[0].weight = Weights::F32(vec![0.0115; 12]);
        let mut bytes = ckpt.to_bytes().unwrap();
        let at = bytes
            .windows(4)
            .position(|w| w == 0.0115f32.to_le_bytes())
            .unwrap();
        bytes[at + 3] ^= 0x40;
        let flipped = f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert!(flipped.is_finite() && flipped > 1e36, "{flipped}");
        assert!(matches!(
            Checkpoint::from_bytes(&bytes),
            Err(Error::Damaged { .. })
        ));
    }

    #[test]
    fn a_file_written_before_checksums_still_loads_unchecked() {
        let ckpt = checkpoint();
        let old = without_key(
            &without_checksum(&ckpt.to_bytes().unwrap()),
            "metadata_checksum",
        );
        let (back, integrity) = Checkpoint::from_bytes_with_integrity(&old).unwrap();
        assert_eq!(back, ckpt);
        assert_eq!(integrity, Integrity::default());
        // Written again, it gains both.
        let (_, integrity) =
            Checkpoint::from_bytes_with_integrity(&back.to_bytes().unwrap()).unwrap();
        assert!(integrity.tensors.is_some() && integrity.metadata.is_some());
    }

    #[test]
    fn a_checksum_this_build_cannot_read_is_refused() {
        let bytes = checkpoint().to_bytes().unwrap();
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = core::str::from_utf8(&bytes[8..header_len]).unwrap();
        let start = header.find("crc32:").unwrap();
        for other in ["sha256", "crc32:zzzzzzzz", "CRC32:00000000"] {
            // Same length as `crc32:xxxxxxxx` where possible; otherwise a new header length.
            let edited = format!("{}{other}{}", &header[..start], &header[start + 14..]);
            let mut file = (edited.len() as u64).to_le_bytes().to_vec();
            file.extend_from_slice(edited.as_bytes());
            file.extend_from_slice(&bytes[header_len..]);
            let err = Checkpoint::from_bytes(&file).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::BadMetadata {
                        key: "checksum",
                        ..
                    }
                ),
                "{other}: {err}"
            );
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let ckpt = checkpoint();
        let back = Checkpoint::from_bytes(&ckpt.to_bytes().unwrap()).unwrap();
        assert_eq!(back, ckpt);
        assert!(!back.is_int8());
    }

    #[test]
    fn the_same_checkpoint_is_the_same_bytes() {
        let ckpt = checkpoint();
        let first = ckpt.to_bytes().unwrap();
        for _ in 0..5 {
            assert!(ckpt.to_bytes().unwrap() == first);
        }
        let header = core::str::from_utf8(&first[8..100]).unwrap();
        assert!(
            header.starts_with("{\"__metadata__\":{\"checksum\":\"crc32:"),
            "{header}"
        );
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = checkpoint().to_bytes().unwrap();
        for len in 0..bytes.len() {
            assert!(Checkpoint::from_bytes(&bytes[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn convolution_weights_are_stored_in_pytorch_layout() {
        let mut spec = krotov_spec();
        spec.input.width = 28;
        spec.input.height = 28;
        spec.input.preprocess = crate::Preprocess::Scale01;
        spec.layers = vec![crate::spec::tests::conv_layer()];
        spec.classes.clear();
        let weight: Vec<f32> = (0..250).map(|i| i as f32 * 0.01).collect();
        let ckpt = Checkpoint {
            spec,
            layers: vec![LayerTensors {
                weight: Weights::F32(weight.clone()),
                bias: Some(vec![0.5; 10]),
                feedback: None,
            }],
            train: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
        };
        let bytes = ckpt.to_bytes().unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(
            tensors.tensor("layers.0.weight").unwrap().shape(),
            [10, 1, 5, 5]
        );
        assert_eq!(tensors.tensor("layers.0.bias").unwrap().shape(), [10]);
        let back = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(back.layers[0].weight, Weights::F32(weight));
        // One bias per output value instead of per channel is refused.
        let mut wrong = ckpt.clone();
        wrong.layers[0].bias = Some(vec![0.5; 1440]);
        assert!(matches!(wrong.to_bytes(), Err(Error::WrongShape { .. })));
    }

    #[test]
    fn nan_weights_are_refused_when_read_and_when_written() {
        let mut ckpt = checkpoint();
        ckpt.layers[0].weight = Weights::F32(vec![f32::NAN; 12]);
        assert!(matches!(
            ckpt.to_bytes(),
            Err(Error::NonFinite { count: 12, .. })
        ));
        // A file written elsewhere: valid bytes with a marker value patched into NaN.
        let marker = 1234.5f32.to_le_bytes();
        ckpt.layers[0].weight = Weights::F32(vec![1234.5; 12]);
        let mut bytes = ckpt.to_bytes().unwrap();
        let mut patched = 0;
        for i in 0..bytes.len() - 3 {
            if bytes[i..i + 4] == marker {
                bytes[i..i + 4].copy_from_slice(&f32::NAN.to_le_bytes());
                patched += 1;
            }
        }
        assert_eq!(patched, 12);
        reseal(&mut bytes);
        assert!(matches!(
            Checkpoint::from_bytes(&bytes),
            Err(Error::NonFinite { count: 12, .. })
        ));
    }

    /// A scale of 3e38 is finite and evaluates, but `127 * scale` is infinite: a device that
    /// learned from it saved 339 infinities, then refused its own state at every boot.
    #[test]
    fn int8_scales_beyond_the_limit_are_refused_when_read_and_when_written() {
        let with_scale = |value: f32| {
            let mut ckpt = checkpoint();
            if let Weights::Int8 { scale, .. } = &mut ckpt.layers[1].weight {
                scale[0] = value;
            }
            ckpt
        };
        for value in [3e38, 600.0, -1.0, f32::NAN] {
            assert!(with_scale(value).to_bytes().is_err(), "{value}");
        }
        let err = with_scale(3e38).to_bytes().unwrap_err();
        assert!(
            matches!(&err, Error::OutOfRange { name, count: 1, .. } if name == "layers.1.weight_scale"),
            "{err}"
        );
        // The same file written elsewhere: the valid scales [0.5, 0.25] patched to [3e38, 0.25].
        let mut bytes = checkpoint().to_bytes().unwrap();
        let at = bytes
            .windows(8)
            .position(|w| w[..4] == 0.5f32.to_le_bytes() && w[4..] == 0.25f32.to_le_bytes())
            .unwrap();
        bytes[at..at + 4].copy_from_slice(&3e38f32.to_le_bytes());
        reseal(&mut bytes);
        assert!(matches!(
            Checkpoint::from_bytes(&bytes),
            Err(Error::OutOfRange { count: 1, .. })
        ));
    }

    #[test]
    fn wrong_shape_names_the_tensor() {
        let mut ckpt = checkpoint();
        ckpt.spec.layers[0].outputs = 4;
        ckpt.spec.layers[1].inputs = 4;
        ckpt.layers[0].weight = Weights::F32(vec![0.0; 16]);
        ckpt.layers[1].weight = Weights::F32(vec![0.0; 8]);
        ckpt.layers[1].feedback = None;
        let bytes = ckpt.to_bytes().unwrap();
        // Same bytes, but the stored spec claims 3 hidden units.
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = core::str::from_utf8(&bytes[8..header_len]).unwrap();
        let header = header
            .replace("\\\"outputs\\\":4", "\\\"outputs\\\":3")
            .replace(
                "\\\"inputs\\\":4,\\\"outputs\\\":2",
                "\\\"inputs\\\":3,\\\"outputs\\\":2",
            );
        let mut edited = bytes[..8].to_vec();
        edited.extend_from_slice(header.as_bytes());
        edited.extend_from_slice(&bytes[header_len..]);
        // As read, the edit is damage; resealed, as a writer of that spec would, a wrong shape.
        let err = Checkpoint::from_bytes(&edited).unwrap_err();
        assert!(matches!(&err, Error::MetadataDamaged { .. }), "{err}");
        reseal_metadata(&mut edited);
        let err = Checkpoint::from_bytes(&edited).unwrap_err();
        assert!(
            matches!(&err, Error::WrongShape { name, .. } if name == "layers.0.weight"),
            "{err}"
        );
    }

    #[test]
    fn a_flipped_digit_in_the_spec_is_damage_and_a_file_without_the_key_still_loads() {
        let bytes = checkpoint().to_bytes().unwrap();
        // The spec's p of 3 (a valid value, as a flipped bit could make it) turned into 4.
        let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = core::str::from_utf8(&bytes[8..header_len]).unwrap();
        let flipped = header.replacen("\\\"p\\\":3.0", "\\\"p\\\":4.0", 1);
        assert_ne!(flipped, header, "the spec holds p = 3");
        let mut edited = bytes[..8].to_vec();
        edited.extend_from_slice(flipped.as_bytes());
        edited.extend_from_slice(&bytes[header_len..]);
        let err = Checkpoint::from_bytes(&edited).unwrap_err();
        assert!(
            err.to_string()
                .contains("metadata (spec, provenance, metrics)"),
            "{err}"
        );
        // A file from before the key: loads, nothing of the metadata checked.
        let old = without_key(&bytes, "metadata_checksum");
        assert_eq!(Checkpoint::from_bytes(&old).unwrap(), checkpoint());
    }

    #[test]
    fn foreign_safetensors_file_is_refused() {
        let data = [0u8; 4];
        let view = TensorView::new(Dtype::F32, vec![1], &data).unwrap();
        let bytes = safetensors::serialize([("x", view)], None).unwrap();
        assert!(matches!(
            Checkpoint::from_bytes(&bytes),
            Err(Error::MissingMetadata("format"))
        ));
    }
}
