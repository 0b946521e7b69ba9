//! The mapping-test fixture file as written (`[[case]]` tables; see docs/mapping-tests.md and
//! config/demo/tests/users.toml): parsed with figment like the mapping, unknown keys refused.

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One fixture file: its cases, run in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The cases (`[[case]]`).
    #[serde(rename = "case", default)]
    pub cases: Vec<Case>,
}

/// One case: a SCIM request, the platform calls it must make, the SCIM answer expected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The case's name, printed after `ok` or `FAIL`.
    pub name: String,
    /// The SCIM request (`[case.request]`).
    pub request: Request,
    /// The platform calls, in the order they must be made (`[[case.calls]]`).
    #[serde(default)]
    pub calls: Vec<ExpectedCall>,
    /// The SCIM answer expected (`[case.expect]`).
    pub expect: Expect,
}

/// A SCIM request as a client sends it (no authentication: the test starts after it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// The path under the SCIM base path, e.g. `/scim/v2/Users/7`.
    pub path: String,
    /// Query parameters, unencoded (`{ filter = 'userName eq "ada@example.com"' }`).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// The body: a table is sent as JSON; a string is sent as written (e.g. malformed JSON).
    pub body: Option<Value>,
}

/// How a call's query is compared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryMatch {
    /// The sent parameters are exactly the listed ones.
    #[default]
    Exact,
    /// The listed parameters are among the sent ones; others may be sent too.
    Subset,
}

/// A platform call the case expects, and the answer the platform gives to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCall {
    /// The mapped operation's label (`users.create`), checked when given.
    pub operation: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The path below `[platform] base_url`, percent-encoded as sent (`/api/v1/users/7`).
    pub path: String,
    /// The query parameters, unencoded; not checked when absent.
    pub query: Option<BTreeMap<String, String>>,
    /// `exact` (default) or `subset`.
    #[serde(default)]
    pub query_match: QueryMatch,
    /// A subset of the JSON body sent; not checked when absent. A string is JSON text.
    pub body: Option<Value>,
    /// The canned platform answer (`[case.calls.answer]`).
    pub answer: Answer,
}

/// A canned platform answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Response headers (`X-Total-Count`, `Location`, ...).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: a table or an array is sent as JSON; a string is sent as written.
    pub body: Option<Value>,
}

/// The SCIM answer a case expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The HTTP status.
    pub status: u16,
    /// A subset of the JSON body; not checked when absent. A string is JSON text.
    pub body: Option<Value>,
    /// Headers that must be present with exactly these values (names case-insensitive).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Reads a fixture file; the error names the file and the key.
pub fn load(path: &Path) -> Result<File, String> {
    Figment::from(Toml::file_exact(path))
        .extract::<File>()
        .map_err(|e| {
            // figment's keys start with its profile name, which a fixture has no use for
            e.into_iter()
                .map(|e| {
                    let text = e.to_string().replace("for key \"default.", "for key \"");
                    format!("{}: {text}", path.display())
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// A body as bytes to send: a string as written, anything else as JSON.
pub fn body_bytes(body: &Value) -> bytes::Bytes {
    match body {
        Value::String(s) => bytes::Bytes::from(s.clone()),
        other => bytes::Bytes::from(other.to_string()),
    }
}

/// An expected body: a string is JSON text (so `null` can be written), anything else as is.
pub fn expected_json(body: &Value) -> Result<Value, String> {
    match body {
        Value::String(s) => {
            serde_json::from_str(s).map_err(|e| format!("{s:?} is not JSON text: {e}"))
        }
        other => Ok(other.clone()),
    }
}
