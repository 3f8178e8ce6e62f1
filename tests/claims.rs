//! Claims intake integration tests: shipments built through the real handlers (order,
//! label, carrier scans), claims filed through the claims handler with the clock set by
//! the test, against the local AWS stack.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};
use local_stack::{read_response, ApiEvent, TestQueue, TestStack};
use serde_json::{json, Value};
use tracking_aws::store::StoreError;
use tracking_domain::claims::{ClaimRecord, ClaimState, ClaimType};
use tracking_domain::feed::Scan;

use crate::*;

pub const FILE_CLAIM: &str = include_str!("../events/claims-intake/file-claim.json");
pub const LIST_ORDER_CLAIMS: &str = include_str!("../events/claims-intake/list-order-claims.json");
pub const LIST_CLAIMS: &str = include_str!("../events/claims-intake/list-claims.json");
pub const MOVE_CLAIM: &str = include_str!("../events/claims-intake/move-claim.json");

/// The merchant the sample events are signed for.
const MERCHANT: &str = "merchant-acme";

/// Tuesday 2026-09-01 10:00 CDT plus `n` days: labels are printed on day 0.
fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 15, 0, 0).unwrap() + Duration::days(n)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// DHL Express numbers are any 10 digits, so each order number gets its own.
fn tracking(order_number: &str) -> String {
    format!("{order_number:0>10}")
}

fn claim(claim_type: &str, description: &str, reference: Option<&str>) -> Value {
    json!({"type": claim_type, "description": description, "carrier_reference": reference})
}

struct Fixture {
    stack: TestStack,
    feed: TestQueue,
}

impl Fixture {
    async fn new() -> Self {
        Self {
            stack: TestStack::new().await,
            feed: TestQueue::new("CarrierFeedQueue").await,
        }
    }

    async fn order(&self, merchant: &str, order_number: &str, country: &str) -> String {
        let mut body = order_body(order_number);
        body["ship_to"]["country"] = country.into();
        let event = ApiEvent::from_json(CREATE_ORDER)
            .merchant(merchant)
            .body_json(&body);
        let (status, body) = read_response(
            self.stack
                .orders_api()
                .handle(event.request(), day(-1))
                .await,
        );
        assert_eq!(status, 201, "{body}");
        body["order_id"].as_str().unwrap().to_owned()
    }

    /// An order of `merchant` shipping to `country`, labeled on day 0.
    async fn labeled(
        &self,
        merchant: &str,
        order_number: &str,
        country: &str,
        label_source: &str,
    ) -> String {
        let order_id = self.order(merchant, order_number, country).await;
        let event = ApiEvent::from_json(UPLOAD_LABEL)
            .path_param("order_id", &order_id)
            .body_json(&json!({
                "carrier": "dhl_express", "service": "express worldwide",
                "tracking_number": tracking(order_number), "label_source": label_source
            }));
        let (status, body) = read_response(
            self.stack
                .label_upload()
                .handle(event.request(), day(0))
                .await,
        );
        assert_eq!(status, 201, "{body}");
        order_id
    }

    async fn shipped(&self, order_number: &str) -> String {
        self.labeled(MERCHANT, order_number, "US", "jetpack").await
    }

    /// A carrier scan through the scan-ingest handler, recorded a minute after it occurred.
    async fn scan(&self, order_number: &str, code: &str, at: DateTime<Utc>, country: &str) {
        let body = json!({
            "carrier": "dhl_express", "tracking_number": tracking(order_number), "code": code,
            "occurred_at": at.to_rfc3339(), "description": format!("{code} scan"),
            "location": {"city": "Somewhere", "country": country}
        });
        let scan = Scan::parse_body(&body.to_string()).unwrap();
        self.stack
            .scan_ingest(&self.feed)
            .ingest(&scan, at + Duration::minutes(1))
            .await
            .unwrap();
    }

    /// Picked up on day 1 and delivered in `country` on day 3.
    async fn delivered(&self, order_number: &str, country: &str) -> String {
        let order_id = self.shipped(order_number).await;
        self.scan(order_number, "PICKUP", day(1), "US").await;
        self.scan(order_number, "DELIVERED", day(3), country).await;
        order_id
    }

    async fn send(&self, event: ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
        read_response(
            self.stack
                .claims_intake()
                .handle(event.request(), now)
                .await,
        )
    }

