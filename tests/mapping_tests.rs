//! `scim-sidecar test` (the real binary) on the shipped mapping-test fixtures: the demo's and every
//! gallery mapping's pass; a deliberately broken mapping fails with a diff naming the call and
//! the field; a malformed fixture is a usage error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Setup;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `scim-sidecar test --config <config> <files...>` with the SCIM_SIDECAR_* variables of
/// the caller's environment removed and `env` set.
fn run_test(config: &Path, files: &[PathBuf], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"));
    cmd.arg("test").arg("--config").arg(config).args(files);
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIM_SIDECAR") || k.starts_with("DEMO_PLATFORM") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run scim-sidecar test")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_passes(out: &Output) {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn the_demo_fixtures_pass() {
    let out = run_test(
        &root().join("config/demo/sidecar.toml"),
        &[root().join("config/demo/tests")],
        &[],
    );
    assert_passes(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("17 passed, 0 failed"), "{stdout}");
}

/// The gallery configs name their TLS files (tls/, absent from the repository, mounted in a pod):
/// `test` never listens, so it does not read them and runs on the configs as shipped.
fn gallery_passes(app: &str) {
    let dir = root().join("config/gallery").join(app);
    assert!(
        !dir.join("tls/tls.crt").exists(),
        "the repository ships no TLS files for the gallery"
    );
    let out = run_test(&dir.join("sidecar.toml"), &[dir.join("tests")], &[]);
    assert_passes(&out);
}

#[test]
fn the_keycloak_fixtures_pass() {
    gallery_passes("keycloak");
}

#[test]
fn the_jupyterhub_fixtures_pass() {
    gallery_passes("jupyterhub");
}

#[test]
fn every_gallery_mapping_has_fixtures() {
    for entry in std::fs::read_dir(root().join("config/gallery")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("mapping.toml").is_file() {
            let tests = dir.join("tests");
            let n = std::fs::read_dir(&tests)
                .map(|d| d.filter_map(Result::ok).count())
                .unwrap_or(0);
            assert!(n > 0, "{} has no mapping tests", tests.display());
        }
    }
}

/// The demo config and a copy of its mapping with `mutate` applied, in a temporary directory.
fn demo_with(mutate: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sidecar.toml");
    std::fs::copy(root().join("config/demo/sidecar.toml"), &config).unwrap();
    let mapping = std::fs::read_to_string(root().join("config/demo/mapping.toml")).unwrap();
    let mutated = mutate(mapping.clone());
    assert_ne!(mutated, mapping, "the mutation changed nothing");
    std::fs::write(dir.path().join("mapping.toml"), mutated).unwrap();
    (dir, config)
}

#[test]
fn a_renamed_platform_field_and_a_changed_path_fail_with_a_diff() {
    let (_dir, config) = demo_with(|m| {
        m.replacen(
            "scim = 'emails[type eq \"work\"].value'\nfield = \"email\"\n",
            "scim = 'emails[type eq \"work\"].value'\nfield = \"mail\"\n",
            1,
        )
        .replacen(
            "[users.read]\npath = \"/api/v1/users/{id}\"",
            "[users.read]\npath = \"/api/v1/accounts/{id}\"",
            1,
        )
    });
    let out = run_test(&config, &[root().join("config/demo/tests/users.toml")], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    // The renamed field: the create call's body lacks it.
    assert!(
        stdout.contains("  FAIL create a user (Entra's POST"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"call 1 users.create body /email: expected "ada@example.com", got missing"#
        ),
        "{stdout}"
    );
    // The changed path: the read goes elsewhere.
    assert!(stdout.contains("  FAIL get a user by id"), "{stdout}");
    assert!(
        stdout.contains(
            r#"call 1 users.read path: expected "/api/v1/users/7", got "/api/v1/accounts/7""#
        ),
        "{stdout}"
    );
    // Cases the mutations do not touch still pass.
    assert!(stdout.contains("  ok   delete a user"), "{stdout}");
    assert!(
        stdout.lines().last().unwrap().ends_with(" failed"),
        "{stdout}"
    );
    assert!(!stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn an_extra_call_and_a_missing_call_are_failures() {
    let setup = Setup::new();
    let fixture = setup.write(
        "cases.toml",
        r#"
[[case]]
name = "expects a call the request does not make"
[case.request]
method = "DELETE"
path = "/scim/v2/Users/7"
[[case.calls]]
method = "DELETE"
path = "/api/v1/users/7"
[case.calls.answer]
status = 204
[[case.calls]]
operation = "users.read"
method = "GET"
path = "/api/v1/users/7"
[case.calls.answer]
status = 404
[case.expect]
status = 204

[[case]]
name = "lists no call for a request that makes one"
[case.request]
method = "GET"
path = "/scim/v2/Users/7"
[case.expect]
status = 200
"#,
    );
    let out = run_test(&root().join("config/demo/sidecar.toml"), &[fixture], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("call 2 users.read: missing, expected GET /api/v1/users/7"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("call 1 users.read: unexpected GET /api/v1/users/7 (the case lists 0 calls)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("answer status: expected 200, got 500"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 2 failed\n"), "{stdout}");
}

#[test]
fn a_malformed_fixture_is_a_usage_error_naming_file_and_key() {
    let setup = Setup::new();
    let fixture = setup.write(
        "bad.toml",
        "[[case]]\nname = \"x\"\n[case.request]\nmethod = \"GET\"\npath = \"/scim/v2/Users\"\nbdy = {}\n[case.expect]\nstatus = 200\n",
    );
    let out = run_test(&root().join("config/demo/sidecar.toml"), &[fixture], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("bdy"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
}
