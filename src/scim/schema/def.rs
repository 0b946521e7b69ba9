//! Operator-declared attributes, as written in a mapping file, compiled into [`Attribute`]s.

use super::model::*;
use serde::Deserialize;

/// An operator-declared attribute, as written in a mapping file's `[[schemas.attributes]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct AttributeDef {
    /// Attribute name (letters, digits, `_`, `-`; starts with a letter).
    pub name: String,
    /// Data type; default `string`.
    #[serde(default = "default_type", rename = "type")]
    pub ty: AttrType,
    /// Default false.
    #[serde(default)]
    pub multi_valued: bool,
    /// Default empty.
    #[serde(default)]
    pub description: String,
    /// Default false.
    #[serde(default)]
    pub required: bool,
    /// Default false.
    #[serde(default)]
    pub case_exact: bool,
    /// Default `readWrite`.
    #[serde(default = "default_mutability")]
    pub mutability: Mutability,
    /// Default `default`.
    #[serde(default = "default_returned")]
    pub returned: Returned,
    /// Default `none`.
    #[serde(default = "default_uniqueness")]
    pub uniqueness: Uniqueness,
    /// Default empty.
    #[serde(default)]
    pub canonical_values: Vec<String>,
    /// Default empty.
    #[serde(default)]
    pub reference_types: Vec<String>,
    /// Sub-attributes (makes the attribute complex).
    #[serde(default)]
    pub sub_attributes: Vec<AttributeDef>,
}

fn default_type() -> AttrType {
    AttrType::String
}
fn default_mutability() -> Mutability {
    Mutability::ReadWrite
}
fn default_returned() -> Returned {
    Returned::Default
}
fn default_uniqueness() -> Uniqueness {
    Uniqueness::None
}

// === impl AttributeDef ===

impl AttributeDef {
    /// Converts to an [`Attribute`], checking names and nesting. Errors are `(key, reason)` pairs
    /// relative to this definition (e.g. `("sub_attributes[1].name", "...")`).
    pub fn compile(&self) -> Result<Attribute, Vec<(String, String)>> {
        self.compile_at(0)
    }

    fn compile_at(&self, depth: usize) -> Result<Attribute, Vec<(String, String)>> {
        let mut errors = Vec::new();
        if !is_attr_name(&self.name) {
            errors.push((
                "name".to_owned(),
                format!(
                    "{:?} is not a valid SCIM attribute name (a letter, then letters, digits, '-' or '_')",
                    self.name
                ),
            ));
        }
        if depth > 0 && !self.sub_attributes.is_empty() {
            errors.push((
                "sub_attributes".to_owned(),
                "sub-attributes cannot have sub-attributes of their own (RFC 7643 §2.3.8)"
                    .to_owned(),
            ));
        }
        if self.ty == AttrType::Complex && self.sub_attributes.is_empty() {
            errors.push((
                "type".to_owned(),
                "a complex attribute needs sub_attributes".to_owned(),
            ));
        }
        if !self.sub_attributes.is_empty() && self.ty != AttrType::Complex {
            errors.push((
                "type".to_owned(),
                format!(
                    "an attribute with sub_attributes must have type = \"complex\", not {:?}",
                    self.ty.as_str()
                ),
            ));
        }
        let mut subs = Vec::new();
        for (i, s) in self.sub_attributes.iter().enumerate() {
            match s.compile_at(depth + 1) {
                Ok(a) => subs.push(a),
                Err(es) => errors.extend(
                    es.into_iter()
                        .map(|(k, r)| (format!("sub_attributes[{i}].{k}"), r)),
                ),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Attribute {
            name: self.name.clone(),
            ty: self.ty,
            multi_valued: self.multi_valued,
            description: self.description.clone(),
            required: self.required,
            case_exact: self.case_exact,
            mutability: self.mutability,
            returned: self.returned,
            uniqueness: self.uniqueness,
            canonical_values: self.canonical_values.clone(),
            reference_types: self.reference_types.clone(),
            sub_attributes: subs,
        })
    }
}
