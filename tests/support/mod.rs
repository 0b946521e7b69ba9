//! Shared helpers for the integration tests: a test PKI made with rcgen, config files written to a
//! temporary directory, the sidecar started on 127.0.0.1 port 0, and HTTPS clients trusting the CA.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A 64-character token, long enough for the 32-byte minimum.
pub const TOKEN: &str = "test-token-0123456789abcdef0123456789abcdef0123456789abcdef0123";
/// A second token, for rotation tests.
pub const TOKEN2: &str = "next-token-fedcba9876543210fedcba9876543210fedcba9876543210fedc";

/// A CA and a leaf certificate for `localhost` and `127.0.0.1`, signed by it.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "scim-sidecar test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf cert");
    Pki {
        ca_pem: ca.pem(),
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// A directory holding a config file and the files it refers to.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
}

impl Setup {
    /// A directory with `tls/tls.crt`, `tls/tls.key`, and `tokens/entra` (= [`TOKEN`]).
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = pki();
        let s = Setup { dir, pki };
        s.write("tls/tls.crt", &s.pki.cert_pem);
        s.write("tls/tls.key", &s.pki.key_pem);
        s.write("tokens/entra", &format!("{TOKEN}\n"));
        s
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    /// Writes `sidecar.toml` for plain HTTP (no [tls]), with `extra` TOML appended.
    pub fn plain_config(&self, extra: &str) -> PathBuf {
        self.write(
            "sidecar.toml",
            &format!(
                "{}
{extra}",
                base_config()
                    .replace(
                        "[tls]\ncert_file = \"tls/tls.crt\"\nkey_file = \"tls/tls.key\"\n",
                        ""
                    )
                    .replace(
                        "listen = \"127.0.0.1:0\"\nheader_read_timeout",
                        "listen = \"127.0.0.1:0\"\nplain_http = true\nheader_read_timeout"
                    )
            ),
        )
    }

    /// Writes `sidecar.toml`: [`base_config`] followed by `extra` TOML.
    pub fn config(&self, extra: &str) -> PathBuf {
        self.write("sidecar.toml", &format!("{}\n{extra}", base_config()))
    }
}

/// A complete config on loopback, port 0 for both listeners, TLS from `tls/`, one token file.
pub fn base_config() -> &'static str {
    r#"
[server]
listen = "127.0.0.1:0"
header_read_timeout = "2s"
drain_timeout = "10s"

[tls]
cert_file = "tls/tls.crt"
key_file = "tls/tls.key"

[admin]
listen = "127.0.0.1:0"

[[auth.tokens]]
name = "entra"
file = "tokens/entra"
"#
}

/// Loads a config file with no environment overrides.
pub fn load(path: &Path) -> scim_sidecar::config::Config {
    install_provider();
    scim_sidecar::config::load(
        path,
        &scim_sidecar::config::Sources {
            overrides: scim_sidecar::config::EnvOverrides::default(),
            env: &|_| None,
            platform_base_url: None,
            offline: false,
        },
    )
    .unwrap_or_else(|e| panic!("test config must be valid:\n{e}"))
}

/// Starts the sidecar from a config file.
pub async fn start(path: &Path) -> scim_sidecar::Running {
    scim_sidecar::start(load(path)).await.expect("start")
}

pub fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// An HTTPS client trusting only the test CA.
pub fn client(pki: &Pki) -> reqwest::Client {
    client_builder(pki).build().expect("client")
}

pub fn client_builder(pki: &Pki) -> reqwest::ClientBuilder {
    install_provider();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("ca")])
        .timeout(std::time::Duration::from_secs(20))
}

pub fn https(running: &scim_sidecar::Running, path: &str) -> String {
    format!(
        "https://localhost:{}/scim/v2{path}",
        running.scim_addr.port()
    )
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A loader for a test config: no process environment, the test platforms' secrets.
pub fn loader(path: &Path, base: Option<&str>) -> scim_sidecar::config::Loader {
    install_provider();
    scim_sidecar::config::Loader {
        path: path.to_owned(),
        overrides: Vec::new(),
        env: std::sync::Arc::new(|name: &str| match name {
            scim_sidecar::demo::PLATFORM_KEY_ENV => Some(PLATFORM_KEY.to_owned()),
            "SECOND_PLATFORM_TOKEN" => Some(second::SECRET.to_owned()),
            third::SECRET_ENV => Some(third::SECRET.to_owned()),
            _ => None,
        }),
        platform_base_url: base.map(str::to_owned),
    }
}

/// Serves a test platform's handler on 127.0.0.1 port 0 (HTTP/1.1 and HTTP/2) for as long as
/// the test's runtime lives; returns the address.
pub async fn serve<H, F>(handler: H) -> std::net::SocketAddr
where
    H: Fn(http::Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<
            Output = Result<
                http::Response<http_body_util::Full<bytes::Bytes>>,
                std::convert::Infallible,
            >,
        > + Send
        + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(handler);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                .await;
            });
        }
    });
    addr
}

