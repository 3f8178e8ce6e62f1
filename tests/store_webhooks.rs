//! Shopify webhook intake: delivery deduplication, the age window, store order identity,
//! and a deployment without Shopify.

use chrono::{DateTime, Duration, Utc};
use local_stack::{read_response, ApiEvent, TestSecret, TestStack};
use serde_json::Value;
use store_webhooks::{StoreWebhooks, WebhookConfig, MAX_DELIVERY_AGE_HOURS};
use tracking_aws::store::webhooks::DeliveryKey;
use tracking_domain::order::OrderSource;

use crate::{order_body, Orders, WebhookDeliveries, CREATE_ORDER, SEARCH_ORDERS};

const SHOPIFY_ORDERS_CREATE: &str =
    include_str!("../events/store-webhooks/shopify-orders-create.json");
const SHOP: &str = "acme.myshopify.com";
const MERCHANT: &str = "merchant-acme";
const SAMPLE_WEBHOOK_ID: &str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";
const SAMPLE_GID: &str = "gid://shopify/Order/5531";

/// The sample's `X-Shopify-Triggered-At`.
fn triggered_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T14:41:08.112354Z")
        .unwrap()
        .with_timezone(&Utc)
}

async fn deliver(stack: &TestStack, event: &ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
    read_response(
        stack
            .store_webhooks()
            .await
            .handle(event.request(), now)
            .await,
    )
}

fn sample() -> ApiEvent {
    ApiEvent::from_json(SHOPIFY_ORDERS_CREATE)
}

fn with_header(mut event: ApiEvent, name: &str, value: Option<&str>) -> ApiEvent {
    let headers = event.0["headers"].as_object_mut().unwrap();
    match value {
        Some(value) => headers.insert(name.to_owned(), value.into()),
        None => headers.remove(name),
    };
    event
}

fn writes(stack: &TestStack) -> usize {
    [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ]
    .iter()
    .map(|op| stack.requests.get(op))
    .sum()
}