    fn file_event(&self, order_id: &str, body: &Value) -> ApiEvent {
        ApiEvent::from_json(FILE_CLAIM)
            .path_param("order_id", order_id)
            .body_json(body)
    }

    /// Operations move a claim on (events/claims-intake/move-claim.json).
    async fn step(
        &self,
        order_id: &str,
        claim_id: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> (u16, Value) {
        let event = ApiEvent::from_json(MOVE_CLAIM)
            .path_param("order_id", order_id)
            .path_param("claim_id", claim_id)
            .body_json(body);
        self.send(event, now).await
    }

    /// Submitted, then denied: decided.
    async fn decide_claim(&self, order_id: &str, claim_id: &str, now: DateTime<Utc>) {
        let submit = json!({"to": "submitted", "carrier_case_reference": "UPS-CASE-1"});
        let (status, body) = self.step(order_id, claim_id, &submit, now).await;
        assert_eq!(status, 200, "{body}");
        let deny = json!({"to": "denied", "reason": "The carrier found no loss."});
        let (status, body) = self.step(order_id, claim_id, &deny, now).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn file(&self, order_id: &str, body: &Value, now: DateTime<Utc>) -> (u16, Value) {
        self.send(self.file_event(order_id, body), now).await
    }

    async fn file_with_key(
        &self,
        order_id: &str,
        key: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> (u16, Value) {
        let mut event = self.file_event(order_id, body);
        event.0["headers"]["idempotency-key"] = key.into();
        self.send(event, now).await
    }

    /// Files a claim the rules refuse and checks the refusal's shape and that nothing
    /// was written. Returns the error object.
    async fn refused(&self, order_id: &str, body: &Value, now: DateTime<Utc>, code: &str) -> Value {
        let items = self.stack.item_count().await;
        let (status, body) = self.file(order_id, body, now).await;
        assert_eq!(status, 422, "{body}");
        let error = &body["error"];
        assert_eq!(error["code"], code, "{body}");
        let message = error["message"].as_str().unwrap();
        assert!(message.len() > 20 && message.ends_with('.'), "{message}");
        assert_eq!(
            self.stack.item_count().await,
            items,
            "a refusal writes nothing"
        );
        error.clone()
    }

    async fn order_claims(&self, order_id: &str) -> Vec<Value> {
        let event = ApiEvent::from_json(LIST_ORDER_CLAIMS).path_param("order_id", order_id);
        let (status, body) = self.send(event, day(60)).await;
        assert_eq!(status, 200, "{body}");
        body["claims"].as_array().unwrap().clone()
    }

    async fn list(&self, merchant: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let event = ApiEvent::from_json(LIST_CLAIMS)
            .merchant(merchant)
            .query(query);
        self.send(event, day(60)).await
    }

    async fn details(&self, order_id: &str, now: DateTime<Utc>) -> Value {
        let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", order_id);
        let (status, body) =
            read_response(self.stack.orders_api().handle(event.request(), now).await);
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn ids(claims: &[Value]) -> Vec<&str> {
    claims
        .iter()
        .map(|c| c["claim_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn prepaid_label_is_refused_with_advice_to_contact_the_carrier() {
    let f = Fixture::new().await;
    let order_id = f.labeled(MERCHANT, "1001", "US", "prepaid").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let error = f
        .refused(
            &order_id,
            &claim("lost_in_transit", "Never arrived.", None),
            day(20),
            "prepaid_label",
        )
        .await;
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("contact the carrier directly"));
}

#[tokio::test]
async fn order_without_a_label_is_refused_as_not_shipped() {
    let f = Fixture::new().await;
    let order_id = f.order(MERCHANT, "1001", "US").await;
    for claim_type in ["lost_in_transit", "damaged", "misdelivery"] {
        f.refused(
            &order_id,
            &claim(claim_type, "Where is it?", Some("REF-1")),
            day(20),
            "not_shipped",
        )
        .await;
    }
}

#[tokio::test]
async fn returned_to_sender_shipment_is_refused() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    f.scan("1001", "RETURN_TO_SENDER", day(5), "US").await;
    f.refused(
        &order_id,
        &claim("lost_in_transit", "Never arrived.", None),
        day(25),
        "returned_to_sender",
    )
    .await;
}

#[tokio::test]
async fn lost_in_transit_before_15_days_after_the_last_scan_is_refused_with_the_opening_date() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    f.scan("1001", "IN_TRANSIT", day(3), "US").await;
    let error = f
        .refused(
            &order_id,
            &claim("lost_in_transit", "No news.", None),
            day(10),
            "window_not_open",
        )
        .await;
    // Counted from the last scan (day 3), not the first or the label.
    assert_eq!(error["opens_at"], rfc3339(day(18)));
    assert_eq!(error["claim_type"], "lost_in_transit");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("September 19, 2026"));
    // The clock in the order details says the same before the merchant asks.
    let details = f.details(&order_id, day(10)).await;
    let clock = &details["shipment"]["claim_windows"]["lost_in_transit"];
    assert_eq!(clock["state"], "not_yet_open");
    assert_eq!(clock["opens_at"], error["opens_at"]);
}

#[tokio::test]
async fn lost_in_transit_45_days_after_the_last_scan_is_refused_as_window_closed() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let error = f
        .refused(
            &order_id,
            &claim("lost_in_transit", "No news.", None),
            day(46),
            "window_closed",
        )
        .await;
    assert!(error.get("opens_at").is_none());
}

#[tokio::test]
async fn delivered_parcel_refuses_lost_in_transit_without_a_confirmed_misdelivery() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    f.refused(
        &order_id,
        &claim("lost_in_transit", "Customer says it never came.", None),
        day(20),
        "delivered_no_misdelivery",
    )
    .await;
}

#[tokio::test]
async fn damaged_claim_before_delivery_is_refused_whatever_the_body_asserts() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let mut body = claim("damaged", "Box crushed.", None);
    body["shipment_status"] = "delivered".into();
    body["delivered_at"] = rfc3339(day(2)).into();
    f.refused(&order_id, &body, day(5), "not_delivered").await;
}

