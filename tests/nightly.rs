use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use local_stack::{read_response, ApiEvent, TestQueue, TestStack};
use nightly_completion::{parse_trigger, Budget, Committed, RunInput, RunReport};
use serde_json::json;
use tracking_aws::contract::ups_number;
use tracking_domain::calendar::chicago_time_at;
use tracking_domain::nightly::Sweep;
use tracking_domain::status::OrderStatus;

use crate::*;

const SCHEDULER_INPUT: &str = include_str!("../events/nightly-completion/scheduler-input.json");
const SCHEDULED_EVENT: &str =
    include_str!("../events/nightly-completion/eventbridge-scheduled-event.json");
const CONTINUATION: &str = include_str!("../events/nightly-completion/continuation-sqs-event.json");

fn ct(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chicago_time_at(NaiveDate::from_ymd_opt(y, m, d).unwrap(), h, min)
}

fn six_am(y: i32, m: u32, d: u32) -> RunInput {
    RunInput::night(ct(y, m, d, 6, 0))
}

/// Creates an order labeled at `label_at` with a unique UPS number; returns its id.
async fn labeled(
    stack: &TestStack,
    number: &str,
    label_at: DateTime<Utc>,
    tracking: &str,
) -> String {
    let order_id = create_order(
        stack,
        "merchant-acme",
        number,
        label_at - Duration::hours(1),
    )
    .await;
    let (status, body) = upload_label(stack, &order_id, "ups", tracking, label_at).await;
    assert_eq!(status, 201, "{body}");
    order_id
}

async fn order_status(stack: &TestStack, order_id: &str) -> (OrderStatus, usize) {
    let found = stack
        .store()
        .order_with_timeline(order_id)
        .await
        .unwrap()
        .unwrap();
    let completions = found
        .timeline
        .events()
        .iter()
        .filter(|e| e.code == "ORDER_COMPLETED")
        .count();
    (found.order.status, completions)
}

