//! Compiling a mapping file into a [`Mapping`]: every key checked, every path and template parsed,
//! every problem reported at once with its key, value and file.

use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::magic::RelativePathBuf;
use http::Method;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, Settings};
use crate::config::{ConfigError, values};
use crate::mapping::field::FieldPath;
use crate::mapping::jsonpath::JsonPath;
use crate::mapping::model::{
    AttrMap, CallPair, Deactivation, ErrorRule, IdType, ListSpec, Mapping, MemberCalls, MemberSpec,
    OnEmpty, Op, Paging, PlatformType, PushRule, Read, ResourceMap, Total,
};
use crate::mapping::pushdown;
use crate::mapping::raw;
use crate::mapping::template::{BodyTemplate, JoinTemplate, PathTemplate, TextTemplate, Var};
use crate::routes::ResourceKind;
use crate::scim::error::ScimType;
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::path::{Location, PatchPath, resolve};
use crate::scim::schema::{AttrType, Extension, Mutability, Registry, ResourceSchema, Schema};

/// Where secrets named in the mapping (`value_env`, `password_env`) are looked up.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Compiles the mapping file at `path`. `env` resolves `*_env` secrets; `base_url` overrides
/// `platform.base_url` (the demo uses it to point at the platform it just started).
pub fn load(
    path: &Path,
    env: EnvLookup<'_>,
    base_url: Option<&str>,
) -> Result<Mapping, Vec<ConfigError>> {
    let file = path.display().to_string();
    if !path.is_file() {
        return Err(vec![ConfigError {
            key: "(file)".to_owned(),
            value: Some(file.clone()),
            source: file,
            reason: "mapping file not found".to_owned(),
        }]);
    }
    let figment = Figment::from(Toml::file_exact(path));
    let raw: raw::MappingFile = match figment.extract_lossy() {
        Ok(r) => r,
        Err(err) => return Err(figment_errors(err, &file)),
    };
    let mut c = Compiler {
        file,
        env,
        errors: Vec::new(),
    };
    match c.mapping(raw, path, base_url) {
        Some(m) if c.errors.is_empty() => Ok(m),
        _ => Err(c.errors),
    }
}

fn figment_errors(err: figment::Error, file: &str) -> Vec<ConfigError> {
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
                source: file.to_owned(),
                reason: e.kind.to_string(),
            }
        })
        .collect()
}

/// The fixed facts of one kind of operation: its name, default method, allowed placeholders,
/// whether `{id}` is required, and what an empty success means.
struct OpSpec {
    name: &'static str,
    method: Method,
    vars: &'static [Var],
    need_id: bool,
    on_empty: OnEmpty,
}

const CREATE: OpSpec = OpSpec {
    name: "create",
    method: Method::POST,
    vars: &[],
    need_id: false,
    on_empty: OnEmpty::Read,
};
const READ: OpSpec = OpSpec {
    name: "read",
    method: Method::GET,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Read,
};
const REPLACE: OpSpec = OpSpec {
    name: "replace",
    method: Method::PUT,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Read,
};
const UPDATE: OpSpec = OpSpec {
    name: "update",
    method: Method::PATCH,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Read,
};
const DELETE: OpSpec = OpSpec {
    name: "delete",
    method: Method::DELETE,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Nothing,
};
const DEACTIVATE: OpSpec = OpSpec {
    name: "deactivate",
    method: Method::POST,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Nothing,
};
const ACTIVATE: OpSpec = OpSpec {
    name: "activate",
    method: Method::POST,
    vars: &[Var::Id],
    need_id: true,
    on_empty: OnEmpty::Nothing,
};
const MEMBERS_ADD: OpSpec = OpSpec {
    name: "members.add",
    method: Method::POST,
    vars: &[Var::Id, Var::Member],
    need_id: true,
    on_empty: OnEmpty::Nothing,
};
const MEMBERS_REMOVE: OpSpec = OpSpec {
    name: "members.remove",
    method: Method::DELETE,
    vars: &[Var::Id, Var::Member],
    need_id: true,
    on_empty: OnEmpty::Nothing,
};

struct Compiler<'a> {
    file: String,
    env: EnvLookup<'a>,
    errors: Vec<ConfigError>,
}

fn q(s: &str) -> Option<String> {
    Some(format!("{s:?}"))
}

/// A `&'static str` label for an operation (metric label values are static).
fn label(kind: ResourceKind, op: &str) -> &'static str {
    match (kind, op) {
        (ResourceKind::User, "create") => "users.create",
        (ResourceKind::User, "read") => "users.read",
        (ResourceKind::User, "replace") => "users.replace",
        (ResourceKind::User, "update") => "users.update",
        (ResourceKind::User, "delete") => "users.delete",
        (ResourceKind::User, "list") => "users.list",
        (ResourceKind::User, "deactivate") => "users.deactivate",
        (ResourceKind::User, "activate") => "users.activate",
        (ResourceKind::Group, "create") => "groups.create",
        (ResourceKind::Group, "read") => "groups.read",
        (ResourceKind::Group, "replace") => "groups.replace",
        (ResourceKind::Group, "update") => "groups.update",
        (ResourceKind::Group, "delete") => "groups.delete",
        (ResourceKind::Group, "list") => "groups.list",
        (ResourceKind::Group, "members.list") => "groups.members.list",
        (ResourceKind::Group, "members.add") => "groups.members.add",
        (ResourceKind::Group, "members.remove") => "groups.members.remove",
        _ => "other",
    }
}

