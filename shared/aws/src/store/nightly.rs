//! Hand-off records of the nightly run (nightly-completion).
//!
//! | item              | pk                          | sk                        |
//! |-------------------|-----------------------------|---------------------------|
//! | nightly hand-off  | `NIGHTLY#{scheduled_time}`  | `CONTINUATION#{from}`     |
//!
//! `from` names where the invocation that hands off started (the top of the night, or a
//! continuation's cursor). Each invocation input hands the rest of its night on at most
//! once, whoever runs it and however often: a retried invocation (Lambda's async retries,
//! SQS redelivering a continuation) finds the record and sends nothing. The chain of
//! continuations stays a line, never a tree.
//!
//! The record moves `sending` -> `sent`; a `sending` record whose lease ran out (the sender
//! died between leasing and sending) may be leased again, and one whose send failed is
//! `released` at once. The only duplicate left is a sender that died after sending and
//! before marking `sent`: its retry sends the same continuation again, whose own hand-off
//! is then deduplicated here in turn (both copies start at the same place).
//!
//! A record older than the replay horizon no longer counts, so that re-running a night on
//! purpose, a day later, gets its continuations like the first run did. Items carry the
//! table's TTL attribute `expires_at`.

use crate::ports::HandOffs;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{timestamp, to_item, OrderStore, StoreError};

/// Which hand-off: a night, and where the invocation handing off started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOffKey {
    pub scheduled_time: DateTime<Utc>,
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HandOffState {
    Sending,
    Sent,
    Released,
}

#[derive(Debug, Serialize, Deserialize)]
struct HandOffItem {
    pk: String,
    sk: String,
    state: HandOffState,
    /// Which sender holds the record: only it may mark it sent or release it.
    token: String,
    /// Fixed-width RFC 3339, compared as strings in conditions.
    claimed_at: String,
    lease_until: String,
    /// The continuation message, for an operator reading the table.
    next: String,
    /// Epoch seconds: the table's TTL attribute.
    expires_at: i64,
}

/// How long hand-off records are kept: past the replay horizon, then DynamoDB's TTL.
const RECORD_DAYS: i64 = 2;

impl OrderStore {
    fn hand_off_item(
        key: &HandOffKey,
        state: HandOffState,
        token: &str,
        now: DateTime<Utc>,
        lease: Duration,
        next: &str,
    ) -> HandOffItem {
        HandOffItem {
            pk: format!("NIGHTLY#{}", timestamp(key.scheduled_time)),
            sk: format!("CONTINUATION#{}", key.from),
            state,
            token: token.to_owned(),
            claimed_at: timestamp(now),
            lease_until: timestamp(now + lease),
            next: next.to_owned(),
            expires_at: (now + Duration::days(RECORD_DAYS)).timestamp(),
        }
    }

    async fn hand_off_put_if_ours(
        &self,
        item: std::collections::HashMap<String, AttributeValue>,
        token: &str,
        what: &'static str,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#state = :sending AND #token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":token", AttributeValue::S(token.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e))
                if e.err().is_conditional_check_failed_exception() =>
            {
                Ok(false)
            }
            Err(e) => Err(anyhow::Error::new(e).context(what).into()),
        }
    }
}

impl HandOffs for OrderStore {
    /// Leases the right to send this hand-off's continuation (`next`): true when this
    /// sender may send it now, false when it was sent (or is being sent) already.
    /// `replay_horizon`: a record leased longer ago than that is a past run's, not ours.
    async fn lease_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        lease: Duration,
        replay_horizon: Duration,
        next: &str,
    ) -> Result<bool, StoreError> {
        let item = to_item(&Self::hand_off_item(
            key,
            HandOffState::Sending,
            token,
            now,
            lease,
            next,
        ))?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR #state = :released \
                 OR (#state = :sending AND lease_until < :now) OR claimed_at < :horizon",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":released", AttributeValue::S("released".into()))
            .expression_attribute_values(":sending", AttributeValue::S("sending".into()))
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
            .expression_attribute_values(
                ":horizon",
                AttributeValue::S(timestamp(now - replay_horizon)),
            );
        match request.send().await {
            Ok(_) => Ok(true),
            Err(aws_sdk_dynamodb::error::SdkError::ServiceError(e))
                if e.err().is_conditional_check_failed_exception() =>
            {
                Ok(false)
            }
            Err(e) => Err(anyhow::Error::new(e)
                .context("lease nightly hand-off")
                .into()),
        }
    }

    /// The continuation went out: the record now stops every later lease (until the
    /// replay horizon). Only the lease holder can mark it.
    async fn hand_off_sent(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        next: &str,
    ) -> Result<bool, StoreError> {
        let item = to_item(&Self::hand_off_item(
            key,
            HandOffState::Sent,
            token,
            now,
            Duration::zero(),
            next,
        ))?;
        self.hand_off_put_if_ours(item, token, "mark nightly hand-off sent")
            .await
    }

    /// The send failed: the next attempt may lease it at once instead of waiting out the lease.
    async fn release_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        next: &str,
    ) -> Result<bool, StoreError> {
        let item = to_item(&Self::hand_off_item(
            key,
            HandOffState::Released,
            token,
            now,
            Duration::zero(),
            next,
        ))?;
        self.hand_off_put_if_ours(item, token, "release nightly hand-off")
            .await
    }
}
