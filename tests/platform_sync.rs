//! Store sync and Shopify webhook tests.
//!
//! Store sync runs the way it runs deployed: handlers write timeline events, the test
//! reads the table's real stream from the local stack and hands the records to
//! `platform-sync` as Lambda would, the jobs go through a real SQS queue pair (with its
//! redrive to a dead-letter queue), and the pushes reach a local stand-in for Shopify and
//! Amazon that records every request exactly.

// One stand-in for the stores, shared with platform-sync's own handler tests.
#[path = "../functions/platform-sync/tests/support/fake_store.rs"]
mod fake_store;

use chrono::{DateTime, Duration, Utc};

use local_stack::streams::StreamReader;
use local_stack::{read_response, ApiEvent, TestQueue, TestSecret, TestStack};
use platform_sync::lwa::SellerTokens;
use platform_sync::shopify::{
    FULFILLMENT_CREATE_MUTATION, FULFILLMENT_STATE_QUERY, TRACKING_UPDATE_MUTATION,
};
use platform_sync::PlatformSync;
use serde_json::{json, Value};
use tracking_domain::connections::AmazonSeller;
use tracking_domain::feed::Scan;
use tracking_domain::order::OrderSource;
use tracking_domain::sync::{SyncKey, SyncRecord, SyncStatus};

use self::fake_store::{
    FakeStore, Recorded, AMAZON_ORDER_ITEM_ID, FULFILLMENT_ORDER_ID, LWA_ACCESS_TOKEN,
    LWA_TOKEN_PATH, RDT_PREFIX,
};
use crate::{
    order_body, tuesday_morning, upload_label, Orders, SyncRecords, Timelines, CREATE_ORDER,
    GET_ORDER, SEARCH_ORDERS,
};

pub const SHOPIFY_ORDERS_CREATE: &str =
    include_str!("../events/store-webhooks/shopify-orders-create.json");

/// The secret the sample webhook is signed with (see events/store-webhooks/README.md).
const SHOP: &str = "acme.myshopify.com";
const MERCHANT: &str = "merchant-acme";
const SHOPIFY_TOKEN: &str = "shpat_test_access_token";
const SHOPIFY_ORDER_GID: &str = "gid://shopify/Order/5531";
const AMAZON_TOKEN: &str = "Atza|test-access-token";
const MARKETPLACE: &str = "ATVPDKIKX0DER";
const AMAZON_ORDER: &str = "902-0300094-5705420";
const UPS: &str = "1Z999AA10123456784";
const UPS_URL: &str = "https://www.ups.com/track?tracknum=1Z999AA10123456784";
const USPS: &str = "9400111899223197428497";
const USPS_URL: &str =
    "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223197428497";

/// A second merchant with an Amazon seller account of its own.
const OTHER_SELLER_MERCHANT: &str = "merchant-bolt";
const OTHER_SELLER_TOKEN: &str = "Atza|bolt-access-token";
const OTHER_SELLER_MARKETPLACE: &str = "A2EUQ1WTGCTBG2";
const OTHER_SELLER_ORDER: &str = "111-4455667-8899001";

/// What platform-sync is told about sellers: both merchants above, each its own account.
fn amazon_sellers() -> std::collections::BTreeMap<String, AmazonSeller> {
    [
        (
            MERCHANT.to_owned(),
            AmazonSeller {
                seller_id: local_stack::TEST_SELLER_ID.into(),
                marketplace_id: MARKETPLACE.into(),
            },
        ),
        (
            OTHER_SELLER_MERCHANT.to_owned(),
            AmazonSeller {
                seller_id: "A2BOLTSELLER".into(),
                marketplace_id: OTHER_SELLER_MARKETPLACE.into(),
            },
        ),
    ]
    .into()
}

const SAMPLE_ORDER_ID: &str = "ord_aea3d576e2dfec1f8211cf9e";

/// events/platform-sync/stream-label-created.json: the sample order's label event.
fn stream_sample() -> Value {
    serde_json::from_str(include_str!(
        "../events/platform-sync/stream-label-created.json"
    ))
    .unwrap()
}

/// The job body of events/platform-sync/sync-job.json.
fn job_sample() -> Value {
    let event: Value =
        serde_json::from_str(include_str!("../events/platform-sync/sync-job.json")).unwrap();
    serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap()
}

fn graphql_path() -> String {
    format!("/{SHOP}/admin/api/2026-01/graphql.json")
}

fn label_time() -> DateTime<Utc> {
    tuesday_morning()
}

