//! Orders shipping as several packages, end to end on the local stack: labels add and
//! replace packages, each package's scans drive its own status, the details and the list
//! show every package, and an order stored before packages reads as a one-package order.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};
use local_stack::{read_response, ApiEvent, TestQueue, TestStack};
use serde_json::{json, Value};
use tracking_domain::feed::Scan;

use crate::*;

const RELABEL_SHIPMENT: &str = include_str!("../events/label-upload/relabel-shipment.json");
const VOID_SHIPMENT: &str = include_str!("../events/label-upload/void-shipment.json");
const FIRST: &str = "1Z999AA10123456784";
const SECOND: &str = "1ZWX0692YP40636269";

/// Wednesday 2026-11-25 09:00 CST.
fn label_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
}

async fn labeled(stack: &TestStack, order_number: &str) -> String {
    labeled_order(stack, order_number, FIRST, label_time()).await
}

/// The sample relabel (events/label-upload/relabel-shipment.json) for `shipment_id`.
async fn relabel(
    stack: &TestStack,
    order_id: &str,
    shipment_id: &str,
    number: &str,
    at: DateTime<Utc>,
) -> (u16, Value) {
    let mut body: Value = serde_json::from_str(
        ApiEvent::from_json(RELABEL_SHIPMENT).0["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    body["shipment_id"] = json!(shipment_id);
    body["tracking_number"] = json!(number);
    let event = ApiEvent::from_json(RELABEL_SHIPMENT)
        .path_param("order_id", order_id)
        .body_json(&body);
    read_response(stack.label_upload().handle(event.request(), at).await)
}

async fn void(
    stack: &TestStack,
    order_id: &str,
    shipment_id: &str,
    at: DateTime<Utc>,
) -> (u16, Value) {
    let event = ApiEvent::from_json(VOID_SHIPMENT)
        .path_param("order_id", order_id)
        .path_param("shipment_id", shipment_id);
    read_response(stack.label_upload().handle(event.request(), at).await)
}

async fn scan(stack: &TestStack, queue: &TestQueue, number: &str, code: &str, at: DateTime<Utc>) {
    let body = json!({
        "carrier": "ups", "tracking_number": number, "code": code,
        "occurred_at": at.to_rfc3339(), "description": code,
        "location": {"city": "Austin", "state": "TX", "country": "US"}
    })
    .to_string();
    let scan = Scan::parse_body(&body).unwrap();
    let outcome = stack
        .scan_ingest(queue)
        .ingest(&scan, at + Duration::minutes(5))
        .await
        .unwrap();
    assert!(
        matches!(outcome, scan_ingest::Outcome::Recorded),
        "{outcome:?}"
    );
}

async fn details(stack: &TestStack, order_id: &str, now: DateTime<Utc>) -> Value {
    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", order_id);
    let (status, body) = read_response(stack.orders_api().handle(event.request(), now).await);
    assert_eq!(status, 200, "{body}");
    body
}

async fn list(stack: &TestStack, query: &[(&str, &str)]) -> Vec<Value> {
    let event = ApiEvent::from_json(LIST_ORDERS).query(query);
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), label_time())
            .await,
    );
    assert_eq!(status, 200, "{body}");
    body["orders"].as_array().unwrap().clone()
}

