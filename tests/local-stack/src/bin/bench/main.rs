//! `./dev bench`: figures for the functions against the local AWS stack: DynamoDB
//! requests per event, the nightly run over 10,000 due orders, how a run's cost grows
//! with the table, and carrier-feed throughput. Printed as a table and written as JSON
//! (`target/bench/results.json`) so runs can be compared. Timings on moto measure our
//! code plus moto's, on a shared machine: compare runs on the same machine only.

mod coldstart;
mod latency;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::StreamExt;
use local_stack::{read_response, ApiEvent, RequestCounter, TestQueue, TestStack};
use nightly_completion::{Budget, RunInput};
use serde_json::{json, Value};
use tracking_aws::contract::ups_number;
use tracking_aws::ports::{Orders, Timelines, TrackingNumbers};
use tracking_domain::calendar::chicago_time_at;
use tracking_domain::order::{Order, OrderDraft};

const CREATE_ORDER: &str = include_str!("../../../../../events/orders-api/create-order.json");
const GET_ORDER: &str = include_str!("../../../../../events/orders-api/get-order.json");
const FILE_CLAIM: &str = include_str!("../../../../../events/claims-intake/file-claim.json");
const MOVE_CLAIM: &str = include_str!("../../../../../events/claims-intake/move-claim.json");
const UPLOAD_LABEL: &str = include_str!("../../../../../events/label-upload/upload-label.json");
const VOID_SHIPMENT: &str = include_str!("../../../../../events/label-upload/void-shipment.json");

fn ct(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chicago_time_at(NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default(), h, 0)
}

