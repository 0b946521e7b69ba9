//! Multi-step operations (`[[users.create.steps]]`): each step's call and `undo`, the step names,
//! and the `{steps.<name>.…}` references, which may only name steps that ran before.

use super::*;
use crate::mapping::model::{Step, Steps};
use crate::mapping::template::StepScope;

/// The keys of a step or of its `undo`: what both are made of.
struct CallKeys<'a> {
    method: Option<&'a str>,
    path: Option<&'a str>,
    query: &'a BTreeMap<String, String>,
    body: Option<&'a Value>,
    ok: &'a [u16],
}

/// A `&'static str` metric and log label for a step (`users.create.account`): step names come
/// from the file, so the label is made once per compile and kept for the process's life (a
/// reload makes new ones; a few bytes per step).
fn step_label(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

impl Compiler<'_> {
    /// An operation written as `steps`: the steps compiled in order, and the operation itself
    /// standing for the result step (its `response` and `on_empty` read that step's reply).
    pub(super) fn steps_op(
        &mut self,
        kind: ResourceKind,
        spec: &OpSpec,
        raw: raw::Operation,
    ) -> Option<Op> {
        let key = format!("{}.{}", section(kind), spec.name);
        let before = self.errors.len();
        if spec.name != "create" {
            self.err(
                format!("{key}.steps"),
                None,
                "only `create` can be a list of steps",
            );
            return None;
        }
        let with_steps = "with `steps`, each step names its own call; move it into a step";
        if let Some(m) = &raw.method {
            self.err(format!("{key}.method"), q(m), with_steps);
        }
        if let Some(p) = &raw.path {
            self.err(format!("{key}.path"), q(p), with_steps);
        }
        if !raw.query.is_empty() {
            self.err(format!("{key}.query"), None, with_steps);
        }
        if raw.body.is_some() {
            self.err(format!("{key}.body"), None, with_steps);
        }
        if !raw.ok.is_empty() {
            self.err(format!("{key}.ok"), None, with_steps);
        }
        if !raw.headers.is_empty() {
            self.err(
                format!("{key}.headers"),
                None,
                "per-operation headers are not supported; use [platform.headers]",
            );
        }
        if raw.preserve_unmapped.is_some() {
            self.err(
                format!("{key}.preserve_unmapped"),
                raw.preserve_unmapped.map(|b| b.to_string()),
                "only a `replace` operation builds its body from the object read",
            );
        }
        // Names first: a reference may name any step, and is then told whether it may.
        let mut names: Vec<String> = Vec::new();
        for (i, s) in raw.steps.iter().enumerate() {
            let nkey = format!("{key}.steps[{i}].name");
            let name = match s.name.as_deref() {
                None => {
                    self.err(
                        nkey,
                        None,
                        "missing; every step has a name, e.g. \"account\"",
                    );
                    format!("#{i}")
                }
                Some(n)
                    if n.is_empty()
                        || !n
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
                {
                    self.err(
                        nkey,
                        q(n),
                        "a step name is letters, digits, `_` and `-` (it is used in `{steps.<name>.…}` and in metric labels)",
                    );
                    n.to_owned()
                }
                Some(n) if names.iter().any(|m| m == n) => {
                    self.err(nkey, q(n), "another step already has this name");
                    n.to_owned()
                }
                Some(n) => n.to_owned(),
            };
            names.push(name);
        }
        let body_step = raw.steps.iter().position(|s| s.body.is_none());
        let mut set = Vec::new();
        for (f, v) in &raw.set {
            if let Some(fp) = self.field(&format!("{key}.set.{f}"), f) {
                set.push((fp, v.clone()));
            }
        }
        let mut steps = Vec::new();
        for (i, s) in raw.steps.iter().enumerate() {
            let skey = format!("{key}.steps[{i}]");
            let name = names.get(i).cloned().unwrap_or_default();
            let label = step_label(format!("{key}.{name}"));
            let keys = CallKeys {
                method: s.method.as_deref(),
                path: s.path.as_deref(),
                query: &s.query,
                body: s.body.as_ref(),
                ok: &s.ok,
            };
            let scope = StepScope {
                names: &names,
                visible: i,
            };
            let call = self.step_call(&skey, label, Method::POST, &keys, scope);
            let undo = s.undo.as_ref().and_then(|u| {
                let keys = CallKeys {
                    method: u.method.as_deref(),
                    path: u.path.as_deref(),
                    query: &u.query,
                    body: u.body.as_ref(),
                    ok: &u.ok,
                };
                let scope = StepScope {
                    names: &names,
                    visible: i + 1,
                };
                let label = step_label(format!("{key}.{name}.undo"));
                self.step_call(&format!("{skey}.undo"), label, Method::DELETE, &keys, scope)
            });
            if let Some(mut call) = call {
                if Some(i) == body_step {
                    call.set = set.clone();
                }
                steps.push(Step { name, call, undo });
            }
        }
        let result = match raw.result.as_deref() {
            None => 0,
            Some(r) => names.iter().position(|n| n == r).unwrap_or_else(|| {
                self.err(
                    format!("{key}.result"),
                    q(r),
                    format!(
                        "names no step; the step whose reply is the created resource, one of: {}",
                        names.join(", ")
                    ),
                );
                0
            }),
        };
        let response = self.json_path(
            &format!("{key}.response"),
            raw.response.as_deref().unwrap_or("$"),
        );
        let on_empty = match raw.on_empty.as_deref() {
            None => spec.on_empty,
            Some("read") => OnEmpty::Read,
            Some("nothing") => OnEmpty::Nothing,
            Some(other) => {
                self.err(
                    format!("{key}.on_empty"),
                    q(other),
                    "expected \"read\" or \"nothing\"",
                );
                spec.on_empty
            }
        };
        if self.errors.len() > before {
            return None;
        }
        let first = steps.get(result)?.call.clone();
        Some(Op {
            label: label(kind, spec.name),
            method: first.method,
            path: first.path,
            query: first.query,
            body: None,
            response: response?,
            on_empty,
            set,
            ok: first.ok,
            preserve_unmapped: false,
            steps: Some(Arc::new(Steps {
                steps,
                result,
                body_step,
            })),
        })
    }

    /// One step's call, or its `undo`.
    fn step_call(
        &mut self,
        key: &str,
        label: &'static str,
        default_method: Method,
        raw: &CallKeys<'_>,
        scope: StepScope<'_>,
    ) -> Option<Op> {
        let before = self.errors.len();
        let method = match raw.method {
            None => default_method,
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap_or_else(|_| {
                self.err(format!("{key}.method"), q(m), "not an HTTP method");
                default_method
            }),
        };
        let path = match raw.path {
            Some(p) => PathTemplate::parse_in(p, &[], Some(scope))
                .map_err(|r| self.err(format!("{key}.path"), q(p), r))
                .ok(),
            None => {
                self.err(
                    format!("{key}.path"),
                    None,
                    "missing; the request path, e.g. \"/api/users/{steps.account.body.id}\"",
                );
                None
            }
        };
        let mut query = Vec::new();
        for (k, v) in raw.query {
            match TextTemplate::parse_in(v, &[], Some(scope)) {
                Ok(t) => query.push((k.clone(), t)),
                Err(r) => self.err(format!("{key}.query.{k}"), q(v), r),
            }
        }
        let body = raw.body.and_then(|b| {
            BodyTemplate::parse_in(b.clone(), &[], Some(scope))
                .map_err(|r| self.err(format!("{key}.body"), None, r))
                .ok()
        });
        for s in raw.ok {
            if !(100..=599).contains(s) {
                self.err(
                    format!("{key}.ok"),
                    Some(s.to_string()),
                    "not an HTTP status",
                );
            }
        }
        let response = JsonPath::compile("$").ok();
        if self.errors.len() > before {
            return None;
        }
        Some(Op {
            label,
            method,
            path: path?,
            query,
            body,
            response: response?,
            on_empty: OnEmpty::Nothing,
            set: Vec::new(),
            ok: raw.ok.to_vec(),
            preserve_unmapped: false,
            steps: None,
        })
    }
}