/// The template's StoreSyncQueue pair when the local stack has it; until the template
/// carries it, a pair with the same settings as .local/sync-template-snippet.yaml.
async fn sync_queue() -> TestQueue {
    let resources: Value = serde_json::from_str(
        &std::fs::read_to_string(std::env::var("LOCAL_AWS_RESOURCES").expect("local stack"))
            .unwrap(),
    )
    .unwrap();
    if resources["queues"]["StoreSyncQueue"].is_object() {
        return TestQueue::new("StoreSyncQueue").await;
    }
    let sqs = aws_sdk_sqs::Client::new(&tracking_aws::sdk_config().await);
    let suffix = local_stack::unique_merchant("sync");
    let dead_letter_url = sqs
        .create_queue()
        .queue_name(format!("test-sync-dlq-{suffix}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()
                .remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .unwrap()
        }
    };
    let dead_letter_arn = arn(dead_letter_url.clone()).await;
    let max_receive_count = 5;
    let url = sqs
        .create_queue()
        .queue_name(format!("test-sync-{suffix}"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "180",
        )
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    TestQueue {
        arn: arn(url.clone()).await,
        sqs,
        url,
        dead_letter_url,
        max_receive_count,
    }
}

struct Harness {
    stack: TestStack,
    queue: TestQueue,
    store: FakeStore,
    stream: StreamReader,
    sync: PlatformSync<SellerTokens>,
}

impl Harness {
    async fn new() -> Self {
        let credentials = json!({
            "shopify_access_tokens": {SHOP: SHOPIFY_TOKEN},
            "amazon_access_tokens": {
                MERCHANT: AMAZON_TOKEN,
                OTHER_SELLER_MERCHANT: OTHER_SELLER_TOKEN,
            },
        });
        let secret = TestSecret::create(&credentials.to_string()).await;
        Self::with_credential_secret(&secret.arn, &[]).await
    }

    /// Amazon's access token refreshed through (the stand-in for) Login with Amazon.
    async fn with_lwa() -> Self {
        let credentials = json!({
            "shopify_access_tokens": {SHOP: SHOPIFY_TOKEN},
            "amazon_lwa_client_secret": "test-client-secret",
            "amazon_refresh_tokens": {MERCHANT: "Atzr|test-refresh"},
        });
        let secret = TestSecret::create(&credentials.to_string()).await;
        Self::with_credential_secret(
            &secret.arn,
            &[("AMAZON_LWA_CLIENT_ID", "amzn1.application-oa2-client.test")],
        )
        .await
    }

    /// platform-sync built from its environment, as `main.rs` builds it, pointed at this
    /// test's queues and store stand-in, with its store credentials in `credentials_arn`.
    async fn with_credential_secret(credentials_arn: &str, extra: &[(&str, &str)]) -> Self {
        let stack = TestStack::new().await;
        let queue = sync_queue().await;
        let store = FakeStore::start();
        let stream = StreamReader::for_table(&stack.client, &stack.table)
            .await
            .unwrap();
        let shopify_api = format!("{}/{{shop}}/admin/api/2026-01/graphql.json", store.base_url);
        let lwa_token_url = format!("{}{LWA_TOKEN_PATH}", store.base_url);
        let sellers = serde_json::to_string(&amazon_sellers()).unwrap();
        let env: Vec<(&str, &str)> = [
            ("STORE_SYNC_QUEUE_URL", queue.url.as_str()),
            ("STORE_SYNC_DLQ_URL", &queue.dead_letter_url),
            ("STORE_CREDENTIALS_SECRET_ARN", credentials_arn),
            ("SHOPIFY_API_BASE", &shopify_api),
            ("SHOPIFY_NOTIFY_CUSTOMER", "true"),
            ("AMAZON_SP_API_BASE", &store.base_url),
            ("AMAZON_SELLERS", &sellers),
            ("AMAZON_LWA_TOKEN_URL", &lwa_token_url),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
        let sync = PlatformSync::build(&stack.sdk, &stack.env(&env))
            .expect("platform-sync builds from the test's environment");
        Self {
            stack,
            queue,
            store,
            stream,
            sync,
        }
    }

    /// The sample Shopify order, created through the webhook.
    async fn shopify_order(&self) -> String {
        let event = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
        let (status, body) = read_response(
            self.stack
                .store_webhooks()
                .await
                .handle(event.request(), label_time() - Duration::hours(2))
                .await,
        );
        assert_eq!(status, 201, "{body}");
        body["order_id"].as_str().unwrap().to_owned()
    }

    /// An order through `POST /orders`, from `source`.
    async fn api_order(&self, number: &str, source: &str, external: Option<&str>) -> String {
        let mut body = order_body(number);
        body["source"] = source.into();
        body["external_order_id"] = external.into();
        let event = ApiEvent::from_json(CREATE_ORDER)
            .merchant(MERCHANT)
            .body_json(&body);
        let (status, body) = read_response(
            self.stack
                .orders_api()
                .handle(event.request(), label_time() - Duration::hours(2))
                .await,
        );
        assert_eq!(status, 201, "{body}");
        body["order_id"].as_str().unwrap().to_owned()
    }

    async fn label(&self, order_id: &str) {
        let (status, body) = upload_label(&self.stack, order_id, "ups", UPS, label_time()).await;
        assert_eq!(status, 201, "{body}");
    }

    async fn handoff_to_usps(&self, order_id: &str) {
        self.scan_with_usps_handoff(order_id, "HANDOFF", "2026-11-26T07:05:00-06:00")
            .await;
    }

    /// A scan of `code` that carries the USPS final-mile number, as many feeds send it.
    async fn scan_with_usps_handoff(&self, order_id: &str, code: &str, occurred_at: &str) {
        let feed = TestQueue::new("CarrierFeedQueue").await;
        let scan = Scan::parse_body(
            &json!({
                "carrier": "ups", "tracking_number": UPS, "code": code,
                "occurred_at": occurred_at,
                "description": "Package transferred to USPS for final delivery",
                "location": {"city": "Austin", "state": "TX", "postal_code": "78744", "country": "US"},
                "handoff": {"carrier": "usps", "tracking_number": USPS}
            })
            .to_string(),
        )
        .unwrap();
        self.stack
            .scan_ingest(&feed)
            .ingest(&scan, label_time() + Duration::days(2))
            .await
            .unwrap();
        let details = self
            .stack
            .store()
            .order_with_timeline(order_id)
            .await
            .unwrap()
            .unwrap();
        assert!(details.order.shipments[0].handoff.is_some());
    }

    /// Hands everything the stream carried since the last call to platform-sync.
    async fn stream_to_queue(&mut self) {
        let event = self.stream.next_event().await.unwrap();
        assert!(!event.records.is_empty(), "the stream carried nothing");
        // Through the Lambda entry point, as the event source mapping's JSON.
        let event = serde_json::to_value(event).unwrap();
        let response = self.sync.handle(event, label_time()).await.unwrap();
        assert_eq!(response, json!({"batchItemFailures": []}));
    }

    /// The jobs waiting on the sync queue.
    async fn queued(&self) -> Vec<Value> {
        self.queue
            .peek(&self.queue.url)
            .await
            .into_iter()
            .map(|(body, _)| serde_json::from_str(&body).unwrap())
            .collect()
    }

    /// One delivery of the sync queue, as Lambda's event source mapping makes it.
    async fn deliver(&self) -> usize {
        self.queue
            .deliver_once(10, |event| async move {
                self.sync
                    .handle(serde_json::to_value(event).unwrap(), label_time())
                    .await
                    .map(|v| serde_json::from_value(v).unwrap())
                    .unwrap()
            })
            .await
    }

    async fn record(
        &self,
        order_id: &str,
        platform: OrderSource,
        carrier: &str,
        number: &str,
    ) -> SyncRecord {
        self.stack
            .store()
            .sync_record(&SyncKey {
                order_id: order_id.into(),
                platform,
                carrier: carrier.into(),
                tracking_number: number.into(),
                withdraws: false,
                // The order's first package on its first label.
                label: Some(format!(
                    "{}#0",
                    tracking_domain::shipment::shipment_id(order_id, 1)
                )),
            })
            .await
            .unwrap()
            .expect("a sync record")
    }

    async fn details(&self, order_id: &str) -> Value {
        let event = ApiEvent::from_json(GET_ORDER)
            .merchant(MERCHANT)
            .path_param("order_id", order_id);
        let (status, body) = read_response(
            self.stack
                .orders_api()
                .handle(event.request(), label_time() + Duration::days(3))
                .await,
        );
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn operations(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(Recorded::operation).collect()
}

fn assert_shopify_request(request: &Recorded, query: &str, variables: Value) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, graphql_path());
    assert_eq!(
        request.header("x-shopify-access-token"),
        Some(SHOPIFY_TOKEN)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body,
        json!({"query": query, "variables": variables})
    );
}

#[tokio::test]
async fn shopify_label_is_pushed_once_as_a_fulfillment_with_carrier_number_and_link() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;

    let jobs = h.queued().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["kind"], "label");
    assert_eq!(jobs[0]["external_order_id"], SHOPIFY_ORDER_GID);
    // The samples in events/platform-sync are this very order's records, so they cannot drift.
    assert_eq!(order_id, SAMPLE_ORDER_ID);
    assert_eq!(jobs[0], job_sample());
    assert_eq!(h.deliver().await, 1);

    let requests = h.store.requests();
    assert_eq!(
        operations(&requests),
        ["FulfillmentState", "CreateFulfillment"]
    );
    assert_shopify_request(
        &requests[0],
        FULFILLMENT_STATE_QUERY,
        json!({"id": SHOPIFY_ORDER_GID}),
    );
    assert_shopify_request(
        &requests[1],
        FULFILLMENT_CREATE_MUTATION,
        json!({"fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": FULFILLMENT_ORDER_ID}],
            "trackingInfo": {"company": "UPS", "number": UPS, "url": UPS_URL},
            "notifyCustomer": true
        }}),
    );
    assert!(FULFILLMENT_CREATE_MUTATION.contains("fulfillmentCreate(fulfillment: $fulfillment)"));

    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Sent);
    assert_eq!(record.attempts, 1);
    assert_eq!(
        record.remote_ref.as_deref(),
        Some("gid://shopify/Fulfillment/7701")
    );

    // SQS redelivers the job, and the stream hands over the same record again (the sample
    // event is that record): the sync record turns both into no-ops, and Shopify hears
    // nothing more.
    h.store.clear_requests();
    h.queue
        .send(&serde_json::to_string(&jobs[0]).unwrap())
        .await;
    assert_eq!(h.deliver().await, 1);
    assert_eq!(
        h.sync.handle(stream_sample(), label_time()).await.unwrap(),
        json!({"batchItemFailures": []})
    );
    assert_eq!(h.deliver().await, 1);
    assert!(h.store.requests().is_empty(), "{:?}", h.store.requests());
    assert_eq!(h.deliver().await, 0);
    assert!(h.queue.peek(&h.queue.dead_letter_url).await.is_empty());
    assert_eq!(h.store.fulfillments().len(), 1);
}

