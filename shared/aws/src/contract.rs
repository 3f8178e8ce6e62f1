//! The store contract: what every implementation of [`crate::ports`] must do, as cases
//! that run against a fresh store each. The in-memory store runs them in this crate's
//! tests; the DynamoDB store runs them on the local stack in the integration tests, so a
//! behaviour the fake gets wrong fails beside the real one.
//!
//! [`store_contract!`](crate::store_contract) expands to one test per case, given an
//! expression that makes a fresh store.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tracking_domain::carriers::{Carrier, TrackingNumber};
use tracking_domain::claims::{self, ClaimMove, ClaimRecord, ClaimState, ClaimType, LabelSource};
use tracking_domain::email::EmailAddress;
use tracking_domain::label::{self, Label, LabelChange, LabelDecision};
use tracking_domain::nightly::Sweep;
use tracking_domain::order::{Order, OrderDraft, OrderSource};
use tracking_domain::shipment::ShipmentFilter;
use tracking_domain::status::{OrderStatus, ShipmentStatus};
use tracking_domain::subscriptions::Subscription;
use tracking_domain::sync::{SyncKey, SyncStatus};
use tracking_domain::timeline::{EventType, TimelineEvent};

use crate::ports::{
    Claims, Deliveries, HandOffs, Orders, PollCursors, Subscriptions, SweepLists, SyncRecords,
    Timelines, TrackingNumbers, WebhookDeliveries,
};
use crate::store::claims::ClaimQuery;
use crate::store::nightly::HandOffKey;
use crate::store::subscriptions::{DeliveryKey, DeliveryLease, SubscribeOutcome};
use crate::store::sync::SyncLease;
use crate::store::webhooks::{self, Delivery};
use crate::store::{
    CreateOutcome, EventWrite, LabelOutcome, ListError, ListQuery, StoreError, SweepCursor,
    TrackingRef, VersionedOrder,
};

/// Every port, as one bound for the cases.
pub trait Store:
    Orders
    + Timelines
    + TrackingNumbers
    + SweepLists
    + HandOffs
    + Claims
    + Subscriptions
    + Deliveries
    + SyncRecords
    + PollCursors
    + WebhookDeliveries
{
}

impl<S> Store for S where
    S: Orders
        + Timelines
        + TrackingNumbers
        + SweepLists
        + HandOffs
        + Claims
        + Subscriptions
        + Deliveries
        + SyncRecords
        + PollCursors
        + WebhookDeliveries
{
}

/// One test per contract case, each on the store `$fresh` (an expression whose `.await`
/// is a new, empty store).
#[macro_export]
macro_rules! store_contract {
    ($fresh:expr) => {
        $crate::store_contract!(@cases $fresh;
            orders_are_created_once,
            order_writes_are_checked_against_the_version_read,
            events_are_written_once,
            an_order_change_and_its_event_land_together_or_not_at_all,
            a_label_claims_its_number_once_with_its_order_and_event,
            packages_hold_their_own_numbers_and_a_relabel_frees_the_old_one,
            a_void_frees_the_number_with_its_order_and_event,
            hand_off_numbers_stay_with_the_order_that_claimed_them,
            orders_are_listed_newest_first_a_page_at_a_time,
            list_cursors_are_bound_to_their_list,
            search_finds_one_merchants_orders_by_order_and_tracking_number,
            sweep_lists_hold_what_is_due_oldest_first,
            hand_offs_are_leased_to_one_sender,
            claims_are_filed_once_per_type_while_open,
            claims_are_listed_newest_first_by_state,
            subscriptions_are_kept_once_per_mailbox,
            deliveries_are_leased_to_one_sender_and_finished_once,
            sync_records_are_leased_until_sent,
            poll_cursors_move_only_from_what_was_read,
            webhook_deliveries_are_recorded_once
        );
    };
    (@cases $fresh:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::contract::$case(&$fresh.await).await;
            }
        )+
    };
}

/// Tuesday 2026-11-24 10:00 CST.
fn tuesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap()
}

/// A valid manual order, as the API would create it, for tests that need one in a store.
pub fn order(merchant_id: &str, order_number: &str, created_at: DateTime<Utc>) -> Order {
    let draft: OrderDraft = serde_json::from_value(serde_json::json!({
        "order_number": order_number,
        "source": "manual",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "ship_to": {"line1": "1 Main St", "city": "Austin", "region": "TX", "postal_code": "78701", "country": "US"}
    }))
    .expect("contract order draft");
    Order::new(
        merchant_id,
        draft.parse().expect("contract order is valid"),
        created_at,
    )
}

fn label_of(carrier: Carrier, number: &str) -> Label {
    Label {
        carrier,
        service: "ground".into(),
        tracking_number: TrackingNumber::parse(carrier, number).expect("a valid tracking number"),
        label_source: LabelSource::Jetpack,
    }
}

const UPS_A: &str = "1Z999AA10123456784";
const UPS_B: &str = "1ZWX0692YP40636269";

/// A valid UPS tracking number for each `n` (UPS's check digit computed), for tests that
/// need many labels.
pub fn ups_number(n: u64) -> String {
    let body = format!("1Z999AA1{n:09}");
    let digits: Vec<u32> = body[2..]
        .chars()
        .map(|c| c.to_digit(10).unwrap_or_else(|| (c as u32 - 63) % 10))
        .collect();
    let odd: u32 = digits.iter().step_by(2).sum();
    let even: u32 = digits.iter().skip(1).step_by(2).sum();
    format!("{body}{}", (10 - (odd + 2 * even) % 10) % 10)
}