#[tokio::test]
async fn orders_complete_at_six_ct_the_day_after_upload_and_a_rerun_changes_nothing() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let nightly = stack.nightly(&queue, &[]);
    // Tuesday 23:50 CT -> Wednesday 06:00; Wednesday 00:30 CT -> Thursday 06:00.
    let tuesday_night = labeled(&stack, "A", ct(2026, 11, 24, 23, 50), &ups_number(1)).await;
    let wednesday_early = labeled(&stack, "B", ct(2026, 11, 25, 0, 30), &ups_number(2)).await;
    let unlabeled = create_order(&stack, "merchant-acme", "C", ct(2026, 11, 24, 9, 0)).await;

    let report = nightly
        .run(&six_am(2026, 11, 25), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(report.completed, 1, "{report:?}");
    assert_eq!(
        order_status(&stack, &tuesday_night).await,
        (OrderStatus::Completed, 1)
    );
    assert_eq!(
        order_status(&stack, &wednesday_early).await,
        (OrderStatus::Processing, 0)
    );
    assert_eq!(
        order_status(&stack, &unlabeled).await,
        (OrderStatus::Processing, 0)
    );

    stack.requests.reset();
    let rerun = nightly
        .run(&six_am(2026, 11, 25), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((rerun.completed, rerun.failed), (0, 0), "{rerun:?}");
    assert_eq!(
        stack.requests.get("PutItem") + stack.requests.get("TransactWriteItems"),
        0,
        "a re-run wrote something"
    );

    nightly
        .run(&six_am(2026, 11, 26), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        order_status(&stack, &wednesday_early).await,
        (OrderStatus::Completed, 1)
    );

    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", &tuesday_night);
    let (_, details) = read_response(
        stack
            .orders_api()
            .handle(event.request(), ct(2026, 11, 25, 7, 0))
            .await,
    );
    assert_eq!(details["status"], "Completed");
    assert_eq!(details["completed_at"], "2026-11-25T12:00:00Z");
    let completed_row = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "order_completed")
        .unwrap()
        .clone();
    assert_eq!(completed_row["local_time"], "2026-11-25T06:00:00-06:00");
    let listed = ApiEvent::from_json(LIST_ORDERS).query(&[("status", "Completed")]);
    let (_, page) = read_response(
        stack
            .orders_api()
            .handle(listed.request(), ct(2026, 11, 26, 7, 0))
            .await,
    );
    assert_eq!(page["orders"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_missed_night_is_caught_up_by_the_next_run_and_a_past_night_can_be_replayed() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let nightly = stack.nightly(&queue, &[]);
    let order = labeled(&stack, "A", ct(2026, 11, 23, 14, 0), &ups_number(3)).await;
    // The Tuesday run never happened; Wednesday's completes it, dated Tuesday 06:00.
    let report = nightly
        .run(&six_am(2026, 11, 25), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(report.completed, 1);
    let found = stack.store().get_order(&order).await.unwrap().unwrap();
    assert_eq!(found.order.completed_at, Some(ct(2026, 11, 24, 6, 0)));
    // Replaying Tuesday now changes nothing.
    let replay = nightly
        .run(&six_am(2026, 11, 24), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(replay.completed, 0);
}

#[tokio::test]
async fn dst_change_days_complete_at_six_local_time() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let nightly = stack.nightly(&queue, &[]);
    // Fall back on Sunday 2026-11-01: 06:00 CST is 12:00Z. Spring forward on 2026-03-08: 11:00Z.
    let fall_2359 = labeled(&stack, "F1", ct(2026, 10, 31, 23, 59), &ups_number(10)).await;
    let fall_0001 = labeled(&stack, "F2", ct(2026, 11, 1, 0, 1), &ups_number(11)).await;
    let spring_2359 = labeled(&stack, "S1", ct(2026, 3, 7, 23, 59), &ups_number(12)).await;
    let spring_0001 = labeled(&stack, "S2", ct(2026, 3, 8, 0, 1), &ups_number(13)).await;
    for (order, expected) in [
        (&fall_2359, "2026-11-01T12:00:00Z"),
        (&fall_0001, "2026-11-02T12:00:00Z"),
        (&spring_2359, "2026-03-08T11:00:00Z"),
        (&spring_0001, "2026-03-09T11:00:00Z"),
    ] {
        let found = stack.store().get_order(order).await.unwrap().unwrap();
        assert_eq!(
            found
                .order
                .completes_at
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            expected
        );
    }
    let spring_day = nightly
        .run(&six_am(2026, 3, 8), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(spring_day.completed, 1);
    assert_eq!(
        order_status(&stack, &spring_2359).await.0,
        OrderStatus::Completed
    );
    assert_eq!(
        order_status(&stack, &spring_0001).await.0,
        OrderStatus::Processing
    );
    // 05:59 CST on fall-back day is one minute early.
    let early = RunInput::night(ct(2026, 11, 1, 5, 59));
    assert_eq!(
        nightly
            .run(&early, &Budget::Unlimited)
            .await
            .unwrap()
            .completed,
        1,
        "only the March order is left due"
    );
    assert_eq!(
        order_status(&stack, &fall_2359).await.0,
        OrderStatus::Processing
    );
    nightly
        .run(&six_am(2026, 11, 1), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        order_status(&stack, &fall_2359).await.0,
        OrderStatus::Completed
    );
    assert_eq!(
        order_status(&stack, &fall_0001).await.0,
        OrderStatus::Processing
    );
}

#[tokio::test]
async fn a_run_costs_the_same_on_a_full_table_with_nothing_due_as_on_an_empty_one() {
    let empty = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let run_at = six_am(2026, 11, 25);
    empty
        .nightly(&queue, &[])
        .run(&run_at, &Budget::Unlimited)
        .await
        .unwrap();
    let empty_cost = empty.requests.snapshot();

    let full = TestStack::new().await;
    // Completed, not-yet-due and unlabeled orders: none of them is due at the run.
    for n in 0..15 {
        labeled(
            &full,
            &format!("done-{n}"),
            ct(2026, 11, 20, 10, 0),
            &ups_number(100 + n),
        )
        .await;
    }
    full.nightly(&queue, &[])
        .run(&six_am(2026, 11, 21), &Budget::Unlimited)
        .await
        .unwrap();
    for n in 0..15 {
        labeled(
            &full,
            &format!("later-{n}"),
            ct(2026, 11, 25, 9, 0),
            &ups_number(200 + n),
        )
        .await;
        create_order(
            &full,
            "merchant-acme",
            &format!("unlabeled-{n}"),
            ct(2026, 11, 24, 9, 0),
        )
        .await;
    }
    // Scans keep the completed ones out of the stall and first-scan sweeps.
    full.requests.reset();
    let report = full
        .nightly(&queue, &[])
        .run(&run_at, &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        report,
        RunReport {
            scheduled_time: Some(run_at.scheduled_time),
            first_scan_late: 15,
            ..RunReport::default()
        },
        "the Friday labels' first scans are late by Wednesday"
    );
    let full_cost = full.requests.snapshot();
    assert_eq!(
        empty_cost,
        [("Query".to_owned(), 4)].into(),
        "one query per sweep"
    );
    // The full table's run paid only for the 15 late first scans (a Query and one
    // transaction of the event and the order each).
    assert_eq!(full_cost.get("Query"), Some(&(4 + 15)));
    assert_eq!(full_cost.get("TransactWriteItems"), Some(&15));
    assert_eq!(full_cost.get("PutItem"), None);
    assert_eq!(full_cost.get("Scan"), None);
}

#[tokio::test]
async fn a_run_out_of_time_stops_cleanly_and_its_continuation_finishes_the_night_once() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let config = [("NIGHTLY_PAGE_SIZE", "10")];
    let nightly = stack.nightly(&queue, &config);
    let mut orders = Vec::new();
    for n in 0..25 {
        orders.push(
            labeled(
                &stack,
                &format!("N{n}"),
                ct(2026, 11, 24, 12, 0),
                &ups_number(300 + n),
            )
            .await,
        );
    }
    let first = nightly
        .run(&six_am(2026, 11, 25), &Budget::Pages(2.into()))
        .await
        .unwrap();
    assert!(first.continued);
    assert_eq!(first.completed, 20);

    // The continuation arrives through the queue, as an SQS event for the same function.
    let mut reports = Vec::new();
    let (nightly, reports_seen) = (&nightly, &mut reports);
    queue
        .deliver_once(1, |event| async move {
            let inputs = parse_trigger(serde_json::to_value(&event).unwrap()).unwrap();
            assert_eq!(inputs.len(), 1);
            assert_eq!(inputs[0].scheduled_time, ct(2026, 11, 25, 6, 0));
            assert_eq!(inputs[0].continuation, 1);
            let resume = inputs[0].resume.as_ref().expect("a cursor");
            assert_eq!(resume.sweep, "completion");
            assert!(resume.page.is_some(), "{resume:?}");
            reports_seen.push(nightly.run(&inputs[0], &Budget::Unlimited).await.unwrap());
            aws_lambda_events::event::sqs::SqsBatchResponse::default()
        })
        .await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].completed, 5);
    assert!(!reports[0].continued);
    for order in &orders {
        assert_eq!(
            order_status(&stack, order).await,
            (OrderStatus::Completed, 1),
            "{order}"
        );
        let found = stack.store().get_order(order).await.unwrap().unwrap();
        assert_eq!(
            found.version, 3,
            "created, labeled, completed: written once each"
        );
    }
}

#[tokio::test]
async fn stalled_late_and_expired_shipments_are_flagged_once_on_the_timeline() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let feed = TestQueue::new("CarrierFeedQueue").await;
    let nightly = stack.nightly(&queue, &[]);
    // Friday 2027-01-15 label before MLK day: first scan due by the end of Tuesday Jan 19.
    let friday = labeled(&stack, "F", ct(2027, 1, 15, 14, 0), &ups_number(400)).await;
    let scanned = labeled(&stack, "S", ct(2027, 1, 15, 14, 0), &ups_number(401)).await;
    let pickup = json!({"carrier": "ups", "tracking_number": ups_number(401), "code": "PICKUP",
        "occurred_at": "2027-01-19T16:00:00-06:00"});
    let response = stack
        .scan_ingest(&feed)
        .handle(
            serde_json::from_value(
                json!({"Records": [{"messageId": "m1", "body": pickup.to_string()}]}),
            )
            .unwrap(),
            ct(2027, 1, 19, 16, 5),
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());

    let tuesday = nightly
        .run(&six_am(2027, 1, 19), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(tuesday.first_scan_late, 0, "{tuesday:?}");
    let wednesday = nightly
        .run(&six_am(2027, 1, 20), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(wednesday.first_scan_late, 1, "{wednesday:?}");
    let again = nightly
        .run(&six_am(2027, 1, 21), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(again.first_scan_late, 0);

    // The never-scanned label stalls five business days after Friday Jan 15 (MLK day
    // skipped: Tue 19 .. Mon 25), so from Tuesday Jan 26; the scanned one five business
    // days after its Tuesday Jan 19 pickup (Wed 20 .. Tue 26), so from Wednesday Jan 27.
    let mut stalled_by_night = Vec::new();
    for day in [25, 26, 27, 28] {
        let report = nightly
            .run(&six_am(2027, 1, day), &Budget::Unlimited)
            .await
            .unwrap();
        stalled_by_night.push(report.stalled);
    }
    assert_eq!(stalled_by_night, [0, 1, 1, 0]);

    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", &friday);
    let (_, details) = read_response(
        stack
            .orders_api()
            .handle(event.request(), ct(2027, 1, 27, 8, 0))
            .await,
    );
    assert_eq!(details["shipment"]["stalled"], true);
    assert_eq!(details["shipment"]["first_scan_late"], true);
    let codes: Vec<_> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "STALLED").count(), 1);
    assert_eq!(codes.iter().filter(|c| *c == "FIRST_SCAN_LATE").count(), 1);

    // A scan clears the stall.
    let scan = json!({"carrier": "ups", "tracking_number": ups_number(401), "code": "IN_TRANSIT",
        "occurred_at": "2027-01-27T10:00:00-06:00"});
    stack
        .scan_ingest(&feed)
        .handle(
            serde_json::from_value(
                json!({"Records": [{"messageId": "m2", "body": scan.to_string()}]}),
            )
            .unwrap(),
            ct(2027, 1, 27, 10, 5),
        )
        .await
        .unwrap();
    assert!(
        !stack
            .store()
            .get_order(&scanned)
            .await
            .unwrap()
            .unwrap()
            .order
            .shipments[0]
            .stalled
    );

    // 120 days after the label, tracking expires, once.
    let expiry = six_am(2027, 5, 16);
    let report = nightly.run(&expiry, &Budget::Unlimited).await.unwrap();
    assert_eq!(report.expired, 2, "{report:?}");
    assert_eq!(
        nightly
            .run(&six_am(2027, 5, 17), &Budget::Unlimited)
            .await
            .unwrap()
            .expired,
        0
    );
    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", &friday);
    let (_, details) = read_response(
        stack
            .orders_api()
            .handle(event.request(), ct(2027, 5, 17, 8, 0))
            .await,
    );
    assert_eq!(details["shipment"]["tracking_expired"], true);
    assert!(details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["code"] == "TRACKING_EXPIRED"));
}

