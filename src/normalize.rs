//! The normalize stage: a client's dialect turned into canonical RFC 7644 before the protocol core
//! sees it. One small pure function per quirk (`normalize/common.rs` for the rules `entra` and
//! `okta` share, `normalize/entra.rs`, `normalize/lowercase.rs`), each naming the Entra quirk it
//! handles (numbers from `shared/reference/entra-scim.md`); a profile chooses which run.
//!
//! - `entra` (default): every rule. Entra ID sends both its default dialect and the
//!   `aadOptscim062020` one (on-demand provisioning ignores the flag), so both are accepted at once.
//! - `okta`: the rules Okta's RFC-leaning shapes need (lenient `schemas`, member items, `""` as
//!   clear), none of Entra's non-RFC rewrites.
//! - `strict`: nothing is rewritten; non-RFC shapes reach the core and get a 400 naming the problem.
//!
//! Independent of the profile, e-mail addresses in the configured attributes are lowercased on
//! the way to the platform (`[scim] lowercase_attributes`, by default `emails.value` only:
//! `userName` is kept as sent).
//!
//! Only the shapes the reference documents are rewritten (each rule cites its quirk); anything
//! else reaches the core unchanged and is refused there with a 400 naming the problem, never
//! coerced into a value (issue 13, `docs/design/normalize.md`).
//!
//! Every rule that changes a request is recorded by name, so the access log says which fired.

pub mod common;
pub mod entra;
pub mod lowercase;

use http::Method;
use serde_json::Value;

use crate::mapping::model::Mapping;
use crate::request::{Input, Payload};
use crate::routes::{Endpoint, ResourceKind};
use crate::scim::error::ScimError;
use crate::scim::filter::{Filter, FilterOptions};
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;

/// A client dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Microsoft Entra ID (both PATCH dialects).
    Entra,
    /// Okta.
    Okta,
    /// RFC 7644 only.
    Strict,
}

impl Profile {
    /// Parses `entra`, `okta` or `strict`.
    pub fn parse(s: &str) -> Option<Profile> {
        match s {
            "entra" => Some(Profile::Entra),
            "okta" => Some(Profile::Okta),
            "strict" => Some(Profile::Strict),
            _ => None,
        }
    }

    /// The profile's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Entra => "entra",
            Profile::Okta => "okta",
            Profile::Strict => "strict",
        }
    }
}

pub use common::Fired;

/// A rule over a POST/PUT body.
type ResourceRule = fn(&mut Value, &ResourceSchema, &mut Fired);
/// A rule over one PATCH operation.
type OpRule = fn(&mut Value, &ResourceSchema, &mut Fired);

/// The `okta` profile's body rules, in the order they run.
const OKTA_RESOURCE: &[ResourceRule] = &[
    common::lenient_schemas,
    common::empty_strings_are_absent,
    |body, _, fired| common::member_items_in_resource(body, fired),
];
/// The `entra` profile's body rules, in the order they run.
const ENTRA_RESOURCE: &[ResourceRule] = &[
    common::lenient_schemas,
    common::empty_strings_are_absent,
    entra::string_booleans_in_resource,
    entra::manager_in_resource,
    |body, _, fired| entra::roles_as_json_strings_in_resource(body, fired),
    |body, _, fired| common::member_items_in_resource(body, fired),
];
/// The `okta` profile's PATCH operation rules, in the order they run.
const OKTA_OP: &[OpRule] = &[
    |op, _, fired| common::op_case(op, fired),
    |op, _, fired| common::member_items_in_op(op, false, fired),
    common::empty_string_clears,
];
/// The `entra` profile's PATCH operation rules, in the order they run (then
/// [`entra::member_removal_by_value`] splits the operation).
const ENTRA_OP: &[OpRule] = &[
    |op, _, fired| common::op_case(op, fired),
    entra::string_booleans_in_op,
    entra::filter_string_booleans_in_path,
    entra::manager_in_op,
    |op, _, fired| entra::roles_as_json_strings_in_op(op, fired),
    |op, _, fired| common::member_items_in_op(op, true, fired),
    common::empty_string_clears,
];

impl Profile {
    /// The rules run on a POST/PUT body, in order.
    fn resource_rules(self) -> &'static [ResourceRule] {
        match self {
            Profile::Entra => ENTRA_RESOURCE,
            Profile::Okta => OKTA_RESOURCE,
            Profile::Strict => &[],
        }
    }

    /// The rules run on each PATCH operation, in order.
    fn op_rules(self) -> &'static [OpRule] {
        match self {
            Profile::Entra => ENTRA_OP,
            Profile::Okta => OKTA_OP,
            Profile::Strict => &[],
        }
    }
}

/// The configured normalizer: a profile and the attributes whose e-mail values are lowercased.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// The dialect.
    pub profile: Profile,
    /// Attributes whose values are lowercased when they hold an e-mail address.
    pub lowercase: Vec<AttrPath>,
}

impl Normalizer {
    /// Filter parsing options: Entra's documentation sends unquoted values (quirk 18).
    pub fn filter_options(&self) -> FilterOptions {
        FilterOptions {
            unquoted_strings: self.profile == Profile::Entra,
        }
    }