#[tokio::test]
async fn usps_handoff_moves_the_shopify_fulfillment_to_the_final_mile_number() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    h.store.clear_requests();

    h.handoff_to_usps(&order_id).await;
    h.stream_to_queue().await;
    let jobs = h.queued().await;
    assert_eq!(
        jobs.len(),
        1,
        "only the hand-off event asks for a sync: {jobs:?}"
    );
    assert_eq!(jobs[0]["kind"], "handoff");
    assert_eq!(h.deliver().await, 1);

    let requests = h.store.requests();
    // The read after the update checks no other package's push raced it.
    assert_eq!(
        operations(&requests),
        ["FulfillmentState", "UpdateTracking", "FulfillmentState"]
    );
    assert_shopify_request(
        &requests[1],
        TRACKING_UPDATE_MUTATION,
        json!({
            "fulfillmentId": "gid://shopify/Fulfillment/7701",
            "trackingInfoInput": {"company": "USPS", "number": USPS, "url": USPS_URL},
            "notifyCustomer": true
        }),
    );
    assert_eq!(
        h.store.fulfillments(),
        [(
            "gid://shopify/Fulfillment/7701".to_owned(),
            vec![USPS.to_owned()]
        )]
    );
    let record = h
        .record(&order_id, OrderSource::Shopify, "usps", USPS)
        .await;
    assert_eq!(record.status, SyncStatus::Sent);
}

#[tokio::test]
async fn a_handoff_reported_on_an_ordinary_scan_reaches_the_store_once() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    h.store.clear_requests();

    h.scan_with_usps_handoff(&order_id, "IN_TRANSIT", "2026-11-26T07:05:00-06:00")
        .await;
    h.stream_to_queue().await;
    let jobs = h.queued().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["kind"], "handoff");
    assert_eq!(jobs[0]["tracking"]["tracking_number"], USPS);
    assert_eq!(h.deliver().await, 1);
    assert_eq!(
        operations(&h.store.requests()),
        ["FulfillmentState", "UpdateTracking", "FulfillmentState"]
    );
    assert_eq!(
        h.store.fulfillments(),
        [(
            "gid://shopify/Fulfillment/7701".to_owned(),
            vec![USPS.to_owned()]
        )]
    );

    // Feeds repeat the number on the scans after it: no job, no store call.
    h.store.clear_requests();
    h.scan_with_usps_handoff(&order_id, "OUT_FOR_DELIVERY", "2026-11-27T08:10:00-06:00")
        .await;
    h.stream_to_queue().await;
    assert!(h.queued().await.is_empty());
    assert!(h.store.requests().is_empty());
}

