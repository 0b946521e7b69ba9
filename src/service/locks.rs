//! Per-resource write locks inside one replica: every read-modify-write of one platform object
//! (a PATCH, a PUT, a member change written into a group's array or onto a user) holds the
//! resource's lock, so concurrent requests to one resource apply one after the other instead of
//! overwriting each other's changes. The wait is bounded: past it the request is answered 503
//! with `Retry-After`. Across replicas, see `docs/design/concurrency.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::error::{Error, PlatformError};
use crate::routes::ResourceKind;

type Key = (ResourceKind, String);

/// The lock table: one entry per resource being written, removed when its last holder leaves.
#[derive(Debug, Default)]
pub struct Locks {
    table: Mutex<HashMap<Key, Arc<AsyncMutex<()>>>>,
}

/// A held resource lock; released on drop.
#[derive(Debug)]
pub struct Held<'a> {
    locks: &'a Locks,
    key: Key,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Locks {
    /// Takes the lock of one resource, waiting at most `wait` for the writer before.
    pub async fn lock(
        &self,
        kind: ResourceKind,
        id: &str,
        wait: Duration,
    ) -> Result<Held<'_>, Error> {
        let key = (kind, id.to_owned());
        let cell = {
            let mut table = self
                .table
                .lock()
                .map_err(|_| Error::Internal("resource lock table poisoned".to_owned()))?;
            table.entry(key.clone()).or_default().clone()
        };
        let mut held = Held {
            locks: self,
            key,
            guard: None,
        };
        match tokio::time::timeout(wait, cell.lock_owned()).await {
            Ok(guard) => {
                held.guard = Some(guard);
                Ok(held)
            }
            // `held` drops here and removes the entry if nobody else needs it.
            Err(_) => Err(Error::Platform(PlatformError::Contended {
                retry_after_secs: wait.as_secs().clamp(1, 30),
            })),
        }
    }

    /// Resources with a writer or a waiter (for tests and metrics).
    pub fn in_use(&self) -> usize {
        self.table.lock().map(|t| t.len()).unwrap_or(0)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let guard = self.guard.take();
        if let Ok(mut table) = self.locks.table.lock() {
            // The table's reference, plus ours if we held it: nobody else holds or waits.
            let ours = 1 + usize::from(guard.is_some());
            if table
                .get(&self.key)
                .is_some_and(|c| Arc::strong_count(c) <= ours)
            {
                table.remove(&self.key);
            }
        }
        drop(guard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_of_one_resource_take_turns_and_the_table_empties() {
        let locks = Arc::new(Locks::default());
        let counter = Arc::new(Mutex::new((0u32, 0u32))); // (inside now, most inside at once)
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let locks = locks.clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                let _held = locks
                    .lock(ResourceKind::Group, "7", Duration::from_secs(5))
                    .await
                    .map_err(|e| e.to_string())?;
                {
                    let mut c = counter.lock().map_err(|e| e.to_string())?;
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                counter.lock().map_err(|e| e.to_string())?.0 -= 1;
                Ok::<(), String>(())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.ok(), Some(Ok(())));
        }
        assert_eq!(
            counter.lock().map(|c| c.1).ok(),
            Some(1),
            "one writer at a time"
        );
        assert_eq!(locks.in_use(), 0, "no entry left behind");
    }

    #[tokio::test]
    async fn different_resources_do_not_wait_for_each_other() {
        let locks = Locks::default();
        let a = locks
            .lock(ResourceKind::Group, "1", Duration::from_millis(10))
            .await;
        let b = locks
            .lock(ResourceKind::Group, "2", Duration::from_millis(10))
            .await;
        let c = locks
            .lock(ResourceKind::User, "1", Duration::from_millis(10))
            .await;
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
    }

    #[tokio::test]
    async fn a_wait_past_the_bound_is_a_503_with_retry_after_and_leaves_no_entry() {
        let locks = Locks::default();
        let first = locks
            .lock(ResourceKind::User, "9", Duration::from_millis(10))
            .await;
        assert!(first.is_ok());
        let second = locks
            .lock(ResourceKind::User, "9", Duration::from_millis(20))
            .await;
        let Err(e) = second else {
            panic!("the second writer should time out");
        };
        assert_eq!(e.status(), 503);
        assert!(matches!(
            e,
            Error::Platform(PlatformError::Contended {
                retry_after_secs: 1
            })
        ));
        drop(first);
        assert_eq!(locks.in_use(), 0);
    }
}
