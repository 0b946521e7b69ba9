//! PATCH (RFC 7644 §3.5.2): parsing the strict RFC `PatchOp` body and applying its operations to
//! a resource atomically.
//!
//! [`parse_request`] accepts only the RFC form; a separate normalisation stage turns Entra ID's
//! shapes (capitalised `op`s, `remove` with a `value`, string booleans, ...) into it first.
//!
//! [`apply`] works on a copy, in order, and returns either the whole result or the first error, so
//! a failing operation leaves nothing applied (§3.5.2: "SHALL be treated as atomic"). Errors name
//! the operation as `Operations[i]` with a 0-based `i` (the JSON array index) and its path.
//!
//! Semantics follow §3.5.2.1–3, with these decisions where the RFC is silent or loose:
//! - **Path-less add/replace**: each member of the value object is handled as if it were an
//!   operation on that attribute. Members are attribute names, URN-qualified names, dotted
//!   `attr.sub` names, or an extension URN holding an object of that extension's attributes.
//!   An unknown member is 400 `invalidValue` (Table 9: the value is not compatible with the
//!   resource); an unknown attribute in a `path` is 400 `invalidPath`. `schemas` members are
//!   accepted when they name this resource type's schemas and otherwise ignored: `schemas` is
//!   recomputed from the extensions present. A `path` of `schemas` is 400 `mutability`.
//! - **readOnly**: a path naming a readOnly attribute or sub-attribute (`id`, `meta`, `groups`,
//!   `members.display`, ...) is 400 `mutability`. In a path-less value, a readOnly attribute is
//!   tolerated when it equals the current value (clients echo `id`), else `mutability`.
//!   readOnly sub-attributes inside a value (`members[].display` in the RFC's own examples) are
//!   ignored, as RFC 7644 §3.3/§3.5.1 do for POST/PUT; a filtered whole-element replace keeps the
//!   element's readOnly sub-attributes.
//! - **immutable**: may be set while unassigned; a different value afterwards is `mutability`.
//!   For sub-attributes of multi-valued attributes this applies to existing elements modified
//!   through a filter or merged by `add`.
//! - **required**: removing (or replacing with null/empty) a required attribute or sub-attribute
//!   is 400 `mutability` (§3.5.2.2, last paragraph).
//! - **null**: a `replace` with a `null` value unassigns, like `remove` (RFC 7643 §2.5); an `add`
//!   needs a non-null value (400 `invalidValue`). `null` members inside objects unassign.
//! - **Single values for multi-valued attributes** are accepted and wrapped in an array.
//! - **Complex single-valued**: add and replace merge the given sub-attributes and leave the
//!   others (§3.5.2.3).
//! - **Multi-valued add** appends, except that a value already present is merged instead of
//!   duplicated: for attributes with a `value` sub-attribute, "already present" means an element
//!   with an equal `value` whose `type` (when both carry one) is equal; otherwise an identical
//!   element. Replace without a filter replaces the whole set.
//! - **Value filters**: add merges the value into each matched element (or sets the path's
//!   sub-attribute); replace replaces each matched element whole (or sets the sub-attribute);
//!   remove removes matched elements (or their sub-attribute; an element left empty goes too).
//!   `attr.sub` without a filter addresses that sub-attribute of every element.
//!   - add matching nothing creates an element from the filter's `eq` comparisons plus the value
//!     (`emails[type eq "work"].value` + `"x"` → `{"type":"work","value":"x"}`) when the filter is
//!     a conjunction of `eq` comparisons with non-null values; otherwise 400 `noTarget`;
//!   - replace matching nothing is 400 `noTarget` (§3.5.2.3), or behaves like that add with
//!     [`PatchOptions::upsert_filtered_replace`];
//!   - remove matching nothing (or of an unassigned attribute) succeeds without change: the RFC
//!     only mandates `noTarget` for replace, and idempotent removal is what provisioning clients
//!     retrying a membership change need.
//!   - value filters on multi-valued attributes of simple type (e.g. `schemas`) select elements
//!     by `value` and are supported by remove only.
//! - **primary**: writing `primary: true` on one element sets it to `false` on the others
//!   (§3.5.2); one operation writing two primary values is 400 `invalidValue`.
//! - A `path` naming a whole extension (its URN) addresses the extension object: add/replace take
//!   an object of its attributes (as in a path-less value), remove unassigns all of them.
//! - A multi-valued attribute left empty is removed. Keys are written in the schema's spelling and
//!   found case-insensitively (renamed when written). Writing an extension attribute adds the
//!   extension URN to `schemas`; removing its last attribute removes the object and the URN.

