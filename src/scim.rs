//! The SCIM protocol core (RFC 7643/7644): pure functions over `serde_json::Value`, no I/O.
pub mod datetime;
pub mod error;
pub mod etag;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
mod syntax;
pub mod validate;
pub(crate) mod value;

#[cfg(test)]
mod testdata;
