//! The demo journey, played through the runner's real paths: HTTP routes, the carrier
//! feed queue, the 06:00 CT run. It moves the runner's clock through a week and a half
//! of a realistic Thanksgiving-week journey, then prints each order's timeline.

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use tracking_domain::calendar::{chicago_time_at, BUSINESS_TZ};

use crate::runtime::Runtime;

const CARRIER_FEED: &str =
    include_str!("../../../../../events/scan-ingest/carrier-feed-batch.json");
const IMPORT_ORDERS: &str = include_str!("../../../../../events/orders-api/import-orders.json");
const SHOPIFY_WEBHOOK: &str =
    include_str!("../../../../../events/store-webhooks/shopify-orders-create.json");

const MERCHANT: &str = "dev.demo-merchant.merchant";
const OPERATIONS: &str = "dev.jetpack-ops.operations";

fn ct(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
    chicago_time_at(
        NaiveDate::from_ymd_opt(2026, month, day).unwrap_or_default(),
        hour,
        minute,
    )
}

fn step(text: &str) {
    eprintln!("\x1b[1m==> {text}\x1b[0m");
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("call {path}"))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.call(
            reqwest::Method::POST,
            path,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> anyhow::Result<Value> {
        let (status, body) = self.call(reqwest::Method::GET, path, token, None).await?;
        if status != 200 {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn set_clock(&self, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.post("/_local/clock", "", &json!({"now": at})).await?;
        eprintln!(
            "    (clock: {})",
            at.with_timezone(&BUSINESS_TZ).format("%a %b %-d %H:%M %Z")
        );
        Ok(())
    }
}

/// `customer` is (name, email); `place` is (city, state, postal code).
fn order_body(
    number: &str,
    source: &str,
    external_id: Option<&str>,
    customer: (&str, &str),
    place: (&str, &str, &str),
) -> Value {
    json!({
        "order_number": number, "source": source, "external_order_id": external_id,
        "customer": {"name": customer.0, "email": customer.1},
        "ship_to": {"line1": "100 Congress Ave", "city": place.0, "state": place.1, "postal_code": place.2, "country": "US"}
    })
}

pub async fn play(base_url: &str, runtime: &Runtime) -> anyhow::Result<()> {
    let client = Client {
        http: reqwest::Client::new(),
        base: base_url.to_owned(),
    };

    step("Wednesday before Thanksgiving: orders arrive");
    client.set_clock(ct(25, 8, 0)).await?;
    let (status, manual) = client
        .post(
            "/orders",
            MERCHANT,
            &order_body(
                "1000",
                "manual",
                None,
                ("Ada Lovelace", "ada@example.com"),
                ("Austin", "TX", "78701"),
            ),
        )
        .await?;
    println!("    POST /orders (manual 1000): {status}");
    let (status, _) = client
        .post(
            "/orders",
            MERCHANT,
            &order_body(
                "1000",
                "manual",
                None,
                ("Ada Lovelace", "ada@example.com"),
                ("Austin", "TX", "78701"),
            ),
        )
        .await?;
    println!("    POST /orders again (a retry): {status}, same order, nothing written");
    let import: Value = serde_json::from_str(IMPORT_ORDERS)?;
    let csv = import["body"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let (status, imported) = client
        .call(
            reqwest::Method::POST,
            "/orders/import",
            MERCHANT,
            Some(("text/csv", csv)),
        )
        .await?;
    println!(
        "    POST /orders/import (spreadsheet): {status}: {} created, {} failed",
        imported["created"], imported["failed"]
    );
    for row in imported["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["result"] == "error")
    {
        let reasons: Vec<String> = row["errors"]
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
        println!("      row {}: {}", row["row"], reasons.join("; "));
    }
    // Shopify's orders/create webhook, signed with the shop's secret, exactly as recorded
    // in events/; Shopify retries webhooks, so it is delivered twice.
    let webhook: Value = serde_json::from_str(SHOPIFY_WEBHOOK)?;
    let mut shopify = Value::Null;
    for attempt in ["delivered", "retried by Shopify"] {
        let mut request = client
            .http
            .post(format!("{}/webhooks/shopify/orders-create", client.base))
            .header("content-type", "application/json")
            .body(webhook["body"].as_str().unwrap_or_default().to_owned());
        for (name, value) in webhook["headers"].as_object().into_iter().flatten() {
            if name.starts_with("x-shopify-") {
                request = request.header(name.as_str(), value.as_str().unwrap_or_default());
            }
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        shopify = response.json().await.unwrap_or(Value::Null);
        println!(
            "    POST /webhooks/shopify/orders-create ({attempt}): {status} order {}",
            text(&shopify["order_number"])
        );
    }

    let manual_id = manual["order_id"].as_str().context("order id")?.to_owned();
    let stalled_id = imported["rows"][0]["order_id"]
        .as_str()
        .context("imported order id")?
        .to_owned();
    let shopify_id = shopify["order_id"].as_str().context("order id")?.to_owned();

    step("the merchant's team subscribes to email alerts");
    let (status, _) = client
        .post(
            "/subscriptions",
            MERCHANT,
            &json!({"email": "ops@demo-merchant.example"}),
        )
        .await?;
    println!("    POST /subscriptions (every order) ops@demo-merchant.example: {status}");
    let (status, refused) = client
        .post(
            &format!("/orders/{manual_id}/subscriptions"),
            MERCHANT,
            &json!({"email": "Ada+alerts@Example.com"}),
        )
        .await?;
    println!(
        "    POST /orders/{{id}}/subscriptions with the customer's address: {status} {}",
        text(&refused["error"]["code"])
    );

    step("operations label three orders (POST /orders/{id}/label)");
    client.set_clock(ct(25, 10, 0)).await?;
    for (order_id, carrier, number) in [
        (&manual_id, "ups", "1Z999AA10123456784"),
        (&stalled_id, "ups", "1ZWX0692YP40636269"),
        (&shopify_id, "fedex", "568838414941"),
    ] {
        let (status, label) = client
            .post(&format!("/orders/{order_id}/label"), OPERATIONS, &json!({"carrier": carrier, "service": "ground", "tracking_number": number, "label_source": "jetpack"}))
            .await?;
        println!(
            "    {status} {carrier} {number}: completes {}",
            label["completes_at"].as_str().unwrap_or("-")
        );
    }
    let (status, refused) = client
        .post(&format!("/orders/{shopify_id}/label"), OPERATIONS, &json!({"carrier": "ups", "service": "ground", "tracking_number": "1Z999AA10123456784", "label_source": "jetpack"}))
        .await?;
    println!(
        "    {status} a second label: {}",
        refused["error"]["message"].as_str().unwrap_or("")
    );

    step("Thanksgiving, 06:00 CT: the nightly run completes yesterday's labeled orders");
    let at = ct(26, 6, 0);
    client.set_clock(at).await?;
    let (_, report) = client
        .post("/_local/nightly", "", &json!({"scheduled_time": at}))
        .await?;
    println!("    {} completed", report["completed"]);

    step("the carrier feed arrives out of order, with a duplicate (SQS CarrierFeedQueue)");
    let feed_queue = runtime
        .queue("CarrierFeedQueue")
        .context("no carrier feed queue")?;
    let feed: Value = serde_json::from_str(CARRIER_FEED)?;
    let bodies: Vec<String> = feed["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["body"].as_str().map(str::to_owned))
        .collect();
    // The first scans arrive swapped, one is sent twice, and the USPS scans may overtake
    // the hand-off that introduces their number: SQS redelivers them a moment later.
    client.set_clock(ct(28, 14, 0)).await?;
    for index in [0usize, 2, 1, 1, 3, 4, 5] {
        if let Some(body) = bodies.get(index) {
            runtime
                .sqs
                .send_message()
                .queue_url(&feed_queue.url)
                .message_body(body)
                .send()
                .await?;
            let scan: Value = serde_json::from_str(body)?;
            println!(
                "    sent {:<18} {} {}",
                scan["code"].as_str().unwrap_or(""),
                scan["carrier"].as_str().unwrap_or(""),
                scan["occurred_at"].as_str().unwrap_or("")
            );
        }
    }
    runtime.drain().await;

    step("a week later, 06:00 CT: first scans that never came, stalled shipments");
    let at = ct(4 + 30, 6, 0);
    client.set_clock(at).await?;
    let (_, report) = client
        .post("/_local/nightly", "", &json!({"scheduled_time": at}))
        .await?;
    println!(
        "    {} first scans late, {} stalled",
        report["first_scan_late"], report["stalled"]
    );

    step("claims (POST /orders/{id}/claims)");
    let (status, early) = client
        .post(
            &format!("/orders/{stalled_id}/claims"),
            MERCHANT,
            &json!({"type": "lost_in_transit", "description": "No scan since the label."}),
        )
        .await?;
    println!(
        "    lost in transit, today: {status} {}: {}",
        early["error"]["code"].as_str().unwrap_or(""),
        early["error"]["message"].as_str().unwrap_or("")
    );
    client.set_clock(ct(10 + 30, 11, 0)).await?;
    let (status, accepted) = client
        .post(
            &format!("/orders/{stalled_id}/claims"),
            MERCHANT,
            &json!({"type": "lost_in_transit", "description": "No scan since the label."}),
        )
        .await?;
    println!(
        "    lost in transit, after the window opens: {status} claim {} ({})",
        accepted["claim_id"].as_str().unwrap_or(""),
        accepted["state"].as_str().unwrap_or("")
    );
    let (status, delivered) = client
        .post(
            &format!("/orders/{manual_id}/claims"),
            MERCHANT,
            &json!({"type": "lost_in_transit", "description": "Customer says it never came."}),
        )
        .await?;
    println!(
        "    lost in transit on a delivered parcel: {status} {}",
        delivered["error"]["code"].as_str().unwrap_or("")
    );

    step("search by the USPS hand-off number (GET /orders?q=9400 1118 9922 3197 4284 97)");
    let found = client
        .get("/orders?q=9400%201118%209922%203197%204284%2097", MERCHANT)
        .await?;
    println!(
        "    found order {}",
        found["orders"][0]["order_number"].as_str().unwrap_or("-")
    );

    for order_id in [&manual_id, &stalled_id, &shopify_id] {
        let details = client.get(&format!("/orders/{order_id}"), MERCHANT).await?;
        print_details(&details);
    }

    runtime.drain().await;
    let mails = client.get("/_local/emails", "").await?;
    let mails = mails.as_array().cloned().unwrap_or_default();
    println!(
        "\nEmails sent to the team ({}; full messages in .local/mail/)",
        mails.len()
    );
    for mail in &mails {
        println!(
            "  to {:<28} {}",
            text(&mail["to"][0]),
            text(&mail["subject"])
        );
    }
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

fn local(value: &Value) -> String {
    DateTime::parse_from_rfc3339(text(value))
        .map(|t| t.format("%a %b %-d %H:%M (UTC%:z)").to_string())
        .unwrap_or_else(|_| "-".to_owned())
}

fn chicago(value: &Value) -> String {
    DateTime::parse_from_rfc3339(text(value))
        .map(|t| {
            t.with_timezone(&BUSINESS_TZ)
                .format("%a %b %-d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_else(|_| "-".to_owned())
}

fn print_details(details: &Value) {
    let shipment = &details["shipment"];
    println!();
    println!(
        "Order {} ({})  {}  shipment: {}",
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
    if shipment["handoff"].is_object() {
        println!(
            "  final mile: {} {}  {}",
            text(&shipment["handoff"]["carrier"]),
            text(&shipment["handoff"]["tracking_number"]),
            text(&shipment["handoff"]["tracking_url"])
        );
    }
    println!(
        "  completes {}; {}",
        chicago(&details["completes_at"]),
        text(&details["store_sync"]["message"])
    );
    println!(
        "  {:<30} {:<24} {:<26} event",
        "local time", "status", "where"
    );
    for row in details["timeline"].as_array().into_iter().flatten() {
        let late = if row["late"] == true { "  [late]" } else { "" };
        println!(
            "  {:<30} {:<24} {:<26} {}{late}",
            local(&row["local_time"]),
            text(&row["status_label"]).replace('-', ""),
            row["location_display"].as_str().unwrap_or(""),
            text(&row["description"])
        );
    }
}
