//! SQS adapters shared by the queue-fed functions.

use anyhow::Context;

/// Moves a message that can never succeed to a dead-letter queue at once, with the reason
/// in an `error` attribute, so it neither blocks its batch nor waits out every retry.
pub async fn send_dead_letter(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    body: &str,
    reason: &str,
) -> anyhow::Result<()> {
    // SQS attribute values are small; the reason's opening says what went wrong.
    let reason: String = reason.chars().take(256).collect();
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .message_attributes(
            "error",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(reason)
                .build()
                .context("build dead-letter attribute")?,
        )
        .send()
        .await
        .context("send to the dead-letter queue")?;
    Ok(())
}

/// SQS takes at most ten messages and 256 KiB of bodies in one SendMessageBatch; the
/// margin leaves room for the request's own framing.
const MAX_BATCH_MESSAGES: usize = 10;
const MAX_BATCH_BYTES: usize = 240 * 1024;

/// Consecutive runs of `bodies` that each fit one SendMessageBatch. A body too large for
/// any batch gets one of its own, and SQS's refusal names it.
fn batches(bodies: &[String]) -> Vec<&[String]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        let full = i - start == MAX_BATCH_MESSAGES || bytes + body.len() > MAX_BATCH_BYTES;
        if full && i > start {
            batches.push(&bodies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        batches.push(&bodies[start..]);
    }
    batches
}

/// Sends messages in as few SendMessageBatch requests as SQS's limits allow. Any entry
/// SQS does not accept fails the whole call, so the caller retries and nothing is silently
/// dropped (a repeat is harmless: every consumer here is idempotent).
pub async fn send_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    bodies: &[String],
) -> anyhow::Result<()> {
    for (chunk_index, chunk) in batches(bodies).into_iter().enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{chunk_index}-{i}"))
                    .message_body(body)
                    .build()
                    .context("build batch entry")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let output = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("send message batch")?;
        if let Some(failed) = output.failed.first() {
            anyhow::bail!(
                "SQS refused {} of {} messages ({}: {})",
                output.failed.len(),
                chunk.len(),
                failed.code,
                failed.message.as_deref().unwrap_or("no reason given")
            );
        }
    }
    Ok(())
}

/// How long a message that failed its `receive_count`-th attempt waits before the next:
/// doubling from 30 s, at most 15 minutes. SQS itself would hand it back after the
/// visibility timeout every time; a throttled downstream needs more room than that.
pub fn backoff_seconds(receive_count: u32) -> i32 {
    let doublings = receive_count.saturating_sub(1).min(5);
    (30i32 << doublings).min(900)
}

/// Hides a failed message for `seconds` before SQS hands it out again.
pub async fn retry_later(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipt_handle: &str,
    seconds: i32,
) -> anyhow::Result<()> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .visibility_timeout(seconds.clamp(0, 43_200))
        .send()
        .await
        .context("change message visibility")?;
    Ok(())
}

/// How many times SQS has handed a message out, from its `ApproximateReceiveCount`.
pub fn receive_count(message: &aws_lambda_events::event::sqs::SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1)
}

/// Which event source invoked a function that has several (a table stream, an SQS queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    Stream,
    Queue,
    /// A batch with no records: nothing to do.
    Empty,
}

/// Tells a DynamoDB stream batch from an SQS batch by the records' `eventSource`.
pub fn event_source(payload: &serde_json::Value) -> anyhow::Result<EventSource> {
    let Some(records) = payload.get("Records").and_then(|r| r.as_array()) else {
        anyhow::bail!("the event has no Records: neither a DynamoDB stream nor an SQS batch");
    };
    let Some(first) = records.first() else {
        return Ok(EventSource::Empty);
    };
    match first
        .get("eventSource")
        .or_else(|| first.get("EventSource"))
        .and_then(|s| s.as_str())
    {
        Some("aws:dynamodb") => Ok(EventSource::Stream),
        Some("aws:sqs") => Ok(EventSource::Queue),
        other => anyhow::bail!("records from an unexpected source: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_keep_to_ten_messages_and_sqs_size_limit() {
        let small: Vec<String> = (0..23).map(|i| format!("m{i}")).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        let big = "x".repeat(100 * 1024);
        let large: Vec<String> = vec![big.clone(), big.clone(), big.clone(), "y".into()];
        let sizes: Vec<usize> = batches(&large).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2], "240 KiB per batch at most");
        let huge = vec!["z".repeat(300 * 1024), "y".into()];
        let sizes: Vec<usize> = batches(&huge).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1, 1], "an oversized body goes alone");
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn retries_back_off_from_half_a_minute_to_a_quarter_hour() {
        let waits: Vec<_> = (1..=8).map(backoff_seconds).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(backoff_seconds(0), 30);
    }

    #[test]
    fn the_records_tell_the_event_source() {
        let stream = json!({"Records": [{"eventSource": "aws:dynamodb"}]});
        let queue = json!({"Records": [{"eventSource": "aws:sqs"}]});
        assert_eq!(event_source(&stream).unwrap(), EventSource::Stream);
        assert_eq!(event_source(&queue).unwrap(), EventSource::Queue);
        assert_eq!(
            event_source(&json!({"Records": []})).unwrap(),
            EventSource::Empty
        );
        assert!(event_source(&json!({"detail-type": "Scheduled Event"})).is_err());
        assert!(event_source(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_err());
    }
}
