//! The access line written straight into a byte buffer, without intermediate `String`s: JSON with
//! the keys, order and values `tracing-subscriber`'s JSON formatter gives the same event
//! (`flatten_event(true)`), or text in its default layout.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use tracing::Level;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

/// What one access line holds, borrowed from the request.
#[derive(Debug)]
pub struct Fields<'a> {
    /// The line's level (by whose fault a failure was).
    pub level: Level,
    /// `request` or `request failed`.
    pub message: &'static str,
    /// The method.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The status.
    pub status: u16,
    /// Milliseconds, rounded to microseconds.
    pub duration_ms: f64,
    /// The request id.
    pub request_id: &'a str,
    /// `token`, `oauth`, `jwt` or `-`.
    pub auth: &'a str,
    /// The static token's name or `-`.
    pub token: &'a str,
    /// The OAuth2/JWT client or `-`.
    pub client: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// The normalize rules that fired (joined with `,`).
    pub quirks: &'a [&'static str],
    /// Whose fault and the cause, for failures.
    pub fault: Option<(&'static str, &'a str)>,
}

/// Appends raw text to the buffer.
struct Raw<'a>(&'a mut Vec<u8>);

impl fmt::Write for Raw<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends text escaped as the inside of a JSON string, as serde_json escapes it.
struct Escaped<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut *self.0;
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..=0x1f => &[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ],
                _ => continue,
            };
            out.extend_from_slice(&s.as_bytes()[start..i]);
            out.extend_from_slice(escape);
            start = i + 1;
        }
        out.extend_from_slice(&s.as_bytes()[start..]);
        Ok(())
    }
}

fn timestamp(out: &mut Vec<u8>) {
    let _ = SystemTime.format_time(&mut Writer::new(&mut Raw(out)));
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// `,"key":"value"` with the value escaped.
fn json_str(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    let _ = Escaped(out).write_str(value);
    out.push(b'"');
}

/// Appends the line as JSON, newline included.
pub fn json(out: &mut Vec<u8>, f: &Fields<'_>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(level_name(f.level).as_bytes());
    out.push(b'"');
    json_str(out, "message", f.message);
    json_str(out, "method", f.method);
    json_str(out, "path", f.path);
    out.extend_from_slice(b",\"status\":");
    let _ = write!(Raw(out), "{}", f.status);
    out.extend_from_slice(b",\"duration_ms\":");
    let _ = serde_json::to_writer(&mut *out, &f.duration_ms);
    json_str(out, "request_id", f.request_id);
    json_str(out, "auth", f.auth);
    json_str(out, "token", f.token);
    json_str(out, "client", f.client);
    out.extend_from_slice(b",\"peer\":\"");
    let _ = write!(Escaped(out), "{}", f.peer);
    out.extend_from_slice(b"\",\"quirks\":\"");
    quirks(&mut Escaped(out), f.quirks);
    out.push(b'"');
    if let Some((fault, cause)) = f.fault {
        json_str(out, "fault", fault);
        json_str(out, "cause", cause);
    }
    json_str(out, "target", super::TARGET);
    out.extend_from_slice(b"}\n");
}

fn quirks(w: &mut impl fmt::Write, quirks: &[&str]) {
    for (i, q) in quirks.iter().enumerate() {
        if i > 0 {
            let _ = w.write_char(',');
        }
        let _ = w.write_str(q);
    }
}

/// Appends the line in `tracing-subscriber`'s default text layout (no colours), newline included:
/// string fields quoted, displayed ones bare.
pub fn text(out: &mut Vec<u8>, f: &Fields<'_>) {
    timestamp(out);
    let _ = write!(
        Raw(out),
        " {:>5} {}: {} method={} path={:?} status={} duration_ms={:?} request_id={:?} auth={:?} \
         token={:?} client={:?} peer={} quirks=",
        level_name(f.level),
        super::TARGET,
        f.message,
        f.method,
        f.path,
        f.status,
        f.duration_ms,
        f.request_id,
        f.auth,
        f.token,
        f.client,
        f.peer,
    );
    quirks(&mut Raw(out), f.quirks);
    if let Some((fault, cause)) = f.fault {
        let _ = write!(Raw(out), " fault={fault:?} cause={cause}");
    }
    out.push(b'\n');
}
