//! gRPC statuses as HTTP answers: grpc-gateway's table of HTTP status codes, and the error body, a
//! `google.rpc.Status` in JSON (`{"code": 5, "message": "...", "details": [...]}`).

use crate::json::{to_json_with, JsonOptions};
use crate::status::{Code, Status};

/// The HTTP status for a gRPC code, as grpc-gateway maps them.
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as S;
    match code {
        Code::Ok => S::OK,
        // nginx's "client closed request": there is no standard code for it.
        Code::Cancelled => S::from_u16(499).expect("a valid status code"),
        Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
        Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        Code::NotFound => S::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => S::CONFLICT,
        Code::PermissionDenied => S::FORBIDDEN,
        Code::Unauthenticated => S::UNAUTHORIZED,
        Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
        Code::Unimplemented => S::NOT_IMPLEMENTED,
        Code::Unavailable => S::SERVICE_UNAVAILABLE,
    }
}

/// The gRPC code of an error answer, in its extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnsweredCode(pub(crate) Code);

/// The status of a call whose `Grpc-Timeout` deadline passed: one message in both modes, whatever the
/// proxied call's own deadline error said.
pub(crate) fn deadline_passed() -> Status {
    Status::deadline_exceeded("the deadline (Grpc-Timeout) passed")
}

/// The JSON body of an error: the status with its details (decoded from `grpc-status-details-bin`; the
/// types in them must be in the JSON type registry, else they are left out and the omission logged).
pub(crate) fn error_json(status: &Status, options: &JsonOptions) -> String {
    let options = JsonOptions { emit_defaults: true, ..options.clone() };
    let mut rpc = status.rpc_status().unwrap_or_default();
    rpc.code = status.code() as i32;
    rpc.message = status.message().to_owned();
    match to_json_with(&rpc, &options) {
        Ok(json) => json,
        Err(error) => {
            tracing::warn!(%error, "the error details cannot be written as JSON; leaving them out");
            rpc.details.clear();
            to_json_with(&rpc, &options).unwrap_or_else(|_| format!("{{\"code\":{},\"message\":\"\"}}", rpc.code))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let table = [
            (Code::Ok, 200),
            (Code::Cancelled, 499),
            (Code::Unknown, 500),
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::OutOfRange, 400),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
            (Code::Unauthenticated, 401),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn error_bodies_carry_code_message_and_details() {
        let json = error_json(&Status::not_found("no such book"), &JsonOptions::default());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value, serde_json::json!({"code": 5, "message": "no such book", "details": []}));
    }
}
