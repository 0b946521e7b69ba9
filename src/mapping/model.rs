//! The compiled mapping: the plan `mapping::compile` builds once from the TOML file and every
//! request then follows. Nothing here is parsed again at request time.

use http::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::mapping::field::FieldPath;
use crate::mapping::jsonpath::JsonPath;
use crate::mapping::template::{BodyTemplate, JoinTemplate, PathTemplate, TextTemplate};
use crate::platform::Settings;
use crate::scim::error::ScimType;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::resource::ResourceKind;
use crate::scim::schema::{AttrType, ResourceSchema};

/// A compiled mapping file.
#[derive(Debug)]
pub struct Mapping {
    /// The file it was compiled from.
    pub file: PathBuf,
    /// How to reach the platform (the runtime builds its client from these settings).
    pub platform: Settings,
    /// Platform answer → SCIM error rules, operator's first, then the built-in ones.
    pub errors: Vec<ErrorRule>,
    /// `/Users`, if mapped.
    pub users: Option<ResourceMap>,
    /// `/Groups`, if mapped.
    pub groups: Option<ResourceMap>,
    /// The call `/readyz` makes to know the platform answers.
    pub readiness: Option<Readiness>,
}

/// A readiness probe of the platform.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The call (2xx means ready).
    pub call: crate::platform::Call,
    /// How long a result is reused before probing again.
    pub cache: std::time::Duration,
    /// The deadline of one `/readyz` answer: platform call, and wait for another probe's, included.
    pub timeout: std::time::Duration,
}

impl Mapping {
    /// The mapping of a resource type, if it is mapped.
    pub fn resource(&self, kind: ResourceKind) -> Option<&ResourceMap> {
        match kind {
            ResourceKind::User => self.users.as_ref(),
            ResourceKind::Group => self.groups.as_ref(),
        }
    }
}

/// How platform ids are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// Decimal integers (`17`): SCIM ids that are not integers name no resource.
    Integer,
    /// Opaque strings.
    String,
}

/// One resource type's plan.
#[derive(Debug)]
pub struct ResourceMap {
    /// User or Group.
    pub kind: ResourceKind,
    /// The full schema (RFC attributes plus custom extensions): requests are validated against it.
    pub schema: Arc<ResourceSchema>,
    /// The schema narrowed to what round-trips through the platform: published in `/Schemas`.
    pub published: Arc<ResourceSchema>,
    /// Where the platform id sits in a platform object.
    pub id: JsonPath,
    /// How platform ids are typed.
    pub id_type: IdType,
    /// `create`
    pub create: Option<Op>,
    /// `read`
    pub read: Option<Op>,
    /// `replace` (full update, e.g. PUT)
    pub replace: Option<Op>,
    /// `update` (partial update, e.g. PATCH with changed fields only)
    pub update: Option<Op>,
    /// `delete`
    pub delete: Option<Op>,
    /// The collection endpoint.
    pub list: Option<ListSpec>,
    /// SCIM filters the platform evaluates.
    pub pushdown: Vec<PushRule>,
    /// Attribute mappings, in file order.
    pub attributes: Vec<AttrMap>,
    /// How `active` reaches the platform.
    pub deactivate: Deactivation,
    /// Group membership (groups only).
    pub members: Option<MemberSpec>,
    /// The platform's optimistic concurrency, if it offers one.
    pub concurrency: Option<Concurrency>,
}

/// How a platform detects that a resource changed between a read and a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// Send the `ETag` of the read back as `If-Match` on the write.
    pub etag: bool,
    /// A version field copied from the object read into every write body.
    pub version_field: Option<FieldPath>,
    /// Statuses that mean "changed since it was read": the request is read and applied again.
    pub conflict: Vec<u16>,
    /// Most attempts of one read-modify-write (the first included).
    pub attempts: u32,
}

