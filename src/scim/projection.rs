//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes of a resource a
//! response carries, honouring each attribute's `returned` characteristic (RFC 7643 §7).
//!
//! - `returned: always` (`id`, `schemas`) is always there; `never` (`password`) never is;
//!   `request` only when named in `attributes`; `default` unless `attributes` is given without
//!   naming it, or `excludedAttributes` names it. The same applies to sub-attributes.
//! - `meta` follows its schema definition (`returned: default`): it is dropped when `attributes`
//!   does not name it and can be excluded. `schemas` is returned unchanged.
//! - Names follow RFC 7644 §3.10: `userName`, `name.givenName`, `emails.value`, URN-qualified
//!   (`urn:...:enterprise:2.0:User:employeeNumber`), or a bare extension URN meaning all of that
//!   extension's attributes. Matching is case-insensitive; names the schema does not define are
//!   ignored (the RFC defines no error for them).
//! - RFC 7644 §3.9 makes the two parameters "mutually exclusive": [`parse_projection`] rejects
//!   requests with both (400 `invalidValue`). [`project`], given both, returns what `attributes`
//!   selects minus what `excludedAttributes` names.
//! - Members the schema does not define are returned only when `attributes` is not given.
//! - Bad names are 400 `invalidValue` (RFC 7644 Table 9: "the value specified was not
//!   compatible"); `invalidFilter` and `invalidPath` describe other parameters.

use crate::scim::error::ScimError;
use crate::scim::path::{self, AttrPath, Location};
use crate::scim::schema::{Attribute, ResourceSchema, Returned, common_attribute};
use serde_json::{Map, Value};

/// Parses a comma-separated attribute list; whitespace around items and empty items are ignored.
pub fn parse_attribute_list(s: &str) -> Result<Vec<AttrPath>, ScimError> {
    s.split(',')
        .map(|item| item.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|item| !item.is_empty())
        .map(|item| {
            AttrPath::parse(item).map_err(|e| {
                ScimError::invalid_value(format!("in the attribute list: {}", e.detail))
            })
        })
        .collect()
}

/// Parses the `attributes` and `excludedAttributes` query parameters, rejecting both at once.
pub fn parse_projection(
    attributes: Option<&str>,
    excluded_attributes: Option<&str>,
) -> Result<(Vec<AttrPath>, Vec<AttrPath>), ScimError> {
    let attributes = attributes.map_or(Ok(Vec::new()), parse_attribute_list)?;
    let excluded = excluded_attributes.map_or(Ok(Vec::new()), parse_attribute_list)?;
    if !attributes.is_empty() && !excluded.is_empty() {
        return Err(ScimError::invalid_value(
            "\"attributes\" and \"excludedAttributes\" are mutually exclusive (RFC 7644 §3.9)",
        ));
    }
    Ok((attributes, excluded))
}

/// A list of names resolved against the schema.
struct Selection<'a> {
    /// Extensions named by their bare URN.
    extensions: Vec<&'a str>,
    /// (location, attribute, optional sub-attribute), canonical spellings.
    items: Vec<(Location<'a>, &'a str, Option<&'a str>)>,
}

/// What a selection says about one attribute.
enum Pick<'a> {
    Nothing,
    Whole,
    Subs(Vec<&'a str>),
}

impl<'a> Selection<'a> {
    fn new(schema: &'a ResourceSchema, paths: &[AttrPath]) -> Self {
        let mut sel = Selection {
            extensions: Vec::new(),
            items: Vec::new(),
        };
        for p in paths {
            if let (Some(urn), None) = (&p.urn, &p.sub) {
                let whole = format!("{urn}:{}", p.name);
                if let Some(ext) = schema.extension(&whole) {
                    sel.extensions.push(ext.schema.id.as_str());
                    continue;
                }
            }
            if let Some(t) = path::resolve(schema, p) {
                sel.items.push((
                    t.location,
                    t.attribute.name.as_str(),
                    t.sub.map(|s| s.name.as_str()),
                ));
            }
        }
        sel
    }

