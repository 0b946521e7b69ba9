//! The mapping file as written: serde structs mirroring `config/demo/mapping.toml`, the manual of
//! the mapping language. Every field is documented there; validation and defaults live in
//! `mapping::compile`. Unknown keys are errors.
#![allow(
    missing_docs,
    reason = "each field is a TOML key, documented once, in config/demo/mapping.toml (the manual)"
)]

use figment::value::magic::RelativePathBuf;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::scim::schema::AttributeDef;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// `[platform]`: how to reach the platform.
    pub platform: Platform,
    /// `[users]`: the SCIM User resource.
    pub users: Option<Resource>,
    /// `[groups]`: the SCIM Group resource.
    pub groups: Option<Resource>,
    /// `[[schemas]]`: custom extension schemas.
    #[serde(default)]
    pub schemas: Vec<SchemaDef>,
}

/// `[platform]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub base_url: Option<String>,
    pub ca_file: Option<RelativePathBuf>,
    pub client_cert_file: Option<RelativePathBuf>,
    pub client_key_file: Option<RelativePathBuf>,
    pub connect_timeout: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub request_budget: Option<String>,
    pub max_concurrency: Option<u32>,
    pub queue_timeout: Option<String>,
    pub rate: Option<String>,
    pub burst: Option<u32>,
    pub max_response_size: Option<crate::config::raw::StrOrNum>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub auth: Option<PlatformAuth>,
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    pub readiness: Option<Readiness>,
}

/// `[platform.readiness]`: the call `/readyz` makes to know the platform answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readiness {
    pub method: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub cache: Option<String>,
    pub timeout: Option<String>,
}

/// `[platform.auth]`: how the sidecar authenticates to the platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformAuth {
    /// `header` (a named header), `bearer`, `basic`, or `oauth2` (client credentials).
    pub kind: Option<String>,
    pub header: Option<String>,
    pub value_env: Option<String>,
    pub value_file: Option<RelativePathBuf>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<RelativePathBuf>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<RelativePathBuf>,
    pub client_auth: Option<String>,
    pub scope: Option<String>,
    pub audience: Option<String>,
    pub default_expires_in: Option<String>,
}

/// `[[platform.errors]]`: a platform answer → SCIM error rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    pub status: u16,
    pub when: Option<String>,
    pub equals: Option<Value>,
    pub scim_status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
}

/// `[users]` / `[groups]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub id: Option<String>,
    pub id_type: Option<String>,
    pub create: Option<Operation>,
    pub read: Option<Operation>,
    pub replace: Option<Operation>,
    pub update: Option<Operation>,
    pub delete: Option<Operation>,
    pub list: Option<List>,
    #[serde(default)]
    pub filters: Vec<FilterRule>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    pub deactivate: Option<Deactivate>,
    pub members: Option<Members>,
    pub concurrency: Option<Concurrency>,
}

/// `[users.concurrency]` / `[groups.concurrency]`: the platform's optimistic concurrency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    pub etag: Option<bool>,
    pub version_field: Option<String>,
    pub conflict: Option<Vec<u16>>,
    pub attempts: Option<u32>,
}

/// One platform call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub method: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub response: Option<String>,
    pub on_empty: Option<String>,
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    #[serde(default)]
    pub ok: Vec<u16>,
    /// `replace` only: start the body from the object just read (fields the mapping does not
    /// cover are kept).
    pub preserve_unmapped: Option<bool>,
    /// `create` only: `[[users.create.steps]]`, the calls of a multi-step operation.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// With `steps`: the step whose reply is the created object (default: the first).
    pub result: Option<String>,
}

/// `[[users.create.steps]]`: one call of a multi-step operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    #[serde(default)]
    pub ok: Vec<u16>,
    pub undo: Option<Undo>,
}

/// A step's `undo`: the call that takes the step back when a later step fails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Undo {
    pub method: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    #[serde(default)]
    pub ok: Vec<u16>,
}

/// `[users.list]`: the collection endpoint and its paging.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct List {
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub items: Option<String>,
    pub total: Option<String>,
    pub total_header: Option<String>,
    pub paging: Option<String>,
    pub page_param: Option<String>,
    pub size_param: Option<String>,
    pub offset_param: Option<String>,
    pub limit_param: Option<String>,
    pub cursor_param: Option<String>,
    pub next: Option<String>,
    pub first_page: Option<u64>,
    pub page_size: Option<u64>,
    pub scan_limit: Option<u64>,
    /// Members lists only: where the member's platform id sits in an item.
    pub value: Option<String>,
    /// `[users.list.count]`: a separate call answering the total.
    pub count: Option<Count>,
}

/// `[users.list.count]`: a separate call answering how many items the collection holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    pub path: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub value: Option<String>,
    pub filters: Option<bool>,
}

/// `[[users.filters]]`: a SCIM filter that the platform can evaluate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    pub attribute: Option<String>,
    pub op: Option<String>,
    pub param: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(rename = "match")]
    pub matching: Option<String>,
    pub allow_stricter: Option<bool>,
    pub field: Option<String>,
}

/// `[[users.attributes]]`: one SCIM attribute ⇄ platform field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub scim: Option<String>,
    pub field: Option<String>,
    pub read: Option<String>,
    pub template: Option<String>,
    pub constant: Option<Value>,
    pub values: Option<BTreeMap<String, Value>>,
    pub lowercase: Option<bool>,
    pub trim: Option<bool>,
    #[serde(rename = "type")]
    pub platform_type: Option<String>,
    pub required: Option<bool>,
    pub default: Option<Value>,
    pub writable: Option<bool>,
    pub clear: Option<Value>,
    pub array: Option<bool>,
}

/// `[users.deactivate]`: how `active = false` reaches the platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deactivate {
    pub mode: Option<String>,
    pub deactivate: Option<Operation>,
    pub activate: Option<Operation>,
}

/// `[groups.members]`: where group membership lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    pub mode: Option<String>,
    pub list: Option<List>,
    pub add: Option<Operation>,
    pub remove: Option<Operation>,
    #[serde(default)]
    pub already_member: Vec<AnswerRule>,
    #[serde(default)]
    pub not_member: Vec<AnswerRule>,
    #[serde(default)]
    pub unknown_member: Vec<AnswerRule>,
    pub verify_group: Option<bool>,
    pub field: Option<String>,
    pub item_field: Option<String>,
    pub user_field: Option<String>,
    pub param: Option<String>,
}

/// A platform answer to a member call: a status (`409`), or a status with a condition on the
/// JSON body (`{ status = 400, when = "$.error", equals = "already_member" }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AnswerRule {
    Status(u16),
    Rule(AnswerCondition),
}

/// The table form of an [`AnswerRule`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerCondition {
    pub status: u16,
    pub when: Option<String>,
    pub equals: Option<Value>,
}

/// `[[schemas]]`: a custom extension schema published for a resource type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaDef {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub resource: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub attributes: Vec<AttributeDef>,
}
