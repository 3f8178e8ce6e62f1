//! The nightly run's branches against the in-memory store and a continuation queue kept
//! in memory: no local stack needed. The integration tests run the same code against
//! DynamoDB and SQS.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use nightly_completion::{Budget, Continuation, Nightly, NightlyConfig, RunInput};
use tracking_aws::contract::{labeled_order, ups_number};
use tracking_aws::memory::MemoryStore;
use tracking_aws::ports::{Orders, Timelines};
use tracking_domain::calendar::chicago_time_at;
use tracking_domain::carriers::Carrier;
use tracking_domain::status::OrderStatus;

/// The continuation queue, kept where the test can read it; it can be made to refuse.
#[derive(Clone, Default)]
struct KeptContinuations {
    sent: Arc<Mutex<Vec<RunInput>>>,
    refuse: Arc<AtomicBool>,
}

impl Continuation for KeptContinuations {
    async fn schedule(&self, input: &RunInput) -> anyhow::Result<()> {
        if self.refuse.load(Ordering::SeqCst) {
            anyhow::bail!("the queue refused the message");
        }
        self.sent.lock().unwrap().push(input.clone());
        Ok(())
    }
}

impl KeptContinuations {
    fn sent(&self) -> Vec<RunInput> {
        self.sent.lock().unwrap().clone()
    }
}

fn ct(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    chicago_time_at(
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
        hour,
        minute,
    )
}

/// An order labeled at `at`; returns its id.
async fn labeled(store: &MemoryStore, n: u64, at: DateTime<Utc>) -> String {
    let number = ups_number(n);
    labeled_order(
        store,
        "merchant-acme",
        &format!("N{n}"),
        Carrier::Ups,
        &number,
        at,
    )
    .await
}

async fn status(store: &MemoryStore, order_id: &str) -> OrderStatus {
    store
        .get_order(order_id)
        .await
        .unwrap()
        .unwrap()
        .order
        .status
}

fn nightly(
    store: &MemoryStore,
    continuations: &KeptContinuations,
    page_size: i32,
) -> Nightly<KeptContinuations, MemoryStore> {
    Nightly::new(
        store.clone(),
        NightlyConfig {
            page_size,
            ..NightlyConfig::default()
        },
        continuations.clone(),
    )
}

#[tokio::test]
async fn orders_labeled_the_day_before_complete_at_six_and_a_rerun_changes_nothing() {
    let store = MemoryStore::new();
    let yesterday = labeled(&store, 1, ct(24, 23, 50)).await;
    let today = labeled(&store, 2, ct(25, 0, 30)).await;
    let run = nightly(&store, &KeptContinuations::default(), 100);
    let report = run
        .run(&RunInput::night(ct(25, 6, 0)), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((report.completed, report.failed), (1, 0));
    assert_eq!(status(&store, &yesterday).await, OrderStatus::Completed);
    assert_eq!(status(&store, &today).await, OrderStatus::Processing);
    let timeline = store
        .order_with_timeline(&yesterday)
        .await
        .unwrap()
        .unwrap();
    let completed = timeline
        .timeline
        .events()
        .iter()
        .find(|e| e.code == "ORDER_COMPLETED")
        .expect("a completion row");
    assert_eq!(completed.occurred_at, ct(25, 6, 0));

    let items = store.item_count();
    let again = run
        .run(&RunInput::night(ct(25, 6, 0)), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(again.completed, 0);
    assert_eq!(store.item_count(), items, "a replayed night writes nothing");
}

#[tokio::test]
async fn a_run_out_of_time_hands_the_rest_on_once_and_the_continuation_finishes_it() {
    let store = MemoryStore::new();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(labeled(&store, 10 + n, ct(24, 9, n as u32)).await);
    }
    let continuations = KeptContinuations::default();
    let run = nightly(&store, &continuations, 1);
    let night = RunInput::night(ct(25, 6, 0));
    let first = run
        .run(&night, &Budget::Pages(AtomicUsize::new(1)))
        .await
        .unwrap();
    assert!(first.continued);
    assert_eq!(first.completed, 1);
    // The same input again (Lambda's retry of an invocation) sends no second continuation.
    let retry = run
        .run(&night, &Budget::Pages(AtomicUsize::new(1)))
        .await
        .unwrap();
    assert!(retry.continuation_already_sent);
    let sent = continuations.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].continuation, 1);
    let rest = run.run(&sent[0], &Budget::Unlimited).await.unwrap();
    assert!(!rest.continued);
    for id in &ids {
        assert_eq!(status(&store, id).await, OrderStatus::Completed, "{id}");
    }
}

#[tokio::test]
async fn a_continuation_the_queue_refused_is_sent_by_the_retry() {
    let store = MemoryStore::new();
    for n in 0..2 {
        labeled(&store, 20 + n, ct(24, 9, n as u32)).await;
    }
    let continuations = KeptContinuations::default();
    let run = nightly(&store, &continuations, 1);
    let night = RunInput::night(ct(25, 6, 0));
    continuations.refuse.store(true, Ordering::SeqCst);
    assert!(run
        .run(&night, &Budget::Pages(AtomicUsize::new(1)))
        .await
        .is_err());
    continuations.refuse.store(false, Ordering::SeqCst);
    let retry = run
        .run(&night, &Budget::Pages(AtomicUsize::new(1)))
        .await
        .unwrap();
    assert!(retry.continued && !retry.continuation_already_sent);
    assert_eq!(continuations.sent().len(), 1);
}

#[tokio::test]
async fn one_failing_order_is_counted_and_left_for_the_next_run() {
    let store = MemoryStore::new();
    let fine = labeled(&store, 30, ct(24, 9, 0)).await;
    let broken = labeled(&store, 31, ct(24, 9, 1)).await;
    store.fail_order(&broken);
    let report = nightly(&store, &KeptContinuations::default(), 100)
        .run(&RunInput::night(ct(25, 6, 0)), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((report.completed, report.failed), (1, 1));
    assert_eq!(status(&store, &fine).await, OrderStatus::Completed);
}

#[tokio::test]
async fn a_decision_that_loses_a_race_is_decided_again() {
    let store = MemoryStore::new();
    let order_id = labeled(&store, 40, ct(24, 9, 0)).await;
    store.race(3);
    let report = nightly(&store, &KeptContinuations::default(), 100)
        .run(&RunInput::night(ct(25, 6, 0)), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!((report.completed, report.failed), (1, 0));
    assert_eq!(status(&store, &order_id).await, OrderStatus::Completed);
    let timeline = store.order_with_timeline(&order_id).await.unwrap().unwrap();
    let completions = timeline
        .timeline
        .events()
        .iter()
        .filter(|e| e.code == "ORDER_COMPLETED")
        .count();
    assert_eq!(completions, 1);
}
