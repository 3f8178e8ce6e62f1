//! Secrets (signing keys, store credentials) read from AWS Secrets Manager on first use
//! and kept for a while.
//!
//! A function's environment names the secret (its ARN), never holds its value: Lambda
//! shows environment variables to anyone who may read the function's configuration, and
//! a value baked into the configuration can only change with a deploy.
//!
//! - **First use, not cold start.** Nothing is fetched until a request needs the secret,
//!   so a cold start never waits on Secrets Manager, and a function whose secret is not
//!   set up yet still starts and answers everything else.
//! - **Time to live.** A value is kept [`SECRET_TTL`]; after that the next use reads it
//!   again, so a rotated secret is picked up by warm functions within minutes. When a
//!   read fails and an older value is at hand, the older value is used and the read
//!   retried [`RETRY_AFTER_FAILURE`] later: a Secrets Manager hiccup is not an outage.
//! - **Rotation.** Secrets Manager keeps the value before the last change under the stage
//!   `AWSPREVIOUS`. Both are read, so a verifier (webhook signatures, unsubscribe links)
//!   accepts what was signed with either while signers move to the new one; a signer or
//!   a client of a store uses the current value only.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use futures::future::BoxFuture;
use tokio::time::Instant;
use tracking_domain::unsubscribe::UnsubscribeKey;

/// How long a value read is used before it is read again.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

/// After a failed read, how long before the next try (the older value, if any, is used
/// meanwhile): a broken secret costs a read every few seconds, not one per request.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(15);

const CURRENT_STAGE: &str = "AWSCURRENT";
const PREVIOUS_STAGE: &str = "AWSPREVIOUS";

/// A secret's value now and, after a rotation, the value before it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText {
    pub current: String,
    pub previous: Option<String>,
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

/// Where secret values are read from: [`SecretsManager`] in AWS and on the local stack.
pub trait SecretSource: Send + Sync {
    fn read<'a>(&'a self, secret_id: &'a str) -> BoxFuture<'a, anyhow::Result<SecretText>>;
}

/// The Secrets Manager adapter: `GetSecretValue` of the `AWSCURRENT` and `AWSPREVIOUS`
/// stages.
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Arc<Self> {
        Arc::new(Self {
            client: aws_sdk_secretsmanager::Client::new(sdk),
        })
    }

    async fn stage(&self, secret_id: &str, stage: &str) -> anyhow::Result<Option<String>> {
        let read = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await;
        match read {
            Ok(value) => {
                let text = value.secret_string.with_context(|| {
                    format!("secret {secret_id} ({stage}) is binary; a text value is expected")
                })?;
                Ok(Some(text))
            }
            // A secret that was never changed has no previous stage.
            Err(e)
                if stage == PREVIOUS_STAGE
                    && e.as_service_error().and_then(|s| s.code())
                        == Some("ResourceNotFoundException") =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "read secret {secret_id} ({stage}) from Secrets Manager"
            ))),
        }
    }
}

impl SecretSource for SecretsManager {
    fn read<'a>(&'a self, secret_id: &'a str) -> BoxFuture<'a, anyhow::Result<SecretText>> {
        Box::pin(async move {
            let (current, previous) = tokio::join!(
                self.stage(secret_id, CURRENT_STAGE),
                self.stage(secret_id, PREVIOUS_STAGE)
            );
            let current = current?.with_context(|| format!("secret {secret_id} has no value"))?;
            Ok(SecretText {
                current,
                previous: previous?,
            })
        })
    }
}

/// Secrets held in memory, by id: handler tests and in-process runs that need the real
/// read-decode-cache path without a Secrets Manager.
pub struct FixedSecrets(std::collections::BTreeMap<String, SecretText>);

impl FixedSecrets {
    /// `(secret id, current, previous)` triples.
    pub fn new<'a>(
        secrets: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    ) -> Arc<Self> {
        Arc::new(Self(
            secrets
                .into_iter()
                .map(|(id, current, previous)| {
                    let text = SecretText {
                        current: current.to_owned(),
                        previous: previous.map(str::to_owned),
                    };
                    (id.to_owned(), text)
                })
                .collect(),
        ))
    }
}

impl SecretSource for FixedSecrets {
    fn read<'a>(&'a self, secret_id: &'a str) -> BoxFuture<'a, anyhow::Result<SecretText>> {
        let found = self
            .0
            .get(secret_id)
            .cloned()
            .with_context(|| format!("no secret {secret_id}"));
        Box::pin(async move { found })
    }
}

/// Why a secret could not be used. Callers answer it as a temporary failure (HTTP 503, a
/// queue message retried): the fix is the operator's, and nothing the request did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret {secret_id} could not be read: {reason}")]
    Unreadable { secret_id: String, reason: String },
    #[error("secret {secret_id} holds no usable value: {reason}")]
    Unusable { secret_id: String, reason: String },
}

/// A decoded secret now and, during a rotation, before.
pub struct Versions<T> {
    pub current: Arc<T>,
    pub previous: Option<Arc<T>>,
}