#[tokio::test]
async fn misdelivery_without_the_carriers_confirmation_is_refused() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    f.refused(
        &order_id,
        &claim("misdelivery", "Left at the neighbour's.", None),
        day(5),
        "misdelivery_not_confirmed",
    )
    .await;
}

#[tokio::test]
async fn second_open_claim_of_the_same_type_is_refused_as_a_duplicate() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let (status, first) = f
        .file(&order_id, &claim("damaged", "Box crushed.", None), day(5))
        .await;
    assert_eq!(status, 201, "{first}");
    let error = f
        .refused(
            &order_id,
            &claim("damaged", "Also the lid is torn.", None),
            day(6),
            "duplicate_claim",
        )
        .await;
    assert_eq!(error["open_claim_id"], first["claim_id"]);
    // Another type is another claim.
    let (status, misdelivery) = f
        .file(
            &order_id,
            &claim("misdelivery", "Wrong house.", Some("DHL-CASE-55")),
            day(6),
        )
        .await;
    assert_eq!(status, 201, "{misdelivery}");
    // The order's claims, newest first.
    let claims = f.order_claims(&order_id).await;
    assert_eq!(
        ids(&claims),
        [
            misdelivery["claim_id"].as_str().unwrap(),
            first["claim_id"].as_str().unwrap()
        ]
    );
}

#[tokio::test]
async fn lost_in_transit_is_accepted_in_its_domestic_window_and_shows_on_the_timeline() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let body = claim("lost_in_transit", "No scan since pickup.", None);
    f.stack.requests.reset();
    // The window opens exactly 15 days after the last scan.
    let (status, filed) = f.file(&order_id, &body, day(16)).await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(
        f.stack.requests.snapshot(),
        [
            ("Query".to_owned(), 1),
            ("TransactWriteItems".to_owned(), 1)
        ]
        .into(),
        "one read of the order's partition, one transaction"
    );
    assert_eq!(filed["type"], "lost_in_transit");
    assert_eq!(filed["state"], "filed");
    assert_eq!(filed["order_id"], order_id.as_str());
    assert_eq!(filed["order_number"], "1001");
    assert_eq!(filed["description"], "No scan since pickup.");
    assert_eq!(filed["carrier"], "dhl_express");
    assert_eq!(filed["tracking_number"], tracking("1001"));
    assert_eq!(filed["international"], false);
    assert_eq!(filed["created_at"], rfc3339(day(16)));
    let claim_id = filed["claim_id"].as_str().unwrap();
    assert!(claim_id.starts_with("clm_"));

    let details = f.details(&order_id, day(16)).await;
    let row = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "claim_filed")
        .expect("claim row on the timeline");
    assert_eq!(row["code"], "CLAIM_FILED");
    assert_eq!(row["occurred_at"], rfc3339(day(16)));
    assert!(row["description"].as_str().unwrap().contains(claim_id));
    assert_eq!(
        details["shipment"]["status"], "in_transit",
        "a claim moves no status"
    );

    // The timeline item is the notification outbox: it carries what the email needs.
    let event = f
        .stack
        .client
        .get_item()
        .table_name(&f.stack.table)
        .key("pk", AttributeValue::S(format!("ORDER#{order_id}")))
        .key(
            "sk",
            AttributeValue::S(format!(
                "EVENT#{}",
                claims_intake::claim_filed_event_id(claim_id)
            )),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("claim event item");
    let notice = event["claim"].as_m().unwrap();
    assert_eq!(notice["claim_id"].as_s().unwrap(), claim_id);
    assert_eq!(notice["type"].as_s().unwrap(), "lost_in_transit");
    assert_eq!(
        notice["description"].as_s().unwrap(),
        "No scan since pickup."
    );
    assert_eq!(event["type"].as_s().unwrap(), "claim_filed");
}

