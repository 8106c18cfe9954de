//! The gateway's health endpoint: `GET <path>` (optionally `?service=name`) answered from the gRPC health
//! service (`grpc.health.v1`), as grpc-gateway's `WithHealthzEndpoint` does: `200 {"status":"SERVING"}`,
//! `503` with the status for any other, and the usual error answer (404 for an unknown service) when the
//! check fails. Or, with no health service, `200 {"status":"SERVING"}` while the gateway runs.

use super::body::{self, GatewayBody};
use super::options::{HealthSource, Options};
use super::response::error_response;
use crate::health::{HealthCheckRequest, ServingStatus};
use crate::status::Status;

/// The answer to a health probe with `query`.
pub(crate) async fn answer(
    source: &HealthSource,
    query: Option<&str>,
    options: &Options,
) -> http::Response<GatewayBody> {
    let service = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "service")
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned()
        })
        .unwrap_or_default();
    let status = match source {
        HealthSource::Running => Ok(ServingStatus::Serving),
        HealthSource::Reporter(reporter) => {
            reporter.serving_status(&service).ok_or_else(|| Status::not_found(format!("unknown service {service:?}")))
        }
        HealthSource::Client(client) => {
            let request = HealthCheckRequest { service, ..Default::default() };
            let within = std::time::Duration::from_secs(10);
            let mut request = crate::Request::new(request);
            request.set_timeout(within);
            client.check(request).await.map(|response| response.into_inner().status())
        }
    };
    match status {
        Ok(status) => {
            let code = if status == ServingStatus::Serving {
                http::StatusCode::OK
            } else {
                http::StatusCode::SERVICE_UNAVAILABLE
            };
            let mut response = http::Response::new(body::full(format!("{{\"status\":\"{}\"}}", status.as_str_name())));
            *response.status_mut() = code;
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
            response
        }
        Err(status) => error_response(&status, options),
    }
}
