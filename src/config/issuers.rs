//! `[[auth.jwt]]` validated: external issuers, their key-set source (URL or file, read here),
//! algorithms and timing; every error names key, value and file.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use std::sync::Arc;
use std::time::Duration;

use super::raw;
use super::validate::Validator;
use crate::jwks::{Settings, Source, parse_jwks, tls_config};

/// The algorithms an issuer may be configured with: asymmetric only (HMAC would need a shared
/// secret, and accepting it beside a public key is the algorithm-confusion attack).
const ALGORITHMS: &[(&str, Algorithm)] = &[
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// Whether a URL may serve keys: `https://`, or `http://` to a loopback address only (a key set
/// read over plain HTTP from anywhere else could be swapped on the way).
fn url_allowed(uri: &http::Uri) -> bool {
    match uri.scheme_str() {
        Some("https") => uri.host().is_some(),
        Some("http") => matches!(
            uri.host(),
            Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
        ),
        _ => false,
    }
}

impl Validator<'_> {
    /// Validates every `[[auth.jwt]]` entry; the valid ones are returned.
    pub(super) fn jwt_issuers(&mut self, entries: Vec<raw::Jwt>) -> Vec<Settings> {
        let mut out = Vec::new();
        for (i, r) in entries.into_iter().enumerate() {
            let key = format!("auth.jwt[{i}]");
            let before = self.errors.len();
            let issuer = r.issuer.clone().filter(|s| !s.trim().is_empty());
            if issuer.is_none() {
                self.err(&format!("{key}.issuer"), None, "missing; the `iss` claim required, e.g. \"https://sts.windows.net/<tenant-id>/\"");
            }
            let audience = r.audience.clone().filter(|s| !s.trim().is_empty());
            if audience.is_none() {
                self.err(
                    &format!("{key}.audience"),
                    None,
                    "missing; the `aud` claim required",
                );
            }
            if let Some(iss) = &issuer
                && out.iter().any(|s: &Settings| &s.issuer == iss)
            {
                self.err(
                    &format!("{key}.issuer"),
                    Some(format!("{iss:?}")),
                    "duplicate issuer; each [[auth.jwt]] entry names its own",
                );
            }
            let source = match (&r.jwks_url, &r.jwks_file) {
                (Some(u), None) => match u.parse::<http::Uri>() {
                    Ok(uri) if url_allowed(&uri) => Some(Source::Url(uri)),
                    _ => {
                        self.err(
                            &format!("{key}.jwks_url"),
                            Some(format!("{u:?}")),
                            "expected an https:// URL (http:// only to a loopback address)",
                        );
                        None
                    }
                },
                (None, Some(f)) => Some(Source::File(f.relative())),
                _ => {
                    self.err(
                        &key,
                        issuer.as_ref().map(|i| format!("issuer = {i:?}")),
                        "set exactly one of `jwks_url` or `jwks_file`",
                    );
                    None
                }
            };
            let file_keys = match &source {
                Some(Source::File(p)) => match std::fs::read(p) {
                    Ok(bytes) => match parse_jwks(&bytes) {
                        Ok(set) => set,
                        Err(reason) => {
                            self.err(
                                &format!("{key}.jwks_file"),
                                Some(p.display().to_string()),
                                reason,
                            );
                            JwkSet { keys: Vec::new() }
                        }
                    },
                    Err(e) => {
                        let reason = if e.kind() == std::io::ErrorKind::NotFound {
                            "file not found".to_owned()
                        } else {
                            format!("cannot read: {e}")
                        };
                        self.err(
                            &format!("{key}.jwks_file"),
                            Some(p.display().to_string()),
                            reason,
                        );
                        JwkSet { keys: Vec::new() }
                    }
                },
                _ => JwkSet { keys: Vec::new() },
            };
            let names = r
                .algorithms
                .clone()
                .unwrap_or_else(|| vec!["RS256".to_owned()]);
            let mut algorithms = Vec::new();
            for name in &names {
                match ALGORITHMS.iter().find(|(n, _)| n == name) {
                    Some((_, a)) => algorithms.push(*a),
                    None => self.err(
                        &format!("{key}.algorithms"),
                        Some(format!("{name:?}")),
                        "expected one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (no `none`, no HMAC)",
                    ),
                }
            }
            if names.is_empty() {
                self.err(
                    &format!("{key}.algorithms"),
                    Some("[]".to_owned()),
                    "name at least one algorithm",
                );
            }
            let clock_skew = self.duration(
                &format!("{key}.clock_skew"),
                r.clock_skew.clone(),
                Duration::from_secs(60),
            );
            if clock_skew > Duration::from_secs(300) {
                self.err(
                    &format!("{key}.clock_skew"),
                    r.clock_skew.clone(),
                    "must be at most 5m",
                );
            }
            let refresh_interval = self.duration(
                &format!("{key}.jwks_refresh_interval"),
                r.jwks_refresh_interval.clone(),
                Duration::from_secs(300),
            );
            let timeout = self.duration(
                &format!("{key}.jwks_timeout"),
                r.jwks_timeout.clone(),
                Duration::from_secs(5),
            );
            if timeout.is_zero() || timeout > Duration::from_secs(60) {
                self.err(
                    &format!("{key}.jwks_timeout"),
                    r.jwks_timeout.clone(),
                    "must be between 1ms and 60s",
                );
            }
            let tls = match tls_config() {
                Ok(t) => Some(t),
                Err(reason) => {
                    self.err(
                        &key,
                        None,
                        format!("cannot set up TLS for JWKS fetches: {reason}"),
                    );
                    None
                }
            };
            if self.errors.len() > before {
                continue;
            }
            if let (Some(issuer), Some(audience), Some(source), Some(tls)) =
                (issuer, audience, source, tls)
            {
                out.push(Settings {
                    issuer,
                    audience,
                    source,
                    file_keys: Arc::new(file_keys),
                    algorithms,
                    clock_skew,
                    refresh_interval,
                    timeout,
                    tls,
                });
            }
        }
        out
    }
}
