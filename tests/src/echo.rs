//! An implementation of the test `Echo` and `Counter` services (testdata/protos/rsgrpc/test/services), used by
//! the end-to-end tests: it echoes, streams, fails, sleeps and records cancellations on request.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::server::BoxStream;
use rsgrpc::{Code, Request, Response, Status, Streaming};

use crate::gen::rsgrpc::test::common::Money;
use crate::gen::rsgrpc::test::echo::counter_server::Counter;
use crate::gen::rsgrpc::test::echo::echo_server::Echo;
use crate::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use crate::rt::well_known::Empty;

/// Who a caller is, as an authentication interceptor finds out; the `Echo.Unary` handler returns it in
/// the `x-identity` trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(pub String);

/// What the handlers observed, shared with the test.
#[derive(Debug, Default)]
pub struct Observed {
    /// Handlers that started.
    pub started: AtomicUsize,
    /// Handlers dropped before they finished (the call was cancelled or timed out).
    pub cancelled: AtomicUsize,
    /// Handlers that finished.
    pub finished: AtomicUsize,
}

/// The `Echo` service.
#[derive(Debug, Default, Clone)]
pub struct EchoService {
    /// What handlers observed.
    pub observed: Arc<Observed>,
}

/// Counts a handler as started, then as cancelled unless it is disarmed at its end.
struct CancelGuard<'a>(&'a Observed, bool);

impl<'a> CancelGuard<'a> {
    fn new(observed: &'a Observed) -> Self {
        observed.started.fetch_add(1, Ordering::SeqCst);
        CancelGuard(observed, false)
    }
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        let counter = if self.1 { &self.0.finished } else { &self.0.cancelled };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

fn check(request: &EchoRequest) -> Result<(), Status> {
    if request.fail_code != 0 {
        return Err(Status::new(Code::from_i32(request.fail_code), request.message.clone()));
    }
    Ok(())
}

fn reply(request: &EchoRequest, index: i32) -> EchoResponse {
    EchoResponse { message: request.message.clone(), index, payload: request.payload.clone(), ..Default::default() }
}

/// Response metadata echoing the request's `x-echo` entries, as headers and as trailers.
fn with_echoed_metadata<T>(request_metadata: &rsgrpc::MetadataMap, mut response: Response<T>) -> Response<T> {
    for value in request_metadata.get_all("x-echo") {
        response.metadata_mut().append("x-echo", value).expect("valid");
        response.trailers_mut().append("x-echo-trailer", value).expect("valid");
    }
    response
}

impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let mut guard = CancelGuard::new(&self.observed);
        let message = request.get_ref();
        if message.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(message.delay_ms as u64)).await;
        }
        check(message)?;
        let mut response = with_echoed_metadata(request.metadata(), Response::new(reply(message, 0)));
        if let Some(peer) = request.peer_addr() {
            response.trailers_mut().insert("x-peer", &peer.to_string()).expect("valid metadata");
        }
        if let Some(authorization) = request.metadata().get("authorization") {
            response.trailers_mut().insert("x-authorization", authorization).expect("valid metadata");
        }
        if let Some(certificate) = request.peer_certificates().and_then(|chain| chain.first()) {
            response.trailers_mut().insert_bin("x-client-certificate-bin", certificate).expect("valid metadata");
        }
        if let Some(Identity(identity)) = request.extensions().get::<Identity>() {
            response.trailers_mut().insert("x-identity", identity).expect("valid metadata");
        }
        if let Some(task) = tokio::task::try_id() {
            response.trailers_mut().insert("x-task", &task.to_string()).expect("valid metadata");
        }
        guard.1 = true;
        Ok(response)
    }

    async fn server_stream(&self, request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let message = request.into_inner();
        let observed = self.observed.clone();
        let stream = async_stream(move |sender| async move {
            let mut guard = CancelGuard::new(&observed);
            for index in 0..message.repeat {
                if message.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(message.delay_ms as u64)).await;
                }
                if sender.send(Ok(reply(&message, index))).await.is_err() {
                    return;
                }
            }
            if let Err(status) = check(&message) {
                let _ = sender.send(Err(status)).await;
            }
            guard.1 = true;
        });
        Ok(Response::new(stream))
    }

    async fn client_stream(&self, request: Request<Streaming<EchoRequest>>) -> Result<Response<EchoResponse>, Status> {
        let mut stream = request.into_inner();
        let mut joined = Vec::new();
        let mut count = 0;
        while let Some(message) = stream.message().await? {
            check(&message)?;
            joined.push(message.message);
            count += 1;
        }
        Ok(Response::new(EchoResponse { message: joined.join(","), index: count, ..Default::default() }))
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let mut incoming = request.into_inner();
        let stream = async_stream(move |sender| async move {
            let mut index = 0;
            loop {
                match incoming.message().await {
                    Ok(Some(message)) => {
                        if let Err(status) = check(&message) {
                            let _ = sender.send(Err(status)).await;
                            return;
                        }
                        if sender.send(Ok(reply(&message, index))).await.is_err() {
                            return;
                        }
                        index += 1;
                    }
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn price(&self, _request: Request<Empty>) -> Result<Response<Money>, Status> {
        Ok(Response::new(Money { currency: "EUR".into(), units: 42, ..Default::default() }))
    }
}

/// The `Counter` service: counts calls.
#[derive(Debug, Default)]
pub struct CounterService {
    next: AtomicU32,
}

impl Counter for CounterService {
    async fn next(&self, _request: Request<Empty>) -> Result<Response<EchoResponse>, Status> {
        let index = self.next.fetch_add(1, Ordering::SeqCst) as i32;
        Ok(Response::new(EchoResponse { index, ..Default::default() }))
    }
}

/// A response stream fed by a task-free producer: `produce` gets a sender and runs as the stream is polled.
pub fn async_stream<T, F, Fut>(produce: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1);
    let mut producer = Box::pin(produce(sender));
    let mut producing = true;
    Box::pin(futures_stream(move |cx| {
        if producing && producer.as_mut().poll(cx).is_ready() {
            producing = false;
        }
        receiver.poll_recv(cx)
    }))
}

fn futures_stream<T>(
    poll: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>> + Send + Unpin,
) -> impl rsgrpc::Stream<Item = T> + Send {
    struct PollStream<F>(F);
    impl<F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>> + Unpin, T> rsgrpc::Stream for PollStream<F> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            (self.0)(cx)
        }
    }
    PollStream(poll)
}
