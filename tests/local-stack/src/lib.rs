//! Test support: an isolated table on the local AWS stack, request counting, and
//! API Gateway events from `events/` with the fields a test needs changed.
//!
//! The local stack is started by `scripts/local_aws.py` (via `./dev test`), which
//! creates the template's resources and writes their create-table specs to
//! `LOCAL_TABLE_SPECS`; each test copies the table spec under its own name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde::Deserialize;
use serde_json::Value;
use tracking_aws::{Config, OrderStore};
use tracking_domain::connections::{AmazonSeller, StoreConnections};

/// Counts DynamoDB requests by operation name, as they go on the wire (retries included),
/// and the capacity units DynamoDB reports consumed (it asks every request for them).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    capacity_units: Arc<Mutex<f64>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl RequestCounter {
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
        *self.capacity_units.lock().unwrap() = 0.0;
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// The most requests that were on the wire at once since the last reset: proof that
    /// work was issued concurrently, whatever the server's speed.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Read and write capacity units consumed since the last reset.
    pub fn capacity_units(&self) -> f64 {
        *self.capacity_units.lock().unwrap()
    }

    pub fn snapshot(&self) -> HashMap<String, usize> {
        self.counts.lock().unwrap().clone()
    }

    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }

    pub fn get(&self, operation: &str) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        use aws_sdk_dynamodb::operation as op;
        use aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total;
        let input = context.input_mut();
        if let Some(i) = input.downcast_mut::<op::put_item::PutItemInput>() {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) = input.downcast_mut::<op::get_item::GetItemInput>() {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) = input.downcast_mut::<op::query::QueryInput>() {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) =
            input.downcast_mut::<op::transact_write_items::TransactWriteItemsInput>()
        {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) = input.downcast_mut::<op::batch_get_item::BatchGetItemInput>() {
            i.return_consumed_capacity = Some(Total);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<
            '_,
        >,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        use aws_sdk_dynamodb::operation as op;
        use aws_sdk_dynamodb::types::ConsumedCapacity;
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let units = |c: &ConsumedCapacity| c.capacity_units.unwrap_or(0.0);
        let consumed: f64 = if let Some(o) = output.downcast_ref::<op::put_item::PutItemOutput>() {
            o.consumed_capacity.as_ref().map_or(0.0, units)
        } else if let Some(o) = output.downcast_ref::<op::get_item::GetItemOutput>() {
            o.consumed_capacity.as_ref().map_or(0.0, units)
        } else if let Some(o) = output.downcast_ref::<op::query::QueryOutput>() {
            o.consumed_capacity.as_ref().map_or(0.0, units)
        } else if let Some(o) =
            output.downcast_ref::<op::transact_write_items::TransactWriteItemsOutput>()
        {
            o.consumed_capacity.iter().flatten().map(units).sum()
        } else if let Some(o) = output.downcast_ref::<op::batch_get_item::BatchGetItemOutput>() {
            o.consumed_capacity.iter().flatten().map(units).sum()
        } else {
            0.0
        };
        *self.capacity_units.lock().unwrap() += consumed;
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            *self
                .counts
                .lock()
                .unwrap()
                .entry(metadata.name().to_owned())
                .or_default() += 1;
        }
        let now_in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// One test's slice of the local stack: its own copy of the tracking table.
pub struct TestStack {
    pub client: Client,
    /// The SDK configuration the functions are built with (the local stack's endpoint).
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    pub requests: RequestCounter,
}

