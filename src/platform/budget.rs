//! A SCIM request's deadline for its platform calls (`platform.request_budget`): set once when
//! the request starts (a task-local), read by every platform call the request makes, so that its
//! attempts, retries, backoffs and waits for a free slot all fit in it. Outside a request (the
//! readiness probe passes its own deadline, `explain` makes no call) there is none.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
    static UNDOING: ();
}

/// The shortest attempt worth starting: with less than this left (or less than the platform
/// timeout, when that is shorter), no new attempt is made and the request fails at once.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// Runs `fut` (one SCIM request) with its platform calls bounded by `deadline`. Not an `async fn`:
/// that would hold `fut` twice (as its argument and inside the scope), doubling the size of the
/// request's future, which is moved by value on every request.
pub fn within<F: Future>(deadline: Instant, fut: F) -> impl Future<Output = F::Output> {
    DEADLINE.scope(deadline, fut)
}

/// The current request's deadline, if there is one.
pub fn deadline() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Runs `fut`, the undo calls of a write that failed part-way (members added, steps run, a
/// resource created): their platform calls wait for the rate cap's token until the request's
/// deadline rather than only `queue_timeout`, since an undo refused for the rate would leave the
/// platform half-changed. Not an `async fn`, for the reason [`within`] gives.
pub fn undoing<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    UNDOING.scope((), fut)
}

/// Whether the current platform call is an undo ([`undoing`]).
pub fn is_undoing() -> bool {
    UNDOING.try_with(|()| ()).is_ok()
}

/// When the platform calls of a request that started at `started` must be done: after
/// `request_budget`, and never later than nine tenths of `request_timeout`, so that a request cut
/// by its budget still answers (504) before the whole-request timeout fires.
pub fn deadline_for(
    started: Instant,
    request_budget: Duration,
    request_timeout: Duration,
) -> Instant {
    started + request_budget.min(request_timeout.mul_f64(0.9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_deadline_is_seen_inside_the_scope_only() {
        assert_eq!(deadline(), None);
        let d = Instant::now() + Duration::from_secs(3);
        assert_eq!(within(d, async { deadline() }).await, Some(d));
        assert_eq!(deadline(), None);
    }

    #[tokio::test]
    async fn undoing_is_seen_inside_the_scope_only() {
        assert!(!is_undoing());
        assert!(undoing(async { is_undoing() }).await);
        assert!(!is_undoing());
    }

    #[test]
    fn the_budget_stays_inside_the_request_timeout() {
        let t = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(deadline_for(t, s(20), s(25)), t + s(20));
        assert_eq!(deadline_for(t, s(20), s(10)), t + s(9));
    }
}
