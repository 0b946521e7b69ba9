//! OAuth2 client credentials (RFC 6749 §4.4) towards the platform: the token request, the
//! parsing of the token endpoint's answer, and the access-token cache with its single-flight
//! refresh. See docs/design/platform-oauth.md for why it works this way.
//!
//! Secrets (the client secret, access tokens) never reach a log line or a `Debug` output: they
//! live in [`Secret`] and in `HeaderValue`s marked sensitive, and every cause logged is built from
//! the token endpoint's error code and a scrubbed description.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use crate::error::{Error, PlatformError, TokenFailure};

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (the default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// `[platform.auth] kind = "oauth2"`, validated.
#[derive(Clone, PartialEq)]
pub struct OAuth2 {
    /// The token endpoint, an absolute `http(s)://` URL (may be another origin than the
    /// platform's).
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
    /// How the client authenticates.
    pub client_auth: ClientAuth,
    /// `scope`, sent when set.
    pub scope: Option<String>,
    /// `audience` (Auth0, Okta custom servers), sent when set.
    pub audience: Option<String>,
    /// How long a token whose answer has no `expires_in` is used; `None`: until a 401.
    pub default_lifetime: Option<Duration>,
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_auth", &self.client_auth)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .field("default_lifetime", &self.default_lifetime)
            .finish_non_exhaustive()
    }
}

impl OAuth2 {
    /// The form body and `Authorization` header of a token request.
    pub fn request_parts(&self) -> (String, Option<HeaderValue>) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(s) = &self.scope {
            form.append_pair("scope", s);
        }
        if let Some(a) = &self.audience {
            form.append_pair("audience", a);
        }
        let header = match self.client_auth {
            ClientAuth::Body => {
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_secret", self.client_secret.expose());
                None
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let pair = format!(
                    "{}:{}",
                    enc(&self.client_id),
                    enc(self.client_secret.expose())
                );
                HeaderValue::from_str(&format!("Basic {}", super::wire::base64(pair.as_bytes())))
                    .ok()
                    .map(|mut v| {
                        v.set_sensitive(true);
                        v
                    })
            }
        };
        (form.finish(), header)
    }

    /// What `explain` prints about the token call: no secret.
    pub fn describe(&self) -> String {
        let mut form = vec!["grant_type=client_credentials".to_owned()];
        if let Some(s) = &self.scope {
            form.push(format!("scope={s}"));
        }
        if let Some(a) = &self.audience {
            form.push(format!("audience={a}"));
        }
        let auth = match self.client_auth {
            ClientAuth::Basic => format!(
                "client {:?} by HTTP Basic (client_auth = \"basic\")",
                self.client_id
            ),
            ClientAuth::Body => {
                form.push(format!("client_id={}", self.client_id));
                form.push("client_secret=<secret>".to_owned());
                format!(
                    "client {:?} in the form body (client_auth = \"body\")",
                    self.client_id
                )
            }
        };
        format!(
            "POST {}  [platform.auth token]\n     body: {}\n     {auth}; the access token is cached until expires_in minus min(30s, 10%), sent as Authorization: Bearer, refreshed once on a 401",
            self.token_url,
            form.join("&")
        )
    }
}

/// A cached access token.
pub(crate) struct Token {
    /// `Authorization: Bearer <token>`, marked sensitive.
    pub(crate) header: HeaderValue,
    /// When to fetch a new one (`None`: only after a 401).
    refresh_at: Option<Instant>,
    /// Which fetch it came from: a 401 drops the token only if it is still the one that failed.
    generation: u64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("refresh_at", &self.refresh_at)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Token {
    fn fresh(&self, now: Instant) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }
}

#[derive(Default)]
struct State {
    current: Option<Arc<Token>>,
    /// The last failed fetch: requests that waited for it share its error instead of each
    /// trying again in turn.
    failure: Option<(Instant, Error)>,
    generations: u64,
}

