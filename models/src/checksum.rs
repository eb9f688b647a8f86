//! The integrity check of a checkpoint's tensor data: CRC-32 (IEEE 802.3, the polynomial of
//! zlib, gzip and PNG; Python's `zlib.crc32`).
//!
//! # Design
//! A checkpoint's weights are what a flipped bit on a card or in a copy silently changes: one
//! bit of an f32 turned a weight of 0.0115 into 3.9e36, which is finite and loads, and cost a
//! device a third of its accuracy. The `checksum` metadata key (`crc32:` and eight lower-case
//! hex digits) holds the CRC-32 of every tensor's bytes, the tensors taken in the byte order of
//! their names and their data concatenated as stored (little-endian). The order of the names,
//! not of the file, so that any writer's layout gives the same value:
//! `zlib.crc32(b"".join(t[n].tobytes() for n in sorted(t)))` in Python.
//!
//! Why CRC-32 and not a cryptographic hash: it is there to catch damage (a CRC-32 detects every
//! burst of up to 32 flipped bits and all but one in 2^32 other patterns), not tampering;
//! it is a dozen lines of `no_std` code with a 1 KiB table built at compile time, so the
//! microcontroller checks its model at boot without another dependency; and every language
//! has it in its standard library.

use alloc::format;
use alloc::string::String;

/// The prefix of the `checksum` metadata value, naming the algorithm.
pub const CRC32_PREFIX: &str = "crc32:";

/// The byte-wise lookup table of the reflected polynomial `0xEDB88320`.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// A running CRC-32: [`Crc32::update`] with each piece of data in order, then
/// [`Crc32::finish`].
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// The CRC of no data so far.
    pub const fn new() -> Self {
        Self(0xFFFF_FFFF)
    }

    /// Adds `data` to the CRC.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        for &b in data {
            c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The CRC-32 of everything added.
    pub const fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// The CRC-32 of `data` in one call.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

/// The CRC-32 of the tensor data of a safetensors file, as its `checksum` records it: for a
/// tool that rewrites tensor data in place and must record the new checksum, or a test that
/// makes a file with given bytes.
pub fn of_safetensors(bytes: &[u8]) -> crate::Result<u32> {
    let tensors = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| crate::Error::NotSafetensors(format!("{e}")))?;
    Ok(crate::checkpoint::tensor_crc32(&tensors))
}

/// The CRC-32 the `metadata_checksum` key records: of every metadata entry but the two
/// checksums, in the byte order of the keys, each as its key, a zero byte, its value (UTF-8, as
/// stored) and a zero byte. The spec is what decides what a model computes, and a flipped bit
/// in it (`"n":4.5` turned `"n":4.7`) reads as well as the original; the zero bytes keep
/// `("ab", "c")` and `("a", "bc")` apart. In Python:
/// `zlib.crc32(b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in sorted(meta.items())
/// if k not in ("checksum", "metadata_checksum")))`.
pub fn metadata_crc32<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> u32 {
    let mut covered: alloc::vec::Vec<(&str, &str)> = entries
        .into_iter()
        .filter(|(key, _)| {
            *key != crate::keys::META_CHECKSUM && *key != crate::keys::META_METADATA_CHECKSUM
        })
        .collect();
    covered.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut crc = Crc32::new();
    for (key, value) in covered {
        crc.update(key.as_bytes());
        crc.update(&[0]);
        crc.update(value.as_bytes());
        crc.update(&[0]);
    }
    crc.finish()
}

/// The `checksum` metadata value of a CRC: `crc32:` and eight lower-case hex digits.
pub fn format_crc32(crc: u32) -> String {
    format!("{CRC32_PREFIX}{crc:08x}")
}

/// The CRC a `checksum` metadata value holds, or why it is not one this build reads.
pub fn parse_crc32(value: &str) -> core::result::Result<u32, String> {
    let hex = value.strip_prefix(CRC32_PREFIX).ok_or_else(|| {
        format!(
            "`{value}` is not `crc32:` and eight hex digits (the only algorithm this build reads)"
        )
    })?;
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{value}` is not `crc32:` and eight hex digits"));
    }
    u32::from_str_radix(hex, 16).map_err(|e| format!("`{value}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check value of the CRC catalogue, and values `zlib.crc32` gives.
    #[test]
    fn matches_the_standard_check_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        let mut split = Crc32::new();
        split.update(b"1234");
        split.update(b"56789");
        assert_eq!(split.finish(), 0xCBF4_3926);
    }

    /// The value Python's `zlib.crc32` gives for the same entries (see `metadata_crc32`):
    /// the checksums themselves left out, the rest in key order.
    #[test]
    fn the_metadata_checksum_is_zlibs_of_the_keyed_values_in_key_order() {
        let entries = [
            ("train", "{}"),
            ("spec", "{\"a\":1}"),
            ("checksum", "crc32:00000000"),
            ("format", "plastic/1"),
            ("metadata_checksum", "x"),
        ];
        assert_eq!(metadata_crc32(entries), 0x3426_28bd);
        assert_ne!(metadata_crc32([("ab", "c")]), metadata_crc32([("a", "bc")]));
    }

    #[test]
    fn the_text_form_round_trips_and_refuses_others() {
        assert_eq!(format_crc32(0xCBF4_3926), "crc32:cbf43926");
        assert_eq!(format_crc32(7), "crc32:00000007");
        assert_eq!(parse_crc32("crc32:cbf43926"), Ok(0xCBF4_3926));
        assert_eq!(parse_crc32("crc32:CBF43926"), Ok(0xCBF4_3926));
        for bad in [
            "sha256:00",
            "crc32:",
            "crc32:123",
            "crc32:+bf43926",
            "crc32:cbf439260",
            "",
        ] {
            assert!(parse_crc32(bad).is_err(), "{bad}");
        }
    }
}
