//! Amazon order intake: the new orders of every connected seller, polled from the SP-API.
//!
//! Amazon has no order webhook a fulfillment provider can rely on for merchant-fulfilled
//! orders, so a schedule asks `getOrders` for each seller's orders changed since that
//! seller's cursor, waiting to ship (`Unshipped`, `PartiallyShipped`) and fulfilled by the
//! merchant (`MFN`). The shipping address and buyer email are restricted data: the request
//! carries a Restricted Data Token for exactly `GET /orders/v0/orders` with those two data
//! elements, obtained with the seller's own access token, so a seller's poll can only ever
//! read that seller's orders.
//!
//! Each order is created with the same idempotent write as every other intake, identified
//! by merchant and Amazon order id: an order seen again (the overlap below, a rerun, an
//! order updated twice) changes nothing. The cursor moves to the poll's start only after
//! every page was taken in, so a poll that fails half way is simply done again.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;
use tracking_domain::connections::AmazonSeller;
use tracking_domain::order::{AddressDraft, CustomerDraft, FieldError, NewOrder, OrderDraft};

use crate::amazon::{AccessTokenProvider, AmazonClient};
use crate::push::{successful_body, transport_error, PushError, Secret};

/// Amazon may list an order a couple of minutes after it changed; reading this far behind
/// the cursor catches those, and idempotent intake makes the repeats free.
pub const POLL_OVERLAP_MINUTES: i64 = 10;
/// A seller polled for the first time is read this far back.
pub const FIRST_POLL_LOOKBACK_HOURS: i64 = 24;
/// Pages of orders read in one poll; the rest is read by the next one.
const MAX_ORDER_PAGES: usize = 20;

pub const ORDERS_PATH: &str = "/orders/v0/orders";
pub const RESTRICTED_DATA_TOKEN_PATH: &str = "/tokens/2021-03-01/restrictedDataToken";

/// The scheduled trigger's input: `{"amazon_order_poll": {"scheduled_time": "..."}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct PollRequest {
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(rename = "restrictedDataToken")]
    restricted_data_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrdersPayload {
    #[serde(default)]
    orders: Vec<AmazonOrder>,
    next_token: Option<String>,
}

