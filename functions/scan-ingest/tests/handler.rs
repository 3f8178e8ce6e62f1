//! The feed handler's branches against the in-memory store and a dead-letter queue kept
//! in memory: no local stack needed. The integration tests drive the same handler
//! against DynamoDB and SQS.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, TimeZone, Utc};
use scan_ingest::{DeadLetters, ScanIngest};
use serde_json::json;
use tracking_aws::contract::{labeled_order, ups_number};
use tracking_aws::memory::MemoryStore;
use tracking_aws::ports::{Orders, Timelines};
use tracking_domain::carriers::Carrier;
use tracking_domain::status::ShipmentStatus;

const UPS: &str = "1Z999AA10123456784";

/// The dead-letter queue, kept where the test can read it.
#[derive(Clone, Default)]
struct KeptDeadLetters(Arc<Mutex<Vec<(String, String)>>>);

impl DeadLetters for KeptDeadLetters {
    async fn send(&self, body: &str, reason: &str) -> anyhow::Result<()> {
        self.0
            .lock()
            .unwrap()
            .push((body.to_owned(), reason.to_owned()));
        Ok(())
    }
}

impl KeptDeadLetters {
    fn reasons(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// Wednesday 2026-11-25 10:00 CST, when the label was printed.
fn labeled_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap()
}

/// Thursday 2026-11-26 12:00 CST.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap()
}

/// An order labeled with `number`, in `store`; returns the order's id.
async fn labeled(store: &MemoryStore, order_number: &str, number: &str) -> String {
    labeled_order(
        store,
        "merchant-acme",
        order_number,
        Carrier::Ups,
        number,
        labeled_at(),
    )
    .await
}

fn scan(number: &str, code: &str, occurred_at: &str, event_id: &str) -> String {
    json!({
        "carrier": "ups", "tracking_number": number, "code": code,
        "occurred_at": occurred_at, "description": "scan", "event_id": event_id
    })
    .to_string()
}

fn batch(messages: &[(Option<&str>, String)]) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "body": body, "eventSource": "aws:sqs"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

async fn timeline_codes(store: &MemoryStore, order_id: &str) -> Vec<String> {
    let read = store.order_with_timeline(order_id).await.unwrap().unwrap();
    read.timeline
        .events()
        .iter()
        .map(|e| e.code.clone())
        .collect()
}

#[tokio::test]
async fn a_scan_lands_on_its_timeline_and_refreshes_the_order_once() {
    let store = MemoryStore::new();
    let order_id = labeled(&store, "2001", UPS).await;
    let handler = ScanIngest::new(store.clone(), KeptDeadLetters::default());
    let pickup = scan(UPS, "PICKUP", "2026-11-25T17:42:00-06:00", "UPS-1");
    let response = handler
        .handle(batch(&[(Some("m1"), pickup.clone())]), now())
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(
        timeline_codes(&store, &order_id).await,
        ["LABEL_CREATED", "PICKUP"]
    );
    let read = store.get_order(&order_id).await.unwrap().unwrap();
    assert_ne!(read.order.shipment_status, ShipmentStatus::AtDepot);
    assert_eq!(read.version, 3);

    // Redelivered: nothing more is written, not even the order.
    let items = store.item_count();
    handler
        .handle(batch(&[(Some("m1"), pickup)]), now())
        .await
        .unwrap();
    assert_eq!(store.item_count(), items);
    assert_eq!(
        store.get_order(&order_id).await.unwrap().unwrap().version,
        3
    );
}

#[tokio::test]
async fn messages_that_can_never_succeed_go_to_the_dead_letter_queue_with_their_reason() {
    let store = MemoryStore::new();
    let order_id = labeled(&store, "2002", UPS).await;
    let dead_letters = KeptDeadLetters::default();
    let handler = ScanIngest::new(store.clone(), dead_letters.clone());
    let items = store.item_count();
    let response = handler
        .handle(
            batch(&[
                (Some("bad-json"), "{not json".into()),
                (
                    Some("bad-code"),
                    scan(UPS, "TELEPORTED", "2026-11-25T17:42:00-06:00", "x"),
                ),
                // Over 30 days before the label was printed, and over a day ahead of now.
                (
                    Some("too-early"),
                    scan(UPS, "PICKUP", "2026-10-20T09:00:00-06:00", "e"),
                ),
                (
                    Some("future"),
                    scan(UPS, "PICKUP", "2026-12-25T09:00:00-06:00", "f"),
                ),
            ]),
            now(),
        )
        .await
        .unwrap();
    assert!(
        failed_ids(&response).is_empty(),
        "dead-lettered, not retried"
    );
    assert_eq!(store.item_count(), items, "nothing written");
    assert_eq!(timeline_codes(&store, &order_id).await, ["LABEL_CREATED"]);
    let reasons = dead_letters.reasons();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[1].contains("TELEPORTED"), "{reasons:?}");
}

#[tokio::test]
async fn only_the_messages_that_may_still_succeed_are_retried() {
    let store = MemoryStore::new();
    let fine = labeled(&store, "2003", UPS).await;
    let broken = labeled(&store, "2004", "1ZWX0692YP40636269").await;
    store.fail_order(&broken);
    let handler = ScanIngest::new(store.clone(), KeptDeadLetters::default());
    let response = handler
        .handle(
            batch(&[
                (
                    Some("ok"),
                    scan(UPS, "PICKUP", "2026-11-25T17:42:00-06:00", "a"),
                ),
                // The label may be moments behind the carrier's first scan.
                (
                    Some("unknown"),
                    scan(&ups_number(5), "PICKUP", "2026-11-25T17:42:00-06:00", "b"),
                ),
                (
                    Some("store-down"),
                    scan(
                        "1ZWX0692YP40636269",
                        "PICKUP",
                        "2026-11-25T17:42:00-06:00",
                        "c",
                    ),
                ),
            ]),
            now(),
        )
        .await
        .unwrap();
    let mut failed = failed_ids(&response);
    failed.sort();
    assert_eq!(failed, ["store-down", "unknown"]);
    assert_eq!(
        timeline_codes(&store, &fine).await,
        ["LABEL_CREATED", "PICKUP"]
    );
}

#[tokio::test]
async fn a_failure_without_a_message_id_fails_the_whole_batch() {
    let store = MemoryStore::new();
    labeled(&store, "2005", UPS).await;
    let handler = ScanIngest::new(store.clone(), KeptDeadLetters::default());
    let unknown = scan(&ups_number(5), "PICKUP", "2026-11-25T17:42:00-06:00", "b");
    assert!(handler
        .handle(batch(&[(None, unknown)]), now())
        .await
        .is_err());
}

#[tokio::test]
async fn an_order_refresh_that_loses_races_reads_again_until_it_lands() {
    let store = MemoryStore::new();
    let order_id = labeled(&store, "2006", UPS).await;
    let handler = ScanIngest::new(store.clone(), KeptDeadLetters::default());
    store.race(3);
    let response = handler
        .handle(
            batch(&[(
                Some("m"),
                scan(UPS, "DELIVERED", "2026-11-26T09:00:00-06:00", "d"),
            )]),
            now(),
        )
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    let read = store.get_order(&order_id).await.unwrap().unwrap();
    assert_eq!(read.order.shipment_status, ShipmentStatus::Delivered);
}
