//! The tonic side of the code generation benchmark: tonic-prost-build 0.14 generating messages, clients and
//! servers for every file of a FileDescriptorSet (as `compile_protos` would after running protoc).
//!
//!     tonic-gen CORPUS.fds OUT_DIR
//!
//! `measure.sh` builds this file as the binary of a throwaway crate under its output directory.

use std::process::ExitCode;

use prost::Message;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [descriptors, out_dir] = args.as_slice() else {
        eprintln!("usage: tonic-gen CORPUS.fds OUT_DIR");
        return ExitCode::FAILURE;
    };
    let bytes = match std::fs::read(descriptors) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("tonic-gen: cannot read {descriptors}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let set = match prost_types::FileDescriptorSet::decode(bytes.as_slice()) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("tonic-gen: {descriptors} is not a FileDescriptorSet: {error}");
            return ExitCode::FAILURE;
        }
    };
    let generated = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .emit_rerun_if_changed(false)
        .include_file("mod.rs")
        .out_dir(out_dir)
        .compile_fds(set);
    match generated {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tonic-gen: {error}");
            ExitCode::FAILURE
        }
    }
}
