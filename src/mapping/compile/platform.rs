//! The `[platform]` section: base URL, CA, timeouts, retries, auth and secrets, readiness probe,
//! and the `[[platform.errors]]` rules.

use super::*;

impl Compiler<'_> {
    pub(super) fn readiness(
        &mut self,
        r: Option<raw::Readiness>,
    ) -> Option<crate::mapping::model::Readiness> {
        let r = r?;
        let method = match r.method.as_deref() {
            None => Method::GET,
            Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(m) => m,
                Err(_) => {
                    self.err("platform.readiness.method", q(m), "not an HTTP method");
                    return None;
                }
            },
        };
        let Some(path) = r.path.as_deref() else {
            self.err(
                "platform.readiness.path",
                None,
                "missing; a cheap call that answers 2xx when the platform is up, e.g. \"/health\"",
            );
            return None;
        };
        let template = self.path_template("platform.readiness.path", path, &[])?;
        let cache = self.duration("platform.readiness.cache", r.cache, Duration::from_secs(5));
        Some(crate::mapping::model::Readiness {
            call: crate::backend::Call {
                operation: "platform.readiness",
                method,
                path: template.render(&Default::default()).unwrap_or_default(),
                query: r.query.into_iter().collect(),
                body: None,
                if_match: None,
            },
            cache,
        })
    }

    pub(super) fn platform(
        &mut self,
        p: raw::Platform,
        base_override: Option<&str>,
    ) -> Option<(
        Settings,
        Vec<ErrorRule>,
        Option<crate::mapping::model::Readiness>,
    )> {
        let before = self.errors.len();
        let base = base_override.map(str::to_owned).or(p.base_url.clone());
        let (origin, prefix, https) = match base.as_deref() {
            None => {
                self.err(
                    "platform.base_url",
                    None,
                    "missing; the platform's base URL, e.g. \"http://127.0.0.1:8080\"",
                );
                (String::new(), String::new(), false)
            }
            Some(u) => match split_base_url(u) {
                Ok(parts) => parts,
                Err(r) => {
                    self.err("platform.base_url", q(u), r);
                    (String::new(), String::new(), false)
                }
            },
        };
        let ca_file = p.ca_file.as_ref().map(RelativePathBuf::relative);
        if ca_file.is_some() && !https && before == self.errors.len() {
            self.err(
                "platform.ca_file",
                None,
                "a CA bundle only applies to an https:// base_url",
            );
        }
        let mut headers = Vec::new();
        for (name, value) in &p.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => headers.push((n, v)),
                _ => self.err(
                    format!("platform.headers.{name}"),
                    q(value),
                    "not a valid HTTP header name and value",
                ),
            }
        }
        if let Some(h) = p.auth.as_ref().and_then(|a| self.auth(a)) {
            headers.push(h);
        }
        let max_response_bytes = match &p.max_response_size {
            None => 16 << 20,
            Some(s) => match values::byte_size(&s.text()) {
                Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
                Err(r) => {
                    self.err("platform.max_response_size", q(&s.text()), r);
                    0
                }
            },
        };
        let retries = p.retries.unwrap_or(2);
        if retries > 5 {
            self.err(
                "platform.retries",
                Some(retries.to_string()),
                "at most 5: retries multiply the platform's load when it is struggling",
            );
        }
        let max_concurrency = p.max_concurrency.unwrap_or(32);
        if max_concurrency == 0 || max_concurrency > 10_000 {
            self.err(
                "platform.max_concurrency",
                Some(max_concurrency.to_string()),
                "must be between 1 and 10000",
            );
        }
        let settings = Settings {
            origin,
            prefix,
            https,
            ca_file,
            connect_timeout: self.duration(
                "platform.connect_timeout",
                p.connect_timeout,
                Duration::from_secs(2),
            ),
            timeout: self.duration("platform.timeout", p.timeout, Duration::from_secs(10)),
            retries,
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(32),
            queue_timeout: match p.queue_timeout {
                Some(s) if s.trim() == "0" || s.trim() == "0s" => Duration::ZERO,
                other => self.duration("platform.queue_timeout", other, Duration::from_secs(1)),
            },
            max_response_bytes,
            headers,
        };
        let rules = p
            .errors
            .iter()
            .enumerate()
            .filter_map(|(i, r)| self.error_rule(i, r))
            .collect();
        let readiness = self.readiness(p.readiness);
        (self.errors.len() == before).then_some((settings, rules, readiness))
    }

    pub(super) fn auth(&mut self, a: &raw::PlatformAuth) -> Option<(HeaderName, HeaderValue)> {
        let kind = a.kind.as_deref().unwrap_or("header");
        let value = |c: &mut Self| {
            c.secret(
                "platform.auth",
                ("value_env", &a.value_env),
                ("value_file", &a.value_file),
            )
        };
        let (name, text) = match kind {
            "header" => {
                let Some(h) = &a.header else {
                    self.err(
                        "platform.auth.header",
                        None,
                        "missing; the header carrying the credential, e.g. \"X-Api-Key\"",
                    );
                    return None;
                };
                let name = match HeaderName::from_bytes(h.as_bytes()) {
                    Ok(n) => n,
                    Err(_) => {
                        self.err("platform.auth.header", q(h), "not a valid header name");
                        return None;
                    }
                };
                (name, value(self)?)
            }
            "bearer" => (AUTHORIZATION, format!("Bearer {}", value(self)?)),
            "basic" => {
                let Some(user) = &a.username else {
                    self.err(
                        "platform.auth.username",
                        None,
                        "missing for kind = \"basic\"",
                    );
                    return None;
                };
                let pass = self.secret(
                    "platform.auth",
                    ("password_env", &a.password_env),
                    ("password_file", &a.password_file),
                )?;
                (
                    AUTHORIZATION,
                    format!("Basic {}", base64(format!("{user}:{pass}").as_bytes())),
                )
            }
            other => {
                self.err(
                    "platform.auth.kind",
                    q(other),
                    "expected \"header\", \"bearer\" or \"basic\"",
                );
                return None;
            }
        };
        match HeaderValue::from_str(&text) {
            Ok(mut v) => {
                v.set_sensitive(true);
                Some((name, v))
            }
            Err(_) => {
                self.err(
                    "platform.auth",
                    None,
                    "the credential contains characters not allowed in an HTTP header",
                );
                None
            }
        }
    }

    pub(super) fn error_rule(&mut self, i: usize, r: &raw::ErrorRule) -> Option<ErrorRule> {
        let key = format!("platform.errors[{i}]");
        let before = self.errors.len();
        if !(100..=599).contains(&r.status) {
            self.err(
                format!("{key}.status"),
                Some(r.status.to_string()),
                "not an HTTP status",
            );
        }
        if !(400..=599).contains(&r.scim_status) {
            self.err(
                format!("{key}.scim_status"),
                Some(r.scim_status.to_string()),
                "must be an error status (400-599)",
            );
        }
        let scim_type = match &r.scim_type {
            None => None,
            Some(t) => match ScimType::parse(t) {
                Some(t) => Some(t),
                None => {
                    self.err(
                        format!("{key}.scim_type"),
                        q(t),
                        "not an RFC 7644 scimType (uniqueness, invalidValue, mutability, tooMany, ...)",
                    );
                    None
                }
            },
        };
        let when = match (&r.when, &r.equals) {
            (None, None) => None,
            (Some(p), Some(v)) => self
                .json_path(&format!("{key}.when"), p)
                .map(|jp| (jp, v.clone())),
            _ => {
                self.err(
                    &key,
                    None,
                    "`when` (a JSONPath into the platform's error body) and `equals` go together",
                );
                None
            }
        };
        (self.errors.len() == before).then(|| ErrorRule {
            status: r.status,
            when,
            scim_status: r.scim_status,
            scim_type,
            detail: r.detail.clone(),
        })
    }

    // --- [[schemas]] ---
}

