//! `platform-sync`: tracking pushed back to the store an order came from (Shopify, Amazon).
//!
//! One function, two triggers, told apart by the payload:
//!
//! 1. **The table's DynamoDB stream.** Every change is a timeline event item, so the
//!    stream is the outbox: a `label_created` or `handoff` event inserted on a Shopify or
//!    Amazon order becomes a sync job on `StoreSyncQueue`. Nothing is sent to a store from
//!    the request path that recorded the event, and nothing recorded is missed: a batch
//!    that fails to enqueue is retried from the failed record.
//! 2. **`StoreSyncQueue`.** Each job is pushed to its store: lease the sync record,
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
pub mod amazon_orders;
pub mod config;
pub mod credentials;
pub mod lwa;
pub mod push;
pub mod shopify;

use std::future::Future;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use tracing::Instrument;
use tracking_aws::config::Env;
use tracking_aws::ports::{Orders, PollCursors, SyncRecords};
use tracking_aws::queues::EventSource;
use tracking_aws::secrets::SecretsManager;
use tracking_aws::store::sync::{timeline_event_from_image, SyncLease};
use tracking_aws::store::CreateOutcome;
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::connections::AmazonSeller;
use tracking_domain::order::{Order, OrderSource};
use tracking_domain::sync::{SyncKey, SyncStatus};

use crate::amazon::{AccessTokenProvider, AmazonClient};
use crate::amazon_orders::PollRequest;
use crate::push::{PushError, RetryAfter};
use crate::shopify::ShopifyClient;
use tracking_domain::sync::job::{is_tracking_event, job_for_event, parse_job, SyncJob, SyncKind};

/// How long a lease on a sync record holds. Longer than the function's timeout (30 s), so
/// a live worker never loses its lease mid-call; shorter than the queue's visibility
/// timeout (180 s), so the redelivery after a crashed worker can lease it again.
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

