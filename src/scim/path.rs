//! Attribute paths (RFC 7644 §3.10 `attrPath`) and the resolver that maps a path onto a resource
//! type's schemas and its JSON layout. PATCH paths (RFC 7644 §3.5.2 `PATH`), which embed a value
//! filter, are parsed beside the filter parser (`filter::PatchPath`).
//!
//! - `attrPath = [URI ":"] ATTRNAME *1subAttr`. A URN-qualified path splits at the last `:`
//!   (`urn:...:enterprise:2.0:User:manager.value` → URN `urn:...:enterprise:2.0:User`, name
//!   `manager`, sub-attribute `value`). Names must satisfy [`crate::scim::schema::is_attr_name`] (with `$ref` accepted
//!   in any letter case, names being case-insensitive); the URI must look like one
//!   (`scheme ":" rest`, printable ASCII without brackets, quotes or parentheses).
//! - Spelling is kept as given; [`resolve`] matches names case-insensitively (RFC 7643 §2.1).
//! - Unqualified names belong to the common attributes and the core schema (RFC 7644 §3.10).
//!   Because clients only SHOULD qualify extension attributes, an unqualified name that is in
//!   neither but is defined by exactly one extension resolves to that extension.

use crate::scim::error::{ScimError, ScimType};
use crate::scim::schema::{Attribute, ResourceSchema, is_attr_name};
use crate::scim::syntax::{MAX_FILTER_LEN, SyntaxError};
use crate::scim::value::{Object, get_ci};
use serde_json::{Map, Value};
use std::fmt;

/// An attribute path: optional schema URN, attribute name, optional sub-attribute name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, without the trailing `:`.
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name.
    pub sub: Option<String>,
}

impl AttrPath {
    /// An unqualified path to `name`.
    pub fn new(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    /// Parses an attribute path; errors are 400 `invalidPath` naming the position.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_path(format!(
                "the attribute path is {} bytes long; the limit is {MAX_FILTER_LEN}",
                s.len()
            )));
        }
        AttrPath::parse_at(s, 0).map_err(|e| e.into_scim(ScimType::InvalidPath, "attribute path"))
    }

    /// Parses `text`, reporting positions as `offset + index`.
    pub(crate) fn parse_at(text: &str, offset: usize) -> Result<AttrPath, SyntaxError> {
        if text.is_empty() {
            return Err(SyntaxError::new(
                offset,
                "expected an attribute name, found nothing",
            ));
        }
        let (urn, rest, rest_at) = match text.rfind(':') {
            Some(i) => (Some(&text[..i]), &text[i + 1..], offset + i + 1),
            None => (None, text, offset),
        };
        if let Some(u) = urn {
            check_uri(u).map_err(|msg| SyntaxError::new(offset, msg))?;
            if rest.is_empty() {
                return Err(SyntaxError::new(
                    rest_at,
                    "expected an attribute name after the schema URI",
                ));
            }
        }
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if !is_attr_name(name) {
            return Err(SyntaxError::new(rest_at, bad_name(name)));
        }
        if let Some(s) = sub {
            let at = rest_at + name.len() + 1;
            if let Some(dot) = s.find('.') {
                return Err(SyntaxError::new(
                    at + dot,
                    "an attribute path has at most one sub-attribute (attr.sub)",
                ));
            }
            if !is_attr_name(s) {
                return Err(SyntaxError::new(at, bad_name(s)));
            }
        }
        Ok(AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// The path without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            name: self.name.clone(),
            sub: None,
        }
    }
}

fn bad_name(name: &str) -> String {
    format!(
        "{:?} is not a valid attribute name (a letter, then letters, digits, '-' or '_')",
        crate::scim::value::excerpt(name, 40)
    )
}