#[tokio::test]
async fn amazon_label_and_handoff_confirm_one_package_through_the_sp_api() {
    let mut h = Harness::new().await;
    let order_id = h.api_order("A-1001", "amazon", Some(AMAZON_ORDER)).await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    h.handoff_to_usps(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);

    let requests = h.store.requests();
    let shape: Vec<_> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let items = format!("GET /orders/v0/orders/{AMAZON_ORDER}/orderItems");
    let confirm = format!("POST /orders/v0/orders/{AMAZON_ORDER}/shipmentConfirmation");
    assert_eq!(
        shape,
        [&items, &confirm, &items, &confirm].map(String::as_str)
    );
    for request in &requests {
        assert_eq!(request.header("x-amz-access-token"), Some(AMAZON_TOKEN));
    }
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
    let package = |carrier: &str, number: &str| {
        json!({
            "marketplaceId": MARKETPLACE,
            "packageDetail": {
                "packageReferenceId": "1",
                "carrierCode": carrier,
                "shippingMethod": "ground",
                "trackingNumber": number,
                "shipDate": "2026-11-24T16:00:00Z",
                "orderItems": [{"orderItemId": AMAZON_ORDER_ITEM_ID, "quantity": 2}]
            }
        })
    };
    assert_eq!(requests[1].body, package("UPS", UPS));
    // Same package reference: Amazon edits the package instead of adding a second one.
    assert_eq!(requests[3].body, package("USPS", USPS));

    let label = h.record(&order_id, OrderSource::Amazon, "ups", UPS).await;
    assert_eq!(label.status, SyncStatus::Sent);
    let handoff = h.record(&order_id, OrderSource::Amazon, "usps", USPS).await;
    assert_eq!(handoff.status, SyncStatus::Sent);
}

#[tokio::test]
async fn manual_and_spreadsheet_orders_are_not_synced_and_their_details_say_so() {
    let mut h = Harness::new().await;
    let manual = h.api_order("M-1", "manual", None).await;
    let excel = h.api_order("X-1", "excel", None).await;
    h.label(&manual).await;
    let (status, body) =
        upload_label(&h.stack, &excel, "ups", "1Z949AA10123456784", label_time()).await;
    assert_eq!(status, 201, "{body}");
    h.stream_to_queue().await;

    assert!(
        h.queued().await.is_empty(),
        "no job for manual or spreadsheet orders"
    );
    assert_eq!(h.deliver().await, 0);
    assert!(h.store.requests().is_empty());
    for order_id in [&manual, &excel] {
        let details = h.details(order_id).await;
        assert_eq!(details["store_sync"]["automatic"], false);
        assert!(details["store_sync"]["message"]
            .as_str()
            .unwrap()
            .contains("share the tracking details with your customer"));
    }
    let shopify = h.shopify_order().await;
    assert_eq!(h.details(&shopify).await["store_sync"]["automatic"], true);
}

#[tokio::test]
async fn store_faults_are_retried_through_sqs_and_end_in_the_dead_letter_queue() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    h.store.fail_next(&[500; 20]);

    let mut deliveries = 0;
    for _ in 0..h.queue.max_receive_count + 3 {
        if h.deliver().await == 0 {
            break;
        }
        deliveries += 1;
    }
    assert_eq!(deliveries, h.queue.max_receive_count);
    assert_eq!(h.store.requests().len(), h.queue.max_receive_count);
    let dead = h.queue.peek(&h.queue.dead_letter_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&dead[0].0).unwrap(),
        job_sample()
    );

    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Failed);
    assert_eq!(record.attempts as usize, h.queue.max_receive_count);
    assert!(record.last_error.unwrap().contains("500"));
    assert!(h.store.fulfillments().is_empty());
}

#[tokio::test]
async fn throttled_sync_is_retried_and_sent_exactly_once() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    h.store.fail_next(&[429]);

    assert_eq!(h.deliver().await, 1);
    assert_eq!(
        h.record(&order_id, OrderSource::Shopify, "ups", UPS)
            .await
            .status,
        SyncStatus::Failed
    );
    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.deliver().await, 0);

    assert_eq!(
        operations(&h.store.requests()),
        ["FulfillmentState", "FulfillmentState", "CreateFulfillment"]
    );
    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Sent);
    assert_eq!(record.attempts, 2);
    assert_eq!(record.last_error, None);
}

#[tokio::test]
async fn store_credentials_come_from_their_secret_and_a_refused_token_is_read_again() {
    // The secret as an operator left it before rotating the shop's token: the old one.
    let secret =
        TestSecret::create(&json!({"shopify_access_tokens": {SHOP: "shpat_revoked"}}).to_string())
            .await;
    // Built as deployed, so with the deployment's cache (minutes): only the refusal can
    // make it read again.
    let mut h = Harness::with_credential_secret(&secret.arn, &[]).await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;

    h.store.fail_next(&[401]);
    assert_eq!(h.deliver().await, 1);
    let refused = h.store.requests();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].header("x-shopify-access-token"),
        Some("shpat_revoked")
    );
    assert_eq!(
        h.record(&order_id, OrderSource::Shopify, "ups", UPS)
            .await
            .status,
        SyncStatus::Failed
    );

    secret
        .put(&json!({"shopify_access_tokens": {SHOP: SHOPIFY_TOKEN}}).to_string())
        .await;
    h.store.clear_requests();
    assert_eq!(h.deliver().await, 1);
    let requests = h.store.requests();
    assert_eq!(
        operations(&requests),
        ["FulfillmentState", "CreateFulfillment"]
    );
    assert!(requests
        .iter()
        .all(|r| r.header("x-shopify-access-token") == Some(SHOPIFY_TOKEN)));
    assert_eq!(
        h.record(&order_id, OrderSource::Shopify, "ups", UPS)
            .await
            .status,
        SyncStatus::Sent
    );
    assert_eq!(h.store.fulfillments().len(), 1);
}

#[tokio::test]
async fn a_stores_retry_after_keeps_the_job_out_of_sight_that_long_and_loses_nothing() {
    let mut h = Harness::new().await;
    let order_id = h.api_order("A-1", "amazon", Some(AMAZON_ORDER)).await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    h.store.throttle_next(120);

    let event = h.queue.receive_event(10).await.expect("the sync job");
    let receipt = event.records[0].receipt_handle.clone().unwrap();
    let response = h
        .sync
        .handle(serde_json::to_value(event).unwrap(), label_time())
        .await
        .unwrap();
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 1);
    assert!(
        h.queue.receive_event(10).await.is_none(),
        "the job waits out the store's two-minute Retry-After"
    );
    // The two minutes pass (ended by hand here): the job comes back, nothing was lost.
    h.queue
        .sqs
        .change_message_visibility()
        .queue_url(&h.queue.url)
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let event = h.queue.receive_event(10).await.expect("the job comes back");
    assert_eq!(
        event.records[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );
    let response = h
        .sync
        .handle(serde_json::to_value(event).unwrap(), label_time())
        .await
        .unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    let record = h.record(&order_id, OrderSource::Amazon, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Sent);
    let confirmations = h
        .store
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/shipmentConfirmation"))
        .count();
    assert_eq!(confirmations, 1);
}

