//! The code generated for testdata, compiled as part of the test suite: the committed golden outputs, so that
//! `cargo clippy -D warnings` over this crate proves the generated code compiles without warnings.

/// testdata/protos generated with default parameters.
#[path = "../../testdata/golden/default/mod.rs"]
pub mod gen;
