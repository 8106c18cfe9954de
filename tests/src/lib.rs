//! The code generated for testdata, compiled as part of the test suite: the committed golden outputs, so that
//! `cargo clippy -D warnings` over this crate proves the generated code compiles without warnings.

/// testdata/protos generated with default parameters.
#[path = "../../testdata/golden/default/mod.rs"]
pub mod gen;

/// testdata/protos generated with `btree_map=.` (sorted maps, for byte-for-byte comparisons with other
/// implementations' deterministic output) and `bytes=.rsgrpc.test.v3.OptionalScalars`.
#[path = "../../testdata/golden/wire/mod.rs"]
pub mod wire_gen;

/// The `options` case: docs.proto and the shop package generated with every code-layout parameter
/// (extern_path into [`gen`], attributes, bytes, btree_map, disable_comments, include_file=lib.rs and
/// runtime_crate=crate::rt).
#[path = "../../testdata/golden/options/lib.rs"]
pub mod options_gen;

/// The runtime under the name the `options` case was generated with (`runtime_crate=crate::rt`).
pub use rsgrpc as rt;
