//! `scan-ingest`: the carrier feed queue into order timelines.
//!
//! Delivery is at least once and in any order, so every step is idempotent: the event
//! write is conditional on its identity, a hand-off claim is conditional on its order,
//! and the order is re-derived from its whole timeline and written at the version read.
//! A redelivered message replays the steps and changes nothing that is already there.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use tracing::Instrument;
use tracking_aws::config::{required, Env};
use tracking_aws::ports::{Orders, Timelines, TrackingNumbers};
use tracking_aws::store::optimistic::{until_won, Try};
use tracking_aws::store::{StoreError, TrackingRef};
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::feed::{FeedError, Scan};
use tracking_domain::timeline::TimelineEvent;

/// Where messages that can never succeed go, with the reason, at once: retrying a
/// malformed message only delays the batch and hides the problem.
pub trait DeadLetters: Send + Sync {
    fn send(&self, body: &str, reason: &str) -> impl Future<Output = anyhow::Result<()>> + Send;
}

pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl DeadLetters for SqsDeadLetters {
    async fn send(&self, body: &str, reason: &str) -> anyhow::Result<()> {
        tracking_aws::queues::send_dead_letter(&self.client, &self.queue_url, body, reason).await
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new event on the timeline (the order was refreshed if it changed).
    Recorded,
    /// The scan was already on the timeline.
    Duplicate,
    /// The message can never succeed and was moved to the dead-letter queue.
    DeadLettered(String),
    /// The scan's date cannot be true for this parcel (see [`Scan::check_received_at`],
    /// [`Scan::check_label`]); nothing was written. A message's handler dead-letters it.
    Refused(FeedError),
}

#[derive(Debug, thiserror::Error)]
pub enum RetryableError {
    /// The label upload may be moments behind the carrier's first scan.
    #[error("no order has {carrier} tracking number {tracking_number} (yet)")]
    UnknownTrackingNumber {
        carrier: String,
        tracking_number: String,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for RetryableError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Contention => Self::Unexpected(anyhow::anyhow!(
                "order kept changing under concurrent writers"
            )),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

/// The handler, over any store that keeps orders, timelines and tracking numbers:
/// DynamoDB when deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct ScanIngest<D, S = OrderStore> {
    store: S,
    dead_letters: D,
}

impl ScanIngest<SqsDeadLetters> {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`,
    /// the tests and the local runner all build it here, so they cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            SqsDeadLetters::new(
                aws_sdk_sqs::Client::new(sdk),
                required(env, "CARRIER_FEED_DLQ_URL")?,
            ),
        ))
    }
}

impl<D: DeadLetters, S: Orders + Timelines + TrackingNumbers> ScanIngest<D, S> {
    pub fn new(store: S, dead_letters: D) -> Self {
        Self {
            store,
            dead_letters,
        }
    }

    /// The same handler over another store: the integration tests build the function as
    /// deployed and swap in a store that counts its requests.
    pub fn with_store<T: Orders + Timelines + TrackingNumbers>(self, store: T) -> ScanIngest<D, T> {
        ScanIngest {
            store,
            dead_letters: self.dead_letters,
        }
    }

    /// Processes a batch concurrently and reports only the messages to retry. A message
    /// without an id cannot be reported alone, so it fails the invocation: SQS then
    /// retries the whole batch, and every step being idempotent makes that safe.
    pub async fn handle(
        &self,
        event: SqsEvent,
        now: DateTime<Utc>,
    ) -> Result<SqsBatchResponse, anyhow::Error> {
        // Every message on its own: scans of one parcel may be handled at once, the
        // order's version settles who wins.
        tracking_aws::batches::sqs_batch(
            &event.records,
            |_| None,
            |message| async move { self.handle_message(message, now).await.map(|_| ()) },
            |message, error| async move {
                let id = message.message_id.as_deref().unwrap_or_default();
                match &error {
                    RetryableError::UnknownTrackingNumber { .. } => {
                        tracing::warn!(message_id = %id, %error, "will retry")
                    }
                    RetryableError::Unexpected(cause) => {
                        tracing::error!(message_id = %id, error = ?cause, "will retry")
                    }
                }
            },
        )
        .await
    }

    async fn handle_message(
        &self,
        message: &SqsMessage,
        now: DateTime<Utc>,
    ) -> Result<Outcome, RetryableError> {
        let span = tracing::info_span!(
            "message",
            message_id = message.message_id.as_deref().unwrap_or("")
        );
        async {
            let body = message.body.as_deref().unwrap_or("");
            let refused = match Scan::parse_body(body) {
                Err(reason) => {
                    tracing::warn!(%reason, "malformed carrier message: dead-lettering");
                    reason
                }
                Ok(scan) => match self.ingest(&scan, now).await? {
                    Outcome::Refused(reason) => {
                        tracing::warn!(%reason, "implausible scan date: dead-lettering");
                        reason
                    }
                    outcome => return Ok(outcome),
                },
            };
            let reason = refused.to_string();
            self.dead_letters.send(body, &reason).await?;
            Ok(Outcome::DeadLettered(reason))
        }
        .instrument(span)
        .await
    }

    /// Records one scan on its order's timeline, unless its date cannot be true: then
    /// nothing is written and the outcome is [`Outcome::Refused`].
    pub async fn ingest(&self, scan: &Scan, now: DateTime<Utc>) -> Result<Outcome, RetryableError> {
        // Before the lookup: a scan from the future is refused even for a number nobody has yet.
        if let Err(reason) = scan.check_received_at(now) {
            return Ok(Outcome::Refused(reason));
        }
        let target = self
            .store
            .order_for_tracking(scan.carrier.as_str(), &scan.tracking_number)
            .await?
            .ok_or_else(|| RetryableError::UnknownTrackingNumber {
                carrier: scan.carrier.as_str().to_owned(),
                tracking_number: scan.tracking_number.clone(),
            })?;
        let span = tracing::info_span!("scan", order_id = %target.order_id, tracking_number = %scan.tracking_number, code = scan.code.as_str());
        async {
            let label_created_at = self.label_created_at(&target).await?;
            if let Some(Err(reason)) = label_created_at.map(|at| scan.check_label(at)) {
                return Ok(Outcome::Refused(reason));
            }
            if let Some(Err(reason)) = target.scans_from.map(|at| scan.check_reused_number(at)) {
                return Ok(Outcome::Refused(reason));
            }
            // A hand-off number claimed below inherits the label's time.
            let target = TrackingRef {
                label_created_at,
                ..target
            };
            // The row names its package, so the package's status is its own scans'.
            let event = TimelineEvent {
                shipment_id: target.shipment_id.clone(),
                ..scan.to_event(now)
            };
            let inserted = self.store.put_event(&target.order_id, event).await?;
            if let Some((carrier, number)) = &scan.handoff {
                self.claim_handoff(carrier.as_str(), number, &target)
                    .await?;
            }
            // Also on a duplicate: if an earlier delivery died between writing the event and
            // the order, this finishes its work; otherwise it reads and writes nothing.
            self.refresh_order(&target.order_id, now).await?;
            Ok(if inserted {
                Outcome::Recorded
            } else {
                Outcome::Duplicate
            })
        }
        .instrument(span)
        .await
    }

    /// The tracking item carries its label's time, so judging a scan against it costs no
    /// request. Items written before it did cost one GetItem of the order.
    async fn label_created_at(
        &self,
        target: &TrackingRef,
    ) -> Result<Option<DateTime<Utc>>, RetryableError> {
        if let Some(at) = target.label_created_at {
            return Ok(Some(at));
        }
        let order = self.store.get_order(&target.order_id).await?;
        Ok(order.and_then(|read| {
            let order = read.order;
            match target.shipment_id.as_deref() {
                Some(id) => order.shipment(id).map(|s| s.label_created_at),
                // Items without a package id were written for an order's only package.
                None => order.shipments.first().map(|s| s.label_created_at),
            }
        }))
    }

    async fn claim_handoff(
        &self,
        carrier: &str,
        number: &str,
        target: &TrackingRef,
    ) -> Result<(), RetryableError> {
        if !self.store.claim_tracking(carrier, number, target).await? {
            // The timeline still shows the hand-off; only the number's own scans cannot be routed.
            tracing::error!(
                carrier,
                tracking_number = number,
                "hand-off number already belongs to another order"
            );
        }
        Ok(())
    }

    async fn refresh_order(
        &self,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RetryableError> {
        until_won(|| async move {
            let Some(current) = self.store.order_with_timeline(order_id).await? else {
                return Err(
                    anyhow::anyhow!("tracking number points at missing order {order_id}").into(),
                );
            };
            let Some(updated) = current.order.refreshed_from(&current.timeline, now) else {
                return Ok(Try::Done(()));
            };
            let written = Try::of(
                self.store
                    .put_order_at_version(&updated, current.version)
                    .await,
            )?;
            if written == Try::Done(()) {
                tracing::info!(
                    shipment_status = updated.shipment_status.as_str(),
                    "order refreshed"
                );
            }
            Ok(written)
        })
        .await
    }
}
