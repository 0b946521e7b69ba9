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

use crate::config::diagnostics::{self, ConfigError, Zero};
use crate::config::values;
use crate::mapping::field::FieldPath;
use crate::mapping::jsonpath::JsonPath;
use crate::mapping::model::{
    AnswerRule, AttrMap, CallPair, CountSpec, Deactivation, ErrorRule, Fidelity, IdType, ListSpec,
    Mapping, Match, MemberCalls, MemberSpec, OnEmpty, Op, Paging, PlatformType, PushRule, Read,
    ResourceMap, Total, ValuePart,
};
use crate::mapping::pushdown;
use crate::mapping::raw;
use crate::mapping::template::{BodyTemplate, JoinTemplate, PathTemplate, TextTemplate, Var};
use crate::platform::Settings;
use crate::scim::error::ScimType;
use crate::scim::filter::PatchPath;
use crate::scim::filter::{CompareOp, Filter, Literal};
use crate::scim::path::{Location, resolve};
use crate::scim::resource::ResourceKind;
use crate::scim::schema::{AttrType, Extension, Mutability, Registry, ResourceSchema, Schema};

mod attributes;
mod lists;
mod members;
mod operations;
mod platform;
mod schemas;
mod steps;

use schemas::published_schema;

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
        Err(err) => return Err(diagnostics::from_figment(err, |_| file.clone())),
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
        (ResourceKind::User, "count") => "users.count",
        (ResourceKind::User, "deactivate") => "users.deactivate",
        (ResourceKind::User, "activate") => "users.activate",
        (ResourceKind::Group, "create") => "groups.create",
        (ResourceKind::Group, "read") => "groups.read",
        (ResourceKind::Group, "replace") => "groups.replace",
        (ResourceKind::Group, "update") => "groups.update",
        (ResourceKind::Group, "delete") => "groups.delete",
        (ResourceKind::Group, "list") => "groups.list",
        (ResourceKind::Group, "count") => "groups.count",
        (ResourceKind::Group, "members.list") => "groups.members.list",
        (ResourceKind::Group, "members.add") => "groups.members.add",
        (ResourceKind::Group, "members.remove") => "groups.members.remove",
        _ => "other",
    }
}

fn section(kind: ResourceKind) -> &'static str {
    kind.section()
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
        diagnostics::duration(raw.as_deref(), default, Zero::Rejected).unwrap_or_else(
            |(value, reason)| {
                self.err(key, Some(value), reason);
                default
            },
        )
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
        let platform = match settings.load_tls() {
            Ok(s) => s,
            Err(e) => {
                self.err(e.key, None, e.reason);
                return None;
            }
        };
        Some(Mapping {
            file: path.to_path_buf(),
            platform,
            errors,
            users,
            groups,
            readiness,
        })
    }

    // --- [platform] ---

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
            .and_then(|l| self.list(kind, &format!("{sec}.list"), "list", l, &[], false))
            .map(|l| ListSpec {
                item_id: id.clone(),
                ..l
            });

        let mut attributes: Vec<AttrMap> = Vec::new();
        // SCIM attribute key → (config key, field) of its first mapping.
        let mut seen: HashMap<String, (String, Option<FieldPath>)> = HashMap::new();
        for (i, a) in r.attributes.iter().enumerate() {
            let Some(mut m) = self.attribute(&format!("{sec}.attributes[{i}]"), a, schema) else {
                continue;
            };
            let k = pushdown::key_of_attr(&m);
            if let Some((prev, prev_field)) = seen.get(&k) {
                // A further mapping of the same SCIM attribute is a written copy.
                let reads = a.read.is_some() || a.template.is_some() || a.constant.is_some();
                match &m.write {
                    _ if reads => self.err(
                        &m.key,
                        q(&m.scim),
                        format!("this SCIM attribute is already mapped by {prev}, which it is read from; a further mapping only writes a copy (`field`), without `read`, `template` or `constant`"),
                    ),
                    None => self.err(
                        &m.key,
                        q(&m.scim),
                        format!("this SCIM attribute is already mapped by {prev}; a further mapping must write a copy to another `field`"),
                    ),
                    Some(w) if prev_field.as_ref() == Some(w) => self.err(
                        format!("{}.field", m.key),
                        q(w.as_str()),
                        format!("this SCIM attribute is already written to this field by {prev}"),
                    ),
                    Some(_) if m.required || m.default.is_some() => self.err(
                        &m.key,
                        q(&m.scim),
                        format!("a copy follows {prev}: set `required` and `default` there"),
                    ),
                    Some(_) => m.copy = true,
                }
            } else {
                seen.insert(k, (m.key.clone(), m.write.clone()));
            }
            attributes.push(m);
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
        let concurrency = r
            .concurrency
            .and_then(|c| self.concurrency(sec, c, replace.is_some() || update.is_some()));
        let originals: Vec<AttrMap> = attributes.iter().filter(|m| !m.copy).cloned().collect();
        let published = Arc::new(published_schema(schema, &originals, members.is_some()));
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
            concurrency,
        })
    }

    fn concurrency(
        &mut self,
        sec: &str,
        c: raw::Concurrency,
        writable: bool,
    ) -> Option<crate::mapping::model::Concurrency> {
        let key = format!("{sec}.concurrency");
        let before = self.errors.len();
        if !writable {
            self.err(
                &key,
                None,
                "needs [replace] or [update]: it guards their writes",
            );
        }
        let version_field = c
            .version_field
            .as_deref()
            .and_then(|f| self.field(&format!("{key}.version_field"), f));
        let etag = c.etag.unwrap_or(false);
        if !etag && c.version_field.is_none() {
            self.err(
                &key,
                None,
                "says nothing: set etag = true (If-Match with the read's ETag) or version_field",
            );
        }
        let conflict = c.conflict.unwrap_or_else(|| vec![409, 412]);
        for s in &conflict {
            if !(400..=499).contains(s) {
                self.err(
                    format!("{key}.conflict"),
                    Some(s.to_string()),
                    "a conflict status is a 4xx (usually 409 or 412)",
                );
            }
        }
        let attempts = c.attempts.unwrap_or(5);
        if !(1..=10).contains(&attempts) {
            self.err(
                format!("{key}.attempts"),
                Some(attempts.to_string()),
                "expected 1-10",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        Some(crate::mapping::model::Concurrency {
            etag,
            version_field,
            conflict,
            attempts,
        })
    }
}
