//! The JSON forms of Timestamp (RFC 3339, `1972-01-01T10:00:20.021Z`) and Duration (`1.5s`), with the
//! ranges the well-known types define and 0, 3, 6 or 9 fractional digits on output.

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = if days >= 0 { days } else { days - 146_096 } / 146_097;
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `.000`, `.000000`, `.000000000` or nothing: the shortest of the three groupings that holds the nanos.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    }
}

/// A Timestamp as RFC 3339 in UTC.
pub(crate) fn format_timestamp(seconds: i64, nanos: i32) -> Result<String, String> {
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
        return Err(format!("Timestamp {{ seconds: {seconds}, nanos: {nanos} }} is out of range"));
    }
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        fraction(nanos as u32)
    ))
}

fn digits(text: &[u8], range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// Up to nine digits after a `.`, as nanoseconds; returns them and the bytes consumed.
fn parse_fraction(text: &[u8]) -> Option<(i64, usize)> {
    if text.first() != Some(&b'.') {
        return Some((0, 0));
    }
    let count = text[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 || count > 9 {
        return None;
    }
    let value = digits(text, 1..1 + count)? * 10i64.pow(9 - count as u32);
    Some((value, 1 + count))
}

/// Parses RFC 3339 (`2024-05-06T07:08:09.123+02:00`); uppercase `T` and `Z` only, as protobuf requires.
pub(crate) fn parse_timestamp(text: &str) -> Result<(i64, i32), String> {
    let bad = || format!("invalid timestamp {text:?}");
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (digits(bytes, 0..4), digits(bytes, 5..7), digits(bytes, 8..10));
    let (hour, minute, second) = (digits(bytes, 11..13), digits(bytes, 14..16), digits(bytes, 17..19));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (year, month, day, hour, minute, second)
    else {
        return Err(bad());
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let (nanos, used) = parse_fraction(&bytes[19..]).ok_or_else(bad)?;
    let offset = match &bytes[19 + used..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2], 0..2).ok_or_else(bad)?;
            let minutes = digits(&[*m1, *m2], 0..2).ok_or_else(bad)?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return Err(bad()),
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(format!("timestamp {text:?} is out of range (years 0001 to 9999)"));
    }
    Ok((seconds, nanos as i32))
}

/// A Duration as seconds with a fraction and an `s` (`-1.500s`).
pub(crate) fn format_duration(seconds: i64, nanos: i32) -> Result<String, String> {
    let valid = seconds.unsigned_abs() <= MAX_DURATION_SECONDS.unsigned_abs()
        && nanos.unsigned_abs() < 1_000_000_000
        && !(seconds > 0 && nanos < 0 || seconds < 0 && nanos > 0);
    if !valid {
        return Err(format!("Duration {{ seconds: {seconds}, nanos: {nanos} }} is out of range"));
    }
    let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
    Ok(format!("{sign}{}{}s", seconds.unsigned_abs(), fraction(nanos.unsigned_abs())))
}

/// Parses `-?digits(.digits)?s`.
pub(crate) fn parse_duration(text: &str) -> Result<(i64, i32), String> {
    let bad = || format!("invalid duration {text:?}");
    let body = text.strip_suffix('s').ok_or_else(bad)?;
    let (negative, body) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let bytes = body.as_bytes();
    let whole = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if whole == 0 || whole > 12 {
        return Err(bad());
    }
    let seconds = digits(bytes, 0..whole).ok_or_else(bad)?;
    let (nanos, used) = parse_fraction(&bytes[whole..]).ok_or_else(bad)?;
    if whole + used != bytes.len() {
        return Err(bad());
    }
    if seconds > MAX_DURATION_SECONDS {
        return Err(format!("duration {text:?} is out of range (about 10,000 years)"));
    }
    let sign = if negative { -1 } else { 1 };
    Ok((sign * seconds, (sign * nanos) as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_negative_durations_are_errors() {
        assert!(format_duration(i64::MIN, 0).is_err());
        assert!(format_duration(-1, i32::MIN).is_err());
        assert_eq!(format_duration(-1, -500_000_000).unwrap(), "-1.500s");
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0, 0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_700_000_000, 123_000_000).unwrap(), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_timestamp(MIN_SECONDS, 1).unwrap(), "0001-01-01T00:00:00.000000001Z");
        assert_eq!(format_timestamp(MAX_SECONDS, 999_999_000).unwrap(), "9999-12-31T23:59:59.999999Z");
        assert!(format_timestamp(MAX_SECONDS + 1, 0).is_err());
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123Z").unwrap(), (1_700_000_000, 123_000_000));
        assert_eq!(parse_timestamp("2023-11-15T00:13:20+02:00").unwrap(), (1_700_000_000, 0));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59.5Z").unwrap(), (-1, 500_000_000));
        for bad in [
            "2023-11-14t22:13:20Z",
            "2023-11-14T22:13:20z",
            "2023-11-14T22:13:20",
            "2023-02-29T00:00:00Z",
            "2023-11-14T22:13:20.1234567890Z",
            "10000-01-01T00:00:00Z",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
        for seconds in [MIN_SECONDS, -1, 0, 951_782_400, MAX_SECONDS] {
            assert_eq!(parse_timestamp(&format_timestamp(seconds, 0).unwrap()).unwrap().0, seconds);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(1, 500_000_000).unwrap(), "1.500s");
        assert_eq!(format_duration(0, -1).unwrap(), "-0.000000001s");
        assert_eq!(format_duration(-3, 0).unwrap(), "-3s");
        assert!(format_duration(1, -1).is_err());
        assert_eq!(parse_duration("-1.5s").unwrap(), (-1, -500_000_000));
        assert_eq!(parse_duration("315576000000s").unwrap(), (315_576_000_000, 0));
        for bad in ["1", "1.s", "s", "--1s", "1.0000000001s", "315576000001s", " 1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
