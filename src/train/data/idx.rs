//! The IDX format of MNIST and Fashion-MNIST: a magic number (two zero bytes, a type byte,
//! the number of dimensions), big-endian u32 dimensions, then the data. Files may be
//! gzip-compressed; compressed input is inflated only as far as its header says the data
//! reaches, so a small file that inflates to gigabytes costs no more than its header claims.

use std::io::Read;

use crate::error::{Error, Result};

/// Type byte of unsigned 8-bit data, the only type these data sets use.
const UNSIGNED_BYTE: u8 = 0x08;

/// The largest data an IDX file may declare: 2³² bytes (MNIST's training images are 47 MB),
/// or what the address space holds where that is less (a 32-bit web page).
pub const MAX_BYTES: usize = (u32::MAX as usize).saturating_add(1);

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

/// Reads up to `len` bytes (fewer only at the end of the stream).
fn read_up_to(reader: &mut impl Read, len: usize, source: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .take(len as u64)
        .read_to_end(&mut out)
        .map_err(|e| format_error(source, format!("corrupt or truncated gzip data: {e}")))?;
    Ok(out)
}

/// Parses an IDX file (plain or gzip) of `expected_dims` dimensions; `source` names it in
/// errors.
///
/// # Errors
///
/// [`Error::Format`] for a wrong magic number, a truncated header or data, corrupt gzip
/// data, or dimensions whose product exceeds [`MAX_BYTES`].
pub fn parse(bytes: &[u8], expected_dims: usize, source: &str) -> Result<Idx> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse_stream(&mut flate2::read::MultiGzDecoder::new(bytes), expected_dims, source)
    } else {
        parse_stream(&mut &bytes[..], expected_dims, source)
    }
}

// On 32-bit targets `MAX_BYTES` is `usize::MAX` and the overflow check does all the work.
#[cfg_attr(target_pointer_width = "32", allow(clippy::absurd_extreme_comparisons))]
fn parse_stream(reader: &mut impl Read, expected_dims: usize, source: &str) -> Result<Idx> {
    let magic = read_up_to(reader, 4, source)?;
    if magic.len() < 4 {
        return Err(format_error(source, format!("truncated: {} bytes, not even a magic number", magic.len())));
    }
    let (kind, ndims) = (magic[2], magic[3] as usize);
    if magic[..2] != [0, 0] || kind != UNSIGNED_BYTE || ndims != expected_dims {
        let magic = u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]);
        let want = 0x0800 + expected_dims as u32;
        return Err(format_error(source, format!("wrong magic number 0x{magic:08x}: expected 0x{want:08x}")));
    }
    let header = read_up_to(reader, 4 * ndims, source)?;
    if header.len() < 4 * ndims {
        return Err(format_error(source, "truncated inside the header".into()));
    }
    let dims: Vec<usize> = header.chunks(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n <= MAX_BYTES);
    let Some(expected) = expected else {
        let msg = format!("dimensions {dims:?} declare more than {MAX_BYTES} bytes of data");
        return Err(format_error(source, msg));
    };
    let data = read_up_to(reader, expected, source)?;
    if data.len() < expected {
        let msg = format!("truncated: dimensions {dims:?} need {expected} bytes of data, found {}", data.len());
        return Err(format_error(source, msg));
    }
    // One byte more: the end of the stream (where gzip checks its CRC), or data the header
    // does not account for, which is not inflated any further.
    if !read_up_to(reader, 1, source)?.is_empty() {
        let msg = format!("more data than dimensions {dims:?} declare (a damaged header?)");
        return Err(format_error(source, msg));
    }
    Ok(Idx { dims, data })
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
