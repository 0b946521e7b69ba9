//! The demo legacy platform: a deliberately un-SCIM REST API that `scim-sidecar demo`, the
//! end-to-end tests and the benchmarks put behind the sidecar.
//!
//! Its rough edges are the point: integer ids, `snake_case` fields, a `status` string instead of a
//! boolean, page-number paging, group members behind separate calls, no `PUT` on groups, and its
//! own error bodies. A mapping has to absorb all of that.
//!
//! Every request needs `X-Api-Key: <key>` (else `401 {"error":"unauthorized"}`). A platform made
//! with [`Platform::with_oauth`] also has an OAuth2 token endpoint, `POST /oauth/token`
//! (client credentials by HTTP Basic or in the form; `{"access_token","token_type":"Bearer",
//! "expires_in"}`, or `401 {"error":"invalid_client"}`), and accepts `Authorization: Bearer
//! <issued token>` instead of the key until the token expires or is revoked. Bodies are JSON
//! objects of at most 1 MiB (`413 {"error":"too_large"}`); responses are `application/json`.
//!
//! | Call | Success | Notable failures |
//! | --- | --- | --- |
//! | `GET /api/v1/users?username=&email=&external_ref=&page=&per_page=` | 200 `{"data":[...],"meta":{"page","per_page","total"}}` | 400 `bad_request` |
//! | `POST /api/v1/users` | 201 `{"data":{...}}` | 409 `email_taken` / `username_taken`, 422 `validation` |
//! | `GET`, `PUT`, `PATCH`, `DELETE /api/v1/users/{id}` | 200 / 204 | 404 `not_found` |
//! | `GET /api/v1/groups?name=&external_ref=&page=&per_page=` | 200, as users | 400 |
//! | `POST /api/v1/groups` | 201 | 409 `name_taken`, 422 |
//! | `GET`, `PATCH`, `DELETE /api/v1/groups/{id}` (no `PUT`: 405) | 200 / 204 | 404 |
//! | `GET /api/v1/groups/{id}/members?page=&per_page=` | 200 `{"data":[{"user_id":17}],"meta":...}` | 404 |
//! | `POST /api/v1/groups/{id}/members` `{"user_id":17}` | 201 | 404, 409 `already_member`, 422 `unknown user` |
//! | `DELETE /api/v1/groups/{id}/members/{user_id}` | 204 | 404 when not a member |
//!
//! A user is `{"id","username","email","first_name","last_name","display_name",
//! "status":"active"|"disabled","external_ref","created_at","updated_at"}` (`username`, which
//! defaults to the e-mail, and `display_name` were added to the API of architecture.md §5 so that
//! SCIM `userName` and `displayName` round-trip, see docs/design/demo-platform.md); a group is `{"id","name","external_ref","created_at","updated_at"}`.
//! Emails and group names are unique case-insensitively and stored as given; lists are in
//! ascending id order; `per_page` defaults to 25 and is clamped to 100.
//!
//! Details the API leaves to the implementation, decided here:
//! - Bodies are validated before the record is looked up (an invalid `PATCH` on an unknown id is a
//!   422), and every problem is reported at once. `id`, `created_at` and `updated_at` in a body are
//!   422 `read-only`; other unknown fields are 422 `unknown field`. A body that is not a JSON
//!   object is 400 `bad_request`.
//! - `updated_at` moves forward by at least 1 ms on every successful write, even an empty `PATCH`.
//!   Membership changes are not writes to the group or the user and leave both untouched.
//! - Ids in paths are canonical decimals after percent-decoding (`%31` is user 1, `017` is 404).
//!   Literal path segments are matched raw; a trailing slash matches no route.
//! - `page=0`, `per_page=0`, empty or non-numeric values are 400; a `page` past the end is an empty
//!   page; filters match exactly what is given (`?email=` matches nothing, `+` decodes to a space);
//!   unknown query parameters are ignored and the last of repeated ones wins.
//! - `HEAD` and `OPTIONS` are 405 like any other unsupported method, with an `Allow` header.
//! - Authentication comes before routing, so an unauthenticated request gets 401 on any path.

pub mod platform;

pub use platform::{CallCounts, Chaos, Fault, OAuth, Platform, RunningPlatform};

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{self, ConfigErrors, EnvOverrides, Sources};

/// The demo's sidecar configuration (`config/demo/sidecar.toml`), embedded in the binary.
pub const SIDECAR_TOML: &str = include_str!("../config/demo/sidecar.toml");
/// The demo platform's mapping (`config/demo/mapping.toml`), embedded in the binary.
pub const MAPPING_TOML: &str = include_str!("../config/demo/mapping.toml");
/// The environment variable the demo's token is read from.
pub const TOKEN_ENV: &str = "SCIM_SIDECAR_DEMO_TOKEN";
/// The environment variable the mapping reads the platform's API key from.
pub const PLATFORM_KEY_ENV: &str = "DEMO_PLATFORM_API_KEY";

