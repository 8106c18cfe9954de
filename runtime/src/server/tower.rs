//! The server as a tower service (feature `tower`): [`Server::into_tower`] for any tower stack or hyper
//! server, and [`grpc_or`] to serve gRPC and another service (an axum router, say) on one port, split by
//! content type, as tonic's and grpc-go's `ServeHTTP` users do.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::Body;

use super::in_process::InProcess;
pub use super::in_process::{is_grpc_request, GrpcBody};
use super::Server;

/// What errors of the services and bodies combined by [`grpc_or`] become.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl Server {
    /// This server as a `tower::Service<http::Request<B>>` for any request body (hyper's `Incoming`
    /// included), answering with `http::Response<GrpcBody>`: serve it with hyper (HTTP/2, or HTTP/1.1 and
    /// h2c with hyper-util's auto builder), put tower layers around it, or combine it with other services
    /// ([`grpc_or`]).
    ///
    /// Calls run through the server's router, interceptors, message limits, deadlines, compression and
    /// status mapping, exactly as calls over its own listener (see [`TowerService`] for how). The
    /// connection settings (TLS, keepalive, connection limits and timeouts) are the host server's.
    pub fn into_tower(self) -> TowerService {
        TowerService { inner: Arc::new(InProcess::new(self)) }
    }
}

/// A [`Server`] as a tower service ([`Server::into_tower`]); clones share one server.
///
/// Each request is handed to the server's own connection engine over an in-memory HTTP/2 connection, so
/// there is one implementation of calls whether they come from the server's listener or from a tower
/// stack; the cost is an in-memory HTTP/2 encoding of each frame. Requests from every host connection
/// share that in-memory connection and its receive budget
/// ([`connection_receive_budget`](super::ServerBuilder::connection_receive_budget)). A handler sees a peer
/// address ([`Request::peer_addr`](crate::Request::peer_addr)) when the request carries a [`PeerAddr`]
/// extension, and none otherwise: the host connection is not known to the server.
#[derive(Clone)]
pub struct TowerService {
    inner: Arc<InProcess>,
}

impl std::fmt::Debug for TowerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TowerService").finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<http::Request<B>> for TowerService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<GrpcBody>;
    /// Never: failures are gRPC statuses in the response.
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<GrpcBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let peer = request.extensions().get::<PeerAddr>().map(|peer| peer.0);
        Box::pin(async move { Ok(inner.call(request, peer).await) })
    }
}

/// The client's address as a request extension: a [`TowerService`] hands it to the call, so handlers and
/// interceptors see it as [`Request::peer_addr`](crate::Request::peer_addr). The host server knows it per
/// connection; insert it with a `map_request` layer there (axum users: from `ConnectInfo<SocketAddr>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Routes gRPC requests (`content-type: application/grpc`, `application/grpc+proto` and the like) to
/// `grpc` and every other request to `other`, so one listener serves both: gRPC beside an axum router,
/// a health page or a REST API.
///
/// `application/grpc-web` is not gRPC here: it goes to `other` (which may translate it).
pub fn grpc_or<G, O>(grpc: G, other: O) -> GrpcOr<G, O> {
    GrpcOr { grpc, other }
}

/// The service [`grpc_or`] returns.
#[derive(Clone, Debug)]
pub struct GrpcOr<G, O> {
    grpc: G,
    other: O,
}

impl<B, G, O, GB, OB> tower_service::Service<http::Request<B>> for GrpcOr<G, O>
where
    B: Send + 'static,
    G: tower_service::Service<http::Request<B>, Response = http::Response<GB>> + Clone + Send + 'static,
    G::Future: Send,
    G::Error: Into<BoxError>,
    O: tower_service::Service<http::Request<B>, Response = http::Response<OB>> + Clone + Send + 'static,
    O::Future: Send,
    O::Error: Into<BoxError>,
{
    type Response = http::Response<http_body_util::Either<GB, OB>>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    /// Always ready: which service a request needs is known only from the request, so each call waits for
    /// its own service's readiness (on a clone, as tower's `Steer` and axum's routers do).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if is_grpc_request(request.headers()) {
            let service = ready_clone(&mut self.grpc);
            Box::pin(async move {
                let response = oneshot(service, request).await?;
                Ok(response.map(http_body_util::Either::Left))
            })
        } else {
            let service = ready_clone(&mut self.other);
            Box::pin(async move {
                let response = oneshot(service, request).await?;
                Ok(response.map(http_body_util::Either::Right))
            })
        }
    }
}

/// A clone to call, leaving the clone in its place: a service that was made ready goes with the call, as
/// tower's guidance on cloning services asks.
fn ready_clone<S: Clone>(service: &mut S) -> S {
    let clone = service.clone();
    std::mem::replace(service, clone)
}

/// Waits for `service` to be ready, then calls it.
async fn oneshot<S, R>(mut service: S, request: R) -> Result<S::Response, BoxError>
where
    S: tower_service::Service<R>,
    S::Error: Into<BoxError>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into)?;
    service.call(request).await.map_err(Into::into)
}