/// An order of `merchant_id` numbered `order_number`, created an hour before `at` and
/// labeled at `at` with `carrier`'s `tracking_number`, put in `store`; its id. For tests
/// of what happens to a shipment after its label.
pub async fn labeled_order<S: Orders + TrackingNumbers>(
    store: &S,
    merchant_id: &str,
    order_number: &str,
    carrier: Carrier,
    tracking_number: &str,
    at: DateTime<Utc>,
) -> String {
    let created = order(merchant_id, order_number, at - Duration::hours(1));
    store.create_order(created.clone()).await.unwrap();
    let read = store.get_order(&created.order_id).await.unwrap().unwrap();
    let change = labeled_with(&read.order, &label_of(carrier, tracking_number), at);
    assert!(matches!(
        store.attach_label(&read, &change).await.unwrap(),
        LabelOutcome::Attached(_)
    ));
    created.order_id
}

/// A carrier scan on `order_id`'s timeline, the order refreshed from it, as the feed
/// records one received at `now`.
pub async fn carrier_scan<S: Orders + Timelines>(
    store: &S,
    order_id: &str,
    scan: &tracking_domain::feed::Scan,
    now: DateTime<Utc>,
) {
    store.put_event(order_id, scan.to_event(now)).await.unwrap();
    let read = store.order_with_timeline(order_id).await.unwrap().unwrap();
    if let Some(updated) = read.order.refreshed_from(&read.timeline, now) {
        store
            .put_order_at_version(&updated, read.version)
            .await
            .unwrap();
    }
}

fn labeled(order: &Order, number: &str, at: DateTime<Utc>) -> LabelChange {
    labeled_with(order, &label_of(Carrier::Ups, number), at)
}

/// `label` as a new package of `order`.
fn labeled_with(order: &Order, label: &Label, at: DateTime<Utc>) -> LabelChange {
    match label::attach(order, label, None, at) {
        LabelDecision::Attach(change) => *change,
        other => panic!("a new label is a new package, got {other:?}"),
    }
}

fn note(event_id: &str, at: DateTime<Utc>) -> TimelineEvent {
    TimelineEvent {
        shipment_id: None,
        replaces: None,
        event_id: event_id.to_owned(),
        kind: EventType::OrderReceived,
        status: None,
        code: "CONTRACT_NOTE".into(),
        description: format!("contract note {event_id}"),
        occurred_at: at,
        utc_offset_minutes: 0,
        recorded_at: at,
        location: None,
        carrier: None,
        tracking_number: None,
        exception_reason: None,
        handoff: None,
    }
}

async fn created<S: Store>(store: &S, order: &Order) {
    assert!(matches!(
        store.create_order(order.clone()).await.unwrap(),
        CreateOutcome::Created(_)
    ));
}

pub async fn orders_are_created_once<S: Store>(store: &S) {
    let first = order("m1", "1001", tuesday());
    created(store, &first).await;
    let retry = order("m1", "1001", tuesday() + Duration::minutes(5));
    match store.create_order(retry).await.unwrap() {
        CreateOutcome::AlreadyExists(existing) => assert_eq!(existing, first),
        other => panic!("a retry finds the first order, got {other:?}"),
    }
    let mut other_body = order("m1", "1001", tuesday());
    other_body.request_fingerprint = "another body".into();
    match store.create_order(other_body).await.unwrap() {
        CreateOutcome::Conflict(existing) => assert_eq!(existing, first),
        other => panic!("another body under the id conflicts, got {other:?}"),
    }
    let read = store.get_order(&first.order_id).await.unwrap().unwrap();
    assert_eq!((read.order, read.version), (first, 1));
    assert!(store.get_order("ord_missing").await.unwrap().is_none());
}

pub async fn order_writes_are_checked_against_the_version_read<S: Store>(store: &S) {
    let first = order("m1", "1002", tuesday());
    created(store, &first).await;
    let mut changed = first.clone();
    changed.updated_at = tuesday() + Duration::hours(1);
    store.put_order_at_version(&changed, 1).await.unwrap();
    let mut stale = first.clone();
    stale.updated_at = tuesday() + Duration::hours(2);
    assert!(matches!(
        store.put_order_at_version(&stale, 1).await,
        Err(StoreError::Contention)
    ));
    let read = store.get_order(&first.order_id).await.unwrap().unwrap();
    assert_eq!((read.order, read.version), (changed, 2));
    let missing = order("m1", "never-created", tuesday());
    assert!(matches!(
        store.put_order_at_version(&missing, 1).await,
        Err(StoreError::Contention)
    ));
    assert!(store.get_order(&missing.order_id).await.unwrap().is_none());
}

pub async fn events_are_written_once<S: Store>(store: &S) {
    let first = order("m1", "1003", tuesday());
    created(store, &first).await;
    assert!(store
        .put_event(&first.order_id, note("n1", tuesday()))
        .await
        .unwrap());
    let mut again = note("n1", tuesday() + Duration::hours(1));
    again.description = "a redelivery".into();
    assert!(!store.put_event(&first.order_id, again).await.unwrap());
    assert!(store
        .put_event(&first.order_id, note("n2", tuesday()))
        .await
        .unwrap());
    let read = store
        .order_with_timeline(&first.order_id)
        .await
        .unwrap()
        .unwrap();
    let descriptions: Vec<_> = read
        .timeline
        .events()
        .iter()
        .map(|e| e.description.as_str())
        .collect();
    assert_eq!(descriptions, ["contract note n1", "contract note n2"]);
    assert_eq!(read.version, 1, "an event alone leaves the order as it was");
    assert!(store
        .order_with_timeline("ord_missing")
        .await
        .unwrap()
        .is_none());
}

