//! SCIM schema registry (RFC 7643 §2, §4, §7, §8.7): attribute characteristics for User, Group,
//! the enterprise User extension and operator-declared extensions.
//!
//! The registry is built once at start (from code for the RFC schemas, from config for custom
//! extensions) and shared read-only. Attribute names are case-insensitive everywhere (RFC 7643 §2.1);
//! lookups here compare ASCII-case-insensitively and hand back the canonical spelling.

mod builtin;
mod def;
mod model;

pub use builtin::{Registry, enterprise_user_schema, group_schema, user_schema};
pub use def::AttributeDef;
pub use model::*;

#[cfg(test)]
mod tests;
