//! `scim-sidecar init --openapi` on real published API descriptions (Gitea's Swagger 2.0 JSON,
//! Supabase Auth's OpenAPI 3 YAML) and on the demo platform's own (`GET /openapi.json`): the real
//! binary writes a mapping that `scim-sidecar check` accepts, with the key guesses asserted; then
//! the demo's mapping, with the edits in tests/fixtures/openapi/demo-edited.toml, carries the
//! whole Entra story against the demo platform.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scim-sidecar");

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/openapi/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SCIM_SIDECAR_CONFIG")
        .output()
        .expect("run scim-sidecar")
}

/// `init --openapi <spec>`: exits 0; returns the mapping (stdout) and the notes (stderr).
fn init(spec: &str) -> (String, String) {
    let out = run(&["init", "--openapi", spec]);
    let stderr = String::from_utf8(out.stderr).expect("utf8");
    assert!(
        out.status.success(),
        "init --openapi {spec} failed:\n{stderr}"
    );
    (String::from_utf8(out.stdout).expect("utf8"), stderr)
}

/// Writes the mapping beside a sidecar.toml naming it and runs `check` on it; panics with
/// check's output when it does not pass.
fn check(mapping: &str) {
    let setup = support::Setup::new();
    setup.write("mapping.toml", mapping);
    let cfg = setup.plain_config("[scim]\nmapping = \"mapping.toml\"\n");
    let out = run(&["check", "--config", cfg.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "check refused the generated mapping:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The mapping as data, to assert guesses by key.
fn parse(mapping: &str) -> toml::Value {
    mapping.parse::<toml::Value>().expect("the mapping is TOML")
}

/// The `[[<resource>.attributes]]` entry mapping `scim`, as (field, read).
fn attribute(m: &toml::Value, resource: &str, scim: &str) -> Option<(String, Option<String>)> {
    m[resource]["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["scim"].as_str() == Some(scim))
        .map(|a| {
            (
                a["field"].as_str().unwrap_or_default().to_owned(),
                a.get("read").and_then(|r| r.as_str()).map(str::to_owned),
            )
        })
}

fn str_at<'a>(m: &'a toml::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(m, |v, k| v.get(k))?.as_str()
}

#[test]
fn gitea_swagger_scaffold_passes_check_with_its_key_guesses() {
    let (mapping, notes) = init(&fixture("gitea-v1.24.0.json"));
    check(&mapping);
    assert!(notes.contains("Swagger 2.0"), "{notes}");
    let m = parse(&mapping);
    // Gitea's basePath is "{{AppSubUrl | JSEscape}}/api/v1": the template part is dropped.
    assert_eq!(
        str_at(&m, &["platform", "base_url"]),
        Some("http://127.0.0.1:8080/api/v1")
    );
    // Users: created and listed under /admin/users, read at /users/{username}, named by login.
    assert_eq!(str_at(&m, &["users", "list", "path"]), Some("/admin/users"));
    assert_eq!(
        str_at(&m, &["users", "create", "path"]),
        Some("/admin/users")
    );
    assert_eq!(str_at(&m, &["users", "read", "path"]), Some("/users/{id}"));
    assert_eq!(str_at(&m, &["users", "update", "method"]), Some("PATCH"));
    assert_eq!(
        str_at(&m, &["users", "delete", "path"]),
        Some("/admin/users/{id}")
    );
    assert_eq!(str_at(&m, &["users", "id"]), Some("$.login"));
    assert_eq!(str_at(&m, &["users", "id_type"]), Some("string"));
    // page + limit paging, a bare array.
    assert_eq!(str_at(&m, &["users", "list", "paging"]), Some("page"));
    assert_eq!(str_at(&m, &["users", "list", "size_param"]), Some("limit"));
    assert_eq!(str_at(&m, &["users", "list", "items"]), Some("$"));
    // Written as `username` (CreateUserOption), read as `login` (User).
    assert_eq!(
        attribute(&m, "users", "userName"),
        Some(("username".to_owned(), Some("$.login".to_owned())))
    );
    assert_eq!(
        attribute(&m, "users", "emails[type eq \"work\"].value").map(|a| a.0),
        Some("email".to_owned())
    );
    assert_eq!(
        attribute(&m, "users", "displayName").map(|a| a.0),
        Some("full_name".to_owned())
    );
    assert_eq!(
        attribute(&m, "users", "active").map(|a| a.0),
        Some("active".to_owned())
    );
    // Teams as groups: an organisation's teams, the org left for the operator to fill in.
    assert_eq!(
        str_at(&m, &["groups", "list", "path"]),
        Some("/orgs/CHANGE_ME_org/teams")
    );
    assert_eq!(str_at(&m, &["groups", "read", "path"]), Some("/teams/{id}"));
    assert_eq!(str_at(&m, &["groups", "id_type"]), Some("integer"));
    assert_eq!(
        attribute(&m, "groups", "displayName").map(|a| a.0),
        Some("name".to_owned())
    );
    assert_eq!(str_at(&m, &["groups", "members", "mode"]), Some("calls"));
    assert_eq!(
        str_at(&m, &["groups", "members", "add", "method"]),
        Some("PUT")
    );
    assert_eq!(
        str_at(&m, &["groups", "members", "add", "path"]),
        Some("/teams/{id}/members/{member}")
    );
    assert_eq!(
        str_at(&m, &["groups", "members", "list", "value"]),
        Some("$.login")
    );
    // Every guess is marked, and nothing is left as an unreplaced document parameter.
    assert!(mapping.contains("# CHECK: POST /orgs/{org}/teams creates"));
    assert!(
        !mapping
            .lines()
            .any(|l| !l.starts_with('#') && l.contains("{org}"))
    );
}

#[test]
fn supabase_yaml_scaffold_passes_check_with_its_key_guesses() {
    let (mapping, notes) = init(&fixture("supabase-auth.yaml"));
    check(&mapping);
    assert!(notes.contains("OpenAPI 3.0.3"), "{notes}");
    assert!(notes.contains("groups: no collection found"), "{notes}");
    let m = parse(&mapping);
    // servers[0] is "https://{project}.supabase.co/auth/v1": a placeholder host, its path kept.
    assert_eq!(
        str_at(&m, &["platform", "base_url"]),
        Some("http://127.0.0.1:8080/auth/v1")
    );
    assert_eq!(str_at(&m, &["users", "list", "path"]), Some("/admin/users"));
    assert_eq!(
        str_at(&m, &["users", "read", "path"]),
        Some("/admin/users/{id}")
    );
    assert_eq!(str_at(&m, &["users", "replace", "method"]), Some("PUT"));
    assert_eq!(str_at(&m, &["users", "id"]), Some("$.id"));
    assert_eq!(str_at(&m, &["users", "id_type"]), Some("string"));
    // {"users": [...]} paged by page/per_page.
    assert_eq!(str_at(&m, &["users", "list", "items"]), Some("$.users"));
    assert_eq!(str_at(&m, &["users", "list", "page_param"]), Some("page"));
    assert_eq!(
        str_at(&m, &["users", "list", "size_param"]),
        Some("per_page")
    );
    // No user name field: the e-mail stands in, said so.
    assert_eq!(
        attribute(&m, "users", "userName").map(|a| a.0),
        Some("email".to_owned())
    );
    assert!(mapping.contains("no user name field found"));
    // The document has no POST /admin/users: left out with a comment, not made up.
    assert!(m["users"].get("create").is_none());
    assert!(mapping.contains("# [users.create] left out"));
    assert!(m.get("groups").is_none());
}

/// Not an API description: a clear message and exit 64, no mapping.
#[test]
fn init_refuses_a_file_that_is_not_an_api_description() {
    let setup = support::Setup::new();
    let path = setup.write("notes.yaml", "title: hello\nitems: [1, 2]\n");
    let out = run(&["init", "--openapi", path.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(64));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("neither an OpenAPI 3.x document"),
        "{stderr}"
    );
}

/// The demo platform's document as it serves it, then `init` on it: the guesses match the
/// hand-written demo mapping's.
#[tokio::test]
async fn demo_platform_serves_its_description_and_init_reads_it() {
    support::install_provider();
    let platform = scim_sidecar::demo::Platform::spawn(support::PLATFORM_KEY)
        .await
        .expect("platform");
    // Public, like the token endpoint: no API key.
    let answer = reqwest::get(format!("{}/openapi.json", platform.base_url()))
        .await
        .expect("GET /openapi.json");
    assert_eq!(answer.status(), 200);
    let served = answer.text().await.expect("body");
    let doc: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/v1/groups/{id}/members/{user_id}"]["delete"].is_object());

    let setup = support::Setup::new();
    let spec = setup.write("openapi.json", &served);
    let (mapping, _) = init(spec.to_str().expect("utf8"));
    check(&mapping);
    let m = parse(&mapping);
    assert_eq!(
        str_at(&m, &["users", "read", "path"]),
        Some("/api/v1/users/{id}")
    );
    assert_eq!(str_at(&m, &["users", "read", "response"]), Some("$.data"));
    assert_eq!(str_at(&m, &["users", "id_type"]), Some("integer"));
    assert_eq!(str_at(&m, &["users", "list", "items"]), Some("$.data"));
    assert_eq!(
        str_at(&m, &["users", "list", "total"]),
        Some("$.meta.total")
    );
    assert_eq!(
        str_at(&m, &["users", "list", "size_param"]),
        Some("per_page")
    );
    assert_eq!(str_at(&m, &["users", "replace", "method"]), Some("PUT"));
    for (scim, field) in [
        ("userName", "username"),
        ("emails[type eq \"work\"].value", "email"),
        ("name.givenName", "first_name"),
        ("name.familyName", "last_name"),
        ("displayName", "display_name"),
        ("active", "status"),
        ("externalId", "external_ref"),
    ] {
        assert_eq!(
            attribute(&m, "users", scim).map(|a| a.0).as_deref(),
            Some(field),
            "{scim}"
        );
    }
    let active = m["users"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["scim"].as_str() == Some("active"))
        .unwrap();
    assert_eq!(active["values"]["true"].as_str(), Some("active"));
    assert_eq!(active["values"]["false"].as_str(), Some("disabled"));
    assert!(
        m["groups"].get("replace").is_none(),
        "the demo has no PUT on groups"
    );
    assert_eq!(
        str_at(&m, &["groups", "members", "add", "path"]),
        Some("/api/v1/groups/{id}/members")
    );
    assert_eq!(
        m["groups"]["members"]["add"]["body"]["user_id"].as_str(),
        Some("{member}")
    );
    assert_eq!(
        str_at(&m, &["groups", "members", "remove", "path"]),
        Some("/api/v1/groups/{id}/members/{member}")
    );
    platform.stop().await;
}

/// The vendored generated-then-edited mapping is the generator's output plus the `# EDITED:`
/// lines only, so the edit count in docs/openapi-init.md stays true.
#[test]
fn demo_edited_mapping_is_the_generated_one_plus_marked_edits() {
    let (generated, _) = init(&format!(
        "{}/src/demo/platform/openapi.json",
        env!("CARGO_MANIFEST_DIR")
    ));
    let edited = std::fs::read_to_string(fixture("demo-edited.toml")).expect("fixture");
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && l.contains(" = "))
            .map(str::to_owned)
            .collect()
    };
    let (g, e) = (keys(&generated), keys(&edited));
    let kept = g.iter().filter(|k| e.contains(k)).count();
    let edits = edited.matches("# EDITED:").count();
    assert!(edits > 0);
    // Every emitted key line is either kept verbatim or replaced/removed under an EDITED note.
    assert!(
        g.len() - kept <= edits,
        "{} generated key lines changed, {edits} edits marked",
        g.len() - kept
    );
    eprintln!(
        "generated key lines: {}, kept verbatim: {kept}, edits marked: {edits}",
        g.len()
    );
}

/// The whole Entra story of tests/entra_story.rs, against the demo platform, through the mapping
/// `init --openapi` wrote for it with the marked edits.
#[tokio::test]
async fn entra_story_passes_with_the_edited_demo_scaffold() {
    let mapping =
        std::fs::read_to_string(Path::new(&fixture("demo-edited.toml"))).expect("fixture");
    let stack = support::Stack::start_with("", Some(&mapping)).await;
    support::story::entra(stack).await;
}
