//! What every generated WGSL module is made from: the shared prelude, the element type
//! the templates are instantiated with, and the helpers elementwise expressions call.

/// What every module starts with: `shaders/prelude.wgsl`.
pub(super) const PRELUDE: &str = include_str!("../../../shaders/prelude.wgsl");

/// The helpers elementwise expressions may call, for element type `T`.
const MAP_HELPERS: &str = include_str!("../../../shaders/map_helpers.wgsl");

/// The element type the templates are instantiated with.
pub(super) const ELEMENT: &str = "f32";

/// `template` with its element type `T` made concrete (in `: T`, `<T>` and `-> T`).
pub(super) fn with_element(template: &str) -> String {
    template
        .replace(": T", &format!(": {ELEMENT}"))
        .replace("<T>", &format!("<{ELEMENT}>"))
        .replace("-> T", &format!("-> {ELEMENT}"))
}

/// The helpers of `map_helpers.wgsl` for [`ELEMENT`].
pub(super) fn map_helpers() -> String {
    with_element(MAP_HELPERS)
}
