//! `platform-sync`: tracking pushed back to the store an order came from (Shopify, Amazon).
//!
//! One function, two triggers, told apart by the payload:
//!
//! 1. **The table's DynamoDB stream.** Every change is a timeline event item, so the
//!    stream is the outbox: a `label_created` or `handoff` event inserted on a Shopify or
//!    Amazon order becomes a sync job on `StoreSyncQueue`. Nothing is sent to a store from
//!    the request path that recorded the event, and nothing recorded is missed: a batch
//!    that fails to enqueue is retried from the failed record.
//! 2. **`StoreSyncQueue`.** Each job is pushed to its store: claim the sync record,
//!    call the store, record the verdict. Store faults and throttling are reported as
//!    batch item failures, so SQS redelivers them and, after the queue's receive limit,
//!    moves them to `StoreSyncDeadLetterQueue`. A job the store refuses outright (unknown
//!    order, already fulfilled) goes to that queue at once with its reason.
//!
//! A sync is never sent twice for the same tracking: see `tracking_aws::store::sync` for
//! the record that makes the push conditional, and `shopify` / `amazon` for how each store
//! also recognises a push it already has. Manual, spreadsheet and API orders produce no
//! job at all; their details tell the merchant to share tracking themselves.

pub mod amazon;
pub mod config;
pub mod job;
pub mod lwa;
pub mod push;
pub mod shopify;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use tracing::Instrument;
use tracking_aws::store::sync::{timeline_event_from_image, ClaimOutcome};
use tracking_aws::OrderStore;
use tracking_domain::order::OrderSource;
use tracking_domain::timeline::EventType;

use crate::amazon::{AccessTokenProvider, AmazonClient};
use crate::job::{job_for_event, parse_job, SyncJob};
use crate::push::PushError;
use crate::shopify::ShopifyClient;

/// How long a claim on a sync record holds. Longer than the function's timeout (30 s), so
/// a live worker never loses its claim mid-call; shorter than the queue's visibility
/// timeout (180 s), so the redelivery after a crashed worker can claim again.
pub const SYNC_LEASE_SECONDS: i64 = 60;

/// What a store push achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The store's name for the result (a Shopify fulfillment gid, an Amazon package).
    pub remote_ref: Option<String>,
    /// The store had it already (an earlier attempt got through): nothing was sent.
    pub already_there: bool,
}

impl Pushed {
    pub fn sent(remote_ref: Option<String>) -> Self {
        Self {
            remote_ref,
            already_there: false,
        }
    }

    pub fn already_there(remote_ref: Option<String>) -> Self {
        Self {
            remote_ref,
            already_there: true,
        }
    }
}

/// The sync queue and its dead-letter queue.
pub struct SyncQueues {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_url: String,
}

impl SyncQueues {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        dead_letter_url: impl Into<String>,
    ) -> Self {
        Self {
            sqs,
            queue_url: queue_url.into(),
            dead_letter_url: dead_letter_url.into(),
        }
    }

    async fn enqueue(&self, job: &SyncJob) -> anyhow::Result<()> {
        let body = serde_json::to_string(job).context("serialize sync job")?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .context("send sync job")?;
        Ok(())
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> anyhow::Result<()> {
        tracking_aws::queues::send_dead_letter(&self.sqs, &self.dead_letter_url, body, reason).await
    }
}

/// What became of one stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Enqueued(Box<SyncJob>),
    Ignored(&'static str),
}

/// What became of one sync job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The store accepted the push (or already had it, from an attempt that died after).
    Sent(Pushed),
    /// The sync record says it was sent: nothing to do.
    AlreadySent,
    /// The job can never succeed as it is: moved to the dead-letter queue with this reason.
    DeadLettered(String),
}

pub struct PlatformSync<T> {
    store: OrderStore,
    queues: SyncQueues,
    shopify: ShopifyClient,
    amazon: AmazonClient<T>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Stream,
    Queue,
    Empty,
}

fn trigger(payload: &serde_json::Value) -> anyhow::Result<Trigger> {
    let Some(first) = payload
        .get("Records")
        .and_then(|r| r.as_array())
        .map(|records| records.first())
    else {
        anyhow::bail!("the event has no Records: neither a DynamoDB stream nor an SQS batch");
    };
    let source = first
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(|s| s.as_str());
    match (first, source) {
        (None, _) => Ok(Trigger::Empty),
        (Some(_), Some("aws:dynamodb")) => Ok(Trigger::Stream),
        (Some(_), Some("aws:sqs")) => Ok(Trigger::Queue),
        (Some(_), other) => anyhow::bail!("records from an unexpected source: {other:?}"),
    }
}

