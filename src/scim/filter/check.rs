//! Schema checks of a parsed filter: every attribute resolves and every comparison fits the
//! attribute's type.

use super::ast::{CompareOp, Filter, Literal, Test};
use crate::scim::datetime;
use crate::scim::error::{ScimError, ScimType};
use crate::scim::path::{self, AttrPath, Target};
use crate::scim::schema::{AttrType, Attribute, ResourceSchema};
use crate::scim::syntax::SyntaxError;
use crate::scim::value::excerpt;

/// Validates a parsed filter against a resource type's schemas before evaluation: every attribute
/// resolves; comparisons fit the attribute's type (RFC 7644 §3.4.2.2: `gt`/`ge`/`lt`/`le` on
/// boolean or binary attributes fail); complex attributes are compared through their `value`
/// sub-attribute or not at all; value filters apply to multi-valued or complex attributes.
/// Errors are 400 `invalidFilter` naming the attribute and position.
pub fn check(f: &Filter, schema: &ResourceSchema) -> Result<(), ScimError> {
    check_node(f, schema).map_err(|e| e.into_scim(ScimType::InvalidFilter, "filter"))
}

fn resolve_at<'a>(
    schema: &'a ResourceSchema,
    path: &AttrPath,
    pos: usize,
) -> Result<Target<'a>, SyntaxError> {
    path::lookup(schema, path)
        .map_err(|miss| SyntaxError::new(pos, path::describe_miss(path, miss)))
}

/// The attribute whose values a comparison on `t` compares.
fn compared_attribute<'a>(t: &Target<'a>, pos: usize) -> Result<&'a Attribute, SyntaxError> {
    match t.sub {
        Some(s) => Ok(s),
        None if t.attribute.is_complex() => t.attribute.sub("value").ok_or_else(|| {
            let example = t
                .attribute
                .sub_attributes
                .first()
                .map_or(String::new(), |s| format!(", e.g. '{}.{}'", t.label(), s.name));
            SyntaxError::new(
                pos,
                format!(
                    "attribute '{}' is complex and has no 'value' sub-attribute: compare one of its sub-attributes{example}",
                    t.label()
                ),
            )
        }),
        None => Ok(t.attribute),
    }
}

fn check_node(f: &Filter, schema: &ResourceSchema) -> Result<(), SyntaxError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_node(a, schema)?;
            check_node(b, schema)
        }
        Filter::Not(a) => check_node(a, schema),
        Filter::Present { path, pos } => resolve_at(schema, path, *pos).map(|_| ()),
        Filter::Compare {
            path,
            op,
            value,
            pos,
        } => {
            let t = resolve_at(schema, path, *pos)?;
            let def = compared_attribute(&t, *pos)?;
            let label = match t.sub {
                Some(_) => t.label(),
                None if t.attribute.is_complex() => format!("{}.{}", t.label(), def.name),
                None => t.label(),
            };
            check_compare(def, &label, *op, value, *pos)
        }
        Filter::ValuePath {
            path,
            filter,
            then,
            pos,
        } => {
            let t = resolve_at(schema, path, *pos)?;
            let attr = t.attribute;
            let label = t.label();
            if !attr.multi_valued && !attr.is_complex() {
                return Err(SyntaxError::new(
                    *pos,
                    format!(
                        "a value filter needs a multi-valued or complex attribute, and '{label}' is a single {}",
                        attr.ty.as_str()
                    ),
                ));
            }
            check_element_filter(filter, attr, &label)?;
            if let Some(t) = then {
                let sub = element_attribute(attr, &t.sub).ok_or_else(|| {
                    SyntaxError::new(
                        t.pos,
                        format!("attribute '{label}' has no sub-attribute '{}'", t.sub),
                    )
                })?;
                if let Test::Compare { op, value } = &t.test {
                    check_compare(sub, &format!("{label}.{}", sub.name), *op, value, t.pos)?;
                }
            }
            Ok(())
        }
    }
}

