//! Every rule of the mapping compiler, one broken mapping each: `tests/fixtures/mappings/invalid/`
//! holds one small mapping per rule, named after it, that starts from `minimal.toml` and breaks
//! exactly that rule. Its first line is `# expect: <message>`, the one error loading it must give,
//! as `check` prints it (file, key, value, reason), the file named without its directory; of a
//! message that spans several lines, its first line.
//!
//! Each is loaded in-process through the config loader, with the demo's sidecar config and its
//! `scim.mapping` swapped for the fixture (as `SCIM_SIDECAR_SCIM__MAPPING` would). `empty_secret`
//! in that folder is the empty secret file of `secret_file_empty.toml`.
//!
//! Two checks have no fixture: "mapping file not found" (a fixture is a file) and `array = true` on
//! a complex leaf (`attributes[i].array`), which no schema can reach: a whole complex attribute is
//! refused first, and sub-attributes are never complex.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

mod support;

use std::path::{Path, PathBuf};

use scim_sidecar::config::{Config, ConfigErrors, Loader};

/// The directory of the fixtures.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mappings")
}

/// Loads `config/demo/sidecar.toml` with its mapping replaced by `mapping`.
fn load(mapping: &Path) -> Result<Config, ConfigErrors> {
    support::install_provider();
    Loader {
        path: Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/sidecar.toml"),
        overrides: vec![(
            "SCIM_SIDECAR_SCIM__MAPPING".to_owned(),
            mapping.display().to_string(),
        )],
        env: std::sync::Arc::new(|name: &str| match name {
            "SCIM_SIDECAR_DEMO_TOKEN" => Some(support::TOKEN.to_owned()),
            "MAPPING_SECRET" => Some("s3cret".to_owned()),
            // DEL is not allowed in an HTTP header value.
            "MAPPING_SECRET_CONTROL" => Some("s3c\u{7f}ret".to_owned()),
            _ => None,
        }),
        platform_base_url: None,
    }
    .load()
}

/// A message of several lines (a TOML or JSONPath parser's report with a caret under the spot) is
/// expected by its first line.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

#[test]
fn the_minimal_mapping_loads() {
    if let Err(errors) = load(&fixtures().join("minimal.toml")) {
        panic!("minimal.toml must load:\n{errors}");
    }
}

#[test]
fn every_invalid_mapping_fails_with_exactly_the_error_it_expects() {
    let dir = fixtures().join("invalid");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/mappings/invalid")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() > 50,
        "one fixture per rule; found {}",
        paths.len()
    );
    let prefix = format!("{}/", dir.display());
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("fixture");
        let Some(expected) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
        else {
            failures.push(format!(
                "{name}: the first line is not `# expect: <message>`"
            ));
            continue;
        };
        let got: Vec<String> = match load(path) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .0
                .iter()
                .map(|e| first_line(&e.to_string()).replace(&prefix, ""))
                .collect(),
        };
        if got != [expected] {
            failures.push(format!("{name}\n  want: {expected}\n  got:  {got:#?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}
