//! `store-webhooks`: Shopify order intake (`POST /webhooks/shopify/orders-create`).
//!
//! A public route (Shopify has no JWT to send): the signature is the authentication.
//! Every request is checked in this order, and each refusal writes nothing:
//!
//! 0. A deployment without a webhook secret (the secret `SHOPIFY_WEBHOOK_SECRET_ARN` names
//!    still holds the template's empty `client_secret`) starts normally and answers 503
//!    `shopify_not_configured`: nothing can be verified, and the route exists, so "not
//!    found" would send an operator looking for a routing fault instead of the missing
//!    secret. A secret that cannot be read is a 503 `shopify_secret_unavailable`, which
//!    Shopify retries.
//! 1. `X-Shopify-Hmac-Sha256` must be the HMAC-SHA256 of the raw body under the app's
//!    secret (compared in constant time). While the app's secret is being rotated, a
//!    signature under the secret's previous version is accepted too: Shopify retries
//!    deliveries signed before the change for hours. API Gateway may hand the body over base64
//!    encoded (`isBase64Encoded`); `lambda_http` decodes it, and the HMAC is computed over
//!    the decoded bytes, i.e. exactly what Shopify signed. Missing or wrong: 401.
//! 2. `X-Shopify-Shop-Domain` must be a shop mapped to a merchant (`SHOPIFY_SHOPS`):
//!    otherwise 404 `unknown_shop`. Checked after the signature, so it tells a forger nothing.
//! 3. `X-Shopify-Triggered-At` older than [`MAX_DELIVERY_AGE_HOURS`]: 422 `stale_webhook`.
//! 4. `X-Shopify-Webhook-Id` already processed: 200 with the order it made, nothing written.
//! 5. The body must be an order we can ship: 400 for JSON that is not an order, 422 with
//!    the fields in Shopify's terms for an order without, say, a shipping address.
//!
//! Then the order is created through the same idempotent store write as `POST /orders`:
//! a store order's id derives from merchant, store and the store's own order id (never
//! the order number, which a manual order may share), so a retry of the same webhook
//! lands on the same item (201 the first time, 200 after) and never makes a second order.
//! Once the order write succeeded the delivery is recorded (see
//! `tracking_aws::store::webhooks` for why in that order).
//!
//! The HMAC covers the body only, not the headers: the webhook id and the triggered-at
//! time are Shopify's word as far as the transport goes. That is why neither is the only
//! guard against a replay: a replayed body always lands on the order it already made.
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
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use tracing::Instrument;
use tracking_aws::config::Env;
use tracking_aws::ports::{Orders, WebhookDeliveries};
use tracking_aws::secrets::SecretsManager;
use tracking_aws::secrets::{CachedSecret, SecretError, SecretSource};
use tracking_aws::store::webhooks::{Delivery, DeliveryKey};
use tracking_aws::store::CreateOutcome;
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::order::Order;
use tracking_http::views;
use tracking_http::{field_errors, json_response, ApiError};

use crate::shopify_order::{in_shopify_terms, ShopifyOrder};

pub const ORDERS_CREATE_ROUTE: &str = "POST /webhooks/shopify/orders-create";
const ORDERS_CREATE_TOPIC: &str = "orders/create";

/// Shopify order payloads grow with line items and their properties; a megabyte is far
/// beyond a real order and well inside API Gateway's limit.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// How old (by `X-Shopify-Triggered-At`) a delivery may be and still be taken in.
///
/// Shopify retries a failed delivery 8 times over 4 hours with the original payload and
/// timestamp (since 2024-09-10; 19 times over 48 hours before). A window shorter than that
/// horizon would refuse Shopify's own late retries and lose those orders, so the window is
/// well beyond both policies: 72 hours. Nothing legitimate arrives older than that; what
/// does is a replay (the header is not signed) or a badly wrong clock, and it is refused.
pub const MAX_DELIVERY_AGE_HOURS: i64 = 72;

/// How long a delivery stays recorded: past the window, so a replay inside the window
/// is always recognised, and a day more for the clocks of Shopify and us to disagree.
const DELIVERY_RECORD_HOURS: i64 = MAX_DELIVERY_AGE_HOURS + 24;

