//! Deadlines: the `grpc-timeout` header (at most eight digits and a unit: `H`, `M`, `S`, `m`, `u`, `n`) and
//! running work within one.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::status::Status;

/// Runs `work` until `deadline`, the one deadline wrapper of the client and the gateway. When the deadline
/// passes first, `work` is dropped (which resets its stream) and the result is `expired()`; an answer that
/// is ready only once the deadline passed is too late all the same (the timer alone would let it through:
/// it polls the work first).
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = Result<T, Status>>,
    expired: fn() -> Status,
) -> Result<T, Status> {
    let Some(deadline) = deadline else { return work.await };
    let result = tokio::time::timeout_at(deadline.into(), work).await;
    if Instant::now() >= deadline {
        return Err(expired());
    }
    result.unwrap_or_else(|_| Err(expired()))
}

/// The largest value the header can carry in one unit.
const MAX_VALUE: u64 = 99_999_999;

/// Formats a timeout with the finest unit that fits in eight digits, rounding up so a deadline is never
/// shortened.
pub fn encode(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (size, unit) in units {
        let value = nanos.div_ceil(size);
        if value <= u128::from(MAX_VALUE) {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX_VALUE}H")
}

/// Parses a `grpc-timeout` value; `None` if malformed.
pub fn decode(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(number * 3600),
        b'M' => Duration::from_secs(number * 60),
        b'S' => Duration::from_secs(number),
        b'm' => Duration::from_millis(number),
        b'u' => Duration::from_micros(number),
        b'n' => Duration::from_nanos(number),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_the_finest_unit_that_fits() {
        assert_eq!(encode(Duration::from_nanos(5)), "5n");
        assert_eq!(encode(Duration::from_millis(1)), "1000000n");
        assert_eq!(encode(Duration::from_secs(1)), "1000000u");
        assert_eq!(encode(Duration::from_secs(100)), "100000m");
        assert_eq!(encode(Duration::from_secs(1_000_000)), "1000000S");
        assert_eq!(encode(Duration::from_secs(u64::MAX)), "99999999H");
    }

    #[test]
    fn decodes_every_unit_and_refuses_malformed_values() {
        for (text, duration) in [
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("3S", Duration::from_secs(3)),
            ("4m", Duration::from_millis(4)),
            ("5u", Duration::from_micros(5)),
            ("99999999n", Duration::from_nanos(99_999_999)),
        ] {
            assert_eq!(decode(text.as_bytes()), Some(duration), "{text}");
        }
        for bad in ["", "S", "1", "123456789S", "1s", "-1S", "1.5S", "１S"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
        for timeout in [Duration::from_nanos(1), Duration::from_millis(1234), Duration::from_secs(86_400)] {
            assert!(decode(encode(timeout).as_bytes()).unwrap() >= timeout);
        }
    }
}