pub async fn an_order_change_and_its_event_land_together_or_not_at_all<S: Store>(store: &S) {
    let first = order("m1", "1004", tuesday());
    created(store, &first).await;
    let mut completed = first.clone();
    completed.status = OrderStatus::Completed;
    assert_eq!(
        store
            .put_order_with_event(&completed, 1, note("done", tuesday()))
            .await
            .unwrap(),
        EventWrite::Written
    );
    // A writer that read version 1 lost the race: neither its order nor its event lands.
    assert!(matches!(
        store
            .put_order_with_event(&first, 1, note("late", tuesday()))
            .await,
        Err(StoreError::Contention)
    ));
    // The event already there while the order is where it was read: nothing is written.
    let mut again = completed.clone();
    again.updated_at = tuesday() + Duration::hours(3);
    assert_eq!(
        store
            .put_order_with_event(&again, 2, note("done", tuesday()))
            .await
            .unwrap(),
        EventWrite::EventExists
    );
    let read = store
        .order_with_timeline(&first.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.order, read.version), (completed, 2));
    let ids: Vec<_> = read
        .timeline
        .events()
        .iter()
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(ids, ["done"]);
}

pub async fn a_label_claims_its_number_once_with_its_order_and_event<S: Store>(store: &S) {
    let a = order("m1", "1005", tuesday());
    let b = order("m1", "1006", tuesday());
    created(store, &a).await;
    created(store, &b).await;
    let read_a = store.get_order(&a.order_id).await.unwrap().unwrap();
    let change_a = labeled(&a, UPS_A, tuesday());
    let labeled_a = change_a.order.clone();
    assert!(matches!(
        store.attach_label(&read_a, &change_a).await.unwrap(),
        LabelOutcome::Attached(_)
    ));
    assert_eq!(
        store.order_for_tracking("ups", UPS_A).await.unwrap(),
        Some(TrackingRef {
            order_id: a.order_id.clone(),
            merchant_id: "m1".into(),
            label_created_at: Some(tuesday()),
            shipment_id: Some(change_a.shipment_id.clone()),
            scans_from: None,
        })
    );
    let after_a = store
        .order_with_timeline(&a.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((after_a.order, after_a.version), (labeled_a, 2));
    assert_eq!(after_a.timeline.events().len(), 1);

    // The number is taken, whoever asks.
    let read_b = store.get_order(&b.order_id).await.unwrap().unwrap();
    assert!(matches!(
        store
            .attach_label(&read_b, &labeled(&b, UPS_A, tuesday()))
            .await
            .unwrap(),
        LabelOutcome::TrackingNumberInUse
    ));
    // A label decided on a stale read claims nothing.
    store.put_order_at_version(&b, 1).await.unwrap();
    assert!(matches!(
        store
            .attach_label(&read_b, &labeled(&b, UPS_B, tuesday()))
            .await,
        Err(StoreError::Contention)
    ));
    assert_eq!(store.order_for_tracking("ups", UPS_B).await.unwrap(), None);
    let after_b = store
        .order_with_timeline(&b.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after_b.version, 2);
    assert!(after_b.order.shipments.is_empty());
    assert!(after_b.timeline.events().is_empty());
}

pub async fn packages_hold_their_own_numbers_and_a_relabel_frees_the_old_one<S: Store>(store: &S) {
    let a = order("m1", "1007", tuesday());
    let b = order("m1", "1008", tuesday());
    created(store, &a).await;
    created(store, &b).await;
    let read = store.get_order(&a.order_id).await.unwrap().unwrap();
    let first = labeled(&read.order, UPS_A, tuesday());
    store.attach_label(&read, &first).await.unwrap();
    let read = store.get_order(&a.order_id).await.unwrap().unwrap();
    let second = labeled(&read.order, UPS_B, tuesday() + Duration::hours(1));
    assert!(matches!(
        store.attach_label(&read, &second).await.unwrap(),
        LabelOutcome::Attached(_)
    ));
    let numbers = |number: &'static str| async move {
        store
            .order_for_tracking("ups", number)
            .await
            .unwrap()
            .and_then(|target| target.shipment_id)
    };
    assert_eq!(numbers(UPS_A).await, Some(first.shipment_id.clone()));
    assert_eq!(numbers(UPS_B).await, Some(second.shipment_id.clone()));
    let read = store
        .order_with_timeline(&a.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.order.shipments.len(), 2);
    assert_eq!(read.timeline.events().len(), 2);
    let found = store.search_orders("m1", UPS_B).await.unwrap();
    assert_eq!(found.len(), 1, "either package's number finds the order");

    // The first package relabeled before any scan: its old number is free again, for
    // another order too.
    let read = store.get_order(&a.order_id).await.unwrap().unwrap();
    let third = ups_number(7);
    let relabel = match label::attach(
        &read.order,
        &label_of(Carrier::Ups, &third),
        Some(&first.shipment_id),
        tuesday() + Duration::hours(2),
    ) {
        LabelDecision::Attach(change) => *change,
        other => panic!("{other:?}"),
    };
    assert!(relabel.released.is_some());
    assert!(matches!(
        store.attach_label(&read, &relabel).await.unwrap(),
        LabelOutcome::Attached(_)
    ));
    assert_eq!(numbers(UPS_A).await, None);
    assert!(store.search_orders("m1", UPS_A).await.unwrap().is_empty());
    let read_b = store.get_order(&b.order_id).await.unwrap().unwrap();
    assert!(matches!(
        store
            .attach_label(&read_b, &labeled(&b, UPS_A, tuesday() + Duration::hours(3)))
            .await
            .unwrap(),
        LabelOutcome::Attached(_)
    ));
    let target = store
        .order_for_tracking("ups", UPS_A)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.order_id, b.order_id);
    assert_eq!(
        target.label_created_at,
        Some(tuesday() + Duration::hours(3))
    );
}