/// Shopify's webhook ids are UUIDs; anything far longer is not one of theirs and must
/// not become a table key.
const MAX_WEBHOOK_ID_LEN: usize = 128;

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

impl WebhookSecret {
    /// A secret that is never read from Secrets Manager: handler tests.
    pub fn fixed(secret: impl Into<Vec<u8>>) -> Arc<WebhookSecrets> {
        Arc::new(CachedSecret::fixed(Some(Self::new(secret))))
    }
}

/// The app's client secret as the function holds it; `None` while the secret is still
/// empty (no Shopify app).
pub type WebhookSecrets = CachedSecret<Option<WebhookSecret>>;

/// The secret's text: `{"client_secret": "..."}`, empty until the deployment has a
/// Shopify app. A JSON object rather than the bare value, so that an empty secret is
/// something Secrets Manager can hold and an operator can read.
pub fn decode_webhook_secret(raw: &str) -> Result<Option<WebhookSecret>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        client_secret: String,
    }
    let text: Text = serde_json::from_str(raw).map_err(|_| {
        r#"expected {"client_secret": "<the Shopify app's client secret>"}"#.to_owned()
    })?;
    let secret = text.client_secret.trim();
    Ok((!secret.is_empty()).then(|| WebhookSecret::new(secret.as_bytes())))
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `SHOPIFY_WEBHOOK_SECRET_ARN`: the secret holding the app's client secret, which
    /// signs its webhooks; read on the first webhook, not at cold start.
    pub secrets: Arc<WebhookSecrets>,
    /// `SHOPIFY_SHOPS`: shop domain (lower case) -> merchant id.
    pub shops: BTreeMap<String, String>,
}

impl WebhookConfig {
    pub fn from_env(secrets: Arc<dyn SecretSource>) -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok(), secrets)
    }

    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        source: Arc<dyn SecretSource>,
    ) -> anyhow::Result<Self> {
        let secrets = match lookup("SHOPIFY_WEBHOOK_SECRET_ARN").filter(|s| !s.trim().is_empty()) {
            Some(arn) => CachedSecret::new(source, arn.trim(), decode_webhook_secret),
            // Not an error: a deployment may have no Shopify app at all.
            None => CachedSecret::fixed(None),
        };
        // The same parser as every other function's view of the connections.
        let shops = tracking_aws::config::shop_map(
            lookup("SHOPIFY_SHOPS")
                .filter(|s| !s.trim().is_empty())
                .as_deref(),
        )?;
        Ok(Self {
            secrets: Arc::new(secrets),
            shops,
        })
    }
}

/// The handler, over any store that keeps orders and processed deliveries: DynamoDB
/// when deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct StoreWebhooks<S = OrderStore> {
    store: S,
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
    #[error("Shopify webhooks are not configured in this deployment: put the app's client secret in the ShopifyWebhookSecret secret.")]
    NotConfigured,
    #[error("The Shopify webhook secret cannot be read right now; Shopify will deliver this webhook again.")]
    SecretUnavailable(#[source] SecretError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl Refusal {
    fn into_response(self) -> Response<Body> {
        let error = |status, code: &str, message: String| {
            tracking_http::error_response(status, tracking_http::ErrorBody::new(code, &message))
        };
        match self {
            Self::InvalidSignature(message) => error(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                message.to_owned(),
            ),
            Self::NotConfigured => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "shopify_not_configured",
                self.to_string(),
            ),
            Self::SecretUnavailable(ref cause) => {
                tracing::error!(error = %cause, "webhook secret unavailable");
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shopify_secret_unavailable",
                    self.to_string(),
                )
            }
            Self::Api(error) => error.into_response(),
        }
    }
}

/// The answer to a webhook delivery already processed: nothing was written.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct DuplicateDelivery<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    /// Always `true`.
    pub duplicate_delivery: bool,
}

