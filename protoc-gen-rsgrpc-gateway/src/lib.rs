//! The code generator behind `protoc-gen-rsgrpc-gateway`: `google.api.http` rules in, REST/JSON routes for
//! the rsgrpc runtime's gateway out. It reads the [rules](rules) from the descriptors' raw bytes, checks
//! them into [bindings](bindings), and [emits](emit) a module per service, added to the package files
//! protoc-gen-rsgrpc writes (at their `module` insertion point).

pub mod api_config;
pub mod bindings;
pub mod emit;
pub mod params;
pub mod plugin;
pub mod rules;