fn draft(order_number: &str) -> OrderDraft {
    serde_json::from_value(json!({
        "order_number": order_number, "source": "manual",
        "customer": {"name": "Bench Customer", "email": "bench@example.com"},
        "ship_to": {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"}
    }))
    .unwrap_or_default()
}

/// Orders written straight through the store (the bench measures the run, not the seeding).
async fn seed(stack: &TestStack, prefix: &str, count: u64, label_at: Option<DateTime<Utc>>) {
    let store = stack.store();
    futures::stream::iter(0..count)
        .map(|n| {
            let store = store.clone();
            let prefix = prefix.to_owned();
            async move {
                let order_number = format!("{prefix}-{n}");
                let details = draft(&order_number).parse().expect("bench order is valid");
                let created = label_at.unwrap_or_else(|| ct(2026, 11, 1, 9)) - Duration::hours(1);
                let mut order = Order::new("bench-merchant", details, created);
                // A labeled order is written whole, with its tracking claim, rather than
                // through the label transaction: the local DynamoDB copies the whole table
                // for every transaction, which would make seeding quadratic.
                if let Some(at) = label_at {
                    let label = label_upload::LabelRequest {
                        carrier: Some("ups".into()),
                        service: Some("ground".into()),
                        tracking_number: Some(ups_number(n + prefix.len() as u64 * 1_000_000)),
                        label_source: Some("jetpack".into()),
                        shipment_id: None,
                    }
                    .parse()
                    .expect("bench label is valid")
                    .label;
                    let tracking_domain::label::LabelDecision::Attach(change) =
                        tracking_domain::label::attach(&order, &label, None, at)
                    else {
                        panic!("a new bench order takes a label");
                    };
                    let Some(package) = change.shipment() else {
                        panic!("a new label is on its package");
                    };
                    let target =
                        tracking_aws::store::TrackingRef::for_package(&change.order, package);
                    order = change.order;
                    if let Err(error) = store
                        .claim_tracking("ups", label.tracking_number.as_str(), &target)
                        .await
                    {
                        eprintln!("  seeding {order_number}: {error:?}");
                    }
                }
                if let Err(error) = store.create_order(order).await {
                    eprintln!("  seeding {order_number}: {error:?}");
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}

fn writes(counts: &std::collections::HashMap<String, usize>) -> usize {
    [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ]
    .iter()
    .map(|op| counts.get(*op).copied().unwrap_or(0))
    .sum()
}

fn cost(requests: &RequestCounter) -> Value {
    let counts = requests.snapshot();
    json!({"requests": requests.total(), "writes": writes(&counts), "capacity_units": requests.capacity_units(),
        "by_operation": counts.into_iter().collect::<BTreeMap<_, _>>()})
}

fn sqs_event(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"messageId": format!("m{i}"), "body": b}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}

fn scan_body(tracking: &str, hour: i64) -> String {
    json!({"carrier": "ups", "tracking_number": tracking, "code": "IN_TRANSIT",
        "occurred_at": (ct(2026, 11, 26, 0) + Duration::minutes(hour)).to_rfc3339(), "description": "Arrived at facility"})
    .to_string()
}

async fn cost_per_event(results: &mut BTreeMap<String, Value>) {
    let stack = TestStack::new().await;
    let feed = TestQueue::new("CarrierFeedQueue").await;
    let nightly_queue = TestQueue::new("NightlyContinuationQueue").await;
    let mut costs = BTreeMap::new();
    let now = ct(2026, 11, 25, 9);

    stack.requests.reset();
    let event = ApiEvent::from_json(CREATE_ORDER);
    let (_, created) = read_response(stack.orders_api().handle(event.request(), now).await);
    costs.insert("order_create", cost(&stack.requests));
    let order_id = created["order_id"].as_str().unwrap_or_default().to_owned();

    stack.requests.reset();
    let event = ApiEvent::from_json(UPLOAD_LABEL).path_param("order_id", &order_id);
    read_response(stack.label_upload().handle(event.request(), now).await);
    costs.insert("label_upload", cost(&stack.requests));

    // A second package: the same one transaction, on an order that already has a label.
    stack.requests.reset();
    let second = json!({"carrier": "ups", "service": "ground",
        "tracking_number": "1ZWX0692YP40636269", "label_source": "jetpack"});
    let event = ApiEvent::from_json(UPLOAD_LABEL)
        .path_param("order_id", &order_id)
        .body_json(&second);
    let (_, added) = read_response(stack.label_upload().handle(event.request(), now).await);
    costs.insert("label_second_package", cost(&stack.requests));
    let second_package = added["shipment_id"].as_str().unwrap_or_default().to_owned();

    // Never scanned, the second package is voided: one transaction too, and the order is
    // back to one package for the claim below.
    stack.requests.reset();
    let event = ApiEvent::from_json(VOID_SHIPMENT)
        .path_param("order_id", &order_id)
        .path_param("shipment_id", &second_package);
    read_response(stack.label_upload().handle(event.request(), now).await);
    costs.insert("label_void", cost(&stack.requests));

    let ingest = stack.scan_ingest(&feed);
    let tracking = "1Z999AA10123456784";
    for (name, body) in [
        ("scan_new", scan_body(tracking, 60)),
        ("scan_duplicate", scan_body(tracking, 60)),
        ("scan_older_late", scan_body(tracking, 30)),
    ] {
        stack.requests.reset();
        let _ = ingest.handle(sqs_event(&[body]), now).await;
        costs.insert(name, cost(&stack.requests));
    }

    let delivered = json!({"carrier": "ups", "tracking_number": tracking, "code": "DELIVERED",
        "occurred_at": (ct(2026, 11, 27, 0)).to_rfc3339(), "location": {"city": "Austin", "country": "US"}});
    // Received after it happened: a scan dated over a day ahead of its arrival is refused.
    let _ = ingest
        .handle(sqs_event(&[delivered.to_string()]), ct(2026, 11, 27, 9))
        .await;
    stack.requests.reset();
    let event = ApiEvent::from_json(FILE_CLAIM)
        .path_param("order_id", &order_id)
        .body_json(&json!({"type": "damaged", "description": "Box crushed on arrival."}));
    let (status, filed) = read_response(
        stack
            .claims_intake()
            .handle(event.request(), ct(2026, 11, 28, 9))
            .await,
    );
    if status == 201 {
        costs.insert("claim_filed", cost(&stack.requests));
        let claim_id = filed["claim_id"].as_str().unwrap_or_default();
        for (name, step) in [
            (
                "claim_submitted",
                json!({"to": "submitted", "carrier_case_reference": "UPS-1"}),
            ),
            (
                "claim_approved",
                json!({"to": "approved", "amount": "25.00", "currency": "USD"}),
            ),
        ] {
            stack.requests.reset();
            let event = ApiEvent::from_json(MOVE_CLAIM)
                .path_param("order_id", &order_id)
                .path_param("claim_id", claim_id)
                .body_json(&step);
            let (status, _) = read_response(
                stack
                    .claims_intake()
                    .handle(event.request(), ct(2026, 11, 29, 9))
                    .await,
            );
            if status == 200 {
                costs.insert(name, cost(&stack.requests));
            }
        }
    }

    stack.requests.reset();
    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", &order_id);
    read_response(stack.orders_api().handle(event.request(), now).await);
    costs.insert("order_details", cost(&stack.requests));

    stack.requests.reset();
    let run = RunInput::night(ct(2026, 11, 26, 6));
    let _ = stack
        .nightly(&nightly_queue, &[])
        .run(&run, &Budget::Unlimited)
        .await;
    costs.insert("nightly_run_with_one_due_order", cost(&stack.requests));

    println!("\nDynamoDB cost per event (requests on the wire; writes = write requests)");
    println!(
        "  {:<34} {:>8} {:>7} {:>9}  by operation",
        "event", "requests", "writes", "capacity"
    );
    for (name, value) in &costs {
        let number = |key: &str| value[key].as_u64().unwrap_or(0);
        println!(
            "  {:<34} {:>8} {:>7} {:>9.1}  {}",
            name,
            number("requests"),
            number("writes"),
            value["capacity_units"].as_f64().unwrap_or(0.0),
            value["by_operation"]
        );
    }
    results.insert("cost_per_event".into(), json!(costs));
}

async fn nightly_at_scale(due: u64, results: &mut BTreeMap<String, Value>) {
    let stack = TestStack::new().await;
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    eprintln!("  seeding {due} due orders...");
    seed(&stack, "due", due, Some(ct(2026, 11, 24, 12))).await;
    stack.requests.reset();
    let started = Instant::now();
    let report = stack
        .nightly(&queue, &[])
        .run(&RunInput::night(ct(2026, 11, 25, 6)), &Budget::Unlimited)
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let completed = report.as_ref().map_or(0, |r| r.completed);
    eprintln!("  run report: {report:?}");
    let requests = stack.requests.total();
    println!("\nNightly run over {due} due orders");
    println!("  completed {completed} in {elapsed:.1} s ({:.0} orders/s), {requests} requests ({:.2} per order), {}", completed as f64 / elapsed, requests as f64 / completed.max(1) as f64, cost(&stack.requests)["by_operation"]);
    results.insert("nightly_due_orders".into(), json!({"due": due, "completed": completed, "seconds": elapsed, "requests": requests, "requests_per_order": requests as f64 / completed.max(1) as f64, "by_operation": cost(&stack.requests)["by_operation"]}));
}

async fn nightly_cost_growth(sizes: &[u64], results: &mut BTreeMap<String, Value>) {
    let queue = TestQueue::new("NightlyContinuationQueue").await;
    println!("\nNightly run requests as the table grows (10 orders due each time)");
    let mut rows = Vec::new();
    for &size in sizes {
        let stack = TestStack::new().await;
        eprintln!("  seeding {size} orders that are not due...");
        seed(&stack, "idle", size, None).await;
        seed(&stack, "due", 10, Some(ct(2026, 11, 24, 12))).await;
        stack.requests.reset();
        let _ = stack
            .nightly(&queue, &[])
            .run(&RunInput::night(ct(2026, 11, 25, 6)), &Budget::Unlimited)
            .await;
        println!(
            "  {:>8} orders in the table: {:>4} requests",
            size + 10,
            stack.requests.total()
        );
        rows.push(
            json!({"orders_in_table": size + 10, "due": 10, "requests": stack.requests.total()}),
        );
    }
    results.insert("nightly_cost_growth".into(), json!(rows));
}

async fn feed_throughput(scans: u64, results: &mut BTreeMap<String, Value>) {
    let stack = TestStack::new().await;
    let feed = TestQueue::new("CarrierFeedQueue").await;
    // Ten scans per parcel, about a real journey's worth: every scan re-reads its parcel's
    // whole timeline, so piling a feed onto a few parcels would measure long timelines.
    // The timed comparisons below take about 500 parcels of their own beyond the feed.
    let orders = (scans / 10).max(500);
    seed(&stack, "feed", orders, Some(ct(2026, 11, 24, 12))).await;
    let numbers: Vec<String> = (0..orders).map(|n| ups_number(n + 4 * 1_000_000)).collect();
    let ingest = stack.scan_ingest(&feed);
    let bodies: Vec<String> = (0..scans)
        .map(|i| scan_body(&numbers[(i % orders) as usize], (i / orders) as i64))
        .collect();
    let started = Instant::now();
    for batch in bodies.chunks(10) {
        let _ = ingest.handle(sqs_event(batch), ct(2026, 11, 27, 9)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Every timed message below scans a parcel of its own that has had exactly the feed's
    // ten scans, so one message and a batch do the same work per scan.
    let mut fresh_parcels = numbers.iter();
    let (single_ms, batch_ms) = time_single_against_batch(&ingest, &mut fresh_parcels).await;
    stack.requests.reset();
    let batch: Vec<String> = fresh_parcels
        .by_ref()
        .take(10)
        .map(|number| scan_body(number, TIMED_SCAN_MINUTE))
        .collect();
    let _ = ingest.handle(sqs_event(&batch), ct(2026, 11, 27, 9)).await;
    let concurrent = stack.requests.max_in_flight();
    let (relayed_single_ms, relayed_batch_ms) = time_single_against_batch(
        &with_round_trip(
            &stack,
            &feed,
            std::time::Duration::from_millis(RELAY_ONE_WAY_MS),
        )
        .await,
        &mut fresh_parcels,
    )
    .await;
    println!("\nCarrier feed through scan-ingest (batches of 10)");
    println!(
        "  {scans} scans for {orders} parcels in {elapsed:.1} s: {:.0} scans/s",
        scans as f64 / elapsed
    );
    println!(
        "  one message: {single_ms:.1} ms; a batch of 10: {batch_ms:.1} ms ({:.1}x one message)",
        batch_ms / single_ms
    );
    println!("  a batch of 10 had up to {concurrent} DynamoDB requests in flight at once (the local stack answers them one by one)");
    println!(
        "  with a {} ms round trip added to every DynamoDB request: one message {relayed_single_ms:.1} ms; a batch of 10: {relayed_batch_ms:.1} ms ({:.1}x one message)",
        2 * RELAY_ONE_WAY_MS,
        relayed_batch_ms / relayed_single_ms
    );
    results.insert("feed_throughput".into(), json!({"round_trip_ms": 2 * RELAY_ONE_WAY_MS, "single_message_ms_with_round_trip": relayed_single_ms, "batch_of_10_ms_with_round_trip": relayed_batch_ms, "max_requests_in_flight_batch_of_10": concurrent, "scans": scans, "parcels": orders, "seconds": elapsed, "scans_per_second": scans as f64 / elapsed, "single_message_ms": single_ms, "batch_of_10_ms": batch_ms}));
}

/// A feed of `parcels` x 10 scans, shuffled and sent three times, through scan-ingest whose
/// DynamoDB requests pass a relay failing 15% of them (refused) and 15% more (applied, then
/// answered 500), with SQS-style redelivery of what the function reports failed. The outcome
/// is compared with what the feed must leave: ten distinct scans on every parcel.
async fn feed_under_faults(parcels: u64, results: &mut BTreeMap<String, Value>) {
    use local_stack::faults::{start, FaultRates};
    let stack = TestStack::new().await;
    let feed = TestQueue::new("CarrierFeedQueue").await;
    seed(&stack, "faults", parcels, Some(ct(2026, 11, 24, 12))).await;
    let numbers: Vec<String> = (0..parcels)
        .map(|n| ups_number(n + "faults".len() as u64 * 1_000_000))
        .collect();
    let rates = FaultRates {
        refused_per_mille: 150,
        lost_reply_per_mille: 150,
        seed: 42,
    };
    let relay = start(rates).await.expect("start the fault relay");
    let ingest = scan_ingest::ScanIngest::new(
        tracking_aws::OrderStore::new(relay.dynamodb().await, &stack.table),
        scan_ingest::SqsDeadLetters::new(feed.sqs.clone(), &feed.dead_letter_url),
    );
    let mut bodies: Vec<String> = (0..3)
        .flat_map(|_| {
            numbers
                .iter()
                .flat_map(|number| (0..10).map(move |i| scan_body(number, i * 60)))
        })
        .collect();
    // A fixed shuffle, so runs compare.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    for i in (1..bodies.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bodies.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let messages = bodies.len();
    let mut pending: std::collections::VecDeque<String> = bodies.into();
    let mut deliveries = 0usize;
    let mut redelivered = 0usize;
    let started = Instant::now();
    while !pending.is_empty() && deliveries < 100 * messages {
        let batch: Vec<String> = (0..10).filter_map(|_| pending.pop_front()).collect();
        deliveries += batch.len();
        let Ok(response) = ingest.handle(sqs_event(&batch), ct(2026, 11, 27, 9)).await else {
            pending.extend(batch);
            continue;
        };
        for failure in response.batch_item_failures {
            if let Some(body) = failure
                .item_identifier
                .strip_prefix("m")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| batch.get(i))
            {
                redelivered += 1;
                pending.push_back(body.clone());
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let store = stack.store();
    let mut exact = 0;
    for number in &numbers {
        let Ok(Some(target)) = store.order_for_tracking("ups", number).await else {
            continue;
        };
        if let Ok(Some(order)) = store.order_with_timeline(&target.order_id).await {
            let scans = order
                .timeline
                .events()
                .iter()
                .filter(|e| e.kind.is_carrier_update())
                .count();
            exact += usize::from(scans == 10);
        }
    }
    let counts = &relay.counts;
    let load = |c: &std::sync::atomic::AtomicUsize| c.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "
Carrier feed under DynamoDB faults (15% refused, 15% applied then answered 500)"
    );
    println!(
        "  {messages} messages ({parcels} parcels x 10 scans, each sent 3 times, shuffled) in {elapsed:.1} s; \
         {redelivered} redelivered after a reported failure; {} left undone",
        pending.len()
    );
    println!("  the relay saw {}", relay.summary());
    println!("  parcels with exactly their 10 scans: {exact} of {parcels}");
    results.insert(
        "feed_under_faults".into(),
        json!({"refused_per_mille": rates.refused_per_mille, "lost_reply_per_mille": rates.lost_reply_per_mille,
               "messages": messages, "parcels": parcels, "seconds": elapsed, "redelivered": redelivered,
               "left_undone": pending.len(), "dynamodb_requests": load(&counts.dynamodb_requests),
               "refused": load(&counts.refused), "lost_replies": load(&counts.lost_replies),
               "parcels_exact": exact}),
    );
}

/// Rounds timed for one message and for a batch of 10, after one untimed round of each
/// (which opens the connections a warm Lambda already holds).
const TIMED_ROUNDS: usize = 20;

/// Minutes after the feed's first scan at which timed scans happen: after all of it.
const TIMED_SCAN_MINUTE: i64 = 24 * 60;

/// Median milliseconds of one message alone and of a batch of 10; each scan takes the next
/// parcel from `parcels`, so no parcel's timeline grows longer than the others'.
async fn time_single_against_batch<'a, D: scan_ingest::DeadLetters>(
    ingest: &scan_ingest::ScanIngest<D>,
    parcels: &mut impl Iterator<Item = &'a String>,
) -> (f64, f64) {
    let mut timed = |size: usize| {
        let batch: Vec<String> = parcels
            .by_ref()
            .take(size)
            .map(|number| scan_body(number, TIMED_SCAN_MINUTE))
            .collect();
        assert_eq!(
            batch.len(),
            size,
            "the bench seeds enough parcels for every timed scan"
        );
        batch
    };
    let mut medians = Vec::new();
    for size in [1, 10] {
        let mut millis = Vec::new();
        for round in 0..=TIMED_ROUNDS {
            let event = sqs_event(&timed(size));
            let started = Instant::now();
            let _ = ingest.handle(event, ct(2026, 11, 27, 9)).await;
            if round > 0 {
                millis.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        medians.push(median(millis));
    }
    (medians[0], medians[1])
}

/// Half the round trip the relay adds: 10 ms is a DynamoDB request seen from a Lambda on a
/// busy day, a little above its single-digit-millisecond norm.
const RELAY_ONE_WAY_MS: u64 = 5;

/// scan-ingest on the same table, with every DynamoDB request paying a network round trip
/// through the latency relay: a function that overlaps a batch's requests keeps the batch
/// far below ten times one message, even though the local stack itself answers serially.
async fn with_round_trip(
    stack: &TestStack,
    feed: &TestQueue,
    one_way: std::time::Duration,
) -> scan_ingest::ScanIngest<scan_ingest::SqsDeadLetters> {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").expect("the local stack exports AWS_ENDPOINT_URL");
    let upstream: std::net::SocketAddr = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("the local stack listens on a loopback address");
    let relay = latency::start(upstream, one_way)
        .await
        .expect("start the latency relay");
    let sdk = tracking_aws::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(format!("http://{relay}"))
            .build(),
    );
    scan_ingest::ScanIngest::new(
        tracking_aws::store::OrderStore::new(client, &stack.table),
        scan_ingest::SqsDeadLetters::new(feed.sqs.clone(), &feed.dead_letter_url),
    )
}

/// Each function with the event it is started on (from `events/`).
const COLD_START_CASES: [(&str, &str); 8] = [
    ("orders-api", "events/orders-api/get-order.json"),
    ("label-upload", "events/label-upload/upload-label.json"),
    ("claims-intake", "events/claims-intake/list-claims.json"),
    ("scan-ingest", "events/scan-ingest/carrier-feed-batch.json"),
    (
        "nightly-completion",
        "events/nightly-completion/scheduler-input.json",
    ),
    ("notifier", "events/notifier/stream-insert.json"),
    ("platform-sync", "events/platform-sync/sync-job.json"),
    (
        "store-webhooks",
        "events/store-webhooks/shopify-orders-create.json",
    ),
];

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn cold_starts(runs: usize, results: &mut BTreeMap<String, Value>) -> anyhow::Result<()> {
    // The functions are built beside the bench, wherever CARGO_TARGET_DIR puts them.
    let exe = std::env::current_exe()?;
    let release = exe.parent().context("the bench binary has no directory")?;
    let mut cases = vec![("runtime-floor", None)];
    cases.extend(
        COLD_START_CASES
            .iter()
            .map(|(name, event)| (*name, Some(*event))),
    );
    let mut rows = Vec::new();
    let mut floor_first_event = f64::NAN;
    println!("\nCold start against a Runtime API emulator (median of {runs}; release build)");
    println!(
        "  {:<20} {:>9} {:>13} {:>9} {:>10} {:>9}",
        "function", "init ms", "1st event ms", "vs floor", "peak RSS", "size"
    );
    for (name, event_path) in cases {
        let binary = release.join(name);
        let event = match event_path {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(_) => continue,
            },
            None => b"{}".to_vec(),
        };
        if !binary.exists() {
            println!("  {name:<20} (not built)");
            continue;
        }
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(coldstart::measure(&binary, name, &event).await?);
        }
        let init = median(samples.iter().map(|s| s.init_ms).collect());
        let first = median(samples.iter().map(|s| s.first_event_ms).collect());
        let rss = samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
        let size = samples.first().map_or(0, |s| s.binary_bytes);
        if name == "runtime-floor" {
            floor_first_event = first;
        }
        let ratio = first / floor_first_event;
        let error = samples.iter().find_map(|s| s.error.clone());
        println!(
            "  {name:<20} {init:>9.1} {first:>13.1} {:>8.1}x {:>7.1} MiB {:>6.1} MiB{}",
            ratio,
            rss as f64 / 1024.0,
            size as f64 / 1024.0 / 1024.0,
            error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        );
        rows.push(json!({"function": name, "init_ms": init, "first_event_ms": first, "ratio_to_floor": ratio,
            "peak_rss_kib": rss, "binary_bytes": size, "error": error}));
    }
    println!("  (the first event includes the function's DynamoDB/SQS calls to the local stack)");
    results.insert("cold_start".into(), json!(rows));
    Ok(())
}

const SECTIONS: [&str; 6] = ["cold_start", "cost", "nightly", "growth", "feed", "faults"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // `--only feed,nightly` reruns some sections.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_owned).collect());
    if let Some(unknown) = only
        .iter()
        .flatten()
        .find(|name| !SECTIONS.contains(&name.as_str()))
    {
        anyhow::bail!(
            "--only: no section {unknown:?}; sections: {}",
            SECTIONS.join(",")
        );
    }
    let wanted = |section: &str| only.as_ref().is_none_or(|s| s.iter().any(|w| w == section));
    let path = std::path::Path::new("target/bench/results.json");
    // A partial run keeps the other sections of the last run, so the file stays whole.
    let mut results: BTreeMap<String, Value> = match (&only, std::fs::read_to_string(path)) {
        (Some(_), Ok(text)) => serde_json::from_str(&text).unwrap_or_else(|error| {
            eprintln!(
                "  {} is not a bench result ({error}); starting afresh",
                path.display()
            );
            BTreeMap::new()
        }),
        _ => BTreeMap::new(),
    };
    if wanted("cold_start") {
        cold_starts(arg("--runs", 5) as usize, &mut results).await?;
    }
    if wanted("cost") {
        cost_per_event(&mut results).await;
    }
    if wanted("nightly") {
        nightly_at_scale(arg("--due", 10_000), &mut results).await;
    }
    if wanted("growth") {
        let largest = arg("--table", 100_000);
        let sizes: Vec<u64> = [1_000, 10_000, 100_000]
            .into_iter()
            .filter(|s| *s <= largest)
            .collect();
        nightly_cost_growth(&sizes, &mut results).await;
    }
    if wanted("feed") {
        feed_throughput(arg("--scans", 10_000), &mut results).await;
    }
    if wanted("faults") {
        feed_under_faults(arg("--fault-parcels", 20), &mut results).await;
    }

    results.insert("machine".into(), json!({"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "stack": "moto server on loopback"}));
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(path, serde_json::to_string_pretty(&results)?)?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