pub async fn a_void_frees_the_number_with_its_order_and_event<S: Store>(store: &S) {
    let a = order("m1", "1009", tuesday());
    created(store, &a).await;
    let read = store.get_order(&a.order_id).await.unwrap().unwrap();
    let labeled = labeled(&read.order, UPS_A, tuesday());
    store.attach_label(&read, &labeled).await.unwrap();
    let read = store.get_order(&a.order_id).await.unwrap().unwrap();
    let label::VoidDecision::Void(change) = label::void(
        &read.order,
        &labeled.shipment_id,
        tuesday() + Duration::hours(1),
    ) else {
        panic!("an unscanned label can be voided");
    };
    // Decided on a stale read, it writes nothing.
    let stale = VersionedOrder {
        version: read.version - 1,
        ..read.clone()
    };
    assert!(matches!(
        store.void_label(&stale, &change).await,
        Err(StoreError::Contention)
    ));
    assert!(store
        .order_for_tracking("ups", UPS_A)
        .await
        .unwrap()
        .is_some());
    store.void_label(&read, &change).await.unwrap();
    let after = store
        .order_with_timeline(&a.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.version, read.version + 1);
    assert_eq!(after.order, change.order);
    assert_eq!(after.timeline.events().len(), 2);
    assert_eq!(store.order_for_tracking("ups", UPS_A).await.unwrap(), None);
    assert!(store.search_orders("m1", UPS_A).await.unwrap().is_empty());
    // Once is all: the same void again is a lost race (its event is there).
    assert!(matches!(
        store
            .void_label(
                &store.get_order(&a.order_id).await.unwrap().unwrap(),
                &change
            )
            .await,
        Err(StoreError::Contention)
    ));
}

pub async fn hand_off_numbers_stay_with_the_order_that_claimed_them<S: Store>(store: &S) {
    let target = |order_id: &str| TrackingRef {
        order_id: order_id.into(),
        merchant_id: "m1".into(),
        label_created_at: Some(tuesday()),
        shipment_id: None,
        scans_from: None,
    };
    let number = "9400111899223100000001";
    assert!(store
        .claim_tracking("usps", number, &target("ord_a"))
        .await
        .unwrap());
    assert!(store
        .claim_tracking("usps", number, &target("ord_a"))
        .await
        .unwrap());
    assert!(!store
        .claim_tracking("usps", number, &target("ord_b"))
        .await
        .unwrap());
    assert_eq!(
        store.order_for_tracking("usps", number).await.unwrap(),
        Some(target("ord_a"))
    );
    // Numbers are unique per carrier, not across carriers.
    assert!(store
        .claim_tracking("dhl", number, &target("ord_b"))
        .await
        .unwrap());
}

async fn all_pages<S: Store>(store: &S, merchant_id: &str, mut query: ListQuery) -> Vec<String> {
    let mut numbers = Vec::new();
    loop {
        let page = store.list_orders(merchant_id, &query).await.unwrap();
        assert!(page.orders.len() <= usize::try_from(query.limit).unwrap());
        numbers.extend(page.orders.into_iter().map(|o| o.details.order_number));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return numbers,
        }
    }
}

pub async fn orders_are_listed_newest_first_a_page_at_a_time<S: Store>(store: &S) {
    for n in 0..5 {
        let mut o = order("m1", &format!("L{n}"), tuesday() + Duration::minutes(n));
        if n % 2 == 0 {
            o.status = OrderStatus::Completed;
        }
        created(store, &o).await;
    }
    created(store, &order("m2", "L9", tuesday() + Duration::hours(1))).await;
    let query = |status| ListQuery {
        status,
        shipment_status: None,
        limit: 2,
        cursor: None,
    };
    assert_eq!(
        all_pages(store, "m1", query(None)).await,
        ["L4", "L3", "L2", "L1", "L0"]
    );
    assert_eq!(
        all_pages(store, "m1", query(Some(OrderStatus::Completed))).await,
        ["L4", "L2", "L0"]
    );
    assert_eq!(
        all_pages(store, "m1", query(Some(OrderStatus::Processing))).await,
        ["L3", "L1"]
    );
    let filtered = |status, filter: &str| ListQuery {
        shipment_status: ShipmentFilter::parse(filter),
        ..query(status)
    };
    assert_eq!(
        all_pages(
            store,
            "m1",
            filtered(Some(OrderStatus::Completed), "received")
        )
        .await,
        ["L4", "L2", "L0"]
    );
    assert!(all_pages(store, "m1", filtered(None, "delivered"))
        .await
        .is_empty());

    // One package delivered and one in exception: an exception order, not a delivered
    // one. A stalled package flags its order too.
    let mut mixed = order("m1", "L5", tuesday() + Duration::minutes(5));
    for number in [UPS_A, UPS_B] {
        let package = label_of(Carrier::Ups, number).shipment(mixed.next_shipment_id(), tuesday());
        mixed.shipments.push(package);
    }
    mixed.shipments[0].status = ShipmentStatus::Delivered;
    mixed.shipments[1].status = ShipmentStatus::Exception;
    mixed.settle();
    created(store, &mixed).await;
    let mut silent = order("m1", "L6", tuesday() + Duration::minutes(6));
    silent.shipments =
        vec![label_of(Carrier::Ups, &ups_number(9)).shipment(silent.next_shipment_id(), tuesday())];
    silent.shipments[0].stalled = true;
    silent.settle();
    created(store, &silent).await;
    assert_eq!(
        all_pages(store, "m1", filtered(None, "exception")).await,
        ["L5"]
    );
    assert_eq!(
        all_pages(store, "m1", filtered(None, "stalled")).await,
        ["L6"]
    );
    assert!(all_pages(store, "m1", filtered(None, "late"))
        .await
        .is_empty());
    assert!(all_pages(store, "m1", filtered(None, "delivered"))
        .await
        .is_empty());
    assert_eq!(
        all_pages(
            store,
            "m1",
            filtered(Some(OrderStatus::Processing), "exception")
        )
        .await,
        ["L5"]
    );
    assert!(all_pages(store, "m2", filtered(None, "exception"))
        .await
        .is_empty());
}

