//! scim-sidecar: a SCIM 2.0 server that translates to a platform's own REST API.
#![forbid(unsafe_code)]
pub mod scim;
