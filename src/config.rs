//! Configuration: the TOML file plus `SCIM_SIDECAR_<SECTION>__<KEY>` environment overrides, read
//! once (figment), validated once into [`Config`], with every problem reported at once.
//!
//! Every error names the key, the offending value and where it came from (the file, or the
//! environment variable), and says how to fix it. Secrets (bearer tokens, keys) are read from
//! files or named environment variables and never appear in errors. `config/sidecar.toml` is the
//! manual: every key, its default, and why.
//!
//! This file holds the types and the loader; `validate` turns each raw section into its
//! validated form, and [`diagnostics`] holds the error type, shared with the mapping compiler.

pub mod diagnostics;
pub mod env;
mod issuers;
pub mod raw;
mod validate;
pub mod values;

use figment::Figment;
use figment::Profile;
use figment::Provider;
use figment::providers::{Format, Toml};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::auth::TokenSource;
use crate::auth::Tokens;
use crate::tls::MinVersion;
pub use diagnostics::{ConfigError, ConfigErrors};
pub use env::EnvOverrides;
use validate::Validator;

/// The validated configuration. Built once by [`load`]; nothing here is parsed again later.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file this was loaded from.
    pub file: PathBuf,
    /// `[server]`.
    pub server: Server,
    /// `[tls]`; `None` exactly when `server.plain_http = true`.
    pub tls: Option<Tls>,
    /// `[admin]`.
    pub admin: Admin,
    /// `[auth]`.
    pub auth: Auth,
    /// `[scim]`.
    pub scim: Scim,
    /// `[log]`.
    pub log: Log,
    /// `[audit]`.
    pub audit: crate::audit::Policy,
    /// `[reload]`.
    pub reload: Reload,
}

/// `[reload]`: hot reload of the config, mapping, tokens and certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reload {
    /// Watch the files (and poll, and listen for SIGHUP).
    pub enabled: bool,
    /// How often files are compared with what was loaded, whatever the watcher says.
    pub poll_interval: Duration,
    /// How long to wait for a burst of file events to settle before reloading.
    pub debounce: Duration,
}

/// `[server]`: the SCIM listener and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Serve plain HTTP (behind a TLS-terminating ingress).
    pub plain_http: bool,
    /// Externally visible URL of the SCIM base (for `Location` and `meta.location`).
    pub public_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted request head (HTTP/1 buffer, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// Concurrent connections; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// HTTP/2 streams per connection.
    pub http2_max_concurrent_streams: u32,
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// Deadline for a request's headers to arrive.
    pub header_read_timeout: Duration,
    /// Deadline for a request's body to arrive.
    pub body_read_timeout: Duration,
    /// Deadline for a whole request, platform calls included.
    pub request_timeout: Duration,
    /// How long in-flight requests may run after SIGTERM.
    pub drain_timeout: Duration,
    /// How long `/readyz` reports draining before the listener closes.
    pub shutdown_delay: Duration,
}

/// `[tls]`: the loaded certificate and the protocol floor.
#[derive(Clone)]
pub struct Tls {
    /// Certificate chain file (PEM).
    pub cert_file: PathBuf,
    /// Private key file (PEM).
    pub key_file: PathBuf,
    /// Lowest TLS version.
    pub min_version: MinVersion,
    /// The loaded, matching certificate and key.
    pub certified_key: Arc<CertifiedKey>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("min_version", &self.min_version)
            .finish_non_exhaustive()
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Address of the plain-HTTP admin listener (`/livez`, `/readyz`).
    pub listen: SocketAddr,
}

/// `[auth]`: token sources (kept for reloads) and the loaded token digests.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Directory whose files are tokens named after the files.
    pub tokens_dir: Option<PathBuf>,
    /// Explicit `[[auth.tokens]]` entries: name and source.
    pub sources: Vec<(String, TokenSource)>,
    /// The loaded tokens (digests only).
    pub tokens: Tokens,
    /// `[auth.oauth]`: the token endpoint, when configured.
    pub oauth: Option<OAuth>,
    /// `[[auth.jwt]]`: external issuers whose JWTs are accepted.
    pub jwt: Vec<crate::jwks::Settings>,
}

/// `[auth.oauth]`: the token endpoint's settings and the files they were read from.
#[derive(Debug, Clone)]
pub struct OAuth {
    /// Path (with `scim.base_path` in front), keys and clients.
    pub settings: crate::oauth::Settings,
    /// The Ed25519 private key that signs issued tokens.
    pub signing_key_file: PathBuf,
    /// Earlier public keys still accepted.
    pub verify_key_files: Vec<PathBuf>,
    /// Each client's secret sources (one entry per secret): id and source.
    pub secret_sources: Vec<(String, TokenSource)>,
}

