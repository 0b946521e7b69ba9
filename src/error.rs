//! The one error type of a request: whose fault it was decides the status, the detail, and what
//! is logged. Client faults are 4xx SCIM errors; platform faults are 502/503/504 that say so and
//! never echo the platform's body; our own faults are 500 "internal error" with the cause logged.

use crate::scim::error::ScimError;
use std::fmt;

/// What went wrong while serving a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The SCIM client sent something we cannot accept: a 4xx with a SCIM error body.
    Client(ScimError),
    /// The platform behind the sidecar failed: 502, 503 or 504 (429 for its configured rate).
    Platform(PlatformError),
    /// A bug or an exhausted resource on our side: 500. The message is logged, never sent.
    Internal(String),
}

/// How the platform failed; each kind maps to one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformError {
    /// Connection reset or cut short, DNS or TLS failure: 502 (the platform may have received
    /// the request).
    Unreachable(String),
    /// The platform refused the TCP connection or did not accept it within `connect_timeout`: the
    /// request never left, the platform is down or restarting. 503 with `Retry-After`
    /// ([`REFUSED_RETRY_AFTER_SECS`]).
    Refused(String),
    /// No answer within the configured timeout: 504.
    Timeout(String),
    /// The sidecar's cap on concurrent platform calls is reached: 503 with `Retry-After`.
    Overloaded {
        /// Seconds the client should wait.
        retry_after_secs: u64,
    },
    /// The sidecar's cap on the platform's call rate (`platform.rate`) is reached and no token
    /// came within `queue_timeout`: 429 with `Retry-After` (nothing was sent to the platform).
    RateLimited {
        /// Seconds until the bucket has a token free, rounded up, at least 1.
        retry_after_secs: u64,
    },
    /// Another change to the same resource holds its write lock past the bounded wait: 503 with
    /// `Retry-After` (the request changed nothing).
    Contended {
        /// Seconds the client should wait.
        retry_after_secs: u64,
    },
    /// The platform answered, but not in a way the mapping understands (bad JSON, unexpected
    /// status, missing id): 502.
    BadResponse(String),
    /// No access token from the platform's OAuth2 token endpoint (`[platform.auth] kind =
    /// "oauth2"`): 502 when it refused the client credentials or answered nonsense, 503 when it is
    /// unreachable, 504 when it did not answer in time. The cause never holds a secret.
    Token(TokenFailure, String),
    /// A step of a multi-step operation failed on the platform's side: 502, with this detail
    /// (which step, and whether the earlier steps were undone) sent to the client. It names no
    /// platform body, only the mapping's step names.
    Step(String),
}

/// The `Retry-After` of a 503 for a platform that refused the connection: a restarting platform
/// is usually back within seconds.
pub const REFUSED_RETRY_AFTER_SECS: u64 = 5;

/// Why the token endpoint gave no access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    /// It refused the client credentials (400/401, e.g. `invalid_client`): 502.
    Refused,
    /// Connection refused, reset, DNS or TLS failure: 503.
    Unreachable,
    /// No answer within the platform timeout: 504.
    Timeout,
    /// It answered, but without a usable token (other status, not JSON, no `access_token`): 502.
    BadAnswer,
}

impl TokenFailure {
    /// A label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            TokenFailure::Refused => "refused",
            TokenFailure::Unreachable => "unreachable",
            TokenFailure::Timeout => "timeout",
            TokenFailure::BadAnswer => "bad_response",
        }
    }
}

/// Whose fault a failed request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something wrong (4xx).
    Client,
    /// The platform failed or answered something unusable (502/503/504).
    Platform,
    /// The sidecar itself failed (500).
    Sidecar,
}

