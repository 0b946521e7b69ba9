//! The declarative mapping: how SCIM resources and operations translate to a platform's own REST
//! API, compiled once from TOML into a plan; nothing here is parsed per request.
pub mod compile;
pub mod convert;
pub mod field;
pub mod jsonpath;
pub mod model;
pub mod platform_errors;
pub mod pushdown;
pub mod raw;
pub mod template;
