//! Never a panic on bad input: real requests with random bytes flipped must give a response (files or an
//! error), whatever they decode to.

mod support;

use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;
use rsgrpc_codegen::{embedded, plugin};
use support::*;

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn real_request() -> Vec<u8> {
    let files: Vec<_> = ["rsgrpc/test/proto2.proto", "rsgrpc/test/scalars.proto", "rsgrpc/test/recursive.proto"]
        .iter()
        .map(|f| protos_dir().join(f))
        .collect();
    let (proto_file, file_to_generate) = embedded::parse(&[protos_dir()], &files).expect("testdata parses");
    CodeGeneratorRequest { file_to_generate, proto_file, ..Default::default() }.encode_to_vec()
}

#[test]
fn mutated_requests_never_panic() {
    let original = real_request();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut decoded, mut answered_with_error) = (0, 0);
    for round in 0..600 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
        }
        let Ok(request) = plugin::decode_request(&bytes) else { continue };
        decoded += 1;
        let response = std::panic::catch_unwind(|| plugin::run(&request))
            .unwrap_or_else(|_| panic!("round {round}: the generator panicked on a mutated request"));
        if response.error.is_some() {
            answered_with_error += 1;
        } else {
            assert!(!response.file.is_empty(), "round {round}: neither files nor an error");
        }
    }
    // Enough of the mutations must get past decoding to exercise the generator itself.
    assert!(decoded > 200, "only {decoded} mutated requests decoded");
    eprintln!("{decoded} mutated requests decoded, {answered_with_error} answered with an error");
}
