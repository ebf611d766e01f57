//! The IDX reader on files this test writes, including the broken cases, and batching.

use backprop::data::{idx, Dataset, CLASSES};
use backprop::Error;

fn images(n: usize) -> Vec<u8> {
    idx::encode(&[n, 2, 2], &(0..n * 4).map(|i| (i * 17 % 256) as u8).collect::<Vec<_>>())
}

fn labels(n: usize) -> Vec<u8> {
    idx::encode(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn format_message(result: backprop::Result<Dataset>) -> String {
    match result {
        Err(Error::Format { msg, .. }) => msg,
        other => panic!("expected a format error, got {other:?}"),
    }
}

pub fn reads_plain_and_gzip_and_scales_pixels() {
    let plain = Dataset::from_idx(&images(3), &labels(3), "plain").unwrap();
    let packed = Dataset::from_idx(&gzip(&images(3)), &gzip(&labels(3)), "gz").unwrap();
    assert_eq!(plain, packed);
    assert_eq!((plain.len(), plain.pixels()), (3, 4));
    assert_eq!(plain.images()[1], 17.0 / 255.0);
    assert_eq!(plain.labels(), &[0, 1, 2]);
}

pub fn wrong_magic_number() {
    let mut bad = images(2);
    bad[2] = 0x0d; // float data, not unsigned bytes
    assert!(format_message(Dataset::from_idx(&bad, &labels(2), "t")).contains("wrong magic number 0x00000d03"));
    // A labels file where images belong.
    assert!(format_message(Dataset::from_idx(&labels(2), &labels(2), "t")).contains("wrong magic number"));
}

pub fn truncated_files() {
    let full = images(3);
    let cut = &full[..full.len() - 1];
    assert!(format_message(Dataset::from_idx(cut, &labels(3), "t")).contains("truncated"));
    assert!(format_message(Dataset::from_idx(&full[..6], &labels(3), "t")).contains("truncated"));
    let packed = gzip(&full);
    assert!(format_message(Dataset::from_idx(&packed[..packed.len() / 2], &labels(3), "t")).contains("gzip"));
}

pub fn counts_must_agree_and_labels_fit() {
    assert!(format_message(Dataset::from_idx(&images(3), &labels(4), "t")).contains("3 images but 4 labels"));
    let bad_label = idx::encode(&[1], &[10]);
    assert!(format_message(Dataset::from_idx(&images(1), &bad_label, "t")).contains("label 10"));
}

pub fn batches_pad_the_last_partial_batch() {
    let data = Dataset::from_idx(&images(3), &labels(3), "t").unwrap();
    let (mut x, mut y) = (vec![9.0; 4 * 4], vec![9.0; 4 * CLASSES]);
    data.fill_batch(&[2, 0], &mut x, &mut y).unwrap();
    assert_eq!(&x[..4], &data.images()[8..12]);
    assert_eq!(&x[4..8], &data.images()[0..4]);
    assert!(x[8..].iter().chain(&y[2 * CLASSES..]).all(|&v| v == 0.0), "padding rows are zero");
    assert_eq!(y[2], 1.0); // sample 2 has label 2
    assert_eq!(y[CLASSES], 1.0); // sample 0 has label 0
}

pub fn the_embedded_split_reads() {
    let dir = "data"; // cargo runs tests from the package root
    let data = Dataset::load(
        &std::path::Path::new(dir).join("t10k-images-idx3-ubyte.gz"),
        &std::path::Path::new(dir).join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    assert_eq!((data.len(), data.pixels()), (10_000, 784));
    assert!(data.images().iter().all(|&p| (0.0..=1.0).contains(&p)));
}

/// Dimensions whose product overflows, or exceeds what a file may declare, are a format
/// error, not an overflow panic or a huge allocation.
pub fn dimensions_that_overflow_are_errors() {
    let header = |dims: &[u32]| {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        dims.iter().for_each(|d| bytes.extend_from_slice(&d.to_be_bytes()));
        bytes.extend_from_slice(&[0; 16]);
        bytes
    };
    for dims in [[4, 1 << 31, 1 << 31], [u32::MAX, u32::MAX, 2], [1 << 16, 1 << 16, 2]] {
        let text = format_message(Dataset::from_idx(&header(&dims), &labels(4), "t"));
        assert!(text.contains("declare more than"), "{dims:?}: {text}");
    }
    let no_pixels = idx::encode(&[2, 0, 28], &[]);
    assert!(format_message(Dataset::from_idx(&no_pixels, &labels(2), "t")).contains("0 × 28"));
}

/// Gzip input is inflated only as far as the header says the data reaches: data past it
/// is refused after one byte, without inflating the rest. The rest here ends in a corrupt
/// CRC trailer, which inflating to the end (as a decompression bomb needs) would report.
pub fn gzip_is_inflated_only_as_far_as_the_header_says() {
    let mut stream = images(2);
    stream.extend(std::iter::repeat_n(0u8, 1 << 20));
    let mut packed = gzip(&stream);
    let n = packed.len();
    packed[n - 8..].iter_mut().for_each(|b| *b ^= 0xff);
    let text = format_message(Dataset::from_idx(&packed, &labels(2), "bomb"));
    assert!(text.contains("more data than dimensions [2, 2, 2] declare"), "{text}");
    // A stream that ends where its header says is read to its end, and its CRC checked.
    let mut short = gzip(&images(2));
    let n = short.len();
    short[n - 8..].iter_mut().for_each(|b| *b ^= 0xff);
    assert!(format_message(Dataset::from_idx(&short, &labels(2), "t")).contains("gzip"));
}

/// A gzip file of several members (`cat a.gz b.gz`) reads as their concatenation, as
/// zcat reads it.
pub fn multi_member_gzip_reads_whole() {
    let whole = images(3);
    let (head, tail) = whole.split_at(10);
    let mut packed = gzip(head);
    packed.extend(gzip(tail));
    let data = Dataset::from_idx(&packed, &labels(3), "members").unwrap();
    assert_eq!(data, Dataset::from_idx(&whole, &labels(3), "plain").unwrap());
}
