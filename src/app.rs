//! Process-wide state shared by the listeners: the current runtime (compiled configuration,
//! swapped atomically on reload), health flags, and request-id generation.

use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::discovery::{Discovery, Features};
use crate::mapping::model::Mapping;
use crate::platform::Client;
use crate::request::RequestIds;
use crate::scim::resource::ResourceKind;
use crate::scim::schema::Registry;

/// Everything a request needs, compiled from one configuration. A request takes one snapshot
/// at its start and finishes on it, whatever reloads happen meanwhile.
#[derive(Debug)]
pub struct Runtime {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Pre-rendered discovery documents.
    pub discovery: Discovery,
    /// Settings of the resource operations.
    pub service: crate::service::Settings,
    /// The client dialect's normalizer.
    pub normalizer: crate::normalize::Normalizer,
    /// The process's metrics (shared by every runtime).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The platform client, built from the mapping's `[platform]` settings (none without a
    /// mapping).
    pub platform: Option<Arc<Client>>,
    /// Per-resource write locks (handed from each runtime to the next on reload, so a reload
    /// never lets two writes to one resource run at once).
    pub locks: Arc<crate::service::locks::Locks>,
    /// Failure budgets of the OAuth2 token endpoint (handed on at reload like the locks).
    pub oauth_limiter: Arc<crate::oauth::Limiter>,
    /// `[[auth.jwt]]` issuers and their cached key sets (handed on at reload when unchanged).
    pub jwt: Arc<crate::jwks::Issuers>,
    /// Shadow mode's run (`[scim] mode = "shadow"`): writes recorded, not sent; `None` live.
    /// Handed on at reload while the mode and record stay, so simulated objects live on.
    pub shadow: Option<Arc<crate::shadow::Shadow>>,
}

impl Runtime {
    /// Builds a runtime from a validated configuration: the live parts (the platform client,
    /// its connection pool and token cache) are made here, from the configuration's data.
    pub fn new(config: Config, metrics: Arc<crate::metrics::Metrics>) -> Runtime {
        let platform = config
            .scim
            .mapping
            .as_ref()
            .map(|m| Arc::new(Client::new(m.platform.clone(), metrics.clone())));
        // Publish what the mapping maps; without a mapping, the full RFC schemas.
        let types = match &config.scim.mapping {
            Some(m) => [&m.users, &m.groups]
                .into_iter()
                .flatten()
                .map(|r| (r.kind, r.published.clone()))
                .collect(),
            None => {
                let registry = Registry::standard();
                vec![
                    (ResourceKind::User, registry.user),
                    (ResourceKind::Group, registry.group),
                ]
            }
        };
        let normalizer = crate::normalize::Normalizer {
            profile: config.scim.profile,
            lowercase: config.scim.lowercase_attributes.clone(),
        };
        let service = crate::service::Settings {
            default_page_size: config.scim.default_page_size,
            max_page_size: config.scim.max_page_size,
            unmapped: config.scim.unmapped_attributes,
            group_patch_response: config.scim.group_patch_response,
            unknown_members: config.scim.unknown_members,
            write_lock_timeout: config.scim.write_lock_timeout,
            audit: crate::audit::Policy {
                shadow: config.scim.mode == crate::shadow::Mode::Shadow,
                ..config.audit.clone()
            },
            filter: normalizer.filter_options(),
            upsert_filtered_replace: normalizer.upsert_filtered_replace(),
        };
        let discovery = Discovery::new(
            types,
            &Features {
                max_results: config.scim.max_page_size,
                etag: false,
                documentation_uri: None,
            },
        );
        let jwt = Arc::new(crate::jwks::Issuers::new(&config.auth.jwt, None));
        let shadow = (config.scim.mode == crate::shadow::Mode::Shadow).then(|| {
            Arc::new(crate::shadow::Shadow::new(
                config.scim.shadow_record.clone(),
            ))
        });
        Runtime {
            jwt,
            shadow,
            config: Arc::new(config),
            discovery,
            service,
            normalizer,
            metrics,
            platform,
            locks: Arc::default(),
            oauth_limiter: Arc::default(),
        }
    }