/// The part of an SP-API `Order` that makes one of ours.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AmazonOrder {
    pub amazon_order_id: String,
    #[serde(default)]
    pub buyer_info: Option<BuyerInfo>,
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuyerInfo {
    #[serde(default)]
    pub buyer_email: Option<String>,
    #[serde(default)]
    pub buyer_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShippingAddress {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub address_line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state_or_region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
}

impl AmazonOrder {
    /// The order as every intake reads it; the shared validation names what is missing.
    pub fn into_new_order(self) -> Result<NewOrder, Vec<FieldError>> {
        let buyer = self.buyer_info.unwrap_or_default();
        let address = self.shipping_address.unwrap_or_default();
        OrderDraft {
            order_number: Some(serde_json::Value::String(self.amazon_order_id.clone())),
            source: Some("amazon".to_owned()),
            external_order_id: Some(self.amazon_order_id),
            customer: Some(CustomerDraft {
                name: address.name.clone().or(buyer.buyer_name),
                email: buyer.buyer_email,
            }),
            ship_to: Some(AddressDraft {
                line1: address.address_line1,
                line2: address.address_line2,
                city: address.city,
                state: address.state_or_region,
                postal_code: address.postal_code,
                country: address.country_code,
            }),
        }
        .parse()
    }
}

/// From where a poll reads: behind the cursor by the overlap, or a day back the first time.
pub fn read_from(cursor: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    match cursor {
        Some(after) => after - Duration::minutes(POLL_OVERLAP_MINUTES),
        None => now - Duration::hours(FIRST_POLL_LOOKBACK_HOURS),
    }
}

impl<T: AccessTokenProvider> AmazonClient<T> {
    fn endpoint(&self, path: &str) -> Result<reqwest::Url, PushError> {
        let base = self.api_base().trim_end_matches('/');
        reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| {
            PushError::rejected(format!("AMAZON_SP_API_BASE {base:?} is not a URL: {e}"))
        })
    }

    /// A token that reads the address and buyer email of this seller's orders, and
    /// nothing else.
    async fn restricted_data_token(&self, merchant_id: &str) -> Result<Secret, PushError> {
        let token = self.tokens().access_token(merchant_id).await?;
        let response = self
            .http()
            .post(self.endpoint(RESTRICTED_DATA_TOKEN_PATH)?)
            .header("x-amz-access-token", token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({"restrictedResources": [{
                "method": "GET",
                "path": ORDERS_PATH,
                "dataElements": ["buyerInfo", "shippingAddress"]
            }]}))
            .send()
            .await
            .map_err(|e| transport_error("Amazon", e))?;
        let bytes = successful_body("Amazon", response).await?;
        let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            PushError::Retryable(
                anyhow::Error::new(e).context("Amazon answered without a restricted data token"),
            )
        })?;
        Ok(Secret::new(token.restricted_data_token))
    }

    /// The seller's merchant-fulfilled orders waiting to ship, changed after `after`.
    pub async fn orders_to_ship(
        &self,
        merchant_id: &str,
        seller: &AmazonSeller,
        after: DateTime<Utc>,
    ) -> Result<Vec<AmazonOrder>, PushError> {
        let token = self.restricted_data_token(merchant_id).await?;
        let mut orders = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_ORDER_PAGES {
            let mut url = self.endpoint(ORDERS_PATH)?;
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("MarketplaceIds", &seller.marketplace_id);
                match &next_token {
                    Some(next) => {
                        query.append_pair("NextToken", next);
                    }
                    None => {
                        query
                            .append_pair(
                                "LastUpdatedAfter",
                                &after.to_rfc3339_opts(SecondsFormat::Secs, true),
                            )
                            .append_pair("OrderStatuses", "Unshipped,PartiallyShipped")
                            .append_pair("FulfillmentChannels", "MFN");
                    }
                }
            }
            let payload: OrdersPayload = self.get_payload(url, &token, "orders").await?;
            orders.extend(payload.orders);
            match payload.next_token.filter(|t| !t.is_empty()) {
                Some(next) => next_token = Some(next),
                None => return Ok(orders),
            }
        }
        // The cursor stays where it was, so the next poll reads these pages again and more.
        Err(PushError::retryable(format!(
            "more than {MAX_ORDER_PAGES} pages of Amazon orders in one poll"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> AmazonOrder {
        serde_json::from_value(json!({
            "AmazonOrderId": "902-3159896-1390916",
            "OrderStatus": "Unshipped",
            "FulfillmentChannel": "MFN",
            "BuyerInfo": {"BuyerEmail": "7xk2c9@marketplace.amazon.com", "BuyerName": "Ada L."},
            "ShippingAddress": {"Name": "Ada Lovelace", "AddressLine1": "1 Main St",
                                "City": "Austin", "StateOrRegion": "TX", "PostalCode": "78701",
                                "CountryCode": "US"}
        }))
        .unwrap()
    }

    #[test]
    fn an_amazon_order_becomes_an_amazon_order_of_ours_with_its_id_twice() {
        let order = sample().into_new_order().unwrap();
        assert_eq!(order.order_number, "902-3159896-1390916");
        assert_eq!(
            order.external_order_id.as_deref(),
            Some("902-3159896-1390916")
        );
        assert_eq!(order.source, tracking_domain::order::OrderSource::Amazon);
        assert_eq!(order.customer.name, "Ada Lovelace");
        assert_eq!(order.ship_to.state.as_deref(), Some("TX"));
    }

    #[test]
    fn an_order_without_its_restricted_data_names_what_is_missing() {
        let mut order = sample();
        order.shipping_address = None;
        order.buyer_info = None;
        let fields: Vec<_> = order
            .into_new_order()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert!(fields.contains(&"customer.email".to_owned()), "{fields:?}");
        assert!(fields.contains(&"ship_to.line1".to_owned()), "{fields:?}");
    }

    #[test]
    fn a_poll_reads_behind_its_cursor_and_a_day_back_the_first_time() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(read_from(None, now), now - Duration::hours(24));
        assert_eq!(
            read_from(Some(now - Duration::minutes(15)), now),
            now - Duration::minutes(25)
        );
    }
}
