//! The generator behind `protoc-gen-rsgrpc-openapi`: OpenAPI 2.0 and 3.1 documents of the REST/JSON gateway,
//! from the same `google.api.http` rules and [bindings](rsgrpc_gateway_codegen::bindings) the gateway
//! plugin generates routes from, with schemas in the proto3 JSON form the gateway reads and writes.

pub mod context;
pub mod document;
pub mod options;
pub mod params;
pub mod plugin;
pub mod schema;
pub mod yaml;