static TABLE_SEQUENCE: AtomicU64 = AtomicU64::new(0);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableSpec {
    attribute_definitions: Vec<AttrDef>,
    key_schema: Vec<KeyDef>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexDef>,
    #[serde(default)]
    stream_specification: Option<StreamDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttrDef {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyDef {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDef {
    index_name: String,
    key_schema: Vec<KeyDef>,
    projection: ProjectionDef,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionDef {
    projection_type: String,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDef {
    stream_view_type: String,
}

fn key_schema(keys: &[KeyDef]) -> Vec<KeySchemaElement> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .unwrap()
        })
        .collect()
}

fn local_stack_hint() -> String {
    "integration tests need the local AWS stack: run them with `./dev test` \
     (or `scripts/local_aws.py run -- cargo test`)"
        .to_owned()
}

impl TestStack {
    /// Creates a fresh copy of the template's tracking table for this test.
    pub async fn new() -> Self {
        let specs_path =
            std::env::var("LOCAL_TABLE_SPECS").unwrap_or_else(|_| panic!("{}", local_stack_hint()));
        let specs: HashMap<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&specs_path).expect("read table specs"))
                .expect("parse table specs");
        let spec: TableSpec =
            serde_json::from_value(specs["TrackingTable"].clone()).expect("TrackingTable spec");

        let requests = RequestCounter::default();
        let sdk = tracking_aws::sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(requests.clone())
            .build();
        let client = Client::from_conf(config);

        let table = format!(
            "test-{}-{}-{}",
            std::process::id(),
            TABLE_SEQUENCE.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros() % 1_000_000
        );
        let mut create = client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&spec.key_schema)));
        for attr in &spec.attribute_definitions {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&attr.attribute_name)
                    .attribute_type(ScalarAttributeType::from(attr.attribute_type.as_str()))
                    .build()
                    .unwrap(),
            );
        }
        for index in &spec.global_secondary_indexes {
            let projection = Projection::builder()
                .projection_type(ProjectionType::from(
                    index.projection.projection_type.as_str(),
                ))
                .set_non_key_attributes(
                    (!index.projection.non_key_attributes.is_empty())
                        .then(|| index.projection.non_key_attributes.clone()),
                )
                .build();
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(key_schema(&index.key_schema)))
                    .projection(projection)
                    .build()
                    .unwrap(),
            );
        }
        if let Some(stream) = &spec.stream_specification {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .unwrap(),
            );
        }
        create
            .send()
            .await
            .unwrap_or_else(|e| panic!("create table {table}: {e:?}\n{}", local_stack_hint()));
        requests.reset();
        Self {
            client,
            sdk,
            table,
            requests,
        }
    }

    /// The functions' configuration for this table. `merchant-acme` (the sample events'
    /// merchant) is connected to the Shopify shop and the Amazon seller account the store
    /// samples name; every other merchant is connected to nothing.
    pub fn config(&self) -> Config {
        Config {
            table_name: self.table.clone(),
            origin_country: "US".into(),
            connections: test_connections(),
        }
    }

    /// Configuration with other store connections, for tenancy tests.
    pub fn config_with(&self, connections: StoreConnections) -> Config {
        Config {
            connections,
            ..self.config()
        }
    }

    pub fn store(&self) -> OrderStore {
        OrderStore::new(self.client.clone(), &self.table)
    }

    /// The functions' environment for this table, as template.yaml sets it (the store
    /// connections of [`TestStack::config`]), plus `extra`.
    pub fn env(&self, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut vars: HashMap<String, String> = [
            ("TRACKING_TABLE", self.table.as_str()),
            ("ORIGIN_COUNTRY", "US"),
            (
                "SHOPIFY_SHOPS",
                &serde_json::json!({ TEST_SHOP: TEST_MERCHANT }).to_string(),
            ),
            (
                "AMAZON_SELLERS",
                &serde_json::json!({ TEST_MERCHANT: {
                    "seller_id": TEST_SELLER_ID, "marketplace_id": TEST_MARKETPLACE
                }})
                .to_string(),
            ),
            // Read on the first unsubscribe request only; tests of those set their own key.
            ("UNSUBSCRIBE_KEY_SECRET_ARN", UNSET_SECRET_ARN),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        vars.retain(|_, value| !value.is_empty());
        move |name: &str| vars.get(name).cloned()
    }

    /// A function as its main.rs builds it, from [`TestStack::env`], its store swapped for
    /// this stack's request-counting one.
    fn built<F>(
        &self,
        build: impl FnOnce(&aws_config::SdkConfig, tracking_aws::config::Env) -> anyhow::Result<F>,
        extra: &[(&str, &str)],
    ) -> F {
        let env = self.env(extra);
        build(&self.sdk, &env).expect("the function builds from the test stack's environment")
    }

    pub fn orders_api(&self) -> orders_api::OrdersApi {
        self.built(orders_api::OrdersApi::build, &[])
            .with_store(self.store())
    }

    pub fn label_upload(&self) -> label_upload::LabelUpload {
        self.built(label_upload::LabelUpload::build, &[])
            .with_store(self.store())
    }

    /// The nightly run as deployed, handing continuations to `queue`, with `extra`
    /// environment (`NIGHTLY_PAGE_SIZE`, the stall days).
    pub fn nightly(
        &self,
        queue: &TestQueue,
        extra: &[(&str, &str)],
    ) -> nightly_completion::Nightly<nightly_completion::SqsContinuation> {
        let env: Vec<(&str, &str)> = [("NIGHTLY_CONTINUATION_QUEUE_URL", queue.url.as_str())]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        self.built(nightly_completion::Nightly::build, &env)
            .with_store(self.store())
    }

    /// The Shopify webhook receiver as deployed, verifying with [`SAMPLE_WEBHOOK_SECRET`].
    pub async fn store_webhooks(&self) -> store_webhooks::StoreWebhooks {
        let secret_arn = sample_webhook_secret_arn().await;
        self.built(
            store_webhooks::StoreWebhooks::build,
            &[("SHOPIFY_WEBHOOK_SECRET_ARN", &secret_arn)],
        )
        .with_store(self.store())
    }

    /// The scan-ingest handler, dead-lettering into `queue`'s dead-letter queue.
    pub fn scan_ingest(
        &self,
        queue: &TestQueue,
    ) -> scan_ingest::ScanIngest<scan_ingest::SqsDeadLetters> {
        self.built(
            scan_ingest::ScanIngest::build,
            &[("CARRIER_FEED_DLQ_URL", &queue.dead_letter_url)],
        )
        .with_store(self.store())
    }

    /// Every item in the table. A Scan is fine here: it is the test looking, not the product.
    pub async fn item_count(&self) -> usize {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .unwrap();
        output.count as usize
    }
}