use crate::scim::error::ScimError;
use crate::scim::error::ScimType;
use crate::scim::filter::{Filter, Literal, PatchPath, check_element_filter, element_matches};
use crate::scim::path::{self, AttrPath, Location, Target, describe_miss};
use crate::scim::schema::{AttrType, Attribute, Mutability, PATCH_OP_URN, ResourceSchema};
use crate::scim::value::{
    Checker, Object, Unknown, canonicalize_key, element_equal, excerpt, get_ci, get_ci_mut,
    is_present, kind, remove_ci, set_ci, values_equal,
};
use serde_json::Value;

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl PatchOpKind {
    /// The RFC keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself (add/replace only).
    pub path: Option<PatchPath>,
    /// The value (required for add/replace; absent or null for remove).
    pub value: Option<Value>,
}

/// Behaviour switches for [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOptions {
    /// A filtered `replace` that matches nothing behaves like `add` (creating the element)
    /// instead of failing with `noTarget`.
    pub upsert_filtered_replace: bool,
}

// === parsing ==================================================================================

fn at_op(i: usize, path: Option<&PatchPath>, e: ScimError) -> ScimError {
    let path = path.map_or(String::new(), |p| format!(" (path '{p}')"));
    ScimError {
        detail: format!("Operations[{i}]{path}: {}", e.detail),
        ..e
    }
}

fn json_excerpt(v: &Value) -> String {
    excerpt(&v.to_string(), 80)
}

/// Parses a PATCH request body in the strict RFC 7644 §3.5.2 form.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must be a JSON object (RFC 7644 §3.5.2), found {}",
            kind(body)
        )));
    };
    let mut schemas = None;
    let mut operations = None;
    for (k, v) in obj {
        let slot = if k.eq_ignore_ascii_case("schemas") {
            &mut schemas
        } else if k.eq_ignore_ascii_case("Operations") {
            &mut operations
        } else {
            return Err(ScimError::invalid_syntax(format!(
                "unknown member {k:?} in the PATCH body: a PatchOp has only \"schemas\" and \"Operations\""
            )));
        };
        if slot.replace(v).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "member {k:?} appears more than once (names are case-insensitive)"
            )));
        }
    }
    let has_urn = schemas.and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|u| {
            u.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_URN))
        })
    });
    if !has_urn {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array containing \"{PATCH_OP_URN}\", found {}",
            schemas.map_or("nothing".to_owned(), json_excerpt)
        )));
    }
    let ops = match operations {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "\"Operations\" must be an array of operations, found {}",
                kind(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" is required: an array of one or more operations",
            ));
        }
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax(
            "\"Operations\" must hold at least one operation",
        ));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "{} operations exceed the limit of {MAX_OPERATIONS} per request",
            ops.len()
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, v: &Value) -> Result<PatchOp, ScimError> {
    let Value::Object(m) = v else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] must be an object, found {}",
            kind(v)
        )));
    };
    let (mut op, mut path, mut value) = (None, None, None);
    for (k, x) in m {
        let slot = match k.to_ascii_lowercase().as_str() {
            "op" => &mut op,
            "path" => &mut path,
            "value" => &mut value,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}] has an unknown member {k:?}: an operation has only \"op\", \"path\" and \"value\""
                )));
            }
        };
        if slot.replace(x).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}]: member {k:?} appears more than once (names are case-insensitive)"
            )));
        }
    }
    let kind_ = match op {
        Some(Value::String(s)) if s == "add" => PatchOpKind::Add,
        Some(Value::String(s)) if s == "replace" => PatchOpKind::Replace,
        Some(Value::String(s)) if s == "remove" => PatchOpKind::Remove,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}]: \"op\" must be \"add\", \"replace\" or \"remove\", found {}",
                json_excerpt(other)
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] has no \"op\" (one of \"add\", \"replace\", \"remove\")"
            )));
        }
    };
    let path = match path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s).map_err(|e| ScimError {
            detail: format!("Operations[{i}] (path {:?}): {}", excerpt(s, 120), e.detail),
            ..e
        })?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}]: \"path\" must be a string, found {}",
                kind(other)
            )));
        }
    };
    let op = PatchOp {
        op: kind_,
        path,
        value: value.cloned(),
    };
    match op.op {
        PatchOpKind::Remove => {
            if op.path.is_none() {
                return Err(at_op(i, None, no_path_for_remove()));
            }
            if op.value.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(at_op(
                    i,
                    op.path.as_ref(),
                    ScimError::invalid_syntax(
                        "an RFC 7644 \"remove\" takes no \"value\": the path alone selects what is removed. \
                         To remove one member, use \"path\": \"members[value eq \\\"<id>\\\"]\" without a value \
                         (a \"remove\" of \"members\" would otherwise remove every member)",
                    ),
                ));
            }
        }
        PatchOpKind::Add | PatchOpKind::Replace => match &op.value {
            None => {
                return Err(at_op(
                    i,
                    op.path.as_ref(),
                    ScimError::invalid_value(format!(
                        "\"value\" is required for \"{}\"",
                        op.op.as_str()
                    )),
                ));
            }
            Some(Value::Null) if op.op == PatchOpKind::Add => {
                return Err(at_op(i, op.path.as_ref(), null_add()));
            }
            Some(_) => {}
        },
    }
    Ok(op)
}

