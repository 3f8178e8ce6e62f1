//! Reading a table's DynamoDB stream on the local stack, as Lambda would hand it to a
//! stream-triggered function.
//!
//! [`StreamReader`] follows a table's latest stream and returns what was written since
//! the previous read, converted to the exact event shape Lambda delivers
//! (`aws_lambda_events::event::dynamodb::Event`), so the notifier is driven by real stream
//! records rather than hand-made ones. Tests use it to play the event source mapping; the
//! local runner can use it the same way to feed the notifier.
//!
//! ```text
//! let mut stream = StreamReader::for_table(&stack.client, &stack.table).await?;
//! // ... write through the handlers ...
//! let event = stream.next_event().await?;      // everything new since the last read
//! let response = notifier.handle(event, now).await?;
//! ```
//!
//! What it does not emulate: the event source's filter criteria (the notifier ignores
//! what the filter would drop, so handing it everything is a stricter test) and batch
//! size limits (one event holds every new record).

use std::collections::HashMap;

use anyhow::{anyhow, Context};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{json, Map, Value};

/// Follows one table's latest stream. Each read resumes after the last record it saw in
/// each shard, so nothing is returned twice and nothing written since is missed.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    /// Shard id -> sequence number of the last record returned from it.
    positions: HashMap<String, String>,
}

impl StreamReader {
    /// Follows `table`'s latest stream from its oldest record (DescribeTable ->
    /// LatestStreamArn). The table must have a stream enabled.
    pub async fn for_table(
        dynamodb: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> anyhow::Result<Self> {
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .with_context(|| format!("describe table {table}"))?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .with_context(|| format!("table {table} has no stream enabled"))?;
        let region = dynamodb
            .config()
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        let sdk = tracking_aws::sdk_config().await;
        Ok(Self {
            client: aws_sdk_dynamodbstreams::Client::new(&sdk),
            stream_arn,
            region,
            positions: HashMap::new(),
        })
    }

    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Every record written since the previous call (since the stream began, on the
    /// first call), shard by shard in the order DescribeStream lists them (parents before
    /// their children), each shard's records in order.
    pub async fn read_new(&mut self) -> anyhow::Result<Vec<EventRecord>> {
        let mut records = Vec::new();
        for shard_id in self.shard_ids().await? {
            let mut iterator = self.iterator(&shard_id).await?;
            // An empty page means this reader has caught up with the shard.
            while let Some(current) = iterator {
                let page = self
                    .client
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .with_context(|| format!("get records of shard {shard_id}"))?;
                let page_records = page.records.unwrap_or_default();
                if page_records.is_empty() {
                    break;
                }
                for record in &page_records {
                    if let Some(sequence) = record
                        .dynamodb
                        .as_ref()
                        .and_then(|r| r.sequence_number.clone())
                    {
                        self.positions.insert(shard_id.clone(), sequence);
                    }
                    records.push(self.lambda_record(record)?);
                }
                iterator = page.next_shard_iterator;
            }
        }
        Ok(records)
    }

    /// [`read_new`](Self::read_new) as one Lambda event (possibly with no records).
    pub async fn next_event(&mut self) -> anyhow::Result<Event> {
        let records = self.read_new().await?;
        Ok(event_of(records))
    }

    async fn shard_ids(&self) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let described = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .context("describe stream")?
                .stream_description
                .context("describe stream returned no description")?;
            ids.extend(
                described
                    .shards()
                    .iter()
                    .filter_map(|s| s.shard_id().map(str::to_owned)),
            );
            start = described.last_evaluated_shard_id;
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    /// A fresh iterator after the last record seen in the shard (or at its start). Asking
    /// each time avoids holding iterators, which expire after 15 minutes on AWS.
    async fn iterator(&self, shard_id: &str) -> anyhow::Result<Option<String>> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard_id);
        let request = match self.positions.get(shard_id) {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request
            .send()
            .await
            .with_context(|| format!("get shard iterator of {shard_id}"))?
            .shard_iterator)
    }

    /// The record as Lambda's event source mapping delivers it.
    fn lambda_record(&self, record: &Record) -> anyhow::Result<EventRecord> {
        let change = record
            .dynamodb
            .as_ref()
            .context("stream record without its dynamodb part")?;
        let mut dynamodb = Map::new();
        if let Some(at) = change.approximate_creation_date_time {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
        for (name, image) in [
            ("Keys", &change.keys),
            ("NewImage", &change.new_image),
            ("OldImage", &change.old_image),
        ] {
            if let Some(image) = image {
                dynamodb.insert(name.into(), item_json(image));
            }
        }
        dynamodb.insert("SequenceNumber".into(), json!(change.sequence_number));
        dynamodb.insert("SizeBytes".into(), json!(change.size_bytes.unwrap_or(0)));
        if let Some(view) = &change.stream_view_type {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
        let value = json!({
            "eventID": record.event_id,
            "eventName": record.event_name.as_ref().map(|n| n.as_str()),
            "eventVersion": record.event_version.as_deref().unwrap_or("1.1"),
            "eventSource": record.event_source.as_deref().unwrap_or("aws:dynamodb"),
            "awsRegion": record.aws_region.as_deref().unwrap_or(&self.region),
            "dynamodb": Value::Object(dynamodb),
            "eventSourceARN": self.stream_arn,
        });
        serde_json::from_value(value)
            .map_err(|e| anyhow!(e).context("stream record as a Lambda record"))
    }
}

/// Records as one Lambda stream event.
pub fn event_of(records: Vec<EventRecord>) -> Event {
    let mut event = Event::default();
    event.records = records;
    event
}

/// An item in DynamoDB's JSON form (`{"pk": {"S": "..."}}`), as stream events carry it.
fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect(),
    )
}

fn attribute_json(value: &AttributeValue) -> Value {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(items) => json!({ "SS": items }),
        AttributeValue::Ns(items) => json!({ "NS": items }),
        AttributeValue::Bs(items) => {
            json!({ "BS": items.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(items) => {
            json!({ "L": items.iter().map(attribute_json).collect::<Vec<_>>() })
        }
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        // A type added to DynamoDB after this SDK: carried as NULL rather than dropped.
        _ => json!({ "NULL": true }),
    }
}
