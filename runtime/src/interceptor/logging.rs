//! Logging as an interceptor: one `tracing` event when a call starts (DEBUG) and one when it ends, with the
//! method, its kind, the status code, the duration and, for streams, the number of messages each way. The
//! end event's level follows the code as go-grpc-middleware's defaults do: INFO for codes that are the
//! caller's business (OK, NOT_FOUND, INVALID_ARGUMENT...), WARN for trouble worth a look
//! (DEADLINE_EXCEEDED, UNAVAILABLE...), ERROR for bugs (INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{
    MessageStream, MethodInfo, StreamFuture, StreamInterceptor, StreamNext, UnaryFuture, UnaryInterceptor, UnaryNext,
};
use crate::request::Request;
use crate::status::{Code, Status};
use crate::BoxMessage;

/// See [`logging`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Logging {
    _private: (),
}

/// Logs every call through `tracing` (target `rsgrpc::interceptor::logging`).
pub fn logging() -> Logging {
    Logging::default()
}

impl UnaryInterceptor for Logging {
    fn intercept(&self, request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture {
        let method = next.method();
        let peer = request.peer_addr();
        started(method, peer);
        let start = Instant::now();
        Box::pin(async move {
            let result = next.run(request).await;
            let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
            finished(method, peer, code, start, None);
            result
        })
    }
}

impl StreamInterceptor for Logging {
    fn intercept(&self, request: Request<MessageStream>, next: StreamNext) -> StreamFuture {
        let method = next.method();
        let peer = request.peer_addr();
        started(method, peer);
        let start = Instant::now();
        let requests = Arc::new(AtomicU64::new(0));
        let responses = Arc::new(AtomicU64::new(0));
        let counted = requests.clone();
        let request = request.map(|stream| {
            stream.map_messages(move |message| {
                counted.fetch_add(1, Ordering::Relaxed);
                Ok(message)
            })
        });
        Box::pin(async move {
            let response = match next.run(request).await {
                Ok(response) => response,
                Err(status) => {
                    let counts = (requests.load(Ordering::Relaxed), 0);
                    finished(method, peer, status.code(), start, Some(counts));
                    return Err(status);
                }
            };
            let counted = responses.clone();
            Ok(response.map(|stream| {
                stream
                    .map_messages(move |message| {
                        counted.fetch_add(1, Ordering::Relaxed);
                        Ok(message)
                    })
                    .map_end(move |end| {
                        let code = end.as_ref().map_or(Code::Ok, Status::code);
                        let counts = (requests.load(Ordering::Relaxed), responses.load(Ordering::Relaxed));
                        finished(method, peer, code, start, Some(counts));
                        end
                    })
            }))
        })
    }
}

fn started(method: MethodInfo, peer: Option<SocketAddr>) {
    tracing::debug!(
        grpc.service = method.service(),
        grpc.method = method.method(),
        grpc.method_type = method.kind().as_str(),
        peer = peer.map(tracing::field::display),
        "started call"
    );
}

fn finished(method: MethodInfo, peer: Option<SocketAddr>, code: Code, start: Instant, counts: Option<(u64, u64)>) {
    let time_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (requests, responses) = counts.unzip();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                $level,
                grpc.service = method.service(),
                grpc.method = method.method(),
                grpc.method_type = method.kind().as_str(),
                grpc.code = code.as_str(),
                grpc.time_ms = time_ms,
                grpc.request_messages = requests,
                grpc.response_messages = responses,
                peer = peer.map(tracing::field::display),
                "finished call"
            )
        };
    }
    match level(code) {
        tracing::Level::ERROR => event!(tracing::Level::ERROR),
        tracing::Level::WARN => event!(tracing::Level::WARN),
        _ => event!(tracing::Level::INFO),
    }
}

/// go-grpc-middleware's default mapping of a server's codes to log levels.
fn level(code: Code) -> tracing::Level {
    match code {
        Code::Ok
        | Code::Cancelled
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::Unauthenticated => tracing::Level::INFO,
        Code::DeadlineExceeded
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable => tracing::Level::WARN,
        Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => tracing::Level::ERROR,
    }
}
