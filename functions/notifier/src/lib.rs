//! `notifier`: team emails through SES, fed by the table's DynamoDB stream.
//!
//! Every notifiable thing is a timeline event item, written by the function that made it
//! happen in the same write as the change itself; those items are the outbox. The stream
//! hands each new one to this function (the event source's filter keeps INSERTs of
//! `EVENT#` items; anything else that gets here is ignored), which reads the order's
//! partition once (order, timeline, the order's subscribers), adds the merchant-wide
//! subscribers (one more Query), decides whether the event is worth an email
//! ([`notice`]) and emails each subscriber once.
//!
//! At most one email per event and mailbox: before sending, a delivery record is claimed
//! with a conditional write (`pending`), and confirmed `sent` after SES accepts the
//! message. A redelivered stream record finds `sent` and skips. Finding `pending` means
//! an earlier attempt died between claiming and confirming; it is sent again, so the
//! one window for a duplicate is a crash between SES accepting a message and the
//! confirming write (milliseconds), which is at-least-once rather than never.
//!
//! Records of a shard are handled in order; the first one that fails is reported with
//! its sequence number, and Lambda retries from there (records after it come again
//! too, and find their deliveries already `sent`).

pub mod config;
pub mod notice;
pub mod render;
#[cfg(feature = "ses")]
pub mod ses;
pub mod unsubscribe;

use std::collections::HashMap;
use std::future::Future;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use tracing::Instrument;
use tracking_aws::store::subscriptions::{
    outbox_event, DeliveryClaim, DeliveryKey, NotificationContext, OutboxEvent,
};
use tracking_aws::store::StoreError;
use tracking_aws::OrderStore;
use tracking_domain::email::EmailAddress;

use crate::config::NotifierConfig;
use crate::notice::{notice_for, recipients, Notice, Recipient};
use crate::render::{email_view, render, Inputs};
use crate::unsubscribe::{unsubscribe_url, Unsubscribe};

/// One email, ready for the mail service. Built only from typed values: the recipient is
/// a strictly parsed address and the subject a single line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: throttling, a network fault, an outage.
    #[error("sending failed, will retry: {0:#}")]
    Retryable(anyhow::Error),
    /// This email will never be accepted; trying again would only block the stream.
    #[error("the email was refused: {0:#}")]
    Rejected(anyhow::Error),
}

/// Where emails go out. The SES adapter is [`ses::SesMailer`].
pub trait Mailer: Send + Sync {
    /// Returns the mail service's message id.
    fn send(&self, email: &OutgoingEmail)
        -> impl Future<Output = Result<String, SendError>> + Send;
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
    Delivered(DeliveryReport),
}

/// Per event: emails sent now, and recipients skipped because an earlier delivery of
/// the same record already mailed them (or SES refused them for good).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub already_sent: usize,
    pub refused: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Sent,
    AlreadySent,
    Refused,
}

pub struct Notifier<M> {
    store: OrderStore,
    mailer: M,
    config: NotifierConfig,
}

impl<M: Mailer> Notifier<M> {
    pub fn new(store: OrderStore, mailer: M, config: NotifierConfig) -> Self {
        Self {
            store,
            mailer,
            config,
        }
    }

    /// Handles a batch in order and reports the first failed record, from which Lambda
    /// retries. A failed record without a sequence number cannot be reported alone, so it
    /// fails the invocation (the whole batch comes again, which is safe).
    pub async fn handle(
        &self,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<DynamoDbEventResponse, anyhow::Error> {
        let mut response = DynamoDbEventResponse::default();
        for record in &event.records {
            // Boxed: the record's future nests deep enough to overflow rustc's layout
            // recursion limit inside the Lambda runtime's own future; one allocation per
            // record is nothing next to its network calls.
            if let Err(error) = Box::pin(self.handle_record(record, now)).await {
                let sequence_number = record
                    .change
                    .sequence_number
                    .clone()
                    .filter(|s| !s.is_empty())
                    .context("a failed stream record has no sequence number")?;
                tracing::error!(
                    event_id = %record.event_id,
                    sequence_number = %sequence_number,
                    error = ?error,
                    "stream record failed; it and the records after it will be retried"
                );
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number);
                response.batch_item_failures.push(failure);
                break;
            }
        }
        Ok(response)
    }

    /// One stream record. `Err` only for what a retry can fix.
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