fn no_path_for_remove() -> ScimError {
    ScimError::no_target("a \"remove\" operation needs a \"path\" (RFC 7644 §3.5.2.2)")
}

fn null_add() -> ScimError {
    ScimError::invalid_value(
        "an \"add\" needs a non-null value; to unassign an attribute use \"remove\" or \"replace\" with null",
    )
}

// === applying =================================================================================

/// Applies `ops` in order to a copy of `resource` and returns the result; on any error nothing is
/// applied and the error names the operation.
pub fn apply(
    resource: &Value,
    ops: &[PatchOp],
    schema: &ResourceSchema,
    opts: &PatchOptions,
) -> Result<Value, ScimError> {
    let Value::Object(original) = resource else {
        return Err(ScimError::invalid_syntax(
            "the resource to patch is not a JSON object",
        ));
    };
    let mut cx = Cx {
        schema,
        opts,
        touched: Vec::new(),
    };
    let mut doc = original.clone();
    for (i, op) in ops.iter().enumerate() {
        cx.apply_op(&mut doc, op)
            .map_err(|e| at_op(i, op.path.as_ref(), e))?;
    }
    cx.sync_schemas(&mut doc);
    Ok(Value::Object(doc))
}

/// What an operation does to its target.
#[derive(Clone, Copy)]
enum Action<'v> {
    Add(&'v Value),
    Replace(&'v Value),
    Remove,
}

/// How the target was named: by `path`, or as a member of a path-less value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Path,
    Pathless,
}

struct Cx<'a> {
    schema: &'a ResourceSchema,
    opts: &'a PatchOptions,
    /// Extensions written to, for the final `schemas` update.
    touched: Vec<&'a str>,
}

fn checker() -> Checker<'static> {
    Checker::new(Unknown::Reject, true)
}

impl<'a> Cx<'a> {
    fn apply_op(&mut self, doc: &mut Object, op: &PatchOp) -> Result<(), ScimError> {
        let action = match (op.op, &op.value) {
            (PatchOpKind::Remove, _) => Action::Remove,
            (_, None) => {
                return Err(ScimError::invalid_value(format!(
                    "\"value\" is required for \"{}\"",
                    op.op.as_str()
                )));
            }
            (PatchOpKind::Add, Some(Value::Null)) => return Err(null_add()),
            (PatchOpKind::Replace, Some(Value::Null)) => Action::Remove,
            (PatchOpKind::Add, Some(v)) => Action::Add(v),
            (PatchOpKind::Replace, Some(v)) => Action::Replace(v),
        };
        match &op.path {
            Some(path) => self.path_op(doc, path, action),
            None => {
                let value = match action {
                    Action::Remove if op.op == PatchOpKind::Remove => {
                        return Err(no_path_for_remove());
                    }
                    Action::Add(v) | Action::Replace(v) => v,
                    Action::Remove => &Value::Null,
                };
                let Value::Object(members) = value else {
                    return Err(ScimError::invalid_value(format!(
                        "without a \"path\", the value must be an object of attributes to {}, found {}",
                        op.op.as_str(),
                        kind(value)
                    )));
                };
                for (key, v) in members {
                    self.pathless_member(doc, op.op, key, v)?;
                }
                Ok(())
            }
        }
    }

