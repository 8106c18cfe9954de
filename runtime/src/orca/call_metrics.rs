//! Per-call ORCA reports: a server interceptor that gives each call a [`CallMetricRecorder`] and sends
//! what it recorded in the call's `endpoint-load-metrics-bin` trailer, on success and on failure alike (a
//! balancer weighs errors too). An interceptor, as grpc-go's `CallMetricsServerOption` is, so servers that
//! do not report pay nothing.

use crate::interceptor::{
    MessageStream, StreamFuture, StreamInterceptor, StreamNext, UnaryFuture, UnaryInterceptor, UnaryNext,
};
use crate::load_report::to_trailers;
use crate::metadata::MetadataMap;
use crate::request::Request;
use crate::status::{Code, Status};
use crate::BoxMessage;

use super::recorder::{CallMetricRecorder, ServerMetricRecorder};

/// The interceptor: `ServerBuilder::interceptor(orca::call_metrics())`.
#[derive(Debug, Clone, Default)]
pub struct CallMetrics {
    server: Option<ServerMetricRecorder>,
}

/// Per-call load reports, with only what each handler records.
pub fn call_metrics() -> CallMetrics {
    CallMetrics::default()
}

impl CallMetrics {
    /// Fills what a call did not record from `recorder` (the backend's CPU, say, measured once for all
    /// calls), as gRFC A51's server-wide recorder does.
    pub fn with_server_metrics(mut self, recorder: ServerMetricRecorder) -> Self {
        self.server = Some(recorder);
        self
    }

    fn start<T>(&self, request: &mut Request<T>) -> Ending {
        let recorder = CallMetricRecorder::default();
        request.extensions_mut().insert(recorder.clone());
        Ending { recorder, server: self.server.clone() }
    }
}

/// What a call's end needs to write its report.
struct Ending {
    recorder: CallMetricRecorder,
    server: Option<ServerMetricRecorder>,
}

impl Ending {
    fn write(&self, trailers: &mut MetadataMap) {
        if let Some(report) = self.recorder.report(self.server.as_ref()) {
            to_trailers(&report, trailers);
        }
    }
}

impl UnaryInterceptor for CallMetrics {
    fn intercept(&self, mut request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture {
        let ending = self.start(&mut request);
        Box::pin(async move {
            match next.run(request).await {
                Ok(mut response) => {
                    ending.write(response.trailers_mut());
                    Ok(response)
                }
                Err(mut status) => {
                    ending.write(status.metadata_mut());
                    Err(status)
                }
            }
        })
    }
}

impl StreamInterceptor for CallMetrics {
    fn intercept(&self, mut request: Request<MessageStream>, next: StreamNext) -> StreamFuture {
        let ending = self.start(&mut request);
        Box::pin(async move {
            match next.run(request).await {
                // The handler records as the stream goes: the report is written when it ends. An OK end
                // becomes an OK status carrying the trailer, which the server sends as the trailers.
                Ok(response) => Ok(response.map(|messages| {
                    messages.map_end(move |end| {
                        let mut status = end.unwrap_or_else(|| Status::new(Code::Ok, ""));
                        ending.write(status.metadata_mut());
                        let empty = status.code() == Code::Ok && status.metadata().is_empty();
                        (!empty).then_some(status)
                    })
                })),
                Err(mut status) => {
                    ending.write(status.metadata_mut());
                    Err(status)
                }
            }
        })
    }
}