pub use tracking_http::testing::{read_response, ApiEvent};

/// A merchant id no other test uses.
pub fn unique_merchant(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        TABLE_SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The Shopify app client secret the sample webhooks in `events/store-webhooks` are
/// signed with (`./dev` gives the local stack the same one).
pub const SAMPLE_WEBHOOK_SECRET: &str = "tracking-local-shopify-webhook-secret";

/// A secret in the local stack holding [`SAMPLE_WEBHOOK_SECRET`] the way the template's
/// `ShopifyWebhookSecret` holds it; created once per test process, never changed.
pub async fn sample_webhook_secret_arn() -> String {
    static ARN: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    ARN.get_or_init(|| async {
        let value = serde_json::json!({ "client_secret": SAMPLE_WEBHOOK_SECRET });
        TestSecret::create(&value.to_string()).await.arn
    })
    .await
    .clone()
}

/// One test's own secret in the local stack's Secrets Manager, changed the way an operator
/// changes one (`PutSecretValue`, which moves the value before to `AWSPREVIOUS`).
pub struct TestSecret {
    pub client: aws_sdk_secretsmanager::Client,
    pub arn: String,
}

impl TestSecret {
    pub async fn create(value: &str) -> Self {
        let sdk = tracking_aws::sdk_config().await;
        let client = aws_sdk_secretsmanager::Client::new(&sdk);
        let created = client
            .create_secret()
            .name(unique_merchant("test-secret"))
            .secret_string(value)
            .send()
            .await
            .expect("create a secret in the local stack");
        Self {
            client,
            arn: created.arn.expect("a created secret has an ARN"),
        }
    }

    /// A rotation: `value` becomes current, the current one previous.
    pub async fn put(&self, value: &str) {
        self.client
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(value)
            .send()
            .await
            .expect("put a secret value");
    }

    /// What the functions read secrets through in AWS.
    pub async fn source() -> std::sync::Arc<tracking_aws::secrets::SecretsManager> {
        tracking_aws::secrets::SecretsManager::from_sdk(&tracking_aws::sdk_config().await)
    }
}

/// One test's copy of a queue pair from the template (main queue plus its dead-letter
/// queue, same attributes and redrive), and a small stand-in for Lambda's SQS event
/// source mapping.
pub struct TestQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub arn: String,
    pub dead_letter_url: String,
    pub max_receive_count: usize,
}

