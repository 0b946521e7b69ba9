//! Configuration diagnostics shared by the config loader and the mapping compiler: the
//! [`ConfigError`] every problem becomes, the one translation of figment's errors into it, and the
//! one parser of duration settings.

use figment::{Profile, Source};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::values;

/// One configuration problem: which key, what value, from where, and why it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `server.listen` or `auth.tokens[1].file`.
    pub key: String,
    /// The offending value as written (never a secret), if there is one.
    pub value: Option<String>,
    /// Where the value came from: the file path, `environment variable X`, or `command line`.
    pub source: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}: {} = {}: {}", self.source, self.key, v, self.reason),
            None => write!(f, "{}: {}: {}", self.source, self.key, self.reason),
        }
    }
}

/// Every problem found in one load, in file order as far as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

// === figment ===

/// Translates figment's errors into [`ConfigError`]s: the key is the error's path (with the
/// unknown field appended when figment left it out), `(file)` for the whole file; `source` names
/// where each error's value came from.
pub fn from_figment(
    err: figment::Error,
    source: impl Fn(&figment::Error) -> String,
) -> Vec<ConfigError> {
    err.into_iter()
        .map(|e| {
            let mut key = e.path.join(".");
            if let figment::error::Kind::UnknownField(field, _) = &e.kind
                && !key.ends_with(field.as_str())
            {
                key = if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
            }
            ConfigError {
                key: if key.is_empty() {
                    "(file)".to_owned()
                } else {
                    key
                },
                value: None,
                source: source(&e),
                reason: e.kind.to_string(),
            }
        })
        .collect()
}

/// Where a figment error's value came from, for a config merged from `file` and environment
/// variables: the file, the environment variable, or the provider's name.
pub fn figment_source(e: &figment::Error, file: &Path) -> String {
    match (&e.metadata, e.path.is_empty()) {
        (Some(md), false) => match &md.source {
            Some(Source::File(p)) => p.display().to_string(),
            _ => format!(
                "environment variable {}",
                md.interpolate(&Profile::Default, &e.path)
            ),
        },
        (Some(md), true) => match &md.source {
            Some(Source::File(p)) => p.display().to_string(),
            _ => md.name.to_string(),
        },
        (None, _) => file.display().to_string(),
    }
}

// === values ===

/// Whether a duration setting may be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// `"0s"` is a valid value (the config file's rule: e.g. `server.shutdown_delay`).
    Allowed,
    /// `"0s"` is refused with "must be greater than zero" (the mapping's rule).
    Rejected,
}

/// Parses a duration setting (`"500ms"`, `"10s"`, `"5m"`): `default` when absent. On error,
/// returns the value as written (quoted) and the reason, for the caller's [`ConfigError`].
pub fn duration(
    raw: Option<&str>,
    default: Duration,
    zero: Zero,
) -> Result<Duration, (String, String)> {
    let Some(s) = raw else {
        return Ok(default);
    };
    match values::duration(s) {
        Ok(d) if d.is_zero() && zero == Zero::Rejected => {
            Err((format!("{s:?}"), "must be greater than zero".to_owned()))
        }
        Ok(d) => Ok(d),
        Err(reason) => Err((format!("{s:?}"), reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_durations_follow_the_callers_rule() {
        let d = Duration::from_secs(7);
        assert_eq!(duration(None, d, Zero::Rejected), Ok(d));
        assert_eq!(duration(Some("0s"), d, Zero::Allowed), Ok(Duration::ZERO));
        assert_eq!(
            duration(Some("0s"), d, Zero::Rejected),
            Err(("\"0s\"".to_owned(), "must be greater than zero".to_owned()))
        );
        assert_eq!(
            duration(Some("250ms"), d, Zero::Rejected),
            Ok(Duration::from_millis(250))
        );
        assert!(duration(Some("soon"), d, Zero::Allowed).is_err_and(|(v, _)| v == "\"soon\""));
    }

    #[test]
    fn figment_errors_name_the_unknown_key() {
        use figment::providers::{Format, Toml};
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: Option<u32>,
        }
        let err = figment::Figment::from(Toml::string("b = 1"))
            .extract::<S>()
            .expect_err("unknown key");
        let errors = from_figment(err, |_| "f.toml".to_owned());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key, "b");
        assert_eq!(errors[0].source, "f.toml");
        assert_eq!(errors[0].value, None);
    }
}
