//! The demo platform's OAuth2 client-credentials token endpoint (`POST /oauth/token`).

use std::collections::hash_map::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use http::header::{HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::bodies::read_body;
use super::response::{ResponseBody, json};

pub(super) struct TokenEndpoint {
    pub(super) client_id: String,
    pub(super) client_secret: RwLock<String>,
    pub(super) lifetime: Option<Duration>,
    /// Issued tokens and when they expire.
    pub(super) issued: std::sync::Mutex<HashMap<String, Option<tokio::time::Instant>>>,
    /// Token requests received (granted or not).
    pub(super) calls: AtomicU64,
    /// Tokens issued.
    pub(super) granted: AtomicU64,
    /// The form of the last token request, `client_secret` left out.
    pub(super) last_form: std::sync::Mutex<Vec<(String, String)>>,
}

/// `a == b` without an early exit on the first differing byte.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

impl TokenEndpoint {
    /// Whether `Authorization: Bearer <t>` carries a token issued and not yet expired or revoked.
    pub(super) fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let now = tokio::time::Instant::now();
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .is_some_and(|expiry| expiry.is_none_or(|at| now < at))
    }

    /// `POST /oauth/token`: client credentials by HTTP Basic or in the form (RFC 6749 §2.3.1,
    /// §4.4); errors as in §5.2.
    pub(super) async fn token(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let refuse = |status: StatusCode, error: &str, description: &str| {
            json(
                status,
                &serde_json::json!({"error": error, "error_description": description}),
                96,
            )
        };
        if request.method() != Method::POST {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "the token endpoint takes POST",
            );
        }
        let basic = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .map(str::to_owned);
        let Ok(body) = read_body(request).await else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "unreadable body",
            );
        };
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        *self
            .last_form
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = form
            .iter()
            .filter(|(k, _)| k != "client_secret")
            .cloned()
            .collect();
        if field("grant_type").as_deref() != Some("client_credentials") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        let from_basic = basic.as_deref().and_then(decode_basic);
        let in_body = field("client_secret").map(|s| (field("client_id").unwrap_or_default(), s));
        let (id, secret) = match (from_basic, in_body, basic.is_some()) {
            (Some(c), None, _) => c,
            (None, Some(c), false) => c,
            (None, None, false) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "no client authentication",
                );
            }
            (None, _, true) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "malformed Basic credentials",
                );
            }
            (Some(_), Some(_), _) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "more than one client authentication method",
                );
            }
        };
        let secret_ok = {
            let expected = self
                .client_secret
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            constant_time_eq(secret.as_bytes(), expected.as_bytes())
        };
        if id != self.client_id || !secret_ok {
            let mut r = refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"demo\""),
            );
            return r;
        }
        let token = crate::demo::random_hex(16);
        let now = tokio::time::Instant::now();
        {
            let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
            issued.retain(|_, expiry| expiry.is_none_or(|at| now < at));
            issued.insert(token.clone(), self.lifetime.map(|l| now + l));
        }
        self.granted.fetch_add(1, Ordering::Relaxed);
        let body = match self.lifetime {
            Some(l) => {
                serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": l.as_secs()})
            }
            None => serde_json::json!({"access_token": token, "token_type": "Bearer"}),
        };
        json(StatusCode::OK, &body, 96)
    }
}

/// `base64(urlencode(id):urlencode(secret))` → `(id, secret)`.
pub(super) fn decode_basic(text: &str) -> Option<(String, String)> {
    let bytes = decode_base64(text.trim())?;
    let pair = String::from_utf8(bytes).ok()?;
    let (id, secret) = pair.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

/// Standard base64 with padding (RFC 4648 §4).
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}