impl<T: AccessTokenProvider> PlatformSync<T> {
    pub fn new(
        store: OrderStore,
        queues: SyncQueues,
        shopify: ShopifyClient,
        amazon: AmazonClient<T>,
    ) -> Self {
        Self {
            store,
            queues,
            shopify,
            amazon,
        }
    }

    /// The Lambda entry point: a stream batch or a queue batch, answered with the
    /// `batchItemFailures` both event source mappings understand.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        now: DateTime<Utc>,
    ) -> anyhow::Result<serde_json::Value> {
        let response = match trigger(&payload)? {
            Trigger::Empty => serde_json::json!({ "batchItemFailures": [] }),
            Trigger::Stream => {
                let event: StreamEvent =
                    serde_json::from_value(payload).context("read the DynamoDB stream event")?;
                serde_json::to_value(self.handle_stream(event).await?)?
            }
            Trigger::Queue => {
                let event: SqsEvent =
                    serde_json::from_value(payload).context("read the SQS event")?;
                serde_json::to_value(self.handle_jobs(event, now).await?)?
            }
        };
        Ok(response)
    }

    /// Turns inserted label and hand-off events of store orders into sync jobs. A record
    /// that fails is reported by sequence number; Lambda retries from there, and jobs sent
    /// twice that way are harmless (the sync record makes the second a no-op).
    pub async fn handle_stream(&self, event: StreamEvent) -> anyhow::Result<DynamoDbEventResponse> {
        let results = join_all(event.records.iter().map(|r| self.handle_record(r))).await;
        let mut response = DynamoDbEventResponse::default();
        for (record, result) in event.records.iter().zip(results) {
            if let Err(error) = result {
                let sequence = record
                    .change
                    .sequence_number
                    .clone()
                    .filter(|s| !s.is_empty())
                    .context("a failed stream record has no sequence number")?;
                tracing::error!(sequence_number = %sequence, error = ?error, "stream record will be retried");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                response.batch_item_failures.push(failure);
            }
        }
        Ok(response)
    }

    pub async fn handle_record(&self, record: &EventRecord) -> anyhow::Result<RecordOutcome> {
        if record.event_name != "INSERT" {
            return Ok(RecordOutcome::Ignored("not an insert"));
        }
        let Some(streamed) = timeline_event_from_image(record.change.new_image.clone())? else {
            return Ok(RecordOutcome::Ignored("not a timeline event"));
        };
        // Decided before the read: most events are scans, and they cost nothing here.
        if !matches!(
            streamed.event.kind,
            EventType::LabelCreated | EventType::Handoff
        ) {
            return Ok(RecordOutcome::Ignored("not a label or hand-off event"));
        }
        let span = tracing::info_span!("stream_record", order_id = %streamed.order_id, event_id = %streamed.event.event_id);
        async {
            let Some(order) = self.store.get_order(&streamed.order_id).await? else {
                tracing::warn!("timeline event of an order that does not exist");
                return Ok(RecordOutcome::Ignored("order not found"));
            };
            match job_for_event(&order.order, &streamed.event) {
                Ok(job) => {
                    self.queues.enqueue(&job).await?;
                    tracing::info!(platform = job.platform.as_str(), tracking_number = %job.tracking.tracking_number, kind = ?job.kind, "sync job enqueued");
                    Ok(RecordOutcome::Enqueued(Box::new(job)))
                }
                Err(skip) => {
                    tracing::debug!(source = order.order.details.source.as_str(), reason = skip.as_str(), "no store sync");
                    Ok(RecordOutcome::Ignored(skip.as_str()))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Pushes each job of a batch concurrently and reports only the ones to retry. A
    /// message without an id cannot be reported alone, so it fails the whole invocation,
    /// which the sync records make safe to replay.
    pub async fn handle_jobs(
        &self,
        event: SqsEvent,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SqsBatchResponse> {
        let results = join_all(event.records.iter().map(|m| self.handle_message(m, now))).await;
        let mut response = SqsBatchResponse::default();
        for (message, result) in event.records.iter().zip(results) {
            if let Err(error) = result {
                let id = message
                    .message_id
                    .clone()
                    .filter(|id| !id.is_empty())
                    .context("a failed SQS message has no message id")?;
                tracing::warn!(message_id = %id, error = format!("{error:#}"), "sync job will be retried");
                response.add_failure(id);
            }
        }
        Ok(response)
    }

    async fn handle_message(
        &self,
        message: &SqsMessage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<JobOutcome> {
        let span = tracing::info_span!(
            "sync_job",
            message_id = message.message_id.as_deref().unwrap_or("")
        );
        async {
            let body = message.body.as_deref().unwrap_or("");
            match parse_job(body) {
                Ok(job) => self.sync(&job, body, now).await,
                Err(error) => {
                    let reason = error.to_string();
                    tracing::warn!(%reason, "not a sync job: dead-lettering");
                    self.queues.dead_letter(body, &reason).await?;
                    Ok(JobOutcome::DeadLettered(reason))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One push, at most once per store and tracking number. `Err` means "retry later".
    pub async fn sync(
        &self,
        job: &SyncJob,
        body: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<JobOutcome> {
        let span = tracing::info_span!("sync", order_id = %job.order_id, platform = job.platform.as_str(), kind = ?job.kind, tracking_number = %job.tracking.tracking_number);
        async {
            let key = job.key();
            match self
                .store
                .claim_sync(&key, now, Duration::seconds(SYNC_LEASE_SECONDS))
                .await?
            {
                ClaimOutcome::Claimed(record) => {
                    tracing::info!(attempt = record.attempts, "pushing tracking to the store");
                }
                ClaimOutcome::AlreadySent(record) => {
                    tracing::info!(sent_at = ?record.sent_at, "already sent: nothing to do");
                    return Ok(JobOutcome::AlreadySent);
                }
                ClaimOutcome::InFlight(record) => {
                    anyhow::bail!(
                        "another delivery of this sync holds it until {}",
                        record.lease_until
                    );
                }
            }
            let pushed = match job.platform {
                OrderSource::Shopify => self.shopify.push(job).await,
                OrderSource::Amazon => self.amazon.push(job).await,
                other => Err(PushError::rejected(format!(
                    "{} orders are not synced to a store",
                    other.as_str()
                ))),
            };
            match pushed {
                Ok(pushed) => {
                    self.store
                        .mark_sync_sent(&key, pushed.remote_ref.as_deref(), now)
                        .await?;
                    tracing::info!(remote_ref = ?pushed.remote_ref, already_there = pushed.already_there, "tracking synced");
                    Ok(JobOutcome::Sent(pushed))
                }
                Err(PushError::Retryable(cause)) => {
                    let reason = format!("{cause:#}");
                    if let Err(error) = self.store.mark_sync_failed(&key, &reason, now).await {
                        // The lease still runs out on its own; only the early release is lost.
                        tracing::error!(error = ?error, "could not record the failed attempt");
                    }
                    Err(cause.context("store push failed"))
                }
                Err(PushError::Rejected(reason)) => {
                    tracing::error!(%reason, "the store refused the sync: dead-lettering");
                    self.store.mark_sync_failed(&key, &reason, now).await?;
                    self.queues.dead_letter(body, &reason).await?;
                    Ok(JobOutcome::DeadLettered(reason))
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_shape_tells_the_trigger() {
        let stream: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/platform-sync/stream-label-created.json"
        ))
        .unwrap();
        assert_eq!(trigger(&stream).unwrap(), Trigger::Stream);
        let queue: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/platform-sync/sync-job.json"))
                .unwrap();
        assert_eq!(trigger(&queue).unwrap(), Trigger::Queue);
        assert_eq!(trigger(&json!({"Records": []})).unwrap(), Trigger::Empty);
        assert!(trigger(&json!({"detail-type": "Scheduled Event"})).is_err());
        assert!(trigger(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_err());
    }

    #[test]
    fn sample_events_parse_as_what_they_stand_for() {
        let stream: StreamEvent = serde_json::from_str(include_str!(
            "../../../events/platform-sync/stream-label-created.json"
        ))
        .unwrap();
        let image = stream.records[0].change.new_image.clone();
        let streamed = timeline_event_from_image(image).unwrap().unwrap();
        assert_eq!(streamed.event.kind, EventType::LabelCreated);
        let queue: SqsEvent =
            serde_json::from_str(include_str!("../../../events/platform-sync/sync-job.json"))
                .unwrap();
        let job = parse_job(queue.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(job.platform, OrderSource::Shopify);
        assert_eq!(job.order_id, streamed.order_id);
    }
}