#[tokio::test]
async fn every_trigger_shape_in_events_parses_to_its_scheduled_time() {
    let expected = RunInput::night(Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap());
    assert_eq!(
        parse_trigger(serde_json::from_str(SCHEDULER_INPUT).unwrap()).unwrap(),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        parse_trigger(serde_json::from_str(SCHEDULED_EVENT).unwrap()).unwrap(),
        std::slice::from_ref(&expected)
    );
    let continued = parse_trigger(serde_json::from_str(CONTINUATION).unwrap()).unwrap();
    assert_eq!(continued.len(), 1);
    assert_eq!(
        (continued[0].scheduled_time, continued[0].continuation),
        (expected.scheduled_time, 1)
    );
    let resume = continued[0]
        .resume
        .as_ref()
        .expect("the sample carries a cursor");
    assert_eq!(resume.sweep, "stall");
    assert_eq!(
        resume
            .page
            .as_ref()
            .and_then(|p| p.get("watch_pk"))
            .map(String::as_str),
        Some("WATCH")
    );
    assert!(parse_trigger(json!({"hello": "world"})).is_err());
}

/// Timeline codes of an order, read back from the table.
async fn codes(stack: &TestStack, order_id: &str) -> Vec<String> {
    stack
        .store()
        .order_with_timeline(order_id)
        .await
        .unwrap()
        .unwrap()
        .timeline
        .events()
        .iter()
        .map(|e| e.code.clone())
        .collect()
}

