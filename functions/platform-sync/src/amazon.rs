//! Amazon: tracking pushed through the Selling Partner API's shipment confirmation
//! (`POST /orders/v0/orders/{orderId}/shipmentConfirmation`).
//!
//! The confirmation must name the order's items, which we do not keep, so they are read
//! first with `GET /orders/v0/orders/{orderId}/orderItems`. Each package is confirmed
//! under its own package reference id, its place in the order (1, 2, ...): Amazon takes
//! one confirmation per package id, and a second confirmation with the same id edits the
//! package rather than adding one, which is what a hand-off or a relabel (new carrier and
//! number) needs, and what keeps a repeated push after a crash from shipping a phantom
//! package. We do not know which items went in which package, so every package names the
//! order's items.
//!
//! A voided label cannot be taken back: the Orders API has no call that withdraws a
//! shipment confirmation (Seller Central edits it by hand). A void of a package Amazon
//! was told about is refused with that sentence and dead-lettered, where an operator sees
//! it; a void of a package Amazon never heard of needs nothing.
//!
//! Requests carry an LWA access token in `x-amz-access-token`, from an
//! [`AccessTokenProvider`]: `crate::lwa` refreshes it from the seller's refresh token, or
//! serves a fixed one from the store credentials (tests, local runs).

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use tracking_domain::carriers::Carrier;
use tracking_domain::connections::AmazonSeller;

use crate::push::{successful_body, transport_error, PushError, Secret};
use crate::Pushed;
use tracking_domain::sync::job::{SyncJob, SyncKind, Tracking};

pub const DEFAULT_API_BASE: &str = "https://sellingpartnerapi-na.amazon.com";

/// Pages of order items read before giving up; an order with more is not a parcel we ship.
const MAX_ITEM_PAGES: usize = 10;

/// Where the SP-API access token comes from.
pub trait AccessTokenProvider: Send + Sync {
    /// The token for the seller account of `merchant_id`, and only that account: a
    /// merchant without credentials of its own gets a refusal, never another's token.
    fn access_token(
        &self,
        merchant_id: &str,
    ) -> impl Future<Output = Result<Secret, PushError>> + Send;

    /// Amazon refused the token of `merchant_id` (401, 403): drop it, and what it came
    /// from, so the retry starts from freshly read credentials.
    fn refused(&self, merchant_id: &str) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, Clone)]
pub struct AmazonConfig {
    /// `AMAZON_SP_API_BASE`: the regional SP-API endpoint.
    pub api_base: String,
    /// `AMAZON_SELLERS`: each merchant's seller account and marketplace.
    pub sellers: BTreeMap<String, AmazonSeller>,
}

pub struct AmazonClient<T> {
    http: reqwest::Client,
    config: AmazonConfig,
    tokens: T,
}

