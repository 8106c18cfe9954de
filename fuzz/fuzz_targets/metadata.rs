//! Received metadata: header lines (`name: value`, one per line) read as a `MetadataMap`, a `Status`
//! (`grpc-status`, `grpc-message`, `grpc-status-details-bin`) and `grpc-timeout` values. Properties: no
//! panic; a status read, written and read again is the same status; a timeout read and written again
//! never comes back shorter; what `insert`/`insert_bin` accept reads back unchanged.

#![no_main]

use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use rsgrpc::{timeout, MetadataMap, Status};

/// The longest timeout the header can say: 99,999,999 hours.
const MAX_TIMEOUT: Duration = Duration::from_secs(99_999_999 * 3600);

fn headers(data: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    headers
}

fn check_timeout(value: &[u8]) {
    let Some(parsed) = timeout::decode(value) else { return };
    assert!(parsed <= MAX_TIMEOUT, "{value:?} read as {parsed:?}");
    let written = timeout::encode(parsed);
    let again = timeout::decode(written.as_bytes()).expect("what encode writes, decode reads");
    assert!(again >= parsed, "{parsed:?} written as {written} reads back as {again:?}");
}

fn check_status(headers: &HeaderMap) {
    let Some(status) = Status::from_headers(headers) else { return };
    let mut written = HeaderMap::new();
    status.write_headers(&mut written);
    let again = Status::from_headers(&written).expect("written with grpc-status");
    assert_eq!(again.code(), status.code());
    assert_eq!(again.message(), status.message());
    assert_eq!(again.details(), status.details());
    let _ = status.rpc_status();
}

fn check_map(headers: HeaderMap) {
    let map = MetadataMap::from_headers(headers);
    let _ = map.validate();
    let keys: Vec<String> = map.keys().map(str::to_owned).collect();
    for key in &keys {
        let _ = (map.get(key), map.get_all(key), map.get_bin(key), map.get_all_bin(key));
    }
}

/// Inserting arbitrary keys and values: refused, or read back as given.
fn check_insert(key: &str, value: &[u8]) {
    let mut map = MetadataMap::new();
    let text = String::from_utf8_lossy(value);
    if map.insert(key, &text).is_ok() {
        assert_eq!(map.get(key), Some(&*text));
    }
    let bin_key = format!("{key}-bin");
    if map.insert_bin(&bin_key, value).is_ok() {
        assert_eq!(map.get_bin(&bin_key), Some(Ok(value.to_vec())));
    }
}

fuzz_target!(|data: &[u8]| {
    let headers = headers(data);
    for value in headers.values() {
        check_timeout(value.as_bytes());
    }
    check_timeout(data);
    check_status(&headers);
    check_map(headers);
    if let Some(split) = data.iter().position(|&b| b == b'=') {
        check_insert(&String::from_utf8_lossy(&data[..split]), &data[split + 1..]);
    }
    // Any duration: written, then read, it is never shorter (up to the longest the header can say).
    if data.len() >= 12 {
        let seconds = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
        let nanos = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes")) % 1_000_000_000;
        let duration = Duration::new(seconds, nanos);
        let read = timeout::decode(timeout::encode(duration).as_bytes()).expect("encode writes what decode reads");
        assert!(read >= duration.min(MAX_TIMEOUT), "{duration:?} came back as {read:?}");
    }
});
