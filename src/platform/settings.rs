//! How to reach the platform: the `[platform]` section of a mapping, validated, with its files
//! (CA bundle, client certificate and key) read and checked at load time. Plain data: the runtime
//! builds the live [`Client`](super::Client) from it, and a reload compiles new settings.

use http::header::{HeaderName, HeaderValue};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::oauth::OAuth2;
use super::wire::Call;

/// How to reach the platform (the `[platform]` section of a mapping, validated). `Tls` is `()`
/// while the mapping compiles and [`ClientTls`] once [`Settings::load_tls`] has read the files.
#[derive(Clone)]
pub struct Settings<Tls = ClientTls> {
    /// Scheme and authority, e.g. `http://127.0.0.1:8081`.
    pub origin: String,
    /// Path prefix from the base URL, without trailing slash (e.g. `/api`), possibly empty.
    pub prefix: String,
    /// Whether the origin is HTTPS.
    pub https: bool,
    /// PEM CA bundle for HTTPS; the Mozilla roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// TCP connect deadline.
    pub connect_timeout: Duration,
    /// Deadline for each attempt (send + full response).
    pub timeout: Duration,
    /// Extra attempts for idempotent calls after a transport failure or 502/503/504.
    pub retries: u32,
    /// How long, from its start, a SCIM request's platform calls may take in all (attempts,
    /// retries, backoffs, waits for a slot).
    pub request_budget: Duration,
    /// Concurrent platform calls.
    pub max_concurrency: usize,
    /// How long a call may wait for a free slot before the request gets 503 + Retry-After, and
    /// for a token of the rate cap before it gets 429 + Retry-After.
    pub queue_timeout: Duration,
    /// The cap on the call rate (`rate`, `burst`); none when `rate` is not set.
    pub rate: Option<super::rate::Rate>,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Headers sent on every call (auth included); values marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// OAuth2 client credentials (`[platform.auth] kind = "oauth2"`): calls carry an access token.
    pub oauth: Option<OAuth2>,
    /// PEM client certificate chain and key presented over TLS (mTLS), to the platform and to
    /// its token endpoint.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Every file these settings were read from (CA bundle, client certificate and key, secret
    /// files): the reloader watches them, so a rotated secret is picked up without a restart.
    pub files: Vec<PathBuf>,
    /// The TLS client configuration read from `ca_file` and `client_cert`.
    pub tls: Tls,
}

/// The TLS side of [`Settings`], read from the CA bundle and the client certificate and key.
#[derive(Clone)]
pub struct ClientTls {
    /// The rustls client configuration (roots, client certificate).
    pub config: Arc<rustls::ClientConfig>,
    /// A digest of the client certificate and key as read, so a reload can tell whether a cached
    /// token may be kept (a token may be bound to the certificate, RFC 8705).
    pub identity: Option<u64>,
}

/// Why the platform's TLS settings could not be loaded, with the mapping key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// The mapping key (`platform.ca_file`, `platform.client_cert_file`, ...).
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

// === impl Settings ===

impl<Tls> fmt::Debug for Settings<Tls> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("origin", &self.origin)
            .field("prefix", &self.prefix)
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("request_budget", &self.request_budget)
            .field("max_concurrency", &self.max_concurrency)
            .field("rate", &self.rate)
            .field("oauth", &self.oauth)
            .field("client_cert", &self.client_cert)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Settings<()> {
    /// Reads the CA bundle and the client certificate and key into the TLS client
    /// configuration (the mapping compiler calls it once everything else is valid).
    pub fn load_tls(self) -> Result<Settings, SetupError> {
        let roots = load_roots(self.ca_file.as_deref()).map_err(|reason| SetupError {
            key: "platform.ca_file",
            reason,
        })?;
        let builder = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError {
                key: "platform",
                reason: format!("TLS client configuration: {e}"),
            })?
            .with_root_certificates(roots);
        let (config, identity) = match &self.client_cert {
            None => (builder.with_no_client_auth(), None),
            Some((cert, key)) => {
                let (chain, key_der, digest) = load_identity(cert, key)?;
                let tls =
                    builder
                        .with_client_auth_cert(chain, key_der)
                        .map_err(|e| SetupError {
                            key: "platform.client_key_file",
                            reason: format!("the key does not fit the client certificate: {e}"),
                        })?;
                (tls, Some(digest))
            }
        };
        if let Some(o) = &self.oauth
            && let Some(rest) = o.token_url.strip_prefix("http://")
        {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
                tracing::warn!(
                    token_url = %o.token_url,
                    "the OAuth2 token endpoint is plain HTTP on another host: the client secret and tokens travel unencrypted"
                );
            }
        }
        Ok(Settings {
            origin: self.origin,
            prefix: self.prefix,
            https: self.https,
            ca_file: self.ca_file,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            retries: self.retries,
            request_budget: self.request_budget,
            max_concurrency: self.max_concurrency,
            queue_timeout: self.queue_timeout,
            rate: self.rate,
            max_response_bytes: self.max_response_bytes,
            headers: self.headers,
            oauth: self.oauth,
            client_cert: self.client_cert,
            files: self.files,
            tls: ClientTls {
                config: Arc::new(config),
                identity,
            },
        })
    }
}

