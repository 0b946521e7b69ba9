//! `[[*.attributes]]`: one SCIM attribute ⇄ platform field, with its transforms.

use super::*;

impl Compiler<'_> {
    pub(super) fn attribute(
        &mut self,
        key: &str,
        a: &raw::Attribute,
        schema: &ResourceSchema,
    ) -> Option<AttrMap> {
        let before = self.errors.len();
        let Some(scim) = a.scim.as_deref() else {
            self.err(
                format!("{key}.scim"),
                None,
                "missing; the SCIM attribute, e.g. \"name.givenName\"",
            );
            return None;
        };
        let path = match PatchPath::parse(scim) {
            Ok(p) => p,
            Err(e) => {
                self.err(format!("{key}.scim"), q(scim), e.detail);
                return None;
            }
        };
        let Some(target) = resolve(schema, &path.attr) else {
            if let Some(sub) = &path.attr.sub {
                let parent = crate::scim::path::AttrPath {
                    sub: None,
                    ..path.attr.clone()
                };
                if let Some(t) = resolve(schema, &parent) {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        format!("{} has no sub-attribute {sub:?}", t.attribute.name),
                    );
                    return None;
                }
            }
            self.err(
                format!("{key}.scim"),
                q(scim),
                format!("not an attribute of the {} schemas; declare custom attributes in a [[schemas]] extension", schema.resource_type),
            );
            return None;
        };
        let top = target.attribute;
        let extension = match target.location {
            Location::Core => None,
            Location::Extension(urn) => Some(urn.to_owned()),
        };
        let sub_name = path.sub.as_deref().or(target.sub.map(|s| s.name.as_str()));
        let sub = match sub_name {
            None => None,
            Some(n) => match top.sub(n) {
                Some(s) => Some(s),
                None => {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        format!("{} has no sub-attribute {n:?}", top.name),
                    );
                    return None;
                }
            },
        };
        let name_lc = top.name.to_ascii_lowercase();
        if extension.is_none() && matches!(name_lc.as_str(), "id" | "schemas") {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "`id` is mapped by the resource's `id` key, `schemas` by the sidecar",
            );
            return None;
        }
        if extension.is_none() && matches!(name_lc.as_str(), "members" | "groups") {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "membership is mapped under [groups.members]",
            );
            return None;
        }
        if extension.is_none() && name_lc == "meta" {
            let ok = sub.is_some_and(|s| matches!(s.name.as_str(), "created" | "lastModified"));
            if !ok {
                self.err(
                    format!("{key}.scim"),
                    q(scim),
                    "of meta, only meta.created and meta.lastModified can be mapped",
                );
                return None;
            }
        }
        let (filter, filter_eqs) = match &path.filter {
            None => (None, Vec::new()),
            Some(f) => {
                if !top.multi_valued || !top.is_complex() {
                    self.err(
                        format!("{key}.scim"),
                        q(scim),
                        "a value filter selects elements of a multi-valued complex attribute",
                    );
                    return None;
                }
                match filter_equalities(f, top) {
                    Some(eqs) => (Some(f.clone()), eqs),
                    None => {
                        self.err(format!("{key}.scim"), q(scim), "a mapped value filter must be `sub eq value` conditions joined by `and`, e.g. emails[type eq \"work\"].value");
                        return None;
                    }
                }
            }
        };
        if top.is_complex() && sub.is_none() {
            self.err(
                format!("{key}.scim"),
                q(scim),
                format!(
                    "{} is complex: map its sub-attributes, e.g. {}.{}",
                    top.name,
                    top.name,
                    top.sub_attributes
                        .first()
                        .map(|s| s.name.as_str())
                        .unwrap_or("value")
                ),
            );
            return None;
        }
        if top.multi_valued && top.is_complex() && filter.is_none() {
            self.err(format!("{key}.scim"), q(scim), format!("{} is multi-valued: select one element with a value filter, e.g. {}[type eq \"work\"].value", top.name, top.name));
            return None;
        }
        if top.multi_valued && !top.is_complex() {
            self.err(
                format!("{key}.scim"),
                q(scim),
                "simple multi-valued attributes cannot be mapped",
            );
            return None;
        }
        let leaf = sub.unwrap_or(top);
        let ty = leaf.ty;
        let scim_read_only =
            leaf.mutability == Mutability::ReadOnly || top.mutability == Mutability::ReadOnly;

        let read_sources = [a.read.is_some(), a.template.is_some(), a.constant.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if read_sources > 1 {
            self.err(
                key,
                q(scim),
                "set at most one of `read`, `template`, `constant`",
            );
            return None;
        }
        let write = match &a.field {
            Some(f) => self.field(&format!("{key}.field"), f),
            None => None,
        };
        let read = if let Some(p) = &a.read {
            self.json_path(&format!("{key}.read"), p).map(Read::Json)
        } else if let Some(t) = &a.template {
            JoinTemplate::parse(t)
                .map_err(|r| self.err(format!("{key}.template"), q(t), r))
                .ok()
                .map(Read::Join)
        } else if let Some(c) = &a.constant {
            Some(Read::Constant(c.clone()))
        } else if let Some(w) = &write {
            Some(Read::Field(w.clone()))
        } else {
            self.err(
                key,
                q(scim),
                "set `field` (read and written), or `read`, `template` or `constant` (read-only)",
            );
            None
        };
        if (a.template.is_some() || a.constant.is_some()) && a.field.is_some() {
            self.err(
                key,
                q(scim),
                "`template` and `constant` are read-only: drop `field`, or use `read` with `field`",
            );
        }
        let writable = a.writable.unwrap_or(true) && !scim_read_only;
        let write = if writable { write } else { None };
        let required = a.required.unwrap_or(false);
        if required && write.is_none() {
            self.err(
                format!("{key}.required"),
                None,
                "only a written attribute (with `field`) can be required",
            );
        }
        if a.default.is_some() && write.is_none() {
            self.err(
                format!("{key}.default"),
                None,
                "only a written attribute (with `field`) can have a default",
            );
        }
        let platform_type = match a.platform_type.as_deref() {
            None => None,
            Some("string") => Some(PlatformType::String),
            Some("integer") => Some(PlatformType::Integer),
            Some("number") => Some(PlatformType::Number),
            Some("boolean") => Some(PlatformType::Boolean),
            Some(other) => {
                self.err(
                    format!("{key}.type"),
                    q(other),
                    "expected \"string\", \"integer\", \"number\" or \"boolean\"",
                );
                None
            }
        };
        if let Some(values) = &a.values {
            if ty == AttrType::Boolean {
                for k in values.keys() {
                    if k != "true" && k != "false" {
                        self.err(
                            format!("{key}.values.{k}"),
                            None,
                            format!(
                                "{} is boolean: the keys are \"true\" and \"false\"",
                                leaf.name
                            ),
                        );
                    }
                }
            }
            let mut seen = BTreeSet::new();
            for (k, v) in values {
                if !seen.insert(v.to_string()) {
                    self.err(format!("{key}.values.{k}"), Some(v.to_string()), "two SCIM values map to the same platform value; reading it back would be ambiguous");
                }
            }
        }
        if let Some(d) = &a.default
            && !json_fits(d, ty)
        {
            self.err(
                format!("{key}.default"),
                Some(d.to_string()),
                format!("not a SCIM {} value", ty.as_str()),
            );
        }
        let array = a.array.unwrap_or(false);
        if array && a.field.is_none() {
            self.err(
                format!("{key}.array"),
                Some("true".to_owned()),
                "`array` describes how `field` holds the value; set `field`",
            );
        }
        if array && ty == AttrType::Complex {
            self.err(
                format!("{key}.array"),
                Some("true".to_owned()),
                "only a simple value can be wrapped in an array",
            );
        }
        if self.errors.len() > before {
            return None;
        }
        let clear = match (&a.clear, array) {
            (Some(c), _) => c.clone(),
            (None, true) => Value::Array(Vec::new()),
            (None, false) => Value::Null,
        };
        Some(AttrMap {
            key: key.to_owned(),
            scim: scim.to_owned(),
            extension,
            attr: top.name.clone(),
            filter,
            filter_eqs,
            sub: sub.map(|s| s.name.clone()),
            multi: top.multi_valued,
            ty,
            read: read?,
            write,
            lowercase: a.lowercase.unwrap_or(false),
            trim: a.trim.unwrap_or(false),
            values: a.values.clone(),
            platform_type,
            required,
            default: a.default.clone(),
            clear,
            array,
            copy: false,
        })
    }
}

/// The `sub eq value` equalities of a conjunction, with sub-attribute names canonicalised.
pub(super) fn filter_equalities(
    f: &Filter,
    attr: &crate::scim::schema::Attribute,
) -> Option<Vec<(String, Value)>> {
    match f {
        Filter::And(a, b) => {
            let mut l = filter_equalities(a, attr)?;
            l.extend(filter_equalities(b, attr)?);
            Some(l)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
            ..
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = attr.sub(&path.name)?;
            let v = match value {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Null => return None,
            };
            Some(vec![(sub.name.clone(), v)])
        }
        _ => None,
    }
}

pub(super) fn json_fits(v: &Value, ty: AttrType) -> bool {
    match ty {
        AttrType::Boolean => v.is_boolean(),
        AttrType::Integer => v.is_i64() || v.is_u64(),
        AttrType::Decimal => v.is_number(),
        AttrType::Complex => v.is_object(),
        _ => v.is_string(),
    }
}