/// What to do with attributes a request carries that the mapping does not store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmapped {
    /// Drop them, log a warning and count them.
    Ignore,
    /// Answer 400 `invalidValue` naming them.
    Reject,
}

/// What a successful PATCH of a group answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPatchResponse {
    /// 204 No Content (what Entra ID asks for: large groups are not echoed).
    NoContent,
    /// 200 with the group, members included unless `excludedAttributes=members`.
    Resource,
}

/// `[scim]`: the SCIM surface.
#[derive(Debug, Clone)]
pub struct Scim {
    /// Path prefix, normalised without a trailing slash (`""` for the root).
    pub base_path: String,
    /// Page size when a list request gives no `count`.
    pub default_page_size: usize,
    /// Largest page size served (`filter.maxResults` in `/ServiceProviderConfig`).
    pub max_page_size: usize,
    /// The client dialect normalized into RFC form.
    pub profile: crate::normalize::Profile,
    /// Attributes whose e-mail values are stored lowercase.
    pub lowercase_attributes: Vec<crate::scim::path::AttrPath>,
    /// The compiled mapping; `None` serves discovery only.
    pub mapping: Option<Arc<crate::mapping::model::Mapping>>,
    /// Policy for attributes the mapping does not store.
    pub unmapped_attributes: Unmapped,
    /// What a group PATCH answers.
    pub group_patch_response: GroupPatchResponse,
    /// Policy for member ids that name no user of the platform.
    pub unknown_members: Unmapped,
    /// Longest wait for another request's write to the same resource.
    pub write_lock_timeout: Duration,
    /// `live`, or `shadow`: platform writes are recorded in `shadow_record`, not sent.
    pub mode: crate::shadow::Mode,
    /// The shadow record (JSON lines) shadow mode appends its writes to.
    pub shadow_record: PathBuf,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info` or `info,scim_sidecar=debug`.
    pub level: String,
}

/// Where a load reads what is not in the file: config overrides, secrets named by environment
/// variable, and (for `demo`) the platform's address.
pub struct Sources<'a> {
    /// `SCIM_SIDECAR_<SECTION>__<KEY>` overrides.
    pub overrides: EnvOverrides,
    /// Looks up environment variables named in the config and mapping (`auth.tokens[].env`,
    /// `platform.auth.value_env`): the process environment in production, a closure in tests.
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Replaces the mapping's `platform.base_url`.
    pub platform_base_url: Option<&'a str>,
    /// For commands that never listen (`explain`, `test`): the `[tls]` certificate and key files
    /// are not read (the section's keys are still checked), so a configuration written for a pod
    /// can be used where its mounted files do not exist.
    pub offline: bool,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Sources<'static> {
    /// The process environment.
    pub fn process() -> Sources<'static> {
        Sources {
            overrides: EnvOverrides::from_process(),
            env: &process_env,
            platform_base_url: None,
            offline: false,
        }
    }
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("overrides", &self.overrides)
            .field("platform_base_url", &self.platform_base_url)
            .field("offline", &self.offline)
            .finish_non_exhaustive()
    }
}

/// A lookup of environment variables by name.
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The owned inputs of a load, kept by the reloader so every reload reads the same way.
#[derive(Clone)]
pub struct Loader {
    /// The config file.
    pub path: PathBuf,
    /// `SCIM_SIDECAR_<SECTION>__<KEY>` overrides, as `(variable, value)`.
    pub overrides: Vec<(String, String)>,
    /// Looks up environment variables named in the config and mapping.
    pub env: EnvFn,
    /// Replaces the mapping's `platform.base_url`.
    pub platform_base_url: Option<String>,
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loader")
            .field("path", &self.path)
            .field("platform_base_url", &self.platform_base_url)
            .finish_non_exhaustive()
    }
}

impl Loader {
    /// Loads from `path` with the process environment.
    pub fn process(path: &Path) -> Loader {
        Loader {
            path: path.to_owned(),
            overrides: std::env::vars().collect(),
            env: Arc::new(process_env),
            platform_base_url: None,
        }
    }

    /// Loads and validates the configuration.
    pub fn load(&self) -> Result<Config, ConfigErrors> {
        load(
            &self.path,
            &Sources {
                overrides: EnvOverrides::from_vars(self.overrides.clone()),
                env: &*self.env,
                platform_base_url: self.platform_base_url.as_deref(),
                offline: false,
            },
        )
    }
}

/// Loads and validates the config file at `path` (and the mapping it names).
pub fn load(path: &Path, sources: &Sources<'_>) -> Result<Config, ConfigErrors> {
    if !path.is_file() {
        return Err(ConfigErrors(vec![ConfigError {
            key: "--config".to_owned(),
            value: Some(path.display().to_string()),
            source: "command line".to_owned(),
            reason: if path.exists() {
                "not a regular file".to_owned()
            } else {
                "config file not found (pass --config PATH or set SCIM_SIDECAR_CONFIG)".to_owned()
            },
        }]));
    }
    let figment = Figment::new()
        .merge(Toml::file_exact(path))
        .merge(sources.overrides.clone());
    let mut v = Validator {
        figment: &figment,
        file: path,
        env: sources.env,
        base_url: sources.platform_base_url,
        errors: Vec::new(),
    };
    // A TOML syntax error stops everything else: nothing below can be trusted.
    match figment.data() {
        Ok(data) => {
            if let Some(dict) = data.get(&Profile::Default) {
                for key in dict.keys() {
                    if !raw::SECTIONS.contains(&key.as_str()) {
                        let source = v.source_of(key);
                        v.errors.push(ConfigError {
                            key: key.clone(),
                            value: None,
                            source,
                            reason: format!(
                                "unknown section or key (known sections: {})",
                                raw::SECTIONS.join(", ")
                            ),
                        });
                    }
                }
            }
        }
        Err(e) => {
            v.push_figment(e);
            return Err(ConfigErrors(v.errors));
        }
    }

    let server = v.section::<raw::Server>("server").map(|r| v.server(r));
    let tls_raw = v.section::<raw::Tls>("tls");
    let admin = v.section::<raw::Admin>("admin").map(|r| v.admin(r));
    let auth = v.section::<raw::Auth>("auth").map(|mut r| {
        let configured = !r.jwt.is_empty();
        let jwt = v.jwt_issuers(std::mem::take(&mut r.jwt));
        v.auth(r, jwt, configured)
    });
    let scim = v.section::<raw::Scim>("scim").map(|r| v.scim(r));
    let log = v.section::<raw::Log>("log").map(|r| v.log(r));
    let reload = v.section::<raw::Reload>("reload").map(|r| Reload {
        enabled: r.enabled.unwrap_or(true),
        poll_interval: v.duration(
            "reload.poll_interval",
            r.poll_interval,
            Duration::from_secs(30),
        ),
        debounce: v.duration("reload.debounce", r.debounce, Duration::from_millis(500)),
    });
    let audit = v
        .section::<raw::Audit>("audit")
        .map(|r| crate::audit::Policy {
            enabled: r.enabled.unwrap_or(true),
            show_values: r
                .show_values
                .unwrap_or_else(|| vec!["active".to_owned()])
                .into_iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            shadow: false,
        });
    // Validate [tls] even when [server] failed, so one run reports both.
    let plain_http = match &server {
        Some(Some(s)) => s.plain_http,
        _ => figment
            .extract_inner_lossy::<bool>("server.plain_http")
            .unwrap_or(false),
    };
    let tls = tls_raw.and_then(|t| v.tls(t, plain_http, sources.offline));

    match (server, admin, auth, scim, log, audit, reload) {
        (
            Some(Some(server)),
            Some(Some(admin)),
            Some(Some(auth)),
            Some(Some(scim)),
            Some(Some(log)),
            Some(audit),
            Some(reload),
        ) if v.errors.is_empty() => {
            if server.listen == admin.listen && server.listen.port() != 0 {
                v.errors.push(ConfigError {
                    key: "admin.listen".to_owned(),
                    value: Some(admin.listen.to_string()),
                    source: v.source_of("admin.listen"),
                    reason: "the admin listener needs its own port, distinct from server.listen"
                        .to_owned(),
                });
                return Err(ConfigErrors(v.errors));
            }
            let mut auth = auth;
            if let Some(o) = &mut auth.oauth {
                o.settings.path = format!("{}{}", scim.base_path, o.settings.path);
            }
            Ok(Config {
                file: path.to_owned(),
                tls: if server.plain_http { None } else { tls },
                server,
                admin,
                auth,
                scim,
                log,
                audit,
                reload,
            })
        }
        _ => Err(ConfigErrors(v.errors)),
    }
}
