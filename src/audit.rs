//! The audit log: one structured event per change to the platform (user created, updated,
//! disabled, enabled, deleted; group created, renamed, updated, deleted; member added, removed),
//! on its own `tracing` target (`scim_sidecar::audit`) so it can be shipped apart from access
//! logs. Each event names the request id, the token's name, the SCIM and platform ids, the
//! attributes changed and the outcome. Attribute values are redacted except for the attributes
//! `[audit] show_values` lists. Tokens never appear.

use serde_json::{Map, Value};

use crate::error::Error;

/// The target audit events are logged on.
pub const TARGET: &str = "scim_sidecar::audit";

/// Who made a request: what every audit event carries.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The request id (also in the access log and the `X-Request-Id` answer header).
    pub request_id: &'a str,
    /// The name of the bearer token the request authenticated with.
    pub token: &'a str,
}

/// Which values may appear in audit events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Whether audit events are emitted at all.
    pub enabled: bool,
    /// Attribute paths (lowercase, e.g. `active`, `displayname`, `name.familyname`) whose values
    /// are logged; every other value is `"<redacted>"`.
    pub show_values: Vec<String>,
    /// Shadow mode: the changes were simulated, not made; events carry `shadow=true`.
    pub shadow: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: true,
            show_values: vec!["active".to_owned()],
            shadow: false,
        }
    }
}

/// The redaction placeholder.
pub const REDACTED: &str = "<redacted>";

/// The attributes that differ between two SCIM resources, as `path → new value` (`null` when
/// removed), with values redacted by the policy. `id`, `meta` and `schemas` are not attributes
/// that change; `members` is reported by member events.
pub fn changes(before: Option<&Value>, after: &Value, policy: &Policy) -> Map<String, Value> {
    let mut out = Map::new();
    let empty = Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let skip = |k: &str| {
        ["id", "meta", "schemas", "members"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(k))
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if skip(k) {
            continue;
        }
        let (old, new) = (b.get(k), a.get(k));
        if old == new {
            continue;
        }
        match (old, new) {
            (Some(Value::Object(o)), Some(Value::Object(n))) if !k.starts_with("urn:") => {
                let mut subs: Vec<&String> = o.keys().chain(n.keys()).collect();
                subs.sort();
                subs.dedup();
                for s in subs {
                    if o.get(s) != n.get(s) {
                        let path = format!("{k}.{s}");
                        let v = n.get(s).cloned().unwrap_or(Value::Null);
                        out.insert(path.clone(), redact(&path, v, policy));
                    }
                }
            }
            _ => {
                let v = new.cloned().unwrap_or(Value::Null);
                out.insert(k.clone(), redact(k, v, policy));
            }
        }
    }
    out
}

fn redact(path: &str, v: Value, policy: &Policy) -> Value {
    if v.is_null()
        || policy
            .show_values
            .iter()
            .any(|s| s.eq_ignore_ascii_case(path))
    {
        v
    } else {
        Value::String(REDACTED.to_owned())
    }
}

/// One change to the platform.
#[derive(Debug)]
pub struct Event<'a> {
    /// `user.created`, `group.member_added`, ...
    pub event: &'static str,
    /// The SCIM id (the created resource's, once known).
    pub scim_id: Option<&'a str>,
    /// The platform id.
    pub platform_id: Option<&'a str>,
    /// For member events: the member's id.
    pub member: Option<&'a str>,
    /// The attributes changed (already redacted).
    pub changes: Option<&'a Map<String, Value>>,
    /// For the steps of a multi-step operation: the step's call (`users.create.role`).
    pub step: Option<&'a str>,
}

/// Emits an event with its outcome.
pub fn emit(who: Option<Who<'_>>, policy: &Policy, e: &Event<'_>, outcome: Result<(), &Error>) {
    let Some(who) = who else { return };
    if !policy.enabled {
        return;
    }
    let changes = e
        .changes
        .map(|c| Value::Object(c.clone()).to_string())
        .unwrap_or_default();
    let attributes = e
        .changes
        .map(|c| c.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    // `status` and `fault` are recorded only for a failure (a `None` field is left out).
    let failure = outcome.err();
    tracing::info!(
        target: TARGET,
        event = e.event,
        outcome = if failure.is_some() { "failure" } else { "success" },
        request_id = who.request_id,
        token = who.token,
        scim_id = e.scim_id.unwrap_or("-"),
        platform_id = e.platform_id.unwrap_or("-"),
        member = e.member.unwrap_or("-"),
        step = e.step.unwrap_or("-"),
        attributes = %attributes,
        changes = %changes,
        status = failure.map(Error::status),
        fault = failure.map(|e| e.fault().as_str()),
        shadow = policy.shadow.then_some(true),
        "audit"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_list_paths_and_redact_values_outside_the_policy() {
        let policy = Policy::default();
        let before = json!({"id": "1", "userName": "a", "name": {"givenName": "A", "familyName": "B"}, "active": true});
        let after = json!({"id": "1", "userName": "a", "name": {"givenName": "Z", "familyName": "B"}, "active": false, "title": "x"});
        let c = changes(Some(&before), &after, &policy);
        assert_eq!(
            Value::Object(c),
            json!({"active": false, "name.givenName": REDACTED, "title": REDACTED})
        );
        let created = changes(
            None,
            &json!({"id": "1", "meta": {}, "userName": "a", "members": []}),
            &policy,
        );
        assert_eq!(Value::Object(created), json!({"userName": REDACTED}));
        let removed = changes(Some(&json!({"title": "x"})), &json!({}), &policy);
        assert_eq!(Value::Object(removed), json!({"title": null}));
    }
}