impl<T> Clone for Versions<T> {
    fn clone(&self) -> Self {
        Self {
            current: Arc::clone(&self.current),
            previous: self.previous.clone(),
        }
    }
}

impl<T> Versions<T> {
    /// The current value first: what a verifier tries, in order.
    pub fn each(&self) -> impl Iterator<Item = &T> {
        std::iter::once(self.current.as_ref()).chain(self.previous.as_deref())
    }
}

/// The unsubscribe key as the notifier (signs) and orders-api (verifies) hold it.
pub type UnsubscribeKeys = CachedSecret<UnsubscribeKey>;

pub fn unsubscribe_keys(source: Arc<dyn SecretSource>, secret_id: &str) -> UnsubscribeKeys {
    CachedSecret::new(source, secret_id, |raw| {
        UnsubscribeKey::new(raw).map_err(|e| e.to_string())
    })
}

type Decode<T> = Box<dyn Fn(&str) -> Result<T, String> + Send + Sync>;

enum Slot<T> {
    Empty,
    Loaded {
        versions: Versions<T>,
        read_again_at: Option<Instant>,
    },
    Failed {
        error: SecretError,
        read_again_at: Instant,
    },
}

/// One secret, decoded into what its user works with (a MAC key, a credentials map), read
/// on first use and again after [`SECRET_TTL`].
pub struct CachedSecret<T> {
    secret_id: String,
    source: Option<Arc<dyn SecretSource>>,
    decode: Decode<T>,
    ttl: Duration,
    // Held across the read: concurrent requests of a warm function share one read.
    slot: tokio::sync::Mutex<Slot<T>>,
}

