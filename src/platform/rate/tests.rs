//! Unit tests of the token bucket, on tokio's paused clock.

use super::*;

fn bucket(count: u32, window_secs: u64, burst: u32) -> Bucket {
    Bucket::new(Rate {
        count,
        window: Duration::from_secs(window_secs),
        burst,
    })
}

const NO_WAIT: Duration = Duration::ZERO;

#[test]
fn rates_parse_as_count_per_window() {
    assert_eq!(parse("40/60s"), Ok((40, Duration::from_secs(60))));
    assert_eq!(parse(" 5 / 2s "), Ok((5, Duration::from_secs(2))));
    assert_eq!(parse("1/500ms"), Ok((1, Duration::from_millis(500))));
    assert!(parse("40").is_err());
    assert!(parse("0/60s").is_err_and(|e| e.contains("at least 1")));
    assert!(parse("-1/60s").is_err());
    assert!(parse("x/60s").is_err());
    assert!(parse("40/0s").is_err_and(|e| e.contains("greater than zero")));
    assert!(parse("40/soon").is_err());
}

#[tokio::test(start_paused = true)]
async fn a_full_bucket_lets_the_burst_through_at_once_then_refuses() {
    let b = bucket(5, 2, 5);
    for _ in 0..5 {
        assert_eq!(b.acquire(NO_WAIT).await, Ok(Duration::ZERO));
    }
    // The next token refills in 2s / 5 = 400 ms.
    assert_eq!(
        b.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: 1
        })
    );
}

#[tokio::test(start_paused = true)]
async fn tokens_refill_continuously_at_count_per_window() {
    let b = bucket(5, 2, 5);
    for _ in 0..5 {
        assert!(b.acquire(NO_WAIT).await.is_ok());
    }
    tokio::time::advance(Duration::from_millis(399)).await;
    assert!(b.acquire(NO_WAIT).await.is_err());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(b.acquire(NO_WAIT).await.is_ok());
    assert!(b.acquire(NO_WAIT).await.is_err());
    // A long quiet spell refills the bucket to its burst, no more.
    tokio::time::advance(Duration::from_secs(60)).await;
    for _ in 0..5 {
        assert!(b.acquire(NO_WAIT).await.is_ok());
    }
    assert!(b.acquire(NO_WAIT).await.is_err());
}

#[test]
fn waiting_calls_reserve_their_tokens_in_order() {
    let b = bucket(5, 2, 1);
    let now = Instant::now();
    let waits: Vec<_> = (0..4)
        .map(|_| b.reserve(now, Duration::from_secs(2)).expect("within 2s"))
        .collect();
    assert_eq!(
        waits,
        [0, 400, 800, 1200].map(Duration::from_millis).to_vec()
    );
    // The queue reaches 1.6 s ahead: a fifth caller willing to wait 1 s is refused, told to come
    // back in 2 s (1.6 s rounded up), and reserves nothing.
    assert_eq!(
        b.reserve(now, Duration::from_secs(1)),
        Err(Limited {
            retry_after_secs: 2
        })
    );
    assert_eq!(
        b.reserve(now, Duration::from_secs(2)),
        Ok(Duration::from_millis(1600))
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_waiters_go_one_interval_apart() {
    let b = std::sync::Arc::new(bucket(5, 2, 1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.acquire(Duration::from_secs(2))
                .await
                .map(|_| Instant::now())
        }));
    }
    let mut offsets = Vec::new();
    for t in tasks {
        offsets.push(t.await.expect("task").expect("a token") - start);
    }
    offsets.sort();
    assert_eq!(
        offsets,
        [0, 400, 800, 1200].map(Duration::from_millis).to_vec(),
        "one call every 400 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_the_wait_for_a_token_rounded_up() {
    let b = bucket(1, 10, 1);
    assert!(b.acquire(NO_WAIT).await.is_ok());
    assert_eq!(
        b.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: 10
        })
    );
    tokio::time::advance(Duration::from_millis(8_500)).await;
    assert_eq!(
        b.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: 2
        })
    );
    // A refused call took nothing: the token comes when it would have.
    tokio::time::advance(Duration::from_millis(1_500)).await;
    assert!(b.acquire(NO_WAIT).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_platform_hold_stops_every_call_until_its_instant() {
    let b = bucket(100, 1, 100);
    b.hold(Instant::now() + Duration::from_secs(2));
    assert_eq!(
        b.acquire(Duration::from_secs(1)).await,
        Err(Limited {
            retry_after_secs: 2
        })
    );
    let start = Instant::now();
    assert_eq!(
        b.acquire(Duration::from_secs(3)).await,
        Ok(Duration::from_secs(2))
    );
    assert_eq!(Instant::now() - start, Duration::from_secs(2));
    // Past the hold, calls go at once again.
    assert_eq!(b.acquire(NO_WAIT).await, Ok(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn a_hold_is_capped_and_never_shortened() {
    let b = bucket(100, 1, 100);
    b.hold(Instant::now() + Duration::from_secs(3600));
    assert_eq!(
        b.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: MAX_HOLD.as_secs()
        })
    );
    b.hold(Instant::now() + Duration::from_secs(1));
    assert!(b.acquire(Duration::from_secs(59)).await.is_err());
    tokio::time::advance(MAX_HOLD).await;
    assert!(b.acquire(NO_WAIT).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn after_a_reload_the_tokens_taken_stay_taken_and_refill_at_the_new_rate() {
    // One call a minute, just made; the new rate allows many a second: the call still counts,
    // and the new rate applies at once.
    let old = bucket(1, 60, 1);
    assert!(old.acquire(NO_WAIT).await.is_ok());
    let faster = bucket(1000, 1, 1000);
    faster.adopt(&old);
    for _ in 0..999 {
        assert!(faster.acquire(NO_WAIT).await.is_ok());
    }
    assert!(faster.acquire(NO_WAIT).await.is_err());
    // Ten calls a second, all ten just made; the new rate is one a minute: the new bucket starts
    // empty (not ten minutes in debt) and its first token comes in a minute.
    let old = bucket(10, 1, 10);
    for _ in 0..10 {
        assert!(old.acquire(NO_WAIT).await.is_ok());
    }
    let slower = bucket(1, 60, 1);
    slower.adopt(&old);
    assert_eq!(
        slower.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: 60
        })
    );
    // A bucket that was never used hands over a full one.
    let fresh = bucket(5, 2, 5);
    let next = bucket(5, 2, 5);
    next.adopt(&fresh);
    for _ in 0..5 {
        assert!(next.acquire(NO_WAIT).await.is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn a_reload_takes_over_the_tokens_and_the_hold() {
    let old = bucket(5, 2, 5);
    for _ in 0..5 {
        assert!(old.acquire(NO_WAIT).await.is_ok());
    }
    old.hold(Instant::now() + Duration::from_secs(3));
    // The new bucket (another rate) starts empty, like the old one, and keeps the hold.
    let new = bucket(10, 2, 10);
    new.adopt(&old);
    assert_eq!(
        new.acquire(NO_WAIT).await,
        Err(Limited {
            retry_after_secs: 3
        })
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    // 3 s at 10 per 2 s refilled 15 tokens, capped at the new burst of 10.
    for _ in 0..10 {
        assert!(new.acquire(NO_WAIT).await.is_ok());
    }
    assert!(new.acquire(NO_WAIT).await.is_err());
}
