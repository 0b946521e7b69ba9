//! `xsd:dateTime` / RFC 3339 timestamps (RFC 7643 §2.3.5): parsing to an instant for filter
//! comparisons, and formatting for `meta.created` / `meta.lastModified`.
//!
//! Hand-written on purpose: the sidecar needs exactly "parse an instant, compare it, print it in
//! UTC", which does not justify a calendar crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant: seconds since the Unix epoch (may be negative) and nanoseconds within the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

impl Instant {
    /// The current time.
    pub fn now() -> Instant {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Instant {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        }
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date for a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    s.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. A missing offset is read as UTC (xsd:dateTime
/// allows it; SCIM says SHOULD carry one). `t`/`z` are accepted in either case. Returns `None` for
/// anything else, including impossible dates such as `2026-02-30`.
pub fn parse(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = i64::from(digits(b, 0, 4)?);
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i64::from(digits(b, i + 1, 2)?);
            let om = i64::from(digits(b, i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    // A leap second (:60) is folded onto the next second, as most systems do.
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - offset_secs;
    Some(Instant { secs, nanos })
}

/// Formats an instant as `YYYY-MM-DDTHH:MM:SSZ`, or with `.fff` milliseconds when they are not zero.
pub fn format(t: Instant) -> String {
    let days = t.secs.div_euclid(86_400);
    let rem = t.secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let millis = t.nanos / 1_000_000;
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc7643_example_and_offsets() {
        let z = parse("2008-01-23T04:56:22Z").expect("utc");
        assert_eq!(z.secs, 1_201_064_182);
        let plus = parse("2008-01-23T05:56:22+01:00").expect("offset");
        assert_eq!(plus, z);
        let minus = parse("2008-01-22T23:56:22-05:00").expect("negative offset");
        assert_eq!(minus, z);
        let frac = parse("2008-01-23T04:56:22.5Z").expect("fraction");
        assert_eq!(frac.nanos, 500_000_000);
        assert!(frac > z);
        assert_eq!(parse("2008-01-23T04:56:22"), Some(z));
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "2008-01-23",
            "2008-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2008-01-23T24:00:00Z",
            "2008-01-23T04:56:22.Z",
            "2008-01-23T04:56:22+0100",
            "2008-01-23T04:56:22Zjunk",
            "2008-01-23 04:56:22Z",
            "２008-01-23T04:56:22Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} must not parse");
        }
        assert!(parse("2024-02-29T00:00:00Z").is_some(), "leap day");
    }

    #[test]
    fn format_round_trips_through_parse() {
        for secs in [0_i64, 1_201_064_182, -86_401, 4_102_444_800, 951_782_400] {
            for nanos in [0_u32, 123_000_000] {
                let t = Instant { secs, nanos };
                assert_eq!(parse(&format(t)), Some(t), "{}", format(t));
            }
        }
        assert_eq!(
            format(Instant { secs: 0, nanos: 0 }),
            "1970-01-01T00:00:00Z"
        );
    }
}