/// One platform call template.
#[derive(Debug, Clone)]
pub struct Op {
    /// `users.create`, `groups.members.add`, ...: names the call in logs and metrics.
    pub label: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: PathTemplate,
    /// Query parameters.
    pub query: Vec<(String, TextTemplate)>,
    /// Explicit body; `None` builds the body from the attribute mappings (or sends none).
    pub body: Option<BodyTemplate>,
    /// Where the object sits in the response.
    pub response: JsonPath,
    /// What to do with a success that carries no object.
    pub on_empty: OnEmpty,
    /// Platform fields always set in the body.
    pub set: Vec<(FieldPath, Value)>,
    /// Statuses outside 2xx that still mean success.
    pub ok: Vec<u16>,
    /// `replace`: the body starts from the object just read, so fields the mapping does not
    /// cover are written back as they were (mapped fields the request leaves out are removed).
    pub preserve_unmapped: bool,
    /// A multi-step operation (`[[users.create.steps]]`): its calls, made in place of this one;
    /// `response` and `on_empty` then apply to the reply of the result step.
    pub steps: Option<Arc<Steps>>,
}

/// The calls of a multi-step operation, in order.
#[derive(Debug, Clone)]
pub struct Steps {
    /// The steps.
    pub steps: Vec<Step>,
    /// Which step's reply is the resource (`result`; the first by default).
    pub result: usize,
    /// Which step sends the body built from the attribute mappings: the first without `body`.
    pub body_step: Option<usize>,
}

/// One call of a multi-step operation, and the call that takes it back.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its name (`account`), unique in the operation; `{steps.<name>.…}` names its outputs.
    pub name: String,
    /// The call (labelled `users.create.<name>` in logs and metrics).
    pub call: Op,
    /// Run in reverse order when a later step fails (labelled `users.create.<name>.undo`).
    pub undo: Option<Op>,
}

/// What a successful call with no object in its response means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEmpty {
    /// Read the resource again by id (the id from the request, or from `Location`).
    Read,
    /// Nothing is expected (deletes, member calls).
    Nothing,
}

/// How a collection is paged.
#[derive(Debug, Clone, PartialEq)]
pub enum Paging {
    /// `?page=N&per_page=M`, pages counted from `first`.
    Page {
        /// Page number parameter.
        page_param: String,
        /// Page size parameter.
        size_param: String,
        /// Number of the first page (usually 1).
        first: u64,
    },
    /// `?offset=N&limit=M`, offsets from 0.
    Offset {
        /// Offset parameter.
        offset_param: String,
        /// Limit parameter.
        limit_param: String,
    },
    /// `?cursor=C`, the next cursor in the body; absent, null or empty at the end.
    Cursor {
        /// Cursor parameter.
        cursor_param: String,
        /// Page size parameter, if the platform takes one.
        size_param: Option<String>,
        /// Where the next cursor is.
        next: JsonPath,
    },
    /// The next page's URL in the body.
    NextUrl {
        /// Where the URL is.
        next: JsonPath,
    },
    /// The next page's URL in an RFC 8288 `Link: <...>; rel="next"` header.
    LinkHeader,
    /// One response holds everything.
    None,
}

/// Where the total count is.
#[derive(Debug, Clone, PartialEq)]
pub enum Total {
    /// In the body.
    Body(JsonPath),
    /// In a header such as `X-Total-Count`.
    Header(http::HeaderName),
    /// Not in the list answers: from the list's count call when it has one, else what the
    /// sidecar has read (exact once the last page is read, a lower bound before).
    Absent,
}

/// A collection endpoint.
#[derive(Debug, Clone)]
pub struct ListSpec {
    /// `users.list`, `groups.members.list`.
    pub label: &'static str,
    /// Path template (`{id}` for member lists).
    pub path: PathTemplate,
    /// Fixed query parameters.
    pub query: Vec<(String, TextTemplate)>,
    /// Where the items are.
    pub items: JsonPath,
    /// Where the total is.
    pub total: Total,
    /// Paging style.
    pub paging: Paging,
    /// Items asked for per platform page.
    pub page_size: u64,
    /// Most items read to answer one request; past it a filter that cannot be pushed down is
    /// refused with `tooMany`.
    pub scan_limit: u64,
    /// Member lists: where a member's platform id sits in an item.
    pub value: Option<JsonPath>,
    /// A separate call answering the collection's size (`[users.list.count]`).
    pub count: Option<CountSpec>,
    /// What identifies an item (the resource's id, a member's id), to tell a page the platform
    /// answers again past the end; `None` compares whole items.
    pub item_id: Option<JsonPath>,
}

