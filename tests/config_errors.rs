//! `scim-sidecar check`: every broken configuration is reported with its key, its value and the
//! file (or environment variable) it came from, all at once, with exit status 64.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::process::{Command, Output};
use support::Setup;

fn check(config: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"));
    cmd.arg("check").arg("--config").arg(config);
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIM_SIDECAR") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run scim-sidecar check")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// (case, replace this in the base config, with this, expected key, expected text)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "unknown key",
        "header_read_timeout = \"2s\"",
        "header_read_timeout = \"2s\"\ntokn = 1",
        "server.tokn",
        "unknown field",
    ),
    (
        "bad duration",
        "header_read_timeout = \"2s\"",
        "header_read_timeout = \"10 seconds\"",
        "server.header_read_timeout = \"10 seconds\"",
        "missing unit",
    ),
    (
        "missing cert file",
        "cert_file = \"tls/tls.crt\"",
        "cert_file = \"tls/missing.crt\"",
        "tls.cert_file",
        "file not found",
    ),
    (
        "short token",
        "file = \"tokens/entra\"",
        "file = \"tokens/short\"",
        "auth.tokens[0].file",
        "12 bytes long; at least 32",
    ),
    (
        "bad listen address",
        "listen = \"127.0.0.1:0\"\nheader_read_timeout",
        "listen = \"localhost:8443\"\nheader_read_timeout",
        "server.listen = \"localhost:8443\"",
        "expected IP:PORT",
    ),
    (
        "unknown section",
        "[admin]",
        "[serverr]\nlisten = \"x\"\n[admin]",
        "serverr",
        "unknown section",
    ),
    (
        "token env not set",
        "file = \"tokens/entra\"",
        "env = \"SCIM_TEST_UNSET_TOKEN_VARIABLE\"",
        "auth.tokens[0].env = SCIM_TEST_UNSET_TOKEN_VARIABLE",
        "not set",
    ),
    (
        "token with two sources",
        "file = \"tokens/entra\"",
        "file = \"tokens/entra\"\nenv = \"X\"",
        "auth.tokens[0]",
        "exactly one of `file`",
    ),
    (
        "plain http with tls",
        "listen = \"127.0.0.1:0\"\nheader_read_timeout",
        "listen = \"127.0.0.1:0\"\nplain_http = true\nheader_read_timeout",
        "tls",
        "plain_http = true",
    ),
    (
        "wrong type",
        "drain_timeout = \"10s\"",
        "drain_timeout = \"10s\"\nmax_connections = \"many\"",
        "server.max_connections",
        "invalid type",
    ),
    (
        "bad TLS version",
        "key_file = \"tls/tls.key\"",
        "key_file = \"tls/tls.key\"\nmin_version = \"1.1\"",
        "tls.min_version = \"1.1\"",
        "unsupported TLS version",
    ),
    (
        "key does not match certificate",
        "key_file = \"tls/tls.key\"",
        "key_file = \"tls/other.key\"",
        "tls.key_file",
        "do not match",
    ),
];

#[test]
fn each_broken_config_names_key_value_and_file_and_exits_64() {
    let s = Setup::new();
    s.write("tokens/short", "short-secret");
    s.write("tls/other.key", &support::pki().key_pem);
    for (name, from, to, key, text) in CASES {
        let base = support::base_config();
        assert!(
            base.contains(from),
            "{name}: test setup must match the base config"
        );
        let path = s.write("broken.toml", &base.replacen(from, to, 1));
        let out = check(&path, &[]);
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{name}: exit status; stderr:\n{err}"
        );
        assert!(err.contains(key), "{name}: key {key:?} missing in:\n{err}");
        assert!(err.contains(text), "{name}: {text:?} missing in:\n{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "{name}: the file must be named in:\n{err}"
        );
        assert!(!err.contains(support::TOKEN), "{name}: no secret in errors");
    }
}