/// Every SP-API answer wraps its result in `payload`.
#[derive(Debug, Deserialize)]
struct Payload<T> {
    payload: Option<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderItemsPayload {
    #[serde(default)]
    order_items: Vec<OrderItem>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrderItem {
    order_item_id: String,
    quantity_ordered: u32,
}

/// The `confirmShipment` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipment {
    pub marketplace_id: String,
    pub package_detail: PackageDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    pub package_reference_id: String,
    pub carrier_code: String,
    /// Required by Amazon when `carrierCode` is `Other`, and only then sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    /// ISO 8601, UTC.
    pub ship_date: String,
    pub order_items: Vec<ConfirmItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmItem {
    pub order_item_id: String,
    pub quantity: u32,
}

/// Amazon's carrier code for ours; carriers it has no code for go as `Other` + name.
pub fn carrier_code(tracking: &Tracking) -> (String, Option<String>) {
    let code = match tracking.known_carrier() {
        Some(Carrier::Ups) => "UPS",
        Some(Carrier::Usps) => "USPS",
        Some(Carrier::Fedex) => "FedEx",
        Some(Carrier::DhlExpress) => "DHL",
        Some(Carrier::Ontrac) => "OnTrac",
        Some(Carrier::AmazonShipping) => "Amazon Shipping",
        Some(Carrier::CanadaPost) => "Canada Post",
        Some(Carrier::RoyalMail) => "Royal Mail",
        Some(Carrier::AustraliaPost) => "Australia Post",
        Some(Carrier::DhlEcommerce | Carrier::Purolator) | None => {
            return ("Other".to_owned(), Some(tracking.carrier_name()))
        }
    };
    (code.to_owned(), None)
}

pub fn confirmation(
    job: &SyncJob,
    marketplace_id: &str,
    items: Vec<ConfirmItem>,
) -> ConfirmShipment {
    let (carrier_code, carrier_name) = carrier_code(&job.tracking);
    ConfirmShipment {
        marketplace_id: marketplace_id.to_owned(),
        package_detail: PackageDetail {
            package_reference_id: job.package_number().to_string(),
            carrier_code,
            carrier_name,
            shipping_method: Some(job.service.clone()).filter(|s| !s.trim().is_empty()),
            tracking_number: job.tracking.tracking_number.clone(),
            ship_date: job
                .shipped_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            order_items: items,
        },
    }
}

/// Amazon order ids are `3-7-7` digits; checking the shape keeps the path ours.
pub fn checked_order_id(external_order_id: &str) -> Result<&str, PushError> {
    let id = external_order_id.trim();
    let valid = !id.is_empty()
        && id.len() <= 40
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(id)
    } else {
        Err(PushError::rejected(format!(
            "{external_order_id:?} is not an Amazon order id"
        )))
    }
}

impl<T: AccessTokenProvider> AmazonClient<T> {
    pub fn new(http: reqwest::Client, config: AmazonConfig, tokens: T) -> Self {
        Self {
            http,
            config,
            tokens,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn tokens(&self) -> &T {
        &self.tokens
    }

    pub(crate) fn api_base(&self) -> &str {
        &self.config.api_base
    }

    /// Every merchant with a seller account, for the order poll.
    pub fn sellers(&self) -> impl Iterator<Item = (&str, &AmazonSeller)> {
        self.config.sellers.iter().map(|(m, s)| (m.as_str(), s))
    }

    /// One SP-API GET with `token`: its `payload`, or the error its answer calls for.
    /// A body we cannot read is retried: Amazon answers garbled only in passing faults.
    pub(crate) async fn get_payload<P: serde::de::DeserializeOwned>(
        &self,
        url: reqwest::Url,
        token: &Secret,
        what: &str,
    ) -> Result<P, PushError> {
        let response = self
            .http
            .get(url)
            .header("x-amz-access-token", token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport_error("Amazon", e))?;
        let bytes = successful_body("Amazon", response).await?;
        let page: Payload<P> = serde_json::from_slice(&bytes).map_err(|e| {
            PushError::Retryable(
                anyhow::Error::new(e).context(format!("Amazon {what} came back unreadable")),
            )
        })?;
        page.payload.ok_or_else(|| {
            PushError::retryable(format!("Amazon {what} came back without a payload"))
        })
    }

    fn url(&self, order_id: &str, operation: &str) -> Result<reqwest::Url, PushError> {
        let base = self.config.api_base.trim_end_matches('/');
        reqwest::Url::parse(&format!("{base}/orders/v0/orders/{order_id}/{operation}")).map_err(
            |e| PushError::rejected(format!("AMAZON_SP_API_BASE {base:?} is not a URL: {e}")),
        )
    }

    /// The seller account of the order's own merchant; see `tracking_domain::connections`.
    pub fn seller_of(&self, merchant_id: &str) -> Result<&AmazonSeller, PushError> {
        self.config.sellers.get(merchant_id).ok_or_else(|| {
            PushError::rejected(format!(
                "merchant {merchant_id} is not connected to an Amazon seller account (AMAZON_SELLERS)"
            ))
        })
    }

    pub async fn push(&self, job: &SyncJob) -> Result<Pushed, PushError> {
        let pushed = self.confirm(job).await;
        if pushed.as_ref().is_err_and(PushError::refused_credentials) {
            self.tokens.refused(&job.merchant_id).await;
        }
        pushed
    }

    async fn confirm(&self, job: &SyncJob) -> Result<Pushed, PushError> {
        if job.kind == SyncKind::Void {
            return Err(PushError::rejected(format!(
                "Amazon's Orders API cannot withdraw a shipment confirmation: remove {} tracking {} (package {}) from Amazon order {} in Seller Central",
                job.tracking.carrier_name(),
                job.tracking.tracking_number,
                job.package_number(),
                job.external_order_id
            )));
        }
        let seller = self.seller_of(&job.merchant_id)?;
        let order_id = checked_order_id(&job.external_order_id)?;
        let token = self.tokens.access_token(&job.merchant_id).await?;
        let items = self.order_items(order_id, &token).await?;
        if items.is_empty() {
            return Err(PushError::rejected(format!(
                "Amazon lists no items on order {order_id}"
            )));
        }
        let body = confirmation(job, &seller.marketplace_id, items);
        let response = self
            .http
            .post(self.url(order_id, "shipmentConfirmation")?)
            .header("x-amz-access-token", token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("Amazon", e))?;
        successful_body("Amazon", response).await?;
        Ok(Pushed::sent(Some(format!(
            "{order_id}/package/{}",
            job.package_number()
        ))))
    }

    async fn order_items(
        &self,
        order_id: &str,
        token: &Secret,
    ) -> Result<Vec<ConfirmItem>, PushError> {
        let mut items = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_ITEM_PAGES {
            let mut url = self.url(order_id, "orderItems")?;
            if let Some(next) = &next_token {
                url.query_pairs_mut().append_pair("NextToken", next);
            }
            let payload: OrderItemsPayload = self.get_payload(url, token, "order items").await?;
            items.extend(
                payload
                    .order_items
                    .into_iter()
                    .filter(|item| item.quantity_ordered > 0)
                    .map(|item| ConfirmItem {
                        order_item_id: item.order_item_id,
                        quantity: item.quantity_ordered,
                    }),
            );
            match payload.next_token.filter(|t| !t.is_empty()) {
                Some(next) => next_token = Some(next),
                None => return Ok(items),
            }
        }
        Err(PushError::rejected(format!(
            "Amazon order {order_id} has more than {MAX_ITEM_PAGES} pages of items"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use tracking_domain::order::OrderSource;
    use tracking_domain::sync::job::SyncKind;

    fn job(kind: SyncKind, tracking: Tracking) -> SyncJob {
        SyncJob {
            version: tracking_domain::sync::job::JOB_VERSION,
            kind,
            order_id: "ord_1".into(),
            merchant_id: "merchant-acme".into(),
            order_number: "1001".into(),
            platform: OrderSource::Amazon,
            external_order_id: "902-0300094-5705420".into(),
            label: tracking.clone(),
            tracking,
            service: "ground".into(),
            shipped_at: Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap(),
            event_id: "evt".into(),
            package: None,
            replaces: None,
        }
    }

    #[test]
    fn confirmation_body_has_the_fields_amazon_requires() {
        let tracking = Tracking {
            carrier: "ups".into(),
            tracking_number: "1Z999AA10123456784".into(),
            tracking_url: None,
        };
        let body = confirmation(
            &job(SyncKind::Label, tracking),
            "ATVPDKIKX0DER",
            vec![ConfirmItem {
                order_item_id: "68828574383266".into(),
                quantity: 2,
            }],
        );
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "marketplaceId": "ATVPDKIKX0DER",
                "packageDetail": {
                    "packageReferenceId": "1",
                    "carrierCode": "UPS",
                    "shippingMethod": "ground",
                    "trackingNumber": "1Z999AA10123456784",
                    "shipDate": "2026-11-24T16:00:00Z",
                    "orderItems": [{"orderItemId": "68828574383266", "quantity": 2}]
                }
            })
        );
    }

    #[test]
    fn carriers_amazon_has_no_code_for_go_as_other_with_their_name() {
        let other = Tracking {
            carrier: "la_poste".into(),
            tracking_number: "6A1".into(),
            tracking_url: None,
        };
        assert_eq!(
            carrier_code(&other),
            ("Other".to_owned(), Some("la_poste".to_owned()))
        );
        let purolator = Tracking {
            carrier: "purolator".into(),
            ..other
        };
        assert_eq!(
            carrier_code(&purolator),
            ("Other".to_owned(), Some("Purolator".to_owned()))
        );
    }

    #[test]
    fn order_ids_that_could_change_the_path_are_refused() {
        assert_eq!(
            checked_order_id(" 902-0300094-5705420 ").unwrap(),
            "902-0300094-5705420"
        );
        for bad in ["", "../admin", "902 0300094", "1/2"] {
            assert!(
                matches!(checked_order_id(bad), Err(PushError::Rejected(_))),
                "{bad}"
            );
        }
    }
}
