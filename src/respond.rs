//! Building HTTP responses: SCIM JSON bodies with `application/scim+json`, and error responses
//! with the headers their status calls for (`WWW-Authenticate`, `Retry-After`, `Allow`).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::error::{Error, PlatformError};
use crate::service::Outcome;

/// The response body type of every handler.
pub type Body = Full<Bytes>;

/// `application/scim+json`, the media type of every SCIM response (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The starting size of a response body's buffer: a user or group answer fits in it.
const RESPONSE_CAPACITY: usize = 1024;

/// A SCIM JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response<Body> {
    // Room for a typical resource up front (serde_json's own start is 128 bytes, then doubling).
    let mut bytes = Vec::with_capacity(RESPONSE_CAPACITY);
    if serde_json::to_writer(&mut bytes, value).is_err() {
        bytes = Vec::new();
    }
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// An empty `204 No Content`.
pub fn no_content() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// The response to a resource operation's outcome: its status, body, `ETag` and `Location`.
pub fn outcome(outcome: Outcome) -> Response<Body> {
    // The tag's own bytes become the header value (checked, not copied).
    let etag_header = |r: &mut Response<Body>, etag: String| {
        if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(etag)) {
            r.headers_mut().insert(http::header::ETAG, v);
        }
    };
    match outcome {
        Outcome::Ok { body, etag } => {
            let mut r = json(StatusCode::OK, &body);
            if let Some(e) = etag {
                etag_header(&mut r, e);
            }
            r
        }
        Outcome::Created {
            body,
            location,
            etag,
        } => {
            let mut r = json(StatusCode::CREATED, &body);
            etag_header(&mut r, etag);
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            r
        }
        Outcome::NoContent => no_content(),
    }
}

/// A failed request: the error and any headers its status needs.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Failure {
    /// Adds a header to the error response.
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The SCIM error response.
    pub fn into_response(self) -> Response<Body> {
        let scim = self.error.to_scim();
        let status = StatusCode::from_u16(scim.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = json(status, &scim.to_json());
        let retry_after = match &self.error {
            Error::Platform(
                PlatformError::Overloaded { retry_after_secs }
                | PlatformError::RateLimited { retry_after_secs }
                | PlatformError::Contended { retry_after_secs },
            ) => Some(*retry_after_secs),
            // Transient unavailability: the platform, or its token endpoint, is not reachable.
            Error::Platform(
                PlatformError::Refused(_)
                | PlatformError::Token(crate::error::TokenFailure::Unreachable, _),
            ) => Some(crate::error::REFUSED_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        for (name, value) in self.headers {
            r.headers_mut().insert(name, value);
        }
        r
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            headers: Vec::new(),
        }
    }
}

impl From<crate::scim::error::ScimError> for Failure {
    fn from(e: crate::scim::error::ScimError) -> Self {
        Failure::from(Error::Client(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimError;
    use http_body_util::BodyExt;

    async fn body(r: Response<Body>) -> Value {
        let bytes = r
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn errors_are_scim_json_with_their_headers() {
        let f = Failure::from(ScimError::new(401, None, "invalid bearer token"))
            .with_header(http::header::WWW_AUTHENTICATE, "Bearer realm=\"scim\"");
        let r = f.into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[CONTENT_TYPE], SCIM_JSON);
        assert_eq!(
            r.headers()[http::header::WWW_AUTHENTICATE],
            "Bearer realm=\"scim\""
        );
        assert_eq!(body(r).await["status"], "401");
    }

    #[tokio::test]
    async fn a_platform_that_refuses_connections_is_503_with_retry_after() {
        for e in [
            Error::Platform(PlatformError::Refused("connection refused".into())),
            Error::Platform(PlatformError::Token(
                crate::error::TokenFailure::Unreachable,
                "connection refused".into(),
            )),
        ] {
            let r = Failure::from(e).into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(r.headers()[http::header::RETRY_AFTER], "5");
        }
        let r = Failure::from(Error::Platform(PlatformError::Unreachable("reset".into())))
            .into_response();
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        assert!(r.headers().get(http::header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn overload_carries_retry_after() {
        let r = Failure::from(Error::Platform(PlatformError::Overloaded {
            retry_after_secs: 2,
        }))
        .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[http::header::RETRY_AFTER], "2");
    }
}
