//! Messages and methods as interceptors see them: any generated message type behind one trait object, and
//! the name and kind of the method being called.

use std::any::Any;
use std::fmt;

/// A protobuf message of any type. Interceptors are shared by every method of a channel or server, so they
/// see messages through this trait and downcast to the types they know.
pub trait AnyMessage: Any + Send + Sync {
    /// The encoded size in bytes.
    fn encoded_len(&self) -> usize;

    /// The encoding.
    fn encode_to_vec(&self) -> Vec<u8>;

    /// The Rust type's name, for logs and errors.
    fn type_name(&self) -> &'static str;

    #[doc(hidden)]
    fn as_any(&self) -> &dyn Any;

    #[doc(hidden)]
    fn as_any_mut(&mut self) -> &mut dyn Any;

    #[doc(hidden)]
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: prost::Message + 'static> AnyMessage for T {
    fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(self)
    }

    fn encode_to_vec(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl dyn AnyMessage {
    /// Whether the message is a `T`.
    pub fn is<T: AnyMessage>(&self) -> bool {
        self.as_any().is::<T>()
    }

    /// The message as a `T`, if it is one.
    pub fn downcast_ref<T: AnyMessage>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }

    /// The message as a `T` to change, if it is one.
    pub fn downcast_mut<T: AnyMessage>(&mut self) -> Option<&mut T> {
        self.as_any_mut().downcast_mut()
    }
}

impl fmt::Debug for dyn AnyMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.type_name(), self.encoded_len())
    }
}

/// An owned message of any type.
pub type BoxMessage = Box<dyn AnyMessage>;

/// Takes a `T` out of a boxed message; gives the box back when it holds another type.
pub fn downcast<T: AnyMessage>(message: BoxMessage) -> Result<T, BoxMessage> {
    if message.is::<T>() {
        Ok(*message.into_any().downcast::<T>().expect("checked by is::<T>"))
    } else {
        Err(message)
    }
}

/// The four kinds of gRPC methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStreaming,
    /// A stream of requests, one response.
    ClientStreaming,
    /// Streams both ways.
    BidiStreaming,
}

impl MethodKind {
    /// The lower-case name used in logs and metrics (`unary`, `server_stream`, `client_stream`,
    /// `bidi_stream`, as grpc-go's middleware names them).
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::ServerStreaming => "server_stream",
            MethodKind::ClientStreaming => "client_stream",
            MethodKind::BidiStreaming => "bidi_stream",
        }
    }
}

/// The method a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MethodInfo {
    service: &'static str,
    method: &'static str,
    kind: MethodKind,
}

impl MethodInfo {
    /// A method of `service` (full name, `package.Service`).
    pub fn new(service: &'static str, method: &'static str, kind: MethodKind) -> Self {
        MethodInfo { service, method, kind }
    }

    /// From a path `/package.Service/Method` (a malformed path leaves the service empty).
    pub(crate) fn from_path(path: &'static str, kind: MethodKind) -> Self {
        let (service, method) = path.strip_prefix('/').and_then(|p| p.split_once('/')).unwrap_or(("", path));
        MethodInfo { service, method, kind }
    }

    /// The service's full name, `package.Service`.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The method's name, `Method`.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The kind of call.
    pub fn kind(&self) -> MethodKind {
        self.kind
    }

    /// The path the call is sent to, `/package.Service/Method`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }
}

impl fmt::Display for MethodInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.service, self.method)
    }
}
