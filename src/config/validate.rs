//! The validation of a loaded config file: every raw section turned into its validated form,
//! with every problem collected (key, value, source, reason) rather than stopping at the first.

use figment::{Figment, Profile, Source};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::diagnostics::{self, ConfigError, Zero, figment_source};
use super::{
    Admin, Auth, GroupPatchResponse, Log, LogFormat, OAuth, Scim, Server, Tls, TokenSource,
    Unmapped, raw, values,
};
use crate::auth::{Tokens, read_token, read_token_dir};
use crate::tls::{self, MinVersion, TlsFileError};

/// Collects errors while turning raw sections into validated ones.
pub(super) struct Validator<'a> {
    pub(super) figment: &'a Figment,
    pub(super) file: &'a Path,
    pub(super) env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub(super) base_url: Option<&'a str>,
    pub(super) errors: Vec<ConfigError>,
}

impl Validator<'_> {
    /// Where `key`'s value came from: its file, its environment variable, or (for a default)
    /// the config file, where the operator would set it.
    pub(super) fn source_of(&self, key: &str) -> String {
        match self.figment.find_metadata(key) {
            Some(md) => match &md.source {
                Some(Source::File(p)) => p.display().to_string(),
                _ => {
                    let keys: Vec<&str> = key.split('.').collect();
                    format!(
                        "environment variable {}",
                        md.interpolate(&Profile::Default, &keys)
                    )
                }
            },
            None => self.file.display().to_string(),
        }
    }

    pub(super) fn err(&mut self, key: &str, value: Option<String>, reason: impl Into<String>) {
        let source = self.source_of(key);
        self.errors.push(ConfigError {
            key: key.to_owned(),
            value,
            source,
            reason: reason.into(),
        });
    }

    pub(super) fn push_figment(&mut self, err: figment::Error) {
        let file = self.file;
        self.errors
            .extend(diagnostics::from_figment(err, |e| figment_source(e, file)));
    }

    /// Extracts a section (its default when absent); `None` if it does not deserialize.
    pub(super) fn section<T: serde::de::DeserializeOwned + Default>(
        &mut self,
        name: &str,
    ) -> Option<T> {
        if !self.figment.contains(name) {
            return Some(T::default());
        }
        match self.figment.extract_inner_lossy::<T>(name) {
            Ok(t) => Some(t),
            Err(err) => {
                // figment's `extract_inner` *appends* the section to each error's key path
                // (`tokn.server`); put it back in front (`server.tokn`).
                let fixed: Vec<figment::Error> = err
                    .into_iter()
                    .map(|mut e| {
                        if e.path.last().map(String::as_str) == Some(name) {
                            e.path.pop();
                            e.path.insert(0, name.to_owned());
                        }
                        e
                    })
                    .collect();
                for e in fixed {
                    self.push_figment(e);
                }
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        key: &str,
        raw: Option<String>,
        default: Duration,
    ) -> Duration {
        diagnostics::duration(raw.as_deref(), default, Zero::Allowed).unwrap_or_else(
            |(value, reason)| {
                self.err(key, Some(value), reason);
                default
            },
        )
    }

    pub(super) fn size(
        &mut self,
        key: &str,
        raw: Option<raw::StrOrNum>,
        default: u64,
        min: u64,
    ) -> usize {
        let Some(raw) = raw else {
            return usize::try_from(default).unwrap_or(usize::MAX);
        };
        let text = raw.text();
        match values::byte_size(&text) {
            Ok(n) if n < min => {
                self.err(
                    key,
                    Some(format!("{text:?}")),
                    format!("must be at least {min} bytes"),
                );
                0
            }
            Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Err(reason) => {
                self.err(key, Some(format!("{text:?}")), reason);
                0
            }
        }
    }

    pub(super) fn count(
        &mut self,
        key: &str,
        raw: Option<u64>,
        default: u64,
        range: (u64, u64),
    ) -> u64 {
        match raw {
            None => default,
            Some(n) if n < range.0 || n > range.1 => {
                self.err(
                    key,
                    Some(n.to_string()),
                    format!("must be between {} and {}", range.0, range.1),
                );
                default
            }
            Some(n) => n,
        }
    }

    pub(super) fn addr(
        &mut self,
        key: &str,
        raw: Option<String>,
        default: &str,
    ) -> Option<SocketAddr> {
        let text = raw.unwrap_or_else(|| default.to_owned());
        match values::socket_addr(&text) {
            Ok(a) => Some(a),
            Err(reason) => {
                self.err(key, Some(format!("{text:?}")), reason);
                None
            }
        }
    }

    pub(super) fn server(&mut self, r: raw::Server) -> Option<Server> {
        let listen = self.addr("server.listen", r.listen, "0.0.0.0:8443");
        let public_url = r.public_url.and_then(|u| {
            let trimmed = u.trim_end_matches('/').to_owned();
            let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                && !trimmed.contains(['?', '#', ' '])
                && trimmed.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
            if ok {
                Some(trimmed)
            } else {
                self.err(
                    "server.public_url",
                    Some(format!("{u:?}")),
                    "expected an absolute http(s) URL without query, e.g. \"https://app.example.com/scim/v2\"",
                );
                None
            }
        });
        let server = Server {
            listen: listen?,
            plain_http: r.plain_http.unwrap_or(false),
            public_url,
            max_body_bytes: self.size("server.max_body_size", r.max_body_size, 1 << 20, 1024),
            max_header_bytes: self.size(
                "server.max_header_size",
                r.max_header_size,
                16 << 10,
                8192,
            ),
            max_connections: usize::try_from(self.count(
                "server.max_connections",
                r.max_connections,
                1024,
                (1, 1_000_000),
            ))
            .unwrap_or(1024),
            http2_max_concurrent_streams: u32::try_from(self.count(
                "server.http2_max_concurrent_streams",
                r.http2_max_concurrent_streams,
                64,
                (1, 10_000),
            ))
            .unwrap_or(64),
            handshake_timeout: self.duration(
                "server.handshake_timeout",
                r.handshake_timeout,
                Duration::from_secs(10),
            ),
            header_read_timeout: self.duration(
                "server.header_read_timeout",
                r.header_read_timeout,
                Duration::from_secs(10),
            ),
            body_read_timeout: self.duration(
                "server.body_read_timeout",
                r.body_read_timeout,
                Duration::from_secs(30),
            ),
            request_timeout: self.duration(
                "server.request_timeout",
                r.request_timeout,
                Duration::from_secs(25),
            ),
            drain_timeout: self.duration(
                "server.drain_timeout",
                r.drain_timeout,
                Duration::from_secs(30),
            ),
            shutdown_delay: self.duration(
                "server.shutdown_delay",
                r.shutdown_delay,
                Duration::ZERO,
            ),
        };
        for (key, d) in [
            ("server.handshake_timeout", server.handshake_timeout),
            ("server.header_read_timeout", server.header_read_timeout),
            ("server.body_read_timeout", server.body_read_timeout),
            ("server.request_timeout", server.request_timeout),
        ] {
            if d.is_zero() {
                self.err(
                    key,
                    Some("\"0s\"".to_owned()),
                    "must be greater than zero: every network wait needs a deadline",
                );
            }
        }
        Some(server)
    }

    pub(super) fn tls(&mut self, r: raw::Tls, plain_http: bool, offline: bool) -> Option<Tls> {
        let any_set = r.cert_file.is_some() || r.key_file.is_some() || r.min_version.is_some();
        if plain_http {
            if any_set {
                self.err(
                    "tls",
                    None,
                    "TLS settings are given but server.plain_http = true; remove the [tls] section or set plain_http = false",
                );
            }
            return None;
        }
        let min_version = match r.min_version {
            None => MinVersion::Tls12,
            Some(s) => MinVersion::parse(&s).unwrap_or_else(|reason| {
                self.err("tls.min_version", Some(format!("{s:?}")), reason);
                MinVersion::Tls12
            }),
        };
        let hint = "TLS is on by default: set tls.cert_file and tls.key_file (PEM), or set server.plain_http = true when a TLS-terminating ingress sits in front";
        let cert_file = match &r.cert_file {
            Some(p) => Some(p.relative()),
            None => {
                self.err("tls.cert_file", None, format!("missing; {hint}"));
                None
            }
        };
        let key_file = match &r.key_file {
            Some(p) => Some(p.relative()),
            None => {
                self.err("tls.key_file", None, format!("missing; {hint}"));
                None
            }
        };
        let (cert_file, key_file) = (cert_file?, key_file?);
        if offline {
            // `explain` and `test` never listen: the files are the pod's, not needed here.
            return None;
        }
        match tls::load_certified_key(&cert_file, &key_file, &tls::provider()) {
            Ok(k) => Some(Tls {
                cert_file,
                key_file,
                min_version,
                certified_key: Arc::new(k),
            }),
            Err(TlsFileError::Cert(reason)) => {
                self.err(
                    "tls.cert_file",
                    Some(cert_file.display().to_string()),
                    reason,
                );
                None
            }
            Err(TlsFileError::Key(reason)) => {
                self.err("tls.key_file", Some(key_file.display().to_string()), reason);
                None
            }
            Err(e @ TlsFileError::Mismatch(_)) => {
                self.err(
                    "tls.key_file",
                    Some(key_file.display().to_string()),
                    e.to_string(),
                );
                None
            }
        }
    }

    pub(super) fn admin(&mut self, r: raw::Admin) -> Option<Admin> {
        Some(Admin {
            listen: self.addr("admin.listen", r.listen, "0.0.0.0:9090")?,
        })
    }

    pub(super) fn auth(
        &mut self,
        r: raw::Auth,
        jwt: Vec<crate::jwks::Settings>,
        jwt_configured: bool,
    ) -> Option<Auth> {
        let before = self.errors.len();
        let tokens_dir = r.tokens_dir.as_ref().map(|p| p.relative());
        let mut sources = Vec::new();
        let mut loaded: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, t) in r.tokens.iter().enumerate() {
            let key = format!("auth.tokens[{i}]");
            let Some(name) = t.name.clone().filter(|n| !n.trim().is_empty()) else {
                self.err(
                    &format!("{key}.name"),
                    None,
                    "missing; give every token a name (it appears in logs and audit events instead of the token)",
                );
                continue;
            };
            let source = match (&t.file, &t.env) {
                (Some(f), None) => TokenSource::File(f.relative()),
                (None, Some(e)) => TokenSource::Env(e.clone()),
                _ => {
                    self.err(
                        &key,
                        Some(format!("name = {name:?}")),
                        "set exactly one of `file` (a mounted Secret) or `env` (an environment variable name)",
                    );
                    continue;
                }
            };
            match read_token(&source, self.env) {
                Ok(secret) => loaded.push((name.clone(), secret)),
                Err((field, reason)) => {
                    let value = match &source {
                        TokenSource::File(p) => p.display().to_string(),
                        TokenSource::Env(v) => v.clone(),
                    };
                    self.err(&format!("{key}.{field}"), Some(value), reason);
                }
            }
            sources.push((name, source));
        }
        if let Some(dir) = &tokens_dir {
            match read_token_dir(dir) {
                Ok(entries) => {
                    for (name, result) in entries {
                        match result {
                            Ok(secret) => loaded.push((name, secret)),
                            Err(reason) => self.err(
                                "auth.tokens_dir",
                                Some(dir.join(&name).display().to_string()),
                                reason,
                            ),
                        }
                    }
                }
                Err(reason) => {
                    self.err("auth.tokens_dir", Some(dir.display().to_string()), reason);
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (name, _) in &loaded {
            if !seen.insert(name.clone()) {
                self.err(
                    "auth.tokens",
                    Some(format!("name = {name:?}")),
                    "duplicate token name; names must be unique (they identify the caller in logs)",
                );
            }
        }
        let oauth = r.oauth.and_then(|o| self.oauth(o));
        if let Some(o) = &oauth
            && jwt.iter().any(|j| j.issuer == o.settings.keys.issuer)
        {
            self.err(
                "auth.oauth.issuer",
                Some(format!("{:?}", o.settings.keys.issuer)),
                "is also an [[auth.jwt]] issuer; the sidecar's own tokens need an issuer of their own",
            );
        }
        if loaded.is_empty() && oauth.is_none() && !jwt_configured && self.errors.len() == before {
            self.err(
                "auth.tokens",
                None,
                "no client authentication configured: add [[auth.tokens]] entries, set auth.tokens_dir, or configure [auth.oauth] or [[auth.jwt]]",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Auth {
            tokens_dir,
            sources,
            tokens: Tokens::new(loaded),
            oauth,
            jwt,
        })
    }

    /// `[auth.oauth]`: the token endpoint's keys and clients, every file read and checked.
    fn oauth(&mut self, r: raw::OAuth) -> Option<OAuth> {
        let before = self.errors.len();
        let token_path = match r.token_path {
            None => "/oauth/token".to_owned(),
            Some(s) => match values::base_path(&s) {
                Ok(p) if !p.is_empty() => p,
                Ok(_) => {
                    self.err(
                        "auth.oauth.token_path",
                        Some(format!("{s:?}")),
                        "must name a path below scim.base_path, e.g. \"/oauth/token\"",
                    );
                    String::new()
                }
                Err(reason) => {
                    self.err("auth.oauth.token_path", Some(format!("{s:?}")), reason);
                    String::new()
                }
            },
        };
        let lifetime = self.duration(
            "auth.oauth.token_lifetime",
            r.token_lifetime.clone(),
            Duration::from_secs(3600),
        );
        if lifetime < Duration::from_secs(1) || lifetime > Duration::from_secs(24 * 3600) {
            self.err(
                "auth.oauth.token_lifetime",
                r.token_lifetime.clone(),
                "must be between 1s and 24h (short-lived tokens are the point of [auth.oauth])",
            );
        }
        let clock_skew = self.duration(
            "auth.oauth.clock_skew",
            r.clock_skew.clone(),
            Duration::from_secs(30),
        );
        if clock_skew > Duration::from_secs(300) {
            self.err(
                "auth.oauth.clock_skew",
                r.clock_skew.clone(),
                "must be at most 5m",
            );
        }
        let issuer = r.issuer.unwrap_or_else(|| "scim-sidecar".to_owned());
        if issuer.trim().is_empty() {
            self.err(
                "auth.oauth.issuer",
                Some(format!("{issuer:?}")),
                "must not be empty",
            );
        }
        let audience = r.audience.unwrap_or_else(|| "scim-sidecar".to_owned());
        if audience.trim().is_empty() {
            self.err(
                "auth.oauth.audience",
                Some(format!("{audience:?}")),
                "must not be empty",
            );
        }
        let signing_key_file = r.signing_key_file.as_ref().map(|p| p.relative());
        let signing = match &signing_key_file {
            None => {
                self.err(
                    "auth.oauth.signing_key_file",
                    None,
                    "missing; an Ed25519 PKCS#8 PEM file (`openssl genpkey -algorithm ed25519 -out oauth-signing.pem`)",
                );
                None
            }
            Some(p) => match crate::jwt::read_signing_key(p) {
                Ok(k) => Some(k),
                Err(reason) => {
                    self.err(
                        "auth.oauth.signing_key_file",
                        Some(p.display().to_string()),
                        reason,
                    );
                    None
                }
            },
        };
        let verify_key_files: Vec<PathBuf> =
            r.verify_key_files.iter().map(|p| p.relative()).collect();
        let mut previous = Vec::new();
        for (i, p) in verify_key_files.iter().enumerate() {
            match crate::jwt::read_verify_key(p) {
                Ok(k) => previous.push(k),
                Err(reason) => self.err(
                    &format!("auth.oauth.verify_key_files[{i}]"),
                    Some(p.display().to_string()),
                    reason,
                ),
            }
        }
        let mut secret_sources = Vec::new();
        let mut clients = Vec::new();
        for (i, c) in r.clients.iter().enumerate() {
            let key = format!("auth.oauth.clients[{i}]");
            let Some(id) = c.id.clone().filter(|n| !n.trim().is_empty()) else {
                self.err(
                    &format!("{key}.id"),
                    None,
                    "missing; the client identifier entered in Entra",
                );
                continue;
            };
            if id.contains(':') || id.chars().any(char::is_control) {
                self.err(&format!("{key}.id"), Some(format!("{id:?}")), "must not contain ':' or control characters (it travels in HTTP Basic credentials)");
                continue;
            }
            let source = match (&c.secret_file, &c.secret_env) {
                (Some(f), None) => TokenSource::File(f.relative()),
                (None, Some(e)) => TokenSource::Env(e.clone()),
                _ => {
                    self.err(
                        &key,
                        Some(format!("id = {id:?}")),
                        "set exactly one of `secret_file` (a mounted Secret) or `secret_env` (an environment variable name)",
                    );
                    continue;
                }
            };
            match read_token(&source, self.env) {
                Ok(secret) => clients.push((id.clone(), secret)),
                Err((field, reason)) => {
                    let value = match &source {
                        TokenSource::File(p) => p.display().to_string(),
                        TokenSource::Env(v) => v.clone(),
                    };
                    self.err(&format!("{key}.secret_{field}"), Some(value), reason);
                }
            }
            secret_sources.push((id, source));
        }
        if r.clients.is_empty() {
            self.err(
                "auth.oauth.clients",
                None,
                "no client configured: add an [[auth.oauth.clients]] entry (id and secret_file or secret_env)",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        let keys =
            crate::jwt::Keys::new(signing?, previous, issuer, audience, lifetime, clock_skew);
        Some(OAuth {
            settings: crate::oauth::Settings::new(token_path, keys, clients),
            signing_key_file: signing_key_file?,
            verify_key_files,
            secret_sources,
        })
    }

    pub(super) fn scim(&mut self, r: raw::Scim) -> Option<Scim> {
        let base_path = match r.base_path {
            None => "/scim/v2".to_owned(),
            Some(s) => match values::base_path(&s) {
                Ok(p) => p,
                Err(reason) => {
                    self.err("scim.base_path", Some(format!("{s:?}")), reason);
                    return None;
                }
            },
        };
        let max = self.count("scim.max_page_size", r.max_page_size, 500, (1, 10_000));
        let default = self.count(
            "scim.default_page_size",
            r.default_page_size,
            100.min(max),
            (1, 10_000),
        );
        if default > max {
            self.err(
                "scim.default_page_size",
                Some(default.to_string()),
                format!("must not exceed scim.max_page_size ({max})"),
            );
        }
        let profile = match r.profile.as_deref() {
            None => crate::normalize::Profile::Entra,
            Some(p) => crate::normalize::Profile::parse(p).unwrap_or_else(|| {
                self.err(
                    "scim.profile",
                    Some(format!("{p:?}")),
                    "expected \"entra\", \"okta\" or \"strict\"",
                );
                crate::normalize::Profile::Entra
            }),
        };
        let strict = profile == crate::normalize::Profile::Strict;
        let lowercase_attributes = r
            .lowercase_attributes
            .unwrap_or_else(|| vec!["emails.value".to_owned()])
            .iter()
            .filter_map(|a| match crate::scim::path::AttrPath::parse(a) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.err(
                        "scim.lowercase_attributes",
                        Some(format!("{a:?}")),
                        e.detail,
                    );
                    None
                }
            })
            .collect();
        let unmapped_attributes = match r.unmapped_attributes.as_deref() {
            None if strict => Unmapped::Reject,
            None | Some("ignore") => Unmapped::Ignore,
            Some("reject") => Unmapped::Reject,
            Some(other) => {
                self.err(
                    "scim.unmapped_attributes",
                    Some(format!("{other:?}")),
                    "expected \"ignore\" or \"reject\"",
                );
                Unmapped::Ignore
            }
        };
        let unknown_members = match r.unknown_members.as_deref() {
            None if strict => Unmapped::Reject,
            None | Some("ignore") => Unmapped::Ignore,
            Some("reject") => Unmapped::Reject,
            Some(other) => {
                self.err(
                    "scim.unknown_members",
                    Some(format!("{other:?}")),
                    "expected \"ignore\" or \"reject\"",
                );
                Unmapped::Ignore
            }
        };
        let group_patch_response = match r.group_patch_response.as_deref() {
            None if profile == crate::normalize::Profile::Entra => GroupPatchResponse::NoContent,
            None | Some("resource") => GroupPatchResponse::Resource,
            Some("no_content") => GroupPatchResponse::NoContent,
            Some(other) => {
                self.err(
                    "scim.group_patch_response",
                    Some(format!("{other:?}")),
                    "expected \"resource\" or \"no_content\"",
                );
                GroupPatchResponse::Resource
            }
        };
        let write_lock_timeout = self.duration(
            "scim.write_lock_timeout",
            r.write_lock_timeout.clone(),
            Duration::from_secs(5),
        );
        if write_lock_timeout.is_zero() || write_lock_timeout > Duration::from_secs(60) {
            self.err(
                "scim.write_lock_timeout",
                r.write_lock_timeout.as_ref().map(|s| format!("{s:?}")),
                "expected between 1ms and 60s",
            );
        }
        let mode = crate::shadow::Mode::parse(r.mode.as_deref()).unwrap_or_else(|reason| {
            self.err(
                "scim.mode",
                r.mode.as_ref().map(|m| format!("{m:?}")),
                reason,
            );
            crate::shadow::Mode::Live
        });
        let shadow_record = r
            .shadow_record
            .as_ref()
            .map_or_else(crate::shadow::default_record, |p| p.relative());
        // The loader's override (the demo's platform) wins over the file's.
        let base_url = match (self.base_url, r.platform_base_url.as_deref()) {
            (Some(b), _) => Some(b),
            (None, Some(u)) => match crate::platform::split_base_url(u) {
                Ok(_) => Some(u),
                Err(reason) => {
                    self.err("scim.platform_base_url", Some(format!("{u:?}")), reason);
                    None
                }
            },
            (None, None) => None,
        };
        let mapping = match &r.mapping {
            None => None,
            Some(p) => {
                let path = p.relative();
                match crate::mapping::compile::load(&path, self.env, base_url) {
                    Ok(m) => Some(Arc::new(m)),
                    Err(errors) => {
                        self.errors.extend(errors);
                        None
                    }
                }
            }
        };
        Some(Scim {
            base_path,
            default_page_size: usize::try_from(default).unwrap_or(100),
            max_page_size: usize::try_from(max).unwrap_or(500),
            mapping,
            profile,
            lowercase_attributes,
            unmapped_attributes,
            group_patch_response,
            unknown_members,
            write_lock_timeout,
            mode,
            shadow_record,
        })
    }

    pub(super) fn log(&mut self, r: raw::Log) -> Option<Log> {
        let format = match r.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                self.err(
                    "log.format",
                    Some(format!("{other:?}")),
                    "expected \"json\" or \"text\"",
                );
                LogFormat::Text
            }
        };
        let level = r.level.unwrap_or_else(|| "info".to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&level) {
            self.err(
                "log.level",
                Some(format!("{level:?}")),
                format!(
                    "invalid filter directive ({e}); e.g. \"info\" or \"info,scim_sidecar=debug\""
                ),
            );
        }
        Some(Log { format, level })
    }
}