    /// One member `key: v` of a path-less add/replace value.
    fn pathless_member(
        &mut self,
        doc: &mut Object,
        kind_: PatchOpKind,
        key: &str,
        v: &Value,
    ) -> Result<(), ScimError> {
        fn action(kind_: PatchOpKind, v: &Value) -> Action<'_> {
            match (kind_, v) {
                (_, Value::Null) => Action::Remove,
                (PatchOpKind::Add, v) => Action::Add(v),
                (_, v) => Action::Replace(v),
            }
        }
        if let Some(ext) = self.schema.extension(key) {
            let urn = ext.schema.id.as_str();
            match v {
                Value::Object(members) => {
                    for (k, iv) in members {
                        let mut path = AttrPath::parse(k).map_err(|_| unknown_member(k))?;
                        if path
                            .urn
                            .as_deref()
                            .is_some_and(|u| !u.eq_ignore_ascii_case(urn))
                        {
                            return Err(unknown_member(k));
                        }
                        path.urn = Some(urn.to_owned());
                        let t = path::lookup(self.schema, &path).map_err(|m| {
                            ScimError::invalid_value(format!(
                                "{} (in the value)",
                                describe_miss(&path, m)
                            ))
                        })?;
                        self.write(doc, &t, t.sub, action(kind_, iv), Origin::Pathless)?;
                    }
                    Ok(())
                }
                Value::Null => {
                    let present: Vec<String> = get_ci(doc, urn)
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    for k in present {
                        let path = AttrPath {
                            urn: Some(urn.to_owned()),
                            name: k,
                            sub: None,
                        };
                        if let Some(t) = path::resolve(self.schema, &path) {
                            self.write(doc, &t, None, Action::Remove, Origin::Pathless)?;
                        }
                    }
                    Ok(())
                }
                other => Err(ScimError::invalid_value(format!(
                    "member \"{urn}\" must be an object of that extension's attributes, found {}",
                    kind(other)
                ))),
            }
        } else if key.eq_ignore_ascii_case("schemas") {
            self.check_schemas_member(v)
        } else {
            let path = AttrPath::parse(key).map_err(|_| unknown_member(key))?;
            let t = path::lookup(self.schema, &path).map_err(|m| {
                ScimError::invalid_value(format!("{} (in the value)", describe_miss(&path, m)))
            })?;
            self.write(doc, &t, t.sub, action(kind_, v), Origin::Pathless)
        }
    }

    fn check_schemas_member(&self, v: &Value) -> Result<(), ScimError> {
        let known = |u: &Value| {
            u.as_str()
                .is_some_and(|u| self.schema.urns().any(|k| k.eq_ignore_ascii_case(u)))
        };
        match v {
            Value::Null => Ok(()),
            Value::Array(a) if a.iter().all(known) => Ok(()),
            other => Err(ScimError::invalid_value(format!(
                "\"schemas\" may only list this {} resource's schemas ({}), found {}",
                self.schema.resource_type,
                self.schema.urns().collect::<Vec<_>>().join(", "),
                json_excerpt(other)
            ))),
        }
    }

    fn path_op(
        &mut self,
        doc: &mut Object,
        path: &PatchPath,
        action: Action<'_>,
    ) -> Result<(), ScimError> {
        if let (Some(urn), None, None) = (&path.attr.urn, &path.attr.sub, &path.filter) {
            let whole = format!("{urn}:{}", path.attr.name);
            if let Some(ext) = self.schema.extension(&whole) {
                // the path names a whole extension: as a path-less `{urn: value}` member
                let (kind_, value) = match action {
                    Action::Add(v) => (PatchOpKind::Add, v),
                    Action::Replace(v) => (PatchOpKind::Replace, v),
                    Action::Remove => (PatchOpKind::Replace, &Value::Null),
                };
                let urn = ext.schema.id.as_str();
                return self.pathless_member(doc, kind_, urn, value);
            }
        }
        let t = path::lookup(self.schema, &path.attr)
            .map_err(|m| ScimError::invalid_path(describe_miss(&path.attr, m)))?;
        let attr = t.attribute;
        let label = t.label();
        if t.location == Location::Core && attr.name == "schemas" {
            return Err(ScimError::mutability(
                "\"schemas\" is maintained by the server from the extensions present; patch the attributes instead",
            ));
        }
        let sub = match (&path.filter, &path.sub) {
            (Some(_), Some(name)) => Some(attr.sub(name).ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "attribute '{label}' has no sub-attribute '{name}'"
                ))
            })?),
            _ => t.sub,
        };
        let Some(filter) = &path.filter else {
            return self.write(doc, &t, sub, action, Origin::Path);
        };
        if attr.mutability == Mutability::ReadOnly {
            return Err(read_only(&label));
        }
        if let Some(s) = sub.filter(|s| s.mutability == Mutability::ReadOnly) {
            return Err(read_only(&format!("{label}.{}", s.name)));
        }
        if !attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "a value filter selects values of a multi-valued attribute, and '{label}' is single-valued"
            )));
        }
        check_element_filter(filter, attr, &label)
            .map_err(|e| e.into_scim(ScimType::InvalidPath, "path"))?;
        if !attr.is_complex() && !matches!(action, Action::Remove) {
            return Err(ScimError::invalid_path(format!(
                "value filters on '{label}' (multi-valued {}) are supported by \"remove\" only; add or replace the values of '{label}' instead",
                attr.ty.as_str()
            )));
        }
        let old = t.value_in_object(doc).cloned();
        let new = self.filtered(attr, &label, old.as_ref(), filter, sub, action)?;
        self.commit(doc, &t, &label, old, new, Origin::Path)
    }

    /// add/replace/remove on `attr` or `attr.sub` (no filter).
    fn write(
        &mut self,
        doc: &mut Object,
        t: &Target<'a>,
        sub: Option<&Attribute>,
        action: Action<'_>,
        origin: Origin,
    ) -> Result<(), ScimError> {
        let attr = t.attribute;
        let base = Target { sub: None, ..*t }.label();
        if origin == Origin::Path && attr.mutability == Mutability::ReadOnly {
            return Err(read_only(&base));
        }
        let read_only_sub = sub.filter(|s| s.mutability == Mutability::ReadOnly);
        if let (Some(s), Origin::Path) = (read_only_sub, origin) {
            return Err(read_only(&format!("{base}.{}", s.name)));
        }
        let old = t.value_in_object(doc).cloned();
        let new = match sub {
            None => whole(attr, &base, old.as_ref(), action)?,
            Some(s) => sub_of_all(attr, &base, s, old.as_ref(), action)?,
        };
        if let Some(s) = read_only_sub {
            // a path-less `attr.sub` member naming a readOnly sub-attribute: tolerated when it
            // changes nothing, like readOnly attributes
            return if new.as_ref().filter(|v| is_present(v))
                == old.as_ref().filter(|v| is_present(v))
            {
                Ok(())
            } else {
                Err(read_only(&format!("{base}.{}", s.name)))
            };
        }
        self.commit(doc, t, &base, old, new, origin)
    }

    /// Computes the new value of multi-valued `attr` for an operation through a value filter.
    fn filtered(
        &self,
        attr: &Attribute,
        label: &str,
        old: Option<&Value>,
        filter: &Filter,
        sub: Option<&Attribute>,
        action: Action<'_>,
    ) -> Result<Option<Value>, ScimError> {
        let mut elements = elements_of(old);
        let selected: Vec<bool> = elements
            .iter()
            .map(|el| element_matches(filter, el, attr))
            .collect();
        let mut written = Vec::new();
        if !selected.contains(&true) {
            let v = match action {
                Action::Remove => return Ok(old.cloned()),
                Action::Replace(_) if !self.opts.upsert_filtered_replace => {
                    return Err(ScimError::no_target(format!(
                        "no value of '{label}' matches [{filter}] (RFC 7644 §3.5.2.3)"
                    )));
                }
                Action::Add(v) | Action::Replace(v) => v,
            };
            let Some(el) = new_element(attr, label, filter, sub, v)? else {
                return Err(ScimError::no_target(format!(
                    "no value of '{label}' matches [{filter}], and a new value can only be created \
                     from a filter of \"eq\" comparisons joined by \"and\""
                )));
            };
            elements.push(el);
            written.push(elements.len() - 1);
        } else {
            let mut out = Vec::with_capacity(elements.len());
            for (before, selected) in elements.into_iter().zip(selected) {
                if !selected {
                    out.push(before);
                    continue;
                }
                let after = match (action, sub) {
                    (Action::Remove, None) => None,
                    (Action::Remove, Some(s)) => set_sub(&before, s, None),
                    (Action::Add(v) | Action::Replace(v), Some(s)) => {
                        let c = checker().attr(s, &format!("{label}.{}", s.name), v)?;
                        set_sub(&before, s, c)
                    }
                    (Action::Add(v), None) => {
                        let given = checker().complex(attr, label, v)?;
                        merge(Some(&before), given)
                    }
                    (Action::Replace(v), None) => {
                        let replacement = checker().single(attr, label, v)?;
                        keep_read_only_subs(attr, &before, replacement)
                    }
                };
                if let Some(after) = after {
                    check_immutable_subs(attr, label, &before, &after)?;
                    out.push(after);
                    written.push(out.len() - 1);
                }
            }
            elements = out;
        }
        enforce_primary(attr, label, &mut elements, &written)?;
        Ok((!elements.is_empty()).then_some(Value::Array(elements)))
    }

    /// Checks mutability and required rules for `old` → `new` and writes `new`.
    fn commit(
        &mut self,
        doc: &mut Object,
        t: &Target<'a>,
        label: &str,
        old: Option<Value>,
        new: Option<Value>,
        origin: Origin,
    ) -> Result<(), ScimError> {
        let attr = t.attribute;
        let old = old.filter(is_present);
        let new = new.filter(is_present);
        if old == new {
            return Ok(());
        }
        match attr.mutability {
            Mutability::ReadOnly => {
                if origin == Origin::Pathless && values_equal(attr, old.as_ref(), new.as_ref()) {
                    return Ok(());
                }
                return Err(read_only(label));
            }
            Mutability::Immutable => {
                if old.is_some() && !values_equal(attr, old.as_ref(), new.as_ref()) {
                    return Err(ScimError::mutability(format!(
                        "attribute '{label}' is immutable and already has a value"
                    )));
                }
            }
            Mutability::ReadWrite | Mutability::WriteOnly => {}
        }
        if attr.required && new.is_none() {
            return Err(ScimError::mutability(format!(
                "attribute '{label}' is required and cannot be removed (RFC 7644 §3.5.2.2)"
            )));
        }
        if attr.is_complex()
            && !attr.multi_valued
            && let (Some(before), Some(after)) = (&old, &new)
        {
            check_immutable_subs(attr, label, before, after)?;
        }
        match new {
            Some(v) => {
                let container = self.container_mut(doc, t.location, true);
                if let Some(c) = container {
                    set_ci(c, &attr.name, v);
                }
            }
            None => {
                if let Some(c) = self.container_mut(doc, t.location, false) {
                    remove_ci(c, &attr.name);
                }
            }
        }
        Ok(())
    }

    fn container_mut<'d>(
        &mut self,
        doc: &'d mut Object,
        location: Location<'a>,
        create: bool,
    ) -> Option<&'d mut Object> {
        let Location::Extension(urn) = location else {
            return Some(doc);
        };
        let exists = get_ci(doc, urn).is_some_and(Value::is_object);
        if !exists && !create {
            return None;
        }
        if !self.touched.contains(&urn) {
            self.touched.push(urn);
        }
        if exists {
            canonicalize_key(doc, urn);
        } else {
            set_ci(doc, urn, Value::Object(Object::new()));
        }
        get_ci_mut(doc, urn)?.as_object_mut()
    }

    /// Adds the URNs of written extensions to `schemas`; drops emptied extensions and their URNs.
    fn sync_schemas(&self, doc: &mut Object) {
        for &urn in &self.touched {
            let present = get_ci(doc, urn).is_some_and(is_present);
            if present {
                let core = self.schema.core.id.as_str();
                if !get_ci(doc, "schemas").is_some_and(Value::is_array) {
                    set_ci(
                        doc,
                        "schemas",
                        Value::Array(vec![Value::String(core.to_owned())]),
                    );
                }
                if let Some(Value::Array(list)) = get_ci_mut(doc, "schemas") {
                    let listed = list
                        .iter()
                        .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)));
                    if !listed {
                        list.push(Value::String(urn.to_owned()));
                    }
                }
            } else {
                remove_ci(doc, urn);
                if let Some(Value::Array(list)) = get_ci_mut(doc, "schemas") {
                    list.retain(|u| !u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)));
                }
            }
        }
    }
}

