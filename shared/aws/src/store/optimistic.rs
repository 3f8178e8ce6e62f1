//! Optimistic concurrency, the one way every writer here handles a lost race: read,
//! decide, write conditioned on what was read; when another writer got there first, wait
//! a little (jittered, growing) and do all three again with what is there now.
//!
//! Every read-decide-write loop goes through [`until_won`], so they all try the same
//! number of times and back off alike, and one that never wins ends in
//! [`StoreError::Contention`], which each kind of caller answers one way (HTTP: the
//! `From<StoreError>` for `tracking_http::ApiError`; a queue message: a retry).

use std::future::Future;

use super::StoreError;

/// How many times a writer decides and writes before giving up on a hot item: with the
/// backoff below, about 1.5 s of trying.
pub const ATTEMPTS: usize = 8;

/// What one read-decide-write came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Try<T> {
    Done(T),
    /// Another writer changed what was read: read and decide again.
    LostRace,
}

impl<T> Try<T> {
    /// A conditional write's result: its refusal is a lost race, anything else is final.
    pub fn of(written: Result<T, StoreError>) -> Result<Self, StoreError> {
        match written {
            Ok(value) => Ok(Self::Done(value)),
            Err(StoreError::Contention) => Ok(Self::LostRace),
            Err(other) => Err(other),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Try<U> {
        match self {
            Self::Done(value) => Try::Done(f(value)),
            Self::LostRace => Try::LostRace,
        }
    }
}

/// Runs `attempt` until it is done, an error, or [`ATTEMPTS`] lost races.
///
/// A closure returning a future (`|| async move { .. }`), not an async closure: with one,
/// the futures of the handlers that call this stop being `Send` for every lifetime, which
/// the Lambda runtime needs.
pub async fn until_won<T, E, Attempt>(mut attempt: impl FnMut() -> Attempt) -> Result<T, E>
where
    E: From<StoreError>,
    Attempt: Future<Output = Result<Try<T>, E>>,
{
    for tried in 0..ATTEMPTS {
        if tried > 0 {
            backoff(tried).await;
        }
        if let Try::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(StoreError::Contention.into())
}

/// Waits a little before retrying a lost race: exponential, with jitter so that the
/// writers that collided do not collide again in lockstep.
pub async fn backoff(attempt: usize) {
    let base_ms = 5u64 << attempt.min(6);
    let jitter_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % base_ms.max(1));
    tokio::time::sleep(std::time::Duration::from_millis(base_ms + jitter_ms)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lost_race_is_tried_again_until_won() {
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let won = until_won(|| async {
            let tries = tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            Ok::<_, StoreError>(if tries < 3 {
                Try::LostRace
            } else {
                Try::Done(tries)
            })
        })
        .await
        .unwrap();
        assert_eq!(won, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_race_lost_every_time_is_contention_after_the_attempts() {
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let outcome: Result<(), StoreError> = until_won(|| async {
            tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Try::LostRace)
        })
        .await;
        assert!(matches!(outcome, Err(StoreError::Contention)));
        assert_eq!(tries.into_inner(), ATTEMPTS);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_ends_at_once() {
        let tries = std::sync::atomic::AtomicUsize::new(0);
        let outcome: Result<(), StoreError> = until_won(|| async {
            tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(StoreError::Unexpected(anyhow::anyhow!("table gone")))
        })
        .await;
        assert!(matches!(outcome, Err(StoreError::Unexpected(_))));
        assert_eq!(tries.into_inner(), 1);
    }

    #[test]
    fn only_a_refused_condition_is_a_lost_race() {
        assert_eq!(Try::of(Ok::<_, StoreError>(1)).unwrap(), Try::Done(1));
        assert_eq!(
            Try::of(Err::<(), _>(StoreError::Contention)).unwrap(),
            Try::LostRace
        );
        assert!(Try::of(Err::<(), _>(StoreError::Unexpected(anyhow::anyhow!("x")))).is_err());
    }
}
