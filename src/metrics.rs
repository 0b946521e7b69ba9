//! Prometheus metrics (prometheus-client, OpenMetrics text on the admin port's `/metrics`): SCIM
//! requests, platform calls, OAuth2 token fetches, authentication failures, in-flight requests,
//! reloads, ignored attributes and members, the platform rate cap, dropped log lines, build info. One registry per process, passed explicitly (no
//! globals), so tests stay isolated.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// `resource`, `operation`, `status` of a SCIM request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `User`, `Group`, `discovery`, or `none` (unknown paths).
    pub resource: &'static str,
    /// `list`, `get`, `create`, `replace`, `patch`, `delete`, `search`, `discovery`, `other`.
    pub operation: &'static str,
    /// HTTP status answered.
    pub status: u16,
}

/// `resource`, `operation` of a SCIM request (latency).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// As in [`RequestLabels`].
    pub resource: &'static str,
    /// As in [`RequestLabels`].
    pub operation: &'static str,
}

/// `operation`, `outcome` of a platform call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabels {
    /// The mapped operation, e.g. `users.read`, `groups.members.add`.
    pub operation: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx`, `timeout`, `unreachable`, `overloaded`, `bad_response`,
    /// `no_token` (no OAuth2 access token could be had: see `platform_token_fetches`).
    pub outcome: &'static str,
}

/// A single `reason` or `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The reason.
    pub reason: &'static str,
}

/// `outcome` of a reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success` or `failure`.
    pub outcome: &'static str,
}

/// `resource` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    /// `User` or `Group`.
    pub resource: &'static str,
}

/// `version` label of the build info.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<OperationLabels>,
    platform_duration: HistogramFamily<PlatformLabels>,
    auth_failures: Family<ReasonLabels, Counter>,
    in_flight: Gauge,
    reloads: Family<OutcomeLabels, Counter>,
    token_fetches: Family<OutcomeLabels, Counter>,
    ignored_attributes: Family<ResourceLabels, Counter>,
    ignored_members: Counter,
    oauth_tokens_issued: Counter,
    oauth_token_failures: Family<ReasonLabels, Counter>,
    rate_limited: Counter,
    rate_wait: Histogram,
    shadow_mode: Gauge,
    shadow_writes: Family<ShadowLabels, Counter>,
}

