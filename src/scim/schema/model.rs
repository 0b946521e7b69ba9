//! Schema types (RFC 7643 §2, §7): attribute characteristics, schemas, a resource type's schemas
//! and name resolution, the URNs, and the common attributes every resource has.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Core User schema URN.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ListResponse message URN.
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Error message URN.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// PatchOp message URN.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// SearchRequest message URN.
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// ServiceProviderConfig schema URN.
pub const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN.
pub const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema schema URN.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    /// A sequence of Unicode characters.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number with at least one digit after the point.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` string, e.g. `2008-01-23T04:56:22Z`.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI for a resource.
    Reference,
    /// A singular or multi-valued attribute made of sub-attributes.
    Complex,
}

impl AttrType {
    /// The RFC 7643 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Whether and how an attribute may be modified (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only; client values are ignored on create/replace.
    ReadOnly,
    /// May be updated and read at any time.
    ReadWrite,
    /// May be set on create (or when empty), never changed after.
    Immutable,
    /// May be written but is never returned (e.g. `password`).
    WriteOnly,
}

impl Mutability {
    /// The RFC 7643 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned in a response (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// Always returned, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when named in `attributes`.
    Request,
}

impl Returned {
    /// The RFC 7643 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique an attribute's values are (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness enforced.
    None,
    /// Unique within this service provider.
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The RFC 7643 keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with its characteristics (RFC 7643 §7 "attributes").
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Canonical name, e.g. `userName`.
    pub name: String,
    /// Data type.
    pub ty: AttrType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
    /// Human-readable description (published in `/Schemas`).
    pub description: String,
    /// Whether a create/replace must carry it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness scope.
    pub uniqueness: Uniqueness,
    /// Suggested values (`type` sub-attributes: `work`, `home`, ...).
    pub canonical_values: Vec<String>,
    /// For references: the resource types or `external`/`uri` they may point to.
    pub reference_types: Vec<String>,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: Vec<Attribute>,
}

// === impl Attribute ===

impl Attribute {
    /// A single-valued, optional, readWrite, non-case-exact string attribute: the RFC's defaults.
    pub fn new(name: &str, ty: AttrType) -> Self {
        Attribute {
            name: name.to_owned(),
            ty,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Finds a sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether this attribute is complex (has sub-attributes).
    pub fn is_complex(&self) -> bool {
        self.ty == AttrType::Complex
    }

    /// The RFC 7643 §7 JSON representation (as served by `/Schemas`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.ty.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.sub_attributes.is_empty() {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(Attribute::to_json).collect()),
            );
        }
        Value::Object(m)
    }

    // --- builder helpers, used by the built-in schema tables and by tests ---

    /// Marks the attribute multi-valued.
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Marks the attribute required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Marks string comparison case-sensitive.
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Sets the mutability.
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Sets when the attribute is returned.
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// Sets the uniqueness.
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// Sets the canonical values.
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets the reference types.
    pub fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets the sub-attributes (and makes the attribute complex).
    pub fn subs(mut self, subs: Vec<Attribute>) -> Self {
        self.ty = AttrType::Complex;
        self.sub_attributes = subs;
        self
    }
    /// Sets the description.
    pub fn desc(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }
}

pub(super) fn string(name: &str) -> Attribute {
    Attribute::new(name, AttrType::String)
}
pub(super) fn boolean(name: &str) -> Attribute {
    Attribute::new(name, AttrType::Boolean)
}
pub(super) fn reference(name: &str, types: &[&str]) -> Attribute {
    Attribute::new(name, AttrType::Reference).refs(types)
}
pub(super) fn complex(name: &str, subs: Vec<Attribute>) -> Attribute {
    Attribute::new(name, AttrType::Complex).subs(subs)
}

/// A schema: URN, name, description and top-level attributes (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema URN.
    pub id: String,
    /// Short name, e.g. `User`.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Top-level attributes (without the common `id`, `externalId`, `meta`).
    pub attributes: Vec<Attribute>,
}

// === impl Schema ===

impl Schema {
    /// Finds a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The RFC 7643 §7 representation served at `/Schemas/{id}`; `location` is the absolute or
    /// base-relative URL of that endpoint.
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": [SCHEMA_URN],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": location },
        })
    }

    /// A copy keeping only the attributes (and sub-attributes) for which `keep(attr, sub)` is true.
    /// `sub` is `None` for a top-level attribute. A complex attribute left with no sub-attribute is
    /// dropped. Used to publish only what a mapping can store.
    pub fn narrowed(&self, keep: &dyn Fn(&str, Option<&str>) -> bool) -> Schema {
        let attributes = self
            .attributes
            .iter()
            .filter(|a| keep(&a.name, None))
            .filter_map(|a| {
                if a.sub_attributes.is_empty() {
                    return Some(a.clone());
                }
                let subs: Vec<Attribute> = a
                    .sub_attributes
                    .iter()
                    .filter(|s| keep(&a.name, Some(&s.name)))
                    .cloned()
                    .collect();
                if subs.is_empty() {
                    None
                } else {
                    let mut a = a.clone();
                    a.sub_attributes = subs;
                    Some(a)
                }
            })
            .collect();
        Schema {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            attributes,
        }
    }
}

