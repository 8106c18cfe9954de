//! Every constant of the gRPC over HTTP/2 protocol, in one place: header names, content types, the message
//! prefix and the default limits.

/// `content-type` of gRPC requests and responses.
pub const CONTENT_TYPE: &str = "application/grpc";
/// What every gRPC `content-type` starts with (`application/grpc`, `application/grpc+proto`, ...).
pub const CONTENT_TYPE_PREFIX: &str = "application/grpc";

/// The status code trailer.
pub const GRPC_STATUS: &str = "grpc-status";
/// The status message trailer, percent-encoded.
pub const GRPC_MESSAGE: &str = "grpc-message";
/// The binary `google.rpc.Status` trailer.
pub const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";
/// The request's timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";
/// The compression of the messages of this call.
pub const GRPC_ENCODING: &str = "grpc-encoding";
/// The compressions the sender accepts.
pub const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";
/// The `te` header every gRPC request carries, with the value `trailers`.
pub const TE: &str = "te";
/// The value of `te`.
pub const TE_TRAILERS: &str = "trailers";
/// Prefix of header names reserved for the protocol.
pub const RESERVED_PREFIX: &str = "grpc-";
/// Suffix of binary metadata keys.
pub const BINARY_SUFFIX: &str = "-bin";

/// Length of the message prefix: one flag byte, then a big-endian u32 length.
pub const PREFIX_LEN: usize = 5;
/// Flag byte of an uncompressed message.
pub const FLAG_UNCOMPRESSED: u8 = 0;
/// Flag byte of a compressed message.
pub const FLAG_COMPRESSED: u8 = 1;

/// The largest HTTP/2 flow-control window (RFC 9113 section 6.9.1); larger settings are clamped to it.
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// The default flow-control window of one call. Larger than HTTP/2's 64 KiB so a message of a few hundred
/// KiB crosses in one round trip rather than several.
pub const DEFAULT_STREAM_WINDOW_SIZE: u32 = 1024 * 1024;

/// The default flow-control window of a connection: several streams' worth, so one call whose reader
/// stalls cannot use up the whole connection's window and block the calls beside it.
pub const DEFAULT_CONNECTION_WINDOW_SIZE: u32 = 4 * 1024 * 1024;

/// The default cap on concurrent calls per server connection: bounds what one client can make the server
/// hold, as a client with unlimited open streams otherwise could.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1000;

/// The default cap on a request's decoded header list (gRPC C-core's hard metadata limit); h2's own default
/// of 16 MiB per stream, times many streams, is too much memory to hand one client.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;

/// The largest message received by default: 4 MiB, as in grpc-go and grpc-java.
pub const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// The largest message sent by default: as large as the length prefix allows.
pub const DEFAULT_MAX_SEND_MESSAGE_SIZE: usize = u32::MAX as usize;

/// The `user-agent` sent by clients.
pub const USER_AGENT: &str = concat!("grpc-rust-rsgrpc/", env!("CARGO_PKG_VERSION"));

/// How many attempts of a retried or hedged call came before this one (gRFC A6).
pub const GRPC_PREVIOUS_RPC_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

/// A server's instruction to wait this many milliseconds before retrying, or not to retry (gRFC A6).
pub const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";
