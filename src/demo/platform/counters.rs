//! Per-route call counting of the demo platform: one relaxed atomic add per request.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use http::Method;

use super::routes::Route;

/// Route patterns, in counter order. `*` stands for every path that matches no route.
const PATTERNS: [&str; 9] = [
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/groups",
    "/api/v1/groups/{id}",
    "/api/v1/groups/{id}/members",
    "/api/v1/groups/{id}/members/{user_id}",
    "/oauth/token",
    "*",
    "/api/v1/answer/{status}",
];

/// Methods, in counter order. `OTHER` counts every method not listed before it.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
];

const SLOTS: usize = PATTERNS.len() * METHODS.len();

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

pub(super) struct CallCounters([AtomicU64; SLOTS]);

impl Default for CallCounters {
    fn default() -> Self {
        CallCounters([const { AtomicU64::new(0) }; SLOTS])
    }
}

impl CallCounters {
    pub(super) fn record(&self, route: Route, method: &Method) {
        let slot = route.pattern_index() * METHODS.len() + method_index(method);
        if let Some(counter) = self.0.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn snapshot(&self) -> CallCounts {
        CallCounts {
            counts: std::array::from_fn(|slot| self.0[slot].load(Ordering::Relaxed)),
        }
    }

    pub(super) fn reset(&self) {
        for counter in &self.0 {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A snapshot of how many requests each `(method, route pattern)` received, authorised or not.
///
/// Patterns are written as in the API description (`/api/v1/groups/{id}/members/{user_id}`); `*`
/// counts paths that match no route, and the method `OTHER` counts methods other than `GET`,
/// `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` and `OPTIONS`.
#[derive(Clone, PartialEq, Eq)]
pub struct CallCounts {
    counts: [u64; SLOTS],
}

impl CallCounts {
    /// Requests received as `method` (upper case) on `pattern`. Debug builds panic on a method or
    /// pattern that is not counted at all (a typo would otherwise make an assertion vacuous);
    /// release builds return 0.
    pub fn get(&self, method: &str, pattern: &str) -> u64 {
        let route = PATTERNS.iter().position(|p| *p == pattern);
        let method_slot = METHODS.iter().position(|m| *m == method);
        debug_assert!(
            route.is_some() && method_slot.is_some(),
            "no call counter for {method} {pattern}; patterns are {PATTERNS:?}, methods {METHODS:?}"
        );
        match (route, method_slot) {
            (Some(r), Some(m)) => self.counts.get(r * METHODS.len() + m).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// All requests counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The non-zero counters as `(method, pattern, count)`, grouped by pattern.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(slot, &count)| {
                let pattern = PATTERNS[slot / METHODS.len()];
                let method = METHODS[slot % METHODS.len()];
                (method, pattern, count)
            })
    }
}

impl fmt::Display for CallCounts {
    /// One `METHOD pattern: count` line per non-zero counter, or `no calls`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (method, pattern, count) in self.iter() {
            if any {
                f.write_str("\n")?;
            }
            write!(f, "{method} {pattern}: {count}")?;
            any = true;
        }
        if !any {
            f.write_str("no calls")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(method, pattern, count)| (format!("{method} {pattern}"), count)),
            )
            .finish()
    }
}
