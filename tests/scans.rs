use chrono::{DateTime, Duration, TimeZone, Utc};
use local_stack::{read_response, ApiEvent, TestQueue, TestStack};
use serde_json::{json, Value};
use tracking_domain::feed::Scan;
use tracking_domain::status::ShipmentStatus;

use crate::*;

pub const CARRIER_FEED: &str = include_str!("../events/scan-ingest/carrier-feed-batch.json");

const UPS: &str = "1Z999AA10123456784";
const USPS: &str = "9400111899223197428497";

/// Wednesday 2026-11-25 09:00 CST, before the sample feed's first scan.
fn label_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
}

fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

/// The sample feed's message bodies, in journey order.
fn journey_bodies() -> Vec<String> {
    let event: Value = serde_json::from_str(CARRIER_FEED).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

fn sqs_event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event: Value = serde_json::from_str(CARRIER_FEED).unwrap();
    let template = event["Records"][0].clone();
    event["Records"] = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("msg-{i}"));
            record["body"] = json!(body);
            record
        })
        .collect();
    serde_json::from_value(event).unwrap()
}

/// Hands a batch to the handler and redelivers what it reports failed, as SQS does after
/// the visibility timeout (a scan of the final-mile number can come in the same batch as
/// the hand-off that introduces it). Returns how many deliveries it took.
async fn ingest_until_done<D: scan_ingest::DeadLetters>(
    ingest: &scan_ingest::ScanIngest<D>,
    mut event: aws_lambda_events::event::sqs::SqsEvent,
) -> usize {
    for delivery in 1..=5 {
        let response = ingest.handle(event.clone(), received_at()).await.unwrap();
        if response.batch_item_failures.is_empty() {
            return delivery;
        }
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        event
            .records
            .retain(|r| r.message_id.as_ref().is_some_and(|id| failed.contains(id)));
    }
    panic!(
        "messages still failing after 5 deliveries: {:?}",
        event.records
    );
}

async fn labeled_order(stack: &TestStack, order_number: &str) -> String {
    crate::labeled_order(stack, order_number, UPS, label_time()).await
}

async fn details(stack: &TestStack, order_id: &str, now: DateTime<Utc>) -> Value {
    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", order_id);
    let (status, body) = read_response(stack.orders_api().handle(event.request(), now).await);
    assert_eq!(status, 200, "{body}");
    body
}

/// What must be identical however the feed arrived.
fn timeline_fingerprint(details: &Value) -> Vec<(String, String, String, String)> {
    details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["occurred_at"].as_str().unwrap().to_owned(),
                e["status_label"].as_str().unwrap().to_owned(),
                e["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sample_feed_builds_the_journey_with_the_usps_handoff() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let deliveries = ingest_until_done(
        &stack.scan_ingest(&queue),
        serde_json::from_str(CARRIER_FEED).unwrap(),
    )
    .await;
    assert_eq!(
        deliveries, 2,
        "the USPS scans wait one redelivery for the hand-off that introduces their number"
    );

    let details = details(&stack, &order_id, received_at()).await;
    assert_eq!(details["shipment_status"], "delivered");
    assert_eq!(details["shipment_status_label"], "Delivered");
    let rows = details["timeline"].as_array().unwrap();
    let codes: Vec<_> = rows.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "ORDER_RECEIVED",
            "LABEL_CREATED",
            "PICKUP",
            "IN_TRANSIT",
            "IN_TRANSIT",
            "HANDOFF",
            "OUT_FOR_DELIVERY",
            "DELIVERED"
        ]
    );
    assert_eq!(rows[2]["status_label"], "Pick Up Scan from Dock");
    assert_eq!(rows[3]["status_label"], "In Transit");
    assert_eq!(rows[2]["occurred_at"], "2026-11-25T23:42:00Z");
    assert_eq!(rows[2]["local_time"], "2026-11-25T17:42:00-06:00");
    assert_eq!(rows[2]["location_display"], "Louisville, KY 40209 US");
    assert_eq!(rows[2]["recorded_at"], "2026-11-29T12:00:00Z");
    assert_eq!(rows[7]["tracking_number"], USPS);
    assert_eq!(rows[7]["carrier"], "usps");

    let handoff = &details["shipment"]["handoff"];
    assert_eq!(handoff["carrier"], "usps");
    assert_eq!(handoff["tracking_number"], USPS);
    assert!(handoff["tracking_url"].as_str().unwrap().contains(USPS));
    assert_eq!(handoff["detail_may_be_limited"], false);

    // The hand-off number finds the order, as the tracking number does.
    let event = ApiEvent::from_json(SEARCH_ORDERS).query(&[("q", USPS)]);
    let (_, found) = read_response(
        stack
            .orders_api()
            .handle(event.request(), received_at())
            .await,
    );
    assert_eq!(found["orders"][0]["order_id"], order_id.as_str());

    let listed = ApiEvent::from_json(LIST_ORDERS).query(&[("shipment_status", "delivered")]);
    let (_, page) = read_response(
        stack
            .orders_api()
            .handle(listed.request(), received_at())
            .await,
    );
    assert_eq!(page["orders"][0]["order_id"], order_id.as_str());
}

