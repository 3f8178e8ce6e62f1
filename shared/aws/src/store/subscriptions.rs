//! Subscriptions and notification delivery records (notifier).
//!
//! | item                       | pk                            | sk                             |
//! |----------------------------|-------------------------------|--------------------------------|
//! | order subscription         | `ORDER#{order_id}`            | `SUB#{canonical email}`        |
//! | merchant-wide subscription | `MERCHANT#{merchant_id}#SUBS` | `SUB#{canonical email}`        |
//! | delivery record            | `DELIVERY#{order_id}`         | `{event_id}#{canonical email}` |
//!
//! An order's subscriptions share its partition, so the one Query the notifier needs for
//! an email's content (order and timeline) also returns who to send it to; merchant-wide
//! subscribers are one more Query. Keys use the canonical mailbox (case folded, `+tag`
//! dropped), so two spellings of one inbox are one subscription and one email.
//!
//! Delivery records live in a partition of their own rather than beside the order: the
//! order's partition is read on every scan and every details page, and would otherwise
//! grow by events x subscribers. None of these items carry index keys, so no list or
//! sweep ever sees them, and the notifier's stream filter (`sk` begins with `EVENT#`)
//! never wakes up for them.
//!
//! The timeline event items written by the other functions are the notification outbox:
//! [`outbox_event`] reads one back from a stream image.

use crate::ports::{Deliveries, Subscriptions};
use std::collections::HashMap;

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tracking_domain::claims::ClaimType;
use tracking_domain::email::EmailAddress;
use tracking_domain::order::Order;
use tracking_domain::subscriptions::Subscription;
use tracking_domain::timeline::{Timeline, TimelineEvent};

use super::{from_item, order_pk, to_item, EventItem, OrderStore, StoreError};

/// Delivery records only have to outlive the stream's 24-hour retention, during which a
/// record can be redelivered; a month leaves room to investigate a complaint.
const DELIVERY_RECORD_DAYS: i64 = 30;

/// Where a subscription is stored: beside its order, or in its merchant's partition.
pub(crate) fn subscription_key(subscription: &Subscription) -> (String, String) {
    let partition = match &subscription.order_id {
        Some(order_id) => order_pk(order_id),
        None => merchant_subscriptions_pk(&subscription.merchant_id),
    };
    (partition, subscription_sk(&subscription.email.canonical()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubscriptionItem {
    pk: String,
    sk: String,
    canonical_email: String,
    #[serde(flatten)]
    subscription: Subscription,
}

impl SubscriptionItem {
    fn new(subscription: Subscription) -> Self {
        let (pk, sk) = subscription_key(&subscription);
        Self {
            pk,
            sk,
            canonical_email: subscription.email.canonical(),
            subscription,
        }
    }
}

pub(crate) fn merchant_subscriptions_pk(merchant_id: &str) -> String {
    format!("MERCHANT#{merchant_id}#SUBS")
}

fn subscription_sk(canonical_email: &str) -> String {
    format!("SUB#{canonical_email}")
}

const SUBSCRIPTION_PREFIX: &str = "SUB#";

pub(crate) fn is_subscription_key(sk: &str) -> bool {
    sk.starts_with(SUBSCRIPTION_PREFIX)
}

pub(crate) fn subscription_from_item(
    item: HashMap<String, AttributeValue>,
) -> Result<Subscription, StoreError> {
    Ok(from_item::<SubscriptionItem>(item)?.subscription)
}

#[derive(Debug)]
pub enum SubscribeOutcome {
    Created(Subscription),
    /// The mailbox was already subscribed (perhaps spelled differently): nothing written.
    AlreadySubscribed(Subscription),
}

/// What the notifier needs for one order's email: the order, its timeline and its own
/// subscribers, read in one Query.
#[derive(Debug, Clone)]
pub struct NotificationContext {
    pub order: Order,
    pub timeline: Timeline,
    pub subscriptions: Vec<Subscription>,
}

/// A claim's details as the claim transaction puts them on its timeline event item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutboxClaim {
    pub claim_id: String,
    #[serde(rename = "type")]
    pub claim_type: ClaimType,
    pub description: String,
    #[serde(default)]
    pub carrier_reference: Option<String>,
}

/// A timeline event item read back from the table's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub order_id: String,
    pub event: TimelineEvent,
    pub claim: Option<OutboxClaim>,
}

#[derive(Debug, Deserialize)]
struct OutboxItem {
    #[serde(flatten)]
    item: EventItem,
    #[serde(default)]
    claim: Option<OutboxClaim>,
}

/// Whether an item key is a timeline event's: the only items that can need an email.
pub fn is_event_key(sk: &str) -> bool {
    sk.starts_with("EVENT#")
}

/// The timeline event an item image holds; `Ok(None)` for any other kind of item.
pub fn outbox_event(
    image: HashMap<String, AttributeValue>,
) -> Result<Option<OutboxEvent>, StoreError> {
    let is_event = matches!(image.get("sk"), Some(AttributeValue::S(sk)) if is_event_key(sk));
    if !is_event {
        return Ok(None);
    }
    let OutboxItem { item, claim } = from_item(image)?;
    let order_id = item
        .pk
        .strip_prefix("ORDER#")
        .with_context(|| format!("event item under unexpected partition {:?}", item.pk))?
        .to_owned();
    Ok(Some(OutboxEvent {
        order_id,
        event: item.event,
        claim,
    }))
}

/// Identifies one email: one event, one mailbox.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryKey<'a> {
    pub order_id: &'a str,
    pub event_id: &'a str,
    /// The canonical mailbox.
    pub recipient: &'a str,
}

