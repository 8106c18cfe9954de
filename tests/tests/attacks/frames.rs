//! HTTP/2 frames built by hand (RFC 9113 §4.1 and §6), for the peers h2 will not be: HEADERS that never end,
//! floods of PING and SETTINGS, resets straight after HEADERS. A [`Frame`] is written as the spec draws it:
//! a 9-byte header (length, type, flags, stream id) and the payload; [`RawConnection`] writes them on a TCP
//! connection and watches what the server answers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// The client connection preface's fixed part (RFC 9113 §3.4); a SETTINGS frame must follow it.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length, type, flags and stream id (RFC 9113 §4.1).
pub const FRAME_HEADER_LEN: usize = 9;

/// Frame types (RFC 9113 §6).
pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (RFC 9113 §6); ACK shares its bit with END_STREAM, on other frame types.
pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
}

/// Error codes (RFC 9113 §7).
pub mod code {
    pub const CANCEL: u32 = 0x8;
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
}

/// SETTINGS parameters (RFC 9113 §6.5.2).
pub mod setting {
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

/// One frame: the fields of its 9-byte header, and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Any frame, well-formed or not.
    pub fn new(kind: u8, flags: u8, stream: u32, payload: Vec<u8>) -> Self {
        Frame { kind, flags, stream, payload }
    }

    /// SETTINGS (§6.5): each parameter an identifier (16 bits) and a value (32 bits).
    pub fn settings(parameters: &[(u16, u32)]) -> Self {
        let payload = parameters.iter().flat_map(|(id, value)| [&id.to_be_bytes()[..], &value.to_be_bytes()].concat());
        Frame::new(kind::SETTINGS, 0, 0, payload.collect())
    }

    /// PING (§6.7), not an acknowledgement: the peer must answer it.
    pub fn ping(opaque: u64) -> Self {
        Frame::new(kind::PING, 0, 0, opaque.to_be_bytes().to_vec())
    }

    /// HEADERS (§6.2) carrying a header block (fragment), without padding or priority.
    pub fn headers(stream: u32, flags: u8, block: Vec<u8>) -> Self {
        Frame::new(kind::HEADERS, flags, stream, block)
    }

    /// CONTINUATION (§6.10): more of the header block HEADERS began, until one sets END_HEADERS.
    pub fn continuation(stream: u32, flags: u8, block: Vec<u8>) -> Self {
        Frame::new(kind::CONTINUATION, flags, stream, block)
    }

    /// DATA (§6.1), without padding.
    pub fn data(stream: u32, flags: u8, payload: Vec<u8>) -> Self {
        Frame::new(kind::DATA, flags, stream, payload)
    }

    /// RST_STREAM (§6.4) with an error code.
    pub fn rst_stream(stream: u32, error: u32) -> Self {
        Frame::new(kind::RST_STREAM, 0, stream, error.to_be_bytes().to_vec())
    }

    /// Appends the frame's bytes: `Length (24) | Type (8) | Flags (8) | R (1) | Stream Identifier (31)`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.payload.len()).expect("a frame payload fits 24 bits");
        assert!(len < 1 << 24, "a frame payload fits 24 bits");
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&(self.stream & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(&self.payload);
    }

    /// The error code of a GOAWAY frame (after the last stream id).
    pub fn goaway_code(&self) -> Option<u32> {
        let code = self.payload.get(4..8)?;
        (self.kind == kind::GOAWAY).then(|| u32::from_be_bytes(code.try_into().expect("4 bytes")))
    }
}

/// Several frames as one buffer, to go out in one write.
pub fn encode_all<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        frame.encode(&mut out);
    }
    out
}

/// Reads one frame; `None` at the end of the stream.
pub async fn read_frame(read: &mut OwnedReadHalf) -> std::io::Result<Option<Frame>> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    match read.read_exact(&mut header).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let [a, b, c, kind, flags, s0, s1, s2, s3] = header;
    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    let mut payload = vec![0; len];
    read.read_exact(&mut payload).await?;
    Ok(Some(Frame::new(kind, flags, u32::from_be_bytes([s0, s1, s2, s3]) & 0x7fff_ffff, payload)))
}

/// A header block of literals without indexing (RFC 7541 §6.2.2), no Huffman coding: each field costs
/// the server its full size, and the block needs no dynamic table to decode.
pub mod hpack {
    /// An integer with an N-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix.
    fn integer(value: usize, prefix_bits: u32, first: u8, out: &mut Vec<u8>) {
        let max = (1usize << prefix_bits) - 1;
        if value < max {
            out.push(first | value as u8);
            return;
        }
        out.push(first | max as u8);
        let mut rest = value - max;
        while rest >= 128 {
            out.push((rest % 128) as u8 | 0x80);
            rest /= 128;
        }
        out.push(rest as u8);
    }

    fn string(bytes: &[u8], out: &mut Vec<u8>) {
        integer(bytes.len(), 7, 0x00, out);
        out.extend_from_slice(bytes);
    }

    /// `0000 0000 | name length | name | value length | value`.
    pub fn literal(name: &str, value: &str, out: &mut Vec<u8>) {
        out.push(0x00);
        string(name.as_bytes(), out);
        string(value.as_bytes(), out);
    }

    /// A literal with incremental indexing and a new name (§6.2.1): `0100 0000 | name | value`; the field
    /// becomes the newest entry of the dynamic table.
    pub fn literal_indexed(name: &str, value: &str, out: &mut Vec<u8>) {
        out.push(0x40);
        string(name.as_bytes(), out);
        string(value.as_bytes(), out);
    }

