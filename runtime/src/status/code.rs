//! The gRPC status codes: numbers, the spec's names and meanings, and the mapping from HTTP statuses of
//! responses that are not gRPC.

use std::error::Error;
use std::fmt;

/// The gRPC status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// An error without a better code, or one from another error space.
    Unknown = 2,
    /// The client sent an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation completed.
    DeadlineExceeded = 4,
    /// An entity was not found.
    NotFound = 5,
    /// The entity a client tried to create already exists.
    AlreadyExists = 6,
    /// The caller may not perform the operation.
    PermissionDenied = 7,
    /// A resource (a quota, memory, a message size limit) is exhausted.
    ResourceExhausted = 8,
    /// The system is not in the state the operation needs.
    FailedPrecondition = 9,
    /// The operation was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// The operation went past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// An invariant of the system broke.
    Internal = 13,
    /// The service is unavailable for now; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// The code for a number; numbers outside 0..=16 are `Unknown`, as the gRPC spec says.
    pub fn from_i32(value: i32) -> Code {
        match value {
            0 => Code::Ok,
            1 => Code::Cancelled,
            2 => Code::Unknown,
            3 => Code::InvalidArgument,
            4 => Code::DeadlineExceeded,
            5 => Code::NotFound,
            6 => Code::AlreadyExists,
            7 => Code::PermissionDenied,
            8 => Code::ResourceExhausted,
            9 => Code::FailedPrecondition,
            10 => Code::Aborted,
            11 => Code::OutOfRange,
            12 => Code::Unimplemented,
            13 => Code::Internal,
            14 => Code::Unavailable,
            15 => Code::DataLoss,
            16 => Code::Unauthenticated,
            _ => Code::Unknown,
        }
    }

    /// The code's name as the gRPC spec writes it (`DEADLINE_EXCEEDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code for an HTTP status of a response that is not gRPC, per the spec's
    /// "HTTP to gRPC Status Code Mapping".
    pub fn from_http_status(status: http::StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Code {
    /// What the code means, in a sentence (the gRPC spec's summary), for logs and error pages.
    pub fn description(self) -> &'static str {
        match self {
            Code::Ok => "the operation completed successfully",
            Code::Cancelled => "the operation was cancelled",
            Code::Unknown => "an unknown error",
            Code::InvalidArgument => "the client specified an invalid argument",
            Code::DeadlineExceeded => "the deadline expired before the operation could complete",
            Code::NotFound => "some requested entity was not found",
            Code::AlreadyExists => "some entity the client tried to create already exists",
            Code::PermissionDenied => "the caller does not have permission to run the operation",
            Code::ResourceExhausted => "some resource has been exhausted",
            Code::FailedPrecondition => "the system is not in a state required for the operation",
            Code::Aborted => "the operation was aborted",
            Code::OutOfRange => "the operation was attempted past the valid range",
            Code::Unimplemented => "the operation is not implemented or not supported",
            Code::Internal => "an internal error",
            Code::Unavailable => "the service is currently unavailable",
            Code::DataLoss => "unrecoverable data loss or corruption",
            Code::Unauthenticated => "the request does not have valid authentication credentials",
        }
    }
}

/// Numbers outside 0..=16 are `Unknown`, as the gRPC spec says.
impl From<i32> for Code {
    fn from(value: i32) -> Code {
        Code::from_i32(value)
    }
}

impl From<Code> for i32 {
    fn from(code: Code) -> i32 {
        code as i32
    }
}

/// Parses a code's name as the spec writes it (`DEADLINE_EXCEEDED`, as service configs do) or its number.
impl std::str::FromStr for Code {
    type Err = ParseCodeError;

    fn from_str(text: &str) -> Result<Code, ParseCodeError> {
        if let Ok(number) = text.parse::<i32>() {
            return (0..=16).contains(&number).then(|| Code::from_i32(number)).ok_or(ParseCodeError { number: true });
        }
        (0..=16).map(Code::from_i32).find(|code| code.as_str() == text).ok_or(ParseCodeError { number: false })
    }
}

/// A string that names no gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCodeError {
    /// It was a number, outside 0..=16.
    number: bool,
}

impl fmt::Display for ParseCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.number {
            f.write_str("a status code number must be 0 to 16")
        } else {
            f.write_str("not the name of a gRPC status code (names are upper case, like DEADLINE_EXCEEDED)")
        }
    }
}

impl Error for ParseCodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_unknown_numbers_are_unknown() {
        for value in 0..=16 {
            assert_eq!(Code::from_i32(value) as i32, value);
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
    }

    #[test]
    fn codes_convert_from_and_to_numbers_and_names() {
        assert_eq!(Code::from(14), Code::Unavailable);
        assert_eq!(i32::from(Code::DeadlineExceeded), 4);
        assert_eq!("DEADLINE_EXCEEDED".parse::<Code>(), Ok(Code::DeadlineExceeded));
        assert_eq!("16".parse::<Code>(), Ok(Code::Unauthenticated));
        assert!("17".parse::<Code>().unwrap_err().to_string().contains("0 to 16"));
        assert!("deadline_exceeded".parse::<Code>().unwrap_err().to_string().contains("upper case"));
        for value in 0..=16 {
            let code = Code::from(value);
            assert_eq!(code.as_str().parse::<Code>(), Ok(code));
            assert!(!code.description().is_empty());
        }
    }
}
