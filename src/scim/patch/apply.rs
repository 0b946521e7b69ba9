//! Applying PATCH operations to a copy of a resource, atomically: the operation walk (`Cx`) that
//! resolves each target and adds, replaces or removes values.

use super::op::{PatchOp, PatchOpKind, PatchOptions};
use super::parse::{at_op, json_excerpt, no_path_for_remove, null_add};
use super::values::*;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::{Filter, PatchPath, check_element_filter, element_matches};
use crate::scim::path::{self, AttrPath, Location, Target, describe_miss};
use crate::scim::schema::{Attribute, Mutability, ResourceSchema};
use crate::scim::value::{
    Object, canonicalize_key, get_ci, get_ci_mut, is_present, kind, remove_ci, set_ci, values_equal,
};
use serde_json::Value;

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

/// The state of one [`apply`]: the schema, the options, and the extensions written so far.
struct Cx<'a> {
    schema: &'a ResourceSchema,
    opts: &'a PatchOptions,
    /// Extensions written to, for the final `schemas` update.
    touched: Vec<&'a str>,
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
