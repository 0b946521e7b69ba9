//! The README works exactly as written: its two commands are the ones CI runs, and its curl
//! walkthrough, run by bash against `scim-sidecar demo`, gives the answers it describes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is the test failing"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const README: &str = include_str!("../README.md");

struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_first_lines_give_the_demo_and_test_commands_ci_uses() {
    let head: String = README.lines().take(12).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run --release -- demo"), "{head}");
    assert!(head.contains("cargo test --locked"), "{head}");
    let ci =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test --locked"),
        ".ci/run runs the README's test command"
    );
}

#[test]
fn the_curl_walkthrough_works_against_the_demo() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is needed for this test (.ci/run installs it)");
    }
    let block = README
        .split("<!-- readme-demo:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- readme-demo:end -->").next())
        .expect("README has the demo block");
    let script: String = block
        .lines()
        .filter(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");

    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--platform-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env_remove("SCIM_SIDECAR_DEMO_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("export ") {
                let _ = tx.send(line);
            }
        }
    });
    let export = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo prints an export line");
    let vars: Vec<(String, String)> = export
        .trim_start_matches("export ")
        .split_whitespace()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    assert_eq!(
        vars.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["SCIM", "TOKEN", "PLATFORM", "PLATFORM_KEY"]
    );

    let out = Command::new("bash")
        .arg("-euc")
        .arg(&script)
        .envs(vars)
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[0].contains(r#""id":"1""#)
            && lines[0].contains(r#""userName":"Ada.Lovelace@Example.com""#),
        "create: {}",
        lines[0]
    );
    assert!(
        lines[1].contains(r#""totalResults":1"#),
        "find: {}",
        lines[1]
    );
    assert!(
        lines[2].contains(r#""active":false"#),
        "disable: {}",
        lines[2]
    );
    assert!(
        lines[3].contains(r#""status":"disabled""#)
            && lines[3].contains(r#""email":"ada.lovelace@example.com""#),
        "platform: {}",
        lines[3]
    );
    assert_eq!(lines[4], "204", "delete");
    drop(demo);
}