#[tokio::test]
async fn international_lost_in_transit_opens_at_20_days_instead_of_15() {
    let f = Fixture::new().await;
    let order_id = f.labeled(MERCHANT, "1001", "CA", "jetpack").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let body = claim("lost_in_transit", "Stuck at the border?", None);
    let error = f
        .refused(&order_id, &body, day(17), "window_not_open")
        .await;
    assert_eq!(error["opens_at"], rfc3339(day(21)));
    let (status, filed) = f.file(&order_id, &body, day(21)).await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["international"], true);
}

#[tokio::test]
async fn international_lost_in_transit_closes_at_50_days() {
    let f = Fixture::new().await;
    let open = f.labeled(MERCHANT, "1001", "CA", "jetpack").await;
    let closed = f.labeled(MERCHANT, "1002", "CA", "jetpack").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    f.scan("1002", "PICKUP", day(1), "US").await;
    let body = claim("lost_in_transit", "Stuck at the border?", None);
    let (status, filed) = f.file(&open, &body, day(50)).await;
    assert_eq!(status, 201, "{filed}");
    f.refused(&closed, &body, day(51), "window_closed").await;
}

#[tokio::test]
async fn damaged_is_accepted_within_30_days_of_delivery_and_refused_after() {
    let f = Fixture::new().await;
    let inside = f.delivered("1001", "US").await;
    let outside = f.delivered("1002", "US").await;
    let body = claim("damaged", "Box crushed, contents broken.", None);
    let (status, filed) = f.file(&inside, &body, day(32)).await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["type"], "damaged");
    f.refused(&outside, &body, day(33), "window_closed").await;
}

#[tokio::test]
async fn delivery_scan_in_another_country_confirms_a_misdelivery() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "MX").await;
    let (status, filed) = f
        .file(
            &order_id,
            &claim("misdelivery", "Delivered in Mexico.", None),
            day(5),
        )
        .await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["carrier_reference"], Value::Null);
}

#[tokio::test]
async fn carrier_reference_confirms_a_misdelivery() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let (status, filed) = f
        .file(
            &order_id,
            &claim(
                "misdelivery",
                "Proof of delivery shows a trash bin.",
                Some("DHL-CASE-55"),
            ),
            day(5),
        )
        .await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["carrier_reference"], "DHL-CASE-55");
    let details = f.details(&order_id, day(5)).await;
    let row = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "claim_filed")
        .unwrap();
    assert!(row["description"]
        .as_str()
        .unwrap()
        .contains("carrier reference DHL-CASE-55"));
}

#[tokio::test]
async fn lost_in_transit_on_a_delivered_parcel_is_accepted_once_misdelivery_is_confirmed() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let (status, filed) = f
        .file(
            &order_id,
            &claim(
                "lost_in_transit",
                "Went to a wrong address.",
                Some("DHL-CASE-77"),
            ),
            day(10),
        )
        .await;
    assert_eq!(status, 201, "{filed}");
    assert_eq!(filed["type"], "lost_in_transit");
}

#[tokio::test]
async fn same_claim_sent_twice_creates_one_claim() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let (status, first) = f
        .file(
            &order_id,
            &claim("lost_in_transit", "No scan since pickup.", None),
            day(20),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let items = f.stack.item_count().await;
    // A retry, even one that arrives after the window closed, is the claim already made.
    for now in [day(20) + Duration::minutes(1), day(60)] {
        let (status, again) = f
            .file(
                &order_id,
                &claim("lost_in_transit", "  No scan since pickup.\n", Some(" ")),
                now,
            )
            .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again, first);
    }
    assert_eq!(f.stack.item_count().await, items);
    assert_eq!(f.order_claims(&order_id).await.len(), 1);
}

