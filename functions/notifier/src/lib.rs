//! `notifier`: team emails through SES, fed by the table's DynamoDB stream.
//!
//! Every notifiable thing is a timeline event item, written by the function that made it
//! happen in the same write as the change itself; those items are the outbox. The function
//! has two triggers, told apart by the payload:
//!
//! 1. **The table's stream.** Each new event item (the event source's filter keeps INSERTs
//!    of `EVENT#` items; anything else that gets here is ignored) is judged once: the
//!    order's partition is read (order, timeline, the order's subscribers), the
//!    merchant-wide subscribers are added (one more Query), [`notice`] decides whether the
//!    event is worth an email, and each recipient's email is rendered and put on
//!    `EmailQueue` as one job. Nothing here talks to SES, so SES throttling, an outage or
//!    one bad address cannot hold up the stream shard, and so cannot delay another
//!    merchant's events or send them to a dead-letter queue.
//! 2. **`EmailQueue`.** Each job is one email to one mailbox: its delivery record is leased
//!    with a conditional write, the email is sent, the record is confirmed `sent`. A send
//!    that fails and can succeed later is retried alone, with a backoff that doubles from
//!    30 s (the job's visibility is set to it), and after the queue's receive limit the job
//!    waits in `EmailDeadLetterQueue`; an address SES refuses for good is recorded `failed`.
//!
//! At most one email per event and mailbox: a job finding its delivery `sent` (a replayed
//! stream record, a redelivered job) does nothing. A delivery `pending` under another
//! sender's lease is left to it (the job comes back after the lease); only a lease that ran
//! out unconfirmed is taken over and sent again, so the one window for a duplicate is a
//! sender dying between SES accepting a message and the confirming write.
//!
//! Fan-out is bounded: an order has at most [`MAX_ORDER_SUBSCRIPTIONS`] subscriptions
//! and a merchant [`MAX_MERCHANT_SUBSCRIPTIONS`] merchant-wide ones (orders-api refuses
//! more; [`notice::recipients`] also takes no more than that), so one event is at most 35
//! jobs.

pub mod config;
pub mod notice;
pub mod render;
pub mod ses;

use std::collections::HashMap;
use std::future::Future;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracking_aws::config::{required, Env};
use tracking_aws::ports::{Deliveries, Subscriptions};
use tracking_aws::queues::EventSource;
use tracking_aws::secrets::SecretsManager;
use tracking_aws::store::subscriptions::{
    outbox_event, DeliveryKey, DeliveryLease, NotificationContext, OutboxEvent,
};
use tracking_aws::store::StoreError;
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::email::EmailAddress;
pub use tracking_domain::email::{MAX_MERCHANT_SUBSCRIPTIONS, MAX_ORDER_SUBSCRIPTIONS};

use crate::config::NotifierConfig;
use crate::notice::{notice_for, recipients, Notice, Recipient};
use crate::render::{email_view, render, Inputs};
use tracking_domain::unsubscribe::{unsubscribe_url, Unsubscribe, UnsubscribeKey};

/// How long a sender holds a delivery. Longer than the notifier's timeout (60 s), so
/// a live sender never loses its lease mid-send; shorter than the queue's visibility
/// timeout (360 s), so the job's redelivery after a dead sender can take it over.
pub const DELIVERY_LEASE_SECONDS: i64 = 90;

/// Rounds of the SDK's retries a sent email's confirmation gets before the job fails.
const CONFIRM_ATTEMPTS: usize = 4;

/// Version of the job body, so a sender can refuse a shape it does not know.
pub const JOB_VERSION: u32 = 1;

/// One email, ready for the mail service. Built only from typed values: the recipient is
/// a strictly parsed address and the subject a single line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The signed link in the body, also offered to mail clients as `List-Unsubscribe`
    /// (RFC 8058 one-click: they POST to it).
    pub unsubscribe_url: String,
}

/// One email to one mailbox, as an `EmailQueue` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub version: u32,
    pub order_id: String,
    pub event_id: String,
    /// The canonical mailbox: the delivery record's key.
    pub recipient: String,
    pub email: OutgoingEmail,
}

