//! Seeing what was computed: charts of training and of values, and drawings of graphs.

pub mod plot;
pub mod view;