/// The definition a name inside a value filter on `attr` refers to: a sub-attribute of a complex
/// attribute, or (for a multi-valued attribute of simple type) `value`, meaning the element itself.
pub(crate) fn element_attribute<'a>(attr: &'a Attribute, name: &str) -> Option<&'a Attribute> {
    if attr.is_complex() {
        attr.sub(name)
    } else {
        name.eq_ignore_ascii_case("value").then_some(attr)
    }
}

/// Checks a filter whose paths are relative to an element of `attr` (labelled `label`).
pub(crate) fn check_element_filter(
    f: &Filter,
    attr: &Attribute,
    label: &str,
) -> Result<(), SyntaxError> {
    let sub_def = |path: &AttrPath, pos: usize| -> Result<&Attribute, SyntaxError> {
        if path.urn.is_some() || path.sub.is_some() {
            return Err(SyntaxError::new(
                pos,
                format!(
                    "inside '{label}[...]' name sub-attributes of '{label}' directly, not '{path}'"
                ),
            ));
        }
        element_attribute(attr, &path.name).ok_or_else(|| {
            let hint = if attr.is_complex() {
                String::new()
            } else {
                " (its values are named 'value')".to_owned()
            };
            SyntaxError::new(
                pos,
                format!(
                    "attribute '{label}' has no sub-attribute '{}'{hint}",
                    path.name
                ),
            )
        })
    };
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_element_filter(a, attr, label)?;
            check_element_filter(b, attr, label)
        }
        Filter::Not(a) => check_element_filter(a, attr, label),
        Filter::Present { path, pos } => sub_def(path, *pos).map(|_| ()),
        Filter::Compare {
            path,
            op,
            value,
            pos,
        } => {
            let def = sub_def(path, *pos)?;
            let sub_label = if attr.is_complex() {
                format!("{label}.{}", def.name)
            } else {
                label.to_owned()
            };
            check_compare(def, &sub_label, *op, value, *pos)
        }
        Filter::ValuePath { pos, .. } => {
            Err(SyntaxError::new(*pos, "value filters cannot be nested"))
        }
    }
}

fn check_compare(
    def: &Attribute,
    label: &str,
    op: CompareOp,
    value: &Literal,
    pos: usize,
) -> Result<(), SyntaxError> {
    let ty = def.ty;
    if let Literal::Null = value {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(())
        } else {
            Err(SyntaxError::new(
                pos,
                format!("'{op}' cannot compare with null; use 'pr', 'eq null' or 'ne null'"),
            ))
        };
    }
    if op.is_ordering() && matches!(ty, AttrType::Boolean | AttrType::Binary) {
        return Err(SyntaxError::new(
            pos,
            format!(
                "'{op}' is not supported on {} attribute '{label}' (RFC 7644 §3.4.2.2)",
                ty.as_str()
            ),
        ));
    }
    if op.is_substring()
        && matches!(
            ty,
            AttrType::Boolean | AttrType::Integer | AttrType::Decimal
        )
    {
        return Err(SyntaxError::new(
            pos,
            format!(
                "'{op}' compares strings, and '{label}' is of type {}",
                ty.as_str()
            ),
        ));
    }
    let fits = match (ty, value) {
        (AttrType::Boolean, Literal::Bool(_)) => true,
        (AttrType::Integer | AttrType::Decimal, Literal::Number(_)) => true,
        (AttrType::String | AttrType::Reference | AttrType::Binary, Literal::String(_)) => true,
        (AttrType::DateTime, Literal::String(s)) => {
            if !op.is_substring() && datetime::parse(s).is_none() {
                return Err(SyntaxError::new(
                    pos,
                    format!(
                        "attribute '{label}' is a dateTime, and {:?} is not an xsd:dateTime such as \"2011-05-13T04:42:34Z\"",
                        excerpt(s, 40)
                    ),
                ));
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(SyntaxError::new(
            pos,
            format!(
                "attribute '{label}' is of type {} and cannot be compared with {}",
                ty.as_str(),
                value.describe()
            ),
        ))
    }
}
