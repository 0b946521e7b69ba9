//! The platform: everything about the legacy REST API the sidecar maps SCIM onto, under one name.
//!
//! - [`settings`]: how to reach it, as compiled from the mapping's `[platform]` section (data,
//!   with its files already read and checked);
//! - [`client`]: the live client the runtime builds from those settings (connection pool,
//!   concurrency slots, access-token cache);
//! - [`calls`]: building calls from the mapping's operations, classifying answers, paging;
//! - [`budget`]: the per-request deadline every call of one SCIM request shares;
//! - [`rate`]: the token bucket capping the call rate (`[platform] rate`).
//!
//! What a platform answer *means* in SCIM terms is `mapping::platform_errors`.

pub mod budget;
pub mod calls;
pub mod client;
mod oauth;
pub mod rate;
pub mod settings;
mod wire;

pub use client::Client;
pub use oauth::{ClientAuth, OAuth2, Secret};
pub use settings::{ClientTls, Settings, SetupError, split_base_url};
pub(crate) use wire::base64;
pub use wire::{Call, Reply};
