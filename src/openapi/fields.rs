//! Which platform fields hold which SCIM attributes: names matched case-insensitively against
//! synonym lists (username/login, email/mail, firstName/given_name, enabled/active, disabled
//! inverted, ...), in the create body first, then in the answers.

use serde_json::Value;

use super::names::{CREATED, EXTERNAL_ID, Kind, MODIFIED, USERNAME, norm, quote};
use super::spec::Spec;

/// A SCIM attribute found in a platform field.
pub(super) struct Field {
    pub(super) scim: &'static str,
    pub(super) field: String,
    /// A JSONPath to read it from, when the answers name it differently than the write bodies.
    pub(super) read: Option<String>,
    /// `values = {...}` as TOML text, for enums and inverted booleans.
    pub(super) values: Option<String>,
    /// The create body lists it as required.
    pub(super) required: bool,
    pub(super) why: String,
}

/// (SCIM attribute, platform field names (normalized) best first, inverted boolean names).
fn attribute_rules(
    kind: Kind,
) -> Vec<(
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
)> {
    match kind {
        Kind::Users => vec![
            ("userName", USERNAME, &[]),
            (
                "emails[type eq \"work\"].value",
                &["email", "mail", "emailaddress", "primaryemail", "workemail"],
                &[],
            ),
            (
                "name.givenName",
                &["firstname", "givenname", "fname", "forename"],
                &[],
            ),
            (
                "name.familyName",
                &["lastname", "familyname", "surname", "lname", "sn"],
                &[],
            ),
            (
                "displayName",
                &["displayname", "fullname", "name", "commonname", "cn"],
                &[],
            ),
            (
                "active",
                &[
                    "active",
                    "enabled",
                    "isactive",
                    "isenabled",
                    "status",
                    "state",
                ],
                &[
                    "disabled",
                    "isdisabled",
                    "blocked",
                    "suspended",
                    "inactive",
                    "prohibitlogin",
                    "locked",
                    "banned",
                    "deactivated",
                ],
            ),
            ("externalId", EXTERNAL_ID, &[]),
            ("meta.created", CREATED, &[]),
            ("meta.lastModified", MODIFIED, &[]),
        ],
        Kind::Groups => vec![
            (
                "displayName",
                &["displayname", "name", "groupname", "teamname", "title"],
                &[],
            ),
            ("externalId", EXTERNAL_ID, &[]),
            ("meta.created", CREATED, &[]),
            ("meta.lastModified", MODIFIED, &[]),
        ],
    }
}

/// The fields of a collection: `create` is the create body's schema, `item` the answers'.
pub(super) fn fields(
    spec: &Spec,
    kind: Kind,
    create: Option<&Value>,
    item: Option<&Value>,
    read_props: &[&str],
) -> Vec<Field> {
    let write: Vec<(&str, &Value)> = create.map(|s| spec.properties(s)).unwrap_or_default();
    let read: Vec<(&str, &Value)> = item.map(|s| spec.properties(s)).unwrap_or_default();
    let required_list: Vec<&str> = create
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut taken: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (scim, names, inverted) in attribute_rules(kind) {
        let pick = |props: &[(&str, &Value)], list: &[&str]| -> Option<(String, Value)> {
            list.iter().find_map(|n| {
                props
                    .iter()
                    .find(|(p, _)| norm(p) == *n && !taken.iter().any(|t| t == p))
                    .map(|(p, s)| ((*p).to_owned(), (*s).clone()))
            })
        };
        let meta = scim.starts_with("meta.");
        let w = if meta { None } else { pick(&write, names) };
        let r = pick(&read, names);
        let mut inv = false;
        let chosen = match (&w, &r) {
            (Some(w), _) => Some(w.clone()),
            (None, Some(r)) => Some(r.clone()),
            (None, None) => {
                inv = true;
                pick(&write, inverted).or_else(|| pick(&read, inverted))
            }
        };
        let Some((field, schema)) = chosen else {
            continue;
        };
        let read_path = match (&w, &r) {
            (Some((wn, _)), Some((rn, _))) if wn != rn && !read_props.contains(&wn.as_str()) => {
                Some(format!("$.{rn}"))
            }
            _ => None,
        };
        let mut values = None;
        let mut why = format!(
            "the field {field} ({}) {}",
            schema
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("untyped"),
            if w.is_some() {
                "in the create body"
            } else {
                "in the answers"
            }
        );
        if scim == "active" {
            let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
            if inv {
                values = Some("{ true = false, false = true }".to_owned());
                why.push_str("; its meaning is the opposite of active, so the values are inverted");
            } else if ty == "string" || schema.get("enum").is_some() {
                let options: Vec<String> = schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let on = options
                    .iter()
                    .find(|o| ["active", "enabled", "on"].contains(&norm(o).as_str()));
                let off = options.iter().find(|o| {
                    [
                        "disabled",
                        "inactive",
                        "suspended",
                        "deactivated",
                        "blocked",
                        "off",
                        "locked",
                    ]
                    .contains(&norm(o).as_str())
                });
                if let (Some(on), Some(off)) = (on, off) {
                    values = Some(format!(
                        "{{ true = {}, false = {} }}",
                        quote(on),
                        quote(off)
                    ));
                    why.push_str(&format!(
                        "; of its values {options:?}, {on:?} reads as active"
                    ));
                } else {
                    why.push_str("; a string whose active/inactive values were not found: add values = { true = \"...\", false = \"...\" }");
                }
            }
        }
        if let Some(r) = &read_path {
            why.push_str(&format!("; the answers hold it as {r}"));
        }
        let required = w.is_some() && required_list.contains(&field.as_str());
        if required {
            why.push_str("; the create body requires it, so a SCIM create without it is refused");
        }
        if meta {
            why.push_str("; read-only in SCIM");
        }
        taken.push(field.clone());
        out.push(Field {
            scim,
            field,
            read: read_path,
            values,
            required,
            why,
        });
    }
    // No user name field: many platforms log in by e-mail, and Entra's userName is often one.
    if kind == Kind::Users
        && !out.iter().any(|f| f.scim == "userName")
        && let Some(email) = out.iter().find(|f| f.scim.starts_with("emails"))
    {
        let field = Field {
            scim: "userName",
            field: email.field.clone(),
            read: email.read.clone(),
            values: None,
            required: email.required,
            why: format!(
                "no user name field found; the e-mail field {} stands in (Entra's userName is usually the UPN, often the e-mail address); both attributes then write it and must agree on create",
                email.field
            ),
        };
        out.insert(0, field);
    }
    out
}