fn ids(orders: &[Value]) -> Vec<&str> {
    orders
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn each_package_has_its_own_scans_status_and_row_on_one_timeline() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled(&stack, "1001").await;
    let (status, second) = upload_label(
        &stack,
        &order_id,
        "ups",
        SECOND,
        label_time() + Duration::hours(3),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let day = Duration::days(1);
    scan(&stack, &queue, FIRST, "PICKUP", label_time() + day).await;
    scan(&stack, &queue, FIRST, "DELIVERED", label_time() + day * 2).await;
    scan(
        &stack,
        &queue,
        SECOND,
        "PICKUP",
        label_time() + day * 2 + Duration::hours(1),
    )
    .await;

    let now = label_time() + day * 3;
    let order = details(&stack, &order_id, now).await;
    let shipments = order["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 2);
    let (a, b) = (&shipments[0], &shipments[1]);
    assert_ne!(a["shipment_id"], b["shipment_id"]);
    assert_eq!(b["shipment_id"], second["shipment_id"]);
    assert_eq!(
        (a["tracking_number"].as_str(), a["status"].as_str()),
        (Some(FIRST), Some("delivered"))
    );
    assert_eq!(
        (b["tracking_number"].as_str(), b["status"].as_str()),
        (Some(SECOND), Some("in_transit"))
    );
    assert_eq!(b["status_label"], "Pick Up Scan from Dock");
    assert_eq!(order["packages"]["packages"], 2);
    assert_eq!(order["packages"]["delivered"], 1);
    assert_eq!(
        order["shipment_status"], "in_transit",
        "the least advanced package"
    );
    assert_eq!(order["shipment"]["shipment_id"], a["shipment_id"]);
    assert_eq!(
        order["completes_at"], "2026-11-26T12:00:00Z",
        "from the first label"
    );

    // One timeline, every row naming its package; the order's own rows name none.
    let rows = order["timeline"].as_array().unwrap();
    let named: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r["code"].as_str().unwrap(), r["shipment_id"].as_str()))
        .collect();
    let (a_id, b_id) = (a["shipment_id"].as_str(), b["shipment_id"].as_str());
    assert_eq!(
        named,
        [
            ("ORDER_RECEIVED", None),
            ("LABEL_CREATED", a_id),
            ("LABEL_CREATED", b_id),
            ("PICKUP", a_id),
            ("DELIVERED", a_id),
            ("PICKUP", b_id),
        ]
    );
    // Each package's first scan is its own "Pick Up Scan from Dock".
    let labels: Vec<&str> = rows
        .iter()
        .filter(|r| r["code"] == "PICKUP")
        .map(|r| r["status_label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Pick Up Scan from Dock", "Pick Up Scan from Dock"]);

    // The list shows each order's Shipment IDs and numbers; filters read the summary.
    let listed = list(&stack, &[]).await;
    let row = listed
        .iter()
        .find(|o| o["order_id"] == order_id.as_str())
        .unwrap();
    let listed_packages: Vec<(&str, &str)> = row["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["shipment_id"].as_str().unwrap(),
                s["tracking_number"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed_packages,
        [(a_id.unwrap(), FIRST), (b_id.unwrap(), SECOND)]
    );
    assert_eq!(
        ids(&list(&stack, &[("shipment_status", "in_transit")]).await),
        [order_id.as_str()]
    );
    assert!(list(&stack, &[("shipment_status", "delivered")])
        .await
        .is_empty());
    // Either package's number finds the order.
    for number in [FIRST, SECOND] {
        assert_eq!(
            ids(&list(&stack, &[("q", number)]).await),
            [order_id.as_str()],
            "{number}"
        );
    }

    // One package in exception makes an exception order, however far the other is.
    scan(
        &stack,
        &queue,
        SECOND,
        "EXCEPTION",
        label_time() + day * 2 + Duration::hours(5),
    )
    .await;
    assert_eq!(
        ids(&list(&stack, &[("shipment_status", "exception")]).await),
        [order_id.as_str()]
    );
    assert!(list(&stack, &[("shipment_status", "in_transit")])
        .await
        .is_empty());
    assert!(list(&stack, &[("shipment_status", "stalled")])
        .await
        .is_empty());
    let order = details(&stack, &order_id, now).await;
    assert_eq!(order["packages"]["exception"], true);

    // Delivered once every package is.
    scan(&stack, &queue, SECOND, "DELIVERED", label_time() + day * 3).await;
    assert!(list(&stack, &[("shipment_status", "exception")])
        .await
        .is_empty());
    let order = details(&stack, &order_id, now + day).await;
    assert_eq!(order["shipment_status"], "delivered");
    assert_eq!(order["packages"]["delivered"], 2);
    assert_eq!(
        ids(&list(&stack, &[("shipment_status", "delivered")]).await),
        [order_id.as_str()]
    );
}

#[tokio::test]
async fn a_package_is_relabeled_before_its_first_scan_and_its_old_number_is_freed() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled(&stack, "1002").await;
    let shipment_id = details(&stack, &order_id, label_time()).await["shipments"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = relabel(
        &stack,
        &order_id,
        &shipment_id,
        SECOND,
        label_time() + Duration::hours(1),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["shipment_id"], shipment_id.as_str());
    assert_eq!(body["packages"], 1, "no ghost package");
    let order = details(&stack, &order_id, label_time() + Duration::hours(2)).await;
    assert_eq!(order["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(order["shipments"][0]["tracking_number"], SECOND);
    let codes: Vec<&str> = order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ORDER_RECEIVED", "LABEL_CREATED", "LABEL_REPLACED"]);
    assert!(stack
        .store()
        .order_for_tracking("ups", FIRST)
        .await
        .unwrap()
        .is_none());

    // The freed number may go on another order's label.
    let other = create_order(&stack, "merchant-acme", "1003", label_time()).await;
    let reuse_at = label_time() + Duration::hours(4);
    let (status, _) = upload_label(&stack, &other, "ups", FIRST, reuse_at).await;
    assert_eq!(status, 201);
    // A scan of that number dated before the new label never lands on it.
    let stale = Scan::parse_body(
        &json!({
            "carrier": "ups", "tracking_number": FIRST, "code": "PICKUP",
            "occurred_at": (reuse_at - Duration::days(3)).to_rfc3339(), "description": "old"
        })
        .to_string(),
    )
    .unwrap();
    let items = stack.item_count().await;
    let outcome = stack
        .scan_ingest(&queue)
        .ingest(&stale, reuse_at)
        .await
        .unwrap();
    assert!(
        matches!(outcome, scan_ingest::Outcome::Refused(_)),
        "{outcome:?}"
    );
    assert_eq!(stack.item_count().await, items);

    // Once the carrier has scanned the package, its label stays.
    scan(
        &stack,
        &queue,
        SECOND,
        "PICKUP",
        label_time() + Duration::days(1),
    )
    .await;
    let items = stack.item_count().await;
    let (status, body) = relabel(
        &stack,
        &order_id,
        &shipment_id,
        &local_stack_number(5),
        label_time() + Duration::days(2),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("shipment_already_scanned")),
        "{body}"
    );
    assert_eq!(stack.item_count().await, items);
}

fn local_stack_number(n: u64) -> String {
    tracking_aws::contract::ups_number(n)
}

/// Rewrites an order's items the way they were stored before packages: the order's one
/// `shipment` beside its `shipment_status`, no package ids on the tracking item or rows.
async fn store_before_packages(stack: &TestStack, order_id: &str) {
    let client = &stack.client;
    let key = |pk: String, sk: &str| {
        [
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ]
        .into()
    };
    let order = client
        .get_item()
        .table_name(&stack.table)
        .set_key(Some(key(format!("ORDER#{order_id}"), "ORDER")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut legacy = order.clone();
    let Some(AttributeValue::L(shipments)) = legacy.remove("shipments") else {
        panic!("a labeled order has shipments: {order:?}");
    };
    let AttributeValue::M(mut only) = shipments[0].clone() else {
        panic!("a shipment is a map");
    };
    for field in ["shipment_id", "status", "label_revision"] {
        only.remove(field);
    }
    legacy.insert("shipment".into(), AttributeValue::M(only));
    client
        .put_item()
        .table_name(&stack.table)
        .set_item(Some(legacy))
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&stack.table)
        .set_key(Some(key(format!("TRACKING#ups#{FIRST}"), "TRACKING")))
        .update_expression("REMOVE shipment_id")
        .send()
        .await
        .unwrap();
    let rows = client
        .query()
        .table_name(&stack.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :events)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .expression_attribute_values(":events", AttributeValue::S("EVENT#".into()))
        .send()
        .await
        .unwrap();
    for row in rows.items() {
        client
            .update_item()
            .table_name(&stack.table)
            .set_key(Some(key(
                format!("ORDER#{order_id}"),
                row["sk"].as_s().unwrap(),
            )))
            .update_expression("REMOVE shipment_id")
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_order_stored_before_packages_reads_and_grows_as_a_one_package_order() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled(&stack, "1004").await;
    let before = details(&stack, &order_id, label_time() + Duration::hours(1)).await;
    store_before_packages(&stack, &order_id).await;
    let raw = stack
        .client
        .get_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(raw.contains_key("shipment") && !raw.contains_key("shipments"));

    // Read back, it is the same one-package order, under the same Shipment ID.
    let after = details(&stack, &order_id, label_time() + Duration::hours(1)).await;
    assert_eq!(after["shipments"], before["shipments"]);
    assert_eq!(after["timeline"], before["timeline"]);
    // Its number's scans still land on its package, and it takes a second package.
    scan(
        &stack,
        &queue,
        FIRST,
        "PICKUP",
        label_time() + Duration::days(1),
    )
    .await;
    let (status, body) = upload_label(
        &stack,
        &order_id,
        "ups",
        SECOND,
        label_time() + Duration::days(1),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let grown = details(&stack, &order_id, label_time() + Duration::days(2)).await;
    let shipments = grown["shipments"].as_array().unwrap();
    assert_eq!(shipments.len(), 2);
    assert_eq!(
        shipments[0]["shipment_id"],
        before["shipments"][0]["shipment_id"]
    );
    assert_eq!(shipments[0]["status"], "in_transit");
    assert_eq!(shipments[1]["status"], "at_depot");
    let pickup = grown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "PICKUP")
        .unwrap()
        .clone();
    assert_eq!(pickup["shipment_id"], shipments[0]["shipment_id"]);
}

#[tokio::test]
async fn a_voided_only_label_leaves_the_order_processing_and_its_number_free() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let order_id = labeled(&stack, "1005").await;
    let shipment_id = details(&stack, &order_id, label_time()).await["shipments"][0]["shipment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Voided at 23:00 CT, before its 06:00 completion.
    let voided_at = Utc.with_ymd_and_hms(2026, 11, 26, 5, 0, 0).unwrap();
    let (status, body) = void(&stack, &order_id, &shipment_id, voided_at).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["packages"], 0);
    let items = stack.item_count().await;
    let (status, again) = void(
        &stack,
        &order_id,
        &shipment_id,
        voided_at + Duration::hours(1),
    )
    .await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(
        stack.item_count().await,
        items,
        "voiding twice writes nothing"
    );

    let report = stack
        .nightly(&queue, &[])
        .run(
            &nightly_completion::RunInput::night(
                Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
            ),
            &nightly_completion::Budget::Unlimited,
        )
        .await
        .unwrap();
    assert_eq!(report.completed, 0, "{report:?}");
    let order = details(&stack, &order_id, voided_at + Duration::hours(2)).await;
    assert_eq!(order["status"], "Processing");
    assert_eq!(order["completes_at"], Value::Null);
    assert_eq!(order["shipment"], Value::Null, "no live package");
    assert_eq!(order["shipments"][0]["voided_at"], "2026-11-26T05:00:00Z");
    let last = order["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["code"], "LABEL_VOIDED");
    assert_eq!(last["shipment_id"], shipment_id.as_str());
    assert!(stack
        .store()
        .order_for_tracking("ups", FIRST)
        .await
        .unwrap()
        .is_none());
    assert!(
        list(&stack, &[("q", FIRST)]).await.is_empty(),
        "a freed number finds nothing"
    );
}