#[tokio::test]
async fn same_idempotency_key_twice_creates_one_claim_and_another_body_under_it_is_a_conflict() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let body = claim("damaged", "Box crushed.", None);
    let (status, first) = f.file_with_key(&order_id, "req-7f3a", &body, day(5)).await;
    assert_eq!(status, 201, "{first}");
    let items = f.stack.item_count().await;
    let (status, again) = f.file_with_key(&order_id, "req-7f3a", &body, day(6)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first);

    for other in [
        claim("damaged", "Box crushed and wet.", None),
        claim("misdelivery", "Box crushed.", Some("DHL-CASE-55")),
    ] {
        let (status, conflict) = f.file_with_key(&order_id, "req-7f3a", &other, day(6)).await;
        assert_eq!(status, 409, "{conflict}");
        assert_eq!(conflict["error"]["code"], "idempotency_key_reused");
        assert!(conflict["error"]["message"]
            .as_str()
            .unwrap()
            .contains(first["claim_id"].as_str().unwrap()));
    }
    assert_eq!(f.stack.item_count().await, items);
    // A new key is a new request, and meets the one-open-claim rule.
    let (status, body) = f.file_with_key(&order_id, "req-8b21", &body, day(6)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "duplicate_claim");
}

#[tokio::test]
async fn concurrent_copies_of_one_claim_create_exactly_one() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let body = claim("damaged", "Box crushed.", None);
    let (a, b) = futures::join!(
        f.file(&order_id, &body, day(5)),
        f.file(&order_id, &body, day(5))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 201], "{} {}", a.1, b.1);
    assert_eq!(a.1["claim_id"], b.1["claim_id"]);
    assert_eq!(f.order_claims(&order_id).await.len(), 1);
}

#[tokio::test]
async fn concurrent_different_claims_of_one_type_leave_exactly_one_open() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let crushed = claim("damaged", "Box crushed.", None);
    let soaked = claim("damaged", "Box soaked.", None);
    let (a, b) = futures::join!(
        f.file(&order_id, &crushed, day(5)),
        f.file(&order_id, &soaked, day(5))
    );
    let mut outcomes = [
        (a.0, a.1["error"]["code"].clone()),
        (b.0, b.1["error"]["code"].clone()),
    ];
    outcomes.sort_by_key(|o| o.0);
    assert_eq!(outcomes[0], (201, Value::Null), "{} {}", a.1, b.1);
    assert_eq!(
        outcomes[1],
        (422, json!("duplicate_claim")),
        "{} {}",
        a.1,
        b.1
    );
    assert_eq!(f.order_claims(&order_id).await.len(), 1);
}

#[tokio::test]
async fn another_merchants_order_is_404_exactly_like_a_missing_one() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let items = f.stack.item_count().await;
    let body = claim("damaged", "Box crushed.", None);
    let theirs = f
        .send(
            f.file_event(&order_id, &body).merchant("merchant-other"),
            day(5),
        )
        .await;
    let missing = f
        .send(f.file_event("ord_000000000000000000000000", &body), day(5))
        .await;
    assert_eq!(theirs.0, 404, "{}", theirs.1);
    assert_eq!(theirs, missing);
    assert_eq!(theirs.1["error"]["code"], "order_not_found");

    let list = |order_id: &str, merchant: &str| {
        ApiEvent::from_json(LIST_ORDER_CLAIMS)
            .path_param("order_id", order_id)
            .merchant(merchant)
    };
    let theirs = f.send(list(&order_id, "merchant-other"), day(5)).await;
    let missing = f
        .send(
            list("ord_000000000000000000000000", "merchant-other"),
            day(5),
        )
        .await;
    assert_eq!(theirs.0, 404);
    assert_eq!(theirs, missing);
    assert_eq!(f.stack.item_count().await, items);
}