async fn scan(stack: &TestStack, feed: &TestQueue, body: serde_json::Value, at: DateTime<Utc>) {
    let response = stack
        .scan_ingest(feed)
        .handle(
            serde_json::from_value(
                json!({"Records": [{"messageId": "m", "body": body.to_string()}]}),
            )
            .unwrap(),
            at,
        )
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
}

#[tokio::test]
async fn a_scan_landing_between_decision_and_write_leaves_no_stall_or_late_event() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    let feed = TestQueue::new("CarrierFeedQueue").await;
    let nightly = stack.nightly(&queue, &[]);
    // Friday 2027-01-15 labels, never scanned: the first scan is late from Wednesday Jan 20
    // 00:00 CT, the shipment stalled from Tuesday Jan 26 (MLK day skipped).
    let silent = labeled(&stack, "S", ct(2027, 1, 15, 14, 0), &ups_number(500)).await;
    let unscanned = labeled(&stack, "U", ct(2027, 1, 15, 14, 0), &ups_number(501)).await;

    // The first-scan sweep decides "late"; then the carrier's pickup scan (made on time,
    // Tuesday afternoon, arriving in the night) lands before the decision is written.
    let now = ct(2027, 1, 20, 6, 0);
    let late = nightly
        .decide_for(Sweep::AwaitingFirstScan, &unscanned, now)
        .await
        .unwrap()
        .expect("late by Wednesday");
    let pickup = json!({"carrier": "ups", "tracking_number": ups_number(501), "code": "PICKUP",
        "occurred_at": "2027-01-19T16:00:00-06:00"});
    scan(&stack, &feed, pickup, now - Duration::minutes(1)).await;
    assert_eq!(nightly.commit(&late).await.unwrap(), Committed::Outdated);
    assert!(!codes(&stack, &unscanned)
        .await
        .contains(&"FIRST_SCAN_LATE".to_owned()));

    // The same for a stall: decided, then a scan, then the write is refused whole.
    nightly
        .run(&six_am(2027, 1, 25), &Budget::Unlimited)
        .await
        .unwrap();
    let now = ct(2027, 1, 26, 6, 0);
    let stalled = nightly
        .decide_for(Sweep::StallWatch, &silent, now)
        .await
        .unwrap()
        .expect("stalled by Tuesday");
    let moving = json!({"carrier": "ups", "tracking_number": ups_number(500), "code": "IN_TRANSIT",
        "occurred_at": "2027-01-26T05:30:00-06:00"});
    scan(&stack, &feed, moving, now - Duration::minutes(1)).await;
    assert_eq!(nightly.commit(&stalled).await.unwrap(), Committed::Outdated);
    let after = codes(&stack, &silent).await;
    assert!(!after.contains(&"STALLED".to_owned()), "{after:?}");
    let order = stack
        .store()
        .get_order(&silent)
        .await
        .unwrap()
        .unwrap()
        .order;
    assert!(!order.shipments[0].stalled);

    // Decided again from a fresh read, the night finds nothing to flag.
    let report = nightly
        .run(&six_am(2027, 1, 26), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((report.stalled, report.failed), (0, 0), "{report:?}");
    assert!(!codes(&stack, &silent).await.contains(&"STALLED".to_owned()));

    // Undisturbed, a decision is one write of both: the event and the order change.
    let other = labeled(&stack, "O", ct(2027, 1, 15, 14, 0), &ups_number(502)).await;
    let decision = nightly
        .decide_for(Sweep::StallWatch, &other, now)
        .await
        .unwrap()
        .expect("stalled");
    stack.requests.reset();
    assert_eq!(nightly.commit(&decision).await.unwrap(), Committed::Written);
    assert_eq!(
        stack.requests.snapshot(),
        [("TransactWriteItems".to_owned(), 1)].into()
    );
    assert!(codes(&stack, &other).await.contains(&"STALLED".to_owned()));
}

