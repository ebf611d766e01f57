// Batches gathered on the device from a data set uploaded once (src/resident.rs): each
// training step reads its rows of the data set through an index buffer (the epoch's
// shuffled order, written once per epoch) instead of receiving a batch from the host.
//
// Bindings: 0 = table (the data set, read as raw 32-bit words), 1 = order (sample indices
// as exact f32 integers), 2 = out [rows, cols] (read_write), 3 = params, 4 = step counter
// [low, high] (see Op::Increment), 5 = palette [256] (the bytes entries only), 6 = labels
// (one byte each, four to a word), 7 = y_out [rows, classes] (read_write; the one-hot
// entries only).
// The step's batch is b = (count − 1) mod steps, count = low + 65536·high; output row r
// holds sample order[b·rows + r], or zeros past the end of the order (a partial last
// batch, whose padding rows the losses leave out).
// gather_rows:    out[r, c] = the f32 whose bits are table[s·cols + c].
// gather_bytes:   out[r, c] = palette[byte c of row s], rows of `words` words, four bytes
//                 to a word, little-endian.
// gather_one_hot: y_out[r, c] = 1 where c is the label of sample s, else 0.
// Dispatch: ceil(rows·cols / 256) (one-hot: rows·classes) workgroups of 256, spilling
// into y.

struct Params {
    rows: u32,
    cols: u32,
    samples: u32,
    steps: u32,
    words: u32,
    // The class count, for the one-hot entries.
    classes: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> table: array<u32>;
@group(0) @binding(1) var<storage, read> order: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read> step: array<f32>;
@group(0) @binding(5) var<storage, read> palette: array<f32>;

const NO_SAMPLE: u32 = 0xffffffffu;

// The sample output row r of this step holds, or NO_SAMPLE past the end of the order.
fn sample_of(r: u32) -> u32 {
    let count = u32(step[0]) + u32(step[1]) * 65536u;
    let batch = (count + params.steps - 1u) % params.steps;
    let at = batch * params.rows + r;
    if (at >= params.samples) {
        return NO_SAMPLE;
    }
    // An index past the data set (an order written other than by start_epoch) reads
    // nothing: a zero row, as on the CPU.
    let s = u32(order[at]);
    if (s >= params.samples) {
        return NO_SAMPLE;
    }
    return s;
}

// Byte `i` of the table read as bytes.
fn byte_at(i: u32) -> u32 {
    return (table[i / 4u] >> (8u * (i % 4u))) & 255u;
}

// Image value i of the batch (row i / cols) from a table of f32 bits; 0 without a sample.
fn row_value(i: u32) -> f32 {
    let s = sample_of(i / params.cols);
    if (s == NO_SAMPLE) {
        return 0.0;
    }
    return bitcast<f32>(table[s * params.cols + i % params.cols]);
}

// Image value i of the batch from a table of bytes, through the palette.
fn byte_value(i: u32) -> f32 {
    let s = sample_of(i / params.cols);
    if (s == NO_SAMPLE) {
        return 0.0;
    }
    return palette[byte_at(s * params.words * 4u + i % params.cols)];
}

// Target j of the batch (row j / classes) into y_out: 1 at the sample's label.
@group(0) @binding(6) var<storage, read> labels: array<u32>;
@group(0) @binding(7) var<storage, read_write> y_out: array<f32>;

fn one_hot(j: u32) {
    let s = sample_of(j / params.classes);
    var v = 0.0;
    if (s != NO_SAMPLE && ((labels[s / 4u] >> (8u * (s % 4u))) & 255u) == j % params.classes) {
        v = 1.0;
    }
    y_out[j] = v;
}

@compute @workgroup_size(256)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.rows * params.cols) {
        out[i] = row_value(i);
    }
}

@compute @workgroup_size(256)
fn gather_bytes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i < params.rows * params.cols) {
        out[i] = byte_value(i);
    }
}

@compute @workgroup_size(256)
fn gather_one_hot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat_index(gid, nwg);
    if (j < params.rows * params.classes) {
        one_hot(j);
    }
}

// The images and the one-hot targets of the same step in one launch (Group::Batch of
// src/fuse.rs): threads 0..rows·cols write the images, the next rows·classes the
// targets. Dispatch: ceil(rows·(cols + classes) / 256) workgroups of 256, spilling into y.
@compute @workgroup_size(256)
fn gather_batch_bytes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let images = params.rows * params.cols;
    if (i < images) {
        out[i] = byte_value(i);
    } else if (i < images + params.rows * params.classes) {
        one_hot(i - images);
    }
}

@compute @workgroup_size(256)
fn gather_batch_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    let images = params.rows * params.cols;
    if (i < images) {
        out[i] = row_value(i);
    } else if (i < images + params.rows * params.classes) {
        one_hot(i - images);
    }
}
