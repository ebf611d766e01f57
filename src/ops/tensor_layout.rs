//! Recording the layout ops of N-d tensors, as PyTorch names them: views that cost
//! nothing (`reshape`, `flatten`, `squeeze`, `unsqueeze`) and strided copies (`permute`,
//! `transpose_dims`, `expand`, `narrow`, `pad`, `cat`, `stack`), and indexing
//! (`index_select`, `embedding`). Dims may be negative, counting from the end.

use crate::error::{Error, Result};
use crate::graph::op::Op;
use crate::graph::shape::Shape;
use crate::graph::{Graph, NodeId};

/// `Err` for a dim outside `-rank .. rank` of `shape`.
pub(crate) fn axis(op: &'static str, shape: Shape, dim: isize) -> Result<usize> {
    shape.axis(dim).ok_or_else(|| Error::InvalidArgument {
        op,
        msg: format!("dim {dim} is out of range for {shape} (rank {})", shape.rank()),
    })
}

/// The shape of `dims`, or an error naming `op` past the highest rank.
pub(crate) fn shape_of(op: &'static str, dims: &[usize]) -> Result<Shape> {
    Shape::from_dims(dims).ok_or_else(|| Error::InvalidArgument {
        op,
        msg: format!("{} dims; tensors have at most {}", dims.len(), Shape::MAX_RANK),
    })
}

impl Graph {
    /// `x` under another shape of the same element count (PyTorch's `reshape` and
    /// `view`): no copy, the result shares `x`'s storage.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the counts differ; [`Error::ForeignNode`] for an id
    /// of another graph.
    pub fn reshape(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let (from, to) = (self.shape(x)?, shape.into());
        if from.len() != to.len() {
            let msg = format!("{from} holds {} values, {to} holds {}", from.len(), to.len());
            return Err(Error::InvalidArgument { op: "reshape", msg });
        }
        if from == to {
            return Ok(x);
        }
        self.push(Op::Reshape, &[x], to)
    }

    /// Dims `start ..= end` of `x` merged into one (PyTorch's `flatten`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range or `start` after `end`.
    pub fn flatten(&mut self, x: NodeId, start: isize, end: isize) -> Result<NodeId> {
        let s = self.shape(x)?;
        if s.rank() == 0 {
            return self.reshape(x, [1]);
        }
        let (a, b) = (axis("flatten", s, start)?, axis("flatten", s, end)?);
        if a > b {
            let msg = format!("start dim {start} comes after end dim {end} of {s}");
            return Err(Error::InvalidArgument { op: "flatten", msg });
        }
        let d = s.dims();
        let dims: Vec<usize> =
            d[..a].iter().copied().chain([d[a..=b].iter().product()]).chain(d[b + 1..].iter().copied()).collect();
        self.reshape(x, shape_of("flatten", &dims)?)
    }

    /// `x` without dim `dim` when its size is 1, else `x` itself (PyTorch's `squeeze`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range.
    pub fn squeeze(&mut self, x: NodeId, dim: isize) -> Result<NodeId> {
        let s = self.shape(x)?;
        let d = axis("squeeze", s, dim)?;
        if s.dims()[d] != 1 {
            return Ok(x);
        }
        let dims: Vec<usize> = s.dims().iter().enumerate().filter(|&(k, _)| k != d).map(|(_, &v)| v).collect();
        self.reshape(x, shape_of("squeeze", &dims)?)
    }

    /// `x` with a dim of size 1 inserted at `dim` (`-1` appends; PyTorch's `unsqueeze`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim outside `-rank - 1 ..= rank` or a result past
    /// the highest rank.
    pub fn unsqueeze(&mut self, x: NodeId, dim: isize) -> Result<NodeId> {
        let s = self.shape(x)?;
        let rank = s.rank() as isize;
        let d = if dim < 0 { dim + rank + 1 } else { dim };
        if !(0..=rank).contains(&d) {
            let msg = format!("dim {dim} is out of range for inserting into {s} (rank {rank})");
            return Err(Error::InvalidArgument { op: "unsqueeze", msg });
        }
        let mut dims = s.dims().to_vec();
        dims.insert(d as usize, 1);
        self.reshape(x, shape_of("unsqueeze", &dims)?)
    }