impl Fault {
    /// The label in the access log's `fault` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Client => "client",
            Fault::Platform => "platform",
            Fault::Sidecar => "sidecar",
        }
    }
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::Client(e) => e.status,
            Error::Platform(
                PlatformError::Unreachable(_)
                | PlatformError::BadResponse(_)
                | PlatformError::Step(_),
            ) => 502,
            Error::Platform(
                PlatformError::Overloaded { .. }
                | PlatformError::Contended { .. }
                | PlatformError::Refused(_),
            ) => 503,
            Error::Platform(PlatformError::Timeout(_)) => 504,
            Error::Platform(PlatformError::RateLimited { .. }) => 429,
            Error::Platform(PlatformError::Token(kind, _)) => match kind {
                TokenFailure::Refused | TokenFailure::BadAnswer => 502,
                TokenFailure::Unreachable => 503,
                TokenFailure::Timeout => 504,
            },
            Error::Internal(_) => 500,
        }
    }

    /// Who is at fault, for logs and metrics.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Client(_) => Fault::Client,
            Error::Platform(_) => Fault::Platform,
            Error::Internal(_) => Fault::Sidecar,
        }
    }

    /// The SCIM error sent to the client. Platform and internal details stay in the logs.
    pub fn to_scim(&self) -> ScimError {
        let status = self.status();
        match self {
            Error::Client(e) => e.clone(),
            Error::Platform(PlatformError::Unreachable(_)) => ScimError::new(
                status,
                None,
                "the platform behind this SCIM endpoint is unreachable; try again later",
            ),
            Error::Platform(PlatformError::Refused(_)) => ScimError::new(
                status,
                None,
                "the platform behind this SCIM endpoint is not accepting connections (down or restarting); nothing was changed, retry after the Retry-After delay",
            ),
            Error::Platform(PlatformError::Timeout(_)) => ScimError::new(
                status,
                None,
                "the platform behind this SCIM endpoint did not answer in time; try again later",
            ),
            Error::Platform(PlatformError::Overloaded { .. }) => ScimError::new(
                status,
                None,
                "too many requests are in progress towards the platform; retry after the Retry-After delay",
            ),
            Error::Platform(PlatformError::RateLimited { .. }) => ScimError::new(
                status,
                None,
                "the platform's configured call rate (platform.rate) is reached; nothing was sent to the platform, retry after the Retry-After delay",
            ),
            Error::Platform(PlatformError::Contended { .. }) => ScimError::new(
                status,
                None,
                "another change to this resource is in progress; nothing was changed, retry after the Retry-After delay",
            ),
            Error::Platform(PlatformError::Step(detail)) => ScimError::new(status, None, detail),
            Error::Platform(PlatformError::BadResponse(_)) => ScimError::new(
                status,
                None,
                "the platform behind this SCIM endpoint returned a response the sidecar could not use",
            ),
            Error::Platform(PlatformError::Token(kind, _)) => ScimError::new(
                status,
                None,
                match kind {
                    TokenFailure::Refused => {
                        "the platform's token endpoint refused the sidecar's client credentials; check [platform.auth] (the cause is in the sidecar's log)"
                    }
                    TokenFailure::Unreachable => {
                        "the platform's token endpoint is unreachable; try again later"
                    }
                    TokenFailure::Timeout => {
                        "the platform's token endpoint did not answer in time; try again later"
                    }
                    TokenFailure::BadAnswer => {
                        "the platform's token endpoint returned an answer the sidecar could not use"
                    }
                },
            ),
            Error::Internal(_) => ScimError::new(status, None, "internal error"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Client(e) => write!(f, "client error: {e}"),
            Error::Platform(PlatformError::Unreachable(m)) => {
                write!(f, "platform unreachable: {m}")
            }
            Error::Platform(PlatformError::Refused(m)) => {
                write!(f, "platform refused the connection: {m}")
            }
            Error::Platform(PlatformError::Timeout(m)) => write!(f, "platform timeout: {m}"),
            Error::Platform(PlatformError::Overloaded { retry_after_secs }) => write!(
                f,
                "platform call cap reached (retry after {retry_after_secs}s)"
            ),
            Error::Platform(PlatformError::RateLimited { retry_after_secs }) => write!(
                f,
                "platform call rate cap reached (retry after {retry_after_secs}s)"
            ),
            Error::Platform(PlatformError::Contended { retry_after_secs }) => write!(
                f,
                "resource write lock not free in time (retry after {retry_after_secs}s)"
            ),
            Error::Platform(PlatformError::BadResponse(m)) => {
                write!(f, "unusable platform response: {m}")
            }
            Error::Platform(PlatformError::Step(m)) => write!(f, "{m}"),
            Error::Platform(PlatformError::Token(kind, m)) => {
                write!(f, "no platform access token ({}): {m}", kind.label())
            }
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ScimError> for Error {
    fn from(e: ScimError) -> Self {
        Error::Client(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_whose_fault_it_was() {
        assert_eq!(Error::Client(ScimError::not_found("x")).status(), 404);
        assert_eq!(
            Error::Platform(PlatformError::Unreachable("refused".into())).status(),
            502
        );
        assert_eq!(
            Error::Platform(PlatformError::Refused("refused".into())).status(),
            503
        );
        assert_eq!(
            Error::Platform(PlatformError::Timeout("10s".into())).status(),
            504
        );
        assert_eq!(
            Error::Platform(PlatformError::Overloaded {
                retry_after_secs: 1
            })
            .status(),
            503
        );
        assert_eq!(
            Error::Platform(PlatformError::RateLimited {
                retry_after_secs: 1
            })
            .status(),
            429
        );
        assert_eq!(Error::Internal("bug".into()).status(), 500);
        for (kind, status) in [
            (TokenFailure::Refused, 502),
            (TokenFailure::BadAnswer, 502),
            (TokenFailure::Unreachable, 503),
            (TokenFailure::Timeout, 504),
        ] {
            assert_eq!(
                Error::Platform(PlatformError::Token(kind, String::new())).status(),
                status
            );
        }
    }

    #[test]
    fn platform_and_internal_details_never_reach_the_client() {
        let secret = "upstream said: password=hunter2";
        for e in [
            Error::Platform(PlatformError::BadResponse(secret.into())),
            Error::Platform(PlatformError::Unreachable(secret.into())),
            Error::Platform(PlatformError::Refused(secret.into())),
            Error::Platform(PlatformError::Timeout(secret.into())),
            Error::Platform(PlatformError::Token(TokenFailure::Refused, secret.into())),
            Error::Internal(secret.into()),
        ] {
            let body = e.to_scim().to_json().to_string();
            assert!(!body.contains("hunter2"), "{body}");
            assert!(e.to_string().contains("hunter2"), "the log keeps the cause");
        }
    }
}