    fn pick(&self, location: Location<'_>, name: &str) -> Pick<'a> {
        if let Location::Extension(urn) = location
            && self.extensions.contains(&urn)
        {
            return Pick::Whole;
        }
        let mut subs = Vec::new();
        for &(l, a, s) in &self.items {
            if l == location && a == name {
                match s {
                    None => return Pick::Whole,
                    Some(s) => subs.push(s),
                }
            }
        }
        if subs.is_empty() {
            Pick::Nothing
        } else {
            Pick::Subs(subs)
        }
    }

    fn names_extension(&self, urn: &str) -> bool {
        self.extensions.contains(&urn)
    }
}

/// Returns the representation of `resource` that a response carries.
pub fn project(
    resource: &Value,
    schema: &ResourceSchema,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let p = Projector {
        include: Selection::new(schema, attributes),
        exclude: Selection::new(schema, excluded),
        requested: !attributes.is_empty(),
    };
    let mut out = Map::new();
    for (key, v) in obj {
        if let Some(ext) = schema.extension(key) {
            let urn = ext.schema.id.as_str();
            let Value::Object(inner) = v else {
                continue;
            };
            let mut o = Map::new();
            for (k, iv) in inner {
                let kept = match ext.schema.attribute(k) {
                    Some(attr) => p.attribute(attr, Location::Extension(urn), iv),
                    None => ((!p.requested || p.include.names_extension(urn))
                        && !p.exclude.names_extension(urn))
                    .then(|| iv.clone()),
                };
                if let Some(kept) = kept {
                    o.insert(k.clone(), kept);
                }
            }
            if !o.is_empty() {
                out.insert(key.clone(), Value::Object(o));
            }
        } else if let Some(attr) = common_attribute(key).or_else(|| schema.core.attribute(key)) {
            if let Some(kept) = p.attribute(attr, Location::Core, v) {
                out.insert(key.clone(), kept);
            }
        } else if !p.requested {
            out.insert(key.clone(), v.clone());
        }
    }
    Value::Object(out)
}

struct Projector<'a> {
    include: Selection<'a>,
    exclude: Selection<'a>,
    requested: bool,
}

impl Projector<'_> {
    /// The projected value of `attr`, or `None` when it is not returned.
    fn attribute(&self, attr: &Attribute, location: Location<'_>, v: &Value) -> Option<Value> {
        let default_subs =
            |s: &Attribute| matches!(s.returned, Returned::Always | Returned::Default);
        match attr.returned {
            Returned::Never => return None,
            Returned::Always => return keep_subs(attr, v, true, &|s| default_subs(s)),
            Returned::Default | Returned::Request => {}
        }
        let include = if self.requested {
            self.include.pick(location, &attr.name)
        } else if attr.returned == Returned::Default {
            Pick::Whole
        } else {
            Pick::Nothing
        };
        let exclude = self.exclude.pick(location, &attr.name);
        let excluded_sub = |s: &Attribute| match &exclude {
            Pick::Subs(names) => s.returned != Returned::Always && names.contains(&s.name.as_str()),
            Pick::Whole | Pick::Nothing => false,
        };
        match (include, &exclude) {
            (Pick::Nothing, _) | (_, Pick::Whole) => None,
            (Pick::Whole, _) => keep_subs(attr, v, true, &|s| default_subs(s) && !excluded_sub(s)),
            (Pick::Subs(names), _) => keep_subs(attr, v, false, &|s| {
                let named = names.contains(&s.name.as_str()) && s.returned != Returned::Never;
                (named || s.returned == Returned::Always) && !excluded_sub(s)
            }),
        }
    }
}

/// `v` with only the sub-attributes `keep` accepts, and members the schema does not define when
/// `keep_unknown`; `None` when nothing is left. Simple attributes are returned as they are.
fn keep_subs(
    attr: &Attribute,
    v: &Value,
    keep_unknown: bool,
    keep: &dyn Fn(&Attribute) -> bool,
) -> Option<Value> {
    if !attr.is_complex() {
        return Some(v.clone());
    }
    let one = |el: &Value| -> Option<Value> {
        let Value::Object(o) = el else {
            return Some(el.clone());
        };
        let m: Map<String, Value> = o
            .iter()
            .filter(|(k, _)| attr.sub(k).map_or(keep_unknown, keep))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!m.is_empty()).then_some(Value::Object(m))
    };
    match v {
        Value::Array(items) if attr.multi_valued => {
            let kept: Vec<Value> = items.iter().filter_map(one).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => one(other),
    }
}

#[cfg(test)]
mod tests;