/// 25 labels of Friday 2027-01-15, completed and flagged late by Wednesday's run, so that
/// Thursday's run has only the stall sweep's 25 candidates, none of them stalled yet (two
/// business days of silence): they stay in the index, and a run restarted from the top
/// would read them again.
async fn stall_candidates(stack: &TestStack, queue: &TestQueue) -> Vec<String> {
    let mut orders = Vec::new();
    for n in 0..25 {
        orders.push(
            labeled(
                stack,
                &format!("W{n}"),
                ct(2027, 1, 15, 14, 0),
                &ups_number(600 + n),
            )
            .await,
        );
    }
    let wednesday = stack
        .nightly(queue, &[])
        .run(&six_am(2027, 1, 20), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((wednesday.completed, wednesday.first_scan_late), (25, 25));
    orders
}

#[tokio::test]
async fn a_run_cut_short_continues_from_its_cursor_without_rereading_pages() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    stall_candidates(&stack, &queue).await;
    let config = [("NIGHTLY_PAGE_SIZE", "10")];
    let nightly = stack.nightly(&queue, &config);
    // Pages: completion (empty), first scan (empty), stall 1 and 2; cut before stall 3.
    let first = nightly
        .run(&six_am(2027, 1, 21), &Budget::Pages(4.into()))
        .await
        .unwrap();
    assert!(first.continued);
    assert_eq!(first.unchanged, 20, "{first:?}");

    let messages = queue.peek(&queue.url).await;
    assert_eq!(messages.len(), 1);
    let next: RunInput = serde_json::from_str(&messages[0].0).unwrap();
    let resume = next
        .resume
        .clone()
        .expect("the continuation carries a cursor");
    assert_eq!(resume.sweep, "stall");
    assert!(resume.page.is_some());

    stack.requests.reset();
    let rest = nightly.run(&next, &Budget::Unlimited).await.unwrap();
    assert!(!rest.continued);
    assert_eq!(
        rest.unchanged, 5,
        "only the last stall page is read: {rest:?}"
    );
    // Stall page 3 and the expiry sweep's one page, plus the 5 orders' own reads.
    assert_eq!(stack.requests.get("Query"), 2 + 5);
}

