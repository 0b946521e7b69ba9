//! The cap on the platform's call rate (`[platform] rate` and `burst`): a token bucket that
//! refills continuously at `count / window` and holds at most `burst` tokens. Every platform call
//! attempt (retries and the re-send after a refreshed OAuth2 token included) takes one token;
//! calls to the OAuth2 token endpoint and the readiness probe take none. Past the rate a call
//! waits for its token, up to a bound its caller sets (`queue_timeout`, never past the request's
//! budget); when the token would come later than that, nothing is taken and the caller learns how
//! many seconds until a token is free, for the SCIM client's `Retry-After`.
//!
//! A waiting call reserves its token (the bucket goes below zero), so concurrent waiters queue in
//! order and never exceed the rate together; a caller that gives up while waiting does not give
//! its token back (the bucket errs on the side of fewer calls).
//!
//! The bucket also honours the platform's own `Retry-After` on a 429 or 503 ([`Bucket::hold`]):
//! no call starts before that instant (at most [`MAX_HOLD`] ahead).
//!
//! Time is `tokio::time::Instant`, so the unit tests run on tokio's paused clock.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The longest a platform `Retry-After` holds every call: a platform asking for more is waited
/// for this long only, so a wrong header cannot stop the sidecar for hours.
pub const MAX_HOLD: Duration = Duration::from_secs(60);

/// The longest window of a rate: one day (a bucket's arithmetic stays far from overflow).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

/// The configured rate (`platform.rate`, `platform.burst`), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls per window (`N` in `"N/<duration>"`), at least 1.
    pub count: u32,
    /// The window (the duration in `"N/<duration>"`), greater than zero.
    pub window: Duration,
    /// The bucket's size: calls that may go at once after a quiet spell, at least 1.
    pub burst: u32,
}

/// Parses `"N/<duration>"` (e.g. `"40/60s"`): `N` at least 1 and a duration greater than zero.
/// The error is the reason, for the caller's config error.
pub fn parse(text: &str) -> Result<(u32, Duration), String> {
    let syntax = "expected \"N/<duration>\", calls per window, e.g. \"40/60s\"";
    let Some((n, window)) = text.split_once('/') else {
        return Err(syntax.to_owned());
    };
    let count: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("{syntax}: {:?} is not a whole number", n.trim()))?;
    if count == 0 {
        return Err("the count must be at least 1".to_owned());
    }
    let window = crate::config::diagnostics::duration(
        Some(window.trim()),
        Duration::ZERO,
        crate::config::diagnostics::Zero::Rejected,
    )
    .map_err(|(_, reason)| format!("the window: {reason}"))?;
    if window > MAX_WINDOW {
        return Err(
            "the window: must be at most 1 day (\"24h\"); write a longer quota per day".to_owned(),
        );
    }
    Ok((count, window))
}

impl Rate {
    /// The time one token takes to refill.
    fn interval(&self) -> Duration {
        self.window / self.count
    }
}

/// Why a call got no token in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until a token is free for a new call, rounded up, at least 1.
    pub retry_after_secs: u64,
}

/// The token bucket of one client, kept as the instant the bucket is next full of reservations
/// (the "theoretical arrival time" of the generic cell rate algorithm): integer time, no drift.
#[derive(Debug)]
pub struct Bucket {
    rate: Rate,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// When the last reserved token is refilled: a call may go once `next - tolerance` is past
    /// (`tolerance` is `burst - 1` refills). At or before now, the bucket is full.
    next: Instant,
    /// No call starts before this instant (a platform `Retry-After`).
    hold: Option<Instant>,
}

impl Bucket {
    /// A full bucket for `rate`.
    pub fn new(rate: Rate) -> Bucket {
        Bucket {
            rate,
            state: Mutex::new(State {
                next: Instant::now(),
                hold: None,
            }),
        }
    }

    /// The configured rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// After a reload: takes over `old`'s state, so that a reload neither refills the bucket nor
    /// forgets a platform `Retry-After`: the tokens the old bucket has handed out and not yet
    /// refilled stay taken (at most this bucket's burst: at worst it starts empty) and refill at
    /// this bucket's rate from now on; the hold is kept.
    pub fn adopt(&self, old: &Bucket) {
        let now = Instant::now();
        let theirs = match old.state.lock() {
            Ok(s) => *s,
            Err(p) => **p.get_ref(),
        };
        let old_interval = old.rate.interval().as_secs_f64();
        let taken = if old_interval > 0.0 {
            theirs.next.saturating_duration_since(now).as_secs_f64() / old_interval
        } else {
            0.0
        };
        let taken = taken.min(f64::from(self.rate.burst));
        if let Ok(mut s) = self.state.lock() {
            *s = State {
                next: now + self.rate.interval().mul_f64(taken),
                hold: theirs.hold,
            };
        }
    }

    /// Takes a token, waiting for it when none is free, if it comes within `max_wait`.
    /// Returns how long the call waited; `Err` (and nothing taken) when the token would come
    /// later than that.
    pub async fn acquire(&self, max_wait: Duration) -> Result<Duration, Limited> {
        let wait = self.reserve(Instant::now(), max_wait)?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(wait)
    }

    /// Holds every call until `until` (at most [`MAX_HOLD`] from now): the platform asked not to
    /// be called before then. A later hold extends an earlier one, never shortens it.
    pub fn hold(&self, until: Instant) {
        let until = until.min(Instant::now() + MAX_HOLD);
        if let Ok(mut s) = self.state.lock() {
            s.hold = Some(s.hold.map_or(until, |h| h.max(until)));
        }
    }

    /// Reserves a token at `now`: how long until it may be used, or `Err` (nothing reserved)
    /// when that is more than `max_wait`.
    fn reserve(&self, now: Instant, max_wait: Duration) -> Result<Duration, Limited> {
        let interval = self.rate.interval();
        let tolerance = interval * (self.rate.burst.max(1) - 1);
        let Ok(mut s) = self.state.lock() else {
            // A poisoned lock: a panic elsewhere; refuse rather than call past the rate.
            return Err(Limited {
                retry_after_secs: 1,
            });
        };
        let next = s.next.max(now);
        let for_token = next
            .checked_sub(tolerance)
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        let for_hold = s
            .hold
            .map_or(Duration::ZERO, |h| h.saturating_duration_since(now));
        let wait = for_token.max(for_hold);
        if wait > max_wait {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Limited {
                retry_after_secs: secs.max(1),
            });
        }
        s.next = next + interval;
        Ok(wait)
    }
}

#[cfg(test)]
mod tests;
