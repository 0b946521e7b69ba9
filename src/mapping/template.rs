//! Templates in a mapping: request paths (`/api/v1/users/{id}`), query values, request bodies
//! (`{ user_id = "{member}" }`) and read-only joins (`"{first_name} {last_name}"`). Parsed once;
//! rendering percent-encodes every substituted value into paths, so an id can never add a path
//! segment, climb with `..`, or start a query.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::fmt;

use crate::mapping::field::FieldPath;

/// Everything but the RFC 3986 unreserved characters, and `.` and `~` too: a substituted value
/// is one opaque segment, never `.` or `..`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// A variable a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// The platform id of the resource (`{id}`).
    Id,
    /// The platform id of a group member (`{member}`).
    Member,
}

impl Var {
    fn parse(name: &str) -> Option<Var> {
        match name {
            "id" => Some(Var::Id),
            "member" => Some(Var::Member),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Var::Id => "id",
            Var::Member => "member",
        }
    }
}

/// A platform id, as text (for paths and queries) and as JSON (for bodies: a number when the
/// platform's ids are integers).
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformId {
    /// The id as text.
    pub text: String,
    /// The id as the platform types it.
    pub json: Value,
}

/// Values for template variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vars<'a> {
    /// `{id}`
    pub id: Option<&'a PlatformId>,
    /// `{member}`
    pub member: Option<&'a PlatformId>,
}

impl<'a> Vars<'a> {
    fn get(&self, v: Var) -> Option<&'a PlatformId> {
        match v {
            Var::Id => self.id,
            Var::Member => self.member,
        }
    }
}

/// The steps a template of a multi-step operation may name (`{steps.<name>.…}`): every step's
/// name, in order, of which the first `visible` have run when the template is rendered.
#[derive(Debug, Clone, Copy)]
pub struct StepScope<'a> {
    /// Every step's name, in order.
    pub names: &'a [String],
    /// How many steps, from the first, a template here may use.
    pub visible: usize,
}

/// Which output of a step a template names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOut {
    /// `{steps.<name>.status}`: the status of its reply.
    Status,
    /// `{steps.<name>.header.<header>}`: a header of its reply (lowercase name).
    Header(String),
    /// `{steps.<name>.body.<field>}`: a field of its reply's JSON body.
    Body(FieldPath),
}

/// `{steps.<name>.<output>}`: an output of a step that ran before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    /// The placeholder as written, without braces (`steps.account.body.id`).
    pub text: String,
    /// The step's position (0 is the first).
    pub step: usize,
    /// Which of its outputs.
    pub out: StepOut,
}

/// The values of step outputs while a multi-step operation runs: `None` for an output the
/// step's reply does not have.
pub type StepValues<'a> = &'a (dyn Fn(&StepRef) -> Option<Value> + Sync);

fn no_steps(_: &StepRef) -> Option<Value> {
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(Var),
    Step(StepRef),
}

fn parse_step(name: &str, text: &str, scope: Option<StepScope<'_>>) -> Result<StepRef, String> {
    let usage = || {
        format!(
            "{{{name}}} in {text:?}: write {{steps.<name>.body.<field>}}, {{steps.<name>.status}} or {{steps.<name>.header.<header>}}"
        )
    };
    let Some(scope) = scope else {
        return Err(format!(
            "{{{name}}} in {text:?}: step outputs can be used only in the steps of a multi-step operation"
        ));
    };
    let rest = name.strip_prefix("steps.").ok_or_else(usage)?;
    let (step_name, out) = rest.split_once('.').ok_or_else(usage)?;
    let step = scope
        .names
        .iter()
        .position(|n| n == step_name)
        .ok_or_else(|| {
            format!(
                "{{{name}}} in {text:?}: no step is named {step_name:?} (steps: {})",
                scope.names.join(", ")
            )
        })?;
    if step >= scope.visible {
        return Err(format!(
            "{{{name}}} in {text:?}: step {step_name:?} has not run yet here; a step uses the outputs of earlier steps only, an undo those of its own step and earlier ones"
        ));
    }
    let out = match out.split_once('.') {
        None if out == "status" => StepOut::Status,
        Some(("header", h)) if http::HeaderName::from_bytes(h.as_bytes()).is_ok() => {
            StepOut::Header(h.to_ascii_lowercase())
        }
        Some(("body", f)) => {
            StepOut::Body(FieldPath::parse(f).map_err(|e| format!("{{{name}}} in {text:?}: {e}"))?)
        }
        _ => return Err(usage()),
    };
    Ok(StepRef {
        text: name.to_owned(),
        step,
        out,
    })
}