/// The access-token cache of one platform client.
#[derive(Default)]
pub(crate) struct Tokens {
    state: Mutex<State>,
    /// Held while a token is fetched: one fetch at a time, whatever the number of requests.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

/// What a fetch needs from the client.
pub(crate) struct Fetch<'a> {
    pub(crate) oauth: &'a OAuth2,
    pub(crate) client: &'a super::wire::HttpClient,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
    pub(crate) metrics: Option<&'a crate::metrics::Metrics>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self) -> Option<Arc<Token>> {
        let now = Instant::now();
        self.lock().current.clone().filter(|t| t.fresh(now))
    }

    /// A valid token: the cached one, or one fetched now. Concurrent callers that find none wait
    /// for the one fetch in progress (single flight) and share its token or its error.
    pub(crate) async fn get(&self, f: &Fetch<'_>) -> Result<Arc<Token>, Error> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let since = Instant::now();
        // The holder's fetch has its own deadline (`timeout`); waiting twice that is generous.
        let Ok(_guard) = tokio::time::timeout(f.timeout * 2, self.refresh.lock()).await else {
            return Err(Error::Platform(PlatformError::Token(
                TokenFailure::Timeout,
                format!(
                    "waited {} for another request's token fetch from {}",
                    crate::config::values::format_duration(f.timeout * 2),
                    f.oauth.token_url
                ),
            )));
        };
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        if let Some((at, e)) = &self.lock().failure
            && *at >= since
        {
            return Err(e.clone());
        }
        let outcome = fetch(f).await;
        if let Some(m) = f.metrics {
            m.token_fetch(match &outcome {
                Ok(_) => "success",
                Err(Error::Platform(PlatformError::Token(kind, _))) => kind.label(),
                Err(_) => "bad_response",
            });
        }
        let mut state = self.lock();
        match outcome {
            Ok((header, lifetime)) => {
                state.generations += 1;
                let token = Arc::new(Token {
                    header,
                    refresh_at: lifetime.map(|l| since + l.saturating_sub(margin(l))),
                    generation: state.generations,
                });
                state.current = Some(token.clone());
                state.failure = None;
                tracing::debug!(
                    token_url = %f.oauth.token_url,
                    lifetime_ms = lifetime.map(|l| l.as_millis()),
                    "fetched a platform access token"
                );
                Ok(token)
            }
            Err(e) => {
                tracing::warn!(
                    token_url = %f.oauth.token_url,
                    error = %e,
                    "no access token from the platform's token endpoint"
                );
                state.failure = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Drops `used` after the platform answered 401 to it (unless a newer token replaced it).
    pub(crate) fn reject(&self, used: &Token) {
        let mut state = self.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|t| t.generation == used.generation)
        {
            state.current = None;
        }
    }

    /// Takes over `other`'s token (a reload that left the credentials unchanged).
    pub(crate) fn adopt(&self, other: &Tokens) {
        let token = other.lock().current.clone();
        let mut state = self.lock();
        if state.current.is_none() {
            state.current = token;
        }
    }
}

/// How long before expiry a token is replaced: 10% of its lifetime, at most 30 s, so a token is
/// never sent in its last moments (clock skew, the call's own duration).
pub(crate) fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(Duration::from_secs(30))
}

fn failure(kind: TokenFailure, cause: String) -> Error {
    Error::Platform(PlatformError::Token(kind, cause))
}

/// One token request, under the platform timeout. Returns the header and the lifetime.
async fn fetch(f: &Fetch<'_>) -> Result<(HeaderValue, Option<Duration>), Error> {
    let url = &f.oauth.token_url;
    let (form, basic) = f.oauth.request_parts();
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        )
        .header(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(b) = basic {
        builder = builder.header(AUTHORIZATION, b);
    }
    let req = builder.body(Full::new(Bytes::from(form))).map_err(|e| {
        failure(
            TokenFailure::BadAnswer,
            format!("cannot build the token request: {e}"),
        )
    })?;
    let max = f.max_bytes;
    let exchange = async {
        let resp = f.client.request(req).await.map_err(|e| {
            failure(
                TokenFailure::Unreachable,
                format!("token endpoint {url}: {}", super::wire::describe(&e)),
            )
        })?;
        let (parts, body) = resp.into_parts();
        let bytes = Limited::new(body, max)
            .collect()
            .await
            .map_err(|e| {
                failure(
                    TokenFailure::Unreachable,
                    format!("token endpoint {url}: cannot read the answer: {e}"),
                )
            })?
            .to_bytes();
        Ok::<_, Error>((parts.status, bytes))
    };
    let (status, body) = match tokio::time::timeout(f.timeout, exchange).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(failure(
                TokenFailure::Timeout,
                format!(
                    "token endpoint {url}: no complete answer within {} (platform.timeout)",
                    crate::config::values::format_duration(f.timeout)
                ),
            ));
        }
    };
    parse(status, &body, f.oauth)
}