impl<Tls> Settings<Tls> {
    /// How calls authenticate beyond fixed headers, for `explain`: the token call and the
    /// client certificate, without secrets.
    pub fn describe_auth(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(o) = &self.oauth {
            out.push(o.describe());
        }
        if let Some((cert, _)) = &self.client_cert {
            out.push(format!(
                "TLS client certificate {} (to the platform and its token endpoint)",
                cert.display()
            ));
        }
        out
    }

    /// The absolute URL a call goes to (for logs and `explain`).
    pub fn url(&self, call: &Call) -> String {
        format!("{}{}", self.origin, call.target(&self.prefix))
    }
}

// === files ===

/// Reads a PEM CA bundle into a root store.
pub fn load_roots(ca_file: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .map_err(|e| format!("cannot read CA bundle: {e}"))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("invalid PEM in CA bundle: {e}"))?;
            if certs.is_empty() {
                return Err("no certificate in CA bundle".to_owned());
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("unusable CA certificate: {e}"))?;
            }
        }
    }
    Ok(roots)
}

/// Reads a PEM client certificate chain and key; returns them and a digest of both.
fn load_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, u64), SetupError> {
    use std::hash::{Hash, Hasher};
    let cert_pem = std::fs::read(cert).map_err(|e| SetupError {
        key: "platform.client_cert_file",
        reason: format!("cannot read {}: {e}", cert.display()),
    })?;
    let key_pem = std::fs::read(key).map_err(|e| SetupError {
        key: "platform.client_key_file",
        reason: format!("cannot read {}: {e}", key.display()),
    })?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| SetupError {
            key: "platform.client_cert_file",
            reason: format!("invalid PEM: {e}"),
        })?;
    if chain.is_empty() {
        return Err(SetupError {
            key: "platform.client_cert_file",
            reason: "no certificate in the file".to_owned(),
        });
    }
    // The key's own error text is not repeated: it could quote key material.
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| SetupError {
        key: "platform.client_key_file",
        reason: "no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".to_owned(),
    })?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    cert_pem.hash(&mut h);
    key_pem.hash(&mut h);
    Ok((chain, key_der, h.finish()))
}

// === base URL ===

/// Splits `http(s)://host[:port][/prefix]` into origin, prefix (no trailing slash) and https.
pub fn split_base_url(u: &str) -> Result<(String, String, bool), String> {
    let (https, rest) = if let Some(r) = u.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = u.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("expected an http:// or https:// URL".to_owned());
    };
    if u.contains(['?', '#', ' ']) {
        return Err("no query, fragment or spaces in the base URL".to_owned());
    }
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err("expected a host (and optional port), without user info".to_owned());
    }
    if authority.parse::<http::uri::Authority>().is_err() {
        return Err("invalid host or port".to_owned());
    }
    Ok((
        format!("{}://{authority}", if https { "https" } else { "http" }),
        prefix.to_owned(),
        https,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_origin_and_prefix() {
        assert_eq!(
            split_base_url("http://127.0.0.1:8081"),
            Ok(("http://127.0.0.1:8081".into(), String::new(), false))
        );
        assert_eq!(
            split_base_url("https://api.example.com/v2/"),
            Ok(("https://api.example.com".into(), "/v2".into(), true))
        );
        assert!(split_base_url("ftp://x").is_err());
        assert!(split_base_url("http://user:pw@x").is_err());
        assert!(split_base_url("http://x/?a=b").is_err());
        assert!(split_base_url("http://").is_err());
    }

    #[test]
    fn ca_bundles_are_checked() {
        assert!(load_roots(None).is_ok_and(|r| !r.is_empty()));
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not pem").expect("write");
        assert!(load_roots(Some(&p)).is_err());
        assert!(load_roots(Some(&dir.path().join("missing.pem"))).is_err());
        let (cert, _) = crate::tls::self_signed(&["ca.test"]).expect("cert");
        std::fs::write(&p, cert).expect("write");
        assert_eq!(load_roots(Some(&p)).map(|r| r.len()), Ok(1));
    }
}