/// Where sync jobs wait, and where jobs that can never succeed go. The SQS adapter is
/// [`SyncQueues`].
pub trait SyncQueue: Send + Sync {
    fn enqueue(&self, job: &SyncJob) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// A job that can never succeed, kept with its reason and never retried.
    fn dead_letter(
        &self,
        body: &str,
        reason: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Hides a failed job for as long as its store asked, or a growing backoff.
    fn retry_later(
        &self,
        message: &SqsMessage,
        error: &anyhow::Error,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
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
}

impl SyncQueue for SyncQueues {
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

    /// Keeps a failed job out of sight for as long as its store asked (`Retry-After`), or
    /// a growing backoff: a throttled store is not hammered by SQS's fixed redelivery, and
    /// the job is kept, not dropped.
    async fn retry_later(&self, message: &SqsMessage, error: &anyhow::Error) -> anyhow::Result<()> {
        let Some(receipt) = message.receipt_handle.as_deref() else {
            return Ok(());
        };
        // anyhow finds a context value at any depth of the chain.
        let asked = error
            .downcast_ref::<RetryAfter>()
            .map(|wait| i32::try_from(wait.seconds).unwrap_or(i32::MAX));
        let wait = asked.unwrap_or_else(|| {
            tracking_aws::queues::backoff_seconds(tracking_aws::queues::receive_count(message))
        });
        tracking_aws::queues::retry_later(&self.sqs, &self.queue_url, receipt, wait).await
    }
}

/// What an Amazon order poll took in.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PollReport {
    pub created: usize,
    /// Seen before (an overlap, a rerun, an update of an order we have).
    pub already_known: usize,
    /// Orders Amazon listed without what an order needs (logged by Amazon order id).
    pub unusable: usize,
}

impl PollReport {
    fn add(&mut self, other: &PollReport) {
        self.created += other.created;
        self.already_known += other.already_known;
        self.unusable += other.unusable;
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

/// The handler, over any store that keeps orders, sync records and poll cursors:
/// DynamoDB when deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct PlatformSync<T, S = OrderStore, Q = SyncQueues> {
    store: S,
    queues: Q,
    shopify: ShopifyClient,
    amazon: AmazonClient<T>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Stream,
    Queue,
    Empty,
    AmazonOrderPoll,
}

/// The key of the scheduled Amazon order poll's input.
pub const AMAZON_ORDER_POLL: &str = "amazon_order_poll";

fn trigger(payload: &serde_json::Value) -> anyhow::Result<Trigger> {
    if payload.get(AMAZON_ORDER_POLL).is_some() {
        return Ok(Trigger::AmazonOrderPoll);
    }
    Ok(match tracking_aws::queues::event_source(payload)? {
        EventSource::Stream => Trigger::Stream,
        EventSource::Queue => Trigger::Queue,
        EventSource::Empty => Trigger::Empty,
    })
}

impl PlatformSync<lwa::SellerTokens> {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`
    /// and the local runner both build it here, so the two cannot drift.
    /// Store credentials are named here and read on the first push.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        let sync_config = config::SyncConfig::from_lookup(env)?;
        let http = push::http_client()?;
        let credentials = sync_config.credentials(SecretsManager::from_sdk(sdk));
        let tokens =
            lwa::SellerTokens::new(http.clone(), sync_config.lwa.clone(), credentials.clone());
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            SyncQueues::new(
                aws_sdk_sqs::Client::new(sdk),
                &sync_config.queue_url,
                &sync_config.dead_letter_url,
            ),
            ShopifyClient::new(http.clone(), sync_config.shopify.clone(), credentials),
            AmazonClient::new(http, sync_config.amazon.clone(), tokens),
        ))
    }
}

impl<T: AccessTokenProvider, S: Orders + SyncRecords + PollCursors, Q: SyncQueue>
    PlatformSync<T, S, Q>
{
    pub fn new(store: S, queues: Q, shopify: ShopifyClient, amazon: AmazonClient<T>) -> Self {
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
                serde_json::to_value(Box::pin(self.handle_stream(event)).await?)?
            }
            Trigger::Queue => {
                let event: SqsEvent =
                    serde_json::from_value(payload).context("read the SQS event")?;
                serde_json::to_value(Box::pin(self.handle_jobs(event, now)).await?)?
            }
            Trigger::AmazonOrderPoll => {
                let request: PollRequest =
                    serde_json::from_value(payload[AMAZON_ORDER_POLL].clone())
                        .context("read the Amazon order poll input")?;
                // Boxed like the batches' items: each branch's future is deep, and the
                // Lambda runtime's future around them hits rustc's layout recursion limit.
                let report =
                    Box::pin(self.poll_amazon_orders(request.scheduled_time.unwrap_or(now)))
                        .await?;
                serde_json::to_value(report)?
            }
        };
        Ok(response)
    }

    /// Takes in every connected seller's new orders (see [`amazon_orders`]). One seller's
    /// failure does not stop the others; the run fails at the end so the schedule's retry
    /// polls again, which the cursors and idempotent intake make harmless.
    pub async fn poll_amazon_orders(&self, now: DateTime<Utc>) -> anyhow::Result<PollReport> {
        let sellers: Vec<_> = self.amazon.sellers().collect();
        let results = join_all(
            sellers
                .iter()
                .map(|(merchant_id, seller)| self.poll_seller(merchant_id, seller, now)),
        )
        .await;
        let mut report = PollReport::default();
        let mut failed = Vec::new();
        for ((merchant_id, _), result) in sellers.iter().zip(results) {
            match result {
                Ok(seller_report) => report.add(&seller_report),
                Err(error) => {
                    tracing::error!(merchant_id, error = ?error, "Amazon order poll failed");
                    failed.push(*merchant_id);
                }
            }
        }
        tracing::info!(
            created = report.created,
            already_known = report.already_known,
            unusable = report.unusable,
            "Amazon orders polled"
        );
        if failed.is_empty() {
            Ok(report)
        } else {
            anyhow::bail!("the Amazon order poll failed for {}", failed.join(", "))
        }
    }

    async fn poll_seller(
        &self,
        merchant_id: &str,
        seller: &AmazonSeller,
        now: DateTime<Utc>,
    ) -> anyhow::Result<PollReport> {
        let span = tracing::info_span!("amazon_poll", merchant_id, seller_id = %seller.seller_id);
        async {
            let cursor = self.store.poll_cursor("amazon", merchant_id).await?;
            let after = amazon_orders::read_from(cursor.as_ref().map(|c| c.changed_after), now);
            let orders = self
                .amazon
                .orders_to_ship(merchant_id, seller, after)
                .await
                .map_err(|e| match e {
                    PushError::Retryable(cause) => cause,
                    PushError::Rejected(reason) => anyhow::anyhow!(reason),
                })?;
            let mut report = PollReport::default();
            for amazon_order in orders {
                let amazon_order_id = amazon_order.amazon_order_id.clone();
                match amazon_order.into_new_order() {
                    Ok(details) => {
                        let order = Order::new(merchant_id, details, now);
                        match self.store.create_order(order).await? {
                            CreateOutcome::Created(order) => {
                                tracing::info!(order_id = %order.order_id, %amazon_order_id, "Amazon order taken in");
                                report.created += 1;
                            }
                            CreateOutcome::AlreadyExists(_) | CreateOutcome::Conflict(_) => {
                                report.already_known += 1;
                            }
                        }
                    }
                    Err(errors) => {
                        // Retrying cannot add what Amazon did not send; the order shows up
                        // in the log by its id for a person to create by hand.
                        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                        tracing::warn!(%amazon_order_id, ?fields, "Amazon order cannot be taken in");
                        report.unusable += 1;
                    }
                }
            }
            if !self
                .store
                .advance_poll_cursor("amazon", merchant_id, cursor.as_ref(), now)
                .await?
            {
                tracing::warn!("another poll moved the cursor first; it read the same orders");
            }
            Ok(report)
        }
        .instrument(span)
        .await
    }

    /// Turns inserted label and hand-off events of store orders into sync jobs. A record
    /// that fails is reported by sequence number; Lambda retries from there, and jobs sent
    /// twice that way are harmless (the sync record makes the second a no-op).
    pub async fn handle_stream(&self, event: StreamEvent) -> anyhow::Result<DynamoDbEventResponse> {
        tracking_aws::batches::stream_batch(&event.records, |record| async move {
            self.handle_record(record).await.map(|_| ())
        })
        .await
    }

    pub async fn handle_record(&self, record: &EventRecord) -> anyhow::Result<RecordOutcome> {
        if record.event_name != "INSERT" {
            return Ok(RecordOutcome::Ignored("not an insert"));
        }
        let Some(streamed) = timeline_event_from_image(record.change.new_image.clone())? else {
            return Ok(RecordOutcome::Ignored("not a timeline event"));
        };
        // Decided before the read: most events are scans, and they cost nothing here.
        if !is_tracking_event(&streamed.event) {
            return Ok(RecordOutcome::Ignored("not a label or hand-off event"));
        }
        let span = tracing::info_span!("stream_record", order_id = %streamed.order_id, event_id = %streamed.event.event_id);
        async {
            let Some(order) = self.store.get_order(&streamed.order_id).await? else {
                tracing::warn!("timeline event of an order that does not exist");
                return Ok(RecordOutcome::Ignored("order not found"));
            };
            match job_for_event(&order.order, &streamed.event) {
                // Feeds repeat the final-mile number on every scan after the hand-off; one
                // read of the sync record here saves a queued job that would do nothing.
                Ok(job)
                    if job.kind == SyncKind::Handoff
                        && self
                            .store
                            .sync_record(&job.key())
                            .await?
                            .is_some_and(|record| record.status == SyncStatus::Sent) =>
                {
                    Ok(RecordOutcome::Ignored("hand-off already synced"))
                }
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
        tracking_aws::batches::sqs_batch(
            &event.records,
            |_| None,
            |message| async move { self.handle_message(message, now).await.map(|_| ()) },
            |message, error| async move {
                let id = message.message_id.as_deref().unwrap_or_default();
                tracing::warn!(message_id = %id, error = format!("{error:#}"), "sync job will be retried");
                if let Err(visibility) = self.queues.retry_later(message, &error).await {
                    // SQS still redelivers after the visibility timeout; only the wait is lost.
                    tracing::warn!(error = ?visibility, "could not set the retry delay");
                }
            },
        )
        .await
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
                .lease_sync(&key, now, Duration::seconds(SYNC_LEASE_SECONDS))
                .await?
            {
                SyncLease::Acquired(record) => {
                    tracing::info!(attempt = record.attempts, "pushing tracking to the store");
                }
                SyncLease::AlreadySent(record) => {
                    tracing::info!(sent_at = ?record.sent_at, "already sent: nothing to do");
                    return Ok(JobOutcome::AlreadySent);
                }
                SyncLease::HeldElsewhere(record) => {
                    anyhow::bail!(
                        "another delivery of this sync holds it until {}",
                        record.lease_until
                    );
                }
            }
            // A label and the void that takes it back may be worked on in either order:
            // each looks at the other's record, so the store ends without a voided number.
            // A label pushed before packages had ids is recorded without its package.
            let counterpart = |label: Option<String>| SyncKey {
                withdraws: !key.withdraws,
                label,
                ..key.clone()
            };
            let others = match job.kind {
                SyncKind::Handoff => Vec::new(),
                SyncKind::Label => vec![counterpart(key.label.clone())],
                SyncKind::Void => {
                    let mut others = vec![counterpart(key.label.clone())];
                    if key.label.is_some() {
                        others.push(counterpart(None));
                    }
                    others
                }
            };
            let mut other_states = Vec::new();
            for other in &others {
                other_states.push(self.store.sync_record(other).await?.map(|r| r.status));
            }
            let other_sent = other_states.contains(&Some(SyncStatus::Sent));
            match job.kind {
                SyncKind::Void if other_sent => {}
                SyncKind::Void if other_states.iter().any(Option::is_some) => {
                    let reason = "the label's own push has not finished; the withdrawal waits for it";
                    self.store.mark_sync_failed(&key, reason, now).await?;
                    anyhow::bail!(reason);
                }
                SyncKind::Void => {
                    tracing::info!("the store was never told this label: nothing to take back");
                    self.store.mark_sync_sent(&key, None, now).await?;
                    return Ok(JobOutcome::Sent(Pushed::already_there(None)));
                }
                SyncKind::Label if other_sent => {
                    tracing::info!("the label was voided or replaced before it reached the store: not pushing it");
                    self.store.mark_sync_sent(&key, None, now).await?;
                    return Ok(JobOutcome::Sent(Pushed::already_there(None)));
                }
                _ => {}
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
                    // A relabel's push took the old number's place: a late push of the
                    // old label finds it taken back and stays away.
                    if let Some(replaced) = job.replaced_key() {
                        let lease = Duration::seconds(SYNC_LEASE_SECONDS);
                        if let SyncLease::Acquired(_) =
                            self.store.lease_sync(&replaced, now, lease).await?
                        {
                            self.store.mark_sync_sent(&replaced, None, now).await?;
                        }
                    }
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
    use tracking_domain::timeline::EventType;

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
        assert_eq!(
            trigger(&json!({"amazon_order_poll": {"scheduled_time": "2026-12-01T12:00:00Z"}}))
                .unwrap(),
            Trigger::AmazonOrderPoll
        );
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