#[test]
fn a_missing_config_file_is_reported_as_such() {
    let s = Setup::new();
    let out = check(&s.path("nope.toml"), &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains("--config") && err.contains("config file not found"),
        "{err}"
    );
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn every_error_is_reported_in_one_run() {
    let s = Setup::new();
    let broken = support::base_config()
        .replacen(
            "header_read_timeout = \"2s\"",
            "header_read_timeout = \"2 s\"\nbogus = true",
            1,
        )
        .replacen(
            "cert_file = \"tls/tls.crt\"",
            "cert_file = \"tls/none.crt\"",
            1,
        )
        .replacen(
            "listen = \"127.0.0.1:0\"\n\n[[auth",
            "listen = \"nowhere\"\n\n[[auth",
            1,
        );
    let path = s.write("broken.toml", &broken);
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for key in ["server.bogus", "tls.cert_file", "admin.listen"] {
        assert!(err.contains(key), "{key} missing in:\n{err}");
    }
}

#[test]
fn environment_overrides_apply_and_their_errors_name_the_variable() {
    let s = Setup::new();
    let path = s.config("");
    let out = check(&path, &[("SCIM_SIDECAR_SERVER__LISTEN", "not-an-address")]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains("environment variable SCIM_SIDECAR_SERVER__LISTEN"),
        "{err}"
    );
    assert!(err.contains("server.listen = \"not-an-address\""), "{err}");

    let out = check(&path, &[("SCIM_SIDECAR_SERVER__PLAIN_HTTP", "perhaps")]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("SCIM_SIDECAR_SERVER__PLAIN_HTTP"),
        "{}",
        stderr(&out)
    );

    // Variables without a section separator are not config keys, whatever their value.
    let out = check(
        &path,
        &[
            ("SCIM_SIDECAR_CONFIG", "/elsewhere"),
            ("SCIM_SIDECAR_TOKEN", "0012345"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_valid_config_exits_0_and_names_its_tokens_but_not_their_values() {
    let s = Setup::new();
    let out = check(&s.config(""), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(
        stdout.contains("entra") && !stdout.contains(support::TOKEN),
        "{stdout}"
    );
}

#[test]
fn the_documented_example_config_is_valid() {
    // config/sidecar.toml is the manual; it must stay loadable. Its TLS paths and token variable
    // point at files a deployment provides, so supply them here.
    let s = Setup::new();
    let manual =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sidecar.toml"))
            .expect("config/sidecar.toml");
    let path = s.write("sidecar.toml", &manual);
    s.write("mapping.toml", scim_sidecar::demo::MAPPING_TOML);
    let out = check(
        &path,
        &[
            ("SCIM_SIDECAR_TOKEN", support::TOKEN),
            ("DEMO_PLATFORM_API_KEY", "k"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn oauth_config_errors_name_key_value_and_file_without_secrets() {
    let s = Setup::new();
    s.write("oauth/short", "short-secret");
    s.write("oauth/not-a-key.pem", &s.pki.cert_pem);
    let broken = format!(
        "{}
[auth.oauth]
token_lifetime = \"48h\"
signing_key_file = \"oauth/missing.pem\"
verify_key_files = [\"oauth/not-a-key.pem\"]
[[auth.oauth.clients]]
id = \"entra\"
secret_file = \"oauth/short\"
[[auth.oauth.clients]]
id = \"okta\"
secret_file = \"oauth/short\"
secret_env = \"X\"
",
        support::base_config()
    );
    let path = s.write("broken.toml", &broken);
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for (key, text) in [
        ("auth.oauth.token_lifetime = 48h", "between 1s and 24h"),
        ("auth.oauth.signing_key_file", "file not found"),
        ("auth.oauth.verify_key_files[0]", "no PEM public key"),
        (
            "auth.oauth.clients[0].secret_file",
            "12 bytes long; at least 32",
        ),
        ("auth.oauth.clients[1]", "exactly one of `secret_file`"),
    ] {
        assert!(err.contains(key), "{key} missing in:\n{err}");
        assert!(err.contains(text), "{text} missing in:\n{err}");
    }
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!err.contains("short-secret"), "no secret in errors: {err}");

    let typo = s.write(
        "typo.toml",
        &format!(
            "{}\n[auth.oauth]\ntoken_lifetme = \"1h\"\n",
            support::base_config()
        ),
    );
    let err = stderr(&check(&typo, &[]));
    assert!(
        err.contains("auth.oauth.token_lifetme") && err.contains("unknown field"),
        "{err}"
    );
}

#[test]
fn jwt_issuer_config_errors_name_key_value_and_file() {
    let s = Setup::new();
    s.write("jwks-broken.json", "{\"not\": \"keys\"}");
    let broken = format!(
        "{}
[[auth.jwt]]
issuer = \"https://issuer.example/\"
jwks_url = \"http://keys.example.com/jwks\"
algorithms = [\"HS256\", \"none\"]
jwks_timeout = \"0s\"
[[auth.jwt]]
issuer = \"https://other.example/\"
audience = \"scim\"
jwks_file = \"jwks-broken.json\"
",
        support::base_config()
    );
    let path = s.write("broken.toml", &broken);
    let out = check(&path, &[]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for (key, text) in [
        ("auth.jwt[0].audience", "missing"),
        ("auth.jwt[0].jwks_url", "https://"),
        ("auth.jwt[0].algorithms = \"HS256\"", "no HMAC"),
        ("auth.jwt[0].algorithms = \"none\"", "no `none`"),
        ("auth.jwt[0].jwks_timeout", "between 1ms and 60s"),
        ("auth.jwt[1].jwks_file", "not a JWKS document"),
    ] {
        assert!(err.contains(key), "{key} missing in:\n{err}");
        assert!(err.contains(text), "{text} missing in:\n{err}");
    }
    assert!(err.contains(&path.display().to_string()), "{err}");
}
