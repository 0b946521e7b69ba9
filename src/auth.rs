//! Bearer-token authentication: several named tokens (for rotation), compared in constant time.
//!
//! Tokens are kept only as SHA-256 digests. A presented token is hashed once and compared with
//! every configured digest with `subtle`, without early exit, so neither the token's length nor
//! which token matched shows in the timing. Only token *names* ever reach logs or `Debug` output.

use aws_lc_rs::digest;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::scim::error::ScimError;

/// The shortest token accepted in config, in bytes. Entra's "Secret Token" field takes long
/// random strings; 32 bytes of randomness is the floor for a long-lived credential.
pub const MIN_TOKEN_BYTES: usize = 32;

/// The configured tokens: names and SHA-256 digests, nothing else.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: Arc<str>,
    digest: [u8; 32],
}

/// Who a request authenticated as, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The static token's configured name (e.g. `entra-2026-11`), the OAuth2 client id an
    /// issued token was issued to, or an external JWT's `sub`. Audit events name the caller by it.
    pub token_name: Arc<str>,
    /// Which authentication method accepted the request.
    pub method: Method,
}

/// The authentication methods; several can be enabled at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A static bearer token (`[[auth.tokens]]`, `auth.tokens_dir`).
    Token,
    /// An access token issued by the sidecar's own token endpoint (`[auth.oauth]`).
    OAuth,
    /// A JWT from an external issuer (`[[auth.jwt]]`).
    Jwt,
}

impl Method {
    /// The label in the access log (`auth=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Token => "token",
            Method::OAuth => "oauth",
            Method::Jwt => "jwt",
        }
    }
}

/// Why authentication failed; each maps to a 401 with a detail that helps without revealing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// A scheme other than `Bearer` (e.g. `Basic`).
    WrongScheme,
    /// `Bearer` with an empty or malformed token.
    Malformed,
    /// A token that matches none of the configured ones.
    Invalid,
    /// More than one `Authorization` header: which one counts would depend on who reads the
    /// request (a proxy in front may have checked the other), so none does.
    Ambiguous,
}

impl AuthFailure {
    /// A short label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::WrongScheme => "wrong_scheme",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Invalid => "invalid",
            AuthFailure::Ambiguous => "ambiguous",
        }
    }

    /// The 401 SCIM error for this failure.
    pub fn to_error(self) -> ScimError {
        let detail = match self {
            AuthFailure::Missing => {
                "authentication required: send the header 'Authorization: Bearer <token>'"
            }
            AuthFailure::WrongScheme => {
                "unsupported authorization scheme: use 'Authorization: Bearer <token>'"
            }
            AuthFailure::Malformed => "malformed bearer token",
            AuthFailure::Invalid => "invalid bearer token",
            AuthFailure::Ambiguous => {
                "more than one Authorization header: send exactly one 'Authorization: Bearer <token>'"
            }
        };
        ScimError::new(401, None, detail)
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3).
    pub fn challenge(self) -> &'static str {
        match self {
            AuthFailure::Missing | AuthFailure::WrongScheme => "Bearer realm=\"scim\"",
            AuthFailure::Ambiguous => "Bearer realm=\"scim\", error=\"invalid_request\"",
            AuthFailure::Malformed | AuthFailure::Invalid => {
                "Bearer realm=\"scim\", error=\"invalid_token\""
            }
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

// === impl Tokens ===

impl Tokens {
    /// Builds the token set from `(name, secret)` pairs; the secrets are hashed and dropped.
    pub fn new<I, S>(tokens: I) -> Tokens
    where
        I: IntoIterator<Item = (S, Vec<u8>)>,
        S: Into<Arc<str>>,
    {
        Tokens {
            entries: tokens
                .into_iter()
                .map(|(name, secret)| Entry {
                    name: name.into(),
                    digest: sha256(&secret),
                })
                .collect(),
        }
    }

    /// The configured token names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &*e.name)
    }

    /// How many tokens are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks a presented token against every configured token in constant time (per token
    /// count): all digests are compared, and the matching index is selected without branching.
    pub fn verify(&self, presented: &[u8]) -> Option<&Arc<str>> {
        let digest = sha256(presented);
        let mut found = Choice::from(0);
        let mut index = 0u32;
        for (i, entry) in self.entries.iter().enumerate() {
            let eq = digest.ct_eq(&entry.digest);
            index.conditional_assign(&u32::try_from(i).unwrap_or(u32::MAX), eq);
            found |= eq;
        }
        if bool::from(found) {
            self.entries.get(index as usize).map(|e| &e.name)
        } else {
            None
        }
    }

    /// Authenticates a request from its `Authorization` header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthFailure> {
        let token = bearer(headers)?;
        self.verify(token)
            .map(|name| Principal {
                token_name: name.clone(),
                method: Method::Token,
            })
            .ok_or(AuthFailure::Invalid)
    }
}