impl<T> fmt::Debug for CachedSecret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSecret")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync> CachedSecret<T> {
    /// `decode` turns the secret's text into `T`, or says what is wrong with it.
    pub fn new(
        source: Arc<dyn SecretSource>,
        secret_id: impl Into<String>,
        decode: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            secret_id: secret_id.into(),
            source: Some(source),
            decode: Box::new(decode),
            ttl: SECRET_TTL,
            slot: tokio::sync::Mutex::new(Slot::Empty),
        }
    }

    /// A value that is never read from anywhere (handler tests, in-process runs).
    pub fn fixed(value: T) -> Self {
        Self {
            secret_id: "fixed".to_owned(),
            source: None,
            decode: Box::new(|_| Err("a fixed secret is never decoded".to_owned())),
            ttl: SECRET_TTL,
            slot: tokio::sync::Mutex::new(Slot::Loaded {
                versions: Versions {
                    current: Arc::new(value),
                    previous: None,
                },
                read_again_at: None,
            }),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The current value: what a signer signs with, what a store client sends.
    pub async fn current(&self) -> Result<Arc<T>, SecretError> {
        Ok(self.versions().await?.current)
    }

    /// The current value and, after a rotation, the previous one.
    pub async fn versions(&self) -> Result<Versions<T>, SecretError> {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        match &*slot {
            Slot::Loaded {
                versions,
                read_again_at,
            } if read_again_at.is_none_or(|at| now < at) => return Ok(versions.clone()),
            Slot::Failed {
                error,
                read_again_at,
            } if now < *read_again_at => return Err(error.clone()),
            _ => {}
        }
        // A fixed secret is loaded and never expires, so it always returned above.
        let Some(source) = &self.source else {
            return Err(SecretError::Unreadable {
                secret_id: self.secret_id.clone(),
                reason: "a fixed secret has nowhere to be read from".to_owned(),
            });
        };
        let fresh = source
            .read(&self.secret_id)
            .await
            .map_err(|e| SecretError::Unreadable {
                secret_id: self.secret_id.clone(),
                reason: format!("{e:#}"),
            })
            .and_then(|text| self.decoded(text));
        match fresh {
            Ok(versions) => {
                *slot = Slot::Loaded {
                    versions: versions.clone(),
                    read_again_at: Some(now + self.ttl),
                };
                Ok(versions)
            }
            Err(error) => {
                let retry_at = now + RETRY_AFTER_FAILURE;
                if let Slot::Loaded { versions, .. } = &*slot {
                    tracing::warn!(secret_id = %self.secret_id, %error, "keeping the value read before");
                    let versions = versions.clone();
                    *slot = Slot::Loaded {
                        versions: versions.clone(),
                        read_again_at: Some(retry_at),
                    };
                    return Ok(versions);
                }
                tracing::error!(secret_id = %self.secret_id, %error, "secret unavailable");
                *slot = Slot::Failed {
                    error: error.clone(),
                    read_again_at: retry_at,
                };
                Err(error)
            }
        }
    }

    /// Drops the value held, so the next use reads the secret again: for a credential a
    /// store has just refused, which may have been rotated since it was read.
    pub async fn forget(&self) {
        if self.source.is_some() {
            *self.slot.lock().await = Slot::Empty;
        }
    }

    fn decoded(&self, text: SecretText) -> Result<Versions<T>, SecretError> {
        let current = (self.decode)(&text.current).map_err(|reason| SecretError::Unusable {
            secret_id: self.secret_id.clone(),
            reason,
        })?;
        // A previous value that no longer decodes (the format changed with the rotation)
        // is simply not accepted any more; the current one is what matters.
        let previous = text.previous.and_then(|raw| match (self.decode)(&raw) {
            Ok(value) => Some(Arc::new(value)),
            Err(reason) => {
                tracing::warn!(secret_id = %self.secret_id, %reason, "previous version ignored");
                None
            }
        });
        Ok(Versions {
            current: Arc::new(current),
            previous,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    /// Answers with whatever the test last set, counting reads.
    #[derive(Default)]
    struct Scripted {
        answer: Mutex<Option<Result<SecretText, String>>>,
        reads: AtomicUsize,
    }

    impl Scripted {
        fn set(&self, current: &str, previous: Option<&str>) {
            *self.answer.lock().unwrap() = Some(Ok(SecretText {
                current: current.to_owned(),
                previous: previous.map(str::to_owned),
            }));
        }

        fn fail(&self, why: &str) {
            *self.answer.lock().unwrap() = Some(Err(why.to_owned()));
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    impl SecretSource for Scripted {
        fn read<'a>(&'a self, _: &'a str) -> BoxFuture<'a, anyhow::Result<SecretText>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone().expect("scripted");
            Box::pin(async move { answer.map_err(anyhow::Error::msg) })
        }
    }

    fn number(raw: &str) -> Result<u32, String> {
        raw.parse().map_err(|_| format!("{raw:?} is not a number"))
    }

    fn cached(source: &Arc<Scripted>) -> CachedSecret<u32> {
        CachedSecret::new(source.clone(), "arn:secret:key", number)
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_read_before_first_use_then_once_per_ttl() {
        let source = Arc::new(Scripted::default());
        source.set("1", None);
        let secret = cached(&source);
        assert_eq!(source.reads(), 0);

        assert_eq!(*secret.current().await.unwrap(), 1);
        source.set("2", Some("1"));
        tokio::time::advance(SECRET_TTL - Duration::from_secs(1)).await;
        assert_eq!(*secret.current().await.unwrap(), 1, "kept within the TTL");
        assert_eq!(source.reads(), 1);

        tokio::time::advance(Duration::from_secs(1)).await;
        let versions = secret.versions().await.unwrap();
        assert_eq!(versions.each().copied().collect::<Vec<_>>(), [2, 1]);
        assert_eq!(source.reads(), 2, "a rotation is picked up after the TTL");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_keeps_the_older_value_and_retries_soon() {
        let source = Arc::new(Scripted::default());
        source.set("7", None);
        let secret = cached(&source);
        secret.current().await.unwrap();

        source.fail("throttled");
        tokio::time::advance(SECRET_TTL).await;
        assert_eq!(*secret.current().await.unwrap(), 7);
        assert_eq!(*secret.current().await.unwrap(), 7);
        assert_eq!(source.reads(), 2, "no read per request while failing");

        source.set("8", None);
        tokio::time::advance(RETRY_AFTER_FAILURE).await;
        assert_eq!(*secret.current().await.unwrap(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn without_an_older_value_the_failure_is_reported_and_remembered() {
        let source = Arc::new(Scripted::default());
        source.fail("AccessDenied");
        let secret = cached(&source);
        let error = secret.current().await.unwrap_err();
        assert!(
            matches!(&error, SecretError::Unreadable { reason, .. } if reason.contains("AccessDenied")),
            "{error}"
        );
        assert_eq!(secret.current().await.unwrap_err(), error);
        assert_eq!(source.reads(), 1);

        source.set("3", None);
        tokio::time::advance(RETRY_AFTER_FAILURE).await;
        assert_eq!(*secret.current().await.unwrap(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_current_value_that_does_not_decode_is_unusable_a_previous_one_is_dropped() {
        let source = Arc::new(Scripted::default());
        source.set("not a number", Some("4"));
        let secret = cached(&source);
        assert!(matches!(
            secret.current().await.unwrap_err(),
            SecretError::Unusable { reason, .. } if reason.contains("not a number")
        ));

        source.set("5", Some("garbled"));
        tokio::time::advance(RETRY_AFTER_FAILURE).await;
        let versions = secret.versions().await.unwrap();
        assert_eq!(versions.each().copied().collect::<Vec<_>>(), [5]);
    }

    #[tokio::test(start_paused = true)]
    async fn forget_reads_again_on_next_use() {
        let source = Arc::new(Scripted::default());
        source.set("1", None);
        let secret = cached(&source);
        secret.current().await.unwrap();
        source.set("2", Some("1"));
        secret.forget().await;
        assert_eq!(*secret.current().await.unwrap(), 2);
        assert_eq!(source.reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_secret_never_expires() {
        let secret = CachedSecret::fixed(9_u32);
        tokio::time::advance(SECRET_TTL * 10).await;
        secret.forget().await;
        assert_eq!(*secret.current().await.unwrap(), 9);
    }
}