/// Feeds `feed` in batches of `batch_size`, each handled concurrently like the event
/// source mapping's; like a queue, a message reported failed comes back after the others
/// (its visibility timeout). Returns what was never processed and how many batches it took.
async fn feed_with_redelivery<D: scan_ingest::DeadLetters>(
    ingest: &scan_ingest::ScanIngest<D>,
    feed: Vec<String>,
    batch_size: usize,
) -> (Vec<String>, usize) {
    let mut pending: std::collections::VecDeque<String> = feed.into();
    let mut batches = 0;
    while !pending.is_empty() && batches < 200 {
        batches += 1;
        let batch: Vec<String> = (0..batch_size)
            .filter_map(|_| pending.pop_front())
            .collect();
        let response = ingest
            .handle(sqs_event(&batch), received_at())
            .await
            .unwrap();
        for failure in response.batch_item_failures {
            let index: usize = failure
                .item_identifier
                .trim_start_matches("msg-")
                .parse()
                .unwrap();
            pending.push_back(batch[index].clone());
        }
    }
    (pending.into(), batches)
}

/// A deterministic shuffle, so a failure names the seed that produced it.
fn shuffled(items: &[String], seed: u64) -> Vec<String> {
    let mut items = items.to_vec();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..items.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
    items
}

#[tokio::test]
async fn shuffled_duplicated_feed_ends_exactly_like_the_clean_feed() {
    let clean_stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let clean_order = labeled_order(&clean_stack, "1001").await;
    let ingest = clean_stack.scan_ingest(&queue);
    for body in journey_bodies() {
        let response = ingest
            .handle(sqs_event(&[body]), received_at())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    let clean = details(&clean_stack, &clean_order, received_at()).await;

    for seed in 1..=4 {
        let stack = TestStack::new().await;
        let order_id = labeled_order(&stack, "1001").await;
        let bodies = journey_bodies();
        let mut feed: Vec<String> = bodies
            .iter()
            .chain(bodies.iter().step_by(2))
            .cloned()
            .collect();
        feed = shuffled(&feed, seed);
        let ingest = stack.scan_ingest(&queue);
        // Batches of three; a USPS scan may overtake the hand-off introducing its number
        // and come back after it.
        let (pending, _) = feed_with_redelivery(&ingest, feed, 3).await;
        assert!(
            pending.is_empty(),
            "seed {seed}: never processed {pending:?}"
        );
        let shuffled_details = details(&stack, &order_id, received_at()).await;
        assert_eq!(
            timeline_fingerprint(&shuffled_details),
            timeline_fingerprint(&clean),
            "seed {seed}"
        );
        assert_eq!(
            shuffled_details["shipment"], clean["shipment"],
            "seed {seed}"
        );
        assert_eq!(shuffled_details["shipment_status"], "delivered");
    }
}

#[tokio::test]
async fn a_new_scan_costs_two_writes_and_a_duplicate_one() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    labeled_order(&stack, "1001").await;
    let ingest = stack.scan_ingest(&queue);
    let pickup = journey_bodies()[0].clone();

    stack.requests.reset();
    ingest
        .handle(sqs_event(std::slice::from_ref(&pickup)), received_at())
        .await
        .unwrap();
    let new_scan = stack.requests.snapshot();
    assert_eq!(new_scan.get("PutItem"), Some(&2), "{new_scan:?}");
    assert_eq!(new_scan.get("TransactWriteItems"), None, "{new_scan:?}");

    stack.requests.reset();
    ingest
        .handle(sqs_event(&[pickup]), received_at() + Duration::minutes(1))
        .await
        .unwrap();
    let duplicate = stack.requests.snapshot();
    assert_eq!(duplicate.get("PutItem"), Some(&1), "{duplicate:?}");
    assert_eq!(duplicate.get("TransactWriteItems"), None, "{duplicate:?}");
}