fn section(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

impl Compiler<'_> {
    fn err(&mut self, key: impl Into<String>, value: Option<String>, reason: impl Into<String>) {
        self.errors.push(ConfigError {
            key: key.into(),
            value,
            source: self.file.clone(),
            reason: reason.into(),
        });
    }

    fn duration(&mut self, key: &str, raw: Option<String>, default: Duration) -> Duration {
        match raw {
            None => default,
            Some(s) => match values::duration(&s) {
                Ok(d) if d.is_zero() => {
                    self.err(key, q(&s), "must be greater than zero");
                    default
                }
                Ok(d) => d,
                Err(r) => {
                    self.err(key, q(&s), r);
                    default
                }
            },
        }
    }

    fn json_path(&mut self, key: &str, text: &str) -> Option<JsonPath> {
        JsonPath::compile(text)
            .map_err(|r| self.err(key, q(text), r))
            .ok()
    }

    fn field(&mut self, key: &str, text: &str) -> Option<FieldPath> {
        FieldPath::parse(text)
            .map_err(|r| self.err(key, q(text), r))
            .ok()
    }

    fn path_template(&mut self, key: &str, text: &str, vars: &[Var]) -> Option<PathTemplate> {
        PathTemplate::parse(text, vars)
            .map_err(|r| self.err(key, q(text), r))
            .ok()
    }

    fn query(
        &mut self,
        key: &str,
        raw: &BTreeMap<String, String>,
        vars: &[Var],
    ) -> Vec<(String, TextTemplate)> {
        raw.iter()
            .filter_map(|(k, v)| {
                TextTemplate::parse(v, vars)
                    .map_err(|r| self.err(format!("{key}.{k}"), q(v), r))
                    .ok()
                    .map(|t| (k.clone(), t))
            })
            .collect()
    }

    fn secret(
        &mut self,
        prefix: &str,
        (env_key, env): (&str, &Option<String>),
        (file_key, file): (&str, &Option<RelativePathBuf>),
    ) -> Option<String> {
        match (env, file) {
            (Some(var), None) => match (self.env)(var) {
                Some(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
                _ => {
                    self.err(
                        format!("{prefix}.{env_key}"),
                        Some(var.clone()),
                        "environment variable is not set or empty",
                    );
                    None
                }
            },
            (None, Some(f)) => {
                let p = f.relative();
                match std::fs::read_to_string(&p) {
                    Ok(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
                    Ok(_) => {
                        self.err(
                            format!("{prefix}.{file_key}"),
                            Some(p.display().to_string()),
                            "the file is empty",
                        );
                        None
                    }
                    Err(e) => {
                        self.err(
                            format!("{prefix}.{file_key}"),
                            Some(p.display().to_string()),
                            format!("cannot read: {e}"),
                        );
                        None
                    }
                }
            }
            (Some(_), Some(_)) => {
                self.err(
                    prefix,
                    None,
                    format!("set either {env_key} or {file_key}, not both"),
                );
                None
            }
            (None, None) => {
                self.err(
                    prefix,
                    None,
                    format!("missing secret: set {env_key} (an environment variable name) or {file_key} (a file)"),
                );
                None
            }
        }
    }

    fn mapping(
        &mut self,
        raw: raw::MappingFile,
        path: &Path,
        base_url: Option<&str>,
    ) -> Option<Mapping> {
        let platform = self.platform(raw.platform, base_url);
        let registry = self.registry(&raw.schemas);
        let users = raw
            .users
            .and_then(|r| self.resource(ResourceKind::User, r, &registry.user));
        let groups = raw
            .groups
            .and_then(|r| self.resource(ResourceKind::Group, r, &registry.group));
        if users.is_none() && groups.is_none() && self.errors.is_empty() {
            self.err(
                "users",
                None,
                "the mapping maps neither [users] nor [groups]",
            );
        }
        if let Some(MemberSpec::OnUser { .. }) = groups.as_ref().and_then(|g| g.members.as_ref()) {
            match &users {
                None => self.err(
                    "groups.members.mode",
                    q("on_user"),
                    "membership held on the user needs a [users] mapping",
                ),
                Some(u) if u.update.is_none() && u.replace.is_none() => self.err(
                    "groups.members.mode",
                    q("on_user"),
                    "membership held on the user needs [users.update] or [users.replace] to write it",
                ),
                Some(u) if u.list.is_none() => self.err(
                    "groups.members.mode",
                    q("on_user"),
                    "membership held on the user needs [users.list] to find a group's members",
                ),
                Some(_) => {}
            }
        }
        let (settings, errors, readiness) = platform?;
        if !self.errors.is_empty() {
            return None;
        }
        let backend = match Backend::new(settings) {
            Ok(b) => Arc::new(b),
            Err(r) => {
                self.err("platform.ca_file", None, r);
                return None;
            }
        };
        Some(Mapping {
            file: path.to_path_buf(),
            backend,
            errors,
            users,
            groups,
            readiness,
        })
    }

    // --- [platform] ---

    fn readiness(&mut self, r: Option<raw::Readiness>) -> Option<crate::mapping::model::Readiness> {
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
            },
            cache,
        })
    }

    fn platform(
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

    fn auth(&mut self, a: &raw::PlatformAuth) -> Option<(HeaderName, HeaderValue)> {
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

    fn error_rule(&mut self, i: usize, r: &raw::ErrorRule) -> Option<ErrorRule> {
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

    fn registry(&mut self, defs: &[raw::SchemaDef]) -> Registry {
        let mut reg = Registry::standard();
        for (i, d) in defs.iter().enumerate() {
            let key = format!("schemas[{i}]");
            let Some(id) = d.id.as_deref() else {
                self.err(format!("{key}.id"), None, "missing; the extension's URN");
                continue;
            };
            if !id.starts_with("urn:") || id.contains(char::is_whitespace) {
                self.err(format!("{key}.id"), q(id), "an extension id is a URN, e.g. \"urn:example:params:scim:schemas:extension:acme:2.0:User\"");
                continue;
            }
            let target = match d.resource.as_deref() {
                Some("User") => &mut reg.user,
                Some("Group") => &mut reg.group,
                other => {
                    self.err(
                        format!("{key}.resource"),
                        other.and_then(q),
                        "the resource type this extension belongs to: \"User\" or \"Group\"",
                    );
                    continue;
                }
            };
            if target.urns().any(|u| u.eq_ignore_ascii_case(id)) {
                self.err(format!("{key}.id"), q(id), "this schema is already defined");
                continue;
            }
            let mut attrs = Vec::new();
            for (j, a) in d.attributes.iter().enumerate() {
                match a.compile() {
                    Ok(a) => attrs.push(a),
                    Err(es) => {
                        for (k, r) in es {
                            self.err(format!("{key}.attributes[{j}].{k}"), None, r);
                        }
                    }
                }
            }
            let schema = Schema {
                id: id.to_owned(),
                name: d
                    .name
                    .clone()
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id).to_owned()),
                description: d.description.clone(),
                attributes: attrs,
            };
            let mut rs = (**target).clone();
            rs.extensions.push(Extension {
                schema: Arc::new(schema),
                required: d.required,
            });
            *target = Arc::new(rs);
        }
        reg
    }

    // --- [users] / [groups] ---

    fn op(&mut self, kind: ResourceKind, spec: &OpSpec, raw: Option<raw::Operation>) -> Option<Op> {
        let raw = raw?;
        let OpSpec {
            name,
            vars,
            need_id,
            on_empty,
            ..
        } = *spec;
        let default_method = spec.method.clone();
        let key = format!("{}.{name}", section(kind));
        let before = self.errors.len();
        let method = match raw.method.as_deref() {
            None => default_method,
            Some(m) => match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                Ok(m) => m,
                Err(_) => {
                    self.err(format!("{key}.method"), q(m), "not an HTTP method");
                    default_method
                }
            },
        };
        let path = match raw.path.as_deref() {
            Some(p) => self.path_template(&format!("{key}.path"), p, vars),
            None => {
                self.err(
                    format!("{key}.path"),
                    None,
                    "missing; the request path, e.g. \"/api/v1/users/{id}\"",
                );
                None
            }
        };
        if let Some(p) = &path
            && need_id
            && !p.uses(Var::Id)
        {
            self.err(
                format!("{key}.path"),
                q(p.as_str()),
                "must contain {id}, the platform id of the resource",
            );
        }
        let query = self.query(&format!("{key}.query"), &raw.query, vars);
        if !raw.headers.is_empty() {
            self.err(
                format!("{key}.headers"),
                None,
                "per-operation headers are not supported; use [platform.headers]",
            );
        }
        let body = raw.body.and_then(|b| {
            BodyTemplate::parse(b, vars)
                .map_err(|r| self.err(format!("{key}.body"), None, r))
                .ok()
        });
        let response = self.json_path(
            &format!("{key}.response"),
            raw.response.as_deref().unwrap_or("$"),
        );
        let on_empty = match raw.on_empty.as_deref() {
            None => on_empty,
            Some("read") => OnEmpty::Read,
            Some("nothing") => OnEmpty::Nothing,
            Some(other) => {
                self.err(
                    format!("{key}.on_empty"),
                    q(other),
                    "expected \"read\" or \"nothing\"",
                );
                on_empty
            }
        };
        let mut set = Vec::new();
        for (f, v) in &raw.set {
            if let Some(fp) = self.field(&format!("{key}.set.{f}"), f) {
                set.push((fp, v.clone()));
            }
        }
        for s in &raw.ok {
            if !(100..=599).contains(s) {
                self.err(
                    format!("{key}.ok"),
                    Some(s.to_string()),
                    "not an HTTP status",
                );
            }
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Op {
            label: label(kind, name),
            method,
            path: path?,
            query,
            body,
            response: response?,
            on_empty,
            set,
            ok: raw.ok,
        })
    }

    fn list(
        &mut self,
        kind: ResourceKind,
        key: &str,
        name: &str,
        raw: raw::List,
        vars: &[Var],
        member_list: bool,
    ) -> Option<ListSpec> {
        let before = self.errors.len();
        let path = match raw.path.as_deref() {
            Some(p) => self.path_template(&format!("{key}.path"), p, vars),
            None => {
                self.err(
                    format!("{key}.path"),
                    None,
                    "missing; the collection path, e.g. \"/api/v1/users\"",
                );
                None
            }
        };
        let query = self.query(&format!("{key}.query"), &raw.query, vars);
        let items = self.json_path(&format!("{key}.items"), raw.items.as_deref().unwrap_or("$"));
        let total = match (&raw.total, &raw.total_header) {
            (Some(p), None) => self.json_path(&format!("{key}.total"), p).map(Total::Body),
            (None, Some(h)) => match HeaderName::from_bytes(h.as_bytes()) {
                Ok(n) => Some(Total::Header(n)),
                Err(_) => {
                    self.err(
                        format!("{key}.total_header"),
                        q(h),
                        "not a valid header name",
                    );
                    None
                }
            },
            (None, None) => Some(Total::Absent),
            (Some(_), Some(_)) => {
                self.err(
                    key,
                    None,
                    "set `total` (a JSONPath) or `total_header`, not both",
                );
                None
            }
        };
        let page_size = raw.page_size.unwrap_or(100);
        if page_size == 0 || page_size > 10_000 {
            self.err(
                format!("{key}.page_size"),
                Some(page_size.to_string()),
                "must be between 1 and 10000",
            );
        }
        let scan_limit = raw.scan_limit.unwrap_or(10_000);
        if scan_limit == 0 {
            self.err(
                format!("{key}.scan_limit"),
                Some("0".to_owned()),
                "must be at least 1",
            );
        }
        let next = |c: &mut Self| -> Option<JsonPath> {
            match &raw.next {
                Some(p) => c.json_path(&format!("{key}.next"), p),
                None => {
                    c.err(format!("{key}.next"), None, "missing; a JSONPath to the next cursor or URL in the response, e.g. \"$.meta.next\"");
                    None
                }
            }
        };
        let paging = match raw.paging.as_deref() {
            Some("page") => Some(Paging::Page {
                page_param: raw.page_param.clone().unwrap_or_else(|| "page".to_owned()),
                size_param: raw
                    .size_param
                    .clone()
                    .unwrap_or_else(|| "per_page".to_owned()),
                first: raw.first_page.unwrap_or(1),
            }),
            Some("offset") => Some(Paging::Offset {
                offset_param: raw
                    .offset_param
                    .clone()
                    .unwrap_or_else(|| "offset".to_owned()),
                limit_param: raw
                    .limit_param
                    .clone()
                    .unwrap_or_else(|| "limit".to_owned()),
            }),
            Some("cursor") => next(self).map(|next| Paging::Cursor {
                cursor_param: raw
                    .cursor_param
                    .clone()
                    .unwrap_or_else(|| "cursor".to_owned()),
                size_param: raw.size_param.clone(),
                next,
            }),
            Some("next_url") => next(self).map(|next| Paging::NextUrl { next }),
            Some("link") => Some(Paging::LinkHeader),
            Some("none") => Some(Paging::None),
            other => {
                self.err(
                    format!("{key}.paging"),
                    other.and_then(q),
                    "expected \"page\", \"offset\", \"cursor\", \"next_url\", \"link\" or \"none\"",
                );
                None
            }
        };
        let value = match (&raw.value, member_list) {
            (Some(v), true) => self.json_path(&format!("{key}.value"), v),
            (None, true) => {
                self.err(format!("{key}.value"), None, "missing; a JSONPath to the member's platform id in an item, e.g. \"$.user_id\"");
                None
            }
            (Some(v), false) => {
                self.err(
                    format!("{key}.value"),
                    q(v),
                    "only member lists take `value`",
                );
                None
            }
            (None, false) => None,
        };
        if self.errors.len() > before {
            return None;
        }
        Some(ListSpec {
            label: label(kind, name),
            path: path?,
            query,
            items: items?,
            total: total?,
            paging: paging?,
            page_size,
            scan_limit,
            value,
        })
    }

    fn resource(
        &mut self,
        kind: ResourceKind,
        r: raw::Resource,
        schema: &Arc<ResourceSchema>,
    ) -> Option<ResourceMap> {
        let sec = section(kind);
        let before = self.errors.len();
        let id = self.json_path(&format!("{sec}.id"), r.id.as_deref().unwrap_or("$.id"));
        let has_read = r.read.is_some();
        let id_type = match r.id_type.as_deref() {
            None | Some("string") => IdType::String,
            Some("integer") => IdType::Integer,
            Some(other) => {
                self.err(
                    format!("{sec}.id_type"),
                    q(other),
                    "expected \"integer\" or \"string\"",
                );
                IdType::String
            }
        };
        let create = self.op(kind, &CREATE, r.create);
        let read = self.op(kind, &READ, r.read);
        let replace = self.op(kind, &REPLACE, r.replace);
        let update = self.op(kind, &UPDATE, r.update);
        let delete = self.op(kind, &DELETE, r.delete);
        if !has_read {
            self.err(
                format!("{sec}.read"),
                None,
                "missing; reading one resource by id is needed for GET and PATCH, e.g. path = \"/api/v1/users/{id}\"",
            );
        }
        let list = r
            .list
            .and_then(|l| self.list(kind, &format!("{sec}.list"), "list", l, &[], false));

        let mut attributes = Vec::new();
        for (i, a) in r.attributes.iter().enumerate() {
            if let Some(m) = self.attribute(&format!("{sec}.attributes[{i}]"), a, schema) {
                attributes.push(m);
            }
        }
        let mut seen: HashMap<String, String> = HashMap::new();
        for m in &attributes {
            let k = pushdown::key_of_attr(m);
            if let Some(prev) = seen.insert(k, m.key.clone()) {
                self.err(
                    &m.key,
                    q(&m.scim),
                    format!("this SCIM attribute is already mapped by {prev}"),
                );
            }
        }

        let deactivate = match (kind, r.deactivate) {
            (_, None) => Deactivation::Field,
            (ResourceKind::Group, Some(_)) => {
                self.err(
                    "groups.deactivate",
                    None,
                    "groups have no `active` attribute",
                );
                Deactivation::Field
            }
            (ResourceKind::User, Some(d)) => {
                self.deactivation(d, &mut attributes, delete.is_some())
            }
        };
        let members = match (kind, r.members) {
            (_, None) => None,
            (ResourceKind::User, Some(_)) => {
                self.err(
                    "users.members",
                    None,
                    "membership is mapped under [groups.members]",
                );
                None
            }
            (ResourceKind::Group, Some(m)) => {
                self.members(m, update.is_some() || replace.is_some())
            }
        };

        let mut pushdown_rules = Vec::new();
        for (i, f) in r.filters.iter().enumerate() {
            if let Some(rule) =
                self.push_rule(&format!("{sec}.filters[{i}]"), f, schema, &attributes)
            {
                pushdown_rules.push(rule);
            }
        }
        if !pushdown_rules.is_empty() && list.is_none() {
            self.err(
                format!("{sec}.filters"),
                None,
                format!("filters push down into [{sec}.list], which is missing"),
            );
        }
        let published = Arc::new(published_schema(schema, &attributes, members.is_some()));
        if self.errors.len() > before {
            return None;
        }
        Some(ResourceMap {
            kind,
            schema: schema.clone(),
            published,
            id: id?,
            id_type,
            create,
            read,
            replace,
            update,
            delete,
            list,
            pushdown: pushdown_rules,
            attributes,
            deactivate,
            members,
        })
    }

    fn attribute(
        &mut self,
        key: &str,
        a: &raw::Attribute,
        schema: &ResourceSchema,
    ) -> Option<AttrMap> {
        let before = self.errors.len();
        let Some(scim) = a.scim.as_deref() else {
            self.err(
                format!("{key}.scim"),
                None,
                "missing; the SCIM attribute, e.g. \"name.givenName\"",
            );
            return None;
        };
        let path = match PatchPath::parse(scim) {
            Ok(p) => p,
            Err(e) => {
                self.err(format!("{key}.scim"), q(scim), e.detail);
                return None;
            }
        };
        let Some(target) = resolve(schema, &path.attr) else {
            if let Some(sub) = &path.attr.sub {
                let parent = crate::scim::path::AttrPath {
                    sub: None,
                    ..path.attr.clone()
                };
                if let Some(t) = resolve(schema, &parent) {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        format!("{} has no sub-attribute {sub:?}", t.attribute.name),
                    );
                    return None;
                }
            }
            self.err(
                format!("{key}.scim"),
                q(scim),
                format!("not an attribute of the {} schemas; declare custom attributes in a [[schemas]] extension", schema.resource_type),
            );
            return None;
        };
        let top = target.attribute;
        let extension = match target.location {
            Location::Core => None,
            Location::Extension(urn) => Some(urn.to_owned()),
        };
        let sub_name = path.sub.as_deref().or(target.sub.map(|s| s.name.as_str()));
        let sub = match sub_name {
            None => None,
            Some(n) => match top.sub(n) {
                Some(s) => Some(s),
                None => {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        format!("{} has no sub-attribute {n:?}", top.name),
                    );
                    return None;
                }
            },
        };
        let name_lc = top.name.to_ascii_lowercase();
        if extension.is_none() && matches!(name_lc.as_str(), "id" | "schemas") {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "`id` is mapped by the resource's `id` key, `schemas` by the sidecar",
            );
            return None;
        }
        if extension.is_none() && matches!(name_lc.as_str(), "members" | "groups") {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "membership is mapped under [groups.members]",
            );
            return None;
        }
        if extension.is_none() && name_lc == "meta" {
            let ok = sub.is_some_and(|s| matches!(s.name.as_str(), "created" | "lastModified"));
            if !ok {
                self.err(
                    format!("{key}.scim"),
                    q(scim),
                    "of meta, only meta.created and meta.lastModified can be mapped",
                );
                return None;
            }
        }
        let (filter, filter_eqs) = match &path.filter {
            None => (None, Vec::new()),
            Some(f) => {
                if !top.multi_valued || !top.is_complex() {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        "a value filter selects elements of a multi-valued complex attribute",
                    );
                    return None;
                }
                match filter_equalities(f, top) {
                    Some(eqs) => (Some(f.clone()), eqs),
                    None => {
                        self.err(format!("{key}.scim"), q(scim), "a mapped value filter must be `sub eq value` conditions joined by `and`, e.g. emails[type eq \"work\"].value");
                        return None;
                    }
                }
            }
        };
        if top.is_complex() && sub.is_none() {
            self.err(
                format!("{key}.scim"),
                q(scim),
                format!(
                    "{} is complex: map its sub-attributes, e.g. {}.{}",
                    top.name,
                    top.name,
                    top.sub_attributes
                        .first()
                        .map(|s| s.name.as_str())
                        .unwrap_or("value")
                ),
            );
            return None;
        }
        if top.multi_valued && top.is_complex() && filter.is_none() {
            self.err(format!("{key}.scim"), q(scim), format!("{} is multi-valued: select one element with a value filter, e.g. {}[type eq \"work\"].value", top.name, top.name));
            return None;
        }
        if top.multi_valued && !top.is_complex() {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "simple multi-valued attributes cannot be mapped",
            );
            return None;
        }
        let leaf = sub.unwrap_or(top);
        let ty = leaf.ty;
        let scim_read_only =
            leaf.mutability == Mutability::ReadOnly || top.mutability == Mutability::ReadOnly;

        let read_sources = [a.read.is_some(), a.template.is_some(), a.constant.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if read_sources > 1 {
            self.err(
                key,
                q(scim),
                "set at most one of `read`, `template`, `constant`",
            );
            return None;
        }
        let write = match &a.field {
            Some(f) => self.field(&format!("{key}.field"), f),
            None => None,
        };
        let read = if let Some(p) = &a.read {
            self.json_path(&format!("{key}.read"), p).map(Read::Json)
        } else if let Some(t) = &a.template {
            JoinTemplate::parse(t)
                .map_err(|r| self.err(format!("{key}.template"), q(t), r))
                .ok()
                .map(Read::Join)
        } else if let Some(c) = &a.constant {
            Some(Read::Constant(c.clone()))
        } else if let Some(w) = &write {
            Some(Read::Field(w.clone()))
        } else {
            self.err(
                key,
                q(scim),
                "set `field` (read and written), or `read`, `template` or `constant` (read-only)",
            );
            None
        };
        if (a.template.is_some() || a.constant.is_some()) && a.field.is_some() {
            self.err(
                key,
                q(scim),
                "`template` and `constant` are read-only: drop `field`, or use `read` with `field`",
            );
        }
        let writable = a.writable.unwrap_or(true) && !scim_read_only;
        let write = if writable { write } else { None };
        let required = a.required.unwrap_or(false);
        if required && write.is_none() {
            self.err(
                format!("{key}.required"),
                None,
                "only a written attribute (with `field`) can be required",
            );
        }
        if a.default.is_some() && write.is_none() {
            self.err(
                format!("{key}.default"),
                None,
                "only a written attribute (with `field`) can have a default",
            );
        }
        let platform_type = match a.platform_type.as_deref() {
            None => None,
            Some("string") => Some(PlatformType::String),
            Some("integer") => Some(PlatformType::Integer),
            Some("number") => Some(PlatformType::Number),
            Some("boolean") => Some(PlatformType::Boolean),
            Some(other) => {
                self.err(
                    format!("{key}.type"),
                    q(other),
                    "expected \"string\", \"integer\", \"number\" or \"boolean\"",
                );
                None
            }
        };
        if let Some(values) = &a.values {
            if ty == AttrType::Boolean {
                for k in values.keys() {
                    if k != "true" && k != "false" {
                        self.err(
                            format!("{key}.values.{k}"),
                            None,
                            format!(
                                "{} is boolean: the keys are \"true\" and \"false\"",
                                leaf.name
                            ),
                        );
                    }
                }
            }
            let mut seen = BTreeSet::new();
            for (k, v) in values {
                if !seen.insert(v.to_string()) {
                    self.err(format!("{key}.values.{k}"), Some(v.to_string()), "two SCIM values map to the same platform value; reading it back would be ambiguous");
                }
            }
        }
        if let Some(d) = &a.default
            && !json_fits(d, ty)
        {
            self.err(
                format!("{key}.default"),
                Some(d.to_string()),
                format!("not a SCIM {} value", ty.as_str()),
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(AttrMap {
            key: key.to_owned(),
            scim: scim.to_owned(),
            extension,
            attr: top.name.clone(),
            filter,
            filter_eqs,
            sub: sub.map(|s| s.name.clone()),
            multi: top.multi_valued,
            ty,
            read: read?,
            write,
            lowercase: a.lowercase.unwrap_or(false),
            trim: a.trim.unwrap_or(false),
            values: a.values.clone(),
            platform_type,
            required,
            default: a.default.clone(),
            clear: a.clear.clone().unwrap_or(Value::Null),
        })
    }

    fn push_rule(
        &mut self,
        key: &str,
        f: &raw::FilterRule,
        schema: &ResourceSchema,
        attrs: &[AttrMap],
    ) -> Option<PushRule> {
        let Some(attribute) = f.attribute.as_deref() else {
            self.err(
                format!("{key}.attribute"),
                None,
                "missing; the SCIM attribute compared, e.g. \"userName\"",
            );
            return None;
        };
        let Some(param) = f.param.clone() else {
            self.err(
                format!("{key}.param"),
                None,
                "missing; the platform's query parameter, e.g. \"email\"",
            );
            return None;
        };
        let op = match f.op.as_deref() {
            None => CompareOp::Eq,
            Some(o) => match CompareOp::parse(o) {
                Some(op) => op,
                None => {
                    self.err(
                        format!("{key}.op"),
                        q(o),
                        "expected eq, ne, co, sw, ew, gt, ge, lt or le",
                    );
                    return None;
                }
            },
        };
        let k = match pushdown::key_of_path(attribute, schema) {
            Ok(k) => k,
            Err(r) => {
                self.err(format!("{key}.attribute"), q(attribute), r);
                return None;
            }
        };
        let Some(attr_index) = attrs.iter().position(|m| pushdown::key_of_attr(m) == k) else {
            self.err(format!("{key}.attribute"), q(attribute), "this attribute is not mapped in [[attributes]]; a pushed-down filter needs the attribute's mapping to transform the value");
            return None;
        };
        Some(PushRule {
            key: k,
            attribute: attribute.to_owned(),
            op,
            param,
            attr_index,
        })
    }

    fn deactivation(
        &mut self,
        d: raw::Deactivate,
        attributes: &mut [AttrMap],
        has_delete: bool,
    ) -> Deactivation {
        match d.mode.as_deref().unwrap_or("field") {
            "field" => Deactivation::Field,
            "calls" => {
                let deactivate = self.op(ResourceKind::User, &DEACTIVATE, d.deactivate);
                let activate = self.op(ResourceKind::User, &ACTIVATE, d.activate);
                match (deactivate, activate) {
                    (Some(deactivate), Some(activate)) => {
                        // `active` is read through its mapping but never written into bodies.
                        for m in attributes.iter_mut() {
                            if m.extension.is_none() && m.attr == "active" {
                                m.write = None;
                                m.required = false;
                            }
                        }
                        Deactivation::Calls(Box::new(CallPair {
                            deactivate,
                            activate,
                        }))
                    }
                    _ => {
                        self.err("users.deactivate", q("calls"), "mode = \"calls\" needs both [users.deactivate.deactivate] and [users.deactivate.activate]");
                        Deactivation::Field
                    }
                }
            }
            "delete" => {
                if !has_delete {
                    self.err("users.deactivate.mode", q("delete"), "needs [users.delete]");
                }
                if attributes
                    .iter()
                    .any(|m| m.extension.is_none() && m.attr == "active")
                {
                    self.err("users.deactivate.mode", q("delete"), "with deactivation by delete, every existing user is active: remove the `active` attribute mapping");
                }
                Deactivation::Delete
            }
            other => {
                self.err(
                    "users.deactivate.mode",
                    q(other),
                    "expected \"field\", \"calls\" or \"delete\"",
                );
                Deactivation::Field
            }
        }
    }

    fn members(&mut self, m: raw::Members, group_writable: bool) -> Option<MemberSpec> {
        let mode = m.mode.as_deref().unwrap_or("calls");
        match mode {
            "calls" => {
                let list = match m.list {
                    Some(l) => self.list(
                        ResourceKind::Group,
                        "groups.members.list",
                        "members.list",
                        l,
                        &[Var::Id],
                        true,
                    ),
                    None => {
                        self.err("groups.members.list", None, "missing; the member list call, e.g. path = \"/api/v1/groups/{id}/members\"");
                        None
                    }
                };
                let add = self.op(ResourceKind::Group, &MEMBERS_ADD, m.add);
                let remove = self.op(ResourceKind::Group, &MEMBERS_REMOVE, m.remove);
                for (name, op) in [("add", &add), ("remove", &remove)] {
                    match op {
                        None => self.err(
                            format!("groups.members.{name}"),
                            None,
                            "missing; mode = \"calls\" needs list, add and remove",
                        ),
                        Some(op) if !op.path.uses(Var::Member) && op.body.is_none() => self.err(
                            format!("groups.members.{name}"),
                            None,
                            "name the member with {member}, in the path or in a `body` template",
                        ),
                        Some(_) => {}
                    }
                }
                Some(MemberSpec::Calls(Box::new(MemberCalls {
                    list: list?,
                    add: add?,
                    remove: remove?,
                    already_member: if m.already_member.is_empty() {
                        vec![409]
                    } else {
                        m.already_member
                    },
                    not_member: if m.not_member.is_empty() {
                        vec![404]
                    } else {
                        m.not_member
                    },
                    unknown_member: m.unknown_member,
                })))
            }
            "embedded" => {
                if !group_writable {
                    self.err("groups.members.mode", q("embedded"), "embedded members are written with the group: needs [groups.update] or [groups.replace]");
                }
                let field = match m.field.as_deref() {
                    Some(f) => self.field("groups.members.field", f),
                    None => {
                        self.err(
                            "groups.members.field",
                            None,
                            "missing; the group field holding the member array",
                        );
                        None
                    }
                };
                let item_field = m
                    .item_field
                    .as_deref()
                    .and_then(|f| self.field("groups.members.item_field", f));
                Some(MemberSpec::Embedded {
                    field: field?,
                    item_field,
                })
            }
            "on_user" => {
                let field = match m.user_field.as_deref() {
                    Some(f) => self.field("groups.members.user_field", f),
                    None => {
                        self.err(
                            "groups.members.user_field",
                            None,
                            "missing; the user field holding the user's group ids",
                        );
                        None
                    }
                };
                let Some(param) = m.param else {
                    self.err(
                        "groups.members.param",
                        None,
                        "missing; the users-list query parameter selecting a group's members",
                    );
                    return None;
                };
                Some(MemberSpec::OnUser {
                    field: field?,
                    param,
                })
            }
            other => {
                self.err(
                    "groups.members.mode",
                    q(other),
                    "expected \"calls\", \"embedded\" or \"on_user\"",
                );
                None
            }
        }
    }
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

/// The `sub eq value` equalities of a conjunction, with sub-attribute names canonicalised.
fn filter_equalities(
    f: &Filter,
    attr: &crate::scim::schema::Attribute,
) -> Option<Vec<(String, Value)>> {
    match f {
        Filter::And(a, b) => {
            let mut l = filter_equalities(a, attr)?;
            l.extend(filter_equalities(b, attr)?);
            Some(l)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
            ..
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = attr.sub(&path.name)?;
            let v = match value {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Null => return None,
            };
            Some(vec![(sub.name.clone(), v)])
        }
        _ => None,
    }
}

fn json_fits(v: &Value, ty: AttrType) -> bool {
    match ty {
        AttrType::Boolean => v.is_boolean(),
        AttrType::Integer => v.is_i64() || v.is_u64(),
        AttrType::Decimal => v.is_number(),
        AttrType::Complex => v.is_object(),
        _ => v.is_string(),
    }
}

/// The schema a resource type publishes: only mapped attributes; a SCIM attribute writing the same
/// platform field as an earlier one is an alias and is not published (it cannot round-trip on its
/// own); attributes read but never written are published read-only; value-filter equalities narrow
/// the canonical values (`emails[type eq "work"]` publishes `type` with `["work"]`).
fn published_schema(full: &ResourceSchema, attrs: &[AttrMap], members: bool) -> ResourceSchema {
    #[derive(Default)]
    struct Keep {
        subs: BTreeMap<String, bool>,
        read_only: bool,
        canonical: BTreeMap<String, Vec<String>>,
        /// The platform needs it: published as required, with the sub-attributes it needs
        /// (the mapped one, and those its value filter selects on).
        required: Option<Vec<String>>,
    }
    let key_of = |m: &AttrMap| {
        (
            m.extension.clone().unwrap_or_default().to_ascii_lowercase(),
            m.attr.to_ascii_lowercase(),
        )
    };
    // An alias writes a field an earlier mapping already writes. An attribute mapped only through
    // aliases (and read-only companions such as a constant `primary`) is not published.
    let mut fields_seen: Vec<&FieldPath> = Vec::new();
    let mut alias = vec![false; attrs.len()];
    for (i, m) in attrs.iter().enumerate() {
        if let Some(w) = &m.write {
            alias[i] = fields_seen.contains(&w);
            fields_seen.push(w);
        }
    }
    let aliased: BTreeSet<(String, String)> = attrs
        .iter()
        .zip(&alias)
        .filter(|(_, a)| **a)
        .map(|(m, _)| key_of(m))
        .filter(|k| {
            !attrs
                .iter()
                .zip(&alias)
                .any(|(m, a)| !*a && m.write.is_some() && key_of(m) == *k)
        })
        .collect();
    let mut keep: BTreeMap<(String, String), Keep> = BTreeMap::new();
    for (i, m) in attrs.iter().enumerate() {
        if alias[i] || aliased.contains(&key_of(m)) {
            continue;
        }
        let ext = m.extension.clone().unwrap_or_default().to_ascii_lowercase();
        let entry = keep.entry((ext, m.attr.to_ascii_lowercase())).or_default();
        let ro = m.write.is_none();
        if m.required {
            let mut subs: Vec<String> = m.sub.iter().map(|s| s.to_ascii_lowercase()).collect();
            subs.extend(m.filter_eqs.iter().map(|(s, _)| s.to_ascii_lowercase()));
            entry.required = Some(subs);
        }
        match &m.sub {
            Some(s) => {
                let e = entry.subs.entry(s.to_ascii_lowercase()).or_insert(ro);
                *e = *e && ro;
            }
            None => entry.read_only = ro,
        }
        for (sub, v) in &m.filter_eqs {
            entry.subs.entry(sub.to_ascii_lowercase()).or_insert(false);
            if let Value::String(s) = v {
                let values = entry.canonical.entry(sub.to_ascii_lowercase()).or_default();
                if !values.contains(s) {
                    values.push(s.clone());
                }
            }
        }
    }
    if members {
        let e = keep
            .entry((String::new(), "members".to_owned()))
            .or_default();
        for s in ["value", "$ref", "type"] {
            e.subs.insert(s.to_owned(), false);
        }
    }
    let narrow = |schema: &Schema, ext: &str| -> Schema {
        let mut s = schema.narrowed(&|attr, sub| {
            let Some(k) = keep.get(&(ext.to_owned(), attr.to_ascii_lowercase())) else {
                return false;
            };
            match sub {
                None => true,
                Some(sub) => k.subs.contains_key(&sub.to_ascii_lowercase()),
            }
        });
        for a in &mut s.attributes {
            let Some(k) = keep.get(&(ext.to_owned(), a.name.to_ascii_lowercase())) else {
                continue;
            };
            if let Some(subs) = &k.required {
                a.required = true;
                for s in &mut a.sub_attributes {
                    if subs.iter().any(|r| s.name.eq_ignore_ascii_case(r)) {
                        s.required = true;
                    }
                }
            }
            if a.sub_attributes.is_empty() {
                if k.read_only {
                    a.mutability = Mutability::ReadOnly;
                }
                continue;
            }
            let mut all_ro = true;
            for sub in &mut a.sub_attributes {
                let lc = sub.name.to_ascii_lowercase();
                if k.subs.get(&lc).copied().unwrap_or(false) {
                    sub.mutability = Mutability::ReadOnly;
                } else {
                    all_ro = false;
                }
                if let Some(c) = k.canonical.get(&lc) {
                    sub.canonical_values = c.clone();
                }
            }
            if all_ro {
                a.mutability = Mutability::ReadOnly;
            }
        }
        s
    };
    ResourceSchema {
        resource_type: full.resource_type.clone(),
        core: Arc::new(narrow(&full.core, "")),
        extensions: full
            .extensions
            .iter()
            .map(|e| Extension {
                schema: Arc::new(narrow(&e.schema, &e.schema.id.to_ascii_lowercase())),
                required: e.required,
            })
            .filter(|e| !e.schema.attributes.is_empty())
            .collect(),
    }
}

fn base64(bytes: &[u8]) -> String {
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