impl TestQueue {
    /// Copies the template queue `logical_id` and the dead-letter queue it redrives to.
    pub async fn new(logical_id: &str) -> Self {
        let path = std::env::var("LOCAL_AWS_RESOURCES")
            .unwrap_or_else(|_| panic!("{}", local_stack_hint()));
        let resources: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read resources"))
                .expect("parse resources");
        let queue = &resources["queues"][logical_id];
        let attributes = queue["attributes"]
            .as_object()
            .expect("queue attributes")
            .clone();
        let redrive: Value = serde_json::from_str(
            attributes["RedrivePolicy"]
                .as_str()
                .expect("queue has a redrive policy"),
        )
        .unwrap();
        let max_receive_count = redrive["maxReceiveCount"].as_u64().unwrap() as usize;

        let sdk = tracking_aws::sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let suffix = format!(
            "{}-{}",
            std::process::id(),
            TABLE_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let dead_letter_url = sqs
            .create_queue()
            .queue_name(format!("test-dlq-{suffix}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("create queue: {e:?}\n{}", local_stack_hint()))
            .queue_url
            .unwrap();
        let dead_letter_arn = queue_arn(&sqs, &dead_letter_url).await;
        let mut create = sqs.create_queue().queue_name(format!("test-feed-{suffix}"));
        for (name, value) in &attributes {
            let value = if name == "RedrivePolicy" {
                json_redrive(&dead_letter_arn, max_receive_count)
            } else {
                value.as_str().unwrap().to_owned()
            };
            create = create.attributes(
                aws_sdk_sqs::types::QueueAttributeName::from(name.as_str()),
                value,
            );
        }
        let url = create.send().await.unwrap().queue_url.unwrap();
        let arn = queue_arn(&sqs, &url).await;
        Self {
            sqs,
            url,
            arn,
            dead_letter_url,
            max_receive_count,
        }
    }

    pub async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Receives one batch (up to `batch_size`), hands it to `handler` as Lambda would, deletes
    /// what succeeded and makes the reported failures visible again at once (standing in for
    /// their visibility timeout running out). Returns how many messages the batch had.
    pub async fn deliver_once<F, Fut>(&self, batch_size: i32, handler: F) -> usize
    where
        F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
        Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
    {
        deliver_batch(&self.sqs, &self.url, &self.arn, batch_size, 0, 0, handler)
            .await
            .expect("deliver a batch")
    }

    /// Receives up to `batch_size` messages as Lambda's SQS event, leaving what becomes of
    /// them (delete, visibility) to the test: for handlers that set their own retry delay.
    pub async fn receive_event(
        &self,
        batch_size: i32,
    ) -> Option<aws_lambda_events::event::sqs::SqsEvent> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(batch_size)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        (!messages.is_empty()).then(|| sqs_event_of(&messages, &self.arn).unwrap())
    }

    /// Messages waiting in a queue: (body, "error" attribute).
    pub async fn peek(&self, url: &str) -> Vec<(String, Option<String>)> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let error = m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get("error"))
                    .and_then(|v| v.string_value.clone());
                (m.body.unwrap_or_default(), error)
            })
            .collect()
    }
}

/// What Lambda's SQS event source mapping does with one batch: receive up to
/// `batch_size` messages (long-polling `wait_seconds`), hand them to `handler` as an SQS
/// event, delete the ones not reported failed, and let the failed ones come back after
/// `retry_after_seconds`. Returns how many messages the batch had.
pub async fn deliver_batch<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
    batch_size: i32,
    wait_seconds: i32,
    retry_after_seconds: i32,
    handler: F,
) -> anyhow::Result<usize>
where
    F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(batch_size)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event_of(&messages, arn)?;
    let response = handler(event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    for message in &messages {
        let (Some(id), Some(receipt)) = (
            message.message_id.as_deref(),
            message.receipt_handle.as_deref(),
        ) else {
            continue;
        };
        if failed.contains(&id) {
            sqs.change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(retry_after_seconds)
                .send()
                .await?;
        } else {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await?;
        }
    }
    Ok(messages.len())
}

/// Lambda's SQS event for received messages, system attributes included.
pub fn sqs_event_of(
    messages: &[aws_sdk_sqs::types::Message],
    arn: &str,
) -> anyhow::Result<aws_lambda_events::event::sqs::SqsEvent> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": m.attributes.as_ref().map(|a| a.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect::<HashMap<_, _>>()).unwrap_or_default(),
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    Ok(serde_json::from_value(
        serde_json::json!({ "Records": records }),
    )?)
}

fn json_redrive(dead_letter_arn: &str, max_receive_count: usize) -> String {
    serde_json::json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}).to_string()
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
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

impl TestStack {
    pub fn claims_intake(&self) -> claims_intake::ClaimsIntake {
        self.built(claims_intake::ClaimsIntake::build, &[])
            .with_store(self.store())
    }
}
pub mod faults;
pub mod fuzz;
pub mod openapi;
pub mod streams;

/// An unsubscribe key secret no test stack holds: reading it fails, as with a secret
/// deleted by mistake.
pub const UNSET_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:tracking-test-unset";
pub const TEST_SHOP: &str = "acme.myshopify.com";
pub const TEST_MERCHANT: &str = "merchant-acme";
pub const TEST_SELLER_ID: &str = "A2ACMESELLER";
pub const TEST_MARKETPLACE: &str = "ATVPDKIKX0DER";

pub fn test_connections() -> StoreConnections {
    StoreConnections::new(
        [(TEST_SHOP.to_owned(), TEST_MERCHANT.to_owned())].into(),
        [(
            TEST_MERCHANT.to_owned(),
            AmazonSeller {
                seller_id: TEST_SELLER_ID.into(),
                marketplace_id: TEST_MARKETPLACE.into(),
            },
        )]
        .into(),
    )
}