#[tokio::test]
async fn the_same_scan_in_two_messages_is_one_event() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    // No carrier event id: identity is carrier + number + code + instant, whatever the offset.
    let first = json!({"carrier": "ups", "tracking_number": UPS, "code": "IN_TRANSIT",
        "occurred_at": "2026-11-26T02:10:00-06:00", "description": "Departed"});
    let mut second = first.clone();
    second["occurred_at"] = json!("2026-11-26T08:10:00Z");
    second["description"] = json!("Departed from facility");
    let response = stack
        .scan_ingest(&queue)
        .handle(
            sqs_event(&[first.to_string(), second.to_string()]),
            received_at(),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let found = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found
            .timeline
            .events()
            .iter()
            .filter(|e| e.code == "IN_TRANSIT")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_older_scan_arriving_late_is_placed_in_order_and_changes_nothing_after_it() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let bodies = journey_bodies();
    let ingest = stack.scan_ingest(&queue);
    ingest
        .handle(
            sqs_event(&[bodies[0].clone(), bodies[2].clone()]),
            received_at(),
        )
        .await
        .unwrap();
    let before = stack.store().get_order(&order_id).await.unwrap().unwrap();
    stack.requests.reset();
    ingest
        .handle(sqs_event(&[bodies[1].clone()]), received_at())
        .await
        .unwrap();
    let after = stack.store().get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(
        after.version, before.version,
        "a late older scan rewrote the order"
    );
    assert_eq!(stack.requests.get("PutItem"), 1);
    let found = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    let codes: Vec<_> = found
        .timeline
        .events()
        .iter()
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(
        codes,
        ["LABEL_CREATED", "PICKUP", "IN_TRANSIT", "IN_TRANSIT"]
    );
    assert_eq!(
        found.timeline.events()[2].description,
        "Departed from facility"
    );
}

#[tokio::test]
async fn delivered_is_not_moved_back_by_a_later_in_transit_scan() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let stray = json!({"carrier": "usps", "tracking_number": USPS, "code": "IN_TRANSIT",
        "occurred_at": "2026-11-29T09:00:00-06:00", "description": "In transit to next facility"});
    let mut feed = journey_bodies();
    feed.push(stray.to_string());
    let ingest = stack.scan_ingest(&queue);
    for body in feed {
        ingest
            .handle(sqs_event(&[body]), received_at())
            .await
            .unwrap();
    }
    let order = stack.store().get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(order.order.shipment_status, ShipmentStatus::Delivered);
}