/// A separate call that answers how many items a collection holds (Keycloak's
/// `GET /users/count` answers a bare number).
#[derive(Debug, Clone)]
pub struct CountSpec {
    /// `users.count`, `groups.count`.
    pub label: &'static str,
    /// Path template.
    pub path: PathTemplate,
    /// Fixed query parameters.
    pub query: Vec<(String, TextTemplate)>,
    /// Where the number is in the answer (`$` for a bare number).
    pub value: JsonPath,
    /// Whether the parameters of a pushed-down filter are sent to the count call too (the
    /// platform counts what its list would return for them).
    pub filters: bool,
}

/// How the platform compares a pushed-down query value with what it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Equal, case-sensitive.
    Exact,
    /// Equal, ignoring case.
    CaseInsensitive,
    /// The stored value starts with the query value, ignoring case.
    Prefix,
    /// The stored value contains the query value, ignoring case.
    Substring,
}

impl Match {
    /// The name used in the mapping file.
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Exact => "exact",
            Match::CaseInsensitive => "case_insensitive",
            Match::Prefix => "prefix",
            Match::Substring => "substring",
        }
    }
}

/// What a pushed-down comparison does to the result, compared with the SCIM comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fidelity {
    /// The platform returns exactly the SCIM matches: no re-check needed, and the platform's
    /// paging and totals hold for the filtered list.
    Exact,
    /// The platform returns the SCIM matches and possibly more: results are re-checked.
    Looser,
    /// The platform may miss SCIM matches (e.g. a case-sensitive platform for a case-insensitive
    /// attribute that is not stored lowercase): the rule is not used unless `allow_stricter`.
    Stricter,
}

/// A SCIM filter comparison the platform can evaluate as a query parameter.
#[derive(Debug, Clone)]
pub struct PushRule {
    /// The canonical key the filter comparison must have (see `mapping::pushdown::key_of`).
    pub key: String,
    /// The SCIM attribute as written in the mapping.
    pub attribute: String,
    /// The operator.
    pub op: CompareOp,
    /// The query parameter.
    pub param: String,
    /// The value sent: literal parts around `{value}` (the transformed SCIM value); `None` sends
    /// the value alone.
    pub value: Option<Vec<ValuePart>>,
    /// Fixed query parameters sent with the rule (`exact = "true"`).
    pub query: Vec<(String, String)>,
    /// How the platform matches, as declared (`None`: not declared; taken to be at least as
    /// loose as SCIM, so results are re-checked and the platform's totals are not trusted).
    pub matching: Option<Match>,
    /// What the push-down does to the result compared with SCIM's comparison.
    pub fidelity: Fidelity,
    /// Use the rule even when it is [`Fidelity::Stricter`].
    pub allow_stricter: bool,
    /// Index into `attributes` of the mapping whose write transforms apply to the value.
    pub attr_index: usize,
}

/// A part of a filter rule's value template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePart {
    /// Literal text.
    Text(String),
    /// The transformed SCIM value.
    Value,
}

/// How a value is read from a platform object.
#[derive(Debug, Clone)]
pub enum Read {
    /// A dotted field.
    Field(FieldPath),
    /// A JSONPath.
    Json(JsonPath),
    /// A join of fields.
    Join(JoinTemplate),
    /// A constant.
    Constant(Value),
}

/// The platform-side type of a written value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformType {
    /// JSON string.
    String,
    /// JSON integer (from a decimal string or number).
    Integer,
    /// JSON number.
    Number,
    /// JSON boolean (from `true`/`false` in any case).
    Boolean,
}