impl DeliveryJob {
    fn key(&self) -> DeliveryKey<'_> {
        DeliveryKey {
            order_id: &self.order_id,
            event_id: &self.event_id,
            recipient: &self.recipient,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: throttling, a network fault, an outage.
    #[error("sending failed, will retry: {0:#}")]
    Retryable(anyhow::Error),
    /// This email will never be accepted; trying again would be refused again.
    #[error("the email was refused: {0:#}")]
    Rejected(anyhow::Error),
}

/// Where emails go out. The SES adapter is [`ses::SesMailer`].
pub trait Mailer: Send + Sync {
    /// Returns the mail service's message id.
    fn send(&self, email: &OutgoingEmail)
        -> impl Future<Output = Result<String, SendError>> + Send;
}

/// Where delivery jobs wait. The SQS adapter is [`SqsDeliveryQueue`].
pub trait DeliveryQueue: Send + Sync {
    fn enqueue(&self, jobs: &[DeliveryJob]) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// A message that is not a job: kept with its reason, never retried.
    fn dead_letter(
        &self,
        body: &str,
        reason: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Hides a failed job for its backoff before it is handed out again.
    fn retry_later(&self, message: &SqsMessage) -> impl Future<Output = anyhow::Result<()>> + Send;
}

pub struct SqsDeliveryQueue {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_url: String,
}

impl SqsDeliveryQueue {
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

    /// `EMAIL_QUEUE_URL` and `EMAIL_DLQ_URL`, as template.yaml sets them.
    pub fn from_lookup(sqs: aws_sdk_sqs::Client, env: Env) -> anyhow::Result<Self> {
        Ok(Self::new(
            sqs,
            required(env, "EMAIL_QUEUE_URL")?,
            required(env, "EMAIL_DLQ_URL")?,
        ))
    }
}

impl DeliveryQueue for SqsDeliveryQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob]) -> anyhow::Result<()> {
        let bodies = jobs
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .context("serialize delivery jobs")?;
        tracking_aws::queues::send_all(&self.sqs, &self.queue_url, &bodies).await
    }

    async fn dead_letter(&self, body: &str, reason: &str) -> anyhow::Result<()> {
        tracking_aws::queues::send_dead_letter(&self.sqs, &self.dead_letter_url, body, reason).await
    }

    async fn retry_later(&self, message: &SqsMessage) -> anyhow::Result<()> {
        let Some(receipt) = message.receipt_handle.as_deref() else {
            return Ok(());
        };
        let wait =
            tracking_aws::queues::backoff_seconds(tracking_aws::queues::receive_count(message));
        tracking_aws::queues::retry_later(&self.sqs, &self.queue_url, receipt, wait).await
    }
}

/// What became of one stream record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Not an insert of a timeline event.
    Ignored,
    /// A timeline event no email is due for (e.g. a scan that repeats the status).
    NotNotifiable,
    /// The event's item or its order cannot be read, now or ever; logged as an error.
    Unreadable,
    /// One delivery job per recipient was queued (none when nobody is subscribed).
    Enqueued(usize),
}

/// What became of one delivery job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// An earlier delivery of the same job (or record) mailed it already.
    AlreadySent,
    /// SES refused this email for good; recorded as failed.
    Refused,
    /// Not a job: moved to the dead-letter queue with this reason.
    DeadLettered(String),
}

/// The handler, over any store that keeps subscriptions and deliveries: DynamoDB when
/// deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct Notifier<M, Q, S = OrderStore> {
    store: S,
    mailer: M,
    queue: Q,
    config: NotifierConfig,
}

