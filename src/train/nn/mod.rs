//! Layers that record themselves into a [`crate::Graph`] with named parameters, and a
//! [`Sequential`] container that holds any of them, with parameter names and layouts as
//! PyTorch's `nn.Sequential` has them (`0.weight` is `[out, in]`), so checkpoints move
//! between the two.
//!
//! A layer is anything that implements [`Module`]: the built-in ones ([`Linear`],
//! [`LayerNorm`], [`Embedding`], the activations and dropout of [`Layer`], a custom activation from
//! [`crate::custom::register`] as [`Layer::Map`]) and a user's own, written outside the
//! crate:
//!
//! ```
//! use backprop::nn::{Init, Layer, Linear, Module, Param, Scope, Sequential};
//! use backprop::{init, Graph, NodeId, Result};
//!
//! /// `x + body(x)`, as a residual block in PyTorch.
//! #[derive(Clone, Debug)]
//! struct Residual {
//!     body: Sequential,
//! }
//!
//! impl Module for Residual {
//!     fn forward(&self, scope: &mut Scope, x: NodeId) -> Result<NodeId> {
//!         let y = scope.child("body", &self.body, x)?;
//!         scope.graph().add(x, y)
//!     }
//!     fn children(&self) -> Vec<(String, &dyn Module)> {
//!         vec![("body".into(), &self.body)]
//!     }
//!     fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
//!         vec![("body".into(), &mut self.body)]
//!     }
//! }
//!
//! let mut rng = init::rng(0);
//! let body = Sequential::new().with(Linear::new(8, 8, Init::PyTorch, &mut rng)?).with(Layer::Relu);
//! let model = Sequential::new().with(Linear::new(4, 8, Init::PyTorch, &mut rng)?).with(Residual { body });
//! let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.body.0.weight", "1.body.0.bias"]);
//! let mut g = Graph::new();
//! let x = g.input("x", [2, 4])?;
//! let recorded = model.record(&mut g, x)?;
//! assert_eq!(g.shape(recorded.output)?.dims().to_vec(), vec![2, 8]);
//! # Ok::<(), backprop::Error>(())
//! ```

mod image;
mod layers;
mod module;
mod sequential;

pub use image::{AvgPool2d, BatchNorm, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, MaxPool2d, Unflatten};

pub use layers::{Embedding, Init, Layer, LayerNorm, Linear};
pub use module::{Module, ModuleClone, Param, Scope};
pub use sequential::{Recorded, Sequential};
