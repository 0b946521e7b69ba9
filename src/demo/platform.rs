//! The demo platform: an in-memory REST API with a legacy shape, served over HTTP/1.1 and h2c.
//!
//! See the [module documentation](crate::demo) for the API itself. The parts, each depending only on
//! those listed after it: `server` (the public handle, its test hooks and the HTTP server),
//! `handlers` (per-request fault injection, authentication, dispatch and the handlers), `oauth`
//! (the token endpoint), `counters` (call counting) and `routes` (the URL table), `store` (the
//! tables), `bodies` (body and query parsing), `records` (users, groups, the write clock), `faults`
//! (the fault switch) and `response` (the response plumbing).
//!
//! Performance notes: records live behind `Arc`s in a `BTreeMap`, so a read holds the lock only long
//! enough to clone a few `Arc`s and serialises after releasing it; indexes make every filter and
//! membership change `O(log n)`; call counting is one relaxed atomic add; an unset fault costs one
//! atomic load.

mod bodies;
mod counters;
mod faults;
mod handlers;
mod oauth;
mod records;
mod response;
mod routes;
mod server;
mod store;

pub use counters::CallCounts;
pub use faults::{Chaos, Fault};
pub use server::{OAuth, Platform, RunningPlatform};

#[cfg(test)]
mod tests;
