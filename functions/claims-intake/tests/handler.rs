//! Claims intake's branches against the in-memory store: no local stack needed. The
//! integration tests file the same claims against DynamoDB, shipments built through the
//! other handlers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use claims_intake::ClaimsIntake;
use serde_json::{json, Value};
use tracking_aws::contract::{carrier_scan, labeled_order};
use tracking_aws::memory::MemoryStore;
use tracking_aws::ports::Claims;
use tracking_aws::Config;
use tracking_domain::carriers::Carrier;
use tracking_domain::feed::Scan;
use tracking_http::testing::{read_response, ApiEvent};

const FILE_CLAIM: &str = include_str!("../../../events/claims-intake/file-claim.json");
const MERCHANT: &str = "merchant-acme";

/// Tuesday 2026-09-01 10:00 CDT plus `n` days: the label is printed on day 0.
fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 15, 0, 0).unwrap() + Duration::days(n)
}

fn config() -> Config {
    Config::from_lookup(|name: &str| (name == "TRACKING_TABLE").then(|| "memory".to_owned()))
        .unwrap()
}

fn scan(number: &str, code: &str, at: DateTime<Utc>) -> Scan {
    Scan::parse_body(
        &json!({
            "carrier": "dhl_express", "tracking_number": number, "code": code,
            "occurred_at": at.to_rfc3339(), "description": code,
            "location": {"city": "Austin", "country": "US"}
        })
        .to_string(),
    )
    .unwrap()
}

/// A DHL Express shipment of `MERCHANT`, labeled on day 0, picked up on day 1 and
/// delivered on day 3; returns the order's id.
async fn delivered(store: &MemoryStore, order_number: &str) -> String {
    let number = format!("{order_number:0>10}");
    let order_id = labeled_order(
        store,
        MERCHANT,
        order_number,
        Carrier::DhlExpress,
        &number,
        day(0),
    )
    .await;
    for (code, at) in [("PICKUP", day(1)), ("DELIVERED", day(3))] {
        carrier_scan(store, &order_id, &scan(&number, code, at), at).await;
    }
    order_id
}

fn claim(order_id: &str, claim_type: &str, description: &str) -> ApiEvent {
    ApiEvent::from_json(FILE_CLAIM)
        .path_param("order_id", order_id)
        .body_json(&json!({"type": claim_type, "description": description}))
}

async fn send(store: &MemoryStore, event: ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
    let intake = ClaimsIntake::new(store.clone(), config());
    read_response(intake.handle(event.request(), now).await)
}

async fn claims_on(store: &MemoryStore, order_id: &str) -> usize {
    store
        .order_with_claims(order_id)
        .await
        .unwrap()
        .unwrap()
        .claims
        .len()
}

#[tokio::test]
async fn a_damage_claim_is_filed_with_its_timeline_row_and_a_retry_finds_it() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "1001").await;
    let (status, first) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(5)).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["state"], "filed");
    let read = store.order_with_claims(&order_id).await.unwrap().unwrap();
    assert_eq!(read.claims.len(), 1);
    assert!(read
        .timeline
        .events()
        .iter()
        .any(|e| e.code == "CLAIM_FILED"));

    let items = store.item_count();
    let (status, again) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(6)).await;
    assert_eq!((status, again), (200, first));
    assert_eq!(store.item_count(), items);
}

#[tokio::test]
async fn claims_the_rules_refuse_answer_422_with_their_code_and_write_nothing() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "1002").await;
    let items = store.item_count();
    // A delivered parcel was not lost; a damage claim long after delivery is too late.
    for (event, now, code) in [
        (
            claim(&order_id, "lost_in_transit", "Never came."),
            day(5),
            "delivered_no_misdelivery",
        ),
        (
            claim(&order_id, "damaged", "Box crushed."),
            day(200),
            "window_closed",
        ),
    ] {
        let (status, body) = send(&store, event, now).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert_eq!(store.item_count(), items);

    send(&store, claim(&order_id, "damaged", "Box crushed."), day(5)).await;
    let (status, body) = send(&store, claim(&order_id, "damaged", "Box soaked."), day(5)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("duplicate_claim"))
    );
    assert_eq!(claims_on(&store, &order_id).await, 1);
}

