//! Tensor shapes: a list of 0 to [`Shape::MAX_RANK`] dims, stored row-major and
//! contiguous, written as PyTorch writes them (`[n, c, h, w]`; `[]` for a rank-0 scalar).
//!
//! Every op that works on rows (products, row sums, softmax cross-entropy, the fused
//! epilogues) reads a tensor through its *matrix view* `[rows, cols]`: the last dim is the
//! columns and all leading dims together the rows ([`Shape::rows`], [`Shape::cols`]). So
//! the rank-2 fast paths serve every rank where the data are laid out alike.

use std::fmt;

/// The shape of a row-major, contiguous tensor of rank 0 to [`Shape::MAX_RANK`].
///
/// Dims are held as 32-bit integers (kernels index with them), so a shape is small to copy
/// and to carry in errors; a dim past `u32::MAX` is held as that and marks the shape as
/// oversized, which every recording method refuses ([`Shape::checked_len`] is `None`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [u32; Shape::MAX_RANK],
    rank: u8,
    oversized: bool,
}

/// The dims of a shape, read as a slice of `usize` (`shape.dims()[k]`,
/// `shape.dims().iter()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    values: [usize; Shape::MAX_RANK],
    len: u8,
}

impl std::ops::Deref for Dims {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.values[..self.len as usize]
    }
}

impl Shape {
    /// The highest rank a tensor may have.
    pub const MAX_RANK: usize = 6;

    /// A `[rows, cols]` shape.
    pub const fn new(rows: usize, cols: usize) -> Self {
        let oversized = rows > u32::MAX as usize || cols > u32::MAX as usize;
        Shape { dims: [narrow(rows), narrow(cols), 0, 0, 0, 0], rank: 2, oversized }
    }

    /// The `[1, 1]` shape the library's scalars (losses, learning rates) have.
    pub const SCALAR: Shape = Shape::new(1, 1);

    /// The most elements one tensor may hold: kernels index with 32-bit integers, and
    /// both backends keep one limit so that a graph compiles on both or on neither.
    pub const MAX_ELEMENTS: usize = u32::MAX as usize;

    /// The shape of `dims`, or `None` past [`Shape::MAX_RANK`] dims.
    pub fn from_dims(dims: &[usize]) -> Option<Shape> {
        if dims.len() > Self::MAX_RANK {
            return None;
        }
        let mut shape = Shape { dims: [0; Self::MAX_RANK], rank: dims.len() as u8, oversized: false };
        for (held, &d) in shape.dims.iter_mut().zip(dims) {
            *held = narrow(d);
            shape.oversized |= d > u32::MAX as usize;
        }
        Some(shape)
    }

    /// The dims, outermost first.
    pub fn dims(&self) -> Dims {
        let mut values = [0; Self::MAX_RANK];
        for (v, &d) in values.iter_mut().zip(&self.dims) {
            *v = d as usize;
        }
        Dims { values, len: self.rank }
    }

    /// Whether a dim was past `u32::MAX` (held as `u32::MAX`).
    pub const fn is_oversized(&self) -> bool {
        self.oversized
    }

    /// The number of dims.
    pub const fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The columns of the matrix view: the last dim (1 for a rank-0 scalar).
    pub const fn cols(&self) -> usize {
        match self.rank {
            0 => 1,
            r => self.dims[r as usize - 1] as usize,
        }
    }

    /// The rows of the matrix view: the product of every dim but the last (saturating).
    pub const fn rows(&self) -> usize {
        let mut rows = 1usize;
        let mut i = 0;
        while i + 1 < self.rank as usize {
            rows = rows.saturating_mul(self.dims[i] as usize);
            i += 1;
        }
        rows
    }

    /// Number of elements (saturating: a shape too large to count reports `usize::MAX`;
    /// recording such a shape is an error, see [`Shape::checked_len`]).
    pub const fn len(&self) -> usize {
        if self.oversized {
            return usize::MAX;
        }
        self.rows().saturating_mul(self.cols())
    }

    /// True when the shape holds no element.
    pub fn is_empty(&self) -> bool {
        self.dims().contains(&0)
    }

    /// The number of elements, or `None` beyond [`Shape::MAX_ELEMENTS`].
    // On 32-bit targets (a web page) the limit is `usize::MAX` and the overflow check does
    // all the work.
    #[cfg_attr(target_pointer_width = "32", allow(clippy::absurd_extreme_comparisons))]
    pub fn checked_len(&self) -> Option<usize> {
        let n = self.dims().iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        n.filter(|&n| n <= Self::MAX_ELEMENTS && !self.oversized)
    }

    /// The shape with its last two dims swapped (a rank-2 shape transposed).
    pub fn transposed(&self) -> Shape {
        let mut out = *self;
        let r = self.rank();
        if r >= 2 {
            out.dims.swap(r - 2, r - 1);
        }
        out
    }

    /// The dim `dim` counts, counting from the end when negative (`-1` is the last), or
    /// `None` outside `-rank .. rank`.
    pub fn axis(&self, dim: isize) -> Option<usize> {
        let rank = self.rank() as isize;
        let d = if dim < 0 { dim + rank } else { dim };
        (0..rank).contains(&d).then_some(d as usize)
    }

    /// This shape with dim `dim` replaced by `size`.
    pub fn with_dim(&self, dim: usize, size: usize) -> Shape {
        let mut out = *self;
        out.dims[dim] = narrow(size);
        out.oversized |= size > u32::MAX as usize;
        out
    }