/// A step output as text (paths, queries, interpolation): strings as they are, numbers and
/// booleans printed; anything else is no single value.
fn step_text(r: &StepRef, steps: StepValues<'_>) -> Result<String, String> {
    match steps(r) {
        Some(Value::String(s)) => Ok(s),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(_) => Err(format!("{{{}}} is not a single value", r.text)),
        None => Err(format!("no value for {{{}}}", r.text)),
    }
}

fn parse_parts_in(
    text: &str,
    allowed: &[Var],
    scope: Option<StepScope<'_>>,
) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Lit(rest[..open].to_owned()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
        let name = &after[..close];
        if name.starts_with("steps.") || (scope.is_some() && name == "steps") {
            parts.push(Part::Step(parse_step(name, text, scope)?));
            rest = &after[close + 1..];
            continue;
        }
        let var = Var::parse(name)
            .filter(|v| allowed.contains(v))
            .ok_or_else(|| {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|v| format!("{{{}}}", v.name()))
                    .collect();
                format!(
                    "unknown placeholder {{{name}}} in {text:?}; allowed here: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )
            })?;
        parts.push(Part::Var(var));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched '}}' in {text:?}"));
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_owned()));
    }
    Ok(parts)
}

/// A request path with placeholders.
#[derive(Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    parts: Vec<Part>,
}

impl fmt::Debug for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathTemplate({:?})", self.text)
    }
}

impl PathTemplate {
    /// Parses a path such as `/api/v1/users/{id}`: starts with `/`, no query or fragment, each
    /// placeholder a whole path segment.
    pub fn parse(text: &str, allowed: &[Var]) -> Result<PathTemplate, String> {
        PathTemplate::parse_in(text, allowed, None)
    }

    /// [`PathTemplate::parse`] in a step of a multi-step operation: `{steps.<name>.…}` may name
    /// the outputs of the steps `scope` makes visible.
    pub fn parse_in(
        text: &str,
        allowed: &[Var],
        scope: Option<StepScope<'_>>,
    ) -> Result<PathTemplate, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "a path starts with '/', e.g. \"/api/v1/users\"; got {text:?}"
            ));
        }
        if text.contains(['?', '#', ' ']) {
            return Err(format!(
                "{text:?}: put query parameters under `query`, not in the path"
            ));
        }
        let parts = parse_parts_in(text, allowed, scope)?;
        for (i, p) in parts.iter().enumerate() {
            let name = match p {
                Part::Var(v) => Some(v.name()),
                Part::Step(r) => Some(r.text.as_str()),
                Part::Lit(_) => None,
            };
            if let Some(name) = name {
                let before_ok =
                    matches!(parts.get(i.wrapping_sub(1)), Some(Part::Lit(l)) if l.ends_with('/'));
                let after_ok = match parts.get(i + 1) {
                    None => true,
                    Some(Part::Lit(l)) => l.starts_with('/'),
                    Some(Part::Var(_) | Part::Step(_)) => false,
                };
                if !before_ok || !after_ok {
                    return Err(format!(
                        "{text:?}: the placeholder {{{name}}} must be a whole path segment (/{{{name}}}/)"
                    ));
                }
            }
        }
        Ok(PathTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the template uses a variable.
    pub fn uses(&self, v: Var) -> bool {
        self.parts.contains(&Part::Var(v))
    }

    /// Renders the path, percent-encoding each substituted value as one segment.
    pub fn render(&self, vars: &Vars<'_>) -> Result<String, String> {
        self.render_with(vars, &no_steps)
    }

    /// [`PathTemplate::render`] with the outputs of the steps run so far.
    pub fn render_with(&self, vars: &Vars<'_>, steps: StepValues<'_>) -> Result<String, String> {
        let mut out = String::with_capacity(self.text.len() + 16);
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Step(r) => out.extend(utf8_percent_encode(&step_text(r, steps)?, SEGMENT)),
                Part::Var(v) => {
                    let id = vars
                        .get(*v)
                        .ok_or_else(|| format!("no value for {{{}}}", v.name()))?;
                    out.extend(utf8_percent_encode(&id.text, SEGMENT));
                }
            }
        }
        Ok(out)
    }
}

