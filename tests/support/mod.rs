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
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::Value;
use tracking_aws::{Config, OrderStore};

/// Counts DynamoDB requests by operation name, as they go on the wire (retries included).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl RequestCounter {
    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
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
        Ok(())
    }
}

/// One test's slice of the local stack: its own copy of the tracking table.
pub struct TestStack {
    pub client: Client,
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
            table,
            requests,
        }
    }

    pub fn config(&self) -> Config {
        Config {
            table_name: self.table.clone(),
            origin_country: "US".into(),
        }
    }

    pub fn store(&self) -> OrderStore {
        OrderStore::new(self.client.clone(), &self.table)
    }

    pub fn orders_api(&self) -> orders_api::OrdersApi {
        orders_api::OrdersApi::new(self.store(), self.config())
    }

    pub fn label_upload(&self) -> label_upload::LabelUpload {
        label_upload::LabelUpload::new(self.store())
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

/// An API Gateway v2 event from `events/`, with the fields a test cares about changed.
#[derive(Debug, Clone)]
pub struct ApiEvent(pub Value);

impl ApiEvent {
    pub fn from_json(json: &str) -> Self {
        Self(serde_json::from_str(json).expect("event json"))
    }

    pub fn merchant(mut self, merchant_id: &str) -> Self {
        self.0["requestContext"]["authorizer"]["jwt"]["claims"]["merchant_id"] =
            Value::from(merchant_id);
        self
    }

    pub fn role(mut self, role: &str) -> Self {
        self.0["requestContext"]["authorizer"]["jwt"]["claims"]["role"] = Value::from(role);
        self
    }

    pub fn without_authorizer(mut self) -> Self {
        self.0["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        self
    }

    pub fn body_json(self, body: &Value) -> Self {
        self.body_text(&body.to_string())
    }

    pub fn body_text(mut self, body: &str) -> Self {
        self.0["body"] = Value::from(body);
        self.0["isBase64Encoded"] = Value::from(false);
        self
    }

    /// Binary uploads (an XLSX file) reach Lambda base64-encoded.
    pub fn body_binary(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        self.0["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.0["isBase64Encoded"] = Value::from(true);
        self
    }

    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.0["pathParameters"][name] = Value::from(value);
        self
    }

    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), Value::from(*v));
        }
        self.0["rawQueryString"] = Value::from(
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        );
        if map.is_empty() {
            self.0
                .as_object_mut()
                .unwrap()
                .remove("queryStringParameters");
        } else {
            self.0["queryStringParameters"] = Value::Object(map);
        }
        self
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.0.to_string())
            .expect("event parses as an API Gateway request")
    }
}

/// API Gateway sends the raw query string URL-encoded, as the client wrote it.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Status and JSON body of a handler's response.
pub fn read_response(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("json body"),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("json body"),
        _ => Value::Null,
    };
    (status, body)
}

/// A merchant id no other test uses.
pub fn unique_merchant(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        TABLE_SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}