/// `operation` of a write shadow mode recorded instead of sending.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShadowLabels {
    /// The mapped operation, e.g. `users.create`, `groups.members.add`.
    pub operation: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every family registered.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("scim_sidecar");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "SCIM requests answered, by resource type, operation and status",
            requests.clone(),
        );
        let request_duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Time to answer a SCIM request, platform calls included",
            Unit::Seconds,
            request_duration.clone(),
        );
        let platform_duration: HistogramFamily<PlatformLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "platform_call_duration",
            "Platform calls by mapped operation and outcome, and their duration",
            Unit::Seconds,
            platform_duration.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests refused with 401, by reason (missing, wrong_scheme, malformed, invalid, ambiguous; for issued OAuth2 tokens: expired, not_yet_valid, wrong_issuer, wrong_audience, unknown_kid, algorithm, signature, oversized, unknown_client)",
            auth_failures.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "SCIM requests being served",
            in_flight.clone(),
        );
        let reloads = Family::<OutcomeLabels, Counter>::default();
        for outcome in ["success", "failure"] {
            // Both series exist from the start, so a dashboard shows 0 rather than nothing.
            let _ = reloads.get_or_create(&OutcomeLabels { outcome });
        }
        registry.register(
            "config_reloads",
            "Configuration reloads, by outcome (a failure keeps the last good configuration)",
            reloads.clone(),
        );
        let token_fetches = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "platform_token_fetches",
            "Calls to the platform's OAuth2 token endpoint, by outcome (success, refused, unreachable, timeout, bad_response)",
            token_fetches.clone(),
        );
        let ignored_attributes = Family::<ResourceLabels, Counter>::default();
        registry.register(
            "ignored_attributes",
            "Requests that carried attributes the platform does not store (unmapped_attributes = ignore)",
            ignored_attributes.clone(),
        );
        let ignored_members = Counter::default();
        registry.register(
            "ignored_members",
            "Member ids naming no user of the platform that were skipped (unknown_members = ignore)",
            ignored_members.clone(),
        );
        let oauth_tokens_issued = Counter::default();
        registry.register(
            "oauth_tokens_issued",
            "Access tokens issued by the sidecar's OAuth2 token endpoint ([auth.oauth])",
            oauth_tokens_issued.clone(),
        );
        let oauth_token_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "oauth_token_failures",
            "Token requests refused, by reason (invalid_client, invalid_request, unsupported_grant_type, rate_limited)",
            oauth_token_failures.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "platform_rate_limited",
            "Platform calls refused by the sidecar's rate cap (platform.rate): no token within queue_timeout, the SCIM request got 429",
            rate_limited.clone(),
        );
        let rate_wait = latency_histogram();
        registry.register_with_unit(
            "platform_rate_wait",
            "How long platform calls waited for a token of the rate cap (platform.rate) or for a platform Retry-After to pass",
            Unit::Seconds,
            rate_wait.clone(),
        );
        let shadow_mode = Gauge::default();
        registry.register(
            "shadow_mode",
            "1 while the sidecar runs in shadow mode ([scim] mode = \"shadow\"): writes are recorded, not sent",
            shadow_mode.clone(),
        );
        let shadow_writes = Family::<ShadowLabels, Counter>::default();
        registry.register(
            "shadow_writes",
            "Platform writes recorded in the shadow record instead of being sent, by operation",
            shadow_writes.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "Build information", build_info);
        registry.register_collector(Box::new(LogDropped));
        Arc::new(Metrics {
            registry,
            requests,
            request_duration,
            platform_duration,
            auth_failures,
            in_flight,
            reloads,
            token_fetches,
            ignored_attributes,
            ignored_members,
            oauth_tokens_issued,
            oauth_token_failures,
            rate_limited,
            rate_wait,
            shadow_mode,
            shadow_writes,
        })
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Records an answered SCIM request.
    pub fn request(
        &self,
        resource: &'static str,
        operation: &'static str,
        status: u16,
        took: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                resource,
                operation,
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&OperationLabels {
                resource,
                operation,
            })
            .observe(took.as_secs_f64());
    }

    /// Records a platform call.
    pub fn platform_call(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        self.platform_duration
            .get_or_create(&PlatformLabels { operation, outcome })
            .observe(took.as_secs_f64());
    }

    /// Records an access token issued by the token endpoint.
    pub fn oauth_token_issued(&self) {
        self.oauth_tokens_issued.inc();
    }

    /// Records a refused token request.
    pub fn oauth_token_failure(&self, reason: &'static str) {
        self.oauth_token_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Records a refused authentication.
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Marks a request started; the guard marks it finished when dropped.
    pub fn in_flight(self: &Arc<Self>) -> InFlight {
        self.in_flight.inc();
        InFlight {
            metrics: self.clone(),
        }
    }

    /// Records a reload attempt.
    pub fn reload(&self, success: bool) {
        self.reloads
            .get_or_create(&OutcomeLabels {
                outcome: if success { "success" } else { "failure" },
            })
            .inc();
    }

    /// Records a call to the platform's OAuth2 token endpoint (`success`, or a
    /// [`crate::error::TokenFailure`] label).
    pub fn token_fetch(&self, outcome: &'static str) {
        self.token_fetches
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Records a platform call refused by the rate cap.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// Records how long a platform call waited for a token of the rate cap.
    pub fn rate_wait(&self, waited: Duration) {
        self.rate_wait.observe(waited.as_secs_f64());
    }

    /// Records a request whose unmapped attributes were ignored.
    pub fn ignored_attributes(&self, resource: &'static str) {
        self.ignored_attributes
            .get_or_create(&ResourceLabels { resource })
            .inc();
    }

    /// Records a skipped unknown member.
    pub fn ignored_member(&self) {
        self.ignored_members.inc();
    }

    /// Sets the shadow-mode gauge (1 in shadow mode, 0 live).
    pub fn shadow_mode(&self, on: bool) {
        self.shadow_mode.set(i64::from(on));
    }

    /// Records a write shadow mode recorded instead of sending.
    pub fn shadow_write(&self, operation: &'static str) {
        self.shadow_writes
            .get_or_create(&ShadowLabels { operation })
            .inc();
    }
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InFlight {
    metrics: Arc<Metrics>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// `log_dropped_lines_total`: access lines the log writer dropped because its queue was full,
/// read from the process's sink at each scrape (`logging::sink::dropped`).
#[derive(Debug)]
struct LogDropped;

impl prometheus_client::collector::Collector for LogDropped {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        let counter =
            prometheus_client::metrics::counter::ConstCounter::new(crate::logging::sink::dropped());
        let metric = encoder.encode_descriptor(
            "log_dropped_lines",
            "Access log lines dropped because the log writer's queue was full (stderr not keeping up)",
            None,
            counter.metric_type(),
        )?;
        counter.encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exposed_with_their_labels() {
        let m = Metrics::new();
        m.request("User", "create", 201, Duration::from_millis(3));
        m.platform_call("users.create", "2xx", Duration::from_millis(2));
        m.auth_failure("invalid");
        m.reload(false);
        m.token_fetch("success");
        m.rate_limited();
        m.rate_wait(Duration::from_millis(400));
        let guard = m.in_flight();
        let text = m.encode();
        drop(guard);
        for needle in [
            r#"scim_sidecar_requests_total{resource="User",operation="create",status="201"} 1"#,
            r#"scim_sidecar_request_duration_seconds_count{resource="User",operation="create"} 1"#,
            r#"scim_sidecar_platform_call_duration_seconds_count{operation="users.create",outcome="2xx"} 1"#,
            r#"scim_sidecar_auth_failures_total{reason="invalid"} 1"#,
            r#"scim_sidecar_config_reloads_total{outcome="failure"} 1"#,
            r#"scim_sidecar_platform_token_fetches_total{outcome="success"} 1"#,
            "scim_sidecar_platform_rate_limited_total 1",
            "scim_sidecar_platform_rate_wait_seconds_count 1",
            "scim_sidecar_in_flight_requests 1",
            "scim_sidecar_build_info{version=",
            "# TYPE scim_sidecar_log_dropped_lines counter",
            "scim_sidecar_log_dropped_lines_total 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in:\n{text}");
        }
        assert!(m.encode().contains("scim_sidecar_in_flight_requests 0"));
    }
}