    /// `x` with its dims reordered: output dim `k` is input dim `dims[k]` (PyTorch's
    /// `permute`). A copy, except that a product reading the result of swapping its last
    /// two dims folds the swap into its loads.
    ///
    /// ```
    /// use backprop::{Device, Graph};
    ///
    /// // Two heads of a [batch 1, time 2, width 4] sequence: [1, 2, 2, 2] → [1, 2 heads, 2, 2].
    /// let mut g = Graph::new();
    /// let x = g.constant([1, 2, 4], (0..8).map(|v| v as f32).collect())?;
    /// let split = g.reshape(x, [1, 2, 2, 2])?;
    /// let heads = g.permute(split, &[0, 2, 1, 3])?;
    /// let transposed = g.transpose_dims(heads, -2, -1)?; // folded into the product
    /// let scores = g.matmul(heads, transposed)?; // per head q·qᵀ
    /// let weights = g.softmax_dim(scores, -1)?;
    /// assert_eq!(&g.shape(weights)?.dims()[..], &[1, 2, 2, 2]);
    /// let mut session = Device::Cpu.compile_inference(&g, &[heads])?;
    /// assert_eq!(session.run_and_read(&[heads])?[0], [0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]);
    /// # Ok::<(), backprop::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `dims` names every dim of `x` once.
    pub fn permute(&mut self, x: NodeId, dims: &[isize]) -> Result<NodeId> {
        let s = self.shape(x)?;
        let mut perm = [0u8; Shape::MAX_RANK];
        let mut seen = [false; Shape::MAX_RANK];
        if dims.len() != s.rank() {
            let msg = format!("{} dims given for {s} (rank {})", dims.len(), s.rank());
            return Err(Error::InvalidArgument { op: "permute", msg });
        }
        for (k, &dim) in dims.iter().enumerate() {
            let d = axis("permute", s, dim)?;
            if std::mem::replace(&mut seen[d], true) {
                return Err(Error::InvalidArgument { op: "permute", msg: format!("dim {dim} is named twice") });
            }
            perm[k] = d as u8;
        }
        if perm[..s.rank()].iter().enumerate().all(|(k, &p)| k == p as usize) {
            return Ok(x);
        }
        let out: Vec<usize> = perm[..s.rank()].iter().map(|&p| s.dims()[p as usize]).collect();
        self.push(Op::Permute { perm }, &[x], shape_of("permute", &out)?)
    }

    /// `x` with dims `d0` and `d1` swapped (PyTorch's `transpose(d0, d1)`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range.
    pub fn transpose_dims(&mut self, x: NodeId, d0: isize, d1: isize) -> Result<NodeId> {
        let s = self.shape(x)?;
        let (a, b) = (axis("transpose", s, d0)?, axis("transpose", s, d1)?);
        let mut dims: Vec<isize> = (0..s.rank() as isize).collect();
        dims.swap(a, b);
        self.permute(x, &dims)
    }

    /// `x` repeated along its size-1 dims to `shape`, new dims in front (PyTorch's
    /// `expand`). Elementwise ops broadcast by themselves; this is for the explicit case.
    ///
    /// # Errors
    ///
    /// [`Error::Broadcast`] when `x` does not broadcast to `shape`.
    pub fn expand(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let (from, to) = (self.shape(x)?, shape.into());
        broadcast_check("expand", from, to)?;
        if from == to {
            return Ok(x);
        }
        crate::error::check_size(to, "expand")?;
        self.push(Op::Expand, &[x], to)
    }

    /// `len` entries of `x` along `dim` from `start` (PyTorch's `narrow`, and slicing).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range, or a range that is empty or
    /// past the end.
    pub fn narrow(&mut self, x: NodeId, dim: isize, start: usize, len: usize) -> Result<NodeId> {
        let s = self.shape(x)?;
        let d = axis("narrow", s, dim)?;
        if len == 0 || start.checked_add(len).is_none_or(|end| end > s.dims()[d]) {
            let msg = format!("entries {start}..{} of dim {dim} of {s}", start.saturating_add(len));
            return Err(Error::InvalidArgument { op: "narrow", msg });
        }
        if len == s.dims()[d] {
            return Ok(x);
        }
        self.push(Op::Narrow { dim: d as u8, start: start as u32 }, &[x], s.with_dim(d, len))
    }

    /// `x` with `before` and `after` entries of `value` added along `dim` (PyTorch's
    /// `F.pad` with `mode="constant"`, one dim at a time).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range or a value that is not finite;
    /// [`Error::TooLarge`] past the size limit.
    pub fn pad(&mut self, x: NodeId, dim: isize, before: usize, after: usize, value: f32) -> Result<NodeId> {
        let s = self.shape(x)?;
        let d = axis("pad", s, dim)?;
        if !value.is_finite() {
            return Err(Error::InvalidArgument { op: "pad", msg: format!("value {value} is not finite") });
        }
        let size = s.dims()[d].checked_add(before).and_then(|n| n.checked_add(after));
        let size = size.ok_or_else(|| Error::InvalidArgument { op: "pad", msg: "too many entries".into() })?;
        let out = s.with_dim(d, size);
        crate::error::check_size(out, "pad")?;
        if before == 0 && after == 0 {
            return Ok(x);
        }
        self.push(Op::Pad { dim: d as u8, start: before as u32, value }, &[x], out)
    }

