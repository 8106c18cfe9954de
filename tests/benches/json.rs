//! Our proto3 JSON against pbjson (the usual Rust choice: serde impls for prost types), on the same messages.
//!
//! `cargo bench -p rsgrpc-tests --features bench --bench json -- [--runs N]`
//!
//! The corpus is built once in our types and converted to prost's through the binary encoding, so both sides
//! hold the same data. Each run times writing the corpus as JSON and reading it back, for each side in turn
//! (the order flips every run); the table gives medians of nanoseconds per message and our/pbjson ratios.
//! Before timing, each side reads the other's JSON, and the results must encode to the same bytes.

use std::time::Instant;

use rsgrpc::json::{from_json, to_json};
use rsgrpc_tests::wire_gen::rsgrpc::test::v3 as ours;

#[allow(dead_code, clippy::all, clippy::pedantic, missing_docs)]
mod pbjson_v3 {
    include!(concat!(env!("OUT_DIR"), "/rsgrpc.test.v3.rs"));
    include!(concat!(env!("OUT_DIR"), "/rsgrpc.test.v3.serde.rs"));
}

/// A small deterministic generator, so every run measures the same corpus.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
    fn text(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b'a' + (self.next() % 26) as u8)).collect()
    }
}

fn scalars(rng: &mut Lcg) -> ours::Scalars {
    ours::Scalars {
        f_double: rng.next() as f64 / 7.0,
        f_float: (rng.next() % 10_000) as f32 / 3.0,
        f_int32: rng.next() as i32,
        f_int64: rng.next() as i64 - (1 << 52),
        f_uint32: rng.next() as u32,
        f_uint64: rng.next(),
        f_sint32: -(rng.next() as i32 & 0xffff),
        f_sint64: rng.next() as i64,
        f_fixed32: rng.next() as u32,
        f_fixed64: rng.next(),
        f_sfixed32: rng.next() as i32,
        f_sfixed64: rng.next() as i64,
        f_bool: rng.next() % 2 == 0,
        f_string: rng.text(24),
        f_bytes: rng.text(16).into_bytes(),
        f_enum: (rng.next() % 4) as i32,
        ..Default::default()
    }
}

fn repeated(rng: &mut Lcg) -> ours::RepeatedScalars {
    ours::RepeatedScalars {
        r_int32: (0..16).map(|_| rng.next() as i32).collect(),
        r_int64: (0..16).map(|_| rng.next() as i64).collect(),
        r_double: (0..16).map(|_| rng.next() as f64 / 3.0).collect(),
        r_string: (0..8).map(|_| rng.text(12)).collect(),
        r_message: (0..4).map(|_| scalars(rng)).collect(),
        ..Default::default()
    }
}

fn maps(rng: &mut Lcg) -> ours::Maps {
    ours::Maps {
        string_to_string: (0..8).map(|_| (rng.text(8), rng.text(16))).collect(),
        int64_to_int64: (0..8).map(|_| (rng.next() as i64, rng.next() as i64)).collect(),
        string_to_message: (0..2).map(|_| (rng.text(6), scalars(rng))).collect(),
        ..Default::default()
    }
}

/// One kind of message in both implementations.
struct Corpus<O, P> {
    name: &'static str,
    ours: Vec<O>,
    theirs: Vec<P>,
}

fn corpus<O, P>(name: &'static str, count: usize, make: impl Fn(&mut Lcg) -> O) -> Corpus<O, P>
where
    O: rsgrpc::Message + Default,
    P: prost::Message + Default,
{
    let mut rng = Lcg(0x5eed);
    let ours: Vec<O> = (0..count).map(|_| make(&mut rng)).collect();
    let theirs = ours.iter().map(|m| P::decode(m.encode_to_vec().as_slice()).expect("same schema")).collect();
    Corpus { name, ours, theirs }
}

/// Median nanoseconds per message for: our write, pbjson write, our read, pbjson read.
fn measure<O, P>(corpus: &Corpus<O, P>, runs: usize) -> [f64; 4]
where
    O: rsgrpc::json::JsonMessage + rsgrpc::Message + Default + PartialEq + std::fmt::Debug,
    P: prost::Message + Default + serde::Serialize + serde::de::DeserializeOwned,
{
    let our_json: Vec<String> = corpus.ours.iter().map(|m| to_json(m).expect("writes")).collect();
    let their_json: Vec<String> = corpus.theirs.iter().map(|m| serde_json::to_string(m).expect("writes")).collect();
    // Each side reads the other's output to the same message (compared in our types: BTreeMap maps sort).
    for (i, (mine, theirs)) in our_json.iter().zip(&their_json).enumerate() {
        let read_by_them: P = serde_json::from_str(mine).expect("pbjson reads our JSON");
        let read_by_us: O = from_json(theirs).expect("we read pbjson's JSON");
        let read_by_them = O::decode(read_by_them.encode_to_vec().as_slice()).expect("same schema");
        assert_eq!(read_by_them, read_by_us, "{} #{i}", corpus.name);
    }
    let per_message = |started: Instant| started.elapsed().as_nanos() as f64 / corpus.ours.len() as f64;
    let mut samples: [Vec<f64>; 4] = Default::default();
    for run in 0..runs {
        let mut ours_first = [true, false];
        if run % 2 == 1 {
            ours_first.reverse();
        }
        for ours_now in ours_first {
            if ours_now {
                let started = Instant::now();
                let written: usize = corpus.ours.iter().map(|m| to_json(m).expect("writes").len()).sum();
                samples[0].push(per_message(started));
                let started = Instant::now();
                for text in &our_json {
                    std::hint::black_box(from_json::<O>(text).expect("reads"));
                }
                samples[2].push(per_message(started));
                std::hint::black_box(written);
            } else {
                let started = Instant::now();
                let written: usize =
                    corpus.theirs.iter().map(|m| serde_json::to_string(m).expect("writes").len()).sum();
                samples[1].push(per_message(started));
                let started = Instant::now();
                for text in &their_json {
                    std::hint::black_box(serde_json::from_str::<P>(text).expect("reads"));
                }
                samples[3].push(per_message(started));
                std::hint::black_box(written);
            }
        }
    }
    samples.map(|mut values| {
        values.sort_by(|a, b| a.total_cmp(b));
        values[values.len() / 2]
    })
}

fn row(name: &str, [our_write, their_write, our_read, their_read]: [f64; 4]) {
    println!(
        "| {name} | {our_write:.0} | {their_write:.0} | {:.2} | {our_read:.0} | {their_read:.0} | {:.2} |",
        our_write / their_write,
        our_read / their_read
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).map_or(7, |v| v.parse().expect("number"));
    let scalars: Corpus<ours::Scalars, pbjson_v3::Scalars> = corpus("Scalars", 20_000, scalars);
    let repeated: Corpus<ours::RepeatedScalars, pbjson_v3::RepeatedScalars> =
        corpus("RepeatedScalars", 2_000, repeated);
    let maps: Corpus<ours::Maps, pbjson_v3::Maps> = corpus("Maps", 5_000, maps);
    println!("{runs} alternating runs; medians in ns per message; ratio = rsgrpc / pbjson (below 1 is faster).\n");
    println!("| message | rsgrpc write | pbjson write | ratio | rsgrpc read | pbjson read | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    row(scalars.name, measure(&scalars, runs));
    row(repeated.name, measure(&repeated, runs));
    row(maps.name, measure(&maps, runs));
}
