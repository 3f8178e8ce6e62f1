//! Store sync's job branches against the in-memory store, a queue kept in memory and the
//! local stand-in for Shopify: no local AWS stack needed. The integration tests run the
//! same jobs from the table's real stream through SQS.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, TimeZone, Utc};
use platform_sync::amazon::{AmazonClient, AmazonConfig};
use platform_sync::credentials::StoreCredentials;
use platform_sync::lwa::{LwaClient, SellerTokens};
use platform_sync::push::{http_client, Secret};
use platform_sync::shopify::{ShopifyClient, ShopifyConfig};
use platform_sync::{PlatformSync, SyncQueue};
use tracking_aws::memory::MemoryStore;
use tracking_aws::ports::SyncRecords;
use tracking_domain::sync::job::SyncJob;
use tracking_domain::sync::SyncStatus;

// Shared with the integration tests, which use all of it.
#[allow(dead_code)]
mod support;

use support::fake_store::FakeStore;

const SYNC_JOB: &str = include_str!("../../../events/platform-sync/sync-job.json");
const SHOP: &str = "acme.myshopify.com";

/// The sync queue, kept where the test can read it.
#[derive(Clone, Default)]
struct KeptQueue {
    dead_letters: Arc<Mutex<Vec<String>>>,
    delayed: Arc<Mutex<usize>>,
}

impl SyncQueue for KeptQueue {
    async fn enqueue(&self, job: &SyncJob) -> anyhow::Result<()> {
        panic!("jobs are handled directly here; nothing was to be queued: {job:?}")
    }

    async fn dead_letter(&self, _body: &str, reason: &str) -> anyhow::Result<()> {
        self.dead_letters.lock().unwrap().push(reason.to_owned());
        Ok(())
    }

    async fn retry_later(
        &self,
        _message: &SqsMessage,
        _error: &anyhow::Error,
    ) -> anyhow::Result<()> {
        *self.delayed.lock().unwrap() += 1;
        Ok(())
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 16, 1, 0).unwrap()
}

fn sync(
    store: &MemoryStore,
    queue: &KeptQueue,
    shop: &FakeStore,
) -> PlatformSync<SellerTokens, MemoryStore, KeptQueue> {
    let http = http_client().unwrap();
    let credentials = StoreCredentials {
        shopify_access_tokens: [(SHOP.to_owned(), Secret::new("shpat_test"))].into(),
        ..StoreCredentials::default()
    }
    .fixed();
    let tokens = SellerTokens::new(
        http.clone(),
        LwaClient {
            token_url: format!("{}/auth/o2/token", shop.base_url),
            client_id: None,
        },
        credentials.clone(),
    );
    PlatformSync::new(
        store.clone(),
        queue.clone(),
        ShopifyClient::new(
            http.clone(),
            ShopifyConfig {
                api_base: format!("{}/{{shop}}/admin/api/2026-01/graphql.json", shop.base_url),
                shops: [(SHOP.to_owned(), "merchant-acme".to_owned())].into(),
                notify_customer: true,
            },
            credentials,
        ),
        AmazonClient::new(
            http,
            AmazonConfig {
                api_base: shop.base_url.clone(),
                sellers: Default::default(),
            },
            tokens,
        ),
    )
}

fn sample() -> SqsEvent {
    serde_json::from_str(SYNC_JOB).unwrap()
}

fn job_key() -> tracking_domain::sync::SyncKey {
    let body = sample().records[0].body.clone().unwrap();
    serde_json::from_str::<SyncJob>(&body).unwrap().key()
}

fn failed(response: &SqsBatchResponse) -> usize {
    response.batch_item_failures.len()
}

#[tokio::test]
async fn a_job_is_pushed_once_however_often_it_is_delivered() {
    let (store, queue, shop) = (MemoryStore::new(), KeptQueue::default(), FakeStore::start());
    let sync = sync(&store, &queue, &shop);
    let response = sync.handle_jobs(sample(), now()).await.unwrap();
    assert_eq!(failed(&response), 0);
    assert_eq!(
        shop.fulfillments().len(),
        1,
        "one fulfillment with the tracking"
    );
    let record = store.sync_record(&job_key()).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (SyncStatus::Sent, 1));

    let calls = shop.requests().len();
    for _ in 0..2 {
        assert_eq!(failed(&sync.handle_jobs(sample(), now()).await.unwrap()), 0);
    }
    assert_eq!(
        shop.requests().len(),
        calls,
        "a sent job calls the store no more"
    );
}

#[tokio::test]
async fn a_store_that_fails_for_now_gets_the_job_again_later() {
    let (store, queue, shop) = (MemoryStore::new(), KeptQueue::default(), FakeStore::start());
    let sync = sync(&store, &queue, &shop);
    shop.fail_next(&[503]);
    let response = sync.handle_jobs(sample(), now()).await.unwrap();
    assert_eq!(failed(&response), 1);
    assert_eq!(*queue.delayed.lock().unwrap(), 1, "hidden for its backoff");
    let record = store.sync_record(&job_key()).await.unwrap().unwrap();
    assert_eq!(record.status, SyncStatus::Failed);
    assert!(record.last_error.is_some());

    let retried = sync.handle_jobs(sample(), now()).await.unwrap();
    assert_eq!(failed(&retried), 0);
    let record = store.sync_record(&job_key()).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (SyncStatus::Sent, 2));
}

#[tokio::test]
async fn a_message_that_is_not_a_job_is_dead_lettered_and_calls_no_store() {
    let (store, queue, shop) = (MemoryStore::new(), KeptQueue::default(), FakeStore::start());
    let sync = sync(&store, &queue, &shop);
    let mut event = sample();
    event.records[0].body = Some("{\"version\": 99}".into());
    let response = sync.handle_jobs(event, now()).await.unwrap();
    assert_eq!(failed(&response), 0);
    assert_eq!(queue.dead_letters.lock().unwrap().len(), 1);
    assert!(shop.requests().is_empty());
    assert_eq!(store.item_count(), 0);
}

#[tokio::test]
async fn a_sync_record_that_cannot_be_read_retries_the_job_without_pushing() {
    let (store, queue, shop) = (MemoryStore::new(), KeptQueue::default(), FakeStore::start());
    store.fail_order(&job_key().order_id);
    let sync = sync(&store, &queue, &shop);
    let response = sync.handle_jobs(sample(), now()).await.unwrap();
    assert_eq!(failed(&response), 1);
    assert!(shop.requests().is_empty());
}
