//! Operations (`create`, `read`, `replace`, `update`, `delete`, and the calls of deactivation and
//! membership): method, path template, query, body, response path.

use super::*;

impl Compiler<'_> {
    pub(super) fn op(
        &mut self,
        kind: ResourceKind,
        spec: &OpSpec,
        raw: Option<raw::Operation>,
    ) -> Option<Op> {
        let raw = raw?;
        if !raw.steps.is_empty() {
            return self.steps_op(kind, spec, raw);
        }
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
        let is_replace = name == "replace";
        if raw.result.is_some() {
            self.err(
                format!("{key}.result"),
                raw.result.as_deref().and_then(q),
                "`result` names one of the operation's `steps`, and there are none",
            );
        }
        if raw.preserve_unmapped.is_some() && !is_replace {
            self.err(
                format!("{key}.preserve_unmapped"),
                raw.preserve_unmapped.map(|b| b.to_string()),
                "only a `replace` operation builds its body from the object read",
            );
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
            preserve_unmapped: is_replace && raw.preserve_unmapped.unwrap_or(true),
            steps: None,
        })
    }
}