fn unknown_member(key: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "{:?} in the value is not an attribute of this resource",
        excerpt(key, 80)
    ))
}

fn read_only(label: &str) -> ScimError {
    ScimError::mutability(format!(
        "attribute '{label}' is readOnly and cannot be modified"
    ))
}

/// The elements of a multi-valued attribute value (a lone non-array value counts as one).
fn elements_of(old: Option<&Value>) -> Vec<Value> {
    match old {
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).cloned().collect(),
        Some(v) if is_present(v) => vec![v.clone()],
        _ => Vec::new(),
    }
}

/// add/replace/remove of a whole attribute.
fn whole(
    attr: &Attribute,
    label: &str,
    old: Option<&Value>,
    action: Action<'_>,
) -> Result<Option<Value>, ScimError> {
    let v = match action {
        Action::Remove => return Ok(None),
        Action::Add(v) | Action::Replace(v) => v,
    };
    if !attr.multi_valued {
        if attr.is_complex() {
            let given = checker().complex(attr, label, v)?;
            return Ok(merge(old, given));
        }
        return checker().single(attr, label, v);
    }
    let items = elements_of(checker().attr(attr, label, v)?.as_ref());
    if let Action::Replace(_) = action {
        let mut items = items;
        let all: Vec<usize> = (0..items.len()).collect();
        enforce_primary(attr, label, &mut items, &all)?;
        return Ok((!items.is_empty()).then_some(Value::Array(items)));
    }
    let mut elements = elements_of(old);
    let mut written = Vec::new();
    for item in items {
        match elements.iter().position(|e| same_value(attr, e, &item)) {
            Some(j) => {
                if let (Value::Object(given), true, Some(existing)) =
                    (&item, attr.is_complex(), elements.get_mut(j))
                    && let Some(merged) = merge(Some(existing), given.clone())
                {
                    check_immutable_subs(attr, label, existing, &merged)?;
                    *existing = merged;
                }
                written.push(j);
            }
            None => {
                elements.push(item);
                written.push(elements.len() - 1);
            }
        }
    }
    enforce_primary(attr, label, &mut elements, &written)?;
    Ok((!elements.is_empty()).then_some(Value::Array(elements)))
}