pub async fn list_cursors_are_bound_to_their_list<S: Store>(store: &S) {
    for merchant in ["m1", "m2"] {
        for n in 0..3 {
            created(
                store,
                &order(merchant, &format!("C{n}"), tuesday() + Duration::minutes(n)),
            )
            .await;
        }
    }
    let first = store
        .list_orders(
            "m1",
            &ListQuery {
                limit: 1,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("more orders follow");
    for (merchant, status) in [("m2", None), ("m1", Some(OrderStatus::Completed))] {
        let replayed = store
            .list_orders(
                merchant,
                &ListQuery {
                    status,
                    limit: 1,
                    cursor: Some(cursor.clone()),
                    ..ListQuery::default()
                },
            )
            .await;
        assert!(
            matches!(replayed, Err(ListError::InvalidCursor)),
            "{merchant} {status:?}"
        );
    }
    let forged = store
        .list_orders(
            "m1",
            &ListQuery {
                limit: 1,
                cursor: Some("bm90IGEgY3Vyc29y".into()),
                ..ListQuery::default()
            },
        )
        .await;
    assert!(matches!(forged, Err(ListError::InvalidCursor)));
}

pub async fn search_finds_one_merchants_orders_by_order_and_tracking_number<S: Store>(store: &S) {
    let mine = order("m1", "A-1001", tuesday());
    let theirs = order("m2", "A-1001", tuesday());
    created(store, &mine).await;
    created(store, &theirs).await;
    let read = store.get_order(&mine.order_id).await.unwrap().unwrap();
    store
        .attach_label(&read, &labeled(&mine, UPS_A, tuesday()))
        .await
        .unwrap();
    for term in ["#a 1001", "A-1001", "1z999aa1-0123456784"] {
        let found = store.search_orders("m1", term).await.unwrap();
        let ids: Vec<_> = found.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids, [mine.order_id.as_str()], "{term}");
    }
    assert!(store.search_orders("m2", UPS_A).await.unwrap().is_empty());
    assert!(store.search_orders("m1", "1002").await.unwrap().is_empty());
}

pub async fn sweep_lists_hold_what_is_due_oldest_first<S: Store>(store: &S) {
    // Labels on consecutive days complete on consecutive mornings.
    let mut ids = Vec::new();
    for day in 0..4 {
        let o = order("m1", &format!("S{day}"), tuesday());
        created(store, &o).await;
        let mut change = labeled(&o, &ups_number(day as u64), tuesday());
        let read = store.get_order(&o.order_id).await.unwrap().unwrap();
        change.order.completes_at = Some(tuesday() + Duration::days(day));
        assert!(matches!(
            store.attach_label(&read, &change).await,
            Ok(LabelOutcome::Attached(_))
        ));
        ids.push(o.order_id);
    }
    // One of them is no longer due: completed.
    let done = store.get_order(&ids[1]).await.unwrap().unwrap();
    let mut completed = done.order.clone();
    completed.status = OrderStatus::Completed;
    store
        .put_order_at_version(&completed, done.version)
        .await
        .unwrap();
    let unlabeled = order("m1", "S-unlabeled", tuesday());
    created(store, &unlabeled).await;

    let up_to = tuesday() + Duration::days(2);
    let mut seen = Vec::new();
    let mut start: Option<SweepCursor> = None;
    loop {
        let page = store
            .sweep_page(Sweep::Completion, up_to, 1, start.take())
            .await
            .unwrap();
        assert!(page.order_ids.len() <= 1);
        seen.extend(page.order_ids);
        match page.next {
            // A cursor carried in a message comes back through its string form.
            Some(next) => {
                start = Some(
                    SweepCursor::from_strings(Sweep::Completion, next.to_strings())
                        .expect("a run's own cursor is accepted"),
                );
            }
            None => break,
        }
    }
    assert_eq!(seen, [ids[0].clone(), ids[2].clone()]);
    let expiring = store
        .sweep_page(Sweep::Expiry, tuesday() + Duration::days(200), 10, None)
        .await
        .unwrap();
    assert_eq!(expiring.order_ids.len(), 4, "every label expires");
    assert!(store
        .sweep_page(Sweep::Expiry, tuesday(), 10, None)
        .await
        .unwrap()
        .order_ids
        .is_empty());
}

pub async fn hand_offs_are_leased_to_one_sender<S: Store>(store: &S) {
    let key = HandOffKey {
        scheduled_time: tuesday(),
        from: "start".into(),
    };
    let lease = Duration::minutes(5);
    let horizon = Duration::hours(12);
    let now = tuesday();
    assert!(store
        .lease_hand_off(&key, "a", now, lease, horizon, "next")
        .await
        .unwrap());
    assert!(!store
        .lease_hand_off(&key, "b", now, lease, horizon, "next")
        .await
        .unwrap());
    assert!(!store.hand_off_sent(&key, "b", now, "next").await.unwrap());
    assert!(store.hand_off_sent(&key, "a", now, "next").await.unwrap());
    let later = now + Duration::hours(1);
    assert!(!store
        .lease_hand_off(&key, "c", later, lease, horizon, "next")
        .await
        .unwrap());
    // Past the replay horizon the same input is a new night's replay.
    let replay = now + Duration::hours(13);
    assert!(store
        .lease_hand_off(&key, "d", replay, lease, horizon, "next")
        .await
        .unwrap());
    assert!(store
        .release_hand_off(&key, "d", replay, "next")
        .await
        .unwrap());
    assert!(!store
        .release_hand_off(&key, "d", replay, "next")
        .await
        .unwrap());
    assert!(store
        .lease_hand_off(&key, "e", replay, lease, horizon, "next")
        .await
        .unwrap());
    // A sender that died holding the lease is replaced once it runs out.
    assert!(!store
        .lease_hand_off(&key, "f", replay + lease, lease, horizon, "next")
        .await
        .unwrap());
    assert!(store
        .lease_hand_off(
            &key,
            "f",
            replay + lease + Duration::seconds(1),
            lease,
            horizon,
            "next"
        )
        .await
        .unwrap());
    let other = HandOffKey {
        scheduled_time: tuesday(),
        from: "elsewhere".into(),
    };
    assert!(store
        .lease_hand_off(&other, "g", now, lease, horizon, "next")
        .await
        .unwrap());
}

fn claim(o: &Order, claim_id: &str, claim_type: ClaimType, at: DateTime<Utc>) -> ClaimRecord {
    ClaimRecord {
        claim_id: claim_id.into(),
        order_id: o.order_id.clone(),
        merchant_id: o.merchant_id.clone(),
        order_number: o.details.order_number.clone(),
        claim_type,
        state: ClaimState::Open,
        description: "contract claim".into(),
        carrier_reference: None,
        shipment_id: Some(tracking_domain::shipment::shipment_id(&o.order_id, 1)),
        carrier: "ups".into(),
        tracking_number: UPS_A.into(),
        international: false,
        created_at: at,
        updated_at: at,
        request_fingerprint: format!("fp-{claim_id}"),
        event_id: format!("claim-{claim_id}"),
        history: Vec::new(),
    }
}

/// `claim` moved one step on by `step` at `at`, written; the claim as moved.
async fn moved<S: Store>(
    store: &S,
    claim: &ClaimRecord,
    step: &ClaimMove,
    at: DateTime<Utc>,
) -> ClaimRecord {
    let claims::MoveDecision::Move {
        claim: next,
        from,
        event,
    } = claims::transition(claim, step, at)
    else {
        panic!("{step:?} is the next step of {:?}", claim.state);
    };
    store.move_claim(&next, from, *event).await.unwrap();
    *next
}

/// `claim` submitted and then denied: decided, its package free for another of its type.
async fn decided<S: Store>(store: &S, claim: &ClaimRecord, at: DateTime<Utc>) -> ClaimRecord {
    let submit = ClaimMove::Submit {
        carrier_case_reference: format!("CASE-{}", claim.claim_id),
    };
    let submitted = moved(store, claim, &submit, at).await;
    let deny = ClaimMove::Deny {
        reason: "not lost".into(),
    };
    moved(store, &submitted, &deny, at).await
}

pub async fn claims_are_filed_once_per_type_while_open<S: Store>(store: &S) {
    let o = order("m1", "K1", tuesday());
    created(store, &o).await;
    let first = claim(&o, "clm_1", ClaimType::Damaged, tuesday());
    store
        .file_claim(1, &first, note(&first.event_id, tuesday()))
        .await
        .unwrap();
    let read = store.order_with_claims(&o.order_id).await.unwrap().unwrap();
    assert_eq!(read.claims, std::slice::from_ref(&first));
    assert_eq!(read.timeline.events().len(), 1);
    // A claim decided on a stale read, a second open claim of the type, the same claim
    // again: each is a lost race, and writes nothing.
    store.put_order_at_version(&o, 1).await.unwrap();
    let stale = claim(&o, "clm_2", ClaimType::Misdelivery, tuesday());
    let second = claim(&o, "clm_3", ClaimType::Damaged, tuesday());
    for (version, attempt) in [(1, &stale), (2, &second), (2, &first)] {
        assert!(matches!(
            store
                .file_claim(
                    version,
                    attempt,
                    note(&format!("{}-again", attempt.event_id), tuesday())
                )
                .await,
            Err(StoreError::Contention)
        ));
    }
    let read = store.order_with_claims(&o.order_id).await.unwrap().unwrap();
    assert_eq!(read.claims.len(), 1);
    assert_eq!(read.timeline.events().len(), 1);
    // The same type on another package is a claim of its own.
    let other_package = ClaimRecord {
        shipment_id: Some(tracking_domain::shipment::shipment_id(&o.order_id, 2)),
        ..claim(&o, "clm_4", ClaimType::Damaged, tuesday())
    };
    store
        .file_claim(2, &other_package, note(&other_package.event_id, tuesday()))
        .await
        .unwrap();
    decided(store, &other_package, tuesday()).await;
    // Submitted, it is still open: the type stays taken.
    let resolved_at = tuesday() + Duration::days(3);
    let submitted = moved(
        store,
        &first,
        &ClaimMove::Submit {
            carrier_case_reference: "CASE-1".into(),
        },
        resolved_at,
    )
    .await;
    assert!(matches!(
        store
            .file_claim(2, &second, note(&second.event_id, resolved_at))
            .await,
        Err(StoreError::Contention)
    ));
    // Decided, the type is free again; a step is taken once, from where it was read.
    let deny = ClaimMove::Deny {
        reason: "no loss found".into(),
    };
    let claims::MoveDecision::Move {
        claim: denied,
        from,
        event,
    } = claims::transition(&submitted, &deny, resolved_at)
    else {
        panic!("a submitted claim can be denied");
    };
    store
        .move_claim(&denied, from, (*event).clone())
        .await
        .unwrap();
    assert!(matches!(
        store.move_claim(&denied, from, *event).await,
        Err(StoreError::Contention)
    ));
    store
        .file_claim(2, &second, note(&second.event_id, resolved_at))
        .await
        .unwrap();
    let read = store.order_with_claims(&o.order_id).await.unwrap().unwrap();
    let mut states: Vec<_> = read
        .claims
        .iter()
        .map(|c| (c.claim_id.as_str(), c.state))
        .collect();
    states.sort_by_key(|(id, _)| *id);
    assert_eq!(
        states,
        [
            ("clm_1", ClaimState::Denied),
            ("clm_3", ClaimState::Open),
            ("clm_4", ClaimState::Denied),
        ]
    );
    let first_read = read.claims.iter().find(|c| c.claim_id == "clm_1").unwrap();
    assert_eq!(first_read.updated_at, resolved_at);
    assert!(store
        .order_with_claims("ord_missing")
        .await
        .unwrap()
        .is_none());
}

pub async fn claims_are_listed_newest_first_by_state<S: Store>(store: &S) {
    let mut claims = Vec::new();
    for n in 0..4i64 {
        let o = order("m1", &format!("KL{n}"), tuesday());
        created(store, &o).await;
        let c = claim(
            &o,
            &format!("clm_{n}"),
            ClaimType::LostInTransit,
            tuesday() + Duration::hours(n),
        );
        store
            .file_claim(1, &c, note(&c.event_id, c.created_at))
            .await
            .unwrap();
        claims.push(c);
    }
    decided(store, &claims[2], tuesday() + Duration::days(1)).await;
    let other = order("m2", "KL9", tuesday());
    created(store, &other).await;
    let theirs = claim(&other, "clm_9", ClaimType::Damaged, tuesday());
    store
        .file_claim(1, &theirs, note(&theirs.event_id, tuesday()))
        .await
        .unwrap();

    let pages = |state| async move {
        let mut query = ClaimQuery {
            state,
            limit: 2,
            cursor: None,
        };
        let mut ids = Vec::new();
        loop {
            let page = store.list_claims("m1", &query).await.unwrap();
            assert!(page.claims.len() <= 2);
            ids.extend(page.claims.into_iter().map(|c| c.claim_id));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return (ids, query),
            }
        }
    };
    let (all, _) = pages(None).await;
    assert_eq!(all, ["clm_3", "clm_2", "clm_1", "clm_0"]);
    let (open, _) = pages(Some(ClaimState::Open)).await;
    assert_eq!(open, ["clm_3", "clm_1", "clm_0"]);
    let (denied, _) = pages(Some(ClaimState::Denied)).await;
    assert_eq!(denied, ["clm_2"]);
    let first = store
        .list_claims(
            "m1",
            &ClaimQuery {
                state: None,
                limit: 1,
                cursor: None,
            },
        )
        .await
        .unwrap();
    let replayed = store
        .list_claims(
            "m2",
            &ClaimQuery {
                state: None,
                limit: 1,
                cursor: first.next_cursor,
            },
        )
        .await;
    assert!(matches!(replayed, Err(ListError::InvalidCursor)));
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).expect("valid address")
}

