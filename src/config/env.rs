//! Environment overrides for the config file: `SCIM_SIDECAR_<SECTION>__<KEY>=value`.
//!
//! Only variables with a `__` after the prefix are read, so `SCIM_SIDECAR_CONFIG`,
//! `SCIM_SIDECAR_TOKEN` or `SCIM_SIDECAR_DEMO_TOKEN` never collide with config keys (a figment trap:
//! its `Env` provider would read them as unknown top-level keys). Values stay strings: figment's
//! `Env` infers types (`0012345` becomes the integer `12345`), which breaks string keys; the
//! loader's lossy extraction converts strings to booleans and numbers only where a key wants one.

use figment::value::{Dict, Map, Value};
use figment::{Error, Metadata, Profile, Provider};

/// The prefix of every override variable.
pub const PREFIX: &str = "SCIM_SIDECAR_";

/// A figment provider over a fixed list of environment variables (the process environment in
/// production, a literal list in tests, so tests never mutate the process environment).
#[derive(Debug, Clone, Default)]
pub struct EnvOverrides {
    vars: Vec<(String, String)>,
}

impl EnvOverrides {
    /// Overrides from the process environment.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Overrides from the given `(name, value)` pairs; names without the prefix, or without a
    /// `__` section separator after it, are ignored.
    pub fn from_vars<I: IntoIterator<Item = (String, String)>>(vars: I) -> Self {
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| {
                k.strip_prefix(PREFIX)
                    .is_some_and(|rest| rest.contains("__") && !rest.starts_with('_'))
            })
            .collect();
        vars.sort();
        EnvOverrides { vars }
    }

    /// The config key a variable sets: `SCIM_SIDECAR_SERVER__LISTEN` → `server.listen`.
    pub fn key_of(var: &str) -> Option<String> {
        var.strip_prefix(PREFIX)
            .map(|rest| rest.to_ascii_lowercase().replace("__", "."))
    }

    /// The variable that sets a config key: `server.listen` → `SCIM_SIDECAR_SERVER__LISTEN`.
    pub fn var_of(key: &str) -> String {
        format!("{PREFIX}{}", key.to_ascii_uppercase().replace('.', "__"))
    }
}

impl Provider for EnvOverrides {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_: &Profile, keys: &[&str]| EnvOverrides::var_of(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, Error> {
        let mut dict = Dict::new();
        for (var, value) in &self.vars {
            let Some(key) = Self::key_of(var) else {
                continue;
            };
            let nested = figment::util::nest(&key, Value::from(value.clone()));
            if let Some(d) = nested.into_dict() {
                dict = merge(dict, d);
            }
        }
        let mut map = Map::new();
        map.insert(Profile::Default, dict);
        Ok(map)
    }
}

fn merge(mut into: Dict, from: Dict) -> Dict {
    for (k, v) in from {
        let merged = match (into.remove(&k), v) {
            (Some(Value::Dict(_, a)), Value::Dict(tag, b)) => Value::Dict(tag, merge(a, b)),
            (_, v) => v,
        };
        into.insert(k, merged);
    }
    into
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Figment;

    fn vars(list: &[(&str, &str)]) -> EnvOverrides {
        EnvOverrides::from_vars(list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn only_sectioned_prefixed_variables_become_keys() {
        let env = vars(&[
            ("SCIM_SIDECAR_SERVER__LISTEN", "127.0.0.1:9000"),
            ("SCIM_SIDECAR_CONFIG", "/etc/x.toml"),
            ("SCIM_SIDECAR_TOKEN", "secret"),
            ("OTHER__THING", "1"),
        ]);
        let f = Figment::from(env);
        assert_eq!(
            f.extract_inner::<String>("server.listen").ok().as_deref(),
            Some("127.0.0.1:9000")
        );
        assert!(!f.contains("config"));
        assert!(!f.contains("token"));
    }

    #[test]
    fn values_stay_strings_so_leading_zeros_survive() {
        let f = Figment::from(vars(&[("SCIM_SIDECAR_LOG__LEVEL", "0012345")]));
        assert_eq!(
            f.extract_inner::<String>("log.level").ok().as_deref(),
            Some("0012345")
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let f = Figment::from(vars(&[("SCIM_SIDECAR_SERVER__PLAIN_HTTP", "maybe")]));
        let err = f
            .extract_inner_lossy::<bool>("server.plain_http")
            .expect_err("not a bool");
        let text = err.to_string();
        assert!(text.contains("SCIM_SIDECAR_SERVER__PLAIN_HTTP"), "{text}");
    }

    #[test]
    fn key_and_var_names_are_inverse() {
        assert_eq!(
            EnvOverrides::key_of("SCIM_SIDECAR_SERVER__MAX_BODY_SIZE").as_deref(),
            Some("server.max_body_size")
        );
        assert_eq!(
            EnvOverrides::var_of("server.max_body_size"),
            "SCIM_SIDECAR_SERVER__MAX_BODY_SIZE"
        );
    }
}
