//! Server authentication as an interceptor: the call's metadata goes to the user's async check, which
//! returns an identity (stored in the request's extensions for the handler) or a status that ends the call
//! before the handler runs.

use std::future::Future;

use super::{
    MessageStream, MethodInfo, StreamFuture, StreamInterceptor, StreamNext, UnaryFuture, UnaryInterceptor, UnaryNext,
};
use crate::metadata::MetadataMap;
use crate::request::Request;
use crate::status::Status;
use crate::BoxMessage;

/// See [`auth_fn`].
#[derive(Clone, Copy, Debug)]
pub struct Auth<F> {
    check: F,
}

/// An interceptor that authenticates every call with `check`: `Ok(identity)` lets the call through with
/// the identity in `request.extensions()`, an error (usually `UNAUTHENTICATED` or `PERMISSION_DENIED`) ends
/// it with that status. `check` gets the method too, to leave some (a health check) open.
///
/// `check` borrows the metadata and returns a future that does not, so it reads what it needs first:
/// `auth_fn(|metadata, _method| { let token = bearer_token(metadata).map(str::to_owned); async move { verify(token?).await } })`.
pub fn auth_fn<F, Fut, T>(check: F) -> Auth<F>
where
    F: Fn(&MetadataMap, MethodInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    Auth { check }
}

/// The token of an `authorization: Bearer <token>` entry, or `UNAUTHENTICATED` saying what is wrong.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let value = metadata.get("authorization").ok_or_else(|| Status::unauthenticated("no authorization metadata"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Status::unauthenticated("the authorization metadata is not a bearer token"));
    }
    Ok(token.trim())
}

impl<F, Fut, T> UnaryInterceptor for Auth<F>
where
    F: Fn(&MetadataMap, MethodInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    fn intercept(&self, mut request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture {
        let check = (self.check)(request.metadata(), next.method());
        Box::pin(async move {
            request.extensions_mut().insert(check.await?);
            next.run(request).await
        })
    }
}

impl<F, Fut, T> StreamInterceptor for Auth<F>
where
    F: Fn(&MetadataMap, MethodInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, Status>> + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    fn intercept(&self, mut request: Request<MessageStream>, next: StreamNext) -> StreamFuture {
        let check = (self.check)(request.metadata(), next.method());
        Box::pin(async move {
            request.extensions_mut().insert(check.await?);
            next.run(request).await
        })
    }
}
