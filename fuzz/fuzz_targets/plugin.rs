//! The plugin: bytes as a `CodeGeneratorRequest`, decoded and answered. Properties: no panic; a response
//! holds an error or files, never both or neither; every generated file parses as Rust.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsgrpc_codegen::plugin;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = plugin::decode_request(data) else { return };
    let response = plugin::run(&request);
    match &response.error {
        Some(error) => {
            assert!(response.file.is_empty(), "an error ({error}) and files");
            assert!(!error.is_empty(), "an empty error");
        }
        None => {
            assert!(!response.file.is_empty(), "neither an error nor files");
            for file in &response.file {
                if let Err(e) = syn::parse_file(file.content()) {
                    panic!("{} does not parse as Rust: {e}\n{}", file.name(), file.content());
                }
            }
        }
    }
});
