//! Where each store order poll left off: one small item per store and merchant.
//!
//! | item        | pk                               | sk     |
//! |-------------|----------------------------------|--------|
//! | poll cursor | `POLL#{store}#{merchant_id}`     | `POLL` |
//!
//! The cursor only moves forward and only at the version it was read, so two polls that
//! overlap (a slow one and the next schedule) cannot move it back.

use crate::ports::PollCursors;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{to_item, OrderStore, StoreError};

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

impl PollCursors for OrderStore {
    async fn poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
    ) -> Result<Option<PollCursor>, StoreError> {
        let item: Option<PollItem> = self
            .get_consistent(
                poll_pk(store, merchant_id),
                "POLL".into(),
                "get poll cursor",
            )
            .await?;
        Ok(item.map(|item| item.cursor))
    }

    /// Moves the cursor to `changed_after` if it is still at `read` (`None`: never
    /// written). `Ok(false)` when another poll moved it first.
    async fn advance_poll_cursor(
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