/// What `scim-sidecar demo` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// SCIM listener.
    pub listen: SocketAddr,
    /// Demo platform listener.
    pub platform_listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: SocketAddr,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: bool,
    /// The bearer token (generated when `None`).
    pub token: Option<String>,
    /// Users the platform holds at start.
    pub seed_users: usize,
    /// Serve only the platform.
    pub platform_only: bool,
    /// Put the platform behind OAuth2 client credentials, with tokens of this lifetime (the
    /// mapping then uses `kind = "oauth2"`); `None`: the API key.
    pub oauth: Option<std::time::Duration>,
}

/// The client id of the demo's OAuth2 client (`--platform-auth oauth2`).
pub const OAUTH_CLIENT_ID: &str = "scim-sidecar-demo";

/// A random hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // Never expected; a demo token must still not be guessable from the time alone.
        let t = crate::scim::datetime::Instant::now();
        b.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = (t.nanos.rotate_left(i as u32) ^ std::process::id()) as u8);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh private directory holding the demo's config files (and certificate).
pub struct DemoDir {
    /// Its path.
    pub path: PathBuf,
}

impl DemoDir {
    /// Creates the directory and writes `sidecar.toml` and `mapping.toml` into it.
    pub fn create() -> std::io::Result<DemoDir> {
        let path = std::env::temp_dir().join(format!(
            "scim-sidecar-demo-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        std::fs::create_dir(&path)?;
        std::fs::write(path.join("sidecar.toml"), SIDECAR_TOML)?;
        std::fs::write(path.join("mapping.toml"), MAPPING_TOML)?;
        Ok(DemoDir { path })
    }
}

impl DemoDir {
    /// Switches the demo's mapping to OAuth2 client credentials against the demo platform's
    /// token endpoint at `platform_url`, with the client secret in the file `client-secret`.
    pub fn use_oauth(&self, platform_url: &str, client_secret: &str) -> std::io::Result<()> {
        let header = "[platform.auth]\nkind = \"header\"\nheader = \"X-Api-Key\"\nvalue_env = \"DEMO_PLATFORM_API_KEY\"\n";
        if !MAPPING_TOML.contains(header) {
            return Err(std::io::Error::other(
                "the demo mapping's [platform.auth] section changed; update DemoDir::use_oauth",
            ));
        }
        let oauth = format!(
            "[platform.auth]\nkind = \"oauth2\"\ntoken_url = \"{platform_url}/oauth/token\"\nclient_id = \"{OAUTH_CLIENT_ID}\"\nclient_secret_file = \"client-secret\"\n"
        );
        std::fs::write(self.path.join("client-secret"), client_secret)?;
        std::fs::write(
            self.path.join("mapping.toml"),
            MAPPING_TOML.replacen(header, &oauth, 1),
        )
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Loads the demo configuration from `dir` for a platform at `platform_url`.
pub fn load_config(
    dir: &DemoDir,
    opts: &Options,
    token: &str,
    platform_key: &str,
    platform_url: &str,
) -> Result<config::Config, ConfigErrors> {
    let mut vars = vec![
        (
            "SCIM_SIDECAR_SERVER__LISTEN".to_owned(),
            opts.listen.to_string(),
        ),
        (
            "SCIM_SIDECAR_ADMIN__LISTEN".to_owned(),
            opts.admin_listen.to_string(),
        ),
    ];
    if opts.tls {
        let (cert, key) = crate::tls::self_signed(&["localhost", "127.0.0.1"]).map_err(|e| {
            ConfigErrors(vec![config::ConfigError {
                key: "tls".to_owned(),
                value: None,
                source: "demo".to_owned(),
                reason: format!("cannot generate a certificate: {e}"),
            }])
        })?;
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path.join(name), text).map_err(|e| {
                ConfigErrors(vec![config::ConfigError {
                    key: "tls".to_owned(),
                    value: Some(name.to_owned()),
                    source: "demo".to_owned(),
                    reason: format!("cannot write: {e}"),
                }])
            })
        };
        write("tls.crt", &cert)?;
        write("tls.key", &key)?;
        vars.push((
            "SCIM_SIDECAR_SERVER__PLAIN_HTTP".to_owned(),
            "false".to_owned(),
        ));
        vars.push((
            "SCIM_SIDECAR_TLS__CERT_FILE".to_owned(),
            dir.path.join("tls.crt").display().to_string(),
        ));
        vars.push((
            "SCIM_SIDECAR_TLS__KEY_FILE".to_owned(),
            dir.path.join("tls.key").display().to_string(),
        ));
    }
    let token = token.to_owned();
    let platform_key = platform_key.to_owned();
    let env = move |name: &str| match name {
        TOKEN_ENV => Some(token.clone()),
        PLATFORM_KEY_ENV => Some(platform_key.clone()),
        _ => None,
    };
    // SCIM_SIDECAR_<SECTION>__<KEY> overrides apply to the demo too; the command line wins.
    let mut all: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !vars.iter().any(|(d, _)| d == k))
        .collect();
    all.extend(vars);
    config::load(
        &dir.path.join("sidecar.toml"),
        &Sources {
            overrides: EnvOverrides::from_vars(all),
            env: &env,
            platform_base_url: Some(platform_url),
            offline: false,
        },
    )
}
