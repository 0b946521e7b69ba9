//! `scim-sidecar check` on mapping files (valid and broken) and `scim-sidecar explain` on the
//! demo configuration: what an operator editing a mapping sees.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::process::{Command, Output};
use support::Setup;

fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("SCIM_SIDECAR") || k.starts_with("DEMO_PLATFORM") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    match stdin {
        None => cmd.output().expect("run"),
        Some(text) => {
            use std::io::Write;
            cmd.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().expect("spawn");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("write");
            child.wait_with_output().expect("wait")
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const DEMO_ENV: &[(&str, &str)] = &[
    ("SCIM_SIDECAR_DEMO_TOKEN", support::TOKEN),
    ("DEMO_PLATFORM_API_KEY", "key"),
];

fn demo_config() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/sidecar.toml").to_owned()
}

#[test]
fn check_accepts_the_demo_configuration_and_mapping() {
    let out = run(&["check", "--config", &demo_config()], DEMO_ENV, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn check_reports_every_mapping_error_with_key_and_file() {
    let s = Setup::new();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mappings/broken_many.toml"
    ))
    .expect("fixture");
    let mapping = s.write("mapping.toml", &fixture);
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let out = run(
        &["check", "--config", cfg.to_str().expect("utf8")],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    for (key, reason) in [
        ("platform.base_url", "http:// or https://"),
        ("users.id", "invalid JSONPath"),
        ("users.create.path", "unknown placeholder {user}"),
        ("users.list.paging", "expected \"page\""),
        ("users.attributes[0].scim", "nickName has no sub-attribute"),
        (
            "users.attributes[1].scim",
            "not an attribute of the User schemas",
        ),
        ("users.attributes[2].values.yes", "boolean"),
        ("users.read", "missing"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("{key} missing in:\n{err}"));
        assert!(
            line.contains(reason),
            "{key}: {reason:?} missing in {line:?}"
        );
        assert!(
            line.starts_with(&mapping.display().to_string()),
            "{key}: the mapping file is named: {line}"
        );
    }
}

#[test]
fn check_reports_every_list_filter_and_attribute_error_with_key_and_file() {
    let s = Setup::new();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mappings/broken_lists.toml"
    ))
    .expect("fixture");
    let mapping = s.write("mapping.toml", &fixture);
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let out = run(
        &["check", "--config", cfg.to_str().expect("utf8")],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    for (key, reason) in [
        ("users.list.count.path", "missing"),
        (
            "users.filters[0].value = \"externalId:{val}\"",
            "the only placeholder is {value}",
        ),
        ("users.filters[1].match = \"fuzzy\"", "expected \"exact\""),
        ("users.filters[2].match = \"prefix\"", "not gt"),
        ("users.filters[3].allow_stricter = true", "only for a rule"),
        (
            "users.filters[4].field = \"nope\"",
            "no [[attributes]] entry writes userName",
        ),
        ("users.attributes[1].array = true", "set `field`"),
        (
            "users.attributes[2].field = \"login\"",
            "already written to this field",
        ),
        (
            "users.attributes[3]",
            "a further mapping only writes a copy",
        ),
        ("groups.list.count", "not both"),
        (
            "groups.members.list.count",
            "only [users.list] and [groups.list] take `count`",
        ),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(key) && l.contains(reason))
            .unwrap_or_else(|| panic!("{key}: {reason:?} missing in:\n{err}"));
        assert!(
            line.starts_with(&mapping.display().to_string()),
            "{key}: the mapping file is named: {line}"
        );
    }
}

#[test]
fn check_names_unknown_keys_in_list_counts_and_filter_rules() {
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mappings/keycloak.toml"
    ))
    .expect("fixture");
    for (from, to, key) in [
        (
            "value = \"$\"\nfilters = true",
            "value = \"$\"\nfilter = true",
            "users.list.count.filter",
        ),
        (
            "match = \"substring\"",
            "matches = \"substring\"",
            "users.filters.2.matches",
        ),
        ("array = true", "arrray = true", "users.attributes.0.arrray"),
    ] {
        let s = Setup::new();
        s.write("mapping.toml", &fixture.replacen(from, to, 1));
        let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
        let out = run(
            &["check", "--config", cfg.to_str().expect("utf8")],
            &[("SECOND_PLATFORM_TOKEN", "t")],
            None,
        );
        assert_eq!(out.status.code(), Some(64));
        let err = text(&out.stderr);
        assert!(
            err.contains(key) && err.contains("unknown field"),
            "{key}: {err}"
        );
    }
}

