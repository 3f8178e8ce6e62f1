//! The `./dev run` demo: a short journey through the real handlers, the real SDK and
//! the local AWS stack, printed as the timeline a merchant would read.

use chrono::{Duration, Utc};
use integration_tests::{read_response, ApiEvent};
use label_upload::LabelUpload;
use orders_api::OrdersApi;
use serde_json::{json, Value};
use tracking_aws::{Config, OrderStore};

const CREATE_ORDER: &str = include_str!("../events/orders-api/create-order.json");
const IMPORT_ORDERS: &str = include_str!("../events/orders-api/import-orders.json");
const LIST_ORDERS: &str = include_str!("../events/orders-api/list-orders.json");
const SEARCH_ORDERS: &str = include_str!("../events/orders-api/search-orders.json");
const GET_ORDER: &str = include_str!("../events/orders-api/get-order.json");
const UPLOAD_LABEL: &str = include_str!("../events/label-upload/upload-label.json");

fn step(text: &str) {
    eprintln!("\x1b[1m==> {text}\x1b[0m");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let store = OrderStore::from_sdk(&sdk, &config.table_name);
    let orders = OrdersApi::new(store.clone(), config.clone());
    let labels = LabelUpload::new(store);
    let merchant = format!("demo-{}", Utc::now().format("%H%M%S"));
    let start = tracking_aws::now() - Duration::days(1);

    step("creating a manual order (POST /orders)");
    let event = ApiEvent::from_json(CREATE_ORDER).merchant(&merchant);
    let (status, manual) = read_response(orders.handle(event.request(), start).await);
    println!("    {status} {}", manual["order_id"]);
    let (status, _) = read_response(orders.handle(event.request(), start).await);
    println!("    retried: {status} (same order, nothing written)");

    step("importing a spreadsheet (POST /orders/import)");
    let event = ApiEvent::from_json(IMPORT_ORDERS).merchant(&merchant);
    let (_, import) = read_response(
        orders
            .handle(event.request(), start + Duration::minutes(5))
            .await,
    );
    let imported_id = import["rows"][0]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for row in import["rows"].as_array().into_iter().flatten() {
        let errors: Vec<String> = row["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} {}",
                    e["field"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!(
            "    row {}: {} {}",
            row["row"],
            row["result"].as_str().unwrap_or(""),
            errors.join("; ")
        );
    }

    step("receiving a Shopify order (POST /orders)");
    let mut body: Value = serde_json::from_str(
        ApiEvent::from_json(CREATE_ORDER).0["body"]
            .as_str()
            .unwrap_or("{}"),
    )?;
    body["order_number"] = json!("#SHOP-5531");
    body["source"] = json!("shopify");
    body["external_order_id"] = json!("gid://shopify/Order/5531");
    let event = ApiEvent::from_json(CREATE_ORDER)
        .merchant(&merchant)
        .body_json(&body);
    let (_, shopify) = read_response(
        orders
            .handle(event.request(), start + Duration::minutes(10))
            .await,
    );

    step("operations upload labels (POST /orders/{order_id}/label)");
    let manual_id = manual["order_id"].as_str().unwrap_or_default().to_owned();
    let shopify_id = shopify["order_id"].as_str().unwrap_or_default().to_owned();
    let uploads = [
        (&manual_id, "ups", "1Z999AA10123456784"),
        (&shopify_id, "usps", "9400111899223197428497"),
    ];
    for (order_id, carrier, number) in uploads {
        let event = ApiEvent::from_json(UPLOAD_LABEL).path_param("order_id", order_id).body_json(&json!({
            "carrier": carrier, "service": "ground", "tracking_number": number, "label_source": "jetpack"
        }));
        let (status, label) = read_response(
            labels
                .handle(event.request(), start + Duration::hours(3))
                .await,
        );
        println!(
            "    {status} {carrier} {number}: completes at {}",
            label["completes_at"]
        );
    }
    let event = ApiEvent::from_json(UPLOAD_LABEL).path_param("order_id", &imported_id).body_json(&json!({
        "carrier": "ups", "service": "ground", "tracking_number": "1Z999AA10123456784", "label_source": "jetpack"
    }));
    let (status, refused) = read_response(
        labels
            .handle(event.request(), start + Duration::hours(3))
            .await,
    );
    println!(
        "    {status} reusing a tracking number: {}",
        refused["error"]["message"]
    );

    step("listing Processing orders, newest first (GET /orders?status=Processing)");
    let event = ApiEvent::from_json(LIST_ORDERS).merchant(&merchant);
    let (_, list) = read_response(orders.handle(event.request(), tracking_aws::now()).await);
    for order in list["orders"].as_array().into_iter().flatten() {
        println!(
            "    {:<12} {:<10} {:<12} {}",
            order["order_number"].as_str().unwrap_or(""),
            order["status"].as_str().unwrap_or(""),
            order["shipment_status"].as_str().unwrap_or(""),
            order["tracking_number"].as_str().unwrap_or("-")
        );
    }

    step("searching by tracking number (GET /orders?q=1Z 999 AA1 0123 4567 84)");
    let event = ApiEvent::from_json(SEARCH_ORDERS)
        .merchant(&merchant)
        .query(&[("q", "1Z 999 AA1 0123 4567 84")]);
    let (_, found) = read_response(orders.handle(event.request(), tracking_aws::now()).await);
    println!("    found order {}", found["orders"][0]["order_number"]);

    for order_id in [&manual_id, &shopify_id] {
        let event = ApiEvent::from_json(GET_ORDER)
            .merchant(&merchant)
            .path_param("order_id", order_id);
        let (_, details) = read_response(orders.handle(event.request(), tracking_aws::now()).await);
        print_details(&details);
    }
    Ok(())
}

fn local(value: &Value) -> String {
    chrono::DateTime::parse_from_rfc3339(text(value))
        .map(|t| t.format("%a %b %-d %H:%M (UTC%:z)").to_string())
        .unwrap_or_else(|_| "-".to_owned())
}

fn chicago(value: &Value) -> String {
    chrono::DateTime::parse_from_rfc3339(text(value))
        .map(|t| {
            t.with_timezone(&tracking_domain::calendar::BUSINESS_TZ)
                .format("%a %b %-d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| "-".to_owned())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

fn print_details(details: &Value) {
    let shipment = &details["shipment"];
    println!();
    println!(
        "Order {}  ({})  {}  shipment: {}",
        text(&details["order_number"]),
        text(&details["source"]),
        text(&details["status"]),
        text(&details["shipment_status_label"])
    );
    println!(
        "  {} {} tracking {}  {}",
        text(&shipment["carrier_name"]),
        text(&shipment["service"]),
        text(&shipment["tracking_number"]),
        text(&shipment["tracking_url"])
    );
    println!(
        "  completes at {}; {}",
        chicago(&details["completes_at"]),
        text(&details["store_sync"]["message"])
    );
    println!("  {:<30} {:<24} event", "local time", "status");
    for row in details["timeline"].as_array().into_iter().flatten() {
        println!(
            "  {:<30} {:<24} {}",
            local(&row["local_time"]),
            text(&row["status_label"]),
            text(&row["description"])
        );
    }
}