/// The token endpoint's answer → the `Authorization` header and the token's lifetime.
pub(crate) fn parse(
    status: StatusCode,
    body: &[u8],
    oauth: &OAuth2,
) -> Result<(HeaderValue, Option<Duration>), Error> {
    let url = &oauth.token_url;
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if !status.is_success() {
        let code = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(Value::as_str)
            .map(|c| clip(c, 64))
            .unwrap_or_default();
        let description = json
            .as_ref()
            .and_then(|j| j.get("error_description"))
            .and_then(Value::as_str)
            .map(|d| scrub(d, oauth))
            .unwrap_or_default();
        let cause = format!(
            "token endpoint {url} answered {}{}{}",
            status.as_u16(),
            if code.is_empty() {
                String::new()
            } else {
                format!(" {code}")
            },
            if description.is_empty() {
                String::new()
            } else {
                format!(": {description}")
            }
        );
        return Err(match status.as_u16() {
            400 | 401 | 403 => failure(
                TokenFailure::Refused,
                format!(
                    "{cause} (check client_id, the client secret{}{})",
                    if oauth.scope.is_some() { ", scope" } else { "" },
                    if oauth.audience.is_some() {
                        ", audience"
                    } else {
                        ""
                    }
                ),
            ),
            429 | 502..=504 => failure(TokenFailure::Unreachable, cause),
            _ => failure(TokenFailure::BadAnswer, cause),
        });
    }
    let bad = |why: &str| {
        failure(
            TokenFailure::BadAnswer,
            format!("token endpoint {url}: {why}"),
        )
    };
    let Some(json) = json else {
        return Err(bad("the answer is not JSON"));
    };
    let token = match json.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => t,
        _ => return Err(bad("the answer has no access_token")),
    };
    match json.get("token_type").and_then(Value::as_str) {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(other) => {
            return Err(bad(&format!(
                "token_type {:?} is not supported (only Bearer)",
                clip(other, 32)
            )));
        }
    }
    let lifetime = match json.get("expires_in") {
        None | Some(Value::Null) => oauth.default_lifetime,
        // Some servers (older Azure AD endpoints) send it as a string.
        Some(v) => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()))
        {
            Some(secs) if secs.is_finite() && secs >= 0.0 => {
                Some(Duration::from_secs_f64(secs.min(10.0 * 365.0 * 86_400.0)))
            }
            _ => return Err(bad("expires_in is not a number of seconds")),
        },
    };
    let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| bad("the access_token has characters not allowed in an HTTP header"))?;
    header.set_sensitive(true);
    Ok((header, lifetime))
}

fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).filter(|c| !c.is_control()).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// An error description as logged: clipped, and never holding the client secret.
fn scrub(d: &str, oauth: &OAuth2) -> String {
    let secret = oauth.client_secret.expose();
    let d = if secret.len() >= 4 {
        d.replace(secret, "<redacted>")
    } else {
        d.to_owned()
    };
    clip(&d, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(auth: ClientAuth) -> OAuth2 {
        OAuth2 {
            token_url: "https://idp.example.com/oauth2/token".to_owned(),
            client_id: "sidecar app".to_owned(),
            client_secret: Secret::new("s3cr:t/+"),
            client_auth: auth,
            scope: Some("users.write groups.write".to_owned()),
            audience: Some("https://api.example.com".to_owned()),
            default_lifetime: None,
        }
    }

    #[test]
    fn basic_auth_form_urlencodes_id_and_secret_before_base64() {
        let (body, header) = oauth(ClientAuth::Basic).request_parts();
        assert_eq!(
            body,
            "grant_type=client_credentials&scope=users.write+groups.write&audience=https%3A%2F%2Fapi.example.com"
        );
        let header = header.expect("basic header");
        assert!(header.is_sensitive());
        // base64("sidecar+app:s3cr%3At%2F%2B")
        assert_eq!(
            header.to_str().expect("ascii"),
            format!(
                "Basic {}",
                crate::platform::wire::base64(b"sidecar+app:s3cr%3At%2F%2B")
            )
        );
    }

    #[test]
    fn body_auth_puts_the_credentials_in_the_form() {
        let (body, header) = oauth(ClientAuth::Body).request_parts();
        assert!(header.is_none());
        assert!(
            body.ends_with("&client_id=sidecar+app&client_secret=s3cr%3At%2F%2B"),
            "{body}"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_and_explain() {
        let o = oauth(ClientAuth::Body);
        let text = format!("{o:?} {}", o.describe());
        assert!(!text.contains("s3cr"), "{text}");
        assert!(text.contains("client_secret=<secret>"), "{text}");
        let (h, _) = parse(
            StatusCode::OK,
            br#"{"access_token":"tok-123","token_type":"Bearer","expires_in":60}"#,
            &o,
        )
        .expect("token");
        let t = Token {
            header: h,
            refresh_at: None,
            generation: 1,
        };
        assert!(!format!("{t:?}").contains("tok-123"));
    }

    #[test]
    fn answers_are_parsed_with_their_lifetime() {
        let o = oauth(ClientAuth::Basic);
        let ok = |body: &str| parse(StatusCode::OK, body.as_bytes(), &o);
        let (h, l) =
            ok(r#"{"access_token":"abc","token_type":"bearer","expires_in":3600}"#).expect("ok");
        assert_eq!(
            (h.to_str().ok(), l),
            (Some("Bearer abc"), Some(Duration::from_secs(3600)))
        );
        assert_eq!(
            ok(r#"{"access_token":"abc","expires_in":"3599"}"#).map(|r| r.1),
            Ok(Some(Duration::from_secs(3599))),
            "string expires_in (older Azure AD)"
        );
        assert_eq!(ok(r#"{"access_token":"abc"}"#).map(|r| r.1), Ok(None));
        let mut with_default = o.clone();
        with_default.default_lifetime = Some(Duration::from_secs(300));
        assert_eq!(
            parse(StatusCode::OK, br#"{"access_token":"abc"}"#, &with_default).map(|r| r.1),
            Ok(Some(Duration::from_secs(300)))
        );
        for bad in [
            "not json",
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":"abc","token_type":"mac"}"#,
            r#"{"access_token":"abc","expires_in":"soon"}"#,
            r#"{"access_token":"a\nb"}"#,
        ] {
            let e = ok(bad).expect_err(bad);
            assert_eq!(e.status(), 502, "{bad}: {e}");
        }
    }

    #[test]
    fn refusals_are_502_and_outages_503_without_the_secret() {
        let o = oauth(ClientAuth::Basic);
        let e = parse(
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_client","error_description":"secret s3cr:t/+ is wrong"}"#,
            &o,
        )
        .expect_err("refused");
        assert_eq!(e.status(), 502);
        let text = e.to_string();
        assert!(
            text.contains("invalid_client") && !text.contains("s3cr"),
            "{text}"
        );
        assert!(!e.to_scim().to_json().to_string().contains("s3cr"));
        assert_eq!(
            parse(StatusCode::SERVICE_UNAVAILABLE, b"", &o).map_err(|e| e.status()),
            Err(503)
        );
        assert_eq!(
            parse(StatusCode::NOT_FOUND, b"", &o).map_err(|e| e.status()),
            Err(502)
        );
    }

    #[test]
    fn the_refresh_margin_is_a_tenth_capped_at_thirty_seconds() {
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(200));
        assert_eq!(margin(Duration::from_secs(3600)), Duration::from_secs(30));
        assert_eq!(margin(Duration::ZERO), Duration::ZERO);
    }
}