impl StoreWebhooks {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`,
    /// the tests and the local runner all build it here, so they cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        let webhooks = WebhookConfig::from_lookup(env, SecretsManager::from_sdk(sdk))?;
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            webhooks,
        ))
    }
}

impl<S: Orders + WebhookDeliveries> StoreWebhooks<S> {
    pub fn new(store: S, config: WebhookConfig) -> Self {
        Self { store, config }
    }

    /// The same handler over another store (tests count the requests it makes).
    pub fn with_store<T: Orders + WebhookDeliveries>(self, store: T) -> StoreWebhooks<T> {
        StoreWebhooks {
            store,
            config: self.config,
        }
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
        let secrets = self
            .config
            .secrets
            .versions()
            .await
            .map_err(Refusal::SecretUnavailable)?;
        if secrets.current.is_none() {
            return Err(Refusal::NotConfigured);
        }
        let body = tracking_http::body_bytes(request);
        if body.len() > MAX_WEBHOOK_BYTES {
            return Err(ApiError::PayloadTooLarge.into());
        }
        let signature = header(request, "x-shopify-hmac-sha256").ok_or(
            Refusal::InvalidSignature("The webhook has no X-Shopify-Hmac-Sha256 signature."),
        )?;
        let signed_by_us = secrets
            .each()
            .flatten()
            .any(|secret| signature::verify(&secret.0, body, signature));
        if !signed_by_us {
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
        let triggered_at = fresh_triggered_at(request, now)?;
        let delivery = delivery_key(request, &shop)?;
        if let Some(key) = &delivery {
            if let Some(done) = self
                .store
                .webhook_delivery(key)
                .await
                .map_err(ApiError::from)?
            {
                tracing::info!(order_id = %done.order_id, "delivery already processed: nothing written");
                return Ok(json_response(
                    StatusCode::OK,
                    &DuplicateDelivery {
                        order_id: &done.order_id,
                        order_number: &done.order_number,
                        duplicate_delivery: true,
                    },
                ));
            }
        }
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
            let (status, order) = match self
                .store
                .create_order(order)
                .await
                .map_err(ApiError::from)?
            {
                CreateOutcome::Created(order) => {
                    tracing::info!("order created from Shopify");
                    (StatusCode::CREATED, order)
                }
                CreateOutcome::AlreadyExists(order) => {
                    tracing::info!("redelivered webhook: order already exists");
                    (StatusCode::OK, order)
                }
                CreateOutcome::Conflict(existing) => {
                    let (code, message) = existing.details.identity_conflict(&existing.order_id);
                    return Err(ApiError::conflict(code, message));
                }
            };
            if let Some(key) = &delivery {
                self.record_delivery(key, &order, triggered_at, now).await;
            }
            Ok(json_response(status, &views::order_summary(&order)))
        }
        .instrument(span)
        .await
        .map_err(Refusal::from)
    }
}

impl<S: Orders + WebhookDeliveries> StoreWebhooks<S> {
    /// Remembers that this delivery made `order`. A failure here is logged, not answered:
    /// the order is in, and a retry of the delivery still lands on it (the order id is
    /// derived from the store's order id), so only the shortcut is lost, never an order.
    async fn record_delivery(
        &self,
        key: &DeliveryKey,
        order: &Order,
        triggered_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let newest = triggered_at.map_or(now, |at| at.max(now));
        let delivery = Delivery {
            order_id: order.order_id.clone(),
            order_number: order.details.order_number.clone(),
            processed_at: now,
            triggered_at,
            expires_at: (newest + chrono::Duration::hours(DELIVERY_RECORD_HOURS)).timestamp(),
        };
        if let Err(error) = self.store.record_webhook_delivery(key, delivery).await {
            tracing::error!(error = ?error, "could not record the webhook delivery; a retry will find the order instead");
        }
    }
}

/// `X-Shopify-Triggered-At`, refused when older than the window.
///
/// Missing or unreadable, the delivery is taken in (and logged): older API versions do
/// not send the header, and the header is not signed, so refusing its absence would lose
/// real orders while stopping no one who strips it. What protects against a replay
/// without it is the delivery record and the order id derived from Shopify's order id.
fn fresh_triggered_at(
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(raw) = header(request, "x-shopify-triggered-at") else {
        tracing::warn!("webhook has no X-Shopify-Triggered-At: taken in without an age check");
        return Ok(None);
    };
    let Ok(triggered_at) = DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)) else {
        tracing::warn!(
            triggered_at = raw,
            "unreadable X-Shopify-Triggered-At: taken in without an age check"
        );
        return Ok(None);
    };
    let age = now - triggered_at;
    if age > chrono::Duration::hours(MAX_DELIVERY_AGE_HOURS) {
        return Err(ApiError::Unprocessable {
            code: "stale_webhook",
            message: format!(
                "This delivery was triggered at {raw}, {} hours ago; deliveries older than {MAX_DELIVERY_AGE_HOURS} hours are not taken in (Shopify stops retrying long before).",
                age.num_hours()
            ),
            details: serde_json::json!({
                "triggered_at": triggered_at,
                "max_age_hours": MAX_DELIVERY_AGE_HOURS,
            }),
        });
    }
    Ok(Some(triggered_at))
}

/// The delivery's identity for deduplication, if it has one. A missing id is taken in
/// without the shortcut (the order id still makes it idempotent); an id that cannot be
/// Shopify's is refused before it becomes a key.
fn delivery_key(request: &Request, shop: &str) -> Result<Option<DeliveryKey>, ApiError> {
    let Some(webhook_id) = header(request, "x-shopify-webhook-id") else {
        tracing::warn!(
            "webhook has no X-Shopify-Webhook-Id: taken in without delivery deduplication"
        );
        return Ok(None);
    };
    if webhook_id.len() > MAX_WEBHOOK_ID_LEN
        || webhook_id.chars().any(|c| c.is_control() || c == '#')
    {
        return Err(ApiError::bad_request(
            "invalid_webhook_id",
            format!(
                "X-Shopify-Webhook-Id must be at most {MAX_WEBHOOK_ID_LEN} printable characters."
            ),
        ));
    }
    Ok(Some(DeliveryKey {
        platform: "shopify",
        shop: shop.to_owned(),
        webhook_id: webhook_id.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use tracking_aws::secrets::FixedSecrets;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shopify";

    #[tokio::test]
    async fn no_secret_is_a_deployment_without_shopify_not_a_failed_start() {
        let config = WebhookConfig::from_lookup(|_| None, FixedSecrets::new([])).unwrap();
        assert!(config.secrets.current().await.unwrap().is_none());
        let empty = WebhookConfig::from_lookup(
            |name| match name {
                "SHOPIFY_WEBHOOK_SECRET_ARN" => Some(ARN.into()),
                "SHOPIFY_SHOPS" => Some("{}".into()),
                _ => None,
            },
            FixedSecrets::new([(ARN, r#"{"client_secret": "  "}"#, None)]),
        )
        .unwrap();
        assert!(empty.secrets.current().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn secret_is_read_on_first_use_and_never_printed() {
        let config = WebhookConfig::from_lookup(
            |name| match name {
                "SHOPIFY_WEBHOOK_SECRET_ARN" => Some(ARN.into()),
                "SHOPIFY_SHOPS" => Some(r#"{"Acme.myshopify.com": "merchant-acme"}"#.into()),
                _ => None,
            },
            FixedSecrets::new([(ARN, r#"{"client_secret": "hush"}"#, None)]),
        )
        .unwrap();
        let secret = config.secrets.current().await.unwrap();
        assert_eq!(
            secret.as_ref().as_ref().map(|s| s.0.as_slice()),
            Some(&b"hush"[..])
        );
        assert!(!format!("{config:?} {secret:?}").contains("hush"));
        assert_eq!(
            config.shops.get("acme.myshopify.com").map(String::as_str),
            Some("merchant-acme")
        );
    }

    #[test]
    fn the_secret_text_is_a_client_secret_object() {
        assert!(decode_webhook_secret(r#"{"client_secret": ""}"#)
            .unwrap()
            .is_none());
        for broken in ["hush", r#"{"secret": "hush"}"#, r#"{"client_secret": 1}"#] {
            let error = decode_webhook_secret(broken).unwrap_err();
            assert!(error.contains("client_secret"), "{broken}: {error}");
        }
    }

    #[test]
    fn a_broken_shop_map_fails_fast() {
        for broken in ["acme=merchant", r#"{"": "merchant"}"#] {
            let env = |name: &str| (name == "SHOPIFY_SHOPS").then(|| broken.to_owned());
            let error = WebhookConfig::from_lookup(env, FixedSecrets::new([])).unwrap_err();
            assert!(
                error.to_string().contains("SHOPIFY_SHOPS"),
                "{broken}: {error}"
            );
        }
    }
}
