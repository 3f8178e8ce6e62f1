//! Where each store order poll left off: one small item per store and merchant.
//!
//! | item        | pk                               | sk     |
//! |-------------|----------------------------------|--------|
//! | poll cursor | `POLL#{store}#{merchant_id}`     | `POLL` |
//!
//! The cursor only moves forward and only at the version it was read, so two polls that
//! overlap (a slow one and the next schedule) cannot move it back.

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{from_item, to_item, OrderStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCursor {
    /// Orders changed after this instant are still to be read.
    pub changed_after: DateTime<Utc>,
    pub version: u64,
}

#[derive(Serialize, Deserialize)]
struct PollItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    cursor: PollCursor,
}

fn poll_pk(store: &str, merchant_id: &str) -> String {
    format!("POLL#{store}#{merchant_id}")
}

impl OrderStore {
    pub async fn poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
    ) -> Result<Option<PollCursor>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(poll_pk(store, merchant_id)))
            .key("sk", AttributeValue::S("POLL".into()))
            .consistent_read(true)
            .send()
            .await
            .context("get poll cursor")?;
        output
            .item
            .map(|item| Ok(from_item::<PollItem>(item)?.cursor))
            .transpose()
    }

    /// Moves the cursor to `changed_after` if it is still at `read` (`None`: never
    /// written). `Ok(false)` when another poll moved it first.
    pub async fn advance_poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
        read: Option<&PollCursor>,
        changed_after: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let item = to_item(&PollItem {
            pk: poll_pk(store, merchant_id),
            sk: "POLL".into(),
            cursor: PollCursor {
                changed_after,
                version: read.map_or(1, |r| r.version + 1),
            },
        })?;
        match read {
            None => {
                self.put_if(item, "attribute_not_exists(pk)", None, "create poll cursor")
                    .await
            }
            Some(read) => {
                self.put_if(
                    item,
                    "version = :expected",
                    Some((":expected", AttributeValue::N(read.version.to_string()))),
                    "advance poll cursor",
                )
                .await
            }
        }
    }
}