#[tokio::test]
async fn concurrent_scans_for_one_order_never_lose_an_update() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let start = Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap();
    let bodies: Vec<String> = (0..10)
        .map(|i| {
            let code = if i == 9 { "OUT_FOR_DELIVERY" } else { "IN_TRANSIT" };
            json!({"carrier": "ups", "tracking_number": UPS, "code": code,
                "occurred_at": (start + Duration::hours(i)).to_rfc3339(), "description": format!("scan {i}")})
            .to_string()
        })
        .collect();
    let response = stack
        .scan_ingest(&queue)
        .handle(sqs_event(&bodies), received_at())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let found = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.timeline.events().len(), 11);
    assert_eq!(found.order.shipment_status, ShipmentStatus::OutForDelivery);
    assert_eq!(
        found.order.shipments[0].last_carrier_update_at,
        Some(start + Duration::hours(9))
    );
}

#[tokio::test]
async fn a_batch_is_worked_on_concurrently_not_one_message_after_another() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    labeled_order(&stack, "1001").await;
    let start = Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap();
    let bodies: Vec<String> = (0..10)
        .map(|i| {
            json!({"carrier": "ups", "tracking_number": UPS, "code": "IN_TRANSIT",
                "occurred_at": (start + Duration::hours(i)).to_rfc3339()})
            .to_string()
        })
        .collect();
    stack.requests.reset();
    stack
        .scan_ingest(&queue)
        .handle(sqs_event(&bodies), received_at())
        .await
        .unwrap();
    // Ten messages each start with a tracking lookup; concurrently, several are on the wire at once.
    assert!(
        stack.requests.max_in_flight() >= 5,
        "at most {} requests in flight",
        stack.requests.max_in_flight()
    );
}

#[tokio::test]
async fn malformed_message_goes_to_the_dead_letter_queue_at_once_without_blocking_its_batch() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    queue
        .send("{\"carrier\": \"ups\", \"tracking_number\": ")
        .await;
    queue.send(&json!({"carrier": "ups", "tracking_number": UPS, "code": "TELEPORTED", "occurred_at": "2026-11-26T08:00:00Z"}).to_string()).await;
    queue.send(&journey_bodies()[0]).await;
    let ingest = stack.scan_ingest(&queue);
    let mut delivered = 0;
    for _ in 0..5 {
        delivered += queue
            .deliver_once(10, |event| async {
                ingest.handle(event, received_at()).await.unwrap()
            })
            .await;
    }
    assert_eq!(delivered, 3, "every message was handled exactly once");
    assert!(queue.peek(&queue.url).await.is_empty());
    let dead = queue.peek(&queue.dead_letter_url).await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().all(|(_, reason)| reason.is_some()), "{dead:?}");
    assert!(dead
        .iter()
        .any(|(_, reason)| reason.as_deref().unwrap().contains("TELEPORTED")));
    let found = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert!(found.timeline.events().iter().any(|e| e.code == "PICKUP"));
}

/// What a refused scan must leave untouched: the order item and every timeline row.
async fn order_and_timeline(stack: &TestStack, order_id: &str) -> (u64, Value, Vec<String>) {
    let found = stack
        .store()
        .order_with_timeline(order_id)
        .await
        .unwrap()
        .unwrap();
    let events = found
        .timeline
        .events()
        .iter()
        .map(|e| format!("{} {}", e.code, e.occurred_at.to_rfc3339()))
        .collect();
    (
        found.version,
        serde_json::to_value(&found.order).unwrap(),
        events,
    )
}

