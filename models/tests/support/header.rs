//! Edits of a safetensors file's JSON header for tests that need a file a writer would not
//! produce (an edited spec, a file from before checksums), shared by the crates' tests (each
//! includes this file with `#[path]`). The tensor data is kept as it is: its offsets are
//! relative to the end of the header, so they stay valid whatever the header's new length.

#![allow(dead_code)]

/// `bytes` with its header edited by `edit`, the length prefix rewritten and the header padded
/// with spaces to a multiple of 8 bytes, as safetensors writers align it.
pub fn with_header_edit(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..end]).unwrap();
    edit(&mut header);
    let mut text = header.to_string().into_bytes();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[end..]);
    out
}

/// `bytes` with the JSON text of its spec edited by `edit`, which must change it, and its
/// `metadata_checksum` (when it has one) recomputed: the file a writer of that spec would make.
pub fn with_spec_edit(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    with_header_edit(bytes, |header| {
        let meta = &mut header["__metadata__"];
        let spec = meta["spec"].as_str().unwrap().to_string();
        let edited = edit(&spec);
        assert_ne!(edited, spec, "the edit changed nothing");
        meta["spec"] = edited.into();
        if meta.get("metadata_checksum").is_some() {
            let entries: Vec<(String, String)> = meta
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let crc = plastic_models::checksum::metadata_crc32(
                entries.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            );
            meta["metadata_checksum"] = plastic_models::checksum::format_crc32(crc).into();
        }
    })
}

/// `bytes` without its `checksum` metadata, as a file written before checksums.
pub fn without_checksum(bytes: &[u8]) -> Vec<u8> {
    with_header_edit(bytes, |header| {
        header["__metadata__"]
            .as_object_mut()
            .unwrap()
            .remove("checksum")
            .unwrap();
    })
}
