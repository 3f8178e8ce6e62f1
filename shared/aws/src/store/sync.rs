//! Store sync records (platform-sync).
//!
//! A sync record lives in its order's partition and stands for "this tracking number was
//! pushed to this store":
//!
//! | item        | pk                 | sk                                              |
//! |-------------|--------------------|-------------------------------------------------|
//! | sync record | `ORDER#{order_id}` | `SYNC#{platform}#{carrier}#{tracking_number}`   |
//!
//! Its `status` moves `pending` -> `sent`, or `pending` -> `failed` -> `pending` again on
//! a retry. Every move is a conditional write, which is what keeps a sync from being sent
//! twice: a worker only calls the store after it won the lease (the record was absent,
//! `failed`, or `pending` with an expired lease), and a record that reached `sent` is never
//! leased again, however often the job is redelivered.
//!
//! The lease covers a worker that dies between taking its lease and its verdict: once the lease
//! runs out, a redelivery may lease it again. Leases are longer than the function's timeout,
//! so a live worker never loses its lease mid-call.
//!
//! The order partition's readers (`order_with_timeline`, `order_with_claims`) skip `SYNC#`
//! items. Records are written on the table's stream too; stream consumers filter on `EVENT#`.

use crate::ports::SyncRecords;
use std::collections::HashMap;

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tracking_domain::sync::{SyncKey, SyncRecord, SyncStatus};
use tracking_domain::timeline::TimelineEvent;

use super::{from_item, order_pk, timestamp, EventItem, OrderStore, StoreError};

/// Longest reason kept on a record: enough for a store's error message, never a whole body.
const MAX_ERROR_LEN: usize = 500;

pub(crate) fn sync_sk(key: &SyncKey) -> String {
    format!(
        "SYNC#{}#{}#{}{}{}",
        key.platform.as_str(),
        key.carrier,
        key.tracking_number,
        key.label
            .as_deref()
            .map(|label| format!("#{label}"))
            .unwrap_or_default(),
        if key.withdraws { "#WITHDRAW" } else { "" }
    )
}

fn sync_key(key: &SyncKey) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(order_pk(&key.order_id))),
        ("sk".to_owned(), AttributeValue::S(sync_sk(key))),
    ])
}

#[derive(Debug, Deserialize)]
struct SyncItem {
    #[serde(flatten)]
    record: SyncRecord,
}

#[derive(Debug)]
pub enum SyncLease {
    /// This worker may call the store now; the record is `pending` under its lease.
    Acquired(SyncRecord),
    /// The store already has it: nothing to do.
    AlreadySent(SyncRecord),
    /// Another worker holds a live lease; try again after it.
    HeldElsewhere(SyncRecord),
}

/// A timeline event as the table's stream carries it: the order it belongs to and the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedEvent {
    pub order_id: String,
    pub event: TimelineEvent,
}

/// Reads a stream record's new image as a timeline event. `None` for every other item
/// (orders, tracking claims, sync records, claims): the stream carries them all.
pub fn timeline_event_from_image(
    image: serde_dynamo::Item,
) -> Result<Option<StreamedEvent>, StoreError> {
    let item: HashMap<String, AttributeValue> = image.into();
    let is_event =
        matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("EVENT#"));
    if !is_event {
        return Ok(None);
    }
    let item: EventItem = from_item(item)?;
    let order_id = item
        .pk
        .strip_prefix("ORDER#")
        .with_context(|| format!("timeline event under an unexpected partition {:?}", item.pk))?
        .to_owned();
    Ok(Some(StreamedEvent {
        order_id,
        event: item.event,
    }))
}

pub(crate) fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_LEN).collect()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