#[tokio::test]
async fn request_without_jwt_claims_is_401_and_writes_nothing() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let items = f.stack.item_count().await;
    let events = [
        f.file_event(&order_id, &claim("damaged", "Box crushed.", None)),
        ApiEvent::from_json(LIST_ORDER_CLAIMS).path_param("order_id", &order_id),
        ApiEvent::from_json(LIST_CLAIMS),
    ];
    for event in events {
        let (status, body) = f.send(event.without_authorizer(), day(5)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    assert_eq!(f.stack.item_count().await, items);
}

#[tokio::test]
async fn invalid_claim_requests_are_4xx_with_code_and_message_and_write_nothing() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let items = f.stack.item_count().await;
    let text = |body: &str| f.file_event(&order_id, &json!({})).body_text(body);
    let json_body = |body: Value| f.file_event(&order_id, &body);
    let with_key = |key: &str| {
        let mut event = f.file_event(&order_id, &claim("damaged", "Box crushed.", None));
        event.0["headers"]["idempotency-key"] = key.into();
        event
    };
    let cases: Vec<(&str, ApiEvent, u16, &str)> = vec![
        ("broken JSON", text("{\"type\": "), 400, "malformed_json"),
        ("empty body", text(""), 400, "missing_body"),
        (
            "description as a number",
            json_body(json!({"type": "damaged", "description": 5})),
            400,
            "malformed_json",
        ),
        (
            "missing type",
            json_body(json!({"description": "Box crushed."})),
            422,
            "validation_failed",
        ),
        (
            "unknown type",
            json_body(claim("stolen", "Box crushed.", None)),
            422,
            "validation_failed",
        ),
        (
            "missing description",
            json_body(json!({"type": "damaged"})),
            422,
            "validation_failed",
        ),
        (
            "blank description",
            json_body(claim("damaged", "   ", None)),
            422,
            "validation_failed",
        ),
        (
            "oversized description",
            json_body(claim("damaged", &"x".repeat(2001), None)),
            422,
            "validation_failed",
        ),
        (
            "oversized carrier reference",
            json_body(claim("misdelivery", "Wrong house.", Some(&"R".repeat(101)))),
            422,
            "validation_failed",
        ),
        (
            "carrier reference with a control character",
            json_body(claim("misdelivery", "Wrong house.", Some("REF\u{7}1"))),
            422,
            "validation_failed",
        ),
        (
            "body over 64 KiB",
            text(&format!(
                "{{\"type\": \"damaged\", \"description\": \"{}\"}}",
                "x".repeat(70 * 1024)
            )),
            413,
            "payload_too_large",
        ),
        (
            "idempotency key with spaces",
            with_key("not a key"),
            400,
            "invalid_idempotency_key",
        ),
        (
            "idempotency key too long",
            with_key(&"k".repeat(256)),
            400,
            "invalid_idempotency_key",
        ),
    ];
    for (case, event, expected_status, expected_code) in cases {
        let (status, body) = f.send(event, day(5)).await;
        assert_eq!(status, expected_status, "{case}: {body}");
        assert_eq!(body["error"]["code"], expected_code, "{case}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{case}"
        );
    }
    let (_, body) = f
        .send(
            json_body(json!({"type": "stolen", "description": ""})),
            day(5),
        )
        .await;
    let fields: Vec<_> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["type", "description"]);
    assert_eq!(f.stack.item_count().await, items);
}

