//! The Shopify webhook's branches against the in-memory store: no local stack needed.
//! The integration tests take the same deliveries into DynamoDB, with the secret read
//! from Secrets Manager.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use store_webhooks::{StoreWebhooks, WebhookConfig, WebhookSecret};
use tracking_aws::memory::MemoryStore;
use tracking_http::testing::{read_response, ApiEvent};

const SHOPIFY_ORDERS_CREATE: &str =
    include_str!("../../../events/store-webhooks/shopify-orders-create.json");
/// The secret the sample webhook is signed with (see events/store-webhooks/README.md).
const TEST_SECRET: &str = "tracking-local-shopify-webhook-secret";

/// The sample's `X-Shopify-Triggered-At`, and two seconds later.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T14:41:10Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn webhooks(store: &MemoryStore) -> StoreWebhooks<MemoryStore> {
    StoreWebhooks::new(
        store.clone(),
        WebhookConfig {
            secrets: WebhookSecret::fixed(TEST_SECRET),
            shops: [("acme.myshopify.com".to_owned(), "merchant-acme".to_owned())].into(),
        },
    )
}

fn with_header(mut event: ApiEvent, name: &str, value: &str) -> ApiEvent {
    event.0["headers"][name] = value.into();
    event
}

async fn deliver(store: &MemoryStore, event: ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
    read_response(webhooks(store).handle(event.request(), now).await)
}

#[tokio::test]
async fn a_signed_order_is_taken_in_once_however_often_shopify_delivers_it() {
    let store = MemoryStore::new();
    let sample = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    let (status, first) = deliver(&store, sample.clone(), now()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(store.item_count(), 2, "the order and its delivery record");
    let (status, again) = deliver(&store, sample.clone(), now() + Duration::hours(1)).await;
    assert_eq!((status, &again["order_id"]), (200, &first["order_id"]));
    assert_eq!(again["duplicate_delivery"], true);
    assert_eq!(store.item_count(), 2);
    // Another delivery id for the same order finds the order and makes no second one.
    let other = with_header(sample, "x-shopify-webhook-id", "another-delivery");
    let (status, body) = deliver(&store, other, now() + Duration::minutes(5)).await;
    assert_eq!((status, &body["order_id"]), (200, &first["order_id"]));
    assert_eq!(store.item_count(), 3, "one order, two delivery records");
}

#[tokio::test]
async fn a_bad_signature_an_unknown_shop_or_an_old_delivery_is_refused_and_writes_nothing() {
    let store = MemoryStore::new();
    let sample = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    let forged = with_header(
        sample.clone(),
        "x-shopify-hmac-sha256",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let (status, body) = deliver(&store, forged, now()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("invalid_signature"))
    );
    let mut tampered = sample.clone();
    tampered.0["body"] = tampered.0["body"]
        .as_str()
        .unwrap()
        .replace("1001", "1002")
        .into();
    let (status, _) = deliver(&store, tampered, now()).await;
    assert_eq!(status, 401);
    let unknown_shop = with_header(
        sample.clone(),
        "x-shopify-shop-domain",
        "elsewhere.myshopify.com",
    );
    let (status, body) = deliver(&store, unknown_shop, now()).await;
    assert!((400..500).contains(&status), "{status} {body}");
    let (status, body) = deliver(&store, sample, now() + Duration::days(30)).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(store.item_count(), 0);
}