#[tokio::test]
async fn a_retried_cut_short_run_hands_its_night_on_once() {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    stall_candidates(&stack, &queue).await;
    let config = [("NIGHTLY_PAGE_SIZE", "10")];
    let nightly = stack.nightly(&queue, &config);
    let thursday = six_am(2027, 1, 21);
    // The scheduler's invocation and Lambda's retries of it: one continuation.
    let mut reports = Vec::new();
    for pages in [3, 4, 2] {
        reports.push(
            nightly
                .run(&thursday, &Budget::Pages(pages.into()))
                .await
                .unwrap(),
        );
    }
    assert!(reports.iter().all(|r| r.continued));
    assert_eq!(
        reports
            .iter()
            .map(|r| r.continuation_already_sent)
            .collect::<Vec<_>>(),
        [false, true, true]
    );
    let messages = queue.peek(&queue.url).await;
    assert_eq!(messages.len(), 1, "{messages:?}");

    // SQS delivering that continuation twice: it hands on once too.
    let next: RunInput = serde_json::from_str(&messages[0].0).unwrap();
    for _ in 0..2 {
        nightly.run(&next, &Budget::Pages(1.into())).await.unwrap();
    }
    let messages = queue.peek(&queue.url).await;
    assert_eq!(messages.len(), 2, "{messages:?}");

    // Replaying the night on purpose, past the retry horizon, hands on again.
    let tomorrow = tracking_aws::now() + Duration::hours(13);
    let replay = stack
        .nightly(&queue, &config)
        .with_clock(std::sync::Arc::new(move || tomorrow));
    let report = replay
        .run(&thursday, &Budget::Pages(1.into()))
        .await
        .unwrap();
    assert!(
        report.continued && !report.continuation_already_sent,
        "{report:?}"
    );
    assert_eq!(queue.peek(&queue.url).await.len(), 3);
}
