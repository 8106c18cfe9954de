//! The gRPC message decoder: length-prefixed framing and gzip, as `codec::Decoder` reads a stream.
//! Properties: no panic; how the bytes are split into chunks changes nothing (the same messages, then the
//! same error or the same leftover); no message is longer than the limit; and what the encoder writes
//! (compressed or not) decodes back to the same message.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use rsgrpc::codec::{self, Decoder};
use rsgrpc::compression::Encoding;
use rsgrpc::well_known::BytesValue;

/// Limits to try: none to speak of, tiny, and the default.
const LIMITS: [usize; 4] = [0, 16, 1024, 4 * 1024 * 1024];

/// What a decoder made of a stream: the messages, then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Bytes>,
    /// The first error (its code and message), if any.
    error: Option<String>,
    /// Whether `finish` accepted the end of the stream.
    finished: bool,
}

fn decoder(max: usize, gzip: bool) -> Decoder {
    let mut decoder = Decoder::new(max);
    decoder.set_encoding(gzip.then_some(Encoding::Gzip));
    decoder
}

fn drain(decoder: &mut Decoder, outcome: &mut Outcome) -> bool {
    loop {
        match decoder.next_message() {
            Ok(Some(message)) => outcome.messages.push(message),
            Ok(None) => return true,
            Err(status) => {
                outcome.error = Some(format!("{:?}: {}", status.code(), status.message()));
                return false;
            }
        }
    }
}

/// Feeds `stream` in chunks of the given sizes (cycled), reading messages after each.
fn run(stream: &[u8], chunks: &[usize], max: usize, gzip: bool) -> Outcome {
    let mut decoder = decoder(max, gzip);
    let mut outcome = Outcome { messages: Vec::new(), error: None, finished: false };
    let mut rest = stream;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().copied().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        decoder.push(chunk);
        rest = tail;
        if !drain(&mut decoder, &mut outcome) {
            return outcome;
        }
    }
    outcome.finished = decoder.finish().is_ok();
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else { return };
    let Some((&split, stream)) = rest.split_first() else { return };
    let gzip = options & 1 == 1;
    let max = LIMITS[usize::from(options >> 1) % LIMITS.len()];

    let whole = run(stream, &[], max, gzip);
    let chunks: Vec<usize> = [split & 0x0f, split >> 4, 1, 7].iter().map(|&n| usize::from(n) + 1).collect();
    let chunked = run(stream, &chunks, max, gzip);
    assert_eq!(whole, chunked, "splitting the stream changed what was decoded");
    for message in &whole.messages {
        assert!(message.len() <= max, "a message of {} bytes passed the limit of {max}", message.len());
    }

    // The encoder's output decodes back, compressed or not (the limit is on the uncompressed size).
    let original = BytesValue { value: stream.to_vec(), ..Default::default() };
    let encoding = gzip.then_some(Encoding::Gzip);
    let Ok(framed) = codec::encode_with(&original, max, encoding) else {
        assert!(original.encoded_len() > max, "encoding refused a message within the limit");
        return;
    };
    let decoded = run(&framed, &chunks, max, gzip);
    if framed.len() - 5 > max {
        // gzip made it larger than the limit, which applies to the bytes on the wire too (as in grpc-go).
        assert!(decoded.error.is_some(), "a frame over the limit was taken");
        return;
    }
    assert_eq!(decoded.error, None, "the decoder refused what the encoder wrote");
    assert!(decoded.finished && decoded.messages.len() == 1, "{decoded:?}");
    let back: BytesValue = codec::decode(decoded.messages[0].clone()).expect("the message decodes");
    assert_eq!(back.value, original.value);
});
