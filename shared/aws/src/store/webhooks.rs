//! Webhook deliveries already taken in (store-webhooks).
//!
//! | item              | pk                                        | sk         |
//! |-------------------|-------------------------------------------|------------|
//! | webhook delivery  | `WEBHOOK#{platform}#{shop}#{webhook_id}`  | `DELIVERY` |
//!
//! A delivery item says "this delivery made (or found) this order". It is written only
//! after the order write succeeded, never before: a crash between the two leaves an order
//! without its delivery item, and the retry finds the order already there (its id is
//! derived from the store's order id) and then records the delivery. The other order
//! would lose an order: a recorded delivery whose order write never happened would answer
//! every retry "already processed".
//!
//! Items carry `expires_at` (epoch seconds), the table's TTL attribute: DynamoDB deletes
//! them some time after, never before. Items of their own partition, so no order reader
//! sees them; stream consumers filter on `EVENT#`.

use crate::ports::WebhookDeliveries;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{to_item, OrderStore, StoreError};

/// Which delivery: the platform's own delivery id, scoped to the shop that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryKey {
    pub platform: &'static str,
    pub shop: String,
    pub webhook_id: String,
}

impl DeliveryKey {
    pub(crate) fn pk(&self) -> String {
        format!(
            "WEBHOOK#{}#{}#{}",
            self.platform, self.shop, self.webhook_id
        )
    }
}

/// What a processed delivery made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub order_id: String,
    pub order_number: String,
    pub processed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_at: Option<DateTime<Utc>>,
    /// Epoch seconds: the table's TTL attribute.
    pub expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct DeliveryItem {
    pk: String,
    sk: String,
    webhook_id: String,
    shop: String,
    #[serde(flatten)]
    delivery: Delivery,
}

impl WebhookDeliveries for OrderStore {
    /// The delivery, if it was processed before: one consistent GetItem.
    async fn webhook_delivery(&self, key: &DeliveryKey) -> Result<Option<Delivery>, StoreError> {
        let item: Option<DeliveryItem> = self
            .get_consistent(key.pk(), "DELIVERY".into(), "get webhook delivery")
            .await?;
        Ok(item.map(|item| item.delivery))
    }

    /// Records a processed delivery, once: a second record of the same delivery (two
    /// deliveries racing) is refused by its condition and changes nothing.
    async fn record_webhook_delivery(
        &self,
        key: &DeliveryKey,
        delivery: Delivery,
    ) -> Result<(), StoreError> {
        let item = to_item(&DeliveryItem {
            pk: key.pk(),
            sk: "DELIVERY".into(),
            webhook_id: key.webhook_id.clone(),
            shop: key.shop.clone(),
            delivery,
        })?;
        self.put_if(
            item,
            "attribute_not_exists(pk)",
            None,
            "record webhook delivery",
        )
        .await?;
        Ok(())
    }
}
