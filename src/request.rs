//! Reading a SCIM request: the query parameters (RFC 7644 §3.4.2), the body under a size and
//! time limit, its media type, and the request id.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, Limited};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::scim::error::{ScimError, ScimType};

/// The SCIM query parameters of a request. Names are matched case-insensitively; unknown ones
/// (such as Entra's `aadOptscim062020` flag) are ignored. `+` decodes to a space (Entra sends
/// `filter=userName+eq+%22...%22`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `filter`
    pub filter: Option<String>,
    /// `startIndex`
    pub start_index: Option<String>,
    /// `count`
    pub count: Option<String>,
    /// `attributes`
    pub attributes: Option<String>,
    /// `excludedAttributes`
    pub excluded_attributes: Option<String>,
    /// `sortBy`
    pub sort_by: Option<String>,
    /// `sortOrder`
    pub sort_order: Option<String>,
}

impl Query {
    /// Parses a raw query string (the part after `?`). The first occurrence of a name wins.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut q = Query::default();
        let Some(raw) = raw else {
            return q;
        };
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = if k.eq_ignore_ascii_case("filter") {
                &mut q.filter
            } else if k.eq_ignore_ascii_case("startIndex") {
                &mut q.start_index
            } else if k.eq_ignore_ascii_case("count") {
                &mut q.count
            } else if k.eq_ignore_ascii_case("attributes") {
                &mut q.attributes
            } else if k.eq_ignore_ascii_case("excludedAttributes") {
                &mut q.excluded_attributes
            } else if k.eq_ignore_ascii_case("sortBy") {
                &mut q.sort_by
            } else if k.eq_ignore_ascii_case("sortOrder") {
                &mut q.sort_order
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        q
    }
}

/// Checks the request's media type: absent, `application/scim+json` or `application/json`
/// (any parameters, e.g. `; charset=utf-8`). Anything else is a 415.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(ct) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if essence.eq_ignore_ascii_case("application/scim+json")
        || essence.eq_ignore_ascii_case("application/json")
    {
        Ok(())
    } else {
        Err(ScimError::new(
            415,
            None,
            format!(
                "unsupported Content-Type {:?}: send application/scim+json or application/json",
                ct.to_str().unwrap_or("(not text)")
            ),
        ))
    }
}

/// Reads a request body, at most `max` bytes within `timeout`. A declared `Content-Length` over
/// the limit is refused before reading.
pub async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, ScimError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large = || {
        ScimError::new(
            413,
            None,
            format!("request body exceeds the limit of {max} bytes (server.max_body_size)"),
        )
    };
    if let Some(len) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max as u64
    {
        return Err(too_large());
    }
    if body.is_end_stream() {
        // A GET or DELETE without a body: no deadline or buffer to set up.
        return Ok(Bytes::new());
    }
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(ScimError::bad_request_plain(
            "the request body could not be read (connection closed or malformed framing)",
        )),
        Err(_) => Err(ScimError::new(
            408,
            None,
            format!(
                "the request body did not arrive within {} (server.body_read_timeout)",
                crate::config::values::format_duration(timeout)
            ),
        )),
    }
}

/// Parses a JSON request body. Empty bodies and malformed JSON are 400 `invalidSyntax` with the
/// parser's line and column.
pub fn parse_json(body: &[u8]) -> Result<serde_json::Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body is not valid JSON: {e}"),
        )
    })
}

/// What the pipeline reads of a request beyond its endpoint and method: the query parameters
/// and the body, as read and then as the normalize stage leaves them.
#[derive(Debug, Clone)]
pub struct Input {
    /// The query parameters.
    pub query: Query,
    /// The body.
    pub body: Payload,
    /// The filter as parsed and normalized for each resource type it is read for (none when it
    /// does not parse: the parse stage reports that). Kept as a tree, not printed back, so that
    /// errors found later point at positions in the text as sent.
    pub filters: Vec<(crate::routes::ResourceKind, crate::scim::filter::Filter)>,
}

impl Input {
    /// A request's query and body, as read.
    pub fn new(query: Query, body: Bytes) -> Input {
        Input {
            query,
            body: Payload::Raw(body),
            filters: Vec::new(),
        }
    }
}