    /// Row-major strides: how far apart neighbours along each dim are stored.
    pub fn strides(&self) -> [usize; Shape::MAX_RANK] {
        // An array, not a Vec: a CPU step computes strides for its layout ops and
        // allocates nothing.
        let mut strides = [1; Shape::MAX_RANK];
        for d in (0..self.rank().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * self.dims[d + 1] as usize;
        }
        strides
    }

    /// Whether a value of this shape can be repeated to fill `target`, by PyTorch's rules:
    /// dims aligned from the end, each equal to the target's or 1, and no more dims than
    /// the target has.
    pub fn broadcasts_to(&self, target: Shape) -> bool {
        self.rank() <= target.rank()
            && self.dims().iter().rev().zip(target.dims().iter().rev()).all(|(&d, &t)| d == t || d == 1)
    }

    /// The shape two operands broadcast to by PyTorch's rules, if any.
    pub fn broadcast(a: Shape, b: Shape) -> Option<Shape> {
        Shape::broadcast_or_conflict(a, b).ok()
    }

    /// The shape `a` and `b` broadcast to.
    ///
    /// # Errors
    ///
    /// The first dim (counted from the end, `-1` the last) where they conflict, with the
    /// two sizes there.
    pub fn broadcast_or_conflict(a: Shape, b: Shape) -> Result<Shape, (isize, usize, usize)> {
        let rank = a.rank().max(b.rank());
        let mut out = Shape { dims: [0; Self::MAX_RANK], rank: rank as u8, oversized: a.oversized || b.oversized };
        for back in 1..=rank {
            let da = if back <= a.rank() { a.dims[a.rank() - back] } else { 1 };
            let db = if back <= b.rank() { b.dims[b.rank() - back] } else { 1 };
            out.dims[rank - back] = match (da, db) {
                _ if da == db => da,
                (1, _) => db,
                (_, 1) => da,
                _ => return Err((-(back as isize), da as usize, db as usize)),
            };
        }
        Ok(out)
    }

    /// Whether a value of this shape, broadcast to `target`, is read correctly through
    /// the matrix views alone: element `(r, c)` of the target at
    /// `(r mod rows) · cols + c mod cols` of this value. True when the last dim is 1 or
    /// the target's, and the leading dims are some 1s followed by the target's own (a
    /// scalar, a bias row, a per-row column, a trailing block repeated). The elementwise
    /// kernels and fused epilogues read operands this way; others are expanded first.
    pub fn reads_by_rows(&self, target: Shape) -> bool {
        if !self.broadcasts_to(target) {
            return false;
        }
        let (n, m) = (target.rank(), self.rank());
        if m == 0 || self.len() == 1 {
            return true;
        }
        let last_fits = self.cols() == 1 || self.cols() == target.cols();
        // Leading dims of this value, aligned to the target's, without the last.
        let lead: Vec<(u32, u32)> = (0..n.saturating_sub(1))
            .map(|k| {
                let own = if k + m >= n { self.dims[k + m - n] } else { 1 };
                (own, target.dims[k])
            })
            .collect();
        let first_real = lead.iter().position(|&(own, _)| own != 1).unwrap_or(lead.len());
        last_fits && lead[first_real..].iter().all(|&(own, t)| own == t)
    }
}

macro_rules! from_array {
    ($($n:literal),*) => {$(
        impl From<[usize; $n]> for Shape {
            fn from(dims: [usize; $n]) -> Self {
                Shape::from_dims(&dims).expect("ranks up to MAX_RANK have a From impl")
            }
        }
    )*};
}
from_array!(0, 1, 2, 3, 4, 5, 6);

/// `d` as held in a shape: `u32::MAX` for anything larger (the shape is then marked).
const fn narrow(d: usize) -> u32 {
    if d > u32::MAX as usize {
        u32::MAX
    } else {
        d as u32
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            // An oversized dim is held as u32::MAX: say that it was at least that.
            let at_least = if self.oversized && *d == u32::MAX as usize { "≥" } else { "" };
            write!(f, "{at_least}{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::Shape;

    #[test]
    fn matrix_view_of_every_rank() {
        let cases: [(Shape, usize, usize); 4] =
            [([].into(), 1, 1), ([5].into(), 1, 5), ([2, 3].into(), 2, 3), ([2, 3, 4, 5].into(), 24, 5)];
        for (shape, rows, cols) in cases {
            assert_eq!((shape.rows(), shape.cols()), (rows, cols), "{shape}");
        }
    }

    #[test]
    fn broadcasting_follows_pytorch() {
        let b = |a: &[usize], b: &[usize]| {
            Shape::broadcast_or_conflict(Shape::from_dims(a).unwrap(), Shape::from_dims(b).unwrap())
        };
        assert_eq!(b(&[2, 1, 4], &[3, 1]), Ok(Shape::from([2, 3, 4])));
        assert_eq!(b(&[], &[2, 3]), Ok(Shape::from([2, 3])));
        assert_eq!(b(&[2, 3, 4], &[3, 5]), Err((-1, 4, 5)));
        assert_eq!(b(&[2, 3, 4], &[5, 4]), Err((-2, 3, 5)));
    }

    #[test]
    fn row_reads_cover_the_common_operands_only() {
        let out = Shape::from([2, 3, 4]);
        for fits in [[1usize, 1, 4], [1, 3, 4], [2, 3, 1], [1, 3, 1], [1, 1, 1]] {
            assert!(Shape::from(fits).reads_by_rows(out), "{fits:?}");
        }
        assert!(Shape::from([4]).reads_by_rows(out));
        for expands in [[2usize, 1, 4], [2, 1, 1]] {
            assert!(!Shape::from(expands).reads_by_rows(out), "{expands:?}");
        }
    }
}