pub async fn subscriptions_are_kept_once_per_mailbox<S: Store>(store: &S) {
    let o = order("m1", "E1", tuesday());
    created(store, &o).await;
    let for_order = |raw: &str| Subscription {
        email: address(raw),
        merchant_id: "m1".into(),
        order_id: Some(o.order_id.clone()),
        created_at: tuesday(),
    };
    assert!(matches!(
        store.subscribe(for_order("ops@example.com")).await.unwrap(),
        SubscribeOutcome::Created(_)
    ));
    match store.subscribe(for_order("OPS@Example.com")).await.unwrap() {
        SubscribeOutcome::AlreadySubscribed(existing) => {
            assert_eq!(existing.email, address("ops@example.com"))
        }
        other => panic!("another spelling of the mailbox is the same, got {other:?}"),
    }
    store
        .subscribe(Subscription::merchant_wide(
            "m1",
            address("team@example.com"),
            tuesday(),
        ))
        .await
        .unwrap();
    let emails = |subs: Vec<Subscription>| -> Vec<String> {
        subs.into_iter().map(|s| s.email.canonical()).collect()
    };
    assert_eq!(
        emails(store.order_subscriptions(&o.order_id).await.unwrap()),
        ["ops@example.com"]
    );
    assert_eq!(
        emails(store.merchant_subscriptions("m1").await.unwrap()),
        ["team@example.com"]
    );
    assert!(store.merchant_subscriptions("m2").await.unwrap().is_empty());
    let context = store
        .notification_context(&o.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(emails(context.subscriptions), ["ops@example.com"]);
    assert!(store
        .remove_order_subscription(&o.order_id, &address("Ops@example.com"))
        .await
        .unwrap());
    assert!(!store
        .remove_order_subscription(&o.order_id, &address("ops@example.com"))
        .await
        .unwrap());
    assert!(store
        .remove_merchant_subscription("m1", &address("team@example.com"))
        .await
        .unwrap());
    assert!(!store
        .remove_merchant_subscription("m1", &address("team@example.com"))
        .await
        .unwrap());
    assert!(store
        .order_subscriptions(&o.order_id)
        .await
        .unwrap()
        .is_empty());
}

pub async fn deliveries_are_leased_to_one_sender_and_finished_once<S: Store>(store: &S) {
    let key = DeliveryKey {
        order_id: "ord_d",
        event_id: "ev1",
        recipient: "ops@example.com",
    };
    let lease = Duration::minutes(2);
    let now = tuesday();
    assert_eq!(
        store.lease_delivery(key, now, lease).await.unwrap(),
        DeliveryLease::Acquired { attempt: 1 }
    );
    assert_eq!(
        store.lease_delivery(key, now, lease).await.unwrap(),
        DeliveryLease::HeldElsewhere
    );
    let after = now + lease;
    assert_eq!(
        store.lease_delivery(key, after, lease).await.unwrap(),
        DeliveryLease::Acquired { attempt: 2 }
    );
    store.release_delivery(key, after).await.unwrap();
    assert_eq!(
        store.lease_delivery(key, after, lease).await.unwrap(),
        DeliveryLease::Acquired { attempt: 3 }
    );
    store.mark_delivery_sent(key, "ses-1", after).await.unwrap();
    store.release_delivery(key, after).await.unwrap();
    assert_eq!(
        store
            .lease_delivery(key, after + Duration::days(1), lease)
            .await
            .unwrap(),
        DeliveryLease::AlreadySent
    );
    let refused = DeliveryKey {
        recipient: "bounce@example.com",
        ..key
    };
    store.lease_delivery(refused, now, lease).await.unwrap();
    store
        .mark_delivery_failed(refused, "rejected", now)
        .await
        .unwrap();
    assert_eq!(
        store
            .lease_delivery(refused, now + Duration::days(1), lease)
            .await
            .unwrap(),
        DeliveryLease::GaveUp
    );
    let never_leased = DeliveryKey {
        recipient: "nobody@example.com",
        ..key
    };
    assert!(store
        .mark_delivery_sent(never_leased, "ses-2", now)
        .await
        .is_err());
}

pub async fn sync_records_are_leased_until_sent<S: Store>(store: &S) {
    let key = SyncKey {
        order_id: "ord_s".into(),
        platform: OrderSource::Shopify,
        carrier: "ups".into(),
        tracking_number: UPS_A.into(),
        withdraws: false,
        label: None,
    };
    let lease = Duration::minutes(15);
    let now = tuesday();
    let first = match store.lease_sync(&key, now, lease).await.unwrap() {
        SyncLease::Acquired(record) => record,
        other => panic!("a new sync is leased, got {other:?}"),
    };
    assert_eq!(
        (
            first.status,
            first.attempts,
            first.lease_until,
            first.created_at
        ),
        (SyncStatus::Pending, 1, now + lease, now)
    );
    assert!(matches!(
        store
            .lease_sync(&key, now + Duration::minutes(1), lease)
            .await
            .unwrap(),
        SyncLease::HeldElsewhere(_)
    ));
    store
        .mark_sync_failed(&key, "store said 502", now + Duration::minutes(1))
        .await
        .unwrap();
    let failed = store.sync_record(&key).await.unwrap().unwrap();
    assert_eq!(failed.status, SyncStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("store said 502"));
    let retry_at = now + Duration::minutes(2);
    match store.lease_sync(&key, retry_at, lease).await.unwrap() {
        SyncLease::Acquired(record) => {
            assert_eq!((record.attempts, record.created_at), (2, now));
        }
        other => panic!("a failed sync is leased again, got {other:?}"),
    }
    store
        .mark_sync_sent(&key, Some("gid://shopify/Fulfillment/1"), retry_at)
        .await
        .unwrap();
    store
        .mark_sync_failed(&key, "a stale worker", retry_at)
        .await
        .unwrap();
    match store
        .lease_sync(&key, retry_at + Duration::days(1), lease)
        .await
        .unwrap()
    {
        SyncLease::AlreadySent(record) => {
            assert_eq!(record.status, SyncStatus::Sent);
            assert_eq!(record.sent_at, Some(retry_at));
            assert_eq!(
                record.remote_ref.as_deref(),
                Some("gid://shopify/Fulfillment/1")
            );
            assert_eq!(record.last_error, None);
        }
        other => panic!("a sent sync is never leased again, got {other:?}"),
    }
    let other = SyncKey {
        tracking_number: UPS_B.into(),
        ..key.clone()
    };
    assert!(store.sync_record(&other).await.unwrap().is_none());
    // Taking a number back is a record of its own beside the push that gave it.
    let withdrawal = SyncKey {
        withdraws: true,
        ..key.clone()
    };
    assert!(store.sync_record(&withdrawal).await.unwrap().is_none());
    assert!(store.mark_sync_sent(&other, None, now).await.is_err());
}

pub async fn poll_cursors_move_only_from_what_was_read<S: Store>(store: &S) {
    assert!(store.poll_cursor("amazon", "m1").await.unwrap().is_none());
    assert!(store
        .advance_poll_cursor("amazon", "m1", None, tuesday())
        .await
        .unwrap());
    assert!(!store
        .advance_poll_cursor("amazon", "m1", None, tuesday())
        .await
        .unwrap());
    let read = store.poll_cursor("amazon", "m1").await.unwrap().unwrap();
    assert_eq!((read.changed_after, read.version), (tuesday(), 1));
    let later = tuesday() + Duration::hours(1);
    assert!(store
        .advance_poll_cursor("amazon", "m1", Some(&read), later)
        .await
        .unwrap());
    assert!(!store
        .advance_poll_cursor("amazon", "m1", Some(&read), later + Duration::hours(1))
        .await
        .unwrap());
    let moved = store.poll_cursor("amazon", "m1").await.unwrap().unwrap();
    assert_eq!((moved.changed_after, moved.version), (later, 2));
    assert!(store.poll_cursor("amazon", "m2").await.unwrap().is_none());
}

pub async fn webhook_deliveries_are_recorded_once<S: Store>(store: &S) {
    let key = webhooks::DeliveryKey {
        platform: "shopify",
        shop: "acme.myshopify.com".into(),
        webhook_id: "wh-1".into(),
    };
    assert!(store.webhook_delivery(&key).await.unwrap().is_none());
    let delivery = |order_id: &str| Delivery {
        order_id: order_id.into(),
        order_number: "1001".into(),
        processed_at: tuesday(),
        triggered_at: None,
        expires_at: (tuesday() + Duration::days(7)).timestamp(),
    };
    store
        .record_webhook_delivery(&key, delivery("ord_1"))
        .await
        .unwrap();
    store
        .record_webhook_delivery(&key, delivery("ord_2"))
        .await
        .unwrap();
    assert_eq!(
        store.webhook_delivery(&key).await.unwrap(),
        Some(delivery("ord_1"))
    );
    let other_shop = webhooks::DeliveryKey {
        shop: "other.myshopify.com".into(),
        ..key
    };
    assert!(store.webhook_delivery(&other_shop).await.unwrap().is_none());
}