    /// The same runtime, sharing another runtime's write locks and token-endpoint failure
    /// budgets, and keeping its platform access
    /// token when the credentials it was issued for did not change (a reload's successor).
    pub fn succeeding(mut self, previous: &Runtime) -> Runtime {
        self.locks = previous.locks.clone();
        self.oauth_limiter = previous.oauth_limiter.clone();
        self.jwt = Arc::new(crate::jwks::Issuers::new(
            &self.config.auth.jwt,
            Some(&previous.jwt),
        ));
        if let (Some(new), Some(old)) = (&self.platform, &previous.platform) {
            // An access token outlives a reload that did not change its credentials.
            new.adopt_token(old);
            // The rate bucket too: a reload does not refill it nor forget a platform Retry-After.
            new.adopt_rate(old);
        }
        if let (Some(new), Some(old)) = (&self.shadow, &previous.shadow)
            && new.record() == old.record()
        {
            // The simulated objects outlive a reload that stays in shadow mode.
            self.shadow = Some(old.clone());
        }
        self
    }

    /// Says loudly that writes do not reach the platform, and sets the shadow-mode gauge.
    fn announce(&self, previous: Option<&Runtime>) {
        self.metrics.shadow_mode(self.shadow.is_some());
        match (&self.shadow, previous.map(|p| p.shadow.is_some())) {
            (Some(s), None | Some(false)) => {
                tracing::warn!(
                    record = %s.record().display(),
                    "SHADOW MODE: no writes reach the platform; reads do, writes are recorded in the shadow record and simulated ([scim] mode = \"shadow\" or serve --shadow)"
                );
                if let Err(e) = s.open() {
                    tracing::error!(error = %e, "shadow mode cannot record writes: every write will fail until the path is writable");
                }
            }
            (None, Some(true)) => {
                tracing::warn!(
                    "shadow mode ended: writes reach the platform again ([scim] mode = \"live\")"
                );
            }
            _ => {}
        }
    }

    /// The compiled mapping and the platform client, when a mapping is configured.
    pub fn mapped(&self) -> Option<(&Mapping, &Client)> {
        self.config
            .scim
            .mapping
            .as_deref()
            .zip(self.platform.as_deref())
    }
}

/// Readiness and drain flags, read by `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
    draining: AtomicBool,
}

impl Health {
    /// Marks the SCIM listener as up.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Marks the process as draining (shutdown has begun).
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the process is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Ready to take traffic: up and not draining.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.is_draining()
    }
}

/// The shared application state.
#[derive(Debug)]
pub struct App {
    runtime: ArcSwap<Runtime>,
    /// Readiness and drain flags.
    pub health: Health,
    /// Request-id generator.
    pub request_ids: RequestIds,
    /// The last platform readiness probe: when, and what it found.
    pub readiness: tokio::sync::Mutex<Option<(tokio::time::Instant, Result<(), String>)>>,
}

impl App {
    /// The state for a first runtime.
    pub fn new(runtime: Runtime) -> Arc<App> {
        runtime.announce(None);
        Arc::new(App {
            runtime: ArcSwap::from_pointee(runtime),
            health: Health::default(),
            request_ids: RequestIds::new(),
            readiness: tokio::sync::Mutex::new(None),
        })
    }

    /// The current runtime (one atomic load; hold it for the whole request).
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Replaces the runtime for requests that start from now on.
    pub fn swap_runtime(&self, runtime: Runtime) {
        runtime.announce(Some(&self.runtime()));
        self.runtime.store(Arc::new(runtime));
        if let Ok(mut r) = self.readiness.try_lock() {
            *r = None;
        }
    }

    /// Whether the platform answers its readiness probe (no probe configured: yes), within the
    /// probe's `timeout` whatever the platform does. A result, failures included, is reused for
    /// the probe's `cache` duration; probes never overlap: one waiting for another's result
    /// waits at most its own deadline, so a hung platform sees one call at a time.
    pub async fn platform_ready(&self) -> Result<(), String> {
        let rt = self.runtime();
        let Some((mapping, client)) = rt.mapped() else {
            return Ok(());
        };
        let Some(probe) = &mapping.readiness else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + probe.timeout;
        let within = crate::config::values::format_duration(probe.timeout);
        let Ok(mut last) = tokio::time::timeout_at(deadline, self.readiness.lock()).await else {
            return Err(format!(
                "another readiness probe did not finish within {within} (platform.readiness.timeout)"
            ));
        };
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < probe.cache
        {
            return result.clone();
        }
        let result =
            match tokio::time::timeout_at(deadline, client.probe(&probe.call, deadline)).await {
                Ok(Ok(reply)) if reply.status.is_success() => Ok(()),
                Ok(Ok(reply)) => Err(format!("the platform answered {}", reply.status.as_u16())),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "no answer within {within} (platform.readiness.timeout)"
                )),
            };
        *last = Some((tokio::time::Instant::now(), result.clone()));
        result
    }
}
