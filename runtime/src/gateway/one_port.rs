//! One port for gRPC and REST ([`GatewayBuilder::grpc`](super::GatewayBuilder::grpc)): a request whose
//! content type is gRPC's goes to the gRPC server (in process, through its own call engine), any other to
//! the REST routes, on the same HTTP/1.1 and HTTP/2 listener (and TLS, when the gateway has it), as
//! Envoy's transcoder and grpc-gateway-beside-grpc-go setups serve both on one port.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::options::{BodyError, GatewayBody};
use super::server::Gateway;
use crate::server::in_process::is_grpc_request;

impl Gateway {
    /// Answers a request that arrived on the gateway's own listener: gRPC to the gRPC server when the
    /// gateway has one (its handlers see the client's address as their peer), everything else to
    /// [`handle`](Gateway::handle).
    pub(crate) async fn answer<B>(
        &self,
        request: http::Request<B>,
        peer: Option<SocketAddr>,
    ) -> http::Response<GatewayBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match &self.inner.options.grpc {
            Some(grpc) if is_grpc_request(request.headers()) => {
                let response = grpc.call(request, peer).await;
                response.map(|body| body.map_err(|status| Box::new(status) as BodyError).boxed_unsync())
            }
            _ => self.handle(request, peer).await,
        }
    }
}
