//! The orders API's branches against the in-memory store: no local stack needed. The
//! integration tests drive the same routes against DynamoDB.

use chrono::{DateTime, Duration, TimeZone, Utc};
use orders_api::OrdersApi;
use serde_json::{json, Value};
use tracking_aws::contract::labeled_order;
use tracking_aws::memory::MemoryStore;
use tracking_aws::Config;
use tracking_domain::carriers::Carrier;
use tracking_http::testing::{read_response, ApiEvent};

const CREATE_ORDER: &str = include_str!("../../../events/orders-api/create-order.json");
const LIST_ORDERS: &str = include_str!("../../../events/orders-api/list-orders.json");
const GET_ORDER: &str = include_str!("../../../events/orders-api/get-order.json");
const SEARCH_ORDERS: &str = include_str!("../../../events/orders-api/search-orders.json");

/// Tuesday 2026-11-24 10:00 CST.
fn tuesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap()
}

fn api(store: &MemoryStore) -> OrdersApi<MemoryStore> {
    let config =
        Config::from_lookup(|name: &str| (name == "TRACKING_TABLE").then(|| "memory".to_owned()))
            .unwrap();
    OrdersApi::new(store.clone(), config)
}

fn order_body(order_number: &str) -> Value {
    let mut body: Value = serde_json::from_str(
        ApiEvent::from_json(CREATE_ORDER).0["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    body["order_number"] = order_number.into();
    body
}

async fn send(store: &MemoryStore, event: ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
    read_response(api(store).handle(event.request(), now).await)
}

async fn create(store: &MemoryStore, merchant: &str, number: &str, at: DateTime<Utc>) -> Value {
    let event = ApiEvent::from_json(CREATE_ORDER)
        .merchant(merchant)
        .body_json(&order_body(number));
    let (status, body) = send(store, event, at).await;
    assert_eq!(status, 201, "{body}");
    body
}

fn order_numbers(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_order_is_created_once_and_its_number_is_not_taken_twice() {
    let store = MemoryStore::new();
    let first = create(&store, "merchant-acme", "1001", tuesday()).await;
    assert_eq!(
        (first["status"].as_str(), first["shipment_status"].as_str()),
        (Some("Processing"), Some("received"))
    );
    let items = store.item_count();
    let retry = ApiEvent::from_json(CREATE_ORDER).body_json(&order_body("1001"));
    let (status, again) = send(&store, retry, tuesday() + Duration::minutes(5)).await;
    assert_eq!(
        (status, &again["order_id"], &again["created_at"]),
        (200, &first["order_id"], &first["created_at"])
    );
    let mut other = order_body("1001");
    other["customer"]["name"] = "Someone Else".into();
    let (status, body) = send(
        &store,
        ApiEvent::from_json(CREATE_ORDER).body_json(&other),
        tuesday(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("order_number_taken"))
    );
    assert_eq!(
        store.item_count(),
        items,
        "neither the retry nor the conflict wrote"
    );
}

#[tokio::test]
async fn bad_input_and_missing_identity_are_refused_and_write_nothing() {
    let store = MemoryStore::new();
    let mut body = order_body("1002");
    body["customer"]["email"] = "not an address".into();
    body["ship_to"] = json!({});
    let (status, answer) = send(
        &store,
        ApiEvent::from_json(CREATE_ORDER).body_json(&body),
        tuesday(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (422, json!("validation_failed"))
    );
    let (status, answer) = send(
        &store,
        ApiEvent::from_json(CREATE_ORDER).body_text("{"),
        tuesday(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = send(
        &store,
        ApiEvent::from_json(CREATE_ORDER).without_authorizer(),
        tuesday(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (401, json!("unauthenticated"))
    );
    assert_eq!(store.item_count(), 0);
}

#[tokio::test]
async fn the_list_is_one_merchants_newest_first_and_its_cursor_works_for_that_list_only() {
    let store = MemoryStore::new();
    for n in 0..5 {
        create(
            &store,
            "merchant-acme",
            &format!("L{n}"),
            tuesday() + Duration::minutes(n),
        )
        .await;
    }
    create(&store, "someone-else", "X1", tuesday()).await;
    let list = |query: &[(&str, &str)]| ApiEvent::from_json(LIST_ORDERS).query(query);
    let (status, first) = send(&store, list(&[("limit", "3")]), tuesday()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(order_numbers(&first), ["L4", "L3", "L2"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = send(
        &store,
        list(&[("limit", "3"), ("cursor", &cursor)]),
        tuesday(),
    )
    .await;
    assert_eq!(order_numbers(&second), ["L1", "L0"]);
    let theirs = list(&[("limit", "3"), ("cursor", &cursor)]).merchant("someone-else");
    let (status, body) = send(&store, theirs, tuesday()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("invalid_cursor"))
    );
}

#[tokio::test]
async fn details_and_search_find_only_the_callers_orders() {
    let store = MemoryStore::new();
    let order_id = labeled_order(
        &store,
        "merchant-acme",
        "A-7",
        Carrier::Ups,
        "1Z999AA10123456784",
        tuesday(),
    )
    .await;
    let details = ApiEvent::from_json(GET_ORDER).path_param("order_id", &order_id);
    let (status, body) = send(&store, details.clone(), tuesday()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_number"], "A-7");
    let (status, body) = send(&store, details.merchant("someone-else"), tuesday()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("order_not_found"))
    );
    let search = |term: &str| ApiEvent::from_json(SEARCH_ORDERS).query(&[("q", term)]);
    let (status, found) = send(&store, search("1z999aa1 0123456784"), tuesday()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(order_numbers(&found), ["A-7"]);
    let (_, nothing) = send(
        &store,
        search("1Z999AA10123456784").merchant("someone-else"),
        tuesday(),
    )
    .await;
    assert!(order_numbers(&nothing).is_empty());
}

#[tokio::test]
async fn a_store_that_fails_answers_500_and_names_no_detail() {
    let store = MemoryStore::new();
    let order_id = labeled_order(
        &store,
        "merchant-acme",
        "F-1",
        Carrier::Ups,
        "1Z999AA10123456784",
        tuesday(),
    )
    .await;
    store.fail_order(&order_id);
    let (status, body) = send(
        &store,
        ApiEvent::from_json(GET_ORDER).path_param("order_id", &order_id),
        tuesday(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (500, json!("internal_error"))
    );
    assert!(!body.to_string().contains("injected"));
}

/// Found by Schemathesis: a search quietly dropped the filters beside it, and counted its
/// 64-character limit in bytes while the document counts characters.
#[tokio::test]
async fn a_search_checks_and_applies_the_filters_given_with_it() {
    let store = MemoryStore::new();
    labeled_order(
        &store,
        "merchant-acme",
        "A-7",
        Carrier::Ups,
        "1Z999AA10123456784",
        tuesday(),
    )
    .await;
    let search = |pairs: &[(&str, &str)]| ApiEvent::from_json(SEARCH_ORDERS).query(pairs);
    for (filter, value, code) in [
        ("status", "Shipped", "invalid_status"),
        ("shipment_status", "teleported", "invalid_shipment_status"),
    ] {
        let (status, body) =
            send(&store, search(&[("q", "A-7"), (filter, value)]), tuesday()).await;
        assert_eq!((status, body["error"]["code"].clone()), (400, json!(code)));
    }
    for (value, expected) in [("Completed", &[][..]), ("processing", &["A-7"][..])] {
        let (_, found) = send(
            &store,
            search(&[("q", "A-7"), ("status", value)]),
            tuesday(),
        )
        .await;
        assert_eq!(order_numbers(&found), expected, "{found}");
    }
    let filtered = |status: &'static str| search(&[("q", "A-7"), ("shipment_status", status)]);
    let (_, delivered) = send(&store, filtered("delivered"), tuesday()).await;
    assert!(order_numbers(&delivered).is_empty(), "{delivered}");
    let (_, at_depot) = send(&store, filtered("at_depot"), tuesday()).await;
    assert_eq!(order_numbers(&at_depot), ["A-7"]);
    let (status, _) = send(&store, search(&[("q", &"é".repeat(64))]), tuesday()).await;
    assert_eq!(status, 200);
    let (status, body) = send(&store, search(&[("q", &"é".repeat(65))]), tuesday()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("invalid_query"))
    );
}

/// Found by Schemathesis: `?cursor=` (an empty form field) was refused as a bad cursor.
#[tokio::test]
async fn an_empty_cursor_is_the_first_page() {
    let store = MemoryStore::new();
    create(&store, "merchant-acme", "1001", tuesday()).await;
    let (status, page) = send(
        &store,
        ApiEvent::from_json(LIST_ORDERS).query(&[("cursor", "")]),
        tuesday(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(order_numbers(&page), ["1001"]);
}

/// Found by Schemathesis: a 64-character id of multi-byte characters was refused as too
/// long; the document (and now the check) counts characters.
#[tokio::test]
async fn a_path_id_is_measured_in_characters() {
    let store = MemoryStore::new();
    let details = |id: &str| ApiEvent::from_json(GET_ORDER).path_param("order_id", id);
    let (status, body) = send(&store, details(&"𝑻".repeat(64)), tuesday()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("order_not_found"))
    );
    let (status, body) = send(&store, details(&"𝑻".repeat(65)), tuesday()).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("missing_path_parameter"))
    );
}

/// The API document is served as committed, without a login.
#[tokio::test]
async fn the_api_document_is_public() {
    let store = MemoryStore::new();
    let event = ApiEvent::from_json(include_str!(
        "../../../events/orders-api/get-api-document.json"
    ));
    let (status, document) = send(&store, event, tuesday()).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/orders/{order_id}/label"]["post"].is_object());
}
