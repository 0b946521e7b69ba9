//! The config file as written: serde structs mirroring `config/sidecar.toml`, every field optional
//! so that defaults, validation and error messages live in one place (`config.rs`).
//!
//! Unknown keys are errors (`deny_unknown_fields`): a typo in a security setting must never be
//! silently ignored. The documentation of each key is in `config/sidecar.toml`, the manual.
#![allow(
    missing_docs,
    reason = "each field is a TOML key, documented once, in config/sidecar.toml (the manual)"
)]

use figment::value::magic::RelativePathBuf;
use serde::Deserialize;

/// The top-level sections, in the order the manual documents them.
pub const SECTIONS: &[&str] = &[
    "server", "tls", "admin", "auth", "scim", "log", "audit", "reload",
];

/// A value written either as a string (`"1MiB"`, `"10s"`) or as a bare number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StrOrNum {
    /// `"1MiB"`
    Str(String),
    /// `1048576`
    Num(u64),
}

impl StrOrNum {
    /// The value as text, for parsing and for error messages.
    pub fn text(&self) -> String {
        match self {
            StrOrNum::Str(s) => s.clone(),
            StrOrNum::Num(n) => n.to_string(),
        }
    }
}

/// `[server]`: the SCIM listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: Option<String>,
    pub plain_http: Option<bool>,
    pub public_url: Option<String>,
    pub max_body_size: Option<StrOrNum>,
    pub max_header_size: Option<StrOrNum>,
    pub max_connections: Option<u64>,
    pub http2_max_concurrent_streams: Option<u64>,
    pub handshake_timeout: Option<String>,
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub drain_timeout: Option<String>,
    pub shutdown_delay: Option<String>,
}

/// `[tls]`: certificate and protocol versions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert_file: Option<RelativePathBuf>,
    pub key_file: Option<RelativePathBuf>,
    pub min_version: Option<String>,
}

/// `[admin]`: the plain-HTTP admin listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    pub listen: Option<String>,
}

/// `[auth]`: bearer tokens.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub tokens_dir: Option<RelativePathBuf>,
    #[serde(default)]
    pub tokens: Vec<Token>,
    pub oauth: Option<OAuth>,
    #[serde(default)]
    pub jwt: Vec<Jwt>,
}

/// One `[[auth.jwt]]` entry: an external issuer whose JWTs are accepted as bearer tokens.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub jwks_url: Option<String>,
    pub jwks_file: Option<RelativePathBuf>,
    pub algorithms: Option<Vec<String>>,
    pub clock_skew: Option<String>,
    pub jwks_refresh_interval: Option<String>,
    pub jwks_timeout: Option<String>,
}

/// `[auth.oauth]`: the sidecar's own OAuth2 token endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth {
    pub token_path: Option<String>,
    pub token_lifetime: Option<String>,
    pub signing_key_file: Option<RelativePathBuf>,
    #[serde(default)]
    pub verify_key_files: Vec<RelativePathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub clock_skew: Option<String>,
    #[serde(default)]
    pub clients: Vec<OAuthClient>,
}

/// One `[[auth.oauth.clients]]` entry: a client id and one secret from a file or a variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub id: Option<String>,
    pub secret_file: Option<RelativePathBuf>,
    pub secret_env: Option<String>,
}

/// One `[[auth.tokens]]` entry: a named token read from a file or an environment variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub name: Option<String>,
    pub file: Option<RelativePathBuf>,
    pub env: Option<String>,
}

/// `[scim]`: the SCIM surface.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scim {
    pub base_path: Option<String>,
    pub mapping: Option<RelativePathBuf>,
    pub platform_base_url: Option<String>,
    pub profile: Option<String>,
    pub lowercase_attributes: Option<Vec<String>>,
    pub unmapped_attributes: Option<String>,
    pub unknown_members: Option<String>,
    pub group_patch_response: Option<String>,
    pub write_lock_timeout: Option<String>,
    pub default_page_size: Option<u64>,
    pub max_page_size: Option<u64>,
    pub mode: Option<String>,
    pub shadow_record: Option<RelativePathBuf>,
}

/// `[log]`: logging.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `[audit]`: the audit log.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    pub enabled: Option<bool>,
    pub show_values: Option<Vec<String>>,
}

/// `[reload]`: hot reload.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    pub enabled: Option<bool>,
    pub poll_interval: Option<String>,
    pub debounce: Option<String>,
}
