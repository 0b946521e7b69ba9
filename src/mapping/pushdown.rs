//! Filter push-down: which parts of a SCIM filter the platform can evaluate through its query
//! parameters, and which resource an `id eq` names. The platform may match loosely (prefixes,
//! case); results are always checked again against the whole filter by the sidecar.

use serde_json::Value;

use crate::mapping::convert;
use crate::mapping::model::{AttrMap, ResourceMap};
use crate::scim::filter::{CompareOp, Filter, Literal, Test};
use crate::scim::path::{Location, PatchPath, resolve};
use crate::scim::schema::ResourceSchema;

/// What the platform is asked, for one SCIM filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// `id eq "x"`: read this resource by id instead of listing.
    pub by_id: Option<String>,
    /// Query parameters to add to the list call.
    pub params: Vec<(String, String)>,
    /// The filter's conjunctions contradict each other or name a value the platform cannot hold:
    /// nothing can match, no call is needed.
    pub impossible: bool,
}

impl Plan {
    /// Whether the platform narrows the result at all.
    pub fn is_pushed(&self) -> bool {
        self.by_id.is_some() || !self.params.is_empty() || self.impossible
    }
}

fn key(ext: Option<&str>, attr: &str, filter: Option<&Filter>, sub: Option<&str>) -> String {
    let mut k = String::new();
    if let Some(e) = ext {
        k.push_str(e);
        k.push(':');
    }
    k.push_str(attr);
    if let Some(f) = filter {
        k.push('[');
        k.push_str(&f.to_string());
        k.push(']');
    }
    if let Some(s) = sub {
        k.push('.');
        k.push_str(s);
    }
    k.to_ascii_lowercase()
}

/// The canonical key of an attribute mapping.
pub fn key_of_attr(m: &AttrMap) -> String {
    key(
        m.extension.as_deref(),
        &m.attr,
        m.filter.as_ref(),
        m.sub.as_deref(),
    )
}

/// The canonical key of a path written in a `[[filters]]` rule.
pub fn key_of_path(text: &str, schema: &ResourceSchema) -> Result<String, String> {
    let p = PatchPath::parse(text).map_err(|e| e.detail)?;
    let t = resolve(schema, &p.attr)
        .ok_or_else(|| format!("not an attribute of the {} schemas", schema.resource_type))?;
    let ext = match t.location {
        Location::Core => None,
        Location::Extension(u) => Some(u),
    };
    let sub = p
        .sub
        .as_deref()
        .or(p.attr.sub.as_deref())
        .map(|s| t.attribute.sub(s).map(|a| a.name.as_str()).unwrap_or(s));
    Ok(key(ext, &t.attribute.name, p.filter.as_ref(), sub))
}

/// Plans a filter against a resource mapping. The filter has passed `filter::check`.
pub fn plan(filter: &Filter, map: &ResourceMap) -> Plan {
    let mut plan = Plan::default();
    let mut conjuncts = Vec::new();
    collect_and(filter, &mut conjuncts);
    for c in conjuncts {
        let (k, op, lit) = match c {
            Filter::Compare {
                path, op, value, ..
            } => {
                let Some(t) = resolve(&map.schema, path) else {
                    continue;
                };
                if t.attribute.name == "id" && path.urn.is_none() && t.sub.is_none() {
                    if *op == CompareOp::Eq
                        && let Literal::String(s) = value
                    {
                        match &plan.by_id {
                            Some(prev) if prev != s => plan.impossible = true,
                            _ => plan.by_id = Some(s.clone()),
                        }
                    }
                    continue;
                }
                let ext = match t.location {
                    Location::Core => None,
                    Location::Extension(u) => Some(u),
                };
                (
                    key(ext, &t.attribute.name, None, t.sub.map(|s| s.name.as_str())),
                    *op,
                    value,
                )
            }
            Filter::ValuePath {
                path,
                filter,
                then: Some(then),
                ..
            } => {
                let Test::Compare { op, value } = &then.test else {
                    continue;
                };
                let Some(t) = resolve(&map.schema, path) else {
                    continue;
                };
                let ext = match t.location {
                    Location::Core => None,
                    Location::Extension(u) => Some(u),
                };
                let sub = t
                    .attribute
                    .sub(&then.sub)
                    .map(|a| a.name.as_str())
                    .unwrap_or(&then.sub);
                (
                    key(ext, &t.attribute.name, Some(filter), Some(sub)),
                    *op,
                    value,
                )
            }
            _ => continue,
        };
        let Some(rule) = map.pushdown.iter().find(|r| r.key == k && r.op == op) else {
            continue;
        };
        let scim_value = match lit {
            Literal::String(s) => Value::String(s.clone()),
            Literal::Number(n) => Value::Number(n.clone()),
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Null => continue,
        };
        let Some(attr) = map.attributes.get(rule.attr_index) else {
            continue;
        };
        let text = match convert::to_platform_value(attr, &scim_value) {
            Ok(Value::String(s)) => s,
            Ok(Value::Null) => continue,
            Ok(other) => other.to_string(),
            Err(_) => {
                // No platform value corresponds (e.g. outside a value map): nothing can match.
                plan.impossible = true;
                continue;
            }
        };
        match plan.params.iter().find(|(p, _)| *p == rule.param) {
            Some((_, v)) if *v != text => plan.impossible = true,
            Some(_) => {}
            None => plan.params.push((rule.param.clone(), text)),
        }
    }
    plan
}

fn collect_and<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
    match f {
        Filter::And(a, b) => {
            collect_and(a, out);
            collect_and(b, out);
        }
        other => out.push(other),
    }
}
