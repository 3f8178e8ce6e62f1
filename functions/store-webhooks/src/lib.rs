//! `store-webhooks`: Shopify order intake (`POST /webhooks/shopify/orders-create`).
//!
//! A public route (Shopify has no JWT to send): the signature is the authentication.
//! Every request is checked in this order, and each refusal writes nothing:
//!
//! 1. `X-Shopify-Hmac-Sha256` must be the HMAC-SHA256 of the raw body under the app's
//!    secret (compared in constant time). API Gateway may hand the body over base64
//!    encoded (`isBase64Encoded`); `lambda_http` decodes it, and the HMAC is computed over
//!    the decoded bytes, i.e. exactly what Shopify signed. Missing or wrong: 401.
//! 2. `X-Shopify-Shop-Domain` must be a shop mapped to a merchant (`SHOPIFY_SHOPS`):
//!    otherwise 404 `unknown_shop`. Checked after the signature, so it tells a forger nothing.
//! 3. The body must be an order we can ship: 400 for JSON that is not an order, 422 with
//!    the fields in Shopify's terms for an order without, say, a shipping address.
//!
//! Then the order is created through the same idempotent store write as `POST /orders`:
//! its id derives from merchant and order number, so Shopify's retries of the same
//! webhook land on the same item (201 the first time, 200 after) and never make a second
//! order.
//!
//! Shopify retries every non-2xx answer for a while and then gives up. Refusals are
//! answered as 4xx on purpose: an order we cannot take must show up as a failed delivery
//! in the shop's webhook log (and in our logs, by webhook id) rather than be acknowledged
//! and silently lost. The retries cost nothing here: each is refused the same way, and a
//! shop mapped while Shopify is still retrying has its orders created by the retry.

pub mod shopify_order;
pub mod signature;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use tracing::Instrument;
use tracking_aws::store::{CreateOutcome, StoreError};
use tracking_aws::OrderStore;
use tracking_domain::order::Order;
use tracking_http::views;
use tracking_http::{field_errors, json_response, ApiError};

use crate::shopify_order::{in_shopify_terms, ShopifyOrder};

pub const ORDERS_CREATE_ROUTE: &str = "POST /webhooks/shopify/orders-create";
const ORDERS_CREATE_TOPIC: &str = "orders/create";

/// Shopify order payloads grow with line items and their properties; a megabyte is far
/// beyond a real order and well inside API Gateway's limit.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// The app's client secret: never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `SHOPIFY_WEBHOOK_SECRET`: the app's client secret, which signs its webhooks.
    pub secret: WebhookSecret,
    /// `SHOPIFY_SHOPS`: shop domain (lower case) -> merchant id.
    pub shops: BTreeMap<String, String>,
}

impl WebhookConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let secret = lookup("SHOPIFY_WEBHOOK_SECRET")
            .filter(|s| !s.trim().is_empty())
            .context("environment variable SHOPIFY_WEBHOOK_SECRET is not set")?;
        let shops = match lookup("SHOPIFY_SHOPS").filter(|s| !s.trim().is_empty()) {
            None => BTreeMap::new(),
            Some(raw) => parse_shops(&raw)?,
        };
        Ok(Self {
            secret: WebhookSecret::new(secret.trim().as_bytes().to_vec()),
            shops,
        })
    }
}

/// `{"acme.myshopify.com": "merchant-acme"}`; domains compared in lower case.
pub fn parse_shops(raw: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = serde_json::from_str(raw)
        .context("SHOPIFY_SHOPS must be a JSON object of shop domain -> merchant id")?;
    map.into_iter()
        .map(|(shop, merchant)| {
            let shop = shop.trim().to_ascii_lowercase();
            let merchant = merchant.trim().to_owned();
            if shop.is_empty() || merchant.is_empty() {
                bail!("SHOPIFY_SHOPS has an empty shop domain or merchant id");
            }
            Ok((shop, merchant))
        })
        .collect()
}

pub struct StoreWebhooks {
    store: OrderStore,
    config: WebhookConfig,
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Why a webhook is refused: a bad signature, or anything the API's errors already say.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// `ApiError::Unauthenticated` speaks of signing in; a webhook needs its own sentence.
    #[error("{0}")]
    InvalidSignature(&'static str),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl Refusal {
    fn into_response(self) -> Response<Body> {
        match self {
            Self::InvalidSignature(message) => json_response(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"error": {"code": "invalid_signature", "message": message}}),
            ),
            Self::Api(error) => error.into_response(),
        }
    }
}

