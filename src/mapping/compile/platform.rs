//! The `[platform]` section: base URL, CA, timeouts, retries, auth and secrets, readiness probe,
//! and the `[[platform.errors]]` rules.

use super::*;
use crate::platform::{ClientAuth, OAuth2, Secret, base64, split_base_url};

impl Compiler<'_> {
    pub(super) fn readiness(
        &mut self,
        r: Option<raw::Readiness>,
    ) -> Option<crate::mapping::model::Readiness> {
        let r = r?;
        let method = match r.method.as_deref() {
            None => Method::GET,
            Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(m) => m,
                Err(_) => {
                    self.err("platform.readiness.method", q(m), "not an HTTP method");
                    return None;
                }
            },
        };
        let Some(path) = r.path.as_deref() else {
            self.err(
                "platform.readiness.path",
                None,
                "missing; a cheap call that answers 2xx when the platform is up, e.g. \"/health\"",
            );
            return None;
        };
        let template = self.path_template("platform.readiness.path", path, &[])?;
        let cache = self.duration("platform.readiness.cache", r.cache, Duration::from_secs(5));
        let timeout = self.duration(
            "platform.readiness.timeout",
            r.timeout.clone(),
            Duration::from_millis(800),
        );
        if timeout > Duration::from_secs(60) {
            self.err(
                "platform.readiness.timeout",
                r.timeout.as_deref().and_then(q),
                "at most 60s; keep it below the probe's timeoutSeconds (kubelet's default: 1s)",
            );
        }
        Some(crate::mapping::model::Readiness {
            call: crate::platform::Call {
                operation: "platform.readiness",
                method,
                path: template.render(&Default::default()).unwrap_or_default(),
                query: r.query.into_iter().collect(),
                body: None,
                if_match: None,
            },
            cache,
            timeout,
        })
    }

    pub(super) fn platform(
        &mut self,
        p: raw::Platform,
        base_override: Option<&str>,
    ) -> Option<(
        Settings<()>,
        Vec<ErrorRule>,
        Option<crate::mapping::model::Readiness>,
    )> {
        let before = self.errors.len();
        let base = base_override.map(str::to_owned).or(p.base_url.clone());
        let (origin, prefix, https) = match base.as_deref() {
            None => {
                self.err(
                    "platform.base_url",
                    None,
                    "missing; the platform's base URL, e.g. \"http://127.0.0.1:8080\"",
                );
                (String::new(), String::new(), false)
            }
            Some(u) => match split_base_url(u) {
                Ok(parts) => parts,
                Err(r) => {
                    self.err("platform.base_url", q(u), r);
                    (String::new(), String::new(), false)
                }
            },
        };
        let ca_file = p.ca_file.as_ref().map(RelativePathBuf::relative);
        // The token endpoint goes through the same client: the CA bundle and the client
        // certificate apply to it too.
        let token_https = p.auth.as_ref().is_some_and(|a| {
            a.kind.as_deref() == Some("oauth2")
                && a.token_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://"))
        });
        if ca_file.is_some() && !https && !token_https && before == self.errors.len() {
            self.err(
                "platform.ca_file",
                None,
                "a CA bundle only applies to an https:// base_url or token_url",
            );
        }
        let client_cert = match (&p.client_cert_file, &p.client_key_file) {
            (None, None) => None,
            (Some(c), Some(k)) => {
                if !https && !token_https && before == self.errors.len() {
                    self.err(
                        "platform.client_cert_file",
                        None,
                        "a client certificate only applies to an https:// base_url or token_url",
                    );
                }
                Some((c.relative(), k.relative()))
            }
            (Some(_), None) => {
                self.err(
                    "platform.client_key_file",
                    None,
                    "missing; client_cert_file needs the PEM private key of that certificate",
                );
                None
            }
            (None, Some(_)) => {
                self.err(
                    "platform.client_cert_file",
                    None,
                    "missing; client_key_file needs the PEM certificate (chain) it belongs to",
                );
                None
            }
        };
        let mut files: Vec<std::path::PathBuf> = ca_file.iter().cloned().collect();
        if let Some((c, k)) = &client_cert {
            files.push(c.clone());
            files.push(k.clone());
        }
        if let Some(a) = &p.auth {
            files.extend(
                [&a.value_file, &a.password_file, &a.client_secret_file]
                    .into_iter()
                    .flatten()
                    .map(RelativePathBuf::relative),
            );
        }
        let mut headers = Vec::new();
        for (name, value) in &p.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => headers.push((n, v)),
                _ => self.err(
                    format!("platform.headers.{name}"),
                    q(value),
                    "not a valid HTTP header name and value",
                ),
            }
        }
        let mut oauth = None;
        match p.auth.as_ref().and_then(|a| self.auth(a)) {
            Some(Auth::Header(n, v)) => headers.push((n, v)),
            Some(Auth::OAuth2(o)) => oauth = Some(o),
            None => {}
        }
        let max_response_bytes = match &p.max_response_size {
            None => 16 << 20,
            Some(s) => match values::byte_size(&s.text()) {
                Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                Err(r) => {
                    self.err("platform.max_response_size", q(&s.text()), r);
                    0
                }
            },
        };
        let retries = p.retries.unwrap_or(2);
        if retries > 5 {
            self.err(
                "platform.retries",
                Some(retries.to_string()),
                "at most 5: retries multiply the platform's load when it is struggling",
            );
        }
        let max_concurrency = p.max_concurrency.unwrap_or(32);
        if max_concurrency == 0 || max_concurrency > 10_000 {
            self.err(
                "platform.max_concurrency",
                Some(max_concurrency.to_string()),
                "must be between 1 and 10000",
            );
        }
        let rate = self.rate(p.rate.as_deref(), p.burst);
        let settings = Settings {
            origin,
            prefix,
            https,
            ca_file,
            connect_timeout: self.duration(
                "platform.connect_timeout",
                p.connect_timeout,
                Duration::from_secs(2),
            ),
            timeout: self.duration("platform.timeout", p.timeout, Duration::from_secs(10)),
            retries,
            request_budget: self.duration(
                "platform.request_budget",
                p.request_budget,
                Duration::from_secs(20),
            ),
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(32),
            queue_timeout: match p.queue_timeout {
                Some(s) if s.trim() == "0" || s.trim() == "0s" => Duration::ZERO,
                other => self.duration("platform.queue_timeout", other, Duration::from_secs(1)),
            },
            rate,
            max_response_bytes,
            headers,
            oauth,
            client_cert,
            files,
            tls: (),
        };
        let rules = p
            .errors
            .iter()
            .enumerate()
            .filter_map(|(i, r)| self.error_rule(i, r))
            .collect();
        let readiness = self.readiness(p.readiness);
        (self.errors.len() == before).then_some((settings, rules, readiness))
    }

    /// `platform.rate` and `platform.burst`: `"N/<duration>"`, and a burst of at least 1 (by
    /// default the count N: a quiet replica may make N calls at once).
    fn rate(
        &mut self,
        rate: Option<&str>,
        burst: Option<u32>,
    ) -> Option<crate::platform::rate::Rate> {
        let Some(text) = rate else {
            if let Some(b) = burst {
                self.err(
                    "platform.burst",
                    Some(b.to_string()),
                    "only with platform.rate, e.g. rate = \"40/60s\"",
                );
            }
            return None;
        };
        let (count, window) = match crate::platform::rate::parse(text) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.err("platform.rate", q(text), reason);
                return None;
            }
        };
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            self.err("platform.burst", Some("0".to_owned()), "must be at least 1");
            return None;
        }
        Some(crate::platform::rate::Rate {
            count,
            window,
            burst,
        })
    }

    pub(super) fn auth(&mut self, a: &raw::PlatformAuth) -> Option<Auth> {
        let kind = a.kind.as_deref().unwrap_or("header");
        self.misplaced_auth_keys(kind, a);
        if kind == "oauth2" {
            return self.oauth2(a).map(Auth::OAuth2);
        }
        let value = |c: &mut Self| {
            c.secret(
                "platform.auth",
                ("value_env", &a.value_env),
                ("value_file", &a.value_file),
            )
        };
        let (name, text) = match kind {
            "header" => {
                let Some(h) = &a.header else {
                    self.err(
                        "platform.auth.header",
                        None,
                        "missing; the header carrying the credential, e.g. \"X-Api-Key\"",
                    );
                    return None;
                };
                let name = match HeaderName::from_bytes(h.as_bytes()) {
                    Ok(n) => n,
                    Err(_) => {
                        self.err("platform.auth.header", q(h), "not a valid header name");
                        return None;
                    }
                };
                (name, value(self)?)
            }
            "bearer" => (AUTHORIZATION, format!("Bearer {}", value(self)?)),
            "basic" => {
                let Some(user) = &a.username else {
                    self.err(
                        "platform.auth.username",
                        None,
                        "missing for kind = \"basic\"",
                    );
                    return None;
                };
                let pass = self.secret(
                    "platform.auth",
                    ("password_env", &a.password_env),
                    ("password_file", &a.password_file),
                )?;
                (
                    AUTHORIZATION,
                    format!("Basic {}", base64(format!("{user}:{pass}").as_bytes())),
                )
            }
            other => {
                self.err(
                    "platform.auth.kind",
                    q(other),
                    "expected \"header\", \"bearer\", \"basic\" or \"oauth2\"",
                );
                return None;
            }
        };
        match HeaderValue::from_str(&text) {
            Ok(mut v) => {
                v.set_sensitive(true);
                Some(Auth::Header(name, v))
            }
            Err(_) => {
                self.err(
                    "platform.auth",
                    None,
                    "the credential contains characters not allowed in an HTTP header",
                );
                None
            }
        }
    }

    /// Keys of another kind of authentication are mistakes (a `token_url` under `kind =
    /// "header"` would silently do nothing).
    fn misplaced_auth_keys(&mut self, kind: &str, a: &raw::PlatformAuth) {
        let set = |k: &'static str, present: bool| present.then_some(k);
        let header_keys = [
            set("header", a.header.is_some()),
            set("value_env", a.value_env.is_some()),
            set("value_file", a.value_file.is_some()),
        ];
        let basic_keys = [
            set("username", a.username.is_some()),
            set("password_env", a.password_env.is_some()),
            set("password_file", a.password_file.is_some()),
        ];
        let oauth_keys = [
            set("token_url", a.token_url.is_some()),
            set("client_id", a.client_id.is_some()),
            set("client_secret_env", a.client_secret_env.is_some()),
            set("client_secret_file", a.client_secret_file.is_some()),
            set("client_auth", a.client_auth.is_some()),
            set("scope", a.scope.is_some()),
            set("audience", a.audience.is_some()),
            set("default_expires_in", a.default_expires_in.is_some()),
        ];
        let allowed: &[&str] = match kind {
            "header" => &["header", "value_env", "value_file"],
            "bearer" => &["value_env", "value_file"],
            "basic" => &["username", "password_env", "password_file"],
            "oauth2" => &[
                "token_url",
                "client_id",
                "client_secret_env",
                "client_secret_file",
                "client_auth",
                "scope",
                "audience",
                "default_expires_in",
            ],
            _ => return,
        };
        for k in header_keys
            .into_iter()
            .chain(basic_keys)
            .chain(oauth_keys)
            .flatten()
        {
            if !allowed.contains(&k) {
                self.err(
                    format!("platform.auth.{k}"),
                    None,
                    format!("does not apply to kind = {kind:?}"),
                );
            }
        }
    }

    /// `kind = "oauth2"`: client credentials against a token endpoint.
    fn oauth2(&mut self, a: &raw::PlatformAuth) -> Option<OAuth2> {
        let before = self.errors.len();
        let token_url = match a.token_url.as_deref() {
            None => {
                self.err(
                    "platform.auth.token_url",
                    None,
                    "missing; the OAuth2 token endpoint, e.g. \"https://login.example.com/oauth2/token\"",
                );
                None
            }
            Some(u) => match check_token_url(u) {
                Ok(()) => Some(u.to_owned()),
                Err(r) => {
                    self.err("platform.auth.token_url", q(u), r);
                    None
                }
            },
        };
        let client_id = match a.client_id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => Some(id.to_owned()),
            Some(_) => {
                self.err("platform.auth.client_id", q(""), "must not be empty");
                None
            }
            None => {
                self.err(
                    "platform.auth.client_id",
                    None,
                    "missing; the client (application) id registered at the token endpoint",
                );
                None
            }
        };
        let secret = self.secret(
            "platform.auth",
            ("client_secret_env", &a.client_secret_env),
            ("client_secret_file", &a.client_secret_file),
        );
        let client_auth = match a.client_auth.as_deref() {
            None | Some("basic") => ClientAuth::Basic,
            Some("body") => ClientAuth::Body,
            Some(other) => {
                self.err(
                    "platform.auth.client_auth",
                    q(other),
                    "expected \"basic\" (HTTP Basic, RFC 6749 §2.3.1) or \"body\" (client_id and client_secret in the form)",
                );
                ClientAuth::Basic
            }
        };
        for (key, v) in [("scope", &a.scope), ("audience", &a.audience)] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                self.err(
                    format!("platform.auth.{key}"),
                    q(""),
                    "must not be empty; leave it out to send none",
                );
            }
        }
        let default_lifetime = a.default_expires_in.clone().map(|d| {
            self.duration(
                "platform.auth.default_expires_in",
                Some(d),
                Duration::from_secs(3600),
            )
        });
        if self.errors.len() != before {
            return None;
        }
        Some(OAuth2 {
            token_url: token_url?,
            client_id: client_id?,
            client_secret: Secret::new(secret?),
            client_auth,
            scope: a.scope.clone(),
            audience: a.audience.clone(),
            default_lifetime,
        })
    }

    pub(super) fn error_rule(&mut self, i: usize, r: &raw::ErrorRule) -> Option<ErrorRule> {
        let key = format!("platform.errors[{i}]");
        let before = self.errors.len();
        if !(100..=599).contains(&r.status) {
            self.err(
                format!("{key}.status"),
                Some(r.status.to_string()),
                "not an HTTP status",
            );
        }
        if !(400..=599).contains(&r.scim_status) {
            self.err(
                format!("{key}.scim_status"),
                Some(r.scim_status.to_string()),
                "must be an error status (400-599)",
            );
        }
        let scim_type = match &r.scim_type {
            None => None,
            Some(t) => match ScimType::parse(t) {
                Some(t) => Some(t),
                None => {
                    self.err(
                        format!("{key}.scim_type"),
                        q(t),
                        "not an RFC 7644 scimType (uniqueness, invalidValue, mutability, tooMany, ...)",
                    );
                    None
                }
            },
        };
        let when = match (&r.when, &r.equals) {
            (None, None) => None,
            (Some(p), Some(v)) => self
                .json_path(&format!("{key}.when"), p)
                .map(|jp| (jp, v.clone())),
            _ => {
                self.err(
                    &key,
                    None,
                    "`when` (a JSONPath into the platform's error body) and `equals` go together",
                );
                None
            }
        };
        if (200..=299).contains(&r.status) && r.when.is_none() {
            self.err(
                format!("{key}.status"),
                Some(r.status.to_string()),
                "a rule for a success status needs a body condition (`when` and `equals`, e.g. when = \"$.ok\", equals = false); without one every success would be an error",
            );
        }
        (self.errors.len() == before).then(|| ErrorRule {
            status: r.status,
            when,
            scim_status: r.scim_status,
            scim_type,
            detail: r.detail.clone(),
        })
    }

    // --- [[schemas]] ---
}

/// Checks an absolute `http(s)://host[:port]/path[?query]` token endpoint URL.
fn check_token_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or("expected an absolute http:// or https:// URL")?;
    if u.contains(['#', ' ']) {
        return Err("no fragment or spaces in the token URL".to_owned());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err("expected a host (and optional port), without user info".to_owned());
    }
    u.parse::<http::Uri>()
        .map(|_| ())
        .map_err(|e| format!("not a valid URL: {e}"))
}

/// What `[platform.auth]` compiles to.
pub(super) enum Auth {
    /// A fixed header (`header`, `bearer`, `basic`).
    Header(HeaderName, HeaderValue),
    /// OAuth2 client credentials.
    OAuth2(OAuth2),
}