    /// The index of the newest dynamic-table entry: the first after the 61 static ones (Appendix A).
    pub const NEWEST_DYNAMIC: usize = 62;

    /// An indexed header field (§6.1): `1 | index`, one byte for a field of any size already in the table.
    pub fn indexed(index: usize, out: &mut Vec<u8>) {
        integer(index, 7, 0x80, out);
    }

    /// The header block of a gRPC request to `path`, with `extra` fields after the standard ones.
    pub fn grpc_request(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        let standard = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "attack.test"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ];
        for (name, value) in standard.iter().chain(extra) {
            literal(name, value, &mut block);
        }
        block
    }
}

/// What a server sent on a raw connection until it closed it or the attacker stopped looking.
#[derive(Debug, Default, Clone)]
pub struct Answered {
    pub frames: usize,
    pub headers: usize,
    pub ping_acks: usize,
    pub settings_acks: usize,
    pub resets: usize,
    /// The error code of the first GOAWAY.
    pub goaway: Option<u32>,
    /// When the server closed the connection (end of stream or reset), since it was opened.
    pub closed_after: Option<Duration>,
}

/// A TCP connection speaking hand-built frames, its server's answers read by a task of its own (so the
/// server is never held up by a full socket buffer, and floods meet its full speed).
pub struct RawConnection {
    write: OwnedWriteHalf,
    answered: Arc<Mutex<Answered>>,
    reader: JoinHandle<()>,
    /// Bytes written so far.
    pub written: usize,
}

impl RawConnection {
    /// Connects and sends the preface and an empty SETTINGS frame: a well-formed start.
    pub async fn open(addr: SocketAddr) -> Self {
        let mut connection = RawConnection::connect(addr).await;
        let mut start = PREFACE.to_vec();
        Frame::settings(&[]).encode(&mut start);
        connection.write(&start).await.expect("the preface is accepted");
        connection
    }

    /// Connects without sending anything.
    pub async fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("connect to the target");
        let (read, write) = tcp.into_split();
        let answered = Arc::new(Mutex::new(Answered::default()));
        let reader = tokio::spawn(read_answers(read, Instant::now(), answered.clone()));
        RawConnection { write, answered, reader, written: 0 }
    }

    /// Writes bytes; an error means the server closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write.write_all(bytes).await?;
        self.written += bytes.len();
        Ok(())
    }

    /// What the server answered, once it closed the connection or `wait` passed (then `closed_after` is
    /// empty); the connection is closed on our side too.
    pub async fn finish(self, wait: Duration) -> Answered {
        let RawConnection { write, answered, mut reader, .. } = self;
        if tokio::time::timeout(wait, &mut reader).await.is_err() {
            reader.abort();
        }
        drop(write);
        let answered = answered.lock().expect("not poisoned").clone();
        answered
    }
}

async fn read_answers(mut read: OwnedReadHalf, opened: Instant, answered: Arc<Mutex<Answered>>) {
    // Ends at the end of the stream or on a read error (a reset connection), both the server closing it.
    while let Ok(Some(frame)) = read_frame(&mut read).await {
        let mut answered = answered.lock().expect("not poisoned");
        answered.frames += 1;
        match frame.kind {
            kind::PING if frame.flags & flag::ACK != 0 => answered.ping_acks += 1,
            kind::SETTINGS if frame.flags & flag::ACK != 0 => answered.settings_acks += 1,
            kind::HEADERS => answered.headers += 1,
            kind::RST_STREAM => answered.resets += 1,
            kind::GOAWAY if answered.goaway.is_none() => answered.goaway = frame.goaway_code(),
            _ => {}
        }
    }
    answered.lock().expect("not poisoned").closed_after = Some(opened.elapsed());
}

#[test]
fn frames_encode_as_the_spec_draws_them() {
    let mut bytes = Vec::new();
    Frame::ping(0x0102030405060708).encode(&mut bytes);
    assert_eq!(bytes, [0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let bytes = encode_all(&[Frame::rst_stream(3, code::CANCEL)]);
    assert_eq!(bytes, [0, 0, 4, 0x3, 0, 0, 0, 0, 3, 0, 0, 0, 8]);
    let bytes = encode_all(&[Frame::settings(&[(setting::INITIAL_WINDOW_SIZE, 65_535)])]);
    assert_eq!(bytes, [0, 0, 6, 0x4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0xff, 0xff]);
}

#[test]
fn hpack_literals_follow_rfc_7541() {
    // A literal without indexing with a new name (§6.2.2): 0x00, then the name and the value as strings.
    let mut block = Vec::new();
    hpack::literal(":path", "/sample/path", &mut block);
    assert_eq!(block[..7], [0x00, 0x05, b':', b'p', b'a', b't', b'h']);
    assert_eq!(block[7..], [&[0x0c][..], b"/sample/path"].concat());
    // A length past the 7-bit prefix continues in 7-bit groups, low group first (§5.1, example C.1.2).
    let mut long = Vec::new();
    hpack::literal("x", &"a".repeat(1337), &mut long);
    assert_eq!(long[3..6], [0x7f, 0xba, 0x09]); // 127 + 1210 = 1337; 1210 = 0x3a + 9 * 128
    let mut fields = Vec::new();
    hpack::literal_indexed("x", "y", &mut fields);
    hpack::indexed(hpack::NEWEST_DYNAMIC, &mut fields);
    assert_eq!(fields, [0x40, 1, b'x', 1, b'y', 0xbe]);
}
