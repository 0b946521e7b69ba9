//! Parsers for the scalar value kinds in config files: durations, byte sizes, listen addresses,
//! URL path prefixes. Pure functions; each returns a reason an operator can act on.

use std::net::SocketAddr;
use std::time::Duration;

/// Parses a duration such as `"10s"`, `"500ms"`, `"5m"`, `"1h"`, or a combination like `"1m30s"`.
/// A bare `"0"` means zero. Units: `ms`, `s`, `m`, `h`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() {
        return Err("empty duration (write e.g. \"10s\", \"500ms\", \"5m\")".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(
                "expected a number followed by a unit (ms, s, m, h), e.g. \"10s\"".to_string(),
            );
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| "number too large".to_owned())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" => {
                return Err(format!("missing unit (ms, s, m, h), e.g. \"{n}s\""));
            }
            other => {
                return Err(format!("unknown unit {other:?} (use ms, s, m or h)"));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Formats a duration the way [`duration`] reads it (used in `check` output and docs).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_owned()
    } else if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// Parses a byte size such as `"1MiB"`, `"64KiB"`, `"512B"` or a plain number of bytes.
/// Units: `B`, `KiB`, `MiB`, `GiB` (powers of 1024) and `KB`, `MB` (powers of 1000).
pub fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("expected a number with an optional unit, e.g. \"1MiB\"".to_string());
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| "number too large".to_owned())?;
    let mult: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} (use B, KiB, MiB, GiB, KB or MB)"
            ));
        }
    };
    n.checked_mul(mult).ok_or_else(|| "too large".to_owned())
}

/// Parses a listen address `IP:PORT` (IPv6 as `[::]:8443`).
pub fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        "expected IP:PORT, e.g. \"0.0.0.0:8443\" or \"[::]:8443\" (host names are not resolved)"
            .to_owned()
    })
}

/// Normalises a URL path prefix: must start with `/`, no query, no `..`, no trailing slash
/// (except the root `/`, which becomes the empty prefix).
pub fn base_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err("must start with '/', e.g. \"/scim/v2\"".to_string());
    }
    if s.contains(['?', '#', '%', ' ', '\\']) {
        return Err(
            "use plain path segments only (no '?', '#', '%', spaces or backslashes)".to_string(),
        );
    }
    let trimmed = s.trim_end_matches('/');
    if trimmed.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("'.' and '..' segments are not allowed".to_string());
    }
    if trimmed.contains("//") {
        return Err("empty path segment".to_owned());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_combinations() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration(" 2s "), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn durations_reject_missing_or_unknown_units_with_a_hint() {
        let e = duration("10").expect_err("no unit");
        assert!(e.contains("missing unit") && e.contains("\"10s\""), "{e}");
        let e = duration("10 seconds").expect_err("spelled-out unit");
        assert!(e.contains("missing unit"), "{e}");
        let e = duration("s10").expect_err("unit first");
        assert!(e.contains("expected a number"), "{e}");
        let e = duration("3d").expect_err("days");
        assert!(e.contains("unknown unit \"d\""), "{e}");
        assert!(duration("").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn format_duration_round_trips() {
        for d in ["0s", "250ms", "10s", "2m", "3h", "90s"] {
            let parsed = duration(d).expect("valid");
            assert_eq!(duration(&format_duration(parsed)), Ok(parsed));
        }
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn byte_sizes_accept_binary_and_decimal_units() {
        assert_eq!(byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(byte_size("64KiB"), Ok(65_536));
        assert_eq!(byte_size("512"), Ok(512));
        assert_eq!(byte_size("2 MB"), Ok(2_000_000));
        assert!(byte_size("1TB").is_err());
        assert!(byte_size("lots").is_err());
        assert!(byte_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn socket_addrs_need_ip_and_port() {
        assert!(socket_addr("0.0.0.0:8443").is_ok());
        assert!(socket_addr("[::]:8443").is_ok());
        let e = socket_addr("localhost:8443").expect_err("host name");
        assert!(e.contains("IP:PORT"), "{e}");
        assert!(socket_addr("0.0.0.0:99999").is_err());
        assert!(socket_addr("8443").is_err());
    }

    #[test]
    fn base_paths_are_normalised_and_checked() {
        assert_eq!(base_path("/scim/v2"), Ok("/scim/v2".to_owned()));
        assert_eq!(base_path("/scim/v2/"), Ok("/scim/v2".to_owned()));
        assert_eq!(base_path("/"), Ok(String::new()));
        assert!(base_path("scim").is_err());
        assert!(base_path("/scim/../admin").is_err());
        assert!(base_path("/scim?x").is_err());
        assert!(base_path("/scim//v2").is_err());
    }
}
