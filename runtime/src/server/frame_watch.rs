//! Watching the HTTP/2 frames of a server connection go by, for the ping policy: h2 answers PINGs itself
//! and does not tell anyone, so the connection's bytes are scanned for frame headers as they pass (reads:
//! PINGs from the client; writes: DATA and HEADERS we send, which make a client's later PINGs legitimate).
//! Nothing is changed or buffered; a scan skips each frame's payload by its length.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The client's connection preface, which precedes its first frame.
const PREFACE_LEN: usize = 24;
const FRAME_HEADER_LEN: usize = 9;
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

/// What was seen since the connection's task last looked.
#[derive(Debug, Default)]
pub(crate) struct FrameEvents {
    /// PING frames received that were not acknowledgements.
    pings: AtomicU32,
    /// Whether DATA or HEADERS frames were sent.
    sent_data: AtomicBool,
    /// Whether the client's first frame (its SETTINGS, which ends its connection preface) arrived.
    first_frame: AtomicBool,
}

impl FrameEvents {
    pub(crate) fn record_ping(&self) {
        self.pings.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the client's connection preface is complete: its first frame arrived.
    pub(crate) fn preface_done(&self) -> bool {
        self.first_frame.load(Ordering::Relaxed)
    }

    pub(crate) fn record_sent_data(&self) {
        self.sent_data.store(true, Ordering::Relaxed);
    }

    /// The PINGs received and whether data was sent since the last call.
    pub(crate) fn take(&self) -> (u32, bool) {
        (self.pings.swap(0, Ordering::Relaxed), self.sent_data.swap(false, Ordering::Relaxed))
    }
}

/// Finds frame headers in a byte stream delivered in arbitrary pieces.
#[derive(Debug)]
struct FrameScanner {
    /// Bytes of the preface still to skip.
    skip_preface: usize,
    header: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    /// Bytes of the current frame's payload still to skip.
    payload_left: usize,
}

impl FrameScanner {
    fn new(preface: bool) -> Self {
        FrameScanner {
            skip_preface: if preface { PREFACE_LEN } else { 0 },
            header: [0; FRAME_HEADER_LEN],
            header_len: 0,
            payload_left: 0,
        }
    }

    /// Calls `frame(type, flags)` for each frame header completed in `bytes`.
    fn scan(&mut self, mut bytes: &[u8], mut frame: impl FnMut(u8, u8)) {
        while !bytes.is_empty() {
            if self.skip_preface > 0 {
                let n = self.skip_preface.min(bytes.len());
                self.skip_preface -= n;
                bytes = &bytes[n..];
            } else if self.payload_left > 0 {
                let n = self.payload_left.min(bytes.len());
                self.payload_left -= n;
                bytes = &bytes[n..];
            } else {
                let n = (FRAME_HEADER_LEN - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len == FRAME_HEADER_LEN {
                    self.header_len = 0;
                    let [a, b, c, kind, flags, ..] = self.header;
                    self.payload_left = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                    frame(kind, flags);
                }
            }
        }
    }
}

/// A connection's IO with its frames watched.
pub(crate) struct FrameWatch<IO> {
    io: IO,
    events: Arc<FrameEvents>,
    reads: FrameScanner,
    writes: FrameScanner,
}

impl<IO> FrameWatch<IO> {
    pub(crate) fn new(io: IO, events: Arc<FrameEvents>) -> Self {
        FrameWatch { io, events, reads: FrameScanner::new(true), writes: FrameScanner::new(false) }
    }

    fn saw_read(&mut self, bytes: &[u8]) {
        let events = &self.events;
        self.reads.scan(bytes, |kind, flags| {
            events.first_frame.store(true, Ordering::Relaxed);
            if kind == PING && flags & ACK == 0 {
                events.record_ping();
            }
        });
    }

    fn saw_written(&mut self, bytes: &[u8]) {
        let events = &self.events;
        self.writes.scan(bytes, |kind, _| {
            if kind == DATA || kind == HEADERS {
                events.record_sent_data();
            }
        });
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for FrameWatch<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            self.saw_read(&buf.filled()[before..]);
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for FrameWatch<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            self.saw_written(&buf[..written]);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut written)) = result {
            for buf in bufs {
                let n = written.min(buf.len());
                self.saw_written(&buf[..n]);
                written -= n;
                if written == 0 {
                    break;
                }
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload_len: usize) -> Vec<u8> {
        let len = payload_len as u32;
        let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags, 0, 0, 0, 1];
        bytes.resize(FRAME_HEADER_LEN + payload_len, 0xAB);
        bytes
    }

    fn scan_in_pieces(stream: &[u8], piece: usize, preface: bool) -> Vec<(u8, u8)> {
        let mut scanner = FrameScanner::new(preface);
        let mut seen = Vec::new();
        for chunk in stream.chunks(piece) {
            scanner.scan(chunk, |kind, flags| seen.push((kind, flags)));
        }
        seen
    }

    #[test]
    fn finds_every_frame_however_the_bytes_are_split() {
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        stream.extend(frame(0x4, 0, 18)); // SETTINGS
        stream.extend(frame(PING, 0, 8));
        stream.extend(frame(HEADERS, 0x4, 300));
        // A payload that looks like frame headers must be skipped, not parsed.
        stream.extend(frame(DATA, 0, 70_000).iter().enumerate().map(|(i, b)| if i < 9 { *b } else { PING }));
        stream.extend(frame(PING, ACK, 8));
        let expected = [(0x4, 0), (PING, 0), (HEADERS, 0x4), (DATA, 0), (PING, ACK)];
        for piece in [1, 2, 7, 9, 10, 1000, stream.len()] {
            assert_eq!(scan_in_pieces(&stream, piece, true), expected, "pieces of {piece} bytes");
        }
    }
}