/// A request to a test platform, read whole: what every test platform's handler starts from.
pub struct Received {
    /// The method (`GET`, ...).
    pub method: String,
    /// The path and query as sent (for the request log).
    pub raw: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The query parameters, decoded.
    pub query: std::collections::BTreeMap<String, String>,
    /// The request headers.
    pub headers: http::HeaderMap,
    /// The body as JSON (`null` when empty or not JSON).
    pub json: serde_json::Value,
}

impl Received {
    /// Reads a request's parts and its whole body.
    pub async fn read(req: http::Request<hyper::body::Incoming>) -> Received {
        use http_body_util::BodyExt;
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Received {
            method: parts.method.as_str().to_owned(),
            raw: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            path: parts.uri.path().to_owned(),
            query: form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers: parts.headers,
            json: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        }
    }

    /// A request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The demo platform's API key in tests.
pub const PLATFORM_KEY: &str = "platform-key-for-tests";

/// The demo platform and the sidecar in front of it, both on 127.0.0.1 port 0 (plain HTTP for
/// the sidecar unless the extra config says otherwise).
pub struct Stack {
    pub setup: Setup,
    pub platform: scim_sidecar::demo::RunningPlatform,
    pub sidecar: scim_sidecar::Running,
    pub client: reqwest::Client,
}

impl Stack {
    /// Starts the demo platform and a sidecar using `config/demo/mapping.toml` (or `mapping`
    /// text when given), with `extra` appended to the `[scim]` section.
    pub async fn start(scim_extra: &str) -> Stack {
        Stack::start_with(scim_extra, None).await
    }

    pub async fn start_with(scim_extra: &str, mapping: Option<&str>) -> Stack {
        install_provider();
        let platform = scim_sidecar::demo::Platform::spawn(PLATFORM_KEY)
            .await
            .expect("platform");
        let base = platform.base_url();
        Stack::start_against(platform, &base, scim_extra, mapping).await
    }

    /// Starts a sidecar in front of `base` (the demo platform `platform` keeps running beside
    /// it, so tests of another platform can still use the helpers).
    pub async fn start_against(
        platform: scim_sidecar::demo::RunningPlatform,
        base: &str,
        scim_extra: &str,
        mapping: Option<&str>,
    ) -> Stack {
        let setup = Setup::new();
        setup.write(
            "mapping.toml",
            mapping.unwrap_or(scim_sidecar::demo::MAPPING_TOML),
        );
        let cfg = setup.plain_config(&format!("[scim]\nmapping = \"mapping.toml\"\n{scim_extra}"));
        let loader = loader(&cfg, Some(base));
        let config = loader
            .load()
            .unwrap_or_else(|e| panic!("test config must be valid:\n{e}"));
        let sidecar = scim_sidecar::start_with(config, Some(loader))
            .await
            .expect("start");
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("client");
        Stack {
            setup,
            platform,
            sidecar,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/scim/v2{path}", self.sidecar.scim_addr)
    }

    pub fn platform_url(&self, path: &str) -> String {
        format!("{}{path}", self.platform.base_url())
    }

    pub fn calls(&self) -> scim_sidecar::demo::CallCounts {
        self.platform.platform().calls()
    }

    /// A SCIM request with the bearer token; JSON body when given. Returns status and JSON body
    /// (`Null` when empty).
    pub async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("authorization", bearer(TOKEN));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(b.to_string());
        }
        let r = req.send().await.expect("scim request");
        let status = r.status().as_u16();
        let bytes = r.bytes().await.expect("body");
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("SCIM body is JSON: {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, json)
    }

    /// A GET on the platform's own API (to check its state), returning status and JSON.
    pub async fn platform_get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .get(self.platform_url(path))
            .header("x-api-key", PLATFORM_KEY)
            .send()
            .await
            .expect("platform request");
        let status = r.status().as_u16();
        let bytes = r.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn stop(self) {
        self.sidecar.stop().await;
        self.platform.stop().await;
    }
}
pub mod fixtures;
pub mod logs;
pub mod process;
pub mod second;
pub mod shapes;
pub mod story;
pub mod third;