impl DeliveryKey<'_> {
    fn pk(&self) -> String {
        format!("DELIVERY#{}", self.order_id)
    }

    fn sk(&self) -> String {
        format!("{}#{}", self.event_id, self.recipient)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Leased by a sender that has not confirmed the send (yet, or ever: it may have died).
    Pending,
    Sent,
    /// SES refused this message for good; retrying would be refused again.
    Failed,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// What leasing a delivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryLease {
    /// Ours to send until the lease ends. `attempt` > 1 means an earlier attempt held it
    /// and its lease ran out unconfirmed: it may or may not have sent (the at-least-once
    /// window).
    Acquired {
        attempt: u32,
    },
    /// Another sender holds it and its lease has not run out: it may be sending right
    /// now, so taking over could send the email twice. Try again after the lease.
    HeldElsewhere,
    AlreadySent,
    GaveUp,
}

impl OrderStore {
    async fn query_subscriptions(
        &self,
        partition: String,
    ) -> Result<Vec<Subscription>, StoreError> {
        let mut subscriptions = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :sub)")
                .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                .expression_attribute_values(
                    ":sub",
                    AttributeValue::S(SUBSCRIPTION_PREFIX.to_owned()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .context("query subscriptions")?;
            for item in output.items.unwrap_or_default() {
                subscriptions.push(from_item::<SubscriptionItem>(item)?.subscription);
            }
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(subscriptions);
            }
        }
    }

    async fn delete_subscription(&self, pk: String, sk: String) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .context("delete subscription")?;
        Ok(output.attributes.is_some_and(|old| !old.is_empty()))
    }

    async fn finish_delivery(
        &self,
        key: DeliveryKey<'_>,
        state: DeliveryState,
        detail_name: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.pk()))
            .key("sk", AttributeValue::S(key.sk()))
            .update_expression("SET #state = :state, finished_at = :now, #detail = :detail")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#detail", detail_name)
            .expression_attribute_values(":state", AttributeValue::S(state.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::S(super::timestamp(now)))
            .expression_attribute_values(":detail", AttributeValue::S(detail.to_owned()))
            .send()
            .await
            .context("finish delivery")?;
        Ok(())
    }
}

impl Subscriptions for OrderStore {
    /// Subscribes a mailbox once: a conditional put on its canonical key, so a retry,
    /// another spelling of the same inbox or a concurrent copy all find the first one.
    async fn subscribe(&self, subscription: Subscription) -> Result<SubscribeOutcome, StoreError> {
        let item = to_item(&SubscriptionItem::new(subscription.clone()))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SubscribeOutcome::Created(subscription)),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let existing = match e.into_err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                    _ => None,
                }
                .context("conditional check failure returned no existing subscription")?;
                let existing: SubscriptionItem = from_item(existing)?;
                Ok(SubscribeOutcome::AlreadySubscribed(existing.subscription))
            }
            Err(e) => Err(anyhow!(e).context("put subscription").into()),
        }
    }

    /// An order's own subscriptions (not the merchant-wide ones), by canonical address.
    async fn order_subscriptions(&self, order_id: &str) -> Result<Vec<Subscription>, StoreError> {
        self.query_subscriptions(order_pk(order_id)).await
    }

    /// A merchant's subscriptions to all its orders, by canonical address.
    async fn merchant_subscriptions(
        &self,
        merchant_id: &str,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.query_subscriptions(merchant_subscriptions_pk(merchant_id))
            .await
    }

    /// Removes an order subscription. Returns false when there was none.
    async fn remove_order_subscription(
        &self,
        order_id: &str,
        email: &EmailAddress,
    ) -> Result<bool, StoreError> {
        self.delete_subscription(order_pk(order_id), subscription_sk(&email.canonical()))
            .await
    }

    /// Removes a merchant-wide subscription. Returns false when there was none.
    async fn remove_merchant_subscription(
        &self,
        merchant_id: &str,
        email: &EmailAddress,
    ) -> Result<bool, StoreError> {
        self.delete_subscription(
            merchant_subscriptions_pk(merchant_id),
            subscription_sk(&email.canonical()),
        )
        .await
    }
}

impl Deliveries for OrderStore {
    /// The order, its timeline and its own subscribers: one Query over its partition.
    async fn notification_context(
        &self,
        order_id: &str,
    ) -> Result<Option<NotificationContext>, StoreError> {
        let partition = self
            .read_partition(order_id, "notification context")
            .await?;
        Ok(partition.order.map(|item| NotificationContext {
            order: item.order,
            timeline: Timeline::new(partition.events),
            subscriptions: partition.subscriptions,
        }))
    }

