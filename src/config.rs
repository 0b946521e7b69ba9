//! Configuration: the TOML file plus `SCIM_SIDECAR_<SECTION>__<KEY>` environment overrides, read
//! once (figment), validated once into [`Config`], with every problem reported at once.
//!
//! Every error names the key, the offending value and where it came from (the file, or the
//! environment variable), and says how to fix it. Secrets (bearer tokens, keys) are read from
//! files or named environment variables and never appear in errors. `config/sidecar.toml` is the
//! manual: every key, its default, and why.

pub mod env;
pub mod raw;
pub mod values;

use figment::Figment;
use figment::Provider;
use figment::providers::{Format, Toml};
use figment::{Profile, Source};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{self, Tokens};
use crate::tls::{self, MinVersion, TlsFileError};
pub use env::EnvOverrides;

/// One configuration problem: which key, what value, from where, and why it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `server.listen` or `auth.tokens[1].file`.
    pub key: String,
    /// The offending value as written (never a secret), if there is one.
    pub value: Option<String>,
    /// Where the value came from: the file path, `environment variable X`, or `command line`.
    pub source: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}: {} = {}: {}", self.source, self.key, v, self.reason),
            None => write!(f, "{}: {}: {}", self.source, self.key, self.reason),
        }
    }
}

/// Every problem found in one load, in file order as far as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

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

/// Where a token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding the token.
    File(PathBuf),
    /// An environment variable holding the token.
    Env(String),
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
        }
    }
}

impl std::fmt::Debug for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field("overrides", &self.overrides)
            .field("platform_base_url", &self.platform_base_url)
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
    let auth = v.section::<raw::Auth>("auth").map(|r| v.auth(r));
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
        });
    // Validate [tls] even when [server] failed, so one run reports both.
    let plain_http = match &server {
        Some(Some(s)) => s.plain_http,
        _ => figment
            .extract_inner_lossy::<bool>("server.plain_http")
            .unwrap_or(false),
    };
    let tls = tls_raw.and_then(|t| v.tls(t, plain_http));

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

/// Collects errors while turning raw sections into validated ones.
struct Validator<'a> {
    figment: &'a Figment,
    file: &'a Path,
    env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    base_url: Option<&'a str>,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    /// Where `key`'s value came from: its file, its environment variable, or (for a default)
    /// the config file, where the operator would set it.
    fn source_of(&self, key: &str) -> String {
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

    fn err(&mut self, key: &str, value: Option<String>, reason: impl Into<String>) {
        let source = self.source_of(key);
        self.errors.push(ConfigError {
            key: key.to_owned(),
            value,
            source,
            reason: reason.into(),
        });
    }

    fn push_figment(&mut self, err: figment::Error) {
        for e in err {
            let mut key = e.path.join(".");
            if let figment::error::Kind::UnknownField(field, _) = &e.kind
                && !key.ends_with(field.as_str())
            {
                key = if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
            }
            let source = match (&e.metadata, e.path.is_empty()) {
                (Some(md), false) => match &md.source {
                    Some(Source::File(p)) => p.display().to_string(),
                    _ => format!(
                        "environment variable {}",
                        md.interpolate(&Profile::Default, &e.path)
                    ),
                },
                (Some(md), true) => match &md.source {
                    Some(Source::File(p)) => p.display().to_string(),
                    _ => md.name.to_string(),
                },
                (None, _) => self.file.display().to_string(),
            };
            self.errors.push(ConfigError {
                key: if key.is_empty() {
                    "(file)".to_owned()
                } else {
                    key
                },
                value: None,
                source,
                reason: e.kind.to_string(),
            });
        }
    }

    /// Extracts a section (its default when absent); `None` if it does not deserialize.
    fn section<T: serde::de::DeserializeOwned + Default>(&mut self, name: &str) -> Option<T> {
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

    fn duration(&mut self, key: &str, raw: Option<String>, default: Duration) -> Duration {
        match raw {
            None => default,
            Some(s) => values::duration(&s).unwrap_or_else(|reason| {
                self.err(key, Some(format!("{s:?}")), reason);
                default
            }),
        }
    }

    fn size(&mut self, key: &str, raw: Option<raw::StrOrNum>, default: u64, min: u64) -> usize {
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

    fn count(&mut self, key: &str, raw: Option<u64>, default: u64, range: (u64, u64)) -> u64 {
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

    fn addr(&mut self, key: &str, raw: Option<String>, default: &str) -> Option<SocketAddr> {
        let text = raw.unwrap_or_else(|| default.to_owned());
        match values::socket_addr(&text) {
            Ok(a) => Some(a),
            Err(reason) => {
                self.err(key, Some(format!("{text:?}")), reason);
                None
            }
        }
    }

    fn server(&mut self, r: raw::Server) -> Option<Server> {
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

    fn tls(&mut self, r: raw::Tls, plain_http: bool) -> Option<Tls> {
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

    fn admin(&mut self, r: raw::Admin) -> Option<Admin> {
        Some(Admin {
            listen: self.addr("admin.listen", r.listen, "0.0.0.0:9090")?,
        })
    }

    fn auth(&mut self, r: raw::Auth) -> Option<Auth> {
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
        if loaded.is_empty() && self.errors.len() == before {
            self.err(
                "auth.tokens",
                None,
                "no bearer token configured: add [[auth.tokens]] entries or set auth.tokens_dir",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Auth {
            tokens_dir,
            sources,
            tokens: Tokens::new(loaded),
        })
    }

    fn scim(&mut self, r: raw::Scim) -> Option<Scim> {
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
        })
    }

    fn log(&mut self, r: raw::Log) -> Option<Log> {
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

/// Reads one token; on failure returns the offending sub-key (`file` or `env`) and a reason.
pub fn read_token(
    source: &TokenSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, (&'static str, String)> {
    match source {
        TokenSource::File(p) => {
            let bytes = std::fs::read(p).map_err(|e| ("file", describe_io(&e)))?;
            auth::check_secret(&bytes).map_err(|r| ("file", r))
        }
        TokenSource::Env(var) => {
            let value =
                env(var).ok_or_else(|| ("env", "environment variable is not set".to_owned()))?;
            auth::check_secret(value.as_bytes()).map_err(|r| ("env", r))
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
            .and_then(|b| auth::check_secret(&b));
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
mod tests;
