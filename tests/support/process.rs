//! The real `scim-sidecar` binary as a child process: started with a config file, its stderr read
//! line by line, the addresses it logs as it binds picked out, killed when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `scim-sidecar serve`: the child and its stderr lines.
pub struct Proc {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

/// Sends SIGTERM to the child (what Kubernetes sends when it stops a pod).
pub fn sigterm(p: &Proc) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(p.child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `scim-sidecar serve --config <config>` (the config should log JSON).
pub fn spawn(config: &std::path::Path) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn scim-sidecar");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc { child, lines: rx }
}

/// Waits for a JSON log line whose message contains `needle`; returns its `addr` field.
pub fn wait_for_addr(p: &Proc, needle: &str) -> SocketAddr {
    loop {
        let line = p
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line containing {needle:?}"));
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["message"].as_str().is_some_and(|m| m.contains(needle)) {
            return v["addr"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .expect("addr field");
        }
    }
}
