//! Conversions between `Timestamp`/`Duration` and the standard library's time types, with the ranges the
//! well-known types define (years 0001 to 9999; durations up to 10,000 years).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Duration, Timestamp};

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z relative to the Unix epoch.
const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;
/// The largest magnitude of a `Duration`, in seconds (about 10,000 years).
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A time value that cannot be converted: outside the range of the type it was converted to, or not a
/// valid value of its own type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError {
    kind: TimeErrorKind,
    message: String,
}

/// Why a time value did not convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeErrorKind {
    /// The value is valid but does not fit the target type's range.
    OutOfRange,
    /// The value breaks its own type's rules (nanos out of range, or of another sign than seconds).
    Invalid,
}

impl TimeError {
    fn new(kind: TimeErrorKind, message: String) -> Self {
        TimeError { kind, message }
    }

    /// Why it did not convert.
    pub fn kind(&self) -> TimeErrorKind {
        self.kind
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimeError {}

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp::try_from(SystemTime::now()).unwrap_or_default()
    }

    /// Whether seconds and nanos are within the ranges `Timestamp` defines.
    pub fn is_valid(&self) -> bool {
        (MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&self.seconds)
            && (0..1_000_000_000).contains(&self.nanos)
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimeError;

    fn try_from(time: SystemTime) -> Result<Self, TimeError> {
        let (seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => (i64::try_from(after.as_secs()).unwrap_or(i64::MAX), after.subsec_nanos() as i64),
            Err(before) => {
                let before = before.duration();
                let seconds = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => (seconds, 0),
                    nanos => (seconds - 1, NANOS_PER_SECOND - nanos as i64),
                }
            }
        };
        let timestamp = Timestamp { seconds, nanos: nanos as i32, ..Default::default() };
        if timestamp.is_valid() {
            Ok(timestamp)
        } else {
            Err(TimeError::new(
                TimeErrorKind::OutOfRange,
                format!("{time:?} is outside the Timestamp range (years 0001 to 9999)"),
            ))
        }
    }
}

impl TryFrom<Timestamp> for SystemTime {
    type Error = TimeError;

    fn try_from(timestamp: Timestamp) -> Result<Self, TimeError> {
        if !timestamp.is_valid() {
            return Err(TimeError::new(
                TimeErrorKind::Invalid,
                format!("Timestamp {{ seconds: {}, nanos: {} }} is invalid", timestamp.seconds, timestamp.nanos),
            ));
        }
        let nanos = std::time::Duration::from_nanos(timestamp.nanos as u64);
        let result = if timestamp.seconds >= 0 {
            UNIX_EPOCH.checked_add(std::time::Duration::from_secs(timestamp.seconds as u64) + nanos)
        } else {
            UNIX_EPOCH
                .checked_sub(std::time::Duration::from_secs(timestamp.seconds.unsigned_abs()))
                .and_then(|t| t.checked_add(nanos))
        };
        result.ok_or_else(|| {
            TimeError::new(TimeErrorKind::OutOfRange, format!("{timestamp:?} does not fit this platform's SystemTime"))
        })
    }
}

impl Duration {
    /// Whether seconds and nanos are within range and have the same sign, as `Duration` requires.
    pub fn is_valid(&self) -> bool {
        self.seconds.unsigned_abs() <= MAX_DURATION_SECONDS.unsigned_abs()
            && self.nanos.unsigned_abs() < 1_000_000_000
            && !(self.seconds > 0 && self.nanos < 0 || self.seconds < 0 && self.nanos > 0)
    }
}

impl TryFrom<std::time::Duration> for Duration {
    type Error = TimeError;

    fn try_from(duration: std::time::Duration) -> Result<Self, TimeError> {
        let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        if seconds > MAX_DURATION_SECONDS {
            return Err(TimeError::new(
                TimeErrorKind::OutOfRange,
                format!("{duration:?} is longer than a Duration can be (10,000 years)"),
            ));
        }
        Ok(Duration { seconds, nanos: duration.subsec_nanos() as i32, ..Default::default() })
    }
}

impl TryFrom<Duration> for std::time::Duration {
    type Error = TimeError;

    fn try_from(duration: Duration) -> Result<Self, TimeError> {
        if !duration.is_valid() || duration.seconds < 0 || duration.nanos < 0 {
            return Err(TimeError::new(
                TimeErrorKind::Invalid,
                format!(
                    "Duration {{ seconds: {}, nanos: {} }} is invalid or negative",
                    duration.seconds, duration.nanos
                ),
            ));
        }
        Ok(std::time::Duration::new(duration.seconds as u64, duration.nanos as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_round_trip_before_and_after_the_epoch() {
        for time in
            [UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123), UNIX_EPOCH - std::time::Duration::new(10, 250)]
        {
            let timestamp = Timestamp::try_from(time).unwrap();
            assert!(timestamp.is_valid());
            assert_eq!(SystemTime::try_from(timestamp).unwrap(), time);
        }
        let before = Timestamp::try_from(UNIX_EPOCH - std::time::Duration::new(10, 250)).unwrap();
        assert_eq!((before.seconds, before.nanos), (-11, 999_999_750));
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let invalid = Timestamp { seconds: MAX_TIMESTAMP_SECONDS + 1, ..Default::default() };
        assert!(SystemTime::try_from(invalid).is_err());
        let negative = Duration { seconds: -1, ..Default::default() };
        assert!(std::time::Duration::try_from(negative).is_err());
        let mixed = Duration { seconds: 1, nanos: -1, ..Default::default() };
        assert!(!mixed.is_valid());
        assert!(Duration::try_from(std::time::Duration::from_secs(u64::MAX)).is_err());
        // The most negative values have no absolute value in their own type; they are invalid, not a panic.
        assert!(!Duration { seconds: i64::MIN, ..Default::default() }.is_valid());
        assert!(!Duration { seconds: -1, nanos: i32::MIN, ..Default::default() }.is_valid());
    }
}
