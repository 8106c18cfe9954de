//! A streaming request's body, read as it arrives: JSON values one after another (whitespace between them
//! optional), each handed on as soon as it is complete, so a bidirectional call's answers can flow while
//! the client is still sending.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;

use crate::status::Status;

/// The body's chunks as they come.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send>>;

/// A streaming request's messages as JSON values, each whole.
pub(crate) type ValueStream = Pin<Box<dyn Stream<Item = Result<Value, Status>> + Send>>;

struct Splitter {
    chunks: ByteStream,
    buffer: Vec<u8>,
    /// Where the unread part of the buffer starts: values are consumed by moving this on, and the buffer
    /// is compacted only when the consumed part is at least half of it, so a body of many small values
    /// costs linear time (draining the buffer per value moved the rest of it every time: quadratic).
    consumed: usize,
    /// Bytes read in all, against the limit.
    total: usize,
    limit: usize,
    /// The body ended.
    ended: bool,
    /// Nothing more will be yielded.
    done: bool,
    /// Where a value of the buffer ends, found by scanning each byte once: re-parsing the buffer on every
    /// chunk would make a large object sent in small chunks cost quadratic time.
    scan: Scan,
}

/// How far the buffer was scanned for the end of its first value (its leading whitespace skipped).
#[derive(Default)]
struct Scan {
    /// Bytes already scanned.
    at: usize,
    /// Where the value starts, once found.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Scans on from where it stopped: the start and end of the first complete value, once there is one.
    /// Objects, arrays and strings end at their closing byte; a number or literal at the next whitespace
    /// or bracket (or with the body, see [`Scan::rest`]).
    fn complete(&mut self, buffer: &[u8]) -> Option<(usize, usize)> {
        while self.at < buffer.len() {
            let byte = buffer[self.at];
            let Some(start) = self.start else {
                if !byte.is_ascii_whitespace() {
                    self.start = Some(self.at);
                    self.open(byte);
                }
                self.at += 1;
                continue;
            };
            self.at += 1;
            if self.in_string {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => {
                        self.in_string = false;
                        if self.depth == 0 {
                            return Some((start, self.at));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            if self.depth == 0 {
                // A number or literal: it ends before the next whitespace or bracket.
                if byte.is_ascii_whitespace() || matches!(byte, b'{' | b'[' | b'"') {
                    self.at -= 1;
                    return Some((start, self.at));
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some((start, self.at));
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn open(&mut self, byte: u8) {
        match byte {
            b'{' | b'[' => self.depth = 1,
            b'"' => self.in_string = true,
            _ => {}
        }
    }

    /// At the end of the body: what is left, if it is a number or literal that only the end closed.
    fn rest(&self, buffer: &[u8]) -> Option<(usize, usize)> {
        let start = self.start?;
        (self.depth == 0 && !self.in_string).then_some((start, buffer.len()))
    }
}

/// The JSON values of `chunks`; more than `limit` bytes in all, a malformed or truncated value, or a
/// failed read ends the stream with an error.
pub(crate) fn json_values(chunks: ByteStream, limit: usize) -> impl Stream<Item = Result<Value, Status>> + Send {
    let splitter = Splitter {
        chunks,
        buffer: Vec::new(),
        consumed: 0,
        total: 0,
        limit,
        ended: false,
        done: false,
        scan: Scan::default(),
    };
    futures_util::stream::unfold(splitter, |mut splitter| async move {
        loop {
            let unread = &splitter.buffer[splitter.consumed..];
            let found = match splitter.scan.complete(unread) {
                Some(found) => Some(found),
                None if splitter.ended => splitter.scan.rest(unread),
                None => None,
            };
            if let Some((start, end)) = found {
                // Each value is parsed once, when the scan found its end.
                let parsed = serde_json::from_slice::<Value>(&unread[start..end]);
                splitter.consumed += end;
                splitter.scan = Scan::default();
                return match parsed {
                    Ok(value) => Some((Ok(value), splitter)),
                    Err(error) => {
                        splitter.done = true;
                        Some((Err(Status::invalid_argument(format!("not valid JSON: {error}"))), splitter))
                    }
                };
            }
            if splitter.done {
                return None;
            }
            if splitter.ended {
                splitter.done = true;
                if splitter.buffer[splitter.consumed..].iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                let status = Status::invalid_argument("not valid JSON: the body ends inside a value");
                return Some((Err(status), splitter));
            }
            if let Some(error) = read_more(&mut splitter).await {
                return Some((Err(error), splitter));
            }
        }
    })
}

/// Reads the next chunk into the buffer (or notes the end); an error ends the stream.
async fn read_more(splitter: &mut Splitter) -> Option<Status> {
    match splitter.chunks.next().await {
        Some(Ok(chunk)) => {
            splitter.total += chunk.len();
            if splitter.total > splitter.limit {
                splitter.done = true;
                return Some(Status::resource_exhausted(format!("the request body is over {} bytes", splitter.limit)));
            }
            if splitter.consumed > 0 && splitter.consumed * 2 >= splitter.buffer.len() {
                // The scan's positions are relative to the unread part, so they survive the move.
                splitter.buffer.drain(..splitter.consumed);
                splitter.consumed = 0;
            }
            splitter.buffer.extend_from_slice(&chunk);
            None
        }
        Some(Err(status)) => {
            splitter.done = true;
            Some(status)
        }
        None => {
            splitter.ended = true;
            None
        }
    }
}

/// A streaming request's body as a stream of chunks, each of which must come within `timeout` of the
/// one before (a client that stops sending mid-body must not hold its call open); the flag is set when
/// one did not, so the answer is 408.
pub(crate) fn streaming_body<B>(
    body: B,
    timeout: std::time::Duration,
) -> (ByteStream, Arc<std::sync::atomic::AtomicBool>)
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let chunks = http_body_util::BodyStream::new(body)
        .map(|frame| match frame {
            Ok(frame) => frame.into_data().ok().map(Ok),
            Err(error) => {
                let error: Box<dyn std::error::Error + Send + Sync> = error.into();
                Some(Err(Status::invalid_argument(format!("reading the request body failed: {error}"))))
            }
        })
        .filter_map(std::future::ready);
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stalled.clone();
    let timed = futures_util::stream::unfold(Some(Box::pin(chunks)), move |chunks| {
        let flag = flag.clone();
        async move {
            let mut chunks = chunks?;
            match tokio::time::timeout(timeout, chunks.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(chunks))),
                Ok(None) => None,
                Err(_) => {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    Some((Err(Status::deadline_exceeded("the request body did not arrive in time")), None))
                }
            }
        }
    });
    (Box::pin(timed), stalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&str]) -> ByteStream {
        let owned: Vec<Result<Bytes, Status>> = parts.iter().map(|p| Ok(Bytes::from(p.to_string()))).collect();
        Box::pin(futures_util::stream::iter(owned))
    }

    async fn collect(parts: &[&str], limit: usize) -> Vec<Result<Value, String>> {
        json_values(chunks(parts), limit).map(|v| v.map_err(|s| s.message().to_owned())).collect().await
    }

    #[tokio::test]
    async fn values_split_anywhere_come_out_whole() {
        let got = collect(&["{\"a\"", ": 1}{\"b\": [1,", " 2]}\n {\"c\"", ": \"x\"}  "], 1000).await;
        let want = vec![
            Ok(serde_json::json!({"a": 1})),
            Ok(serde_json::json!({"b": [1, 2]})),
            Ok(serde_json::json!({"c": "x"})),
        ];
        assert_eq!(got, want);
        assert_eq!(collect(&["", "  "], 1000).await, vec![]);
        let got = collect(&["\"a\\\"}\"", " 12", " true", "{\"s\": \"}{\"}"], 1000).await;
        let want = vec![
            Ok(serde_json::json!("a\"}")),
            Ok(serde_json::json!(12)),
            Ok(serde_json::json!(true)),
            Ok(serde_json::json!({"s": "}{"})),
        ];
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_large_object_in_tiny_chunks_is_read_whole() {
        let object = format!("{{\"text\": \"{}\"}}", "x".repeat(2 << 20));
        let parts: Vec<String> = object.as_bytes().chunks(16).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        // 131,072 chunks of one 2 MiB object: each byte is scanned once and the object parsed once (re-parsing
        // on every chunk, as before, took minutes here).
        let got = collect(&parts, 4 << 20).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap()["text"].as_str().map(str::len), Some(2 << 20));
    }

    #[tokio::test]
    async fn many_small_values_in_one_chunk_cost_linear_time() {
        // 6 MiB of 9-byte objects in one chunk: 699,050 values. Draining the buffer per value (as before)
        // moved 3 MiB on average each time, terabytes in all (about a minute here); consuming with an
        // offset reads the body once (a few seconds unoptimised).
        const SIZE: usize = 6 << 20;
        let body = "{\"a\": 1} ".repeat(SIZE / 9);
        let started = std::time::Instant::now();
        let values = json_values(chunks(&[&body]), SIZE);
        let count = values.fold(0usize, |count, value| async move { count + usize::from(value.is_ok()) }).await;
        assert_eq!(count, SIZE / 9);
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "took {:?}", started.elapsed());
        // And in chunks that split values, with compactions between them.
        let parts: Vec<&str> = body.as_bytes().chunks(1000).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let got = collect(&parts, SIZE).await;
        assert_eq!(got.len(), SIZE / 9);
        assert!(got.iter().all(|v| v.as_ref().is_ok_and(|v| v["a"] == 1)));
    }

    #[tokio::test]
    async fn bad_truncated_and_oversized_bodies_end_with_an_error() {
        let got = collect(&["{\"a\": 1} {\"b\" 2}"], 1000).await;
        assert_eq!(got.len(), 2);
        assert!(got[1].as_ref().unwrap_err().contains("not valid JSON"));
        let got = collect(&["{\"a\": 1} {\"b\":"], 1000).await;
        assert_eq!(got[1], Err("not valid JSON: the body ends inside a value".into()));
        let got = collect(&["{\"a\": 1}", " {\"b\": 2}"], 10).await;
        assert_eq!(got[1], Err("the request body is over 10 bytes".into()));
    }
}