#[tokio::test]
async fn merchant_claims_are_newest_first_filtered_by_state_and_paged_by_cursor() {
    let f = Fixture::new().await;
    let mut filed = Vec::new();
    for (n, order_number) in ["1001", "1002", "1003"].into_iter().enumerate() {
        let order_id = f.delivered(order_number, "US").await;
        let (status, body) = f
            .file(
                &order_id,
                &claim("damaged", "Box crushed.", None),
                day(5 + n as i64),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        filed.push(body["claim_id"].as_str().unwrap().to_owned());
    }
    let other_order = f.labeled("merchant-other", "2001", "US", "jetpack").await;
    f.scan("2001", "PICKUP", day(1), "US").await;
    f.scan("2001", "DELIVERED", day(3), "US").await;
    let (status, other) = f
        .send(
            f.file_event(&other_order, &claim("damaged", "Dented.", None))
                .merchant("merchant-other"),
            day(8),
        )
        .await;
    assert_eq!(status, 201, "{other}");

    f.stack.requests.reset();
    let (status, page1) = f.list(MERCHANT, &[("limit", "2")]).await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(f.stack.requests.get("Query"), 1, "one Query per page");
    assert_eq!(
        ids(page1["claims"].as_array().unwrap()),
        [&filed[2], &filed[1]]
    );
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2) = f
        .list(MERCHANT, &[("limit", "2"), ("cursor", cursor.as_str())])
        .await;
    assert_eq!(ids(page2["claims"].as_array().unwrap()), [&filed[0]]);
    assert_eq!(page2["next_cursor"], Value::Null);

    // The cursor is this merchant's position: another merchant cannot replay it.
    let (status, body) = f
        .list("merchant-other", &[("cursor", cursor.as_str())])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_cursor");
    let (_, theirs) = f.list("merchant-other", &[]).await;
    assert_eq!(
        ids(theirs["claims"].as_array().unwrap()),
        [other["claim_id"].as_str().unwrap()]
    );

    // The carrier refuses the middle claim: it leaves the list of filed claims.
    let order_id = tracking_domain::order::order_id(MERCHANT, "1002");
    f.decide_claim(&order_id, &filed[1], day(20)).await;
    let (_, open) = f.list(MERCHANT, &[("state", "filed")]).await;
    assert_eq!(
        ids(open["claims"].as_array().unwrap()),
        [&filed[2], &filed[0]]
    );
    // Claims stored before the lifecycle say "open": that name still filters them.
    let (_, open) = f.list(MERCHANT, &[("state", "open")]).await;
    assert_eq!(
        ids(open["claims"].as_array().unwrap()),
        [&filed[2], &filed[0]]
    );
    let (_, denied) = f.list(MERCHANT, &[("state", "denied")]).await;
    let denied = denied["claims"].as_array().unwrap();
    assert_eq!(ids(denied), [&filed[1]]);
    assert_eq!(denied[0]["state"], "denied");
    assert_eq!(denied[0]["updated_at"], rfc3339(day(20)));

    for (query, code) in [
        (("state", "pending"), "invalid_state"),
        (("limit", "0"), "invalid_limit"),
        (("limit", "101"), "invalid_limit"),
        (("cursor", "not-a-cursor"), "invalid_cursor"),
    ] {
        let (status, body) = f.list(MERCHANT, &[query]).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], code);
    }
}

