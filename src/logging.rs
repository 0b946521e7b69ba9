//! Log set-up: `tracing` to stderr, JSON or human text, filtered by `log.level`.
//!
//! rustls logs a warning on every handshake from a client that sends an IP address as SNI
//! (load generators, probes); it is capped at `error` unless the directive names rustls itself.

use tracing_subscriber::EnvFilter;

use crate::config::{Log, LogFormat};

/// The effective filter directive for a configured level.
pub fn directive(level: &str) -> String {
    if level.contains("rustls") {
        level.to_owned()
    } else {
        format!("{level},rustls=error")
    }
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(log: &Log) {
    let filter = EnvFilter::builder().parse_lossy(directive(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
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