/// add/replace/remove of sub-attribute `s` of `attr` (of its value, or of every element).
fn sub_of_all(
    attr: &Attribute,
    label: &str,
    s: &Attribute,
    old: Option<&Value>,
    action: Action<'_>,
) -> Result<Option<Value>, ScimError> {
    let value = match action {
        Action::Remove => None,
        Action::Add(v) | Action::Replace(v) => {
            checker().attr(s, &format!("{label}.{}", s.name), v)?
        }
    };
    if !attr.multi_valued {
        let base = old.cloned().unwrap_or_else(|| Value::Object(Object::new()));
        return Ok(set_sub(&base, s, value));
    }
    let elements = elements_of(old);
    if elements.is_empty() {
        return Ok(value.map(|v| {
            let mut el = Object::new();
            el.insert(s.name.clone(), v);
            Value::Array(vec![Value::Object(el)])
        }));
    }
    let mut out = Vec::with_capacity(elements.len());
    let mut written = Vec::new();
    for el in &elements {
        if let Some(after) = set_sub(el, s, value.clone()) {
            check_immutable_subs(attr, label, el, &after)?;
            out.push(after);
            written.push(out.len() - 1);
        }
    }
    enforce_primary(attr, label, &mut out, &written)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// `el` (an object) with sub-attribute `s` set to `value`, or removed when `None`; `None` when
/// nothing assigned is left.
fn set_sub(el: &Value, s: &Attribute, value: Option<Value>) -> Option<Value> {
    let mut obj = el.as_object().cloned().unwrap_or_default();
    match value {
        Some(v) => set_ci(&mut obj, &s.name, v),
        None => {
            remove_ci(&mut obj, &s.name);
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// Merges checked sub-attributes into `old` (nulls unassign); `None` when nothing is left.
fn merge(old: Option<&Value>, given: Object) -> Option<Value> {
    let mut obj = old.and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in given {
        if v.is_null() {
            remove_ci(&mut obj, &k);
        } else {
            set_ci(&mut obj, &k, v);
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// A whole-element replacement that keeps the replaced element's readOnly sub-attributes.
fn keep_read_only_subs(
    attr: &Attribute,
    before: &Value,
    replacement: Option<Value>,
) -> Option<Value> {
    let mut obj = match replacement {
        Some(Value::Object(o)) => o,
        Some(other) => return Some(other),
        None => Object::new(),
    };
    if let Value::Object(b) = before {
        for s in attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::ReadOnly)
        {
            if let Some(v) = get_ci(b, &s.name) {
                obj.insert(s.name.clone(), v.clone());
            }
        }
    }
    let v = Value::Object(obj);
    is_present(&v).then_some(v)
}

/// Whether `item` is a value already held by element `e` (see the module docs).
fn same_value(attr: &Attribute, e: &Value, item: &Value) -> bool {
    let (Some(value_def), Value::Object(eo), Value::Object(io)) = (attr.sub("value"), e, item)
    else {
        return element_equal(attr, Some(e), Some(item));
    };
    let (Some(ev), Some(iv)) = (get_ci(eo, "value"), get_ci(io, "value")) else {
        return element_equal(attr, Some(e), Some(item));
    };
    let types_agree = attr.sub("type").is_none_or(|ty| {
        match (
            get_ci(eo, "type").filter(|v| is_present(v)),
            get_ci(io, "type").filter(|v| is_present(v)),
        ) {
            (Some(a), Some(b)) => values_equal(ty, Some(a), Some(b)),
            _ => true,
        }
    });
    values_equal(value_def, Some(ev), Some(iv)) && types_agree
}

/// Fails when an existing element's immutable sub-attribute would change.
fn check_immutable_subs(
    attr: &Attribute,
    label: &str,
    before: &Value,
    after: &Value,
) -> Result<(), ScimError> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return Ok(());
    };
    for s in &attr.sub_attributes {
        let old = get_ci(b, &s.name).filter(|v| is_present(v));
        let new = get_ci(a, &s.name);
        if s.mutability == Mutability::Immutable && old.is_some() && !values_equal(s, old, new) {
            return Err(ScimError::mutability(format!(
                "sub-attribute '{label}.{}' is immutable and already has a value",
                s.name
            )));
        }
        if s.required && old.is_some() && !new.is_some_and(is_present) {
            return Err(ScimError::mutability(format!(
                "sub-attribute '{label}.{}' is required and cannot be removed",
                s.name
            )));
        }
    }
    Ok(())
}

/// Keeps `primary: true` unique: when a written element is primary, the others become `false`;
/// two written primaries are an error.
fn enforce_primary(
    attr: &Attribute,
    label: &str,
    elements: &mut [Value],
    written: &[usize],
) -> Result<(), ScimError> {
    let Some(primary) = attr.sub("primary").filter(|p| p.ty == AttrType::Boolean) else {
        return Ok(());
    };
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, &primary.name))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut chosen = None;
    for &j in written {
        if elements.get(j).is_some_and(is_primary) {
            if chosen.is_some_and(|c| c != j) {
                return Err(ScimError::invalid_value(format!(
                    "more than one value of '{label}' has \"primary\": true (RFC 7643 §2.4)"
                )));
            }
            chosen = Some(j);
        }
    }
    let Some(chosen) = chosen else {
        return Ok(());
    };
    for (j, el) in elements.iter_mut().enumerate() {
        if j != chosen
            && is_primary(el)
            && let Some(o) = el.as_object_mut()
        {
            set_ci(o, &primary.name, Value::Bool(false));
        }
    }
    Ok(())
}

/// Builds a new element for an add through a filter that matched nothing: the filter's `eq`
/// equalities plus the value. `None` when the filter is not a conjunction of `eq` comparisons.
fn new_element(
    attr: &Attribute,
    label: &str,
    filter: &Filter,
    sub: Option<&Attribute>,
    v: &Value,
) -> Result<Option<Value>, ScimError> {
    let mut eqs = Vec::new();
    if !collect_equalities(filter, &mut eqs) {
        return Ok(None);
    }
    let mut el = Object::new();
    for (name, lit) in eqs {
        let Some(def) = attr.sub(name) else {
            return Ok(None);
        };
        let json = match lit {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => return Ok(None),
        };
        match el.get(&def.name) {
            Some(existing) if existing != &json => return Ok(None),
            _ => {
                el.insert(def.name.clone(), json);
            }
        }
    }
    let conflict = |name: &str| {
        ScimError::invalid_value(format!(
            "the value sets '{label}.{name}', which conflicts with the path filter [{filter}]"
        ))
    };
    match sub {
        Some(s) => {
            let Some(c) = checker().attr(s, &format!("{label}.{}", s.name), v)? else {
                return Ok(None);
            };
            if el
                .get(&s.name)
                .is_some_and(|e| !values_equal(s, Some(e), Some(&c)))
            {
                return Err(conflict(&s.name));
            }
            el.insert(s.name.clone(), c);
        }
        None => {
            for (k, given) in checker().complex(attr, label, v)? {
                if given.is_null() {
                    continue;
                }
                let def = attr.sub(&k);
                if el
                    .get(&k)
                    .is_some_and(|e| !def.is_some_and(|d| values_equal(d, Some(e), Some(&given))))
                {
                    return Err(conflict(&k));
                }
                el.insert(k, given);
            }
        }
    }
    checker().single(attr, label, &Value::Object(el))
}

/// Collects `name eq value` pairs of a conjunction; false when the filter has any other shape.
fn collect_equalities<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f Literal)>) -> bool {
    match f {
        Filter::And(a, b) => collect_equalities(a, out) && collect_equalities(b, out),
        Filter::Compare {
            path,
            op: crate::scim::filter::CompareOp::Eq,
            value,
            ..
        } if path.urn.is_none() && path.sub.is_none() => {
            out.push((path.name.as_str(), value));
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