#[tokio::test]
async fn resolved_claim_frees_its_shipment_for_a_new_claim_of_the_type() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let (status, first) = f
        .file(&order_id, &claim("damaged", "Box crushed.", None), day(5))
        .await;
    assert_eq!(status, 201, "{first}");
    let claim_id = first["claim_id"].as_str().unwrap();
    // Submitted, it is still open: another damaged claim would repeat it.
    let submit = json!({"to": "submitted", "carrier_case_reference": "UPS-CASE-1"});
    let (status, _) = f.step(&order_id, claim_id, &submit, day(6)).await;
    assert_eq!(status, 200);
    f.refused(
        &order_id,
        &claim("damaged", "Box crushed, photos attached.", None),
        day(6),
        "duplicate_claim",
    )
    .await;
    let deny = json!({"to": "denied", "reason": "No damage on the carrier's photos."});
    let (status, _) = f.step(&order_id, claim_id, &deny, day(7)).await;
    assert_eq!(status, 200);
    let approve = json!({"to": "approved", "amount": "10", "currency": "USD"});
    let (status, body) = f.step(&order_id, claim_id, &approve, day(7)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("claim_transition_out_of_order")),
        "a decided claim is not decided again"
    );
    let (status, second) = f
        .file(
            &order_id,
            &claim("damaged", "Box crushed, photos attached.", None),
            day(8),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let states: Vec<_> = f
        .order_claims(&order_id)
        .await
        .iter()
        .map(|c| c["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["filed", "denied"]);
}

#[tokio::test]
async fn claim_decided_on_an_order_that_moved_since_is_not_written() {
    let f = Fixture::new().await;
    let order_id = f.shipped("1001").await;
    f.scan("1001", "PICKUP", day(1), "US").await;
    let store = f.stack.store();
    let read = store.order_with_claims(&order_id).await.unwrap().unwrap();
    // A delivery scan lands between the read and the write.
    f.scan("1001", "DELIVERED", day(3), "US").await;
    let record = ClaimRecord {
        claim_id: "clm_stale".into(),
        order_id: order_id.clone(),
        merchant_id: MERCHANT.into(),
        order_number: "1001".into(),
        claim_type: ClaimType::LostInTransit,
        state: ClaimState::Open,
        description: "No news.".into(),
        carrier_reference: None,
        shipment_id: Some(read.order.shipments[0].shipment_id.clone()),
        carrier: "dhl_express".into(),
        tracking_number: tracking("1001"),
        international: false,
        created_at: day(20),
        updated_at: day(20),
        request_fingerprint: "f".into(),
        event_id: claims_intake::claim_filed_event_id("clm_stale"),
        history: Vec::new(),
    };
    let items = f.stack.item_count().await;
    let event = claims_intake::claim_filed_event(&record, "DHL Express");
    let result = store.file_claim(read.version, &record, event).await;
    assert!(matches!(result, Err(StoreError::Contention)), "{result:?}");
    assert_eq!(f.stack.item_count().await, items);
    // Decided again on the delivered parcel, the same claim is refused.
    f.refused(
        &order_id,
        &claim("lost_in_transit", "No news.", None),
        day(20),
        "delivered_no_misdelivery",
    )
    .await;
}

#[tokio::test]
async fn operations_move_a_claim_forward_once_and_the_merchant_sees_each_step() {
    let f = Fixture::new().await;
    let order_id = f.delivered("1001", "US").await;
    let (status, filed) = f
        .file(&order_id, &claim("damaged", "Box crushed.", None), day(5))
        .await;
    assert_eq!(status, 201, "{filed}");
    let claim_id = filed["claim_id"].as_str().unwrap();

    // Merchants cannot move claims; a bad body or an unknown claim writes nothing.
    let items = f.stack.item_count().await;
    let submit = json!({"to": "submitted", "carrier_case_reference": "UPS-CASE-77"});
    let as_merchant = ApiEvent::from_json(MOVE_CLAIM)
        .role("merchant")
        .merchant(MERCHANT)
        .path_param("order_id", &order_id)
        .path_param("claim_id", claim_id)
        .body_json(&submit);
    assert_eq!(f.send(as_merchant, day(6)).await.0, 403);
    for (body, status, code) in [
        (
            json!({"to": "approved", "amount": "12.50", "currency": "USD"}),
            409,
            "claim_transition_out_of_order",
        ),
        (json!({"to": "submitted"}), 422, "validation_failed"),
        (
            json!({"to": "approved", "amount": "-3", "currency": "dollars"}),
            422,
            "validation_failed",
        ),
        (json!({"to": "closed"}), 422, "validation_failed"),
    ] {
        let (got, response) = f.step(&order_id, claim_id, &body, day(6)).await;
        assert_eq!(
            (got, response["error"]["code"].as_str()),
            (status, Some(code)),
            "{response}"
        );
    }
    let (status, missing) = f.step(&order_id, "clm_nope", &submit, day(6)).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("claim_not_found"))
    );
    assert_eq!(f.stack.item_count().await, items);

    let (status, submitted) = f.step(&order_id, claim_id, &submit, day(6)).await;
    assert_eq!(status, 200, "{submitted}");
    assert_eq!(submitted["state"], "submitted");
    let items = f.stack.item_count().await;
    let (status, again) = f.step(&order_id, claim_id, &submit, day(7)).await;
    assert_eq!((status, &again), (200, &submitted), "the same step again");
    assert_eq!(f.stack.item_count().await, items, "and nothing written");
    let approve = json!({"to": "approved", "amount": "42.5", "currency": "usd"});
    let (status, approved) = f.step(&order_id, claim_id, &approve, day(9)).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    let history: Vec<(&str, Option<&str>)> = approved["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["state"].as_str().unwrap(), s["amount"].as_str()))
        .collect();
    assert_eq!(history, [("submitted", None), ("approved", Some("42.50"))]);
    assert_eq!(
        approved["history"][0]["carrier_case_reference"],
        "UPS-CASE-77"
    );
    assert_eq!(approved["history"][1]["currency"], "USD");
    let deny = json!({"to": "denied", "reason": "Changed our mind."});
    let (status, body) = f.step(&order_id, claim_id, &deny, day(10)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("claim_transition_out_of_order"))
    );

    // The merchant sees the same in the claim and in the order details, with a row per step.
    let listed = f.order_claims(&order_id).await;
    assert_eq!(listed[0]["state"], "approved");
    assert_eq!(listed[0]["history"], approved["history"]);
    let details = f.details(&order_id, day(10)).await;
    assert_eq!(details["claims"][0]["state"], "approved");
    assert_eq!(details["claims"][0]["history"], approved["history"]);
    let steps: Vec<&str> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .filter(|c| c.starts_with("CLAIM_"))
        .collect();
    assert_eq!(steps, ["CLAIM_FILED", "CLAIM_SUBMITTED", "CLAIM_APPROVED"]);
}
