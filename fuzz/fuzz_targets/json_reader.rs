//! The proto3 JSON reader, on the conformance suite's `TestAllTypesProto3` (every field kind: scalars,
//! enums, messages, oneofs, maps, repeated fields, every well-known type, `Any`). Properties: no panic;
//! what it reads it can write; written JSON reads back and writes the same again (print -> parse -> print
//! is stable), and so does the message after a trip through the binary encoding.

#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use prost::Message;
use rsgrpc::json::{from_json_with, to_json_with, JsonOptions, TypeRegistry};

#[allow(dead_code, clippy::all)]
#[path = "../../testdata/golden/conformance/mod.rs"]
mod conformance;

use conformance::protobuf_test_messages::proto3::{self, TestAllTypesProto3};

/// A registry with the well-known types and the test messages, so that an `Any` can hold them.
fn registry() -> Arc<TypeRegistry> {
    static REGISTRY: OnceLock<Arc<TypeRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut registry = TypeRegistry::with_well_known();
            proto3::register_json_types(&mut registry);
            Arc::new(registry)
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else { return };
    let Ok(json) = std::str::from_utf8(json) else { return };
    let options = JsonOptions {
        ignore_unknown: flags & 1 != 0,
        emit_defaults: flags & 2 != 0,
        proto_names: flags & 4 != 0,
        use_enum_numbers: flags & 8 != 0,
        case_insensitive_enums: flags & 16 != 0,
        registry: Some(registry()),
    };
    let Ok(message) = from_json_with::<TestAllTypesProto3>(json, &options) else { return };
    let printed = to_json_with(&message, &options).expect("a message read from JSON can be written");
    let reread: TestAllTypesProto3 = from_json_with(&printed, &options)
        .unwrap_or_else(|e| panic!("written JSON does not read back: {e}\n{printed}"));
    let reprinted = to_json_with(&reread, &options).expect("written again");
    assert_eq!(printed, reprinted, "print -> parse -> print changed the JSON");

    let binary = TestAllTypesProto3::decode(message.encode_to_vec().as_slice()).expect("our own encoding decodes");
    let from_binary = to_json_with(&binary, &options).expect("written after the binary trip");
    assert_eq!(printed, from_binary, "the binary trip changed the message");
});