/// Splits `http(s)://host[:port][/prefix]` into origin, prefix (no trailing slash) and https.
pub(crate) fn split_base_url(u: &str) -> Result<(String, String, bool), String> {
    let (https, rest) = if let Some(r) = u.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = u.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("expected an http:// or https:// URL".to_owned());
    };
    if u.contains(['?', '#', ' ']) {
        return Err("no query, fragment or spaces in the base URL".to_owned());
    }
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err("expected a host (and optional port), without user info".to_owned());
    }
    if authority.parse::<http::uri::Authority>().is_err() {
        return Err("invalid host or port".to_owned());
    }
    Ok((
        format!("{}://{authority}", if https { "https" } else { "http" }),
        prefix.to_owned(),
        https,
    ))
}

pub(super) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(char::from(T[(n >> 18) as usize & 63]));
        out.push(char::from(T[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(T[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(T[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_split_into_origin_and_prefix() {
        assert_eq!(
            split_base_url("http://127.0.0.1:8081"),
            Ok(("http://127.0.0.1:8081".into(), String::new(), false))
        );
        assert_eq!(
            split_base_url("https://api.example.com/v2/"),
            Ok(("https://api.example.com".into(), "/v2".into(), true))
        );
        assert!(split_base_url("ftp://x").is_err());
        assert!(split_base_url("http://user:pw@x").is_err());
        assert!(split_base_url("http://x/?a=b").is_err());
        assert!(split_base_url("http://").is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
