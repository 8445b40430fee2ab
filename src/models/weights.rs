//! A version's weights file: checked when saved, verified when read.

use std::fs;
use std::io;
use std::path::Path;

use super::error::ModelsError;
use super::meta::{VersionId, WeightsInfo};
use crate::persist::PersistError;

/// The size and CRC-32 of `bytes`, which must be a whole safetensors file
/// (a header that parses, tensors whose data lie inside the file).
pub(super) fn info_of(bytes: &[u8]) -> Result<WeightsInfo, ModelsError> {
    safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        ModelsError::invalid(
            "model weights",
            format!("{} bytes", bytes.len()),
            format!("a safetensors file ({e})"),
        )
    })?;
    Ok(WeightsInfo {
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
    })
}

/// The weights file at `path`, if its size and checksum are what `info`
/// recorded; [`ModelsError::Damaged`] naming the file when it is missing or
/// differs (a read the system refuses is an I/O error, not damage).
pub(super) fn read_verified(
    path: &Path,
    version: VersionId,
    info: WeightsInfo,
) -> Result<Vec<u8>, ModelsError> {
    let damaged = |why: String| ModelsError::Damaged {
        version,
        path: path.to_path_buf(),
        why,
    };
    let bytes = fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => damaged("the weights file is missing".into()),
        _ => ModelsError::Persist(PersistError::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        }),
    })?;
    if bytes.len() as u64 != info.bytes {
        return Err(damaged(format!(
            "{} bytes, the metadata records {}",
            bytes.len(),
            info.bytes
        )));
    }
    let crc = crc32fast::hash(&bytes);
    if crc != info.crc32 {
        return Err(damaged(format!(
            "checksum {crc:08x}, the metadata records {:08x}",
            info.crc32
        )));
    }
    Ok(bytes)
}
