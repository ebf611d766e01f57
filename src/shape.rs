//! Tensor shapes. Every tensor is a row-major matrix `[rows, cols]`: a batch of rows.
//! A scalar is `[1, 1]` and a bias vector `[1, n]`; that covers dense networks without
//! the bookkeeping of arbitrary rank.

use std::fmt;

/// The shape of a row-major matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Number of rows (the batch axis).
    pub rows: usize,
    /// Number of columns (the feature axis).
    pub cols: usize,
}

impl Shape {
    /// A `[rows, cols]` shape.
    pub const fn new(rows: usize, cols: usize) -> Self {
        Shape { rows, cols }
    }

    /// The `[1, 1]` shape of a scalar.
    pub const SCALAR: Shape = Shape::new(1, 1);

    /// The most elements one tensor may hold: kernels index with 32-bit integers, and
    /// both backends keep one limit so that a graph compiles on both or on neither.
    pub const MAX_ELEMENTS: usize = u32::MAX as usize;

    /// Number of elements (saturating: a shape too large to count reports `usize::MAX`;
    /// recording such a shape is an error, see [`Shape::checked_len`]).
    pub const fn len(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    /// True when the shape holds no element.
    pub const fn is_empty(&self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    /// The number of elements, or `None` beyond [`Shape::MAX_ELEMENTS`].
    pub fn checked_len(&self) -> Option<usize> {
        self.rows.checked_mul(self.cols).filter(|&n| n <= Self::MAX_ELEMENTS)
    }

    /// The shape with rows and columns swapped.
    pub const fn transposed(&self) -> Shape {
        Shape::new(self.cols, self.rows)
    }

    /// Whether a value of this shape can be repeated to fill `target`: equal shapes, a row
    /// `[1, m]` repeated down `[n, m]`, a column `[n, 1]` repeated across it, or a scalar
    /// `[1, 1]` repeated everywhere.
    pub fn broadcasts_to(&self, target: Shape) -> bool {
        let row = self.rows == 1 && self.cols == target.cols;
        let column = self.cols == 1 && self.rows == target.rows;
        *self == target || *self == Shape::SCALAR || row || column
    }

    /// The shape two operands broadcast to, if any (see [`Shape::broadcasts_to`]).
    pub fn broadcast(a: Shape, b: Shape) -> Option<Shape> {
        if b.broadcasts_to(a) {
            Some(a)
        } else if a.broadcasts_to(b) {
            Some(b)
        } else {
            None
        }
    }
}

impl From<[usize; 2]> for Shape {
    fn from([rows, cols]: [usize; 2]) -> Self {
        Shape::new(rows, cols)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.rows, self.cols)
    }
}
