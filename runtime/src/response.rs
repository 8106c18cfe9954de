//! A call's response: the message (or stream of messages), the response headers' metadata and, once the
//! call ended, the trailers' metadata.

use crate::compression::Encoding;
use crate::metadata::MetadataMap;

/// A response, on the server as the handler returns it and on the client as it was received.
#[derive(Debug)]
pub struct Response<T> {
    message: T,
    metadata: MetadataMap,
    trailers: MetadataMap,
    /// The handler's choice of compression, overriding the server's.
    compression: Compression,
    /// Which messages of a compressed stream are compressed; all when `None`.
    per_message: Option<PerMessage>,
}

/// How a handler wants its response compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Compression {
    /// As the server does by default (an encoding the client accepts, or none).
    #[default]
    ServerDefault,
    /// Uncompressed, whatever the server's default.
    Off,
    /// With this encoding, if the client accepts it.
    With(Encoding),
}

/// Decides by its index in the stream whether a message of a compressed response stream is compressed.
pub(crate) struct PerMessage(Box<dyn FnMut(usize) -> bool + Send>);

impl PerMessage {
    pub(crate) fn compress(&mut self, index: usize) -> bool {
        (self.0)(index)
    }
}

impl std::fmt::Debug for PerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerMessage")
    }
}

impl<T> Response<T> {
    /// A response with no metadata.
    pub fn new(message: T) -> Self {
        Response::from_parts(MetadataMap::new(), message, MetadataMap::new())
    }

    /// The metadata of the response headers.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The metadata of the response headers, to change (server side).
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The metadata of the trailers: for a unary call as received; for a streaming response see
    /// `Streaming::trailers` once the stream ended.
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// The metadata of the trailers, to change (server side: sent after the last message).
    pub fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.trailers
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, to change.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// The message, consuming the response.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// Replaces the message, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            message: f(self.message),
            metadata: self.metadata,
            trailers: self.trailers,
            compression: self.compression,
            per_message: self.per_message,
        }
    }

    /// The parts: header metadata, message, trailer metadata.
    pub fn into_parts(self) -> (MetadataMap, T, MetadataMap) {
        (self.metadata, self.message, self.trailers)
    }

    /// A response from its parts.
    pub fn from_parts(metadata: MetadataMap, message: T, trailers: MetadataMap) -> Self {
        Response { message, metadata, trailers, compression: Compression::ServerDefault, per_message: None }
    }

    /// Server side: compresses this response's messages with `encoding` if the client accepts it, or sends
    /// them uncompressed with `None`, whatever the server's default (a response echoing already compressed
    /// data gains nothing from gzip).
    pub fn with_compression(mut self, encoding: Option<Encoding>) -> Self {
        self.compression = encoding.map_or(Compression::Off, Compression::With);
        self
    }

    /// Server side, for a stream of messages sent compressed: `compress(index)` says whether the message at
    /// `index` (0 for the first) is compressed; the others go plain (flag 0), as gRPC allows message by
    /// message. For data that is already compressed, or messages too small to gain from it.
    pub fn with_compression_per_message(mut self, compress: impl FnMut(usize) -> bool + Send + 'static) -> Self {
        self.per_message = Some(PerMessage(Box::new(compress)));
        self
    }

    pub(crate) fn compression(&self) -> Compression {
        self.compression
    }

    pub(crate) fn take_per_message(&mut self) -> Option<PerMessage> {
        self.per_message.take()
    }
}