#[tokio::test]
async fn scans_dated_a_day_ahead_or_a_month_before_the_label_are_dead_lettered_and_change_nothing()
{
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let ingest = stack.scan_ingest(&queue);
    ingest_until_done(&ingest, sqs_event(&journey_bodies()[..1])).await;
    let before = order_and_timeline(&stack, &order_id).await;
    let items = stack.item_count().await;

    let scan = |code: &str, at: DateTime<Utc>| {
        json!({"carrier": "ups", "tracking_number": UPS, "code": code,
            "occurred_at": at.to_rfc3339(), "event_id": format!("{code}-{}", at.timestamp())})
        .to_string()
    };
    // Taken, this one would be the shipment's last update: delivered, days early.
    let ahead = scan(
        "DELIVERED",
        received_at() + Duration::hours(24) + Duration::seconds(1),
    );
    let before_label = scan(
        "IN_TRANSIT",
        label_time() - Duration::days(30) - Duration::seconds(1),
    );
    for (body, reason, requests) in [
        (&ahead, "more than 24 hours after the scan was received", 0),
        (
            &before_label,
            "more than 30 days before the label was created",
            1,
        ),
    ] {
        stack.requests.reset();
        queue.send(body).await;
        let handled = queue
            .deliver_once(10, |event| async {
                let response = ingest.handle(event, received_at()).await.unwrap();
                assert!(response.batch_item_failures.is_empty(), "not retried");
                response
            })
            .await;
        assert_eq!(handled, 1);
        // The future check needs no lookup; the label check uses the one the feed makes anyway.
        assert_eq!(
            stack.requests.total(),
            requests,
            "{:?}",
            stack.requests.snapshot()
        );
        let dead = queue.peek(&queue.dead_letter_url).await;
        let (dead_body, dead_reason) = dead.iter().find(|(b, _)| b == body).unwrap();
        assert_eq!(dead_body, body);
        assert!(
            dead_reason.as_deref().unwrap().contains(reason),
            "{dead_reason:?}"
        );
    }
    assert!(queue.peek(&queue.url).await.is_empty());
    assert_eq!(queue.peek(&queue.dead_letter_url).await.len(), 2);
    assert_eq!(order_and_timeline(&stack, &order_id).await, before);
    assert_eq!(stack.item_count().await, items);
    let shown = details(&stack, &order_id, received_at()).await;
    assert_eq!(shown["shipment_status"], "in_transit");
}

#[tokio::test]
async fn a_tracking_item_from_before_label_times_were_kept_is_judged_from_its_order() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = labeled_order(&stack, "1001").await;
    let tracking_key =
        |update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
            update
                .table_name(&stack.table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("TRACKING#ups#{UPS}")),
                )
                .key(
                    "sk",
                    aws_sdk_dynamodb::types::AttributeValue::S("TRACKING".into()),
                )
        };
    tracking_key(stack.client.update_item())
        .update_expression("REMOVE label_created_at")
        .condition_expression("attribute_exists(label_created_at)")
        .send()
        .await
        .unwrap();
    let before = order_and_timeline(&stack, &order_id).await;
    let old = json!({"carrier": "ups", "tracking_number": UPS, "code": "IN_TRANSIT",
        "occurred_at": (label_time() - Duration::days(45)).to_rfc3339()});
    let ingest = stack.scan_ingest(&queue);
    stack.requests.reset();
    let response = ingest
        .handle(sqs_event(&[old.to_string()]), received_at())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        stack.requests.snapshot(),
        [("GetItem".to_owned(), 2)].into()
    );
    assert_eq!(order_and_timeline(&stack, &order_id).await, before);
    let dead = queue.peek(&queue.dead_letter_url).await;
    assert!(
        dead[0].1.as_deref().unwrap().contains("before the label"),
        "{dead:?}"
    );
}

#[tokio::test]
async fn scan_for_an_unknown_tracking_number_is_retried_then_dead_lettered() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let unknown = json!({"carrier": "ups", "tracking_number": "1ZWX0692YP40636269", "code": "PICKUP",
        "occurred_at": "2026-11-26T08:00:00Z"});
    queue.send(&unknown.to_string()).await;
    let ingest = stack.scan_ingest(&queue);
    let mut attempts = 0;
    for _ in 0..(queue.max_receive_count + 3) {
        let handled = queue
            .deliver_once(10, |event| async {
                let response = ingest.handle(event, received_at()).await.unwrap();
                assert!(response
                    .batch_item_failures
                    .iter()
                    .all(|f| !f.item_identifier.is_empty()));
                assert_eq!(
                    response.batch_item_failures.len(),
                    1,
                    "an unknown number must be retried"
                );
                response
            })
            .await;
        attempts += handled;
    }
    assert_eq!(
        attempts, queue.max_receive_count,
        "retried exactly maxReceiveCount times"
    );
    let dead = queue.peek(&queue.dead_letter_url).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].0.contains("1ZWX0692YP40636269"));
}

