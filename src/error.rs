//! The crate's one error type.

use crate::graph::shape::Shape;

/// Everything that can go wrong while recording, compiling or running a graph.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two operands whose shapes do not fit the op.
    #[error("{op}: incompatible shapes {lhs} and {rhs}")]
    Shape {
        /// The op being recorded.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Shape,
        /// Shape of the second operand (or the expected shape).
        rhs: Shape,
    },
    /// Two shapes that do not broadcast by PyTorch's rules.
    #[error("{op}: {lhs} and {rhs} do not broadcast: dim {dim} is {a} against {b}")]
    Broadcast {
        /// The op being recorded.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Shape,
        /// Shape of the second operand (or the target shape).
        rhs: Shape,
        /// The first dim, counted from the end (`-1` the last), where they conflict.
        dim: isize,
        /// The first operand's size there.
        a: usize,
        /// The second's.
        b: usize,
    },
    /// An argument that is not a shape mismatch but still invalid.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The op or function that rejected the argument.
        op: &'static str,
        /// What was wrong.
        msg: String,
    },
    /// A node id (or [`crate::Gradients`]) recorded in another graph.
    #[error("{node} belongs to another graph")]
    ForeignNode {
        /// The id, e.g. `#4`.
        node: String,
    },
    /// A node of this graph that the session cannot read: it was not kept when compiling.
    #[error("{node} was not kept when compiling: list it in `keep` to read it")]
    NotKept {
        /// The node's name or id.
        node: String,
    },
    /// A computed node read before the session has run once.
    #[error("{node} has not been computed yet: run the session first")]
    NotComputed {
        /// The node's name or id.
        node: String,
    },
    /// A size beyond what can be allocated or indexed.
    #[error("{what} needs {size}; the limit is {limit}")]
    TooLarge {
        /// What was too large.
        what: String,
        /// Its size, with units.
        size: String,
        /// The limit, with units.
        limit: String,
    },
    /// Data handed to a node has the wrong number of values.
    #[error("node {node}: got {got} values, its shape {shape} holds {expected}")]
    DataLength {
        /// Name or id of the node.
        node: String,
        /// The node's shape.
        shape: Shape,
        /// Values the shape holds.
        expected: usize,
        /// Values supplied.
        got: usize,
    },
    /// Differentiation reached an op that has no backward rule.
    #[error("{op} has no gradient here: derivative and update ops have no backward rule, and loss targets take none")]
    NotDifferentiable {
        /// The op.
        op: &'static str,
    },
    /// No GPU adapter could be found.
    #[error("no GPU adapter found (backends tried: {tried}). {hint}")]
    NoAdapter {
        /// The wgpu backends that were asked.
        tried: String,
        /// How to get one.
        hint: &'static str,
    },
    /// The adapter refused to open a device.
    #[error("could not open the GPU device on {adapter}: {msg}")]
    RequestDevice {
        /// The adapter's name.
        adapter: String,
        /// wgpu's message.
        msg: String,
    },
    /// wgpu reported a validation or runtime error.
    #[error("GPU error in {kernel}: {msg}")]
    Gpu {
        /// The kernel or operation that failed.
        kernel: String,
        /// wgpu's message.
        msg: String,
    },
    /// Training produced a NaN or an infinity.
    #[error("non-finite value at step {step}: {what} was NaN or infinite")]
    NonFinite {
        /// 1-based step of the first occurrence.
        step: u64,
        /// The loss or the parameter whose gradient went non-finite.
        what: String,
    },
    /// A file could not be read or written. The message carries the operating system's
    /// reason (e.g. "Permission denied"); it is not repeated as a separate source.
    #[error("{path}: {}", describe_io(error))]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A file was readable but its contents are wrong.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// Data-parallel training across processes failed: a rank failed a step, the ranks'
    /// models differ, or the communication failed.
    #[error("data-parallel training: {msg}")]
    Distributed {
        /// What happened, and on how many ranks.
        msg: String,
    },
}

/// The reason of an I/O error in plain words: the OS text without its "(os error N)".
fn describe_io(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// `Err(Error::TooLarge)` naming `what`, its element count and the limit, when `shape`
/// holds more than [`Shape::MAX_ELEMENTS`] values.
pub(crate) fn check_size(shape: Shape, what: &str) -> Result<()> {
    if shape.checked_len().is_some() {
        return Ok(());
    }
    Err(Error::TooLarge {
        what: format!("{what} of shape {shape}"),
        size: match shape.is_oversized() {
            true => format!("more than {} values", Shape::MAX_ELEMENTS),
            false => format!("{} values", shape.dims().iter().map(|&d| d as u128).product::<u128>()),
        },
        limit: format!("{} values per tensor", Shape::MAX_ELEMENTS),
    })
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Error {
        Error::Io { path: path.display().to_string(), error }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