#[tokio::test]
async fn the_same_job_twice_in_one_batch_is_pushed_once() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    // The stream delivered the label record twice (it is at least once).
    assert_eq!(
        h.sync.handle(stream_sample(), label_time()).await.unwrap(),
        json!({"batchItemFailures": []})
    );
    assert_eq!(h.queued().await.len(), 2);

    // Both copies run concurrently: one claims the sync, the other finds it in flight and
    // is retried, and on its retry finds it sent.
    assert_eq!(h.deliver().await, 2);
    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.deliver().await, 0);
    assert_eq!(
        operations(&h.store.requests()),
        ["FulfillmentState", "CreateFulfillment"]
    );
    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Sent);
    assert_eq!(record.attempts, 1);
}

#[tokio::test]
async fn a_push_shopify_applied_but_whose_reply_was_lost_is_not_sent_again() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    h.store.lose_next_reply();

    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.deliver().await, 1);
    assert_eq!(h.deliver().await, 0);

    assert_eq!(
        operations(&h.store.requests()),
        ["FulfillmentState", "CreateFulfillment", "FulfillmentState"],
        "the retry finds the fulfillment with our number and creates none"
    );
    assert_eq!(h.store.fulfillments().len(), 1);
    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Sent);
    assert_eq!(
        record.remote_ref.as_deref(),
        Some("gid://shopify/Fulfillment/7701")
    );
}

#[tokio::test]
async fn a_refused_sync_and_a_malformed_job_go_to_the_dead_letter_queue_at_once() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    h.store.refuse_next("Fulfillment order 6601 is closed.");
    h.queue.send("{\"kind\": \"label\"").await;

    assert_eq!(h.deliver().await, 2);
    assert_eq!(h.deliver().await, 0, "neither is retried");
    let mut dead = h.queue.peek(&h.queue.dead_letter_url).await;
    dead.sort();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let reasons: Vec<String> = dead.iter().map(|(_, e)| e.clone().unwrap()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("Shopify refused fulfillmentCreate")
                && r.contains("Fulfillment order 6601 is closed.")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not a sync job")),
        "{reasons:?}"
    );
    let record = h.record(&order_id, OrderSource::Shopify, "ups", UPS).await;
    assert_eq!(record.status, SyncStatus::Failed);
}

#[tokio::test]
async fn a_sync_claim_holds_for_its_lease_and_a_sent_sync_is_never_claimed_again() {
    use tracking_aws::store::sync::SyncLease;
    let stack = TestStack::new().await;
    let store = stack.store();
    let key = SyncKey {
        order_id: SAMPLE_ORDER_ID.into(),
        platform: OrderSource::Shopify,
        carrier: "ups".into(),
        tracking_number: UPS.into(),
        withdraws: false,
        label: None,
    };
    let lease = Duration::seconds(platform_sync::SYNC_LEASE_SECONDS);
    let t0 = label_time();
    let claim = |at| {
        let store = store.clone();
        let key = key.clone();
        async move { store.lease_sync(&key, at, lease).await.unwrap() }
    };

    assert!(matches!(claim(t0).await, SyncLease::Acquired(r) if r.attempts == 1));
    // A worker still inside its lease (a crash leaves it held until it runs out).
    assert!(matches!(
        claim(t0 + Duration::seconds(30)).await,
        SyncLease::HeldElsewhere(_)
    ));
    assert!(matches!(claim(t0 + lease).await, SyncLease::Acquired(r) if r.attempts == 2));
    // A failure releases the lease at once.
    store
        .mark_sync_failed(&key, "Shopify answered 503", t0 + lease)
        .await
        .unwrap();
    assert!(matches!(claim(t0 + lease).await, SyncLease::Acquired(r) if r.attempts == 3));
    store
        .mark_sync_sent(&key, Some("gid://shopify/Fulfillment/1"), t0 + lease)
        .await
        .unwrap();
    // Sent is final: no later claim, and a stale worker's failure report changes nothing.
    store
        .mark_sync_failed(&key, "late report", t0 + lease * 2)
        .await
        .unwrap();
    match claim(t0 + lease * 10).await {
        SyncLease::AlreadySent(record) => {
            assert_eq!(record.status, SyncStatus::Sent);
            assert_eq!(record.attempts, 3);
            assert_eq!(
                record.remote_ref.as_deref(),
                Some("gid://shopify/Fulfillment/1")
            );
            assert_eq!(record.last_error, None);
        }
        other => panic!("a sent sync was claimed again: {other:?}"),
    }
}

// ---- Shopify order intake -------------------------------------------------------------

fn signed(mut event: ApiEvent, body: &str) -> ApiEvent {
    event = event.body_text(body);
    event.0["headers"]["x-shopify-hmac-sha256"] = store_webhooks::signature::sign(
        local_stack::SAMPLE_WEBHOOK_SECRET.as_bytes(),
        body.as_bytes(),
    )
    .into();
    event
}