/// Checks that `u` looks like a URI: `scheme ":" rest`, printable ASCII without delimiters.
fn check_uri(u: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{:?} is not a schema URI",
            crate::scim::value::excerpt(u, 80)
        )
    };
    let (scheme, rest) = u.split_once(':').ok_or_else(bad)?;
    let mut s = scheme.chars();
    let scheme_ok = s.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.is_empty()
        && rest.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '"' | '(' | ')' | '[' | ']' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}'
                )
        });
    if scheme_ok && rest_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.urn {
            write!(f, "{u}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for AttrPath {
    type Err = ScimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttrPath::parse(s)
    }
}

/// Where an attribute's values live in a resource's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    /// A top-level key (core and common attributes).
    Core,
    /// A key inside the object keyed by this extension URN (canonical spelling).
    Extension(&'a str),
}

/// A path resolved against a resource type's schemas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target<'a> {
    /// The top-level attribute.
    pub attribute: &'a Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a Attribute>,
    /// Where the attribute lives in the JSON.
    pub location: Location<'a>,
}

impl<'a> Target<'a> {
    /// The canonical path text: `emails.value`, `urn:...:User:manager.value`.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if let Location::Extension(urn) = self.location {
            s.push_str(urn);
            s.push(':');
        }
        s.push_str(&self.attribute.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }

    /// The object holding the attribute in `resource` (the resource or its extension object).
    pub fn container<'v>(&self, resource: &'v Value) -> Option<&'v Map<String, Value>> {
        let obj = resource.as_object()?;
        match self.location {
            Location::Core => Some(obj),
            Location::Extension(urn) => get_ci(obj, urn)?.as_object(),
        }
    }

    /// The attribute's value in `resource` (keys matched case-insensitively).
    pub fn value_in<'v>(&self, resource: &'v Value) -> Option<&'v Value> {
        get_ci(self.container(resource)?, &self.attribute.name)
    }

    /// The attribute's value in a resource object.
    pub(crate) fn value_in_object<'v>(&self, doc: &'v Object) -> Option<&'v Value> {
        let container = match self.location {
            Location::Core => doc,
            Location::Extension(urn) => get_ci(doc, urn)?.as_object()?,
        };
        get_ci(container, &self.attribute.name)
    }
}

/// Why a path did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Miss {
    /// No such attribute.
    Attribute,
    /// The attribute exists but has no such sub-attribute.
    SubAttribute,
}

/// Resolves a path: the attribute, the optional sub-attribute, and where it lives. `None` when
/// the attribute or sub-attribute is unknown (callers choose the error).
pub fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Option<Target<'a>> {
    lookup(schema, path).ok()
}

/// [`resolve`], telling what was missing.
pub(crate) fn lookup<'a>(schema: &'a ResourceSchema, path: &AttrPath) -> Result<Target<'a>, Miss> {
    let (attribute, location) = match schema.resolve(path.urn.as_deref(), &path.name) {
        Some(r) => (
            r.attribute,
            r.extension.map_or(Location::Core, Location::Extension),
        ),
        None if path.urn.is_none() => unqualified_extension_attribute(schema, &path.name)?,
        None => return Err(Miss::Attribute),
    };
    let sub = match &path.sub {
        None => None,
        Some(s) => Some(attribute.sub(s).ok_or(Miss::SubAttribute)?),
    };
    Ok(Target {
        attribute,
        sub,
        location,
    })
}

fn unqualified_extension_attribute<'a>(
    schema: &'a ResourceSchema,
    name: &str,
) -> Result<(&'a Attribute, Location<'a>), Miss> {
    let mut found = schema.extensions.iter().filter_map(|e| {
        e.schema
            .attribute(name)
            .map(|a| (a, Location::Extension(e.schema.id.as_str())))
    });
    match (found.next(), found.next()) {
        (Some(hit), None) => Ok(hit),
        _ => Err(Miss::Attribute),
    }
}

/// "unknown attribute 'x'" / "attribute 'name' has no sub-attribute 'x'".
pub(crate) fn describe_miss(path: &AttrPath, miss: Miss) -> String {
    match miss {
        Miss::Attribute => format!("unknown attribute '{}'", path.parent()),
        Miss::SubAttribute => format!(
            "attribute '{}' has no sub-attribute '{}'",
            path.parent(),
            path.sub.as_deref().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests;
