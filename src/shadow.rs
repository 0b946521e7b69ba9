//! Shadow mode (`[scim] mode = "shadow"`, `serve --shadow`): reads reach the platform, writes do
//! not. Each write is appended to the shadow record (JSON lines, secrets redacted) and answered as
//! the platform would most likely answer; objects the run created or changed are kept in memory
//! for the process's life, so reads of them are served from there and a client's cycle proceeds.
//! `scim-sidecar shadow-report` summarises a record (`report.rs`). See docs/design/shadow.md.

pub mod record;
pub mod report;
mod transport;

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;
use crate::mapping::model::Mapping;
use crate::metrics::Metrics;
pub use record::{Entry, Origin};
pub use transport::Shadowed;

/// The name of the header every SCIM answer carries in shadow mode.
pub const HEADER: &str = "x-scim-sidecar-mode";

/// `[scim] mode`: whether platform writes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Writes reach the platform (the default).
    Live,
    /// Writes are recorded and simulated, never sent.
    Shadow,
}

impl Mode {
    /// Parses the key's value (`None`: the default, live); the error says what is expected.
    pub fn parse(value: Option<&str>) -> Result<Mode, &'static str> {
        match value {
            None | Some("live") => Ok(Mode::Live),
            Some("shadow") => Ok(Mode::Shadow),
            Some(_) => Err("expected \"live\" or \"shadow\""),
        }
    }
}

/// The default `[scim] shadow_record`: `scim-sidecar-shadow.jsonl` in the system's temporary
/// directory (writable in the chart's pod, whose root file system is read-only).
pub fn default_record() -> PathBuf {
    std::env::temp_dir().join("scim-sidecar-shadow.jsonl")
}

/// What a shadow run knows of one platform object it wrote.
#[derive(Debug, Clone)]
enum Known {
    /// The object as the simulated writes left it; `created` when this run created it.
    Object { value: Value, created: bool },
    /// Deleted by this run.
    Deleted,
}

/// The in-memory side of a shadow run: objects written, members of groups it created.
#[derive(Debug, Default)]
struct Store {
    /// By `"<resource>/<platform id>"` (`users/17`).
    objects: HashMap<String, Known>,
    /// Members (platform ids) of groups this run created, by the group's key.
    members: HashMap<String, BTreeSet<String>>,
}

/// A shadow run: the record file and what the simulated writes did. One per process, kept across
/// reloads while the mode stays shadow and the record path stays the same.
#[derive(Debug)]
pub struct Shadow {
    record: PathBuf,
    file: Mutex<Option<std::fs::File>>,
    store: Mutex<Store>,
}

impl Shadow {
    /// A shadow run appending to `record` (opened at the first write).
    pub fn new(record: PathBuf) -> Shadow {
        Shadow {
            record,
            file: Mutex::new(None),
            store: Mutex::new(Store::default()),
        }
    }

    /// The record's path.
    pub fn record(&self) -> &Path {
        &self.record
    }

    /// The transport a request uses in shadow mode: `inner` serves reads the run cannot answer.
    pub fn transport<'a, T>(
        &'a self,
        inner: &'a T,
        mapping: &'a Mapping,
        metrics: &'a Metrics,
        origin: Origin,
    ) -> Shadowed<'a, T> {
        Shadowed {
            inner,
            shadow: self,
            mapping,
            metrics,
            origin,
        }
    }

    /// Opens the record for appending, if it is not open yet (at start, so a path that cannot
    /// be written is reported before the first write fails).
    pub fn open(&self) -> Result<(), String> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| "shadow record lock poisoned".to_owned())?;
        if file.is_none() {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            // The record holds personal data (names, e-mail addresses): owner-only when created.
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let f = options.open(&self.record).map_err(|e| {
                format!(
                    "cannot write the shadow record {} ([scim] shadow_record): {e}",
                    self.record.display()
                )
            })?;
            *file = Some(f);
        }
        Ok(())
    }

    /// Appends one entry to the record (one JSON line, flushed before the write is answered).
    fn append(&self, entry: &Entry) -> Result<(), Error> {
        let fail = |e: std::io::Error| {
            Error::Internal(format!(
                "cannot write the shadow record {} ([scim] shadow_record): {e}",
                self.record.display()
            ))
        };
        let mut line = serde_json::to_string(entry).map_err(|e| Error::Internal(e.to_string()))?;
        line.push('\n');
        self.open().map_err(Error::Internal)?;
        let mut file = self
            .file
            .lock()
            .map_err(|_| Error::Internal("shadow record lock poisoned".to_owned()))?;
        if let Some(f) = file.as_mut() {
            f.write_all(line.as_bytes()).map_err(fail)?;
            f.flush().map_err(fail)?;
        }
        Ok(())
    }

    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        match self.store.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests;