fn sample_body() -> String {
    ApiEvent::from_json(SHOPIFY_ORDERS_CREATE).0["body"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn webhook(stack: &TestStack, event: &ApiEvent) -> (u16, Value) {
    read_response(
        stack
            .store_webhooks()
            .await
            .handle(event.request(), label_time())
            .await,
    )
}

#[tokio::test]
async fn signed_orders_create_webhook_makes_one_order_however_often_shopify_retries() {
    let stack = TestStack::new().await;
    let event = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    let (status, first) = webhook(&stack, &event).await;
    assert_eq!(status, 201, "{first}");
    for _ in 0..2 {
        let (status, again) = webhook(&stack, &event).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["order_id"], first["order_id"]);
    }
    assert_eq!(
        stack.item_count().await,
        2,
        "the order and its delivery record"
    );

    let order = stack
        .store()
        .get_order(first["order_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap()
        .order;
    assert_eq!(order.merchant_id, MERCHANT);
    assert_eq!(order.details.order_number, "1001");
    assert_eq!(order.details.source, OrderSource::Shopify);
    assert_eq!(
        order.details.external_order_id.as_deref(),
        Some(SHOPIFY_ORDER_GID)
    );
    assert_eq!(order.details.customer.email.as_str(), "ada@example.com");
    assert_eq!(order.details.ship_to.country, "US");
}

#[tokio::test]
async fn a_base64_encoded_body_is_verified_over_its_decoded_bytes() {
    let stack = TestStack::new().await;
    let mut event = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    let signature = event.0["headers"]["x-shopify-hmac-sha256"].clone();
    event = event.body_binary(sample_body().as_bytes());
    event.0["headers"]["x-shopify-hmac-sha256"] = signature;
    assert_eq!(event.0["isBase64Encoded"], true);
    let (status, body) = webhook(&stack, &event).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        stack.item_count().await,
        2,
        "the order and its delivery record"
    );
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401_and_writes_nothing() {
    let stack = TestStack::new().await;
    let sample = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);

    let tampered = sample
        .clone()
        .body_text(&sample_body().replace("1 Main St", "9 Elm St"));
    let mut wrong_secret = sample.clone();
    wrong_secret.0["headers"]["x-shopify-hmac-sha256"] =
        store_webhooks::signature::sign(b"someone else's secret", sample_body().as_bytes()).into();
    let mut missing = sample.clone();
    missing.0["headers"]
        .as_object_mut()
        .unwrap()
        .remove("x-shopify-hmac-sha256");
    let mut garbage = sample.clone();
    garbage.0["headers"]["x-shopify-hmac-sha256"] = "not-a-signature".into();

    for event in [tampered, wrong_secret, missing, garbage] {
        let (status, body) = webhook(&stack, &event).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "invalid_signature");
    }
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn an_unknown_shop_is_404_and_writes_nothing() {
    let stack = TestStack::new().await;
    let mut event = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    event.0["headers"]["x-shopify-shop-domain"] = "someone-else.myshopify.com".into();
    let (status, body) = webhook(&stack, &event).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_shop");
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn an_order_we_cannot_ship_or_read_is_a_4xx_with_a_reason_and_writes_nothing() {
    let stack = TestStack::new().await;
    let mut pickup: Value = serde_json::from_str(&sample_body()).unwrap();
    pickup["shipping_address"] = Value::Null;
    let event = signed(
        ApiEvent::from_json(SHOPIFY_ORDERS_CREATE),
        &pickup.to_string(),
    );
    let (status, body) = webhook(&stack, &event).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<_> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "shipping_address.address1",
            "shipping_address.city",
            "shipping_address.country_code"
        ]
    );

    let event = signed(ApiEvent::from_json(SHOPIFY_ORDERS_CREATE), "{\"id\": 5531,");
    let (status, body) = webhook(&stack, &event).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "malformed_json");

    let mut topic = ApiEvent::from_json(SHOPIFY_ORDERS_CREATE);
    topic.0["headers"]["x-shopify-topic"] = "orders/updated".into();
    let (status, body) = webhook(&stack, &topic).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_topic");
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn amazon_access_token_comes_from_login_with_amazon_and_is_reused_while_fresh() {
    let mut h = Harness::with_lwa().await;
    let order_id = h.api_order("A-2001", "amazon", Some(AMAZON_ORDER)).await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    h.handoff_to_usps(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);

    let requests = h.store.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths.iter().filter(|p| **p == LWA_TOKEN_PATH).count(),
        1,
        "{paths:?}"
    );
    let token_request = &requests[0];
    assert_eq!(token_request.path, LWA_TOKEN_PATH);
    assert_eq!(
        token_request.header("content-type"),
        Some("application/x-www-form-urlencoded;charset=UTF-8")
    );
    assert_eq!(
        token_request.body,
        json!(
            "grant_type=refresh_token&refresh_token=Atzr%7Ctest-refresh\
               &client_id=amzn1.application-oa2-client.test&client_secret=test-client-secret"
        )
    );
    for request in &requests[1..] {
        assert_eq!(request.header("x-amz-access-token"), Some(LWA_ACCESS_TOKEN));
    }
    assert_eq!(
        requests.len(),
        5,
        "one token, then items and confirmation twice"
    );
}

/// An order of `merchant` naming Amazon order `amazon_order`, written straight to the
/// table as intake wrote store orders before it checked connections.
async fn legacy_amazon_order(h: &Harness, merchant: &str, amazon_order: &str) -> String {
    let mut body = order_body("L-1");
    body["source"] = "amazon".into();
    body["external_order_id"] = amazon_order.into();
    let draft: tracking_domain::order::OrderDraft = serde_json::from_value(body).unwrap();
    let order = tracking_domain::order::Order::new(
        merchant,
        draft.parse().unwrap(),
        label_time() - Duration::hours(2),
    );
    let order_id = order.order_id.clone();
    h.stack.store().create_order(order).await.unwrap();
    order_id
}

#[tokio::test]
async fn a_merchant_cannot_name_a_store_it_is_not_connected_to_nor_reach_anothers_store() {
    let mut h = Harness::new().await;
    let intruder = "merchant-intruder";
    for (source, external) in [("amazon", AMAZON_ORDER), ("shopify", SHOPIFY_ORDER_GID)] {
        let mut body = order_body("X-1");
        body["source"] = source.into();
        body["external_order_id"] = external.into();
        let event = ApiEvent::from_json(CREATE_ORDER)
            .merchant(intruder)
            .body_json(&body);
        let (status, reply) = read_response(
            h.stack
                .orders_api()
                .handle(event.request(), label_time())
                .await,
        );
        assert_eq!(status, 422, "{reply}");
        assert_eq!(reply["error"]["code"], "store_not_connected");
        assert!(reply["error"]["message"].as_str().unwrap().contains(source));
    }
    let csv = format!(
        "order_number,source,external_order_id,customer_name,customer_email,ship_to_line1,ship_to_city,ship_to_country\n\
         X-2,amazon,{AMAZON_ORDER},Eve,eve@example.com,1 Main St,Austin,US\n\
         X-3,manual,,Eve,eve@example.com,1 Main St,Austin,US\n"
    );
    let event = ApiEvent::from_json(crate::IMPORT_ORDERS)
        .merchant(intruder)
        .body_text(&csv);
    let (status, reply) = read_response(
        h.stack
            .orders_api()
            .handle(event.request(), label_time())
            .await,
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["created"], 1, "{reply}");
    assert_eq!(reply["rows"][0]["row"], 2);
    assert_eq!(reply["rows"][0]["code"], "store_not_connected");
    assert_eq!(reply["rows"][0]["errors"][0]["field"], "source");
    assert_eq!(reply["rows"][1]["result"], "created");
    assert_eq!(
        h.stack.item_count().await,
        1,
        "only the manual row was written"
    );

    // Even an order that names the other seller's order (stored before intake checked
    // connections) reaches no store: the push has no connection of its merchant to use.
    let order_id = legacy_amazon_order(&h, intruder, AMAZON_ORDER).await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.queued().await.len(), 1);
    h.deliver().await;
    assert!(
        h.store.requests().is_empty(),
        "no request may reach a store: {:?}",
        h.store.requests()
    );
    let dead = h.queue.peek(&h.queue.dead_letter_url).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].1.clone().unwrap_or_default();
    assert!(
        reason.contains("not connected to an Amazon seller account"),
        "{reason}"
    );
}