#[tokio::test]
async fn scan_that_arrives_before_its_label_lands_once_the_label_is_uploaded() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = create_order(&stack, "merchant-acme", "1001", label_time()).await;
    queue.send(&journey_bodies()[0]).await;
    let ingest = stack.scan_ingest(&queue);
    let first = queue
        .deliver_once(10, |event| async {
            ingest.handle(event, received_at()).await.unwrap()
        })
        .await;
    assert_eq!(first, 1);
    upload_label(&stack, &order_id, "ups", UPS, label_time()).await;
    queue
        .deliver_once(10, |event| async {
            ingest.handle(event, received_at()).await.unwrap()
        })
        .await;
    assert!(queue.peek(&queue.url).await.is_empty());
    let order = stack.store().get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(order.order.shipment_status, ShipmentStatus::InTransit);
}

#[tokio::test]
async fn international_handoff_to_a_local_carrier_says_detail_may_be_limited() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let mut body = order_body("INT-1");
    body["ship_to"] = json!({"line1": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "country": "ES"});
    let event = ApiEvent::from_json(CREATE_ORDER).body_json(&body);
    let (_, created) = read_response(
        stack
            .orders_api()
            .handle(event.request(), label_time())
            .await,
    );
    let order_id = created["order_id"].as_str().unwrap().to_owned();
    upload_label(&stack, &order_id, "dhl_express", "1234567890", label_time()).await;
    let handoff = json!({"carrier": "dhl_express", "tracking_number": "1234567890", "code": "HANDOFF",
        "occurred_at": "2026-11-28T10:00:00+01:00", "description": "Handed to local delivery partner",
        "location": {"city": "Madrid", "country": "ES"},
        "handoff": {"carrier": "Correos Express", "tracking_number": "PQ4D8A0712345"}});
    let local_scan = json!({"carrier": "correos_express", "tracking_number": "PQ4D8A0712345", "code": "OUT_FOR_DELIVERY",
        "occurred_at": "2026-11-29T09:00:00+01:00", "location": {"city": "Madrid", "country": "ES"}});
    let ingest = stack.scan_ingest(&queue);
    for body in [handoff.to_string(), local_scan.to_string()] {
        let response = ingest
            .handle(sqs_event(&[body]), received_at())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
    }
    let details = details(&stack, &order_id, received_at()).await;
    let handoff = &details["shipment"]["handoff"];
    assert_eq!(handoff["carrier"], "correos_express");
    assert_eq!(handoff["tracking_number"], "PQ4D8A0712345");
    assert_eq!(
        handoff["tracking_url"],
        Value::Null,
        "no link rather than a broken one"
    );
    assert_eq!(handoff["detail_may_be_limited"], true);
    assert!(handoff["note"].as_str().unwrap().contains("limited"));
    assert_eq!(details["shipment_status"], "out_for_delivery");
    assert_eq!(
        details["timeline"].as_array().unwrap().last().unwrap()["local_time"],
        "2026-11-29T09:00:00+01:00"
    );
}

