//! Writing the guesses as a commented mapping file, in the style of `config/demo/mapping.toml`:
//! every guessed key under a `# CHECK:` comment saying why, keys that could not be guessed left
//! out with a comment saying so.

use std::fmt::Write as _;

use serde_json::Value;

use super::guess::{Call, Collection, List};
use super::names::{Kind, quote};
use super::spec::Spec;

/// The placeholder base URL when the document names no concrete server.
const PLACEHOLDER: &str = "http://127.0.0.1:8080";

/// A mapping file under construction.
pub(super) struct Out {
    text: String,
}

impl Out {
    pub(super) fn new() -> Out {
        Out {
            text: String::new(),
        }
    }

    pub(super) fn finish(self) -> String {
        self.text
    }

    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn check(&mut self, why: &str) {
        let _ = writeln!(self.text, "# CHECK: {why}");
    }

    fn kv(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.text, "{key} = {}", quote(value));
    }

    fn raw(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.text, "{key} = {value}");
    }

    pub(super) fn header(&mut self, spec: &Spec, source: &str) {
        let _ = writeln!(
            self.text,
            "# A mapping scaffolded by `scim-sidecar init --openapi {source}` from \"{}\" ({}).",
            spec.title().unwrap_or("untitled"),
            spec.version
        );
        self.line("# Every guess is marked `# CHECK:` with the reason it was made; keys that could not be");
        self.line(
            "# guessed are left out with a comment. Review each, then run `scim-sidecar check` and",
        );
        self.line("# `scim-sidecar explain`. Every key is described in config/demo/mapping.toml (the manual);");
        self.line("# what is guessed and how: docs/openapi-init.md.");
        self.line("");
    }

    pub(super) fn platform(&mut self, spec: &Spec) {
        let (prefix, concrete) = spec.server();
        self.line("# ---------------------------------------------------------------------------------------------");
        self.line("[platform]");
        match concrete {
            Some(url) => {
                self.check(
                    "the document's first server; in a sidecar this is usually the app on localhost. Every path below is appended to it",
                );
                self.kv("base_url", &url);
            }
            None => {
                self.check(&format!(
                    "a placeholder: the platform's address{}; every path below is appended to it",
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!(", with the document's path prefix {prefix}")
                    }
                ));
                self.kv("base_url", &format!("{PLACEHOLDER}{prefix}"));
            }
        }
        self.line("");
        self.auth(spec);
    }

    fn auth(&mut self, spec: &Spec) {
        self.line(
            "# How the sidecar authenticates to the platform: not guessed (it needs your secret's",
        );
        self.line("# source). Uncomment and complete one; the secret comes from an environment variable or a");
        self.line("# file, never from this file.");
        let schemes = spec.security_schemes();
        let mut written = false;
        for (name, scheme) in &schemes {
            let ty = scheme.get("type").and_then(Value::as_str).unwrap_or("");
            let s = |k: &str| scheme.get(k).and_then(Value::as_str).unwrap_or("");
            let lines: Vec<String> = match (ty, s("in"), s("scheme").to_ascii_lowercase().as_str())
            {
                ("apiKey", "header", _) => vec![
                    "kind = \"header\"".to_owned(),
                    format!("header = {}", quote(s("name"))),
                    "value_env = \"PLATFORM_API_KEY\"".to_owned(),
                ],
                ("http", _, "bearer") => vec![
                    "kind = \"bearer\"".to_owned(),
                    "value_env = \"PLATFORM_TOKEN\"".to_owned(),
                ],
                ("http", _, "basic") | ("basic", _, _) => vec![
                    "kind = \"basic\"".to_owned(),
                    "username = \"CHANGE_ME\"".to_owned(),
                    "password_env = \"PLATFORM_PASSWORD\"".to_owned(),
                ],
                ("oauth2", _, _) => {
                    let url = scheme
                        .pointer("/flows/clientCredentials/tokenUrl")
                        .or_else(|| scheme.get("tokenUrl"))
                        .and_then(Value::as_str)
                        .unwrap_or("https://CHANGE_ME/token");
                    vec![
                        "kind = \"oauth2\"".to_owned(),
                        format!("token_url = {}", quote(url)),
                        "client_id = \"CHANGE_ME\"".to_owned(),
                        "client_secret_env = \"PLATFORM_CLIENT_SECRET\"".to_owned(),
                    ]
                }
                _ => continue,
            };
            let _ = writeln!(
                self.text,
                "# CHECK: the document declares the security scheme {name:?} ({ty})"
            );
            self.line("# [platform.auth]");
            for l in lines {
                let _ = writeln!(self.text, "# {l}");
            }
            written = true;
        }
        if !written {
            self.line("# The document declares no usable security scheme; e.g.:");
            self.line("# [platform.auth]");
            self.line("# kind = \"bearer\"");
            self.line("# value_env = \"PLATFORM_TOKEN\"");
        }
        self.line("");
        self.line("# [platform.readiness] (the call /readyz makes) is not guessed; e.g. the users list with");
        self.line("# a page size of 1.");
        self.line("");
    }

    pub(super) fn resource(&mut self, c: &Collection) {
        let name = match c.kind {
            Kind::Users => "users",
            Kind::Groups => "groups",
        };
        self.line("# ---------------------------------------------------------------------------------------------");
        if c.read.is_none() {
            let _ = writeln!(
                self.text,
                "# [{name}] left out: {} looks like the {name} collection ({}), but no call reads one item",
                c.spec_path, c.why
            );
            self.line("# by its id, and a mapping needs one ([users.read]).");
            self.line("");
            return;
        }
        let _ = writeln!(
            self.text,
            "# The SCIM {} resource.",
            if c.kind == Kind::Users {
                "User"
            } else {
                "Group"
            }
        );
        let mut why = format!("{} is the collection: {}", c.spec_path, c.why);
        if !c.others.is_empty() {
            let _ = write!(why, "; other candidates: {}", c.others.join(", "));
        }
        self.check(&why);
        let _ = writeln!(self.text, "[{name}]");
        self.check(&c.id_why);
        self.kv("id", &c.id);
        self.kv("id_type", if c.id_integer { "integer" } else { "string" });
        self.line("");
        for (op, call) in [
            ("create", &c.create),
            ("read", &c.read),
            ("replace", &c.replace),
            ("update", &c.update),
            ("delete", &c.delete),
        ] {
            if op == "create" && call.is_some() && !c.unmapped_required.is_empty() {
                let _ = writeln!(
                    self.text,
                    "# The create body also requires {}, which no SCIM attribute maps to: give it a value with\n# `set = {{ ... }}` below, or map an attribute to it.",
                    c.unmapped_required.join(", ")
                );
            }
            match call {
                Some(call) => self.call(&format!("{name}.{op}"), call),
                None => {
                    let _ = writeln!(
                        self.text,
                        "# [{name}.{op}] left out: no such call found in the document.\n"
                    );
                }
            }
        }
        match &c.list {
            Some(list) => self.list(&format!("{name}.list"), list, None),
            None => {
                let _ = writeln!(
                    self.text,
                    "# [{name}.list] left out: the collection has no GET.\n"
                );
            }
        }
        self.filters(name, c);
        for f in &c.fields {
            self.check(&f.why);
            let _ = writeln!(self.text, "[[{name}.attributes]]");
            if f.scim.contains('"') {
                let _ = writeln!(self.text, "scim = '{}'", f.scim);
            } else {
                self.kv("scim", f.scim);
            }
            self.kv("field", &f.field);
            if let Some(r) = &f.read {
                self.kv("read", r);
            }
            if let Some(v) = &f.values {
                self.raw("values", v);
            }
            if f.required {
                self.raw("required", "true");
            }
            self.line("");
        }
        let found: Vec<&str> = c.fields.iter().map(|f| f.scim).collect();
        let wanted: &[&str] = match c.kind {
            Kind::Users => &[
                "userName",
                "emails[type eq \"work\"].value",
                "name.givenName",
                "name.familyName",
                "displayName",
                "active",
                "externalId",
            ],
            Kind::Groups => &["displayName", "externalId"],
        };
        let missing: Vec<&&str> = wanted.iter().filter(|w| !found.contains(w)).collect();
        if !missing.is_empty() {
            let _ = writeln!(
                self.text,
                "# No field found for: {}. Map them by hand if the platform holds them.\n",
                missing
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(m) = &c.members {
            self.check(&m.why);
            let _ = writeln!(self.text, "[{name}.members]");
            self.kv("mode", "calls");
            self.line("");
            match &m.list {
                Some(l) => self.list(&format!("{name}.members.list"), l, Some(&m.value)),
                None => {
                    let _ = writeln!(
                        self.text,
                        "# [{name}.members.list] left out: no GET on the members path.\n"
                    );
                }
            }
            match &m.add {
                Some((call, field)) => {
                    self.check(&call.why);
                    let _ = writeln!(self.text, "[{name}.members.add]");
                    self.kv("method", call.method);
                    self.kv("path", &call.path);
                    if let Some(f) = field {
                        let _ = writeln!(self.text, "body = {{ {} = \"{{member}}\" }}", quote(f));
                    }
                    self.line("");
                }
                None => {
                    let _ = writeln!(
                        self.text,
                        "# [{name}.members.add] left out: no call adding a member found.\n"
                    );
                }
            }
            match &m.remove {
                Some(call) => self.call(&format!("{name}.members.remove"), call),
                None => {
                    let _ = writeln!(
                        self.text,
                        "# [{name}.members.remove] left out: no call removing a member found.\n"
                    );
                }
            }
        } else if c.kind == Kind::Groups {
            self.line("# [groups.members] left out: no members path under the group's item path was found.\n");
        }
    }

    fn call(&mut self, key: &str, call: &Call) {
        self.check(&call.why);
        let _ = writeln!(self.text, "[{key}]");
        self.kv("method", call.method);
        self.kv("path", &call.path);
        if let Some(r) = &call.response {
            self.kv("response", r);
        }
        self.line("");
    }

    fn list(&mut self, key: &str, list: &List, value: Option<&str>) {
        self.check(&format!(
            "{}; items at {}{}",
            list.why,
            list.items,
            match (&list.total, &list.total_header) {
                (Some(t), _) => format!(", the total at {t}"),
                (None, Some(h)) => format!(", the total in the {h} header"),
                (None, None) =>
                    ", no total found (the sidecar then counts what it reads)".to_owned(),
            }
        ));
        let _ = writeln!(self.text, "[{key}]");
        self.kv("path", &list.path);
        self.kv("items", &list.items);
        if let Some(t) = &list.total {
            self.kv("total", t);
        }
        if let Some(h) = &list.total_header {
            self.kv("total_header", h);
        }
        if let Some(v) = value {
            self.kv("value", v);
        }
        self.check(&list.paging_why);
        for (k, v) in &list.paging {
            if *k == "first_page" {
                self.raw(k, v);
            } else {
                self.kv(k, v);
            }
        }
        self.line("");
    }

    fn filters(&mut self, name: &str, c: &Collection) {
        let Some(list) = &c.list else { return };
        for f in &c.fields {
            if !matches!(
                f.scim,
                "userName" | "emails[type eq \"work\"].value" | "externalId" | "displayName"
            ) {
                continue;
            }
            let Some(param) = list
                .params
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&f.field))
            else {
                continue;
            };
            self.check(&format!(
                "the list takes ?{param}=, named like the field {}; how it compares (exact, case, substring) is not in the document: set `match` if known",
                f.field
            ));
            let _ = writeln!(self.text, "[[{name}.filters]]");
            if f.scim.contains('"') {
                let _ = writeln!(self.text, "attribute = '{}'", f.scim);
            } else {
                self.kv("attribute", f.scim);
            }
            self.kv("param", param);
            self.line("");
        }
    }
}