/// A query or header value with placeholders, rendered raw (the client encodes queries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTemplate {
    parts: Vec<Part>,
}

impl TextTemplate {
    /// Parses a value such as `"active"` or `"{id}"`.
    pub fn parse(text: &str, allowed: &[Var]) -> Result<TextTemplate, String> {
        TextTemplate::parse_in(text, allowed, None)
    }

    /// [`TextTemplate::parse`] in a step of a multi-step operation (see [`StepScope`]).
    pub fn parse_in(
        text: &str,
        allowed: &[Var],
        scope: Option<StepScope<'_>>,
    ) -> Result<TextTemplate, String> {
        Ok(TextTemplate {
            parts: parse_parts_in(text, allowed, scope)?,
        })
    }

    /// Renders the text.
    pub fn render(&self, vars: &Vars<'_>) -> Result<String, String> {
        self.render_with(vars, &no_steps)
    }

    /// [`TextTemplate::render`] with the outputs of the steps run so far.
    pub fn render_with(&self, vars: &Vars<'_>, steps: StepValues<'_>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Step(r) => out.push_str(&step_text(r, steps)?),
                Part::Var(v) => out.push_str(
                    &vars
                        .get(*v)
                        .ok_or_else(|| format!("no value for {{{}}}", v.name()))?
                        .text,
                ),
            }
        }
        Ok(out)
    }
}

/// A JSON body template: strings that are exactly `"{var}"` become the typed value (a number for
/// integer ids); other strings interpolate as text.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate {
    template: Value,
    /// The step names `{steps.<name>.…}` may use (a multi-step operation's; empty elsewhere).
    steps: Vec<String>,
}

impl BodyTemplate {
    /// Checks every placeholder in the JSON value.
    pub fn parse(template: Value, allowed: &[Var]) -> Result<BodyTemplate, String> {
        BodyTemplate::parse_in(template, allowed, None)
    }

    /// [`BodyTemplate::parse`] in a step of a multi-step operation (see [`StepScope`]).
    pub fn parse_in(
        template: Value,
        allowed: &[Var],
        scope: Option<StepScope<'_>>,
    ) -> Result<BodyTemplate, String> {
        fn check(v: &Value, allowed: &[Var], scope: Option<StepScope<'_>>) -> Result<(), String> {
            match v {
                Value::String(s) => parse_parts_in(s, allowed, scope).map(|_| ()),
                Value::Array(a) => a.iter().try_for_each(|x| check(x, allowed, scope)),
                Value::Object(m) => m.values().try_for_each(|x| check(x, allowed, scope)),
                _ => Ok(()),
            }
        }
        check(&template, allowed, scope)?;
        Ok(BodyTemplate {
            template,
            steps: scope.map(|s| s.names.to_vec()).unwrap_or_default(),
        })
    }

    /// Renders the body.
    pub fn render(&self, vars: &Vars<'_>) -> Result<Value, String> {
        self.render_with(vars, &no_steps)
    }