#[tokio::test]
async fn first_scan_after_the_next_business_day_is_marked_late() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let order_id = create_order(&stack, "merchant-acme", "1001", label_time()).await;
    // Label Friday 2026-11-20 10:00 CST: the first scan is due by the end of Monday.
    let friday = Utc.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap();
    upload_label(&stack, &order_id, "ups", UPS, friday).await;
    let tuesday_scan = json!({"carrier": "ups", "tracking_number": UPS, "code": "PICKUP",
        "occurred_at": "2026-11-24T09:00:00-06:00"});
    stack
        .scan_ingest(&queue)
        .handle(sqs_event(&[tuesday_scan.to_string()]), received_at())
        .await
        .unwrap();
    let details = details(&stack, &order_id, received_at()).await;
    assert_eq!(details["shipment"]["first_scan_late"], true);
    let first_scan = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "PICKUP")
        .unwrap()
        .clone();
    assert_eq!(first_scan["late"], true);

    let on_time_stack = TestStack::new().await;
    let order_id = create_order(&on_time_stack, "merchant-acme", "1001", label_time()).await;
    upload_label(&on_time_stack, &order_id, "ups", UPS, friday).await;
    let monday_scan = json!({"carrier": "ups", "tracking_number": UPS, "code": "PICKUP",
        "occurred_at": "2026-11-23T17:00:00-06:00"});
    on_time_stack
        .scan_ingest(&queue)
        .handle(sqs_event(&[monday_scan.to_string()]), received_at())
        .await
        .unwrap();
    let details = self::details(&on_time_stack, &order_id, received_at()).await;
    assert_eq!(details["shipment"]["first_scan_late"], false);
    assert!(details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.get("late").is_none()));
}

#[tokio::test]
async fn sample_feed_messages_all_parse() {
    for body in journey_bodies() {
        Scan::parse_body(&body).unwrap();
    }
}

#[tokio::test]
async fn under_dynamodb_faults_a_shuffled_feed_sent_three_times_ends_like_the_clean_feed() {
    let queue = TestQueue::new("CarrierFeedQueue").await;
    let clean_stack = TestStack::new().await;
    let clean_order = labeled_order(&clean_stack, "1001").await;
    let ingest = clean_stack.scan_ingest(&queue);
    for body in journey_bodies() {
        let response = ingest
            .handle(sqs_event(&[body]), received_at())
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    let clean = details(&clean_stack, &clean_order, received_at()).await;

    let stack = TestStack::new().await;
    let order_id = labeled_order(&stack, "1001").await;
    let relay = local_stack::faults::start(local_stack::faults::FaultRates {
        refused_per_mille: 150,
        lost_reply_per_mille: 150,
        seed: 7,
    })
    .await
    .unwrap();
    let faulty = scan_ingest::ScanIngest::new(
        tracking_aws::OrderStore::new(relay.dynamodb().await, &stack.table),
        scan_ingest::SqsDeadLetters::new(queue.sqs.clone(), &queue.dead_letter_url),
    );
    let bodies = journey_bodies();
    let three_times: Vec<String> = bodies
        .iter()
        .chain(&bodies)
        .chain(&bodies)
        .cloned()
        .collect();
    let (pending, deliveries) = feed_with_redelivery(&faulty, shuffled(&three_times, 3), 10).await;
    eprintln!(
        "fault relay at 15% refused + 15% applied-then-500: {} ({deliveries} deliveries)",
        relay.summary()
    );
    assert!(pending.is_empty(), "never processed {pending:?}");
    let counts = &relay.counts;
    assert!(
        counts.refused.load(std::sync::atomic::Ordering::Relaxed) > 10
            && counts
                .lost_replies
                .load(std::sync::atomic::Ordering::Relaxed)
                > 10,
        "the faults really happened: {}",
        relay.summary()
    );
    let faulted = details(&stack, &order_id, received_at()).await;
    assert_eq!(timeline_fingerprint(&faulted), timeline_fingerprint(&clean));
    assert_eq!(faulted["shipment"], clean["shipment"]);
    assert_eq!(faulted["shipment_status"], "delivered");
    assert!(
        queue.peek(&queue.dead_letter_url).await.is_empty(),
        "a fault never dead-letters a scan"
    );
}
