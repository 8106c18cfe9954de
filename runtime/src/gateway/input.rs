//! A streaming request's body, read as it arrives: JSON values one after another (whitespace between them
//! optional), each handed on as soon as it is complete, so a bidirectional call's answers can flow while
//! the client is still sending.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde_json::Value;

use crate::status::Status;

/// The body's chunks as they come.
pub(crate) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send>>;

struct Splitter {
    chunks: ByteStream,
    buffer: Vec<u8>,
    /// Bytes read in all, against the limit.
    total: usize,
    limit: usize,
    done: bool,
}

/// The JSON values of `chunks`; more than `limit` bytes in all, a malformed or truncated value, or a
/// failed read ends the stream with an error.
pub(crate) fn json_values(chunks: ByteStream, limit: usize) -> impl Stream<Item = Result<Value, Status>> + Send {
    let splitter = Splitter { chunks, buffer: Vec::new(), total: 0, limit, done: false };
    futures_util::stream::unfold(splitter, |mut splitter| async move {
        loop {
            if splitter.done {
                return None;
            }
            let start = splitter.buffer.iter().position(|b| !b.is_ascii_whitespace());
            if let Some(start) = start {
                let mut values = serde_json::Deserializer::from_slice(&splitter.buffer[start..]).into_iter::<Value>();
                match values.next() {
                    Some(Ok(value)) => {
                        let used = start + values.byte_offset();
                        splitter.buffer.drain(..used);
                        return Some((Ok(value), splitter));
                    }
                    Some(Err(error)) if !error.is_eof() => {
                        splitter.done = true;
                        let status = Status::invalid_argument(format!("not valid JSON: {error}"));
                        return Some((Err(status), splitter));
                    }
                    // Incomplete: read more.
                    _ => {}
                }
            }
            match splitter.chunks.next().await {
                Some(Ok(chunk)) => {
                    splitter.total += chunk.len();
                    if splitter.total > splitter.limit {
                        splitter.done = true;
                        let status =
                            Status::resource_exhausted(format!("the request body is over {} bytes", splitter.limit));
                        return Some((Err(status), splitter));
                    }
                    splitter.buffer.extend_from_slice(&chunk);
                }
                Some(Err(status)) => {
                    splitter.done = true;
                    return Some((Err(status), splitter));
                }
                None => {
                    splitter.done = true;
                    if splitter.buffer.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    let status = Status::invalid_argument("not valid JSON: the body ends inside a value");
                    return Some((Err(status), splitter));
                }
            }
        }
    })
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
