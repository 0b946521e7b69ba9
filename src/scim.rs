//! The SCIM protocol core (RFC 7643/7644): pure functions over `serde_json::Value`, no I/O.
pub mod datetime;
pub mod error;
pub mod schema;