#[tokio::test]
async fn invalid_requests_and_other_merchants_orders_are_refused_before_the_rules() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "1003").await;
    let items = store.item_count();
    let (status, body) = send(&store, claim(&order_id, "stolen", ""), day(5)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (422, json!("validation_failed"))
    );
    let theirs = claim(&order_id, "damaged", "Box crushed.").merchant("merchant-other");
    let (status, body) = send(&store, theirs, day(5)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("order_not_found"))
    );
    assert_eq!(store.item_count(), items);
}

#[tokio::test]
async fn a_claim_that_loses_races_is_decided_again_and_one_that_never_wins_is_busy() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "1004").await;
    store.race(2);
    let (status, body) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(5)).await;
    assert_eq!(status, 201, "{body}");

    let store = MemoryStore::new();
    let order_id = delivered(&store, "1005").await;
    store.race(usize::MAX);
    let (status, body) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(5)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("busy"))
    );
    assert_eq!(claims_on(&store, &order_id).await, 0);
}

const MOVE_CLAIM: &str = include_str!("../../../events/claims-intake/move-claim.json");

fn step(order_id: &str, claim_id: &str, body: Value) -> ApiEvent {
    ApiEvent::from_json(MOVE_CLAIM)
        .path_param("order_id", order_id)
        .path_param("claim_id", claim_id)
        .body_json(&body)
}

#[tokio::test]
async fn operations_move_a_claim_forward_once_and_the_same_step_again_writes_nothing() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "3001").await;
    let (status, filed) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(5)).await;
    assert_eq!(status, 201, "{filed}");
    let claim_id = filed["claim_id"].as_str().unwrap().to_owned();
    let submit = json!({"to": "submitted", "carrier_case_reference": "DHL-77"});

    let items = store.item_count();
    let merchant = step(&order_id, &claim_id, submit.clone())
        .role("merchant")
        .merchant(MERCHANT);
    assert_eq!(send(&store, merchant, day(6)).await.0, 403);
    let (status, body) = send(&store, step(&order_id, "clm_nope", submit.clone()), day(6)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("claim_not_found"))
    );
    let early = json!({"to": "denied", "reason": "no"});
    let (status, body) = send(&store, step(&order_id, &claim_id, early), day(6)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("claim_transition_out_of_order"))
    );
    assert_eq!(store.item_count(), items, "refusals write nothing");

    let (status, submitted) =
        send(&store, step(&order_id, &claim_id, submit.clone()), day(6)).await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["state"], "submitted");
    assert_eq!(submitted["history"].as_array().unwrap().len(), 1);
    let items = store.item_count();
    let (status, again) = send(&store, step(&order_id, &claim_id, submit), day(7)).await;
    assert_eq!((status, &again), (200, &submitted));
    assert_eq!(
        store.item_count(),
        items,
        "the same step again writes nothing"
    );
    let other_case = json!({"to": "submitted", "carrier_case_reference": "DHL-78"});
    let (status, body) = send(&store, step(&order_id, &claim_id, other_case), day(7)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("claim_transition_conflict"))
    );

    // Decided, the package is free for a new claim of the type.
    let deny = json!({"to": "denied", "reason": "The carrier's photos show no damage."});
    let (status, denied) = send(&store, step(&order_id, &claim_id, deny), day(8)).await;
    assert_eq!((status, denied["state"].as_str()), (200, Some("denied")));
    let (status, refiled) = send(
        &store,
        claim(&order_id, "damaged", "Box crushed, new photos."),
        day(9),
    )
    .await;
    assert_eq!(status, 201, "{refiled}");
    assert_eq!(claims_on(&store, &order_id).await, 2);
}

/// Found by Schemathesis: `?cursor=` (an empty form field) was refused as a bad cursor.
#[tokio::test]
async fn an_empty_cursor_is_the_first_page_of_claims() {
    let store = MemoryStore::new();
    let order_id = delivered(&store, "1009").await;
    let (status, body) = send(&store, claim(&order_id, "damaged", "Box crushed."), day(4)).await;
    assert_eq!(status, 201, "{body}");
    let list = ApiEvent::from_json(include_str!(
        "../../../events/claims-intake/list-claims.json"
    ))
    .merchant(MERCHANT);
    let (status, page) = send(&store, list.clone().query(&[("cursor", "")]), day(4)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["claims"].as_array().map(Vec::len), Some(1), "{page}");
    let (status, body) = send(&store, list.query(&[("cursor", "not-a-cursor")]), day(4)).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("invalid_cursor"))
    );
}