impl SyncRecords for OrderStore {
    /// Leases a sync for one attempt: one conditional UpdateItem. Sent records are never
    /// leased again; a pending record is leased only once its lease ran out.
    async fn lease_sync(
        &self,
        key: &SyncKey,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<SyncLease, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sync_key(key)))
            .update_expression(
                "SET #status = :pending, lease_until = :lease, updated_at = :now, \
                 attempts = if_not_exists(attempts, :zero) + :one, \
                 created_at = if_not_exists(created_at, :now), \
                 order_id = :order_id, platform = :platform, carrier = :carrier, \
                 tracking_number = :tracking_number",
            )
            // [`SyncRecord::leasable`], as DynamoDB evaluates it.
            .condition_expression(
                "attribute_not_exists(pk) OR (#status <> :sent AND lease_until <= :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(SyncStatus::Pending.as_str()))
            .expression_attribute_values(":sent", s(SyncStatus::Sent.as_str()))
            .expression_attribute_values(":lease", s(&timestamp(now + lease)))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":order_id", s(&key.order_id))
            .expression_attribute_values(":platform", s(key.platform.as_str()))
            .expression_attribute_values(":carrier", s(&key.carrier))
            .expression_attribute_values(":tracking_number", s(&key.tracking_number))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .context("leased sync record came back without attributes")?;
                Ok(SyncLease::Acquired(from_item::<SyncItem>(item)?.record))
            }
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let record = from_item::<SyncItem>(
                        failed
                            .item
                            .context("refused sync lease returned no existing record")?,
                    )?
                    .record;
                    Ok(if record.status == SyncStatus::Sent {
                        SyncLease::AlreadySent(record)
                    } else {
                        SyncLease::HeldElsewhere(record)
                    })
                }
                other if other.is_transaction_conflict_exception() => Err(StoreError::Contention),
                other => Err(anyhow!(other).context("lease sync record").into()),
            },
            Err(e) => Err(anyhow!(e).context("lease sync record").into()),
        }
    }

    /// Records that the store accepted the push. `sent` is final, so only the record's
    /// existence is checked: whoever finished, the store has it.
    async fn mark_sync_sent(
        &self,
        key: &SyncKey,
        remote_ref: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sync_key(key)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", s(SyncStatus::Sent.as_str()))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .expression_attribute_values(":released", s(&timestamp(now)));
        request = match remote_ref {
            Some(remote) => request
                .update_expression(
                    "SET #status = :sent, sent_at = :now, updated_at = :now, \
                     lease_until = :released, remote_ref = :remote REMOVE last_error",
                )
                .expression_attribute_values(":remote", s(remote)),
            None => request.update_expression(
                "SET #status = :sent, sent_at = :now, updated_at = :now, \
                 lease_until = :released REMOVE last_error",
            ),
        };
        request
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .context("mark sync record sent")?;
        Ok(())
    }

    /// Records a failed attempt and releases the lease, so the next delivery may lease it at
    /// once. Never overwrites `sent`: a late failure report from a stale worker is dropped.
    async fn mark_sync_failed(
        &self,
        key: &SyncKey,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sync_key(key)))
            .update_expression(
                "SET #status = :failed, last_error = :error, updated_at = :now, lease_until = :released",
            )
            .condition_expression("attribute_exists(pk) AND #status <> :sent")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s(SyncStatus::Failed.as_str()))
            .expression_attribute_values(":sent", s(SyncStatus::Sent.as_str()))
            .expression_attribute_values(":error", s(&truncate(error)))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .expression_attribute_values(":released", s(&timestamp(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(())
            }
            Err(e) => Err(anyhow!(e).context("mark sync record failed").into()),
        }
    }

    /// One sync record, read consistently.
    async fn sync_record(&self, key: &SyncKey) -> Result<Option<SyncRecord>, StoreError> {
        let item: Option<SyncItem> = self
            .get_consistent(order_pk(&key.order_id), sync_sk(key), "get sync record")
            .await?;
        Ok(item.map(|item| item.record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracking_domain::order::OrderSource;

    #[test]
    fn sync_key_names_store_carrier_and_number() {
        let key = SyncKey {
            order_id: "ord_1".into(),
            platform: OrderSource::Shopify,
            carrier: "ups".into(),
            tracking_number: "1Z999AA10123456784".into(),
            withdraws: false,
            label: None,
        };
        assert_eq!(sync_sk(&key), "SYNC#shopify#ups#1Z999AA10123456784");
        let packaged = SyncKey {
            label: Some("SHP-1#2".into()),
            ..key.clone()
        };
        assert_eq!(
            sync_sk(&packaged),
            "SYNC#shopify#ups#1Z999AA10123456784#SHP-1#2"
        );
        let withdrawal = SyncKey {
            withdraws: true,
            ..key.clone()
        };
        assert_eq!(
            sync_sk(&withdrawal),
            "SYNC#shopify#ups#1Z999AA10123456784#WITHDRAW"
        );
        assert_eq!(
            sync_key(&key).get("pk"),
            Some(&AttributeValue::S("ORDER#ord_1".into()))
        );
    }

    #[test]
    fn only_event_items_are_read_as_timeline_events() {
        let order_item: HashMap<String, AttributeValue> = HashMap::from([
            ("pk".to_owned(), s("ORDER#ord_1")),
            ("sk".to_owned(), s("ORDER")),
        ]);
        assert_eq!(
            timeline_event_from_image(serde_dynamo::Item::from(order_item)).unwrap(),
            None
        );
    }
}