/// One SCIM attribute ⇄ platform field mapping.
#[derive(Debug, Clone)]
pub struct AttrMap {
    /// The config key, e.g. `users.attributes[2]`.
    pub key: String,
    /// The SCIM path as written (`emails[type eq "work"].value`).
    pub scim: String,
    /// Extension URN holding the attribute, canonical; `None` for core and common attributes.
    pub extension: Option<String>,
    /// Top-level attribute name, canonical.
    pub attr: String,
    /// Value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The `eq` equalities of `filter`, used to create the element on read.
    pub filter_eqs: Vec<(String, Value)>,
    /// Sub-attribute, canonical.
    pub sub: Option<String>,
    /// Whether the top-level attribute is multi-valued.
    pub multi: bool,
    /// SCIM type of the mapped value.
    pub ty: AttrType,
    /// How the value is read.
    pub read: Read,
    /// The field written; `None` when read-only.
    pub write: Option<FieldPath>,
    /// Lowercase on the way to the platform.
    pub lowercase: bool,
    /// Trim on the way to the platform.
    pub trim: bool,
    /// SCIM value (as text) → platform value, and back.
    pub values: Option<BTreeMap<String, Value>>,
    /// Platform-side type coercion on write.
    pub platform_type: Option<PlatformType>,
    /// The platform needs a value on create.
    pub required: bool,
    /// SCIM value used on create when none is given.
    pub default: Option<Value>,
    /// Platform value that clears the field.
    pub clear: Value,
    /// The platform holds the value as a one-element array: the first element is read, `[value]`
    /// written.
    pub array: bool,
    /// A further mapping of a SCIM attribute an earlier entry maps: written beside it, never read
    /// (the earlier entry is), not published on its own.
    pub copy: bool,
}

/// How `active` reaches the platform.
#[derive(Debug, Clone)]
pub enum Deactivation {
    /// Through the `active` attribute's field (or not at all when `active` is unmapped).
    Field,
    /// Through dedicated calls; `active` is still read through its attribute mapping.
    Calls(Box<CallPair>),
    /// `active = false` deletes the platform record; every record that exists is active.
    Delete,
}

/// The two calls of `mode = "calls"` deactivation.
#[derive(Debug, Clone)]
pub struct CallPair {
    /// Call when `active` becomes false.
    pub deactivate: Op,
    /// Call when `active` becomes true.
    pub activate: Op,
}

/// The calls of `mode = "calls"` membership.
#[derive(Debug, Clone)]
pub struct MemberCalls {
    /// The member list (with `value`).
    pub list: ListSpec,
    /// Add one member (`{member}`).
    pub add: Op,
    /// Remove one member (`{member}`).
    pub remove: Op,
    /// Answers of `add` that mean "already a member" (treated as success).
    pub already_member: Vec<AnswerRule>,
    /// Answers of `remove` that mean "not a member" (treated as success).
    pub not_member: Vec<AnswerRule>,
    /// Answers of `add` that mean "no such user" (see `[scim] unknown_members`).
    pub unknown_member: Vec<AnswerRule>,
    /// When an answer says "already so", read the group once to tell that from "no such group"
    /// (a 404 then answers 404 instead of a success).
    pub verify_group: bool,
}

/// A platform answer to recognise: a status, optionally with a value in its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRule {
    /// The status.
    pub status: u16,
    /// A JSONPath into the body and the value it must hold there.
    pub when: Option<(JsonPath, Value)>,
}

impl AnswerRule {
    /// Whether a platform answer (status and parsed JSON body, if any) matches.
    pub fn matches(&self, status: u16, body: Option<&Value>) -> bool {
        self.status == status
            && self.when.as_ref().is_none_or(|(path, want)| {
                body.and_then(|b| path.first(b)).is_some_and(|v| v == want)
            })
    }
}

/// Where group membership lives.
#[derive(Debug, Clone)]
pub enum MemberSpec {
    /// Separate member calls: list, add one, remove one.
    Calls(Box<MemberCalls>),
    /// An array of member ids (or of objects holding one) inside the group object.
    Embedded {
        /// The group field holding the array.
        field: FieldPath,
        /// For arrays of objects: the id field inside each item.
        item_field: Option<FieldPath>,
    },
    /// Each user holds the ids of its groups; a group's members are the users listed with a
    /// query parameter naming the group.
    OnUser {
        /// The user field holding the array of group ids.
        field: FieldPath,
        /// The users-list query parameter selecting a group's members (`?group_id={id}`).
        param: String,
    },
}

/// Platform answer → SCIM error.
#[derive(Debug, Clone)]
pub struct ErrorRule {
    /// Platform status.
    pub status: u16,
    /// Optional condition on the platform's JSON body.
    pub when: Option<(JsonPath, Value)>,
    /// SCIM status answered.
    pub scim_status: u16,
    /// SCIM `scimType`.
    pub scim_type: Option<ScimType>,
    /// Detail sent to the client (never the platform's body).
    pub detail: Option<String>,
}
