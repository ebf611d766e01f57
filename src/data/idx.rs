//! The IDX format of MNIST and Fashion-MNIST: a magic number (two zero bytes, a type byte,
//! the number of dimensions), big-endian u32 dimensions, then the data. Files may be
//! gzip-compressed.

use std::io::Read;

use crate::error::{Error, Result};

/// Type byte of unsigned 8-bit data, the only type these data sets use.
const UNSIGNED_BYTE: u8 = 0x08;

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Idx {
    /// Dimensions, e.g. `[count, 28, 28]` for images or `[count]` for labels.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

fn format_error(source: &str, msg: String) -> Error {
    Error::Format { path: source.to_owned(), msg }
}

/// Decompresses `bytes` if they start with the gzip magic number.
fn inflate(bytes: &[u8], source: &str) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format_error(source, format!("corrupt or truncated gzip data: {e}")))?;
    Ok(out)
}

/// Parses an IDX file (plain or gzip) of `expected_dims` dimensions; `source` names it in
/// errors.
pub fn parse(bytes: &[u8], expected_dims: usize, source: &str) -> Result<Idx> {
    let bytes = inflate(bytes, source)?;
    if bytes.len() < 4 {
        return Err(format_error(source, format!("truncated: {} bytes, not even a magic number", bytes.len())));
    }
    let (zeros, kind, ndims) = (&bytes[..2], bytes[2], bytes[3] as usize);
    if zeros != [0, 0] || kind != UNSIGNED_BYTE || ndims != expected_dims {
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let want = 0x0800 + expected_dims as u32;
        return Err(format_error(source, format!("wrong magic number 0x{magic:08x}: expected 0x{want:08x}")));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(format_error(source, "truncated inside the header".into()));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize).collect();
    let expected: usize = dims.iter().product();
    let data = &bytes[header..];
    if data.len() < expected {
        let msg = format!("truncated: dimensions {dims:?} need {expected} bytes of data, found {}", data.len());
        return Err(format_error(source, msg));
    }
    Ok(Idx { dims, data: data[..expected].to_vec() })
}

/// Encodes `data` with `dims` as an uncompressed IDX file (for tests and tools).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
