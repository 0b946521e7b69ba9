//! The hostile input corpus: every case in tests/fixtures/hostile/*.json (malformed JSON, invalid
//! UTF-8, wrong content types, bad filters and PATCH paths, hostile ids, bad tokens and JWTs
//! (`[auth.oauth]` and `[[auth.jwt]]` are on in the stack), header floods,
//! request smuggling, slowloris, HTTP/2 frame abuse) is sent byte for byte over a real socket to
//! the sidecar in front of the demo platform, and must get a 4xx SCIM error or a clean rejection
//! or close: never a 5xx, a panic or a hang, and the platform sees no request it should not.
//!
//! Fixture format (one array of cases per file, the file name is the category):
//! - `name`, `why`: what the case is and the one-line reason it is hostile.
//! - HTTP/1 request (default transport): `method`, `path` (raw request target), `version`
//!   (`"HTTP/1.1"` unless given; `""` sends an HTTP/0.9 request line), `headers` (`[name, value]`
//!   pairs, or `{"name": "X-{i}", "value": ..., "times": n}` floods), `body`; or `raw`, the whole
//!   request. `then` appends bytes after the request (pipelining). `no_default` drops default
//!   headers (`host`, `auth`, `content-type`, `content-length`). `send` shapes the writes:
//!   `{"stall_at": n}` sends n bytes and then nothing, `{"trickle": n, "every_ms": ms, "from": k}`
//!   sends k bytes at once and then n bytes every ms.
//! - HTTP/2 (`"transport": "h2"`): `frames`, each `{"type", "flags", "stream", ...}` with a
//!   payload from `payload`, `headers` (HPACK literals, no Huffman), `request` (a shorthand for a
//!   request's header list), `settings`, `increment` or `error_code`; `times` and `stream_step`
//!   repeat a frame. The client preface and a SETTINGS frame (header table size 0, so the
//!   server's `:status` can be decoded without a dynamic table) come first unless `"preface":
//!   false`.
//! - Byte values (`body`, `raw`, `then`, header values, `payload`): a string (UTF-8, with
//!   `{{token}}`, `{{user}}`, `{{group}}`, `{{addr}}` and the signed hostile JWTs `{{jwt_*}}`,
//!   `{{oauth_*}}` of `jwts()` substituted), `{"hex": "..."}`,
//!   `{"repeat": value, "times": n}` or `{"parts": [value, ...]}`, so huge inputs are generated
//!   rather than stored.
//! - Expectations: `expect` is `scim_4xx` (a 4xx with a SCIM error body: `status` and `scim_type`
//!   exact, `"none"` for no scimType, optional `detail_contains`), `reject` (hyper's own 4xx of
//!   exactly `status`, before the sidecar's code runs), `close` (the connection is closed, with no
//!   answer or only a 4xx, within `within_ms`), `goaway` / `rst` (HTTP/2: a GOAWAY, or a
//!   RST_STREAM on `stream`, with error code `h2_error`; for `rst`, a GOAWAY with that code
//!   passes too, as RFC 9113 §5.4.1 lets a server escalate a stream error). `leading_ok` responses before the one
//!   judged must be 2xx (a valid request pipelined before the hostile bytes). `platform_calls`
//!   lists the platform reads a case may cause (`{"GET /api/v1/users/{id}": 1}`, at most that
//!   many); by default the platform must see nothing, and it never sees a write.
//! - `known_bug`: the case shows a bug in src/. Its expectation is the behaviour required; the
//!   case is reported apart and does not fail the test while the bug reproduces, and fails it
//!   once fixed, so the marker gets removed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Stack, TOKEN, bearer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum Transport {
    #[default]
    Http1,
    H2,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Expect {
    #[serde(rename = "scim_4xx")]
    Scim4xx,
    Reject,
    Close,
    Goaway,
    Rst,
}