/// A request body: the bytes as read, or the JSON the normalize stage made of them.
#[derive(Debug, Clone)]
pub enum Payload {
    /// As read (possibly empty, possibly not JSON).
    Raw(Bytes),
    /// Parsed and normalized.
    Json(serde_json::Value),
}

impl Payload {
    /// The body as JSON, or the 400 that says why it is not.
    pub fn json(self) -> Result<serde_json::Value, ScimError> {
        match self {
            Payload::Raw(b) => parse_json(&b),
            Payload::Json(v) => Ok(v),
        }
    }
}

/// Request ids: the client's `X-Request-Id` when it is sane, else `<process prefix>-<counter>`.
#[derive(Debug)]
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    /// A generator with a random per-process prefix.
    pub fn new() -> Self {
        let mut bytes = [0u8; 6];
        // An unpredictable prefix is nice to have, not a security property: fall back to the time.
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            let t = crate::scim::datetime::Instant::now();
            bytes.copy_from_slice(&t.nanos.to_le_bytes().repeat(2)[..6]);
        }
        RequestIds {
            prefix: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            next: AtomicU64::new(1),
        }
    }

    /// The id for a request: the client's `X-Request-Id` if it is 1–128 characters of
    /// `[A-Za-z0-9._:-]`, otherwise a new one.
    pub fn for_request(&self, headers: &HeaderMap) -> String {
        if let Some(v) = headers.get("x-request-id").and_then(|v| v.to_str().ok())
            && (1..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return v.to_owned();
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.prefix)
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http_body_util::Full;

    #[test]
    fn query_decodes_entra_encodings_and_ignores_unknown_parameters() {
        let q = Query::parse(Some(
            "aadOptscim062020&excludedAttributes=members&filter=userName+eq+%22a%40b.c%22",
        ));
        assert_eq!(q.filter.as_deref(), Some("userName eq \"a@b.c\""));
        assert_eq!(q.excluded_attributes.as_deref(), Some("members"));
        let q = Query::parse(Some("FILTER=x%20eq%20y&StartIndex=3&count=5&count=9"));
        assert_eq!(q.filter.as_deref(), Some("x eq y"));
        assert_eq!(q.start_index.as_deref(), Some("3"));
        assert_eq!(q.count.as_deref(), Some("5"), "first occurrence wins");
        assert_eq!(Query::parse(None), Query::default());
    }

    #[test]
    fn content_types_scim_and_plain_json_are_accepted() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        for ok in [
            "application/scim+json",
            "application/scim+json; charset=utf-8",
            "application/json",
            "Application/JSON;charset=UTF-8",
        ] {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_content_type(&h).is_ok(), "{ok}");
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(check_content_type(&h).map_err(|e| e.status), Err(415));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_whether_declared_or_streamed() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("2000"));
        let small = Full::new(Bytes::from_static(b"{}"));
        let e = read_body(&h, small, 1024, Duration::from_secs(1))
            .await
            .expect_err("declared too large");
        assert_eq!(e.status, 413);
        let big = Full::new(Bytes::from(vec![b' '; 2000]));
        let e = read_body(&HeaderMap::new(), big, 1024, Duration::from_secs(1))
            .await
            .expect_err("streamed too large");
        assert_eq!(e.status, 413);
        let ok = Full::new(Bytes::from_static(b"{\"a\":1}"));
        let b = read_body(&HeaderMap::new(), ok, 1024, Duration::from_secs(1))
            .await
            .expect("fits");
        assert_eq!(&b[..], b"{\"a\":1}");
    }

    #[test]
    fn json_errors_are_invalid_syntax_with_position() {
        let e = parse_json(b"{\"a\":").expect_err("truncated");
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(e.detail.contains("line 1"), "{}", e.detail);
        assert!(parse_json(b"  ").is_err());
        assert!(parse_json(b"{}").is_ok());
    }

    #[test]
    fn request_ids_are_taken_when_sane_and_generated_otherwise() {
        let ids = RequestIds::new();
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(ids.for_request(&h), "abc-123");
        h.insert(
            "x-request-id",
            HeaderValue::from_static("bad id with spaces"),
        );
        let a = ids.for_request(&h);
        let b = ids.for_request(&HeaderMap::new());
        assert_ne!(a, b);
        assert!(a.ends_with("-1") && b.ends_with("-2"), "{a} {b}");
    }
}