#[tokio::test]
async fn each_seller_is_confirmed_with_its_own_token_and_marketplace_only() {
    let mut h = Harness::new().await;
    let acme = h.api_order("A-1", "amazon", Some(AMAZON_ORDER)).await;
    let bolt = legacy_amazon_order(&h, OTHER_SELLER_MERCHANT, OTHER_SELLER_ORDER).await;
    h.label(&acme).await;
    h.stream_to_queue().await;
    let (status, body) =
        upload_label(&h.stack, &bolt, "ups", "1ZWX0692YP40636269", label_time()).await;
    assert_eq!(status, 201, "{body}");
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 2);

    let requests = h.store.requests();
    assert_eq!(requests.len(), 4, "items and confirmation per seller");
    for request in &requests {
        let (token, marketplace) = if request.path.contains(AMAZON_ORDER) {
            (AMAZON_TOKEN, MARKETPLACE)
        } else {
            assert!(
                request.path.contains(OTHER_SELLER_ORDER),
                "{}",
                request.path
            );
            (OTHER_SELLER_TOKEN, OTHER_SELLER_MARKETPLACE)
        };
        assert_eq!(
            request.header("x-amz-access-token"),
            Some(token),
            "{}",
            request.path
        );
        if request.method == "POST" {
            assert_eq!(request.body["marketplaceId"], marketplace);
        }
    }
}

/// An SP-API `Order` as `getOrders` returns it with a Restricted Data Token.
fn amazon_listing(order_id: &str, buyer: &str) -> Value {
    json!({
        "AmazonOrderId": order_id, "PurchaseDate": "2026-11-24T14:02:11Z",
        "LastUpdateDate": "2026-11-24T14:05:40Z", "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN", "SalesChannel": "Amazon.com", "OrderType": "StandardOrder",
        "MarketplaceId": MARKETPLACE, "NumberOfItemsUnshipped": 1,
        "BuyerInfo": {"BuyerEmail": format!("{buyer}@marketplace.amazon.com"), "BuyerName": buyer},
        "ShippingAddress": {"Name": buyer, "AddressLine1": "500 Congress Ave", "City": "Austin",
                            "StateOrRegion": "TX", "PostalCode": "78701", "CountryCode": "US",
                            "AddressType": "Residential"}
    })
}

async fn search(h: &Harness, merchant: &str, term: &str) -> Vec<Value> {
    let event = ApiEvent::from_json(SEARCH_ORDERS)
        .merchant(merchant)
        .query(&[("q", term)]);
    let (status, body) = read_response(
        h.stack
            .orders_api()
            .handle(event.request(), label_time())
            .await,
    );
    assert_eq!(status, 200, "{body}");
    body["orders"].as_array().unwrap().clone()
}

#[tokio::test]
async fn connected_sellers_orders_are_polled_in_once_each_with_their_own_credentials() {
    let h = Harness::new().await;
    let second = "902-1111111-2222222";
    h.store
        .add_amazon_order(AMAZON_TOKEN, amazon_listing(AMAZON_ORDER, "Ada"));
    h.store
        .add_amazon_order(AMAZON_TOKEN, amazon_listing(second, "Grace"));
    // Listed without its restricted data: cannot become an order, and does not stop the rest.
    h.store.add_amazon_order(
        AMAZON_TOKEN,
        json!({"AmazonOrderId": "902-9999999-0000000"}),
    );
    h.store.add_amazon_order(
        OTHER_SELLER_TOKEN,
        amazon_listing(OTHER_SELLER_ORDER, "Linus"),
    );
    let poll = |at: &str| json!({"amazon_order_poll": {"scheduled_time": at}});

    let report = h
        .sync
        .handle(poll("2026-11-24T16:00:00Z"), label_time())
        .await
        .unwrap();
    assert_eq!(
        report,
        json!({"created": 3, "already_known": 0, "unusable": 1})
    );
    let found = search(&h, MERCHANT, AMAZON_ORDER).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["source"], "amazon");
    assert_eq!(search(&h, MERCHANT, second).await.len(), 1);
    assert_eq!(
        search(&h, OTHER_SELLER_MERCHANT, OTHER_SELLER_ORDER)
            .await
            .len(),
        1
    );
    assert!(
        search(&h, MERCHANT, OTHER_SELLER_ORDER).await.is_empty(),
        "another seller's order is filed under its own merchant"
    );
    for request in h.store.requests() {
        let token = request.header("x-amz-access-token").unwrap_or_default();
        let seller_token = token.strip_prefix(RDT_PREFIX).unwrap_or(token);
        assert!(
            [AMAZON_TOKEN, OTHER_SELLER_TOKEN].contains(&seller_token),
            "{request:?}"
        );
        if request.path.starts_with("/orders/v0/orders?") {
            assert!(token.starts_with(RDT_PREFIX), "orders are read with an RDT");
            let marketplace = if seller_token == AMAZON_TOKEN {
                MARKETPLACE
            } else {
                OTHER_SELLER_MARKETPLACE
            };
            assert!(
                request
                    .path
                    .contains(&format!("MarketplaceIds={marketplace}")),
                "{}",
                request.path
            );
        }
    }
    // The first page of a poll (later pages carry only NextToken).
    let first_page = |h: &Harness| {
        h.store
            .requests()
            .into_iter()
            .find(|r| r.path.starts_with("/orders/v0/orders?") && !r.path.contains("NextToken"))
            .expect("a poll's first page")
    };
    let first_read = first_page(&h);
    assert!(
        first_read
            .path
            .contains("LastUpdatedAfter=2026-11-23T16%3A00%3A00Z"),
        "a first poll reads a day back: {}",
        first_read.path
    );

    h.store.clear_requests();
    let items = h.stack.item_count().await;
    let report = h
        .sync
        .handle(poll("2026-11-24T16:15:00Z"), label_time())
        .await
        .unwrap();
    assert_eq!(
        report,
        json!({"created": 0, "already_known": 3, "unusable": 1})
    );
    assert_eq!(
        h.stack.item_count().await,
        items,
        "a second poll creates nothing"
    );
    let reread = first_page(&h);
    assert!(
        reread
            .path
            .contains("LastUpdatedAfter=2026-11-24T15%3A50%3A00Z"),
        "the next poll reads from its cursor, less the overlap: {}",
        reread.path
    );
}