    /// [`BodyTemplate::render`] with the outputs of the steps run so far: a string that is
    /// exactly one `{steps.<name>.…}` becomes the output's JSON value.
    pub fn render_with(&self, vars: &Vars<'_>, steps: StepValues<'_>) -> Result<Value, String> {
        let scope = (!self.steps.is_empty()).then_some(StepScope {
            names: &self.steps,
            visible: self.steps.len(),
        });
        let go_ctx = (vars, steps, scope);
        fn go(
            v: &Value,
            ctx: &(&Vars<'_>, StepValues<'_>, Option<StepScope<'_>>),
        ) -> Result<Value, String> {
            let (vars, steps, scope) = *ctx;
            Ok(match v {
                Value::String(s) => {
                    let parts = parse_parts_in(s, &[Var::Id, Var::Member], scope)?;
                    match parts.as_slice() {
                        [Part::Var(var)] => vars
                            .get(*var)
                            .map(|id| id.json.clone())
                            .ok_or_else(|| format!("no value for {{{}}}", var.name()))?,
                        [Part::Step(r)] => {
                            steps(r).ok_or_else(|| format!("no value for {{{}}}", r.text))?
                        }
                        _ => Value::String(TextTemplate { parts }.render_with(vars, steps)?),
                    }
                }
                Value::Array(a) => {
                    Value::Array(a.iter().map(|x| go(x, ctx)).collect::<Result<_, _>>()?)
                }
                Value::Object(m) => Value::Object(
                    m.iter()
                        .map(|(k, x)| Ok((k.clone(), go(x, ctx)?)))
                        .collect::<Result<_, String>>()?,
                ),
                other => other.clone(),
            })
        }
        go(&self.template, &go_ctx)
    }
}

/// A read-only join over platform fields: `"{first_name} {last_name}"`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinTemplate {
    parts: Vec<JoinPart>,
}

#[derive(Debug, Clone, PartialEq)]
enum JoinPart {
    Lit(String),
    Field(FieldPath),
}

impl JoinTemplate {
    /// Parses a join; each `{...}` names a platform field path.
    pub fn parse(text: &str) -> Result<JoinTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(JoinPart::Lit(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
            parts.push(JoinPart::Field(FieldPath::parse(&after[..close])?));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(JoinPart::Lit(rest.to_owned()));
        }
        if !parts.iter().any(|p| matches!(p, JoinPart::Field(_))) {
            return Err(format!(
                "{text:?} names no field; write e.g. \"{{first_name}} {{last_name}}\" (or use `constant`)"
            ));
        }
        Ok(JoinTemplate { parts })
    }

