//! What goes over the wire to the platform: one call as data, its reply, the hyper client type
//! the platform client and its token fetches share, the text of its errors, and the Base64 of
//! HTTP Basic credentials.

use bytes::Bytes;
use http::header::HeaderValue;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

use crate::error::{Error, PlatformError};

/// One platform call, fully built (ids already percent-encoded into the path).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The mapped operation, for logs and metrics (`users.read`, `groups.members.add`, ...).
    pub operation: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path below the base URL, starting with `/`, segments percent-encoded.
    pub path: String,
    /// Query parameters (encoded when sent).
    pub query: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// `If-Match`: the version the write expects (the platform's optimistic concurrency).
    pub if_match: Option<HeaderValue>,
}

impl Call {
    /// The path and query as sent (`/api/v1/users?email=a%40b`).
    pub fn target(&self, prefix: &str) -> String {
        let mut t = format!("{prefix}{}", self.path);
        if !self.query.is_empty() {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            t.push('?');
            t.push_str(&q);
        }
        t
    }
}

/// The platform's answer: status, the headers the mapping may read, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (for `Location`, `Link`, `X-Total-Count`, `Retry-After`).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; an empty body is `None`; malformed JSON is a platform fault.
    pub fn json(&self) -> Result<Option<Value>, Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            Error::Platform(PlatformError::BadResponse(format!(
                "platform answered {} with a body that is not JSON: {e}",
                self.status
            )))
        })
    }
}

/// The pooled HTTP(S) client.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client error with its whole chain of causes, `: `-separated.
pub(crate) fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// Standard Base64 (RFC 4648 §4, padded), for HTTP Basic credentials.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(T[(n >> 18) as usize & 63]));
        out.push(char::from(T[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(T[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(T[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_encode_query_values() {
        let c = Call {
            operation: "users.list",
            method: Method::GET,
            path: "/api/v1/users".to_owned(),
            query: vec![
                ("email".to_owned(), "a+b@x.com".to_owned()),
                ("page".to_owned(), "1".to_owned()),
            ],
            body: None,
            if_match: None,
        };
        assert_eq!(c.target(""), "/api/v1/users?email=a%2Bb%40x.com&page=1");
        assert_eq!(
            c.target("/base"),
            "/base/api/v1/users?email=a%2Bb%40x.com&page=1"
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