/// The token of the one `Authorization: Bearer <token>` header; the failure when there is none,
/// several, another scheme, or an empty or spaced token.
pub fn bearer(headers: &HeaderMap) -> Result<&[u8], AuthFailure> {
    let mut all = headers.get_all(AUTHORIZATION).iter();
    let value = all.next().ok_or(AuthFailure::Missing)?;
    if all.next().is_some() {
        return Err(AuthFailure::Ambiguous);
    }
    let bytes = value.as_bytes();
    let (scheme, rest) = match bytes.iter().position(|b| *b == b' ') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthFailure::WrongScheme);
    }
    let token = rest.trim_ascii();
    if token.is_empty() || token.contains(&b' ') {
        return Err(AuthFailure::Malformed);
    }
    Ok(token)
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Checks a secret read from config: trims surrounding whitespace (Kubernetes Secrets created
/// with `echo` end in a newline) and enforces [`MIN_TOKEN_BYTES`]. The error never contains the
/// secret, only its length.
pub fn check_secret(raw: &[u8]) -> Result<Vec<u8>, String> {
    let t = raw.trim_ascii();
    if t.is_empty() {
        return Err("the token is empty".to_owned());
    }
    if t.len() < MIN_TOKEN_BYTES {
        return Err(format!(
            "the token is {} bytes long; at least {MIN_TOKEN_BYTES} are required (generate one with `openssl rand -hex 32`)",
            t.len()
        ));
    }
    if t.iter().any(|b| !b.is_ascii_graphic()) {
        return Err(
            "the token contains spaces or non-printable characters; it must be sendable in an HTTP header"
                .to_owned(),
        );
    }
    Ok(t.to_vec())
}

// === token files ===

/// Where a token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding the token.
    File(PathBuf),
    /// An environment variable holding the token.
    Env(String),
}

/// Reads one token; on failure returns the offending sub-key (`file` or `env`) and a reason.
pub fn read_token(
    source: &TokenSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, (&'static str, String)> {
    match source {
        TokenSource::File(p) => {
            let bytes = std::fs::read(p).map_err(|e| ("file", describe_io(&e)))?;
            check_secret(&bytes).map_err(|r| ("file", r))
        }
        TokenSource::Env(var) => {
            let value =
                env(var).ok_or_else(|| ("env", "environment variable is not set".to_owned()))?;
            check_secret(value.as_bytes()).map_err(|r| ("env", r))
        }
    }
}

/// A token file found in `auth.tokens_dir`: its name and its checked secret (or why not).
pub type DirToken = (String, Result<Vec<u8>, String>);

/// Reads every token in a directory: each regular file (following symlinks, skipping names that
/// start with `.` such as Kubernetes' `..data`) is a token named after the file.
pub fn read_token_dir(dir: &Path) -> Result<Vec<DirToken>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| describe_io(&e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| describe_io(&e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let secret = std::fs::read(&path)
            .map_err(|e| describe_io(&e))
            .and_then(|b| check_secret(&b));
        out.push((name, secret));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => format!("cannot read: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn tokens() -> Tokens {
        Tokens::new([
            ("old", A.as_bytes().to_vec()),
            ("new", B.as_bytes().to_vec()),
        ])
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn both_rotation_tokens_authenticate_under_their_own_names() {
        let t = tokens();
        let p = t
            .authenticate(&headers(&format!("Bearer {A}")))
            .expect("old");
        assert_eq!(&*p.token_name, "old");
        let p = t
            .authenticate(&headers(&format!("bearer {B}")))
            .expect("new");
        assert_eq!(&*p.token_name, "new");
    }

    #[test]
    fn failures_are_classified() {
        let t = tokens();
        assert_eq!(t.authenticate(&HeaderMap::new()), Err(AuthFailure::Missing));
        assert_eq!(
            t.authenticate(&headers("Basic dXNlcjpwYXNz")),
            Err(AuthFailure::WrongScheme)
        );
        assert_eq!(
            t.authenticate(&headers("Bearer")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            t.authenticate(&headers("Bearer   ")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            t.authenticate(&headers(&format!("Bearer {A}x"))),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            t.authenticate(&headers(&A[..10])),
            Err(AuthFailure::WrongScheme)
        );
        // a prefix of a valid token is not a valid token
        assert_eq!(
            t.authenticate(&headers(&format!("Bearer {}", &A[..31]))),
            Err(AuthFailure::Invalid)
        );
        // two headers, even two valid ones, are ambiguous
        let mut two = headers(&format!("Bearer {A}"));
        two.append(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {B}")).expect("h"),
        );
        assert_eq!(t.authenticate(&two), Err(AuthFailure::Ambiguous));
    }

    #[test]
    fn debug_output_shows_names_but_never_secrets() {
        let text = format!("{:?}", tokens());
        assert!(text.contains("old") && text.contains("new"), "{text}");
        assert!(!text.contains("aaaa") && !text.contains("bbbb"), "{text}");
    }

    #[test]
    fn secrets_are_trimmed_and_length_checked_without_echoing() {
        assert_eq!(
            check_secret(format!("{A}\n").as_bytes()),
            Ok(A.as_bytes().to_vec())
        );
        let e = check_secret(b"short-secret").expect_err("short");
        assert!(e.contains("12 bytes") && !e.contains("short-secret"), "{e}");
        assert!(check_secret(b"   \n").is_err());
        let spaced = format!("{} {}", &A[..20], &A[..20]);
        assert!(check_secret(spaced.as_bytes()).is_err());
    }

    #[test]
    fn no_tokens_means_nothing_authenticates() {
        let t = Tokens::default();
        assert_eq!(
            t.authenticate(&headers(&format!("Bearer {A}"))),
            Err(AuthFailure::Invalid)
        );
    }
}