    /// The joined text, trimmed, with runs of spaces left by missing fields collapsed; `None` when
    /// every field is missing.
    pub fn render(&self, platform: &Value) -> Option<String> {
        let mut out = String::new();
        let mut any = false;
        for p in &self.parts {
            match p {
                JoinPart::Lit(l) => out.push_str(l),
                JoinPart::Field(f) => match f.get(platform) {
                    Some(Value::String(s)) if !s.is_empty() => {
                        any = true;
                        out.push_str(s);
                    }
                    Some(Value::String(_)) | None => {}
                    Some(other @ (Value::Number(_) | Value::Bool(_))) => {
                        any = true;
                        out.push_str(&other.to_string());
                    }
                    Some(_) => {}
                },
            }
        }
        if !any {
            return None;
        }
        let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(collapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(text: &str, json: Value) -> PlatformId {
        PlatformId {
            text: text.to_owned(),
            json,
        }
    }

    #[test]
    fn paths_encode_hostile_ids_into_one_segment() {
        let t = PathTemplate::parse("/api/v1/users/{id}", &[Var::Id]).expect("valid");
        for (raw, encoded) in [
            ("17", "/api/v1/users/17"),
            ("../admin", "/api/v1/users/%2E%2E%2Fadmin"),
            ("..", "/api/v1/users/%2E%2E"),
            ("1/2", "/api/v1/users/1%2F2"),
            ("1%2F2", "/api/v1/users/1%252F2"),
            ("a?b#c", "/api/v1/users/a%3Fb%23c"),
            ("é", "/api/v1/users/%C3%A9"),
        ] {
            let pid = id(raw, json!(raw));
            let vars = Vars {
                id: Some(&pid),
                member: None,
            };
            assert_eq!(t.render(&vars).expect("renders"), encoded, "{raw}");
        }
    }

    #[test]
    fn path_templates_are_checked() {
        assert!(PathTemplate::parse("api/users", &[]).is_err());
        assert!(PathTemplate::parse("/users?x=1", &[]).is_err());
        let e = PathTemplate::parse("/users/{user}", &[Var::Id]).expect_err("unknown var");
        assert!(e.contains("{user}") && e.contains("{id}"), "{e}");
        assert!(
            PathTemplate::parse("/users/{id}", &[]).is_err(),
            "not allowed here"
        );
        assert!(
            PathTemplate::parse("/users/x{id}", &[Var::Id]).is_err(),
            "partial segment"
        );
        assert!(PathTemplate::parse("/users/{id", &[Var::Id]).is_err());
        let t =
            PathTemplate::parse("/g/{id}/members/{member}", &[Var::Id, Var::Member]).expect("ok");
        assert!(t.uses(Var::Member));
    }

    #[test]
    fn bodies_keep_id_types() {
        let b = BodyTemplate::parse(
            json!({"user_id": "{member}", "note": "add {member}", "n": 1}),
            &[Var::Member],
        )
        .expect("valid");
        let m = id("17", json!(17));
        let out = b
            .render(&Vars {
                id: None,
                member: Some(&m),
            })
            .expect("renders");
        assert_eq!(out, json!({"user_id": 17, "note": "add 17", "n": 1}));
        assert!(BodyTemplate::parse(json!({"x": "{nope}"}), &[Var::Member]).is_err());
    }

    #[test]
    fn step_outputs_are_checked_against_earlier_steps_and_encoded_like_ids() {
        let names = ["account".to_owned(), "role".to_owned()];
        let scope = |visible| {
            Some(StepScope {
                names: &names,
                visible,
            })
        };
        let t = PathTemplate::parse_in("/u/{steps.account.body.data.id}/x", &[], scope(1))
            .expect("valid");
        let values = |r: &StepRef| match &r.out {
            StepOut::Body(f) => f.get(&json!({"data": {"id": "../a b"}})).cloned(),
            StepOut::Status => Some(json!(201)),
            StepOut::Header(h) => (h == "location").then(|| json!("/u/9")),
        };
        let vars = Vars::default();
        assert_eq!(
            t.render_with(&vars, &values).expect("renders"),
            "/u/%2E%2E%2Fa%20b/x"
        );
        let b = BodyTemplate::parse_in(
            json!({"s": "{steps.account.status}", "h": "at {steps.account.header.Location}"}),
            &[],
            scope(1),
        )
        .expect("valid");
        assert_eq!(
            b.render_with(&vars, &values).expect("renders"),
            json!({"s": 201, "h": "at /u/9"})
        );
        for (text, why) in [
            ("/u/{steps.role.status}", "has not run yet"),
            ("/u/{steps.nope.status}", "no step is named"),
            ("/u/{steps.account.id}", "write {steps.<name>.body.<field>}"),
            ("/u/x{steps.account.status}", "whole path segment"),
        ] {
            let e = PathTemplate::parse_in(text, &[], scope(1)).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
        let e = PathTemplate::parse("/u/{steps.account.status}", &[]).expect_err("outside");
        assert!(e.contains("only in the steps"), "{e}");
        let missing = |_: &StepRef| None;
        assert!(t.render_with(&vars, &missing).is_err());
    }

    #[test]
    fn joins_skip_missing_fields() {
        let j = JoinTemplate::parse("{first_name} {last_name}").expect("valid");
        assert_eq!(
            j.render(&json!({"first_name": "Ada", "last_name": "Lovelace"}))
                .as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            j.render(&json!({"first_name": "Ada"})).as_deref(),
            Some("Ada")
        );
        assert_eq!(j.render(&json!({"first_name": "", "last_name": ""})), None);
        assert!(JoinTemplate::parse("constant").is_err());
    }
}