#[test]
fn the_manual_documents_the_list_filter_and_attribute_keys() {
    let manual = scim_sidecar::demo::MAPPING_TOML;
    let comments: String = manual
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for key in [
        "#   total ",
        "[users.list.count]",
        "#   filters ",
        "#   value       what is sent",
        "#   query       fixed query parameters sent with it",
        "#   field       when the attribute is written to several fields",
        "#   match ",
        "#   allow_stricter ",
        "#   array ",
        "#   clear ",
        "a copy",
    ] {
        assert!(comments.contains(key), "the manual documents {key:?}");
    }
}

#[test]
fn check_accepts_the_worked_mappings() {
    for name in ["keycloak.toml", "no_total.toml"] {
        let s = Setup::new();
        let fixture = std::fs::read_to_string(format!(
            "{}/tests/fixtures/mappings/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        s.write("mapping.toml", &fixture);
        let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
        let out = run(
            &["check", "--config", cfg.to_str().expect("utf8")],
            &[("SECOND_PLATFORM_TOKEN", "t")],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
    }
}

#[test]
fn check_names_unknown_keys_in_the_mapping() {
    let s = Setup::new();
    s.write(
        "mapping.toml",
        &scim_sidecar::demo::MAPPING_TOML
            .replace("[users.read]\npath", "[users.read]\npaht = \"x\"\npath"),
    );
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let out = run(
        &["check", "--config", cfg.to_str().expect("utf8")],
        &[("DEMO_PLATFORM_API_KEY", "k")],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("users.read.paht") && err.contains("unknown field"),
        "{err}"
    );
}

#[test]
fn check_reports_a_missing_platform_secret() {
    let out = run(
        &["check", "--config", &demo_config()],
        &[("SCIM_SIDECAR_DEMO_TOKEN", support::TOKEN)],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("platform.auth.value_env = DEMO_PLATFORM_API_KEY") && err.contains("not set"),
        "{err}"
    );
}

/// `scim-sidecar explain` against the Keycloak worked mapping.
fn explain_keycloak(method: &str, target: &str, body: Option<&str>) -> String {
    let s = Setup::new();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/mappings/keycloak.toml"
    ))
    .expect("fixture");
    s.write("mapping.toml", &fixture);
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\nlowercase_attributes = []\n");
    let mut args = vec![
        "explain",
        "--config",
        cfg.to_str().expect("utf8"),
        method,
        target,
    ];
    let body_file = body.map(|b| s.write("body.json", b));
    if let Some(f) = &body_file {
        args.extend(["--body", f.to_str().expect("utf8")]);
    }
    let out = run(&args, &[("SECOND_PLATFORM_TOKEN", "t")], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn explain_shows_count_calls_templated_values_stricter_rules_and_array_writes() {
    let out = explain_keycloak("GET", "/scim/v2/Users?startIndex=3&count=2", None);
    assert!(
        out.contains("1. GET http://127.0.0.1:1/admin/realms/acme/users/count    [users.count]")
            && out.contains("2. GET http://127.0.0.1:1/admin/realms/acme/users?first=2&max=2"),
        "{out}"
    );
    let out = explain_keycloak(
        "GET",
        "/scim/v2/Users?filter=userName eq \"Ada@Example.com\"",
        None,
    );
    assert!(
        out.contains("users?username=ada%40example.com&exact=true&first=0&max=2    [users.list]")
            && !out.contains("2. GET"),
        "one exact call: {out}"
    );
    let out = explain_keycloak("GET", "/scim/v2/Users?filter=externalId eq \"a b\"", None);
    assert!(out.contains("users?q=externalId%3Aa+b&first=0"), "{out}");
    let out = explain_keycloak(
        "GET",
        "/scim/v2/Users?filter=name.familyName eq \"Lovelace\"",
        None,
    );
    assert!(
        out.contains("users?first=0&max=2") && !out.contains("lastName="),
        "a scan: {out}"
    );
    assert!(
        out.contains("Not pushed down: name.familyName eq (?lastName)")
            && out.contains("allow_stricter"),
        "{out}"
    );
    let out = explain_keycloak(
        "POST",
        "/scim/v2/Users",
        Some(
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Ada","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}"#,
        ),
    );
    assert!(
        out.contains(r#"body: {"attributes":{"department":["Sales"],"display_login":["Ada"]},"username":"ada"}"#)
            || out.contains(r#"body: {"attributes":{"display_login":["Ada"],"department":["Sales"]},"username":"ada"}"#),
        "{out}"
    );
}

#[test]
fn explain_shows_a_pushed_down_lookup_as_one_call() {
    let out = run(
        &[
            "explain",
            "--config",
            &demo_config(),
            "GET",
            "/scim/v2/Users?filter=userName eq \"Ada@Example.com\"",
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    let calls: Vec<&str> = o
        .lines()
        .filter(|l| l.trim_start().starts_with("1.") || l.trim_start().starts_with("2."))
        .collect();
    assert_eq!(calls.len(), 1, "{o}");
    assert!(
        calls[0].contains(
            "GET http://127.0.0.1:8081/api/v1/users?username=Ada%40Example.com&page=1&per_page=100"
        ),
        "{o}"
    );
}

#[test]
fn explain_shows_a_patch_as_read_then_changed_fields_only() {
    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#;
    let out = run(
        &[
            "explain",
            "--config",
            &demo_config(),
            "PATCH",
            "/scim/v2/Users/17",
            "--body",
            "-",
        ],
        &[],
        Some(body),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(
        o.contains("1. GET http://127.0.0.1:8081/api/v1/users/17"),
        "{o}"
    );
    assert!(
        o.contains("2. PATCH http://127.0.0.1:8081/api/v1/users/17"),
        "{o}"
    );
    assert!(o.contains(r#"body: {"status":"disabled"}"#), "{o}");
    assert!(o.contains("SCIM answer: 200"), "{o}");
}

#[test]
fn explain_shows_a_member_add_as_one_targeted_call() {
    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"5"}]}]}"#;
    let out = run(
        &[
            "explain",
            "--config",
            &demo_config(),
            "PATCH",
            "/scim/v2/Groups/3?excludedAttributes=members",
            "--body",
            "-",
        ],
        &[],
        Some(body),
    );
    let o = text(&out.stdout);
    assert!(
        o.contains(r#"1. POST http://127.0.0.1:8081/api/v1/groups/3/members"#)
            && o.contains(r#"body: {"user_id":5}"#),
        "{o}"
    );
    assert!(
        !o.contains("groups.members.list"),
        "no member list read: {o}"
    );
}

#[test]
fn explain_refuses_what_is_not_a_resource_request() {
    let out = run(
        &[
            "explain",
            "--config",
            &demo_config(),
            "GET",
            "/scim/v2/Schemas",
        ],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("discovery endpoints make no platform calls"));
}

#[test]
fn scim_platform_base_url_replaces_the_mappings_base_url() {
    let out = run(
        &[
            "explain",
            "--config",
            &demo_config(),
            "GET",
            "/scim/v2/Users/17",
        ],
        &[(
            "SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL",
            "https://legacy.internal:9443/root",
        )],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(
        o.contains("GET https://legacy.internal:9443/root/api/v1/users/17"),
        "{o}"
    );

    let out = run(
        &["check", "--config", &demo_config()],
        &[
            ("SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL", "ftp://legacy"),
            ("SCIM_SIDECAR_DEMO_TOKEN", support::TOKEN),
            ("DEMO_PLATFORM_API_KEY", "key"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.contains("scim.platform_base_url = \"ftp://legacy\"")
            && err.contains("SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL"),
        "{err}"
    );
}

#[test]
fn explain_of_a_patch_through_replace_reads_placeholders_of_the_right_type() {
    // A PUT-only platform whose required `active` is a boolean field: the simulated read must
    // hold a boolean there, or the dry run answers a false 400 ("active is required").
    let s = Setup::new();
    s.write("mapping.toml", include_str!("fixtures/mappings/third.toml"));
    let cfg = s.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.givenName","value":"Ada"}]}"#;
    let out = run(
        &[
            "explain",
            "--config",
            cfg.to_str().expect("utf8"),
            "PATCH",
            "/scim/v2/Users/p_1-x.y",
            "--body",
            "-",
        ],
        &[("THIRD_PLATFORM_TOKEN", "t")],
        Some(body),
    );
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{o}{}", text(&out.stderr));
    assert!(
        o.contains("1. GET http://127.0.0.1:1/people/p_1-x%2Ey"),
        "{o}"
    );
    assert!(
        o.contains("2. PUT http://127.0.0.1:1/people/p_1-x%2Ey"),
        "{o}"
    );
    assert!(o.contains(r#""enabled":true"#), "{o}");
    assert!(o.contains("SCIM answer: 200"), "{o}");
}