impl Notifier<ses::SesMailer, SqsDeliveryQueue> {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`
    /// and the local runner both build it here, so the two cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        let notify = NotifierConfig::from_lookup(env, SecretsManager::from_sdk(sdk))?;
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            ses::SesMailer::new(aws_sdk_sesv2::Client::new(sdk), &notify.sender),
            SqsDeliveryQueue::from_lookup(aws_sdk_sqs::Client::new(sdk), env)?,
            notify,
        ))
    }
}

impl<M: Mailer, Q: DeliveryQueue, S: Subscriptions + Deliveries> Notifier<M, Q, S> {
    pub fn new(store: S, mailer: M, queue: Q, config: NotifierConfig) -> Self {
        Self {
            store,
            mailer,
            queue,
            config,
        }
    }

    /// The Lambda entry point: a stream batch or a queue batch, answered with the
    /// `batchItemFailures` both event source mappings understand.
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        now: DateTime<Utc>,
    ) -> anyhow::Result<serde_json::Value> {
        Ok(match tracking_aws::queues::event_source(&payload)? {
            EventSource::Empty => serde_json::json!({ "batchItemFailures": [] }),
            EventSource::Stream => {
                let event: Event =
                    serde_json::from_value(payload).context("read the DynamoDB stream event")?;
                serde_json::to_value(Box::pin(self.handle_stream(event, now)).await?)?
            }
            EventSource::Queue => {
                let event: SqsEvent =
                    serde_json::from_value(payload).context("read the SQS event")?;
                // Boxed: each branch's future is deep, and the Lambda runtime's future around
                // it would hit rustc's layout recursion limit.
                serde_json::to_value(Box::pin(self.handle_jobs(event, now)).await?)?
            }
        })
    }

    /// Handles a stream batch in order and reports the first failed record, from which
    /// Lambda retries. A failed record without a sequence number cannot be reported alone,
    /// so it fails the invocation (the whole batch comes again, which is safe).
    pub async fn handle_stream(
        &self,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<DynamoDbEventResponse, anyhow::Error> {
        tracking_aws::batches::stream_batch(&event.records, |record| async move {
            // Boxed: the record's future nests deep enough to overflow rustc's layout
            // recursion limit inside the Lambda runtime's own future; one allocation per
            // record is nothing next to its network calls.
            Box::pin(self.handle_record(record, now)).await.map(|_| ())
        })
        .await
    }

    /// One stream record. `Err` only for what a retry can fix (a read or the enqueue).
    pub async fn handle_record(
        &self,
        record: &EventRecord,
        now: DateTime<Utc>,
    ) -> anyhow::Result<RecordOutcome> {
        let span = tracing::info_span!(
            "record",
            event_id = %record.event_id,
            sequence_number = record.change.sequence_number.as_deref().unwrap_or("")
        );
        async {
            if record.event_name != "INSERT" {
                return Ok(RecordOutcome::Ignored);
            }
            let image: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
            match outbox_event(image) {
                Ok(Some(outbox)) => self.notify(&outbox, now).await,
                Ok(None) => Ok(RecordOutcome::Ignored),
                Err(error) => {
                    tracing::error!(error = ?error, "unreadable timeline event item: skipped");
                    Ok(RecordOutcome::Unreadable)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Queues one email per subscriber of the event's order, if the event warrants it.
    pub async fn notify(
        &self,
        outbox: &OutboxEvent,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<RecordOutcome> {
        let span = tracing::info_span!("event", order_id = %outbox.order_id, timeline_event = %outbox.event.event_id, kind = ?outbox.event.kind);
        async {
            let Some(mut context) = self
                .store
                .notification_context(&outbox.order_id)
                .await
                .map_err(unexpected)?
            else {
                tracing::error!("timeline event of a missing order: skipped");
                return Ok(RecordOutcome::Unreadable);
            };
            // Read after the event's own write, so it is there; inserting is a no-op then
            // and keeps the decision right even if it were not.
            context.timeline.insert(outbox.event.clone());
            // A scan is news or not within its own package: another package's later
            // scans neither hide nor repeat it.
            let (_, rows) = context
                .order
                .package_context(&outbox.event, &context.timeline);
            let Some(notice) = notice_for(&outbox.event, &rows) else {
                return Ok(RecordOutcome::NotNotifiable);
            };
            let merchant_wide = self
                .store
                .merchant_subscriptions(&context.order.merchant_id)
                .await
                .map_err(unexpected)?;
            let recipients = recipients(&context.order, &context.subscriptions, &merchant_wide);
            if recipients.is_empty() {
                tracing::info!(emails = 0, "event notified");
                return Ok(RecordOutcome::Enqueued(0));
            }
            // Unavailable key: the record fails and the stream retries it, as for any
            // other dependency that is down; no email goes out without its link.
            let key = self.config.unsubscribe_keys.current().await?;
            let jobs = recipients
                .iter()
                .map(|recipient| {
                    Ok(DeliveryJob {
                        version: JOB_VERSION,
                        order_id: outbox.order_id.clone(),
                        event_id: outbox.event.event_id.clone(),
                        recipient: recipient.canonical.clone(),
                        email: self.compose(&key, outbox, &context, &notice, recipient)?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            self.queue.enqueue(&jobs).await?;
            tracing::info!(emails = jobs.len(), "event notified");
            Ok(RecordOutcome::Enqueued(jobs.len()))
        }
        .instrument(span)
        .await
    }

    /// Sends a queue batch and reports only the jobs to retry, each hidden for its backoff
    /// first. Mailboxes are served concurrently, each one's emails one after another in
    /// queue order, so a person reads "labeled" before "picked up" when both come in one
    /// batch. A message without an id cannot be reported alone, so it fails the whole
    /// invocation, which the delivery records make safe.
    pub async fn handle_jobs(
        &self,
        event: SqsEvent,
        now: DateTime<Utc>,
    ) -> anyhow::Result<SqsBatchResponse> {
        tracking_aws::batches::sqs_batch(
            &event.records,
            |message| {
                parse_job(message.body.as_deref().unwrap_or(""))
                    .ok()
                    .map(|job| job.recipient)
            },
            |message| async move { self.handle_job(message, now).await.map(|_| ()) },
            |message, error| async move {
                let id = message.message_id.as_deref().unwrap_or_default();
                tracing::warn!(message_id = %id, error = format!("{error:#}"), "email will be retried");
                if let Err(visibility) = self.queue.retry_later(message).await {
                    // SQS still redelivers after the visibility timeout; only the wait is lost.
                    tracing::warn!(error = ?visibility, "could not set the retry delay");
                }
            },
        )
        .await
    }

    async fn handle_job(
        &self,
        message: &SqsMessage,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Delivery> {
        let span = tracing::info_span!(
            "email",
            message_id = message.message_id.as_deref().unwrap_or("")
        );
        async {
            let body = message.body.as_deref().unwrap_or("");
            match parse_job(body) {
                Ok(job) => self.deliver(&job, now).await,
                Err(reason) => {
                    tracing::warn!(%reason, "not a delivery job: dead-lettering");
                    self.queue.dead_letter(body, &reason).await?;
                    Ok(Delivery::DeadLettered(reason))
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One email, at most once per event and mailbox. `Err` means "retry later".
    pub async fn deliver(&self, job: &DeliveryJob, now: DateTime<Utc>) -> anyhow::Result<Delivery> {
        let key = job.key();
        let span = tracing::info_span!("delivery", order_id = %job.order_id, timeline_event = %job.event_id);
        async {
            match self
                .store
                .lease_delivery(key, now, Duration::seconds(DELIVERY_LEASE_SECONDS))
                .await
                .map_err(unexpected)?
            {
                DeliveryLease::AlreadySent => return Ok(Delivery::AlreadySent),
                DeliveryLease::GaveUp => return Ok(Delivery::Refused),
                DeliveryLease::HeldElsewhere => {
                    anyhow::bail!("another sender holds this email's lease; it comes back after it")
                }
                DeliveryLease::Acquired { attempt } if attempt > 1 => {
                    tracing::warn!(
                        attempt,
                        "an earlier sender's lease ran out unconfirmed: sending again"
                    );
                }
                DeliveryLease::Acquired { .. } => {}
            }
            match self.mailer.send(&job.email).await {
                Ok(message_id) => {
                    // Losing this write would send the email again once the lease ran
                    // out, so it gets further, spaced attempts beyond the SDK's own.
                    let mut confirmed = self.store.mark_delivery_sent(key, &message_id, now).await;
                    for attempt in 1..CONFIRM_ATTEMPTS {
                        if confirmed.is_ok() {
                            break;
                        }
                        tracking_aws::store::backoff(attempt).await;
                        confirmed = self.store.mark_delivery_sent(key, &message_id, now).await;
                    }
                    confirmed.map_err(unexpected)?;
                    Ok(Delivery::Sent)
                }
                Err(SendError::Rejected(error)) => {
                    tracing::error!(error = ?error, "email refused for good; recorded as failed");
                    self.store
                        .mark_delivery_failed(key, &format!("{error:#}"), now)
                        .await
                        .map_err(unexpected)?;
                    Ok(Delivery::Refused)
                }
                Err(SendError::Retryable(error)) => {
                    // Nothing was sent: the retry need not wait the lease out.
                    if let Err(release) = self.store.release_delivery(key, now).await {
                        tracing::warn!(error = ?release, "could not release the lease early");
                    }
                    Err(error)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// The email for one recipient: its unsubscribe link names the subscriptions that
    /// made it a recipient, so following it stops exactly these emails.
    pub fn compose(
        &self,
        key: &UnsubscribeKey,
        outbox: &OutboxEvent,
        context: &NotificationContext,
        notice: &Notice,
        recipient: &Recipient,
    ) -> anyhow::Result<OutgoingEmail> {
        let token = key.sign(&Unsubscribe {
            merchant_id: context.order.merchant_id.clone(),
            order_id: context.order.order_id.clone(),
            email: recipient.address.clone(),
            scopes: recipient.scopes.iter().copied().collect(),
        });
        let unsubscribe_url = unsubscribe_url(&self.config.public_base_url, &token);
        let view = email_view(Inputs {
            notice,
            outbox,
            order: &context.order,
            timeline: &context.timeline,
            recipient,
            unsubscribe_url: unsubscribe_url.clone(),
            origin_country: &self.config.origin_country,
        });
        let rendered = render(&view).context("render email")?;
        Ok(OutgoingEmail {
            to: recipient.address.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            unsubscribe_url,
        })
    }
}

/// A queue message as a job, or why it is not one.
pub fn parse_job(body: &str) -> Result<DeliveryJob, String> {
    let job: DeliveryJob = serde_json::from_str(body)
        .map_err(|e| format!("the message is not a delivery job: {e}"))?;
    if job.version != JOB_VERSION {
        return Err(format!(
            "delivery job version {} is not supported (expected {JOB_VERSION})",
            job.version
        ));
    }
    Ok(job)
}

fn unexpected(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Contention => anyhow::anyhow!("store contention"),
        StoreError::Unexpected(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM_INSERT: &str = include_str!("../../../events/notifier/stream-insert.json");
    const EMAIL_JOB: &str = include_str!("../../../events/notifier/email-job.json");

    #[test]
    fn sample_stream_event_parses_into_a_timeline_event() {
        let event: Event = serde_json::from_str(STREAM_INSERT).unwrap();
        let record = &event.records[0];
        assert_eq!(record.event_name, "INSERT");
        assert!(record.change.sequence_number.is_some());
        let image: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
        let outbox = outbox_event(image).unwrap().unwrap();
        assert_eq!(outbox.order_id, "ord_5kq2h7x4c9m1v8b3n6z0");
        assert_eq!(outbox.event.code, "OUT_FOR_DELIVERY");
        assert_eq!(
            outbox.event.status,
            Some(tracking_domain::status::ShipmentStatus::OutForDelivery)
        );
        assert_eq!(
            outbox.event.location.as_ref().map(|l| l.display()),
            Some("Austin, TX 78701 US".to_owned())
        );
    }

    #[test]
    fn sample_email_job_parses_and_foreign_shapes_are_refused() {
        let event: SqsEvent = serde_json::from_str(EMAIL_JOB).unwrap();
        let job = parse_job(event.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(job.recipient, "ops@merchant.example");
        assert!(job.email.unsubscribe_url.contains("/unsubscribe?token="));
        let mut newer = serde_json::to_value(&job).unwrap();
        newer["version"] = 2.into();
        assert!(parse_job(&newer.to_string())
            .unwrap_err()
            .contains("version 2"));
        assert!(parse_job("{\"order_id\": 1}").is_err());
        let payload: serde_json::Value = serde_json::from_str(EMAIL_JOB).unwrap();
        assert_eq!(
            tracking_aws::queues::event_source(&payload).unwrap(),
            EventSource::Queue
        );
    }

    /// A mailer that must never be reached.
    struct NoMail;

    impl Mailer for NoMail {
        async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
            panic!("no email was due, but one was sent: {email:?}")
        }
    }

    /// A queue that must never be reached.
    struct NoQueue;

    impl DeliveryQueue for NoQueue {
        async fn enqueue(&self, jobs: &[DeliveryJob]) -> anyhow::Result<()> {
            panic!("no email was due, but jobs were queued: {jobs:?}")
        }

        async fn dead_letter(&self, body: &str, _reason: &str) -> anyhow::Result<()> {
            panic!("nothing was to be dead-lettered: {body}")
        }

        async fn retry_later(&self, _message: &SqsMessage) -> anyhow::Result<()> {
            panic!("nothing was to be retried")
        }
    }

    /// An empty store: these records are decided without reading anything.
    fn offline_notifier() -> Notifier<NoMail, NoQueue, tracking_aws::memory::MemoryStore> {
        let config = config::NotifierConfig::from_lookup(
            |name| {
                match name {
                    "NOTIFY_SENDER" => Some("tracking@notify.example.com"),
                    "PUBLIC_BASE_URL" => Some("https://api.example.com"),
                    "UNSUBSCRIBE_KEY_SECRET_ARN" => Some("arn:unsubscribe"),
                    _ => None,
                }
                .map(str::to_owned)
            },
            tracking_aws::secrets::FixedSecrets::new([(
                "arn:unsubscribe",
                "a-unit-test-secret-of-32-characters!",
                None,
            )]),
        )
        .unwrap();
        Notifier::new(
            tracking_aws::memory::MemoryStore::new(),
            NoMail,
            NoQueue,
            config,
        )
    }

    fn record_with(name: &str, sk: &str, extra: serde_json::Value) -> EventRecord {
        let mut image = serde_json::json!({"pk": {"S": "ORDER#o1"}, "sk": {"S": sk}});
        if let (Some(image), Some(extra)) = (image.as_object_mut(), extra.as_object()) {
            image.extend(extra.clone());
        }
        serde_json::from_value(serde_json::json!({
            "eventID": "1", "eventName": name, "awsRegion": "us-east-1",
            "dynamodb": {"Keys": {"pk": {"S": "ORDER#o1"}, "sk": {"S": sk}}, "NewImage": image,
                         "SequenceNumber": "100", "SizeBytes": 10}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn only_inserts_of_event_items_are_looked_at() {
        let notifier = offline_notifier();
        let now = chrono::Utc::now();
        let modify = record_with("MODIFY", "EVENT#e1", serde_json::json!({}));
        let remove = record_with("REMOVE", "EVENT#e1", serde_json::json!({}));
        let order = record_with("INSERT", "ORDER", serde_json::json!({}));
        let subscription = record_with("INSERT", "SUB#ops@merchant.example", serde_json::json!({}));
        for record in [modify, remove, order, subscription] {
            assert_eq!(
                notifier.handle_record(&record, now).await.unwrap(),
                RecordOutcome::Ignored,
                "{record:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_event_item_is_skipped_not_retried_forever() {
        let notifier = offline_notifier();
        let broken = record_with(
            "INSERT",
            "EVENT#e1",
            serde_json::json!({"type": {"S": "teleported"}}),
        );
        let response = notifier
            .handle_stream(
                crate::tests::event_of(vec![broken.clone()]),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            notifier
                .handle_record(&broken, chrono::Utc::now())
                .await
                .unwrap(),
            RecordOutcome::Unreadable
        );
    }

    /// A mailer refusing one mailbox for now, and a queue recording what is retried.
    struct ThrottledFor(&'static str);

    impl Mailer for ThrottledFor {
        async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
            if email.to.as_str() == self.0 {
                Err(SendError::Retryable(anyhow::anyhow!("throttled")))
            } else {
                Ok("id".into())
            }
        }
    }

    #[derive(Default)]
    struct RetryLog(std::sync::Mutex<Vec<String>>);

    impl DeliveryQueue for RetryLog {
        async fn enqueue(&self, _jobs: &[DeliveryJob]) -> anyhow::Result<()> {
            Ok(())
        }

        async fn dead_letter(&self, _body: &str, _reason: &str) -> anyhow::Result<()> {
            Ok(())
        }

        async fn retry_later(&self, message: &SqsMessage) -> anyhow::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(message.message_id.clone().unwrap_or_default());
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_job_that_cannot_be_read_is_dead_lettered_and_a_failed_one_is_put_off() {
        let notifier = offline_notifier();
        let notifier = Notifier {
            store: notifier.store,
            mailer: ThrottledFor("ops@merchant.example"),
            queue: RetryLog::default(),
            config: notifier.config,
        };
        let mut event: SqsEvent = serde_json::from_str(EMAIL_JOB).unwrap();
        event.records[0].body = Some("not a job".into());
        event.records[0].message_id = Some("m-1".into());
        let response = notifier
            .handle_jobs(event, chrono::Utc::now())
            .await
            .unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "a non-job is never retried"
        );
        // A job whose delivery record cannot be reached (the offline store) is retried
        // later, and put off first.
        let mut event: SqsEvent = serde_json::from_str(EMAIL_JOB).unwrap();
        event.records[0].message_id = Some("m-2".into());
        let response = notifier
            .handle_jobs(event, chrono::Utc::now())
            .await
            .unwrap();
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m-2"]);
        assert_eq!(*notifier.queue.0.lock().unwrap(), ["m-2"]);
    }

    fn event_of(records: Vec<EventRecord>) -> Event {
        let mut event = Event::default();
        event.records = records;
        event
    }

    #[test]
    fn sample_claim_event_carries_the_claim_for_the_email() {
        let event: Event = serde_json::from_str(STREAM_INSERT).unwrap();
        let image: HashMap<String, AttributeValue> =
            event.records[1].change.new_image.clone().into();
        let outbox = outbox_event(image).unwrap().unwrap();
        let claim = outbox.claim.unwrap();
        assert_eq!(
            claim.claim_type,
            tracking_domain::claims::ClaimType::Damaged
        );
        assert_eq!(claim.carrier_reference.as_deref(), Some("USPS-DMG-4471"));
    }
}