impl StoreWebhooks {
    pub fn new(store: OrderStore, config: WebhookConfig) -> Self {
        Self { store, config }
    }

    pub async fn handle(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let span = tracing::info_span!(
            "webhook",
            request_id = %tracking_http::request_id(&request),
            webhook_id = header(&request, "x-shopify-webhook-id").unwrap_or(""),
            shop = header(&request, "x-shopify-shop-domain").unwrap_or(""),
        );
        async {
            match self.route(&request, now).await {
                Ok(response) => response,
                Err(refusal) => {
                    let reason = refusal.to_string();
                    let response = refusal.into_response();
                    tracing::warn!(status = response.status().as_u16(), %reason, "webhook refused");
                    response
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn route(
        &self,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Refusal> {
        let route = tracking_http::route_key(request);
        if route != ORDERS_CREATE_ROUTE {
            return Err(ApiError::RouteNotFound(route).into());
        }
        let body = tracking_http::body_bytes(request);
        if body.len() > MAX_WEBHOOK_BYTES {
            return Err(ApiError::PayloadTooLarge.into());
        }
        let signature = header(request, "x-shopify-hmac-sha256").ok_or(
            Refusal::InvalidSignature("The webhook has no X-Shopify-Hmac-Sha256 signature."),
        )?;
        if !signature::verify(&self.config.secret.0, body, signature) {
            return Err(Refusal::InvalidSignature(
                "The X-Shopify-Hmac-Sha256 signature does not match the body.",
            ));
        }
        if let Some(topic) = header(request, "x-shopify-topic") {
            if topic != ORDERS_CREATE_TOPIC {
                return Err(ApiError::bad_request(
                    "unsupported_topic",
                    format!("This endpoint takes {ORDERS_CREATE_TOPIC} webhooks, not {topic}."),
                )
                .into());
            }
        }
        let shop = header(request, "x-shopify-shop-domain")
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| {
                ApiError::bad_request("missing_shop", "The webhook has no X-Shopify-Shop-Domain.")
            })?;
        let merchant_id = self
            .config
            .shops
            .get(&shop)
            .ok_or_else(|| ApiError::NotFound {
                code: "unknown_shop",
                message: format!("The shop {shop} is not connected to a merchant account."),
            })?;
        let order: ShopifyOrder = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(
                "malformed_json",
                format!(
                    "The body is not a Shopify order (line {}, column {}).",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let details = order
            .into_draft()
            .parse()
            .map_err(|errors| field_errors(in_shopify_terms(errors)))?;
        let order = Order::new(merchant_id, details, now);
        let span =
            tracing::info_span!("order", order_id = %order.order_id, merchant_id = %merchant_id);
        async {
            match self.store.create_order(order).await.map_err(store_error)? {
                CreateOutcome::Created(order) => {
                    tracing::info!("order created from Shopify");
                    Ok(json_response(
                        StatusCode::CREATED,
                        &views::order_summary(&order),
                    ))
                }
                CreateOutcome::AlreadyExists(order) => {
                    tracing::info!("redelivered webhook: order already exists");
                    Ok(json_response(StatusCode::OK, &views::order_summary(&order)))
                }
                CreateOutcome::Conflict(existing) => Err(ApiError::conflict(
                    "order_number_taken",
                    format!(
                        "Order number {} already exists with different details (order {}).",
                        existing.details.order_number, existing.order_id
                    ),
                )),
            }
        }
        .instrument(span)
        .await
        .map_err(Refusal::from)
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Contention => ApiError::Unexpected(anyhow::anyhow!(
            "order intake lost an optimistic-lock race; Shopify will retry"
        )),
        StoreError::Unexpected(e) => ApiError::Unexpected(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_required_and_never_printed() {
        let err = WebhookConfig::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains("SHOPIFY_WEBHOOK_SECRET"), "{err}");
        let config = WebhookConfig::from_lookup(|name| match name {
            "SHOPIFY_WEBHOOK_SECRET" => Some("hush".into()),
            "SHOPIFY_SHOPS" => Some(r#"{"Acme.myshopify.com": "merchant-acme"}"#.into()),
            _ => None,
        })
        .unwrap();
        assert!(!format!("{config:?}").contains("hush"));
        assert_eq!(
            config.shops.get("acme.myshopify.com").map(String::as_str),
            Some("merchant-acme")
        );
    }

    #[test]
    fn a_broken_shop_map_fails_fast() {
        assert!(parse_shops("acme=merchant").is_err());
        assert!(parse_shops(r#"{"": "merchant"}"#).is_err());
    }
}
