//! Length-prefixed messages (the gRPC message framing): one flag byte, a big-endian u32 length, the message.
//!
//! The spec: "Compressed-Flag: 0 means no compression; 1 means the message is compressed with the
//! Message-Encoding" -- a compressed message on a call without a negotiated encoding is an error.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;

use std::sync::Arc;

use crate::budget::ReceiveBudget;
use crate::compression::Encoding;
use crate::status::Status;
use crate::wire::{FLAG_COMPRESSED, FLAG_UNCOMPRESSED, PREFIX_LEN};

/// Encodes a message with its prefix, refusing one larger than `max_send`.
pub fn encode<M: Message>(message: &M, max_send: usize) -> Result<Bytes, Status> {
    encode_with(message, max_send, None)
}

/// Encodes a message with its prefix, compressed with `encoding` when one is given (flag 1); the send limit
/// applies to the uncompressed size, as in grpc-go.
pub fn encode_with<M: Message>(message: &M, max_send: usize, encoding: Option<Encoding>) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    encode_into(message, max_send, encoding, &mut buf)?;
    Ok(buf.freeze())
}

/// Appends a message with its prefix to `buf` (see [`encode_with`]), so that several messages can go out
/// in one write; on an error `buf` holds what it held before.
pub(crate) fn encode_into<M: Message>(
    message: &M,
    max_send: usize,
    encoding: Option<Encoding>,
    buf: &mut BytesMut,
) -> Result<(), Status> {
    let len = message.encoded_len();
    if len > max_send || len > u32::MAX as usize {
        return Err(Status::resource_exhausted(format!(
            "message of {len} bytes is larger than the send limit of {max_send} bytes"
        )));
    }
    let start = buf.len();
    let Some(encoding) = encoding else {
        buf.reserve(PREFIX_LEN + len);
        buf.put_u8(FLAG_UNCOMPRESSED);
        buf.put_u32(len as u32);
        message.encode_raw(buf);
        return Ok(());
    };
    let plain = message.encode_to_vec();
    buf.reserve(PREFIX_LEN + len / 2 + 64);
    buf.put_u8(FLAG_COMPRESSED);
    buf.put_u32(0);
    let compressed = encoding.compress(&plain, buf).and_then(|()| {
        u32::try_from(buf.len() - start - PREFIX_LEN)
            .map_err(|_| Status::resource_exhausted("a compressed message is larger than 4 GiB"))
    });
    match compressed {
        Ok(compressed) => {
            buf[start + 1..start + PREFIX_LEN].copy_from_slice(&compressed.to_be_bytes());
            Ok(())
        }
        Err(status) => {
            buf.truncate(start);
            Err(status)
        }
    }
}

/// Decodes a message's bytes (without prefix).
pub fn decode<M: Message + Default>(bytes: Bytes) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| Status::internal(format!("failed to decode the message: {e}")))
}

/// The most the decoder reserves ahead of data that has not arrived yet.
const RESERVE_AHEAD: usize = 64 * 1024;

/// Splits received bytes into messages, checking flags and the size limit as soon as a prefix arrives, so an
/// oversized message is refused before its body is buffered.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_receive: usize,
    /// The call's `grpc-encoding`, which messages flagged compressed use.
    encoding: Option<Encoding>,
    /// Server: the connection's budget for incomplete messages, and what the message being received holds
    /// of it (0 until it turns out not to have arrived whole).
    budget: Option<Arc<ReceiveBudget>>,
    reserved: usize,
}

impl Decoder {
    /// A decoder refusing messages over `max_receive` bytes.
    pub fn new(max_receive: usize) -> Self {
        Decoder { buf: BytesMut::new(), max_receive, encoding: None, budget: None, reserved: 0 }
    }

    /// Charges incomplete messages to a connection's receive budget.
    pub(crate) fn set_budget(&mut self, budget: Arc<ReceiveBudget>) {
        self.budget = Some(budget);
    }

    fn release_reservation(&mut self) {
        if self.reserved > 0 {
            if let Some(budget) = &self.budget {
                budget.release(self.reserved);
            }
            self.reserved = 0;
        }
    }

    /// Sets the encoding of compressed messages (from the call's `grpc-encoding`).
    pub fn set_encoding(&mut self, encoding: Option<Encoding>) {
        self.encoding = encoding;
    }

    /// Drops whatever is buffered, after an error ends the stream.
    pub fn clear(&mut self) {
        self.buf = BytesMut::new();
        self.release_reservation();
    }

