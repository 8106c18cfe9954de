//! Running a chain for one typed call: the request is boxed on the way in, the response unboxed on the way
//! out, and a message an interceptor replaced with one of another type fails the call with `INTERNAL`.

use std::future::Future;
use std::sync::Arc;

use prost::Message;

use super::message::{downcast, BoxMessage, MethodInfo};
use super::stream::replaced;
use super::{Interceptors, MessageStream, StreamLast, StreamNext, UnaryLast, UnaryNext};
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;

pub(crate) fn boxed<T: Message + 'static>(message: T) -> BoxMessage {
    Box::new(message)
}

/// Runs the unary chain, with `last` as its final step.
pub(crate) async fn unary<Req, Res, F, Fut>(
    chain: Arc<Interceptors>,
    method: MethodInfo,
    request: Request<Req>,
    last: F,
) -> Result<Response<Res>, Status>
where
    Req: Message + 'static,
    Res: Message + 'static,
    F: FnOnce(Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
{
    let last: UnaryLast = Box::new(move |request| {
        Box::pin(async move {
            let request = unbox_request::<Req>(request, method)?;
            Ok(last(request).await?.map(boxed))
        })
    });
    let response = UnaryNext::new(chain, method, last).run(request.map(boxed)).await?;
    unbox_response(response, method)
}

/// Runs the streaming chain, with `last` as its final step.
pub(crate) async fn stream<F, Fut>(
    chain: Arc<Interceptors>,
    method: MethodInfo,
    request: Request<MessageStream>,
    last: F,
) -> Result<Response<MessageStream>, Status>
where
    F: FnOnce(Request<MessageStream>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<MessageStream>, Status>> + Send + 'static,
{
    let last: StreamLast = Box::new(move |request| Box::pin(last(request)));
    StreamNext::new(chain, method, last).run(request).await
}

fn unbox_request<T: Message + 'static>(request: Request<BoxMessage>, method: MethodInfo) -> Result<Request<T>, Status> {
    if !request.get_ref().is::<T>() {
        return Err(replaced::<T>(method, &**request.get_ref()));
    }
    Ok(request.map(|message| downcast::<T>(message).unwrap_or_else(|_| unreachable!("checked above"))))
}

fn unbox_response<T: Message + 'static>(
    response: Response<BoxMessage>,
    method: MethodInfo,
) -> Result<Response<T>, Status> {
    if !response.get_ref().is::<T>() {
        return Err(replaced::<T>(method, &**response.get_ref()));
    }
    Ok(response.map(|message| downcast::<T>(message).unwrap_or_else(|_| unreachable!("checked above"))))
}

/// The one message of a stream that stands for a single message (the request of a server-streaming call,
/// the response of a client-streaming one), as a `T`.
pub(crate) async fn single<T: Message + 'static>(
    mut stream: MessageStream,
    method: MethodInfo,
    what: &str,
) -> Result<T, Status> {
    let Some(message) = stream.message().await? else {
        return Err(Status::internal(format!("an interceptor of {method} removed the {what} message")));
    };
    if stream.message().await?.is_some() {
        return Err(Status::internal(format!("an interceptor of {method} added a second {what} message")));
    }
    downcast::<T>(message).map_err(|other| replaced::<T>(method, &*other))
}
