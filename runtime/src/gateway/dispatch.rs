//! What a built gateway holds, its routes with their parsed templates and its options, and how a matched
//! route's handler runs (a panic in it answered 500). Both the HTTP server and the WebSocket bridge
//! dispatch through it.

use std::sync::Arc;

use super::body::GatewayBody;
use super::options::Options;
use super::response::error_response;
use super::route::{Call, Handle, Route};
use super::template::PathTemplate;
use crate::status::Status;

/// A route with its parsed template.
pub(crate) struct Compiled {
    pub(crate) method: http::Method,
    pub(crate) template: PathTemplate,
    pub(crate) route: Route,
}

/// A gateway's routes and options, shared by its connections.
pub(crate) struct Inner {
    pub(crate) routes: Vec<Compiled>,
    pub(crate) options: Arc<Options>,
}

/// Runs a route's handler; a panic in it (the service's code) is answered 500 with a `google.rpc.Status`
/// body, as the gRPC server answers `INTERNAL`, instead of unwinding into the connection and closing it
/// for every request on it.
pub(crate) async fn caught(handler: &dyn Handle, call: Call) -> http::Response<GatewayBody> {
    let options = call.options.clone();
    let panicked = |panic: Box<dyn std::any::Any + Send>| {
        let message = crate::interceptor::recovery::panic_message(panic.as_ref());
        tracing::error!(panic = %message, "a gateway handler panicked; the request fails with INTERNAL");
        error_response(&Status::internal("the handler panicked"), &options)
    };
    let mut future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(call))) {
        Ok(future) => future,
        Err(panic) => return panicked(panic),
    };
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => std::task::Poll::Ready(panicked(panic)),
        }
    })
    .await
}