    /// Adds received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message, if the buffered bytes hold one.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buf.len() < PREFIX_LEN {
            return Ok(None);
        }
        let flag = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        let encoding = match flag {
            FLAG_UNCOMPRESSED => None,
            FLAG_COMPRESSED => match self.encoding {
                Some(encoding) => Some(encoding),
                None => {
                    return Err(Status::internal("received a compressed message, but the call has no grpc-encoding"))
                }
            },
            other => return Err(Status::internal(format!("invalid message flag {other:#04x}"))),
        };
        if len > self.max_receive {
            return Err(Status::resource_exhausted(format!(
                "received a message of {len} bytes, larger than the limit of {} bytes",
                self.max_receive
            )));
        }
        let Some(total) = len.checked_add(PREFIX_LEN) else {
            return Err(Status::resource_exhausted(format!("received a message of {len} bytes")));
        };
        if self.buf.len() < total {
            // A message that arrives whole in one chunk (most do) never touches the budget.
            if self.reserved == 0 {
                if let Some(budget) = &self.budget {
                    if !budget.try_reserve(total) {
                        return Err(Status::resource_exhausted(format!(
                            "a message of {len} bytes does not fit in what is left of the connection's receive \
                             budget of {} bytes for incomplete messages (ServerBuilder::connection_receive_budget)",
                            budget.limit()
                        )));
                    }
                    self.reserved = total;
                }
            }
            // Five bytes of prefix must not buy the whole declared length up front; the buffer grows as the
            // data arrives, so memory follows what the peer actually sent. Once a peer has sent RESERVE_AHEAD
            // of it and a connection budget holds the whole message (the server), the rest is reserved at
            // once: growing by doubling would copy what arrived again at every step. Without a budget (the
            // client) a declared length is not trusted that far.
            let missing = total - self.buf.len();
            let proven = self.reserved > 0 && self.buf.len() >= RESERVE_AHEAD;
            let ahead = if proven { missing } else { missing.min(RESERVE_AHEAD) };
            self.buf.reserve(ahead);
            return Ok(None);
        }
        self.release_reservation();
        self.buf.advance(PREFIX_LEN);
        let message = self.buf.split_to(len).freeze();
        match encoding {
            None => Ok(Some(message)),
            Some(encoding) => encoding.decompress(&message, self.max_receive).map(Some),
        }
    }

    /// Checks the stream did not end inside a message.
    pub fn finish(&self) -> Result<(), Status> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Status::internal(format!("the stream ended inside a message ({} bytes left over)", self.buf.len())))
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.release_reservation();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Code;
    use crate::well_known::Duration;

    const DEFAULT_MAX: usize = crate::wire::DEFAULT_MAX_RECEIVE_MESSAGE_SIZE;

    #[test]
    fn a_prefix_alone_does_not_reserve_the_declared_length() {
        let mut decoder = Decoder::new(DEFAULT_MAX);
        decoder.push(&[0, 0, 0x04, 0, 0]);
        assert!(decoder.next_message().unwrap().is_none());
        assert!(decoder.buf.capacity() <= PREFIX_LEN + RESERVE_AHEAD, "{}", decoder.buf.capacity());
        // The message still arrives whole as its bytes come.
        for _ in 0..64 {
            decoder.push(&[9; 0x40000 / 64]);
        }
        assert_eq!(decoder.next_message().unwrap().unwrap().len(), 0x40000);
        decoder.finish().unwrap();
    }

    #[test]
    fn without_a_budget_a_declared_length_is_not_reserved_however_much_arrived() {
        let mut decoder = Decoder::new(usize::MAX);
        let mut prefix = vec![0];
        prefix.extend_from_slice(&u32::MAX.to_be_bytes());
        decoder.push(&prefix);
        decoder.push(&vec![7; RESERVE_AHEAD]);
        assert!(decoder.next_message().unwrap().is_none());
        assert!(decoder.buf.capacity() < 4 * RESERVE_AHEAD, "{}", decoder.buf.capacity());
    }

    #[test]
    fn once_a_peer_sent_enough_of_a_message_the_rest_is_reserved_at_once() {
        let mut decoder = Decoder::new(DEFAULT_MAX);
        decoder.set_budget(ReceiveBudget::new(1 << 20));
        let len = 0x40000usize;
        let mut prefix = vec![0];
        prefix.extend_from_slice(&(len as u32).to_be_bytes());
        decoder.push(&prefix);
        decoder.push(&vec![7; RESERVE_AHEAD]);
        assert!(decoder.next_message().unwrap().is_none());
        let capacity = decoder.buf.capacity();
        assert!(capacity >= PREFIX_LEN + len, "{capacity}");
        // The rest arrives without the buffer moving again.
        let before = decoder.buf.as_ptr();
        decoder.push(&vec![7; len - RESERVE_AHEAD]);
        assert_eq!(decoder.buf.as_ptr(), before);
        assert_eq!(decoder.next_message().unwrap().unwrap().len(), len);
    }

    #[test]
    fn incomplete_messages_are_charged_to_the_budget_until_complete_or_dropped() {
        let budget = ReceiveBudget::new(2 * (PREFIX_LEN + 100));
        let mut decoders: Vec<Decoder> = (0..3)
            .map(|_| {
                let mut decoder = Decoder::new(DEFAULT_MAX);
                decoder.set_budget(budget.clone());
                decoder
            })
            .collect();
        for decoder in &mut decoders {
            decoder.push(&[0, 0, 0, 0, 100, 1, 2, 3]);
        }
        assert!(decoders[0].next_message().unwrap().is_none());
        assert!(decoders[1].next_message().unwrap().is_none());
        let refused = decoders[2].next_message().unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("receive budget"), "{}", refused.message());
        assert_eq!(budget.reserved(), 2 * (PREFIX_LEN + 100));
        // Completing one gives its share back; dropping the other too.
        decoders[0].push(&[7; 97]);
        assert_eq!(decoders[0].next_message().unwrap().unwrap().len(), 100);
        assert_eq!(budget.reserved(), PREFIX_LEN + 100);
        decoders.truncate(1);
        assert_eq!(budget.reserved(), 0);
        // A message arriving whole reserves nothing.
        let mut decoder = Decoder::new(DEFAULT_MAX);
        decoder.set_budget(ReceiveBudget::new(0));
        decoder.push(&[0, 0, 0, 0, 1, 9]);
        assert_eq!(decoder.next_message().unwrap().unwrap().as_ref(), &[9]);
    }

    #[test]
    fn after_clear_nothing_is_left() {
        let mut decoder = Decoder::new(DEFAULT_MAX);
        decoder.push(&[7, 0, 0, 0, 1, 0]);
        assert!(decoder.next_message().is_err());
        decoder.clear();
        assert!(decoder.next_message().unwrap().is_none());
        decoder.finish().unwrap();
    }

    #[test]
    fn messages_split_across_and_within_chunks() {
        let one = encode(&Duration { seconds: 1, ..Default::default() }, usize::MAX).unwrap();
        let two = encode(&Duration { seconds: 2, ..Default::default() }, usize::MAX).unwrap();
        let all: Vec<u8> = [one.as_ref(), two.as_ref()].concat();
        for split in 0..all.len() {
            let mut decoder = Decoder::new(1024);
            let mut seen = Vec::new();
            for chunk in [&all[..split], &all[split..]] {
                decoder.push(chunk);
                while let Some(message) = decoder.next_message().unwrap() {
                    seen.push(decode::<Duration>(message).unwrap().seconds);
                }
            }
            assert_eq!(seen, [1, 2], "split at {split}");
            decoder.finish().unwrap();
        }
    }

    #[test]
    fn oversized_compressed_bad_flag_and_truncated_are_errors() {
        let mut decoder = Decoder::new(10);
        decoder.push(&[0, 0, 0, 0, 11]);
        assert_eq!(decoder.next_message().unwrap_err().code(), Code::ResourceExhausted);
        let mut decoder = Decoder::new(10);
        decoder.push(&[1, 0, 0, 0, 1, 0]);
        assert_eq!(decoder.next_message().unwrap_err().code(), Code::Internal);
        let mut decoder = Decoder::new(10);
        decoder.push(&[7, 0, 0, 0, 1, 0]);
        assert!(decoder.next_message().unwrap_err().message().contains("flag"));
        let mut decoder = Decoder::new(10);
        decoder.push(&[0, 0, 0, 0, 3, 1]);
        assert!(decoder.next_message().unwrap().is_none());
        assert_eq!(decoder.finish().unwrap_err().code(), Code::Internal);
        let big = Duration { seconds: i64::MAX, ..Default::default() };
        assert_eq!(encode(&big, 3).unwrap_err().code(), Code::ResourceExhausted);
    }
}