/// An extension schema attached to a resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// The extension schema.
    pub schema: Arc<Schema>,
    /// Whether resources of this type must carry it.
    pub required: bool,
}

/// The schemas of one resource type: its core schema plus extensions (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// Resource type name, e.g. `User`.
    pub resource_type: String,
    /// Core schema (User or Group, or a custom core schema).
    pub core: Arc<Schema>,
    /// Extension schemas.
    pub extensions: Vec<Extension>,
}

/// Where a resolved attribute lives in a resource's JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved<'a> {
    /// The schema holding the attribute; `None` for the common attributes (`id`, `externalId`, `meta`, `schemas`).
    pub schema: Option<&'a Schema>,
    /// `None` when the attribute is in the core schema (top-level JSON key), else the extension URN
    /// (the JSON object key holding the extension's attributes).
    pub extension: Option<&'a str>,
    /// The attribute definition.
    pub attribute: &'a Attribute,
}

// === impl ResourceSchema ===

impl ResourceSchema {
    /// All schema URNs of this resource type, core first.
    pub fn urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.core.id.as_str())
            .chain(self.extensions.iter().map(|e| e.schema.id.as_str()))
    }

    /// The extension with this URN (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&Extension> {
        self.extensions
            .iter()
            .find(|e| e.schema.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves a top-level attribute, optionally URN-qualified: `urn` is `None` for an unqualified
    /// name, which is searched in the common attributes and then in the core schema (RFC 7644 §3.10:
    /// unqualified names belong to the core schema). A qualified name naming the core URN resolves like
    /// an unqualified one; one naming an extension is searched there only.
    pub fn resolve(&self, urn: Option<&str>, name: &str) -> Option<Resolved<'_>> {
        match urn {
            None => common_attribute(name)
                .map(|attribute| Resolved {
                    schema: None,
                    extension: None,
                    attribute,
                })
                .or_else(|| {
                    self.core.attribute(name).map(|attribute| Resolved {
                        schema: Some(&self.core),
                        extension: None,
                        attribute,
                    })
                }),
            Some(u) if u.eq_ignore_ascii_case(&self.core.id) => self.resolve(None, name),
            Some(u) => {
                let ext = self.extension(u)?;
                ext.schema.attribute(name).map(|attribute| Resolved {
                    schema: Some(&ext.schema),
                    extension: Some(ext.schema.id.as_str()),
                    attribute,
                })
            }
        }
    }
}

/// The attributes common to every resource (RFC 7643 §3.1): `id`, `externalId`, `meta`, plus
/// `schemas` (§3).
pub fn common_attributes() -> &'static [Attribute] {
    use std::sync::OnceLock;
    static COMMON: OnceLock<Vec<Attribute>> = OnceLock::new();
    COMMON.get_or_init(|| {
        vec![
            string("schemas")
                .multi()
                .case_exact()
                .required()
                .returned(Returned::Always)
                .desc("The schema URNs this resource conforms to."),
            string("id")
                .case_exact()
                .mutability(Mutability::ReadOnly)
                .returned(Returned::Always)
                .uniqueness(Uniqueness::Server)
                .desc("Unique identifier for the resource, assigned by the service provider."),
            string("externalId")
                .case_exact()
                .desc("Identifier for the resource as defined by the provisioning client."),
            complex(
                "meta",
                vec![
                    string("resourceType")
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                    Attribute::new("created", AttrType::DateTime).mutability(Mutability::ReadOnly),
                    Attribute::new("lastModified", AttrType::DateTime)
                        .mutability(Mutability::ReadOnly),
                    Attribute::new("location", AttrType::Reference)
                        .refs(&["uri"])
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                    string("version")
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                ],
            )
            .mutability(Mutability::ReadOnly)
            .desc("Resource metadata."),
        ]
    })
}

/// Finds a common attribute (`schemas`, `id`, `externalId`, `meta`) by name, case-insensitively.
pub fn common_attribute(name: &str) -> Option<&'static Attribute> {
    common_attributes()
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Whether `name` is a valid SCIM ATTRNAME (RFC 7644 §3.10: `ALPHA *(nameChar)`, nameChar =
/// `"-" / "_" / DIGIT / ALPHA`); `$ref` is allowed as the one reserved exception.
pub fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