    /// Takes the lease on one email before it is sent. A new delivery, or one whose last
    /// holder's lease ran out unconfirmed (it died, or is hopelessly slow), is ours for
    /// `lease`; a pending one still under lease, a sent or an abandoned one is not. One
    /// conditional UpdateItem, so two copies of a job cannot both hold it.
    async fn lease_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<DeliveryLease, StoreError> {
        let expires_at = (now + Duration::days(DELIVERY_RECORD_DAYS)).timestamp();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.pk()))
            .key("sk", AttributeValue::S(key.sk()))
            .update_expression(
                "SET #state = :pending, attempts = if_not_exists(attempts, :zero) + :one, \
                 claimed_at = :now, lease_until = :lease_until, order_id = :order_id, \
                 event_id = :event_id, recipient = :recipient, expires_at = :expires_at",
            )
            // Records written before leases existed have no lease_until: taken over as before.
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :pending AND \
                 (attribute_not_exists(lease_until) OR lease_until <= :now))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(
                ":lease_until",
                AttributeValue::S(super::timestamp(now + lease)),
            )
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(DeliveryState::Pending.as_str().into()),
            )
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", AttributeValue::S(super::timestamp(now)))
            .expression_attribute_values(":order_id", AttributeValue::S(key.order_id.into()))
            .expression_attribute_values(":event_id", AttributeValue::S(key.event_id.into()))
            .expression_attribute_values(":recipient", AttributeValue::S(key.recipient.into()))
            .expression_attribute_values(":expires_at", AttributeValue::N(expires_at.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let attempt = match output.attributes.as_ref().and_then(|a| a.get("attempts")) {
                    Some(AttributeValue::N(n)) => n.parse().unwrap_or(1),
                    _ => 1,
                };
                Ok(DeliveryLease::Acquired { attempt })
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                let state = match e.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => failed
                        .item
                        .and_then(|item| item.get("state").cloned())
                        .and_then(|state| serde_dynamo::from_attribute_value(state).ok()),
                    _ => None,
                };
                Ok(match state {
                    Some(DeliveryState::Failed) => DeliveryLease::GaveUp,
                    Some(DeliveryState::Pending) => DeliveryLease::HeldElsewhere,
                    _ => DeliveryLease::AlreadySent,
                })
            }
            Err(e) => Err(anyhow!(e).context("lease delivery").into()),
        }
    }

    /// Confirms a leased delivery with SES's message id.
    async fn mark_delivery_sent(
        &self,
        key: DeliveryKey<'_>,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish_delivery(key, DeliveryState::Sent, "message_id", message_id, now)
            .await
    }

    /// Records that SES refused the message for good, so a redelivery does not try again.
    async fn mark_delivery_failed(
        &self,
        key: DeliveryKey<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let reason: String = reason.chars().take(500).collect();
        self.finish_delivery(key, DeliveryState::Failed, "failure", &reason, now)
            .await
    }

    /// Ends our lease early after a send that failed and will be retried, so the retry
    /// need not wait the lease out. Only our own pending lease is touched.
    async fn release_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.pk()))
            .key("sk", AttributeValue::S(key.sk()))
            .update_expression("SET lease_until = :now")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(DeliveryState::Pending.as_str().into()),
            )
            .expression_attribute_values(":now", AttributeValue::S(super::timestamp(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(anyhow!(e).context("release delivery").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_mailbox_share_a_subscription_key() {
        let at = Utc::now();
        let a = Subscription::merchant_wide(
            "m1",
            EmailAddress::parse("Ops@Merchant.example").unwrap(),
            at,
        );
        let b = Subscription::merchant_wide(
            "m1",
            EmailAddress::parse("ops+alerts@merchant.example").unwrap(),
            at,
        );
        assert_eq!(subscription_key(&a), subscription_key(&b));
        assert_eq!(subscription_key(&a).0, "MERCHANT#m1#SUBS");
        assert_eq!(subscription_key(&a).1, "SUB#ops@merchant.example");
        assert_eq!(
            a.scope(),
            tracking_domain::subscriptions::SubscriptionScope::Merchant
        );
    }

    #[test]
    fn only_event_items_are_outbox_events() {
        let order = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("ORDER#o1".into())),
            ("sk".to_owned(), AttributeValue::S("ORDER".into())),
        ]);
        assert!(outbox_event(order).unwrap().is_none());
        let subscription = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("ORDER#o1".into())),
            (
                "sk".to_owned(),
                AttributeValue::S("SUB#ops@merchant.example".into()),
            ),
        ]);
        assert!(outbox_event(subscription).unwrap().is_none());
    }

    #[test]
    fn delivery_keys_name_event_and_mailbox() {
        let key = DeliveryKey {
            order_id: "o1",
            event_id: "e1",
            recipient: "ops@merchant.example",
        };
        assert_eq!(key.pk(), "DELIVERY#o1");
        assert_eq!(key.sk(), "e1#ops@merchant.example");
    }
}
