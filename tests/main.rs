//! Integration tests: the functions' handlers, driven with the events in `events/`,
//! through the real AWS SDK against the local AWS stack.

mod claims;
mod contract;
mod events;
mod labels;
mod nightly;
mod notifications;
mod orders;
mod packages;
mod platform_sync;
mod scans;
mod store;
mod store_webhooks;

use chrono::{DateTime, TimeZone, Utc};
use local_stack::ApiEvent;
// Every store port, so each test module calls the store as the functions do.
pub use tracking_aws::ports::*;

pub const CREATE_ORDER: &str = include_str!("../events/orders-api/create-order.json");
pub const IMPORT_ORDERS: &str = include_str!("../events/orders-api/import-orders.json");
pub const LIST_ORDERS: &str = include_str!("../events/orders-api/list-orders.json");
pub const SEARCH_ORDERS: &str = include_str!("../events/orders-api/search-orders.json");
pub const GET_ORDER: &str = include_str!("../events/orders-api/get-order.json");
pub const UPLOAD_LABEL: &str = include_str!("../events/label-upload/upload-label.json");

/// Tuesday 2026-11-24 10:00 CST.
pub fn tuesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap()
}

pub fn order_body(order_number: &str) -> serde_json::Value {
    let mut body: serde_json::Value = serde_json::from_str(
        ApiEvent::from_json(CREATE_ORDER).0["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    body["order_number"] = order_number.into();
    body
}

/// Creates an order through the API and returns its id.
pub async fn create_order(
    stack: &local_stack::TestStack,
    merchant: &str,
    order_number: &str,
    at: DateTime<Utc>,
) -> String {
    let event = ApiEvent::from_json(CREATE_ORDER)
        .merchant(merchant)
        .body_json(&order_body(order_number));
    let (status, body) =
        local_stack::read_response(stack.orders_api().handle(event.request(), at).await);
    assert_eq!(status, 201, "{body}");
    body["order_id"].as_str().unwrap().to_owned()
}

/// An order of merchant-acme numbered `order_number`, created two hours before `at` and
/// labeled at `at` with UPS `tracking_number`, through the API; its id.
pub async fn labeled_order(
    stack: &local_stack::TestStack,
    order_number: &str,
    tracking_number: &str,
    at: DateTime<Utc>,
) -> String {
    let order_id = create_order(
        stack,
        "merchant-acme",
        order_number,
        at - chrono::Duration::hours(2),
    )
    .await;
    let (status, body) = upload_label(stack, &order_id, "ups", tracking_number, at).await;
    assert_eq!(status, 201, "{body}");
    order_id
}

/// Uploads a label through the API (as operations) and returns the status and body.
pub async fn upload_label(
    stack: &local_stack::TestStack,
    order_id: &str,
    carrier: &str,
    tracking_number: &str,
    at: DateTime<Utc>,
) -> (u16, serde_json::Value) {
    let event = ApiEvent::from_json(UPLOAD_LABEL).path_param("order_id", order_id).body_json(&serde_json::json!({
        "carrier": carrier, "service": "ground", "tracking_number": tracking_number, "label_source": "jetpack"
    }));
    local_stack::read_response(stack.label_upload().handle(event.request(), at).await)
}