    /// `xs` joined along `dim` (PyTorch's `cat`): each placed at its offset by padding,
    /// the padded parts added.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for no inputs or a dim out of range; [`Error::Shape`]
    /// when the inputs differ in rank or in a dim other than `dim`.
    pub fn cat(&mut self, xs: &[NodeId], dim: isize) -> Result<NodeId> {
        let Some(&first) = xs.first() else {
            return Err(Error::InvalidArgument { op: "cat", msg: "no tensors to join".into() });
        };
        let s0 = self.shape(first)?;
        let d = axis("cat", s0, dim)?;
        let mut total = 0usize;
        for &x in xs {
            let s = self.shape(x)?;
            if s.rank() != s0.rank() || s.with_dim(d, 1) != s0.with_dim(d, 1) {
                return Err(Error::Shape { op: "cat", lhs: s0, rhs: s });
            }
            total = total.saturating_add(s.dims()[d]);
        }
        let mut sum: Option<NodeId> = None;
        let mut start = 0;
        for &x in xs {
            let size = self.shape(x)?.dims()[d];
            let placed = self.pad(x, d as isize, start, total - start - size, 0.0)?;
            sum = Some(match sum {
                Some(previous) => self.add(previous, placed)?,
                None => placed,
            });
            start += size;
        }
        Ok(sum.expect("at least one input"))
    }

    /// `xs`, all of one shape, stacked along a new dim `dim` (PyTorch's `stack`).
    ///
    /// # Errors
    ///
    /// As [`Graph::cat`] and [`Graph::unsqueeze`].
    pub fn stack(&mut self, xs: &[NodeId], dim: isize) -> Result<NodeId> {
        let mut parts = Vec::with_capacity(xs.len());
        for &x in xs {
            parts.push(self.unsqueeze(x, dim)?);
        }
        self.cat(&parts, dim)
    }

    /// The entries of `x` along `dim` that `indices` name (exact integers held as f32),
    /// laid out in the indices' shape: `x.dims[..dim] ++ indices.dims ++ x.dims[dim+1..]`
    /// (PyTorch's `index_select` for 1-D indices, and beyond). Its gradient is a
    /// deterministic scatter-add. An index outside `0 .. x.dims[dim]` reads zeros: write
    /// indices through [`Graph::check_indices`]-checked data to have it refused instead.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a dim out of range or a result past the highest
    /// rank; [`Error::TooLarge`] past the size limit.
    pub fn index_select(&mut self, x: NodeId, dim: isize, indices: NodeId) -> Result<NodeId> {
        let (s, si) = (self.shape(x)?, self.shape(indices)?);
        let d = axis("index_select", s, dim)?;
        let dims: Vec<usize> =
            s.dims()[..d].iter().chain(si.dims().iter()).chain(&s.dims()[d + 1..]).copied().collect();
        let out = shape_of("index_select", &dims)?;
        crate::error::check_size(out, "index_select")?;
        let id = self.push(Op::IndexSelect { dim: d as u8 }, &[x, indices], out)?;
        Ok(id)
    }

    /// An embedding lookup (PyTorch's `nn.Embedding`): row `i` of `weight [count, dim]`
    /// for each index `i` of `indices`, shape `indices.dims ++ [dim]`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] unless `weight` is rank 2; as [`Graph::index_select`].
    pub fn embedding(&mut self, weight: NodeId, indices: NodeId) -> Result<NodeId> {
        let s = self.shape(weight)?;
        if s.rank() != 2 {
            return Err(Error::Shape { op: "embedding", lhs: s, rhs: Shape::new(s.len(), 1) });
        }
        self.index_select(weight, 0, indices)
    }

    /// Checks index data before it is written to an index input of `x` along `dim`:
    /// every value an exact integer in `0 .. x.dims[dim]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the first bad index and where it is.
    pub fn check_indices(&self, x: NodeId, dim: isize, indices: &[f32]) -> Result<()> {
        let s = self.shape(x)?;
        let size = s.dims()[axis("index_select", s, dim)?];
        match indices.iter().position(|&v| crate::graph::strided::index_in(v, size).is_none()) {
            None => Ok(()),
            Some(at) => Err(Error::InvalidArgument {
                op: "index_select",
                msg: format!(
                    "index {} at position {at} is not an integer in 0..{size} (dim {dim} of {s})",
                    indices[at]
                ),
            }),
        }
    }
}

/// `Err` unless `from` broadcasts to `to`, naming the dim where it does not.
pub(crate) fn broadcast_check(op: &'static str, from: Shape, to: Shape) -> Result<()> {
    if from.broadcasts_to(to) {
        return Ok(());
    }
    match Shape::broadcast_or_conflict(from, to) {
        Err((dim, a, b)) => Err(Error::Broadcast { op, lhs: from, rhs: to, dim, a, b }),
        Ok(_) => Err(Error::Shape { op, lhs: from, rhs: to }),
    }
}