    /// Whether a replace through a value filter that matches nothing creates the element
    /// (quirk 4).
    pub fn upsert_filtered_replace(&self) -> bool {
        self.profile == Profile::Entra
    }

    /// The normalize stage: the bodies and filters a resource endpoint reads, in the client's
    /// dialect, turned into canonical RFC 7644, with the rules that fired. Bodies are normalized
    /// as JSON; a filter is parsed with the dialect's options and rewritten for each resource type
    /// it is read for. What does not parse is left as sent, for the parse stage to refuse.
    pub fn apply(
        &self,
        mapping: &Mapping,
        endpoint: &Endpoint,
        method: &Method,
        mut input: Input,
    ) -> Result<(Input, Fired), ScimError> {
        let mut fired = Vec::new();
        let json = |body: &Payload| match body {
            Payload::Raw(b) => crate::request::parse_json(b).ok(),
            Payload::Json(v) => Some(v.clone()),
        };
        match (endpoint, method) {
            (Endpoint::Collection(kind), &Method::POST)
            | (Endpoint::Resource(kind, _), &Method::PUT) => {
                if let (Some(map), Some(v)) = (mapping.resource(*kind), json(&input.body)) {
                    input.body = Payload::Json(self.resource(v, &map.schema, &mut fired)?);
                }
            }
            (Endpoint::Resource(kind, _), &Method::PATCH) => {
                if let (Some(map), Some(v)) = (mapping.resource(*kind), json(&input.body)) {
                    input.body = Payload::Json(self.patch(v, &map.schema, &mut fired)?);
                }
            }
            (Endpoint::Collection(kind), &Method::GET) => {
                if let Some(text) = &input.query.filter {
                    input.filters = self.filters(mapping, &[*kind], text, &mut fired);
                }
            }
            (Endpoint::Search(kind), &Method::POST) => {
                let text = json(&input.body)
                    .and_then(|v| crate::scim::list::parse_search_request(&v).ok())
                    .and_then(|r| r.filter);
                if let Some(text) = text {
                    let kinds = match kind {
                        Some(k) => vec![*k],
                        None => vec![ResourceKind::User, ResourceKind::Group],
                    };
                    input.filters = self.filters(mapping, &kinds, &text, &mut fired);
                }
            }
            _ => {}
        }
        let mut unique: Fired = Vec::with_capacity(fired.len());
        for r in fired {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        Ok((input, unique))
    }

    /// A filter parsed with the dialect's options and normalized for each of `kinds` the mapping
    /// serves; nothing when it does not parse.
    fn filters(
        &self,
        mapping: &Mapping,
        kinds: &[ResourceKind],
        text: &str,
        fired: &mut Fired,
    ) -> Vec<(ResourceKind, Filter)> {
        let Ok(parsed) = crate::scim::filter::parse_with(text, &self.filter_options()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for kind in kinds {
            let Some(map) = mapping.resource(*kind) else {
                continue;
            };
            out.push((*kind, self.filter(parsed.clone(), &map.schema, fired)));
        }
        out
    }

    /// Normalizes a POST or PUT body.
    pub fn resource(
        &self,
        mut body: Value,
        schema: &ResourceSchema,
        fired: &mut Fired,
    ) -> Result<Value, ScimError> {
        for rule in self.profile.resource_rules() {
            rule(&mut body, schema, fired);
        }
        lowercase::lowercase_emails_in_resource(&mut body, schema, &self.lowercase, fired);
        Ok(body)
    }

    /// Normalizes a PATCH body into RFC 7644 PatchOp form.
    pub fn patch(
        &self,
        mut body: Value,
        schema: &ResourceSchema,
        fired: &mut Fired,
    ) -> Result<Value, ScimError> {
        // A PatchOp body keeps its `schemas` as sent in every profile: no client documents a PATCH
        // without `urn:...:PatchOp`, and the core refuses one (issue 13).
        let Some(ops) = body.get_mut("Operations").and_then(Value::as_array_mut) else {
            return Ok(body);
        };
        let taken = std::mem::take(ops);
        let mut out = Vec::with_capacity(taken.len());
        for mut op in taken {
            for rule in self.profile.op_rules() {
                rule(&mut op, schema, fired);
            }
            if self.profile == Profile::Entra {
                out.extend(entra::member_removal_by_value(op, fired));
            } else {
                out.push(op);
            }
        }
        for op in &mut out {
            lowercase::lowercase_emails_in_op(op, schema, &self.lowercase, fired);
        }
        if let Some(ops) = body.get_mut("Operations") {
            *ops = Value::Array(out);
        }
        Ok(body)
    }

    /// Normalizes a parsed filter (string booleans compared with boolean attributes, quirk 3;
    /// e-mail values in lowercased attributes).
    pub fn filter(&self, f: Filter, schema: &ResourceSchema, fired: &mut Fired) -> Filter {
        let f = if self.profile == Profile::Entra {
            entra::filter_string_booleans(f, schema, fired)
        } else {
            f
        };
        lowercase::lowercase_emails_in_filter(f, schema, &self.lowercase, fired)
    }
}