/// A byte string in a fixture.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum Bytes {
    Text(String),
    Hex { hex: String },
    Repeat { repeat: Box<Bytes>, times: usize },
    Parts { parts: Vec<Bytes> },
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum HeaderSpec {
    Pair(String, Bytes),
    Flood {
        name: String,
        value: Bytes,
        times: usize,
    },
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct Send {
    stall_at: Option<usize>,
    trickle: Option<usize>,
    every_ms: Option<u64>,
    from: Option<usize>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct H2Request {
    #[serde(default = "get")]
    method: String,
    path: String,
    #[serde(default = "yes")]
    auth: bool,
    #[serde(default)]
    extra: Vec<(String, Bytes)>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct FrameSpec {
    #[serde(rename = "type")]
    kind: Value,
    #[serde(default)]
    flags: Vec<Value>,
    #[serde(default)]
    stream: u32,
    payload: Option<Bytes>,
    headers: Option<Vec<(String, Bytes)>>,
    request: Option<H2Request>,
    settings: Option<Vec<(u16, u32)>>,
    increment: Option<u32>,
    error_code: Option<u32>,
    #[serde(default = "one")]
    times: usize,
    #[serde(default)]
    stream_step: u32,
    /// For HEADERS/CONTINUATION built from `headers`/`request`: split the block into frames of
    /// at most this many bytes (HEADERS then CONTINUATIONs, END_HEADERS on the last).
    split: Option<usize>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    why: String,
    #[serde(default)]
    transport: Transport,
    method: Option<String>,
    path: Option<Bytes>,
    version: Option<String>,
    #[serde(default)]
    headers: Vec<HeaderSpec>,
    #[serde(default)]
    no_default: Vec<String>,
    body: Option<Bytes>,
    raw: Option<Bytes>,
    then: Option<Bytes>,
    #[serde(default)]
    send: Send,
    #[serde(default = "yes")]
    preface: bool,
    #[serde(default)]
    frames: Vec<FrameSpec>,
    expect: Expect,
    status: Option<u16>,
    scim_type: Option<String>,
    detail_contains: Option<String>,
    interim: Option<Vec<u16>>,
    #[serde(default)]
    leading_ok: usize,
    #[serde(default)]
    platform_calls: BTreeMap<String, u64>,
    within_ms: Option<u64>,
    h2_error: Option<String>,
    #[serde(default = "one_u32")]
    stream_id: u32,
    timeout_ms: Option<u64>,
    known_bug: Option<String>,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn one_u32() -> u32 {
    1
}
fn get() -> String {
    "GET".to_owned()
}

struct Loaded {
    category: String,
    case: Case,
}

fn load_corpus() -> Vec<Loaded> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/fixtures/hostile")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for f in files {
        let category = f.file_stem().expect("stem").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).expect("read fixture");
        let cases: Vec<Case> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a list of cases: {e}", f.display()));
        for case in cases {
            validate_case(&category, &case);
            assert!(
                names.insert(format!("{category}/{}", case.name)),
                "duplicate case name {category}/{}",
                case.name
            );
            out.push(Loaded {
                category: category.clone(),
                case,
            });
        }
    }
    out
}

/// Rejects fixtures whose expectation is vague: an honest case names exactly what it expects.
fn validate_case(category: &str, c: &Case) {
    let id = format!("{category}/{}", c.name);
    assert!(!c.why.trim().is_empty(), "{id}: `why` is empty");
    match c.expect {
        Expect::Scim4xx => {
            assert!(
                c.status.is_some_and(|s| (400..500).contains(&s)),
                "{id}: scim_4xx needs a 4xx `status`"
            );
            assert!(
                c.scim_type.is_some(),
                "{id}: scim_4xx needs `scim_type` (\"none\" for none)"
            );
        }
        Expect::Reject => assert!(
            c.status.is_some_and(|s| (400..500).contains(&s)),
            "{id}: reject needs hyper's exact 4xx `status`"
        ),
        Expect::Close => assert!(c.within_ms.is_some(), "{id}: close needs `within_ms`"),
        Expect::Goaway | Expect::Rst => {
            assert!(c.transport == Transport::H2, "{id}: goaway/rst are HTTP/2");
            assert!(c.h2_error.is_some(), "{id}: goaway/rst need `h2_error`");
        }
    }
    for k in c.platform_calls.keys() {
        assert!(
            k.starts_with("GET "),
            "{id}: only platform reads may be allowed, not {k}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Building bytes
// ---------------------------------------------------------------------------------------------

struct Vars {
    token: String,
    user: String,
    group: String,
    addr: String,
    /// `{{name}}` → token, for the signed JWTs of `auth_jwt.json` (made at start, see [`jwts`]).
    jwts: Vec<(String, String)>,
}

impl Vars {
    fn subst(&self, s: &str) -> String {
        s.replace("{{token}}", &self.token)
            .replace("{{user}}", &self.user)
            .replace("{{group}}", &self.group)
            .replace("{{addr}}", &self.addr)
            .pipe(|s| {
                self.jwts
                    .iter()
                    .fold(s, |s, (k, v)| s.replace(&format!("{{{{{k}}}}}"), v))
            })
    }

    fn bytes(&self, b: &Bytes) -> Vec<u8> {
        let mut out = Vec::new();
        self.append(b, &mut out);
        out
    }

    fn append(&self, b: &Bytes, out: &mut Vec<u8>) {
        match b {
            Bytes::Text(s) => out.extend_from_slice(self.subst(s).as_bytes()),
            Bytes::Hex { hex } => out.extend(unhex(hex)),
            Bytes::Repeat { repeat, times } => {
                let one = self.bytes(repeat);
                out.reserve(one.len() * times);
                for _ in 0..*times {
                    out.extend_from_slice(&one);
                }
            }
            Bytes::Parts { parts } => {
                for p in parts {
                    self.append(p, out);
                }
            }
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex string {s}");
    digits
        .chunks(2)
        .map(|p| {
            u8::from_str_radix(std::str::from_utf8(p).expect("hex"), 16)
                .unwrap_or_else(|_| panic!("bad hex {s}"))
        })
        .collect()
}

/// The bytes of an HTTP/1 case.
fn http1_request(c: &Case, v: &Vars) -> Vec<u8> {
    let mut out = match &c.raw {
        Some(raw) => v.bytes(raw),
        None => {
            let method = c.method.as_deref().unwrap_or("GET");
            let path = v.bytes(c.path.as_ref().expect("`path` or `raw`"));
            let version = c.version.as_deref().unwrap_or("HTTP/1.1");
            let mut out = Vec::new();
            out.extend_from_slice(method.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&path);
            if !version.is_empty() {
                out.push(b' ');
                out.extend_from_slice(version.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            let body = c.body.as_ref().map(|b| v.bytes(b));
            let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
            for h in &c.headers {
                match h {
                    HeaderSpec::Pair(n, val) => headers.push((v.subst(n), v.bytes(val))),
                    HeaderSpec::Flood { name, value, times } => {
                        let val = v.bytes(value);
                        for i in 0..*times {
                            headers.push((name.replace("{i}", &i.to_string()), val.clone()));
                        }
                    }
                }
            }
            let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
            let off = |n: &str| c.no_default.iter().any(|x| x == n);
            let mut defaults: Vec<(String, Vec<u8>)> = Vec::new();
            if !off("host") && !has("host") {
                defaults.push(("Host".into(), v.addr.clone().into_bytes()));
            }
            if !off("auth") && !has("authorization") {
                defaults.push(("Authorization".into(), bearer(TOKEN).into_bytes()));
            }
            if let Some(b) = &body {
                if !off("content-type") && !has("content-type") {
                    defaults.push(("Content-Type".into(), b"application/scim+json".to_vec()));
                }
                if !off("content-length") && !has("content-length") && !has("transfer-encoding") {
                    defaults.push(("Content-Length".into(), b.len().to_string().into_bytes()));
                }
            }
            for (n, val) in defaults.into_iter().chain(headers) {
                out.extend_from_slice(n.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(&val);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            if let Some(b) = body {
                out.extend_from_slice(&b);
            }
            out
        }
    };
    if let Some(t) = &c.then {
        out.extend(v.bytes(t));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 frames and HPACK (literals without indexing, no Huffman)
// ---------------------------------------------------------------------------------------------

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame length");
    assert!(len < 1 << 24, "frame payload over 24 bits");
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn hpack_int(value: usize, prefix_bits: u8, first: u8, out: &mut Vec<u8>) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

fn hpack_literal(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.push(0x00);
    hpack_int(name.len(), 7, 0, out);
    out.extend_from_slice(name);
    hpack_int(value.len(), 7, 0, out);
    out.extend_from_slice(value);
}

/// The frame type; `None` for `"RAW"` (the payload is written as is, no frame header).
fn frame_type(v: &Value) -> Option<u8> {
    if v == "RAW" {
        return None;
    }
    Some(match v {
        Value::Number(n) => u8::try_from(n.as_u64().expect("type")).expect("type"),
        Value::String(s) => match s.as_str() {
            "DATA" => 0,
            "HEADERS" => 1,
            "PRIORITY" => 2,
            "RST_STREAM" => 3,
            "SETTINGS" => 4,
            "PUSH_PROMISE" => 5,
            "PING" => 6,
            "GOAWAY" => 7,
            "WINDOW_UPDATE" => 8,
            "CONTINUATION" => 9,
            other => panic!("unknown frame type {other}"),
        },
        other => panic!("bad frame type {other}"),
    })
}

fn frame_flags(flags: &[Value]) -> u8 {
    flags
        .iter()
        .map(|f| match f {
            Value::Number(n) => u8::try_from(n.as_u64().expect("flag")).expect("flag"),
            Value::String(s) => match s.as_str() {
                "END_STREAM" | "ACK" => 0x1,
                "END_HEADERS" => 0x4,
                "PADDED" => 0x8,
                "PRIORITY" => 0x20,
                other => panic!("unknown flag {other}"),
            },
            other => panic!("bad flag {other}"),
        })
        .fold(0, |a, b| a | b)
}

fn h2_bytes(c: &Case, v: &Vars) -> (Vec<u8>, Vec<u32>) {
    let mut out = Vec::new();
    let mut opened = Vec::new();
    if c.preface {
        out.extend_from_slice(PREFACE);
        // SETTINGS_HEADER_TABLE_SIZE = 0: the server's HPACK encoder then never uses its
        // dynamic table, so a response's :status is static-indexed or a literal.
        out.extend(frame(4, 0, 0, &[0, 1, 0, 0, 0, 0]));
    }
    for f in &c.frames {
        let Some(kind) = frame_type(&f.kind) else {
            let raw = v.bytes(f.payload.as_ref().expect("RAW needs a payload"));
            for _ in 0..f.times {
                out.extend_from_slice(&raw);
            }
            continue;
        };
        let flags = frame_flags(&f.flags);
        let block = match (&f.headers, &f.request) {
            (Some(h), _) => {
                let mut b = Vec::new();
                for (n, val) in h {
                    hpack_literal(v.subst(n).as_bytes(), &v.bytes(val), &mut b);
                }
                Some(b)
            }
            (None, Some(r)) => {
                let mut b = Vec::new();
                let mut list: Vec<(String, Vec<u8>)> = vec![
                    (":method".into(), r.method.clone().into_bytes()),
                    (":scheme".into(), b"http".to_vec()),
                    (":path".into(), v.subst(&r.path).into_bytes()),
                    (":authority".into(), v.addr.clone().into_bytes()),
                ];
                if r.auth {
                    list.push(("authorization".into(), bearer(TOKEN).into_bytes()));
                }
                for (n, val) in &r.extra {
                    list.push((v.subst(n), v.bytes(val)));
                }
                for (n, val) in list {
                    hpack_literal(n.as_bytes(), &val, &mut b);
                }
                Some(b)
            }
            (None, None) => None,
        };
        let payload = if let Some(p) = &f.payload {
            v.bytes(p)
        } else if let Some(s) = &f.settings {
            s.iter()
                .flat_map(|(id, val)| {
                    let mut e = id.to_be_bytes().to_vec();
                    e.extend_from_slice(&val.to_be_bytes());
                    e
                })
                .collect()
        } else if let Some(i) = f.increment {
            i.to_be_bytes().to_vec()
        } else if let Some(code) = f.error_code {
            if kind == 7 {
                let mut p = 0u32.to_be_bytes().to_vec();
                p.extend_from_slice(&code.to_be_bytes());
                p
            } else {
                code.to_be_bytes().to_vec()
            }
        } else if let Some(b) = &block {
            b.clone()
        } else if kind == 6 {
            vec![0; 8]
        } else {
            Vec::new()
        };
        for i in 0..f.times {
            let stream = f.stream + f.stream_step * u32::try_from(i).expect("times");
            if kind == 1 && !opened.contains(&stream) {
                opened.push(stream);
            }
            match (f.split, block.is_some() && f.payload.is_none()) {
                (Some(size), true) if kind == 1 => {
                    let chunks: Vec<&[u8]> = payload.chunks(size.max(1)).collect();
                    let n = chunks.len();
                    for (j, chunk) in chunks.into_iter().enumerate() {
                        let last = j + 1 == n;
                        let end_headers = if last { flags & 0x4 } else { 0 };
                        if j == 0 {
                            out.extend(frame(1, (flags & !0x4) | end_headers, stream, chunk));
                        } else {
                            out.extend(frame(9, end_headers, stream, chunk));
                        }
                    }
                }
                _ => out.extend(frame(kind, flags, stream, &payload)),
            }
        }
    }
    (out, opened)
}

// ---------------------------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct Outcome {
    /// Interim (1xx) responses seen.
    interim: Vec<u16>,
    /// Final responses, in order (HTTP/1), or per stream (HTTP/2: stream id kept in `streams`).
    responses: Vec<Response>,
    streams: Vec<u32>,
    /// The server closed the connection (EOF or reset).
    closed: bool,
    /// The case deadline passed with the connection still open and the exchange unfinished.
    hung: bool,
    elapsed: Duration,
    /// HTTP/2: GOAWAY (last stream, error code) and RST_STREAM (stream, error code) received.
    goaway: Option<(u32, u32)>,
    resets: Vec<(u32, u32)>,
    /// Bytes the parser could not make sense of.
    garbage: Option<String>,
}

impl Outcome {
    fn summary(&self) -> String {
        let mut s = String::new();
        let statuses: Vec<String> = self
            .responses
            .iter()
            .zip(self.streams.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(r, st)| match st {
                Some(id) => format!("{}@{id}", r.status),
                None => r.status.to_string(),
            })
            .collect();
        let _ = write!(
            s,
            "responses [{}] closed={} hung={} after {} ms",
            statuses.join(", "),
            self.closed,
            self.hung,
            self.elapsed.as_millis()
        );
        if !self.interim.is_empty() {
            let _ = write!(s, " interim={:?}", self.interim);
        }
        if let Some((last, code)) = self.goaway {
            let _ = write!(s, " GOAWAY(last={last}, {})", h2_code_name(code));
        }
        if !self.resets.is_empty() {
            let shown: Vec<String> = self
                .resets
                .iter()
                .take(5)
                .map(|(st, c)| format!("{st}:{}", h2_code_name(*c)))
                .collect();
            let _ = write!(
                s,
                " RST_STREAM x{} [{}]",
                self.resets.len(),
                shown.join(", ")
            );
        }
        if let Some(r) = self.responses.first() {
            let body = String::from_utf8_lossy(&r.body);
            let _ = write!(s, " first body: {}", excerpt(&body, 300));
        }
        if let Some(g) = &self.garbage {
            let _ = write!(s, " unparsed: {g}");
        }
        s
    }
}

fn excerpt(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn h2_code_name(code: u32) -> String {
    match code {
        0 => "NO_ERROR".into(),
        1 => "PROTOCOL_ERROR".into(),
        2 => "INTERNAL_ERROR".into(),
        3 => "FLOW_CONTROL_ERROR".into(),
        4 => "SETTINGS_TIMEOUT".into(),
        5 => "STREAM_CLOSED".into(),
        6 => "FRAME_SIZE_ERROR".into(),
        7 => "REFUSED_STREAM".into(),
        8 => "CANCEL".into(),
        9 => "COMPRESSION_ERROR".into(),
        10 => "CONNECT_ERROR".into(),
        11 => "ENHANCE_YOUR_CALM".into(),
        12 => "INADEQUATE_SECURITY".into(),
        13 => "HTTP_1_1_REQUIRED".into(),
        other => format!("code {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1 exchange
// ---------------------------------------------------------------------------------------------

/// Parses as many complete HTTP/1 responses as `buf` holds; returns them and the bytes used.
/// `Err` when the bytes are not HTTP.
fn parse_http1(buf: &[u8], eof: bool) -> Result<(Vec<Response>, Vec<u16>, usize), String> {
    let mut pos = 0;
    let mut out = Vec::new();
    let mut interim = Vec::new();
    loop {
        let rest = &buf[pos..];
        if rest.is_empty() {
            break;
        }
        let Some(head_end) = rest.windows(4).position(|w| w == b"\r\n\r\n") else {
            if rest.len() > 64 * 1024 || (eof && !rest.is_empty()) {
                return Err(excerpt(&String::from_utf8_lossy(rest), 200));
            }
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| excerpt(&head, 200))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let body_start = head_end + 4;
        if (100..200).contains(&status) {
            interim.push(status);
            pos += body_start;
            continue;
        }
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let used = if chunked {
            let mut p = body_start;
            let mut body = Vec::new();
            loop {
                let Some(le) = rest[p..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok((out, interim, pos));
                };
                let size_text = String::from_utf8_lossy(&rest[p..p + le]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| format!("bad chunk size {size_text:?}"))?;
                p += le + 2;
                if size == 0 {
                    let Some(te) = rest[p..].windows(2).position(|w| w == b"\r\n") else {
                        return Ok((out, interim, pos));
                    };
                    p += te + 2;
                    break;
                }
                if rest.len() < p + size + 2 {
                    return Ok((out, interim, pos));
                }
                body.extend_from_slice(&rest[p..p + size]);
                p += size + 2;
            }
            r.body = body;
            p
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| format!("bad content-length {len}"))?;
            if rest.len() < body_start + len {
                break;
            }
            r.body = rest[body_start..body_start + len].to_vec();
            body_start + len
        } else if status == 204 || status == 304 {
            body_start
        } else {
            // Delimited by the close.
            if !eof {
                break;
            }
            r.body = rest[body_start..].to_vec();
            rest.len()
        };
        out.push(r);
        pos += used;
    }
    Ok((out, interim, pos))
}

async fn http1_exchange(
    addr: std::net::SocketAddr,
    bytes: Vec<u8>,
    send: &Send,
    want_responses: usize,
    deadline: Duration,
) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let tcp = match TcpStream::connect(addr).await {
        Ok(t) => t,
        Err(e) => {
            outcome.garbage = Some(format!("connect failed: {e}"));
            return outcome;
        }
    };
    let _ = tcp.set_nodelay(true);
    let (mut rd, mut wr) = tcp.into_split();
    let done = Arc::new(AtomicBool::new(false));
    let writer_done = done.clone();
    let send = send.clone();
    let writer = tokio::spawn(async move {
        let result: std::io::Result<()> = async {
            if let Some(n) = send.stall_at {
                wr.write_all(&bytes[..n.min(bytes.len())]).await?;
                // Hold the connection open without sending more.
                while !writer_done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                return Ok(());
            }
            if let Some(n) = send.trickle {
                let from = send.from.unwrap_or(0).min(bytes.len());
                wr.write_all(&bytes[..from]).await?;
                let every = Duration::from_millis(send.every_ms.unwrap_or(100));
                for chunk in bytes[from..].chunks(n.max(1)) {
                    if writer_done.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    tokio::time::sleep(every).await;
                    wr.write_all(chunk).await?;
                }
            } else {
                for chunk in bytes.chunks(64 * 1024) {
                    if writer_done.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    wr.write_all(chunk).await?;
                }
            }
            // Keep the write half open: a half-close would let the server answer an EOF
            // instead of the case.
            while !writer_done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
        .await;
        result.is_ok()
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let read = tokio::time::timeout_at(end, rd.read(&mut chunk)).await;
        let eof = match read {
            Err(_) => {
                outcome.hung = true;
                false
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                outcome.closed = true;
                true
            }
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                false
            }
        };
        match parse_http1(&buf, eof || outcome.hung) {
            Ok((responses, interim, _)) => {
                outcome.interim = interim;
                let have = responses.len();
                outcome.responses = responses;
                if have >= want_responses && !eof && !outcome.hung {
                    // Enough answers; a short grace to see whether the server closes.
                    let grace = tokio::time::Instant::now() + Duration::from_millis(50);
                    loop {
                        match tokio::time::timeout_at(grace, rd.read(&mut chunk)).await {
                            Ok(Ok(0)) | Ok(Err(_)) => {
                                outcome.closed = true;
                                break;
                            }
                            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                            Err(_) => break,
                        }
                    }
                    if let Ok((responses, interim, _)) = parse_http1(&buf, outcome.closed) {
                        outcome.responses = responses;
                        outcome.interim = interim;
                    }
                    break;
                }
            }
            Err(g) => {
                outcome.garbage = Some(g);
                break;
            }
        }
        if eof || outcome.hung {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = writer.await;
    outcome.elapsed = started.elapsed();
    outcome
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 exchange
// ---------------------------------------------------------------------------------------------

/// Decodes the `:status` at the start of a header block (the server's dynamic table is 0, so
/// it is static-indexed or a literal whose value may be Huffman-coded).
fn decode_status(block: &[u8]) -> Option<u16> {
    let mut p = 0;
    // Dynamic table size updates (001xxxxx).
    while p < block.len() && block[p] & 0xe0 == 0x20 {
        p += 1;
        if block[p - 1] & 0x1f == 0x1f {
            while p < block.len() && block[p] & 0x80 != 0 {
                p += 1;
            }
            p += 1;
        }
    }
    let b = *block.get(p)?;
    if b & 0x80 != 0 {
        return match b & 0x7f {
            8 => Some(200),
            9 => Some(204),
            10 => Some(206),
            11 => Some(304),
            12 => Some(400),
            13 => Some(404),
            14 => Some(500),
            _ => None,
        };
    }
    let index = if b & 0xc0 == 0x40 { b & 0x3f } else { b & 0x0f };
    if index != 8 {
        return None;
    }
    let len_byte = *block.get(p + 1)?;
    let len = usize::from(len_byte & 0x7f);
    let value = block.get(p + 2..p + 2 + len)?;
    let text = if len_byte & 0x80 != 0 {
        huffman_digits(value)?
    } else {
        String::from_utf8(value.to_vec()).ok()?
    };
    text.parse().ok()
}

/// Huffman-decodes a string of ASCII digits (RFC 7541 Appendix B: '0'-'2' are 5-bit codes
/// 00000-00010, '3'-'9' 6-bit codes 011001-011111; padding is all ones).
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < bits.len() {
        let rest = &bits[i..];
        if rest.len() < 8 && rest.iter().all(|b| *b == 1) {
            break;
        }
        if rest.len() < 5 {
            return None;
        }
        let five = rest[..5].iter().fold(0u8, |a, b| a << 1 | b);
        if five <= 2 {
            out.push(char::from(b'0' + five));
            i += 5;
        } else if (0x0c..=0x0f).contains(&five) && rest.len() >= 6 {
            let six = five << 1 | rest[5];
            if !(0x19..=0x1f).contains(&six) {
                return None;
            }
            out.push(char::from(b'3' + (six - 0x19)));
            i += 6;
        } else {
            return None;
        }
    }
    Some(out)
}

async fn h2_exchange(
    addr: std::net::SocketAddr,
    bytes: Vec<u8>,
    opened: Vec<u32>,
    deadline: Duration,
    wait_close: bool,
) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let tcp = match TcpStream::connect(addr).await {
        Ok(t) => t,
        Err(e) => {
            outcome.garbage = Some(format!("connect failed: {e}"));
            return outcome;
        }
    };
    let _ = tcp.set_nodelay(true);
    let (mut rd, mut wr) = tcp.into_split();
    let done = Arc::new(AtomicBool::new(false));
    let writer_done = done.clone();
    let written = Arc::new(AtomicBool::new(false));
    let writer_written = written.clone();
    let writer = tokio::spawn(async move {
        for chunk in bytes.chunks(16 * 1024) {
            if writer_done.load(Ordering::Relaxed) || wr.write_all(chunk).await.is_err() {
                break;
            }
        }
        writer_written.store(true, Ordering::Relaxed);
        while !writer_done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let end = tokio::time::Instant::now() + deadline;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // Per stream: header block being assembled, response (status, body), finished.
    let mut blocks: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut responses: BTreeMap<u32, Response> = BTreeMap::new();
    let mut finished: std::collections::BTreeSet<u32> = Default::default();
    let mut quiet_since: Option<tokio::time::Instant> = None;
    loop {
        // Finished when every opened stream is answered or reset, the writes are out, and
        // nothing more came for a moment; or when the connection is gone.
        let all_done = !wait_close && opened.iter().all(|s| finished.contains(s));
        let step = if written.load(Ordering::Relaxed) && all_done {
            let since = *quiet_since.get_or_insert_with(tokio::time::Instant::now);
            (since + Duration::from_millis(300)).min(end)
        } else {
            quiet_since = None;
            (tokio::time::Instant::now() + Duration::from_millis(50)).min(end)
        };
        match tokio::time::timeout_at(step, rd.read(&mut chunk)).await {
            Err(_) => {
                if tokio::time::Instant::now() >= end {
                    outcome.hung = true;
                    break;
                }
                if written.load(Ordering::Relaxed)
                    && !wait_close
                    && opened.iter().all(|s| finished.contains(s))
                    && quiet_since.is_some_and(|q| q.elapsed() >= Duration::from_millis(300))
                {
                    break;
                }
                continue;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                outcome.closed = true;
                break;
            }
            Ok(Ok(n)) => {
                quiet_since = None;
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        // Parse whole frames.
        let mut p = 0;
        while buf.len() >= p + 9 {
            let len =
                usize::from(buf[p]) << 16 | usize::from(buf[p + 1]) << 8 | usize::from(buf[p + 2]);
            if buf.len() < p + 9 + len {
                break;
            }
            let kind = buf[p + 3];
            let flags = buf[p + 4];
            let stream =
                u32::from_be_bytes([buf[p + 5], buf[p + 6], buf[p + 7], buf[p + 8]]) & 0x7fff_ffff;
            let payload = &buf[p + 9..p + 9 + len];
            match kind {
                0 => {
                    let data = if flags & 0x8 != 0 && !payload.is_empty() {
                        let pad = usize::from(payload[0]);
                        &payload[1..payload.len().saturating_sub(pad)]
                    } else {
                        payload
                    };
                    responses
                        .entry(stream)
                        .or_default()
                        .body
                        .extend_from_slice(data);
                    if flags & 0x1 != 0 {
                        finished.insert(stream);
                    }
                }
                1 | 9 => {
                    let mut data = payload;
                    if kind == 1 {
                        if flags & 0x8 != 0 && !data.is_empty() {
                            let pad = usize::from(data[0]);
                            data = &data[1..data.len().saturating_sub(pad)];
                        }
                        if flags & 0x20 != 0 && data.len() >= 5 {
                            data = &data[5..];
                        }
                    }
                    blocks.entry(stream).or_default().extend_from_slice(data);
                    if flags & 0x4 != 0 {
                        let block = blocks.remove(&stream).unwrap_or_default();
                        let r = responses.entry(stream).or_default();
                        if r.status == 0 {
                            // 0xFFFF marks a status that could not be decoded.
                            r.status = decode_status(&block).unwrap_or(0xffff);
                        }
                    }
                    if kind == 1 && flags & 0x1 != 0 {
                        finished.insert(stream);
                    }
                }
                3 => {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    outcome.resets.push((stream, code));
                    finished.insert(stream);
                }
                7 if payload.len() >= 8 => {
                    let last = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                        & 0x7fff_ffff;
                    let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                    outcome.goaway = Some((last, code));
                    // Streams above `last` will never be processed.
                    for s in &opened {
                        if *s > last {
                            finished.insert(*s);
                        }
                    }
                }
                _ => {}
            }
            p += 9 + len;
        }
        buf.drain(..p);
        if outcome.goaway.is_some_and(|(_, code)| code != 0) {
            // A connection error: the server closes right after; wait briefly for it.
            let grace = tokio::time::Instant::now() + Duration::from_millis(500);
            loop {
                match tokio::time::timeout_at(grace, rd.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        outcome.closed = true;
                        break;
                    }
                    Ok(Ok(_)) => {}
                    Err(_) => break,
                }
            }
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = writer.await;
    for (stream, r) in responses {
        if r.status != 0 {
            outcome.streams.push(stream);
            outcome.responses.push(r);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

// ---------------------------------------------------------------------------------------------
// Judging
// ---------------------------------------------------------------------------------------------

fn check_scim_error(r: &Response, c: &Case) -> Result<(), String> {
    let want = c.status.expect("validated");
    if r.status != want {
        return Err(format!("status {} instead of {want}", r.status));
    }
    let ct = r.header("content-type").unwrap_or("");
    if !ct.starts_with("application/scim+json") && !r.headers.is_empty() {
        return Err(format!("content-type {ct:?} is not application/scim+json"));
    }
    let body: Value = serde_json::from_slice(&r.body).map_err(|e| {
        format!(
            "body is not JSON ({e}): {}",
            excerpt(&String::from_utf8_lossy(&r.body), 200)
        )
    })?;
    let schemas_ok = body["schemas"].as_array().is_some_and(|a| {
        a.iter()
            .any(|s| s == "urn:ietf:params:scim:api:messages:2.0:Error")
    });
    if !schemas_ok {
        return Err(format!("not a SCIM error: {body}"));
    }
    if body["status"] != Value::String(want.to_string()) {
        return Err(format!(
            "body status {} instead of \"{want}\"",
            body["status"]
        ));
    }
    let detail = body["detail"].as_str().unwrap_or("");
    if detail.trim().is_empty() {
        return Err(format!("no detail: {body}"));
    }
    match c.scim_type.as_deref() {
        Some("none") if body.get("scimType").is_some() => {
            return Err(format!("unexpected scimType {}", body["scimType"]));
        }
        Some("none") | None => {}
        Some(t) if body["scimType"] != t => {
            return Err(format!("scimType {} instead of {t:?}", body["scimType"]));
        }
        Some(_) => {}
    }
    if let Some(needle) = &c.detail_contains
        && !detail.to_lowercase().contains(&needle.to_lowercase())
    {
        return Err(format!("detail {detail:?} does not mention {needle:?}"));
    }
    Ok(())
}

fn judge(c: &Case, o: &Outcome) -> Result<(), String> {
    if let Some(r) = o.responses.iter().find(|r| r.status >= 500) {
        return Err(format!(
            "5xx answer {}: {}",
            r.status,
            excerpt(&String::from_utf8_lossy(&r.body), 200)
        ));
    }
    if o.hung {
        return Err("no answer and no close before the deadline (hang)".into());
    }
    if let Some(g) = &o.garbage {
        return Err(format!("unparseable answer: {g}"));
    }
    if o.responses.iter().any(|r| r.status == 0xffff) {
        return Err("an HTTP/2 :status could not be decoded".into());
    }
    if c.transport == Transport::Http1 {
        for (i, r) in o.responses.iter().take(c.leading_ok).enumerate() {
            if !(200..300).contains(&r.status) {
                return Err(format!("leading response {i} is {}, not 2xx", r.status));
            }
        }
        if o.responses.len() < c.leading_ok {
            return Err(format!(
                "{} responses, {} leading 2xx expected",
                o.responses.len(),
                c.leading_ok
            ));
        }
    }
    let judged: Vec<&Response> = if c.transport == Transport::H2 {
        o.responses
            .iter()
            .zip(&o.streams)
            .filter(|(_, s)| **s == c.stream_id)
            .map(|(r, _)| r)
            .collect()
    } else {
        o.responses.iter().skip(c.leading_ok).collect()
    };
    match c.expect {
        Expect::Scim4xx => {
            let r = judged
                .first()
                .ok_or_else(|| "no response to judge".to_owned())?;
            check_scim_error(r, c)?;
            if c.transport == Transport::Http1 && judged.len() > 1 {
                return Err(format!("{} responses where one was expected", judged.len()));
            }
        }
        Expect::Reject => {
            let r = judged
                .first()
                .ok_or_else(|| "no response to judge".to_owned())?;
            let want = c.status.expect("validated");
            if r.status != want {
                return Err(format!("status {} instead of {want}", r.status));
            }
        }
        Expect::Close => {
            if !o.closed && o.goaway.is_none() {
                return Err("the connection was not closed".into());
            }
            if let Some(r) = judged.iter().find(|r| !(400..500).contains(&r.status)) {
                return Err(format!("answered {} before closing", r.status));
            }
            if let Some(want) = c.status
                && judged.iter().any(|r| r.status != want)
            {
                return Err(format!("answered other than {want} before closing"));
            }
        }
        Expect::Goaway => {
            let want = c.h2_error.as_deref().expect("validated");
            match o.goaway {
                Some((_, code)) if h2_code_name(code) == want => {}
                Some((_, code)) => {
                    return Err(format!("GOAWAY {} instead of {want}", h2_code_name(code)));
                }
                None => return Err(format!("no GOAWAY (expected {want})")),
            }
            if let Some(r) = o.responses.iter().find(|r| !(400..500).contains(&r.status)) {
                return Err(format!("a stream was answered {}", r.status));
            }
        }
        Expect::Rst => {
            let want = c.h2_error.as_deref().expect("validated");
            match o.resets.iter().find(|(s, _)| *s == c.stream_id) {
                Some((_, code)) if h2_code_name(*code) == want => {}
                Some((_, code)) => {
                    return Err(format!(
                        "RST_STREAM {} instead of {want}",
                        h2_code_name(*code)
                    ));
                }
                // RFC 9113 §5.4.1: a stream error may be escalated to a connection error.
                None if o.goaway.is_some_and(|(_, code)| h2_code_name(code) == want) => {}
                None => {
                    return Err(format!(
                        "no RST_STREAM on stream {} (expected {want})",
                        c.stream_id
                    ));
                }
            }
            if let Some(r) = o.responses.iter().find(|r| !(400..500).contains(&r.status)) {
                return Err(format!("a stream was answered {}", r.status));
            }
        }
    }
    if let Some(want) = &c.interim
        && &o.interim != want
    {
        return Err(format!(
            "interim responses {:?} instead of {want:?}",
            o.interim
        ));
    }
    if let Some(ms) = c.within_ms
        && o.elapsed > Duration::from_millis(ms)
    {
        return Err(format!(
            "took {} ms, more than {ms} ms",
            o.elapsed.as_millis()
        ));
    }
    Ok(())
}

/// Platform calls the case was not allowed to cause.
fn forbidden_calls(c: &Case, calls: &scim_sidecar::demo::CallCounts) -> Vec<String> {
    calls
        .iter()
        .filter_map(|(method, pattern, n)| {
            let key = format!("{method} {pattern}");
            match c.platform_calls.get(&key) {
                Some(max) if n <= *max => None,
                Some(max) => Some(format!("{key} x{n} (at most {max} allowed)")),
                None => Some(format!("{key} x{n}")),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The stack and the run
// ---------------------------------------------------------------------------------------------

/// A tiny `pipe` so substitutions read left to right.
trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for String {}

/// The external issuer `[[auth.jwt]]` trusts in the corpus's stack, its audience, and the
/// `[auth.oauth]` + `[[auth.jwt]]` config written beside the stack's config.
const JWT_ISSUER: &str = "https://issuer.hostile.test/";
const JWT_AUDIENCE: &str = "scim-hostile";

/// Writes the signing key, client secret and JWKS files and returns the auth config for them.
fn auth_config(setup: &support::Setup) -> String {
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    setup.write("oauth/signing.pem", &signing.serialize_pem());
    setup.write(
        "oauth/entra",
        "hostile-corpus-client-secret-0123456789abcdef",
    );
    let external = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    setup.write("oauth/external.pem", &external.serialize_pem());
    let jwks = serde_json::json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "ext1",
        "x": b64url(external.public_key_raw()),
    }]});
    setup.write("oauth/jwks.json", &jwks.to_string());
    format!(
        r#"
[auth.oauth]
signing_key_file = "oauth/signing.pem"
audience = "{JWT_AUDIENCE}"
clock_skew = "0s"
[[auth.oauth.clients]]
id = "entra"
secret_file = "oauth/entra"
[[auth.jwt]]
issuer = "{JWT_ISSUER}"
audience = "{JWT_AUDIENCE}"
jwks_file = "oauth/jwks.json"
algorithms = ["EdDSA"]
clock_skew = "0s"
"#
    )
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The signed hostile tokens `auth_jwt.json` names (`{{jwt_expired}}`, ...): each is valid but
/// for one thing.
fn jwts(s: &Stack) -> Vec<(String, String)> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let pem = std::fs::read_to_string(s.setup.path("oauth/external.pem")).unwrap();
    let external = rcgen::KeyPair::from_pem(&pem).unwrap();
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let claims = serde_json::json!({"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": "hostile",
        "iat": now, "nbf": now - 5, "exp": now + 600});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    let sign = |key: &rcgen::KeyPair, kid: &str, c: &serde_json::Value| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, c, &EncodingKey::from_ed_der(&key.serialize_der())).unwrap()
    };
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("ext1".to_owned());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_secret(external.public_key_raw()),
        )
        .unwrap()
    };
    // A token the sidecar's own key signed for another deployment's audience, replayed here.
    let replayed = scim_sidecar::jwt::Keys::new(
        scim_sidecar::jwt::read_signing_key(&s.setup.path("oauth/signing.pem")).unwrap(),
        Vec::new(),
        "scim-sidecar".to_owned(),
        "another-deployment".to_owned(),
        Duration::from_secs(600),
        Duration::ZERO,
    )
    .issue("entra")
    .unwrap();
    vec![
        ("jwt_valid", sign(&external, "ext1", &claims)),
        (
            "jwt_expired",
            sign(&external, "ext1", &with("exp", (now - 60).into())),
        ),
        (
            "jwt_not_yet_valid",
            sign(&external, "ext1", &with("nbf", (now + 600).into())),
        ),
        (
            "jwt_wrong_aud",
            sign(&external, "ext1", &with("aud", "another-app".into())),
        ),
        (
            "jwt_wrong_iss",
            sign(
                &external,
                "ext1",
                &with("iss", "https://evil.example/".into()),
            ),
        ),
        ("jwt_unknown_kid", sign(&other, "ext9", &claims)),
        ("jwt_kid_path", sign(&other, "../../../etc/passwd", &claims)),
        ("jwt_wrong_key", sign(&other, "ext1", &claims)),
        (
            "jwt_alg_none",
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","kid":"ext1"}"#),
                b64url(claims.to_string().as_bytes())
            ),
        ),
        ("jwt_hs256_public_key", hs256),
        ("oauth_other_audience", replayed),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The server limits the corpus is written against (slow cases finish in about a second).
const SERVER: &str = r#"header_read_timeout = "1s"
body_read_timeout = "1s"
request_timeout = "10s"
max_body_size = "1MiB"
max_header_size = "16KiB"
http2_max_concurrent_streams = 64"#;

async fn start_stack() -> Stack {
    support::install_provider();
    let platform = scim_sidecar::demo::Platform::spawn(support::PLATFORM_KEY)
        .await
        .expect("platform");
    let base = platform.base_url();
    let setup = support::Setup::new();
    setup.write("mapping.toml", scim_sidecar::demo::MAPPING_TOML);
    let cfg = setup.plain_config(&format!(
        "[scim]\nmapping = \"mapping.toml\"\n{}",
        auth_config(&setup)
    ));
    let text = std::fs::read_to_string(&cfg).expect("config");
    assert!(text.contains("header_read_timeout = \"2s\""), "{text}");
    std::fs::write(&cfg, text.replace("header_read_timeout = \"2s\"", SERVER)).expect("write");
    let loader = support::loader(&cfg, Some(&base));
    let config = loader
        .load()
        .unwrap_or_else(|e| panic!("test config must be valid:\n{e}"));
    let sidecar = scim_sidecar::start_with(config, Some(loader))
        .await
        .expect("start");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Stack {
        setup,
        platform,
        sidecar,
        client,
    }
}

/// A valid authenticated request still gets its answer.
async fn healthy(s: &Stack, path: &str) -> Result<(), String> {
    let r = s
        .client
        .get(s.url(path))
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .map_err(|e| format!("sidecar unreachable: {e}"))?;
    if r.status() != reqwest::StatusCode::OK {
        return Err(format!("GET {path} answered {}", r.status()));
    }
    Ok(())
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// The platform's state, to compare before and after the corpus.
async fn platform_state(s: &Stack, group: u64) -> Value {
    let (_, users) = s.platform_get("/api/v1/users?per_page=100").await;
    let (_, groups) = s.platform_get("/api/v1/groups?per_page=100").await;
    let (_, members) = s
        .platform_get(&format!("/api/v1/groups/{group}/members?per_page=100"))
        .await;
    serde_json::json!({"users": users["data"], "groups": groups["data"], "members": members["data"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_corpus_gets_4xx_or_a_clean_close_and_reaches_no_platform_write() {
    count_panics();
    let corpus = load_corpus();
    assert!(
        corpus.len() >= 100,
        "the corpus has {} cases, at least 100 are required",
        corpus.len()
    );
    let observe = std::env::var_os("HOSTILE_OBSERVE").is_some();
    let only = std::env::var("HOSTILE_ONLY").ok();
    let s = start_stack().await;
    let p = s.platform.platform();
    let users = p.seed_users(3);
    let group = p.seed_group("hostile-group", &users[..2]);
    let before = platform_state(&s, group).await;
    let vars = Vars {
        token: TOKEN.to_owned(),
        user: users[0].to_string(),
        group: group.to_string(),
        addr: s.sidecar.scim_addr.to_string(),
        jwts: jwts(&s),
    };
    // The JWT cases are hostile for one reason each: the same token without it is accepted.
    let valid = vars.subst("{{jwt_valid}}");
    assert!(
        !valid.contains("{{"),
        "the JWT placeholders are substituted"
    );
    let r = s
        .client
        .get(s.url("/Users"))
        .header("authorization", bearer(&valid))
        .send()
        .await
        .expect("valid jwt");
    assert_eq!(
        r.status(),
        reqwest::StatusCode::OK,
        "a valid external JWT is accepted"
    );

    let mut failures = Vec::new();
    let mut bugs_present = Vec::new();
    let mut bugs_fixed = Vec::new();
    let mut by_category: BTreeMap<String, usize> = BTreeMap::new();
    let mut run = 0;
    for Loaded { category, case: c } in &corpus {
        if only
            .as_deref()
            .is_some_and(|o| !c.name.contains(o) && o != category)
        {
            continue;
        }
        run += 1;
        *by_category.entry(category.clone()).or_default() += 1;
        let id = format!("{category}/{}", c.name);
        p.reset_calls();
        let panics_before = PANICS.load(Ordering::SeqCst);
        let deadline = Duration::from_millis(c.timeout_ms.unwrap_or(5000));
        let outcome = match c.transport {
            Transport::Http1 => {
                let bytes = http1_request(c, &vars);
                http1_exchange(
                    s.sidecar.scim_addr,
                    bytes,
                    &c.send,
                    c.leading_ok + 1,
                    deadline,
                )
                .await
            }
            Transport::H2 => {
                let (bytes, opened) = h2_bytes(c, &vars);
                h2_exchange(
                    s.sidecar.scim_addr,
                    bytes,
                    opened,
                    deadline,
                    c.expect == Expect::Close,
                )
                .await
            }
        };
        let mut problems = Vec::new();
        if let Err(e) = judge(c, &outcome) {
            problems.push(e);
        }
        let calls = p.calls();
        let forbidden = forbidden_calls(c, &calls);
        if !forbidden.is_empty() {
            problems.push(format!("platform saw: {}", forbidden.join(", ")));
        }
        if let Err(e) = healthy(&s, "/ServiceProviderConfig").await {
            problems.push(format!("after the case: {e}"));
        }
        let panicked = PANICS.load(Ordering::SeqCst) - panics_before;
        if panicked > 0 {
            problems.push(format!("{panicked} panic(s) in the server"));
        }
        if observe {
            eprintln!(
                "[{}] {id}: {}{}",
                if problems.is_empty() { "ok" } else { "FAIL" },
                outcome.summary(),
                if problems.is_empty() {
                    String::new()
                } else {
                    format!("\n      problems: {}", problems.join("; "))
                }
            );
        }
        match (&c.known_bug, problems.is_empty()) {
            (None, true) => {}
            (None, false) => failures.push(format!(
                "{id}: {}\n      observed: {}",
                problems.join("; "),
                outcome.summary()
            )),
            (Some(bug), false) => bugs_present.push(format!(
                "{id}: {bug}\n      observed: {}",
                problems.join("; ")
            )),
            (Some(bug), true) => bugs_fixed.push(format!("{id}: {bug}")),
        }
    }

    // The sidecar still reaches the platform, and nothing on it changed.
    p.reset_calls();
    if let Err(e) = healthy(&s, &format!("/Users/{}", users[0])).await {
        failures.push(format!("after the corpus: {e}"));
    }
    let after = platform_state(&s, group).await;
    if before != after {
        failures.push(format!(
            "the platform's data changed:\nbefore {before}\nafter  {after}"
        ));
    }
    let cats: Vec<String> = by_category
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "hostile corpus: {run} cases ({}); {} known bug(s) reproduced, {} failure(s)",
        cats.join(", "),
        bugs_present.len(),
        failures.len()
    );
    for b in &bugs_present {
        println!("KNOWN BUG {b}");
    }
    s.stop().await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked");
    assert!(
        bugs_fixed.is_empty(),
        "cases marked known_bug now pass; remove their markers:\n  {}",
        bugs_fixed.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "{} hostile case(s) failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
