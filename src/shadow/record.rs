//! One line of the shadow record: the platform write that was not sent, what it would have done
//! (`kind`, the fields it changes), and the SCIM request it came from; and the redaction of
//! secrets from its body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The text that replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// What a recorded write would have done to the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Created an object.
    Create,
    /// Changed fields of an object.
    Update,
    /// Deactivated an object (`active` became false).
    Disable,
    /// Activated an object again.
    Enable,
    /// Deleted an object.
    Delete,
    /// Added a member to a group.
    MemberAdd,
    /// Removed a member from a group.
    MemberRemove,
    /// A write the mapping names no purpose for.
    Other,
}

/// The SCIM request a write came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Its request id (`X-Request-Id`).
    pub request_id: String,
    /// The SCIM method.
    pub method: String,
    /// The SCIM path.
    pub path: String,
    /// `User` or `Group`, when the path names a resource type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The SCIM id in the path, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// What it would have done.
    pub kind: Kind,
    /// The mapped operation (`users.create`, `groups.members.add`, ...).
    pub operation: String,
    /// The HTTP method.
    pub method: String,
    /// The path below the platform's base URL.
    pub path: String,
    /// The query parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
    /// The JSON body, secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The resource type as the mapping names it (`users`, `groups`).
    pub resource: String,
    /// The platform id written (for a create, the simulated id answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The object's name (userName or displayName field), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Updates: the platform fields whose values change (dotted paths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Member changes: the member's platform id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The SCIM request it came from.
    pub request: Origin,
}

/// Whether a field name looks like it holds a secret.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The value with fields named like secrets, and strings holding one of `secrets`, redacted.
pub fn redact(value: &Value, secrets: &[&str]) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if secret_name(k) && !v.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(v, secrets)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| redact(v, secrets)).collect()),
        Value::String(s) => Value::String(redact_text(s, secrets)),
        other => other.clone(),
    }
}

/// The text with every occurrence of one of `secrets` redacted.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s) {
            out = out.replace(s, REDACTED);
        }
    }
    out
}

/// The platform fields (dotted paths) whose values differ between two objects.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", before, after, &mut out);
    out
}

fn diff(prefix: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, av) in a {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match b.get(k) {
                    Some(bv) => diff(&path, bv, av, out),
                    None if av.is_null() => {}
                    None => out.push(path),
                }
            }
            for (k, bv) in b {
                if !a.contains_key(k) && !bv.is_null() {
                    out.push(if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    });
                }
            }
        }
        (b, a) if b != a => out.push(prefix.to_owned()),
        _ => {}
    }
}

impl Origin {
    /// The origin of a SCIM request to `endpoint`.
    pub fn of(
        request_id: &str,
        method: &http::Method,
        uri: &http::Uri,
        endpoint: &crate::routes::Endpoint,
    ) -> Origin {
        let (resource, resource_id) = match endpoint {
            crate::routes::Endpoint::Collection(k) | crate::routes::Endpoint::Search(Some(k)) => {
                (Some(k.name().to_owned()), None)
            }
            crate::routes::Endpoint::Resource(k, id) => {
                (Some(k.name().to_owned()), Some(id.clone()))
            }
            _ => (None, None),
        };
        Origin {
            request_id: request_id.to_owned(),
            method: method.to_string(),
            path: uri.path().to_owned(),
            resource,
            resource_id,
        }
    }
}
