//! The handler's branches against the in-memory store: no local stack needed. The
//! integration tests drive the same handler against DynamoDB.

use chrono::{DateTime, Duration, TimeZone, Utc};
use label_upload::LabelUpload;
use serde_json::{json, Value};
use tracking_aws::contract::{order, ups_number};
use tracking_aws::memory::MemoryStore;
use tracking_aws::ports::{Orders, Timelines, TrackingNumbers};
use tracking_http::testing::{read_response, ApiEvent};

const UPLOAD_LABEL: &str = include_str!("../../../events/label-upload/upload-label.json");
const UPS: &str = "1Z999AA10123456784";

/// Wednesday 2026-11-25 10:40 CST.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 16, 40, 0).unwrap()
}

async fn store_with_order(number: &str) -> (MemoryStore, String) {
    let store = MemoryStore::new();
    let created = order("merchant-acme", number, now() - Duration::hours(2));
    let order_id = created.order_id.clone();
    store.create_order(created).await.unwrap();
    (store, order_id)
}

fn upload(order_id: &str, body: Value) -> ApiEvent {
    ApiEvent::from_json(UPLOAD_LABEL)
        .path_param("order_id", order_id)
        .body_json(&body)
}

fn ups_label(number: &str) -> Value {
    json!({"carrier": "ups", "service": "Ground", "tracking_number": number, "label_source": "jetpack"})
}

async fn send(store: &MemoryStore, event: ApiEvent) -> (u16, Value) {
    let handler = LabelUpload::new(store.clone());
    read_response(handler.handle(event.request(), now()).await)
}

#[tokio::test]
async fn a_label_moves_the_order_to_depot_and_claims_its_number() {
    let (store, order_id) = store_with_order("1001").await;
    let (status, body) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["shipment_status"], "at_depot");
    assert_eq!(body["completes_at"], "2026-11-26T12:00:00Z");
    let read = store.order_with_timeline(&order_id).await.unwrap().unwrap();
    assert_eq!(read.version, 2);
    assert_eq!(read.timeline.events().len(), 1);
    let owner = store.order_for_tracking("ups", UPS).await.unwrap().unwrap();
    assert_eq!(owner.order_id, order_id);
}

#[tokio::test]
async fn the_same_label_again_answers_the_first_and_writes_nothing() {
    let (store, order_id) = store_with_order("1002").await;
    let (_, first) = send(&store, upload(&order_id, ups_label(UPS))).await;
    let items = store.item_count();
    let (status, again) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!((status, again), (200, first));
    assert_eq!(store.item_count(), items);
}

fn relabel(number: &str, shipment_id: &Value) -> Value {
    let mut body = ups_label(number);
    body["shipment_id"] = shipment_id.clone();
    body
}

#[tokio::test]
async fn a_second_label_is_a_second_package_and_a_number_of_another_order_is_refused() {
    let (store, order_id) = store_with_order("1003").await;
    let (_, first) = send(&store, upload(&order_id, ups_label(UPS))).await;
    let (status, second) = send(&store, upload(&order_id, ups_label("1ZWX0692YP40636269"))).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["shipment_id"], first["shipment_id"]);
    assert_eq!(second["packages"], 2);
    assert_eq!(second["completes_at"], first["completes_at"]);

    let other = order("merchant-acme", "1004", now());
    let other_id = other.order_id.clone();
    store.create_order(other).await.unwrap();
    let items = store.item_count();
    let (status, body) = send(&store, upload(&other_id, ups_label(UPS))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("tracking_number_in_use"))
    );
    assert_eq!(store.item_count(), items, "a refused label writes nothing");
    assert_eq!(
        store.get_order(&other_id).await.unwrap().unwrap().version,
        1
    );
}

#[tokio::test]
async fn a_package_is_relabeled_by_its_shipment_id_until_the_carrier_scans_it() {
    let (store, order_id) = store_with_order("1006").await;
    let (_, first) = send(&store, upload(&order_id, ups_label(UPS))).await;
    let (_, second) = send(&store, upload(&order_id, ups_label("1ZWX0692YP40636269"))).await;
    let items = store.item_count();
    for (body, status, code) in [
        (
            relabel(&ups_number(1), &json!("SHP-NOTOURS")),
            404,
            "shipment_not_found",
        ),
        (
            relabel(UPS, &second["shipment_id"]),
            409,
            "label_on_another_shipment",
        ),
        (relabel(UPS, &json!("../other")), 422, "validation_failed"),
    ] {
        let (got, response) = send(&store, upload(&order_id, body)).await;
        assert_eq!(
            (got, response["error"]["code"].as_str()),
            (status, Some(code)),
            "{response}"
        );
    }
    assert_eq!(store.item_count(), items, "refusals write nothing");

    let fixed = &ups_number(2);
    let (status, relabeled) = send(
        &store,
        upload(&order_id, relabel(fixed, &first["shipment_id"])),
    )
    .await;
    assert_eq!(status, 201, "{relabeled}");
    assert_eq!(relabeled["shipment_id"], first["shipment_id"]);
    assert_eq!(relabeled["tracking_number"], fixed.as_str());
    assert_eq!(relabeled["packages"], 2, "no ghost package");
    assert_eq!(store.order_for_tracking("ups", UPS).await.unwrap(), None);
    assert!(store
        .order_for_tracking("ups", fixed)
        .await
        .unwrap()
        .is_some());
    // The same relabel again is a replay.
    let (status, again) = send(
        &store,
        upload(&order_id, relabel(fixed, &first["shipment_id"])),
    )
    .await;
    assert_eq!((status, &again), (200, &relabeled));

    // Once the carrier has scanned the package, its label stays.
    carrier_scan_row(
        &store,
        &order_id,
        first["shipment_id"].as_str().unwrap(),
        fixed,
    )
    .await;
    let (status, body) = send(
        &store,
        upload(&order_id, relabel(&ups_number(3), &first["shipment_id"])),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("shipment_already_scanned")),
        "{body}"
    );
}

