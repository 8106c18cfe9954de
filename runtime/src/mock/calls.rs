//! The four call kinds of a mock: what generated mocks call from their client-trait methods. Each turns
//! the caller's request into what the expectations see, and their answer into what a real client returns.

use std::fmt::Debug;

use futures_core::Stream;
use futures_util::StreamExt;
use prost::Message;

use super::method::Method;
use super::streams::{Replies, Requests};
use crate::client::Sender;
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::Streaming;

/// A unary call: the request message in, the response message out.
pub fn unary<Req, Res>(method: &Method<Req, Res>, request: Request<Req>) -> Result<Response<Res>, Status>
where
    Req: Debug + Send + 'static,
    Res: Default + Send + 'static,
{
    method.call(request.into_inner(), |message| format!("{message:?}")).map(Response::new)
}

/// A server-streaming call: the request message in, the [`Replies`] out as the response stream.
pub fn server_streaming<Req, Res>(
    method: &Method<Req, Replies<Res>>,
    request: Request<Req>,
) -> Result<Response<Streaming<Res>>, Status>
where
    Req: Debug + Send + 'static,
    Res: Message + Default + Send + 'static,
{
    let replies = method.call(request.into_inner(), |message| format!("{message:?}"))?;
    Ok(Response::new(Streaming::from_stream(replies.into_stream(), None)))
}

/// A client-streaming call: the caller's stream is read to its end, and the messages go to the
/// expectations together.
pub async fn client_streaming<Req, Res, S>(
    method: &Method<Vec<Req>, Res>,
    request: Request<S>,
) -> Result<Response<Res>, Status>
where
    Req: Debug + Send + 'static,
    Res: Default + Send + 'static,
    S: Stream<Item = Req> + Send + 'static,
{
    let messages: Vec<Req> = request.into_inner().collect().await;
    method.call(messages, |messages| format!("the request stream {messages:?}")).map(Response::new)
}

/// A bidirectional call: the expectation gets the request stream the caller's [`Sender`] feeds, and its
/// [`Replies`] become the response stream.
pub fn streaming<Req, Res>(
    method: &Method<Requests<Req>, Replies<Res>>,
    request: Request<()>,
) -> Result<(Sender<Req>, Streaming<Res>), Status>
where
    Req: Message + Send + 'static,
    Res: Message + Default + Send + 'static,
{
    let _ = request;
    let (sender, messages) = crate::client::local_sender::<Req>();
    let replies = method.call(Requests::new(messages), |_| "a request stream".to_owned())?;
    Ok((sender, Streaming::from_stream(replies.into_stream(), None)))
}
