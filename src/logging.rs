//! Log set-up: `tracing` to stderr, JSON or human text, filtered by `log.level`.
//!
//! rustls logs a warning on every handshake from a client that sends an IP address as SNI
//! (load generators, probes); it is capped at `error` unless the directive names rustls itself.
//!
//! Every line goes through one writer thread ([`sink`]); access lines skip `tracing`'s formatter
//! and are written straight into the queue by `access_log` ([`direct`]), filtered by the same
//! directive.

pub mod sink;

use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

use crate::config::{Log, LogFormat};

/// Where and how access lines are written when [`init`] installed the writer thread.
#[derive(Debug, Clone, Copy)]
pub struct Direct {
    /// The process's sink.
    pub sink: &'static sink::Sink,
    /// The configured format.
    pub format: LogFormat,
}

static DIRECT: OnceLock<Direct> = OnceLock::new();

/// The access lines' direct path, once [`init`] installed the subscriber and the writer thread;
/// `None` (tests with their own subscriber, a terminal with colours): through `tracing`.
pub fn direct() -> Option<Direct> {
    DIRECT.get().copied()
}

/// The effective filter directive for a configured level.
pub fn directive(level: &str) -> String {
    if level.contains("rustls") {
        level.to_owned()
    } else {
        format!("{level},rustls=error")
    }
}

/// Installs the global subscriber and the writer thread. Call once, before anything logs; call
/// [`sink::flush`] before the process exits.
pub fn init(log: &Log) {
    let filter = EnvFilter::builder().parse_lossy(directive(&log.level));
    let sink = sink::install();
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink::MakeSinkWriter(sink.cloned()));
    let result = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
    };
    match (result, sink) {
        (Err(e), _) => eprintln!("logging was already initialised: {e}"),
        // Coloured text on a terminal stays with `tracing`'s formatter.
        (Ok(()), Some(sink)) if log.format == LogFormat::Json || !ansi => {
            let _ = DIRECT.set(Direct {
                sink,
                format: log.format,
            });
        }
        (Ok(()), _) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustls_is_quieted_unless_named() {
        assert_eq!(directive("info"), "info,rustls=error");
        assert_eq!(directive("debug,rustls=debug"), "debug,rustls=debug");
    }
}