#[tokio::test]
async fn invalid_labels_are_refused_field_by_field_and_write_nothing() {
    let (store, order_id) = store_with_order("1005").await;
    let items = store.item_count();
    let (status, body) = send(
        &store,
        upload(
            &order_id,
            json!({"carrier": "pigeon", "tracking_number": "123", "label_source": "gift"}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let fields: Vec<_> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["carrier", "service", "label_source"]);
    let (status, _) = send(&store, upload(&order_id, ups_label("1Z999AA10123456785"))).await;
    assert_eq!(status, 422, "a wrong check digit");
    assert_eq!(store.item_count(), items);
}

#[tokio::test]
async fn only_operations_may_upload_and_only_to_an_order_that_exists() {
    let (store, order_id) = store_with_order("1006").await;
    let merchant = upload(&order_id, ups_label(UPS)).role("merchant");
    let (status, body) = send(&store, merchant).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = send(&store, upload("ord_missing", ups_label(UPS))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, _) = send(
        &store,
        upload(&order_id, ups_label(UPS)).without_authorizer(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(store
        .order_for_tracking("ups", UPS)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_lost_race_is_retried_and_one_never_won_answers_busy() {
    let (store, order_id) = store_with_order("1007").await;
    store.race(2);
    let (status, _) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!(status, 201, "two lost races, then the upload lands");

    let (store, order_id) = store_with_order("1008").await;
    store.race(usize::MAX);
    let (status, body) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("busy"))
    );
    assert!(store
        .order_for_tracking("ups", UPS)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_store_that_fails_answers_500_without_detail() {
    let (store, order_id) = store_with_order("1009").await;
    store.fail_order(&order_id);
    let (status, body) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("internal_error"))
    );
    assert!(!body.to_string().contains("injected"), "{body}");
}

/// A pickup scan's row on `shipment_id`, as the feed writes it before refreshing the
/// order (the refresh is left out, as when it is still to come).
async fn carrier_scan_row(store: &MemoryStore, order_id: &str, shipment_id: &str, number: &str) {
    let scan = tracking_domain::feed::Scan::parse_body(
        &json!({
            "carrier": "ups", "tracking_number": number, "code": "PICKUP",
            "occurred_at": "2026-11-25T17:00:00Z", "description": "Picked up"
        })
        .to_string(),
    )
    .unwrap();
    let row = tracking_domain::timeline::TimelineEvent {
        shipment_id: Some(shipment_id.to_owned()),
        ..scan.to_event(now())
    };
    store.put_event(order_id, row).await.unwrap();
}

const VOID_SHIPMENT: &str = include_str!("../../../events/label-upload/void-shipment.json");

fn void(order_id: &str, shipment_id: &str) -> ApiEvent {
    ApiEvent::from_json(VOID_SHIPMENT)
        .path_param("order_id", order_id)
        .path_param("shipment_id", shipment_id)
}

#[tokio::test]
async fn a_void_frees_the_number_once_and_is_refused_after_a_scan() {
    let (store, order_id) = store_with_order("1007").await;
    let (_, first) = send(&store, upload(&order_id, ups_label(UPS))).await;
    let id = first["shipment_id"].as_str().unwrap().to_owned();
    for (shipment_id, status, code) in [
        ("SHP-NOTOURS", 404, "shipment_not_found"),
        ("../x", 404, "shipment_not_found"),
    ] {
        let (got, body) = send(&store, void(&order_id, shipment_id)).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let merchant = void(&order_id, &id).role("merchant");
    assert_eq!(send(&store, merchant).await.0, 403);

    let (status, voided) = send(&store, void(&order_id, &id)).await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["packages"], 0);
    assert_eq!(voided["completes_at"], Value::Null);
    assert_eq!(voided["voided_at"], "2026-11-25T16:40:00Z");
    assert_eq!(store.order_for_tracking("ups", UPS).await.unwrap(), None);
    let items = store.item_count();
    let (status, again) = send(&store, void(&order_id, &id)).await;
    assert_eq!((status, &again), (200, &voided));
    assert_eq!(store.item_count(), items, "voiding twice writes nothing");
    // The freed number goes on a new package.
    let (status, renewed) = send(&store, upload(&order_id, ups_label(UPS))).await;
    assert_eq!(status, 201, "{renewed}");
    assert_ne!(renewed["shipment_id"], first["shipment_id"]);

    let live_id = renewed["shipment_id"].as_str().unwrap();
    carrier_scan_row(&store, &order_id, live_id, UPS).await;
    let (status, body) = send(&store, void(&order_id, live_id)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("shipment_already_scanned")),
        "{body}"
    );
}

#[tokio::test]
async fn a_scan_whose_order_refresh_is_still_to_come_already_keeps_the_label() {
    let (store, order_id) = store_with_order("1008").await;
    let (_, first) = send(&store, upload(&order_id, ups_label(UPS))).await;
    let id = first["shipment_id"].as_str().unwrap().to_owned();
    // The feed wrote the scan row; its order refresh has not run yet.
    carrier_scan_row(&store, &order_id, &id, UPS).await;
    let (status, body) = send(&store, void(&order_id, &id)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("shipment_already_scanned")),
        "{body}"
    );
    let (status, body) = send(
        &store,
        upload(&order_id, relabel(&ups_number(4), &json!(id))),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("shipment_already_scanned")),
        "{body}"
    );
}