    /// Emails every subscriber of the event's order once, if the event warrants it.
    pub async fn notify(
        &self,
        outbox: &OutboxEvent,
        now: DateTime<Utc>,
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
            let Some(notice) = notice_for(&outbox.event, &context.timeline) else {
                return Ok(RecordOutcome::NotNotifiable);
            };
            let merchant_wide = self
                .store
                .merchant_subscriptions(&context.order.merchant_id)
                .await
                .map_err(unexpected)?;
            let recipients = recipients(&context.order, &context.subscriptions, &merchant_wide);
            let results = join_all(
                recipients
                    .iter()
                    .map(|recipient| self.deliver(outbox, &context, &notice, recipient, now)),
            )
            .await;
            let mut report = DeliveryReport::default();
            let mut retry = None;
            for result in results {
                match result {
                    Ok(Delivery::Sent) => report.sent += 1,
                    Ok(Delivery::AlreadySent) => report.already_sent += 1,
                    Ok(Delivery::Refused) => report.refused += 1,
                    Err(error) => retry = Some(error),
                }
            }
            tracing::info!(
                sent = report.sent,
                already_sent = report.already_sent,
                refused = report.refused,
                "event notified"
            );
            match retry {
                // Whatever was sent is recorded; the retry only sends what is left.
                Some(error) => Err(error),
                None => Ok(RecordOutcome::Delivered(report)),
            }
        }
        .instrument(span)
        .await
    }

    async fn deliver(
        &self,
        outbox: &OutboxEvent,
        context: &NotificationContext,
        notice: &Notice,
        recipient: &Recipient,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Delivery> {
        let key = DeliveryKey {
            order_id: &outbox.order_id,
            event_id: &outbox.event.event_id,
            recipient: &recipient.canonical,
        };
        match self
            .store
            .claim_delivery(key, now)
            .await
            .map_err(unexpected)?
        {
            DeliveryClaim::AlreadySent => return Ok(Delivery::AlreadySent),
            DeliveryClaim::GaveUp => return Ok(Delivery::Refused),
            DeliveryClaim::Claimed { attempt } if attempt > 1 => {
                tracing::warn!(
                    attempt,
                    "an earlier attempt claimed this email and never confirmed it: sending again"
                );
            }
            DeliveryClaim::Claimed { .. } => {}
        }
        let email = self.compose(outbox, context, notice, recipient)?;
        match self.mailer.send(&email).await {
            Ok(message_id) => {
                self.store
                    .mark_delivery_sent(key, &message_id, now)
                    .await
                    .map_err(unexpected)?;
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
            Err(SendError::Retryable(error)) => Err(error),
        }
    }

    /// The email for one recipient: its unsubscribe link names the subscriptions that
    /// made it a recipient, so following the link stops exactly these emails.
    pub fn compose(
        &self,
        outbox: &OutboxEvent,
        context: &NotificationContext,
        notice: &Notice,
        recipient: &Recipient,
    ) -> anyhow::Result<OutgoingEmail> {
        let token = self.config.unsubscribe_key.sign(&Unsubscribe {
            merchant_id: context.order.merchant_id.clone(),
            order_id: context.order.order_id.clone(),
            email: recipient.address.clone(),
            scopes: recipient.scopes.iter().copied().collect(),
        });
        let view = email_view(Inputs {
            notice,
            outbox,
            order: &context.order,
            timeline: &context.timeline,
            recipient,
            unsubscribe_url: unsubscribe_url(&self.config.public_base_url, &token),
            origin_country: &self.config.origin_country,
        });
        let rendered = render(&view).context("render email")?;
        Ok(OutgoingEmail {
            to: recipient.address.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        })
    }
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

    /// A mailer that must never be reached.
    struct NoMail;

    impl Mailer for NoMail {
        async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
            panic!("no email was due, but one was sent: {email:?}")
        }
    }

    /// A store whose client has no endpoint it could reach: any request it made would
    /// fail the test, so these records are proven to be decided without I/O.
    fn offline_notifier() -> Notifier<NoMail> {
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let config = config::NotifierConfig::from_lookup(|name| {
            match name {
                "NOTIFY_SENDER" => Some("tracking@notify.example.com"),
                "PUBLIC_BASE_URL" => Some("https://api.example.com"),
                "UNSUBSCRIBE_SECRET" => Some("a-unit-test-secret-of-32-characters!"),
                _ => None,
            }
            .map(str::to_owned)
        })
        .unwrap();
        Notifier::new(OrderStore::new(client, "offline"), NoMail, config)
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
            .handle(
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