// ---- Packages ------------------------------------------------------------------------

const SECOND_UPS: &str = "1ZWX0692YP40636269";

async fn package_ids(h: &Harness, order_id: &str) -> Vec<String> {
    h.details(order_id).await["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shipment_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn void_package(h: &Harness, order_id: &str, shipment_id: &str) {
    let event = ApiEvent::from_json(include_str!("../events/label-upload/void-shipment.json"))
        .path_param("order_id", order_id)
        .path_param("shipment_id", shipment_id);
    let (status, body) = read_response(
        h.stack
            .label_upload()
            .handle(event.request(), label_time() + Duration::hours(1))
            .await,
    );
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_second_package_joins_the_shopify_fulfillment_and_voids_take_each_back() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    // Two more packages at once: their pushes race on the one fulfillment's list.
    let third = tracking_aws::contract::ups_number(5);
    for (number, minutes) in [(SECOND_UPS, 30), (third.as_str(), 31)] {
        let (status, body) = upload_label(
            &h.stack,
            &order_id,
            "ups",
            number,
            label_time() + Duration::minutes(minutes),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    h.stream_to_queue().await;
    let jobs = h.queued().await;
    let mut numbers: Vec<_> = jobs
        .iter()
        .map(|j| j["package"]["number"].clone())
        .collect();
    numbers.sort_by_key(|n| n.as_u64());
    assert_eq!(numbers, [2, 3], "{jobs:?}");
    for _ in 0..5 {
        if h.deliver().await == 0 {
            break;
        }
    }
    let listed = |h: &Harness| {
        let mut all = h.store.fulfillments();
        assert!(
            all.len() <= 1,
            "one fulfillment lists every package: {all:?}"
        );
        all.pop().map(|(_, mut numbers)| {
            numbers.sort();
            numbers
        })
    };
    let mut expected = vec![UPS.to_owned(), SECOND_UPS.to_owned(), third.clone()];
    expected.sort();
    assert_eq!(listed(&h), Some(expected));

    let packages = package_ids(&h, &order_id).await;
    void_package(&h, &order_id, &packages[1]).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    let mut rest = vec![UPS.to_owned(), third.clone()];
    rest.sort();
    assert_eq!(listed(&h), Some(rest), "the voided number is taken out");
    void_package(&h, &order_id, &packages[2]).await;
    void_package(&h, &order_id, &packages[0]).await;
    h.stream_to_queue().await;
    for _ in 0..5 {
        if h.deliver().await == 0 {
            break;
        }
    }
    assert_eq!(listed(&h), None, "its last number voided: cancelled");
    let operations: Vec<_> = h.store.requests().iter().map(Recorded::operation).collect();
    assert!(
        operations.iter().any(|o| o == "CancelFulfillment"),
        "{operations:?}"
    );
    let withdrawn = h
        .stack
        .store()
        .sync_record(&SyncKey {
            order_id: order_id.clone(),
            platform: OrderSource::Shopify,
            carrier: "ups".into(),
            tracking_number: UPS.into(),
            withdraws: true,
            label: Some(format!("{}#0", packages[0])),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(withdrawn.status, SyncStatus::Sent);
}

#[tokio::test]
async fn a_relabel_replaces_the_number_shopify_has() {
    let mut h = Harness::new().await;
    let order_id = h.shopify_order().await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    let packages = package_ids(&h, &order_id).await;
    let event = ApiEvent::from_json(include_str!("../events/label-upload/relabel-shipment.json"))
        .path_param("order_id", &order_id)
        .body_json(&json!({
            "carrier": "ups", "service": "ground", "tracking_number": SECOND_UPS,
            "label_source": "jetpack", "shipment_id": packages[0]
        }));
    let (status, body) = read_response(
        h.stack
            .label_upload()
            .handle(event.request(), label_time() + Duration::hours(1))
            .await,
    );
    assert_eq!(status, 201, "{body}");
    h.stream_to_queue().await;
    let jobs = h.queued().await;
    assert_eq!(jobs[0]["replaces"]["tracking_number"], UPS);
    assert_eq!(h.deliver().await, 1);
    let fulfillments = h.store.fulfillments();
    assert_eq!(fulfillments.len(), 1);
    assert_eq!(fulfillments[0].1, [SECOND_UPS]);
}

#[tokio::test]
async fn amazon_confirms_each_package_under_its_own_reference_and_cannot_take_one_back() {
    let mut h = Harness::new().await;
    let order_id = h.api_order("A-3001", "amazon", Some(AMAZON_ORDER)).await;
    h.label(&order_id).await;
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    let (status, body) = upload_label(
        &h.stack,
        &order_id,
        "ups",
        SECOND_UPS,
        label_time() + Duration::minutes(30),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    h.stream_to_queue().await;
    assert_eq!(h.deliver().await, 1);
    let confirm = format!("POST /orders/v0/orders/{AMAZON_ORDER}/shipmentConfirmation");
    let references: Vec<(String, String)> = h
        .store
        .requests()
        .iter()
        .filter(|r| format!("{} {}", r.method, r.path) == confirm)
        .map(|r| {
            (
                r.body["packageDetail"]["packageReferenceId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                r.body["packageDetail"]["trackingNumber"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        references,
        [
            ("1".to_owned(), UPS.to_owned()),
            ("2".to_owned(), SECOND_UPS.to_owned())
        ]
    );

    let packages = package_ids(&h, &order_id).await;
    void_package(&h, &order_id, &packages[1]).await;
    h.stream_to_queue().await;
    let before = h.store.requests().len();
    h.deliver().await;
    assert_eq!(
        h.store.requests().len(),
        before,
        "nothing is sent to Amazon"
    );
    let dead = h.queue.peek(&h.queue.dead_letter_url).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].1.as_deref().unwrap_or_default();
    assert!(reason.contains("Seller Central"), "{reason}");
}
