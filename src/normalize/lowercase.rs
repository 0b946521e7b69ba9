//! E-mail lowercasing (`[scim] lowercase_attributes`), which runs under every profile, `strict`
//! included: e-mail addresses in the listed attributes are stored lowercase, and filter values
//! compared with them are lowercased so that lookups match what was stored.

use serde_json::{Map, Value};

use super::common::{Fired, attribute_of, fire};
use crate::scim::filter::{Filter, Literal, PatchPath, Site};
use crate::scim::path::{AttrPath, resolve};
use crate::scim::schema::{Attribute, ResourceSchema};

fn listed(list: &[AttrPath], attr: &Attribute, sub: Option<&Attribute>) -> bool {
    list.iter().any(|l| {
        l.name.eq_ignore_ascii_case(&attr.name)
            && match (&l.sub, sub) {
                (None, None) => true,
                (Some(ls), Some(s)) => ls.eq_ignore_ascii_case(&s.name),
                _ => false,
            }
    })
}

fn lower_email(v: &mut Value) -> bool {
    if let Value::String(s) = v
        && s.contains('@')
        && s.chars().any(char::is_uppercase)
    {
        *s = s.to_lowercase();
        return true;
    }
    false
}

/// Lowercases e-mail values of `attr` in `v` (a simple value, an object of sub-attributes, or
/// an array of them) where `list` names the attribute or the sub-attribute.
fn lower_in(v: &mut Value, attr: &Attribute, list: &[AttrPath]) -> bool {
    if attr.is_complex() {
        let mut changed = false;
        let mut one = |o: &mut Value| {
            if let Some(obj) = o.as_object_mut() {
                for (k, x) in obj.iter_mut() {
                    if let Some(sub) = attr.sub(k)
                        && listed(list, attr, Some(sub))
                    {
                        changed |= lower_email(x);
                    }
                }
            }
        };
        match v {
            Value::Array(items) => items.iter_mut().for_each(&mut one),
            other => one(other),
        }
        changed
    } else if listed(list, attr, None) {
        lower_email(v)
    } else {
        false
    }
}

fn lower_in_attributes(
    obj: &mut Map<String, Value>,
    schema: &ResourceSchema,
    list: &[AttrPath],
) -> bool {
    let mut changed = false;
    for (k, v) in obj.iter_mut() {
        if let Some((attr, sub)) = attribute_of(schema, k) {
            changed |= match sub {
                Some(s) if listed(list, attr, Some(s)) => lower_email(v),
                Some(_) => false,
                None => lower_in(v, attr, list),
            };
        }
    }
    changed
}

/// `[scim] lowercase_attributes`: e-mail addresses in the listed attributes are stored lowercase
/// (the seed's "Email (must be lowercase)"), in POST/PUT bodies.
pub fn lowercase_emails_in_resource(
    body: &mut Value,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) {
    if list.is_empty() {
        return;
    }
    if let Some(obj) = body.as_object_mut()
        && lower_in_attributes(obj, schema, list)
    {
        fire(fired, "lowercase_emails");
    }
}

/// The same in PATCH operations, with or without a path.
pub fn lowercase_emails_in_op(
    op: &mut Value,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) {
    if list.is_empty() {
        return;
    }
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .and_then(|p| PatchPath::parse(p).ok());
    let Some(value) = op.get_mut("value") else {
        return;
    };
    let changed = match path {
        Some(p) => match resolve(schema, &p.attr) {
            Some(t) => {
                let leaf = p.sub.as_deref().and_then(|s| t.attribute.sub(s)).or(t.sub);
                match leaf {
                    Some(sub) if listed(list, t.attribute, Some(sub)) => lower_email(value),
                    Some(_) => false,
                    None => lower_in(value, t.attribute, list),
                }
            }
            None => false,
        },
        None => value
            .as_object_mut()
            .is_some_and(|o| lower_in_attributes(o, schema, list)),
    };
    if changed {
        fire(fired, "lowercase_emails");
    }
}

/// The same for comparison values in filters, so lookups match what was stored. Comparisons
/// inside a value filter (`emails[value eq "..."]`) are left as sent.
pub fn lowercase_emails_in_filter(
    f: Filter,
    schema: &ResourceSchema,
    list: &[AttrPath],
    fired: &mut Fired,
) -> Filter {
    if list.is_empty() {
        return f;
    }
    let mut changed = false;
    let out = f.map_compares(&mut |site, _, value| {
        let yes = match site {
            Site::Resource(path) => {
                resolve(schema, path).is_some_and(|t| listed(list, t.attribute, t.sub))
            }
            Site::Element { .. } => false,
            Site::Then { parent, sub } => resolve(schema, parent).is_some_and(|t| {
                t.attribute
                    .sub(sub)
                    .is_some_and(|s| listed(list, t.attribute, Some(s)))
            }),
        };
        match value {
            Literal::String(s) if yes && s.contains('@') && s.chars().any(char::is_uppercase) => {
                changed = true;
                Literal::String(s.to_lowercase())
            }
            other => other,
        }
    });
    if changed {
        fire(fired, "lowercase_emails");
    }
    out
}