#[tokio::test]
async fn a_replayed_webhook_id_is_answered_200_and_writes_nothing() {
    let stack = TestStack::new().await;
    let now = triggered_at() + Duration::seconds(2);
    let (status, first) = deliver(&stack, &sample(), now).await;
    assert_eq!(status, 201, "{first}");

    let key = DeliveryKey {
        platform: "shopify",
        shop: SHOP.into(),
        webhook_id: SAMPLE_WEBHOOK_ID.into(),
    };
    let recorded = stack.store().webhook_delivery(&key).await.unwrap().unwrap();
    assert_eq!(recorded.order_id, first["order_id"].as_str().unwrap());
    assert_eq!(recorded.triggered_at, Some(triggered_at()));
    // Kept past the window, so a replay inside the window is always recognised.
    assert!(
        recorded.expires_at
            > (triggered_at() + Duration::hours(MAX_DELIVERY_AGE_HOURS)).timestamp(),
        "{recorded:?}"
    );

    // Shopify's retry (or anyone's replay) of that delivery, a day later.
    stack.requests.reset();
    let (status, again) = deliver(&stack, &sample(), now + Duration::hours(24)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(again["order_number"], "1001");
    assert_eq!(again["duplicate_delivery"], true);
    assert_eq!(writes(&stack), 0, "{:?}", stack.requests.snapshot());
    assert_eq!(stack.requests.get("GetItem"), 1);
    assert_eq!(
        stack.item_count().await,
        2,
        "the order and its delivery record"
    );

    // Another delivery of the same order (a new webhook id) still makes no second order.
    let other = with_header(sample(), "x-shopify-webhook-id", Some("a-new-delivery-id"));
    let (status, body) = deliver(&stack, &other, now + Duration::minutes(5)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_id"], first["order_id"]);
    assert_eq!(
        stack.item_count().await,
        3,
        "one order, two delivery records"
    );
}

#[tokio::test]
async fn an_order_written_without_its_delivery_record_is_found_and_recorded_by_the_retry() {
    // A crash after the order write and before the delivery record: the retry must not
    // lose or double the order, and records the delivery then.
    let stack = TestStack::new().await;
    let now = triggered_at() + Duration::seconds(2);
    let body: Value = serde_json::from_str(sample().0["body"].as_str().unwrap()).unwrap();
    let draft = serde_json::from_value::<store_webhooks::shopify_order::ShopifyOrder>(body)
        .unwrap()
        .into_draft()
        .parse()
        .unwrap();
    let order = tracking_domain::order::Order::new(MERCHANT, draft, now);
    stack.store().create_order(order.clone()).await.unwrap();

    let (status, retried) = deliver(&stack, &sample(), now + Duration::minutes(1)).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["order_id"], order.order_id.as_str());
    let (status, again) = deliver(&stack, &sample(), now + Duration::minutes(2)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate_delivery"], true);
    assert_eq!(stack.item_count().await, 2);
}

#[tokio::test]
async fn a_delivery_older_than_the_window_is_refused_and_shopifys_own_retries_are_not() {
    let stack = TestStack::new().await;
    // Shopify's last retry comes about 4 hours after the trigger, with the original time.
    let (status, body) = deliver(&stack, &sample(), triggered_at() + Duration::hours(4)).await;
    assert_eq!(status, 201, "{body}");

    let stack = TestStack::new().await;
    let late = triggered_at() + Duration::hours(MAX_DELIVERY_AGE_HOURS) + Duration::minutes(1);
    let (status, body) = deliver(&stack, &sample(), late).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "stale_webhook");
    assert_eq!(
        body["error"]["details"]["max_age_hours"],
        MAX_DELIVERY_AGE_HOURS
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("older than 72 hours"),
        "{body}"
    );
    assert_eq!(stack.item_count().await, 0);

    // No header (older API versions) or one we cannot read: taken in, and logged.
    for triggered in [None, Some("last tuesday")] {
        let stack = TestStack::new().await;
        let event = with_header(sample(), "x-shopify-triggered-at", triggered);
        let (status, body) = deliver(&stack, &event, late).await;
        assert_eq!(status, 201, "{triggered:?}: {body}");
    }
}

#[tokio::test]
async fn a_shopify_order_numbered_like_a_manual_order_is_taken_in_beside_it() {
    let stack = TestStack::new().await;
    let now = triggered_at() + Duration::seconds(2);
    let manual = ApiEvent::from_json(CREATE_ORDER)
        .merchant(MERCHANT)
        .body_json(&order_body("1001"));
    let (status, manual) = read_response(stack.orders_api().handle(manual.request(), now).await);
    assert_eq!(status, 201, "{manual}");

    let (status, shopify) = deliver(&stack, &sample(), now).await;
    assert_eq!(status, 201, "{shopify}");
    assert_eq!(shopify["order_number"], "1001");
    assert_ne!(shopify["order_id"], manual["order_id"]);
    // Shopify retrying with a fresh delivery id lands on the same Shopify order.
    let retry = with_header(sample(), "x-shopify-webhook-id", Some("retry-delivery"));
    let (status, again) = deliver(&stack, &retry, now + Duration::minutes(1)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["order_id"], shopify["order_id"]);

    let search = ApiEvent::from_json(SEARCH_ORDERS)
        .merchant(MERCHANT)
        .query(&[("q", "1001")]);
    let (status, found) = read_response(stack.orders_api().handle(search.request(), now).await);
    assert_eq!(status, 200, "{found}");
    let mut sources: Vec<_> = found["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["source"].as_str().unwrap().to_owned())
        .collect();
    sources.sort();
    assert_eq!(sources, ["manual", "shopify"]);
    let stored = stack
        .store()
        .get_order(shopify["order_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .order;
    assert_eq!(stored.details.source, OrderSource::Shopify);
    assert_eq!(
        stored.details.external_order_id.as_deref(),
        Some(SAMPLE_GID)
    );
}

#[tokio::test]
async fn post_orders_identifies_store_orders_by_store_order_id_and_stays_idempotent() {
    let stack = TestStack::new().await;
    let now = triggered_at();
    let post = |body: Value| {
        let stack = &stack;
        async move {
            let event = ApiEvent::from_json(CREATE_ORDER)
                .merchant(MERCHANT)
                .body_json(&body);
            read_response(stack.orders_api().handle(event.request(), now).await)
        }
    };
    let (status, manual) = post(order_body("2001")).await;
    assert_eq!(status, 201, "{manual}");
    let mut amazon = order_body("2001");
    amazon["source"] = "amazon".into();
    amazon["external_order_id"] = "902-0300094-5705420".into();
    let (status, created) = post(amazon.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_ne!(created["order_id"], manual["order_id"]);

    let (status, retried) = post(amazon.clone()).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["order_id"], created["order_id"]);

    let mut changed = amazon.clone();
    changed["ship_to"]["line1"] = "9 Elm St".into();
    let (status, conflict) = post(changed).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "store_order_taken");

    // The merchant's own numbering keeps its rule.
    let mut manual_changed = order_body("2001");
    manual_changed["ship_to"]["line1"] = "9 Elm St".into();
    let (status, conflict) = post(manual_changed).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"]["code"], "order_number_taken");
    assert_eq!(stack.item_count().await, 2);
}

#[tokio::test]
async fn a_deployment_without_shopify_starts_and_answers_the_route_503() {
    let stack = TestStack::new().await;
    // The template's defaults: the secret as created (no client secret), no shops.
    let config = WebhookConfig::from_lookup(
        |name| match name {
            "SHOPIFY_WEBHOOK_SECRET_ARN" => Some("arn:shopify".into()),
            "SHOPIFY_SHOPS" => Some("{}".into()),
            _ => None,
        },
        tracking_aws::secrets::FixedSecrets::new([(
            "arn:shopify",
            r#"{"client_secret": ""}"#,
            None,
        )]),
    )
    .expect("no Shopify is a valid deployment");
    let handler = StoreWebhooks::new(stack.store(), config);
    let (status, body) = read_response(handler.handle(sample().request(), triggered_at()).await);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "shopify_not_configured");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ShopifyWebhookSecret"));
    assert_eq!(stack.requests.total(), 0, "not one request to the table");
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn an_implausible_webhook_id_is_refused_before_it_becomes_a_key() {
    let stack = TestStack::new().await;
    let long = "x".repeat(129);
    let event = with_header(sample(), "x-shopify-webhook-id", Some(&long));
    let (status, body) = deliver(&stack, &event, triggered_at()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_webhook_id");
    assert_eq!(stack.item_count().await, 0);
}

/// The sample delivery under another webhook id, its body signed with `secret`.
fn signed_with(secret: &str, webhook_id: &str) -> ApiEvent {
    let event = with_header(sample(), "x-shopify-webhook-id", Some(webhook_id));
    let body = event.0["body"].as_str().unwrap().to_owned();
    let signature = store_webhooks::signature::sign(secret.as_bytes(), body.as_bytes());
    with_header(event, "x-shopify-hmac-sha256", Some(&signature))
}

/// The handler reading its secret from the local stack's Secrets Manager, uncached, so
/// each rotation is seen at once.
async fn webhooks_reading(stack: &TestStack, secret_arn: &str) -> StoreWebhooks {
    let secrets = tracking_aws::secrets::CachedSecret::new(
        TestSecret::source().await,
        secret_arn,
        store_webhooks::decode_webhook_secret,
    )
    .with_ttl(std::time::Duration::ZERO);
    StoreWebhooks::new(
        stack.store(),
        WebhookConfig {
            secrets: std::sync::Arc::new(secrets),
            shops: [(SHOP.to_owned(), MERCHANT.to_owned())].into(),
        },
    )
}

#[tokio::test]
async fn during_a_secret_rotation_deliveries_signed_with_either_value_are_taken() {
    let stack = TestStack::new().await;
    let secret = TestSecret::create(r#"{"client_secret": ""}"#).await;
    let handler = webhooks_reading(&stack, &secret.arn).await;
    let now = triggered_at() + Duration::seconds(2);
    let deliver = |event: ApiEvent| {
        let handler = &handler;
        async move { read_response(handler.handle(event.request(), now).await) }
    };

    // As the template creates it: no app yet.
    let (status, body) = deliver(signed_with("", "delivery-0")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &"shopify_not_configured".into())
    );

    secret.put(r#"{"client_secret": "first-app-secret"}"#).await;
    let (status, body) = deliver(signed_with("first-app-secret", "delivery-1")).await;
    assert_eq!(status, 201, "{body}");

    // Rotated in the Partner Dashboard and here: Shopify's retries of deliveries signed
    // before still carry the old signature.
    secret
        .put(r#"{"client_secret": "second-app-secret"}"#)
        .await;
    for (signer, webhook_id) in [
        ("first-app-secret", "delivery-2"),
        ("second-app-secret", "delivery-3"),
    ] {
        let (status, body) = deliver(signed_with(signer, webhook_id)).await;
        assert_eq!(status, 200, "{signer}: {body}");
        assert_eq!(
            body["order_number"], "1001",
            "the order the first delivery made"
        );
    }

    secret.put(r#"{"client_secret": "third-app-secret"}"#).await;
    stack.requests.reset();
    let (status, body) = deliver(signed_with("first-app-secret", "delivery-4")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &"invalid_signature".into())
    );
    assert_eq!(stack.requests.total(), 0, "refused before the table");
    // The order, and one delivery record per accepted delivery.
    assert_eq!(stack.item_count().await, 4);
}

#[tokio::test]
async fn an_unreadable_webhook_secret_is_a_503_shopify_retries_and_writes_nothing() {
    let stack = TestStack::new().await;
    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        local_stack::unique_merchant("never-created")
    );
    let handler = webhooks_reading(&stack, &missing).await;
    let (status, body) = read_response(
        handler
            .handle(sample().request(), triggered_at() + Duration::seconds(2))
            .await,
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "shopify_secret_unavailable");
    assert!(!body.to_string().contains(&missing), "{body}");
    assert_eq!(stack.requests.total(), 0);
    assert_eq!(stack.item_count().await, 0);
}
