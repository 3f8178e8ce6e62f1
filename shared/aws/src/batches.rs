//! The batch loops of every event-driven function: one for SQS batches, one for
//! DynamoDB stream batches, both answering with Lambda's partial batch response so that
//! only what failed comes back.
//!
//! - **SQS** ([`sqs_batch`]): messages of one group (a mailbox, say) are handled one
//!   after another in batch order, groups concurrently; every failed message is reported
//!   by its id, and the others are deleted by Lambda.
//! - **Stream** ([`stream_batch`]): records are handled one after another in stream
//!   order, and the batch stops at the first failure, which the response names: Lambda
//!   retries the shard from that record, so nothing is handled out of turn. (Handling
//!   orders concurrently would be faster, but what a stream consumer sends on, emails
//!   and sync jobs, would then leave in a different order from run to run.)
//!
//! A failure that cannot be named (a message without an id, a record without a sequence
//! number) fails the whole invocation instead: the batch comes again, which every
//! handler here makes safe.

use std::fmt::Display;
use std::future::Future;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::future::join_all;

/// Indexes of `items` in groups: same key together in their order, a `None` key alone.
fn groups<T>(items: &[T], key_of: impl Fn(&T) -> Option<String>) -> Vec<Vec<usize>> {
    let mut keyed: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = key_of(item);
        match keyed.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, indexes)) => indexes.push(index),
            None => keyed.push((key, vec![index])),
        }
    }
    keyed.into_iter().map(|(_, indexes)| indexes).collect()
}

/// Handles an SQS batch; see the module docs. `on_failure` runs for each failed message
/// before it is reported (to log it, to set its backoff).
///
/// Plain closures returning futures, not async closures: the lifetime of the batch is
/// then one named lifetime, and the Lambda runtime's futures stay `Send`.
pub async fn sqs_batch<'a, E, Handled, Noted>(
    messages: &'a [SqsMessage],
    group_of: impl Fn(&SqsMessage) -> Option<String>,
    handle: impl Fn(&'a SqsMessage) -> Handled,
    on_failure: impl Fn(&'a SqsMessage, E) -> Noted,
) -> anyhow::Result<SqsBatchResponse>
where
    E: Display,
    Handled: Future<Output = Result<(), E>>,
    Noted: Future<Output = ()>,
{
    let handle = &handle;
    let outcomes = join_all(
        groups(messages, group_of)
            .into_iter()
            .map(|group| async move {
                let mut outcomes = Vec::with_capacity(group.len());
                for index in group {
                    outcomes.push((index, handle(&messages[index]).await));
                }
                outcomes
            }),
    )
    .await;
    let mut failed: Vec<(usize, E)> = outcomes
        .into_iter()
        .flatten()
        .filter_map(|(index, outcome)| outcome.err().map(|error| (index, error)))
        .collect();
    failed.sort_by_key(|(index, _)| *index);
    let mut response = SqsBatchResponse::default();
    for (index, error) in failed {
        let message = &messages[index];
        let id = message
            .message_id
            .clone()
            .filter(|id| !id.is_empty())
            .with_context(|| format!("a failed SQS message has no message id: {error}"))?;
        on_failure(message, error).await;
        response.add_failure(id);
    }
    Ok(response)
}

/// Handles a DynamoDB stream batch; see the module docs.
pub async fn stream_batch<'a, E, Handled>(
    records: &'a [EventRecord],
    handle: impl Fn(&'a EventRecord) -> Handled,
) -> anyhow::Result<DynamoDbEventResponse>
where
    E: std::fmt::Debug,
    Handled: Future<Output = Result<(), E>>,
{
    let mut response = DynamoDbEventResponse::default();
    for record in records {
        let Err(error) = handle(record).await else {
            continue;
        };
        let sequence_number = record
            .change
            .sequence_number
            .clone()
            .filter(|s| !s.is_empty())
            .with_context(|| format!("a failed stream record has no sequence number: {error:?}"))?;
        tracing::error!(
            event_id = %record.event_id,
            sequence_number = %sequence_number,
            error = ?error,
            "stream record failed; it and the records after it will be retried"
        );
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number);
        response.batch_item_failures.push(failure);
        break;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn message(id: &str, group: &str) -> SqsMessage {
        serde_json::from_value(serde_json::json!({
            "messageId": id, "body": group, "attributes": {}, "messageAttributes": {}
        }))
        .unwrap()
    }

    fn record(sequence: &str, pk: &str) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "eventID": sequence, "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sequence}},
                         "SequenceNumber": sequence, "SizeBytes": 10}
        }))
        .unwrap()
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }

    #[tokio::test]
    async fn every_failed_message_is_reported_once_and_a_group_keeps_its_order() {
        let messages = [
            message("1", "ann"),
            message("2", "bob"),
            message("3", "ann"),
            message("4", "bob"),
        ];
        let seen = Mutex::new(Vec::new());
        let after = Mutex::new(Vec::new());
        let seen_ref = &seen;
        let response = sqs_batch(
            &messages,
            |m| m.body.clone(),
            |m| async move {
                let id = m.message_id.clone().unwrap();
                seen_ref.lock().unwrap().push(id.clone());
                if id == "2" || id == "3" {
                    Err(format!("{id} failed"))
                } else {
                    Ok(())
                }
            },
            |m, error| {
                let after = &after;
                async move {
                    after
                        .lock()
                        .unwrap()
                        .push(format!("{}: {error}", m.message_id.as_deref().unwrap()))
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(failed_ids(&response), ["2", "3"]);
        assert_eq!(*after.lock().unwrap(), ["2: 2 failed", "3: 3 failed"]);
        let seen = seen.lock().unwrap();
        let position = |id: &str| seen.iter().position(|s| s == id).unwrap();
        assert_eq!(seen.len(), 4, "a failure does not stop its group: {seen:?}");
        assert!(position("1") < position("3") && position("2") < position("4"));
    }

    #[tokio::test]
    async fn a_failed_message_without_an_id_fails_the_invocation() {
        let mut nameless = message("", "ann");
        nameless.message_id = None;
        let outcome = sqs_batch(
            &[message("1", "ann"), nameless],
            |_| None,
            |m| async move {
                match m.message_id {
                    None => Err("boom"),
                    Some(_) => Ok(()),
                }
            },
            |_, _| async {},
        )
        .await;
        assert!(outcome.unwrap_err().to_string().contains("no message id"));
    }

    #[tokio::test]
    async fn a_stream_batch_stops_at_its_first_failure_and_names_it() {
        let records = [
            record("100", "ORDER#a"),
            record("101", "ORDER#b"),
            record("102", "ORDER#a"),
            record("103", "ORDER#b"),
            record("104", "ORDER#c"),
        ];
        let handled = Mutex::new(Vec::new());
        let handled_ref = &handled;
        let response = stream_batch(&records, |r| async move {
            let sequence = r.change.sequence_number.clone().unwrap();
            handled_ref.lock().unwrap().push(sequence.clone());
            match sequence.as_str() {
                "101" | "102" => Err(sequence),
                _ => Ok(()),
            }
        })
        .await
        .unwrap();
        let named: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap())
            .collect();
        assert_eq!(named, ["101"]);
        assert_eq!(
            *handled.lock().unwrap(),
            ["100", "101"],
            "what follows the failure waits for the retry"
        );
    }

    #[tokio::test]
    async fn a_clean_stream_batch_reports_nothing() {
        let records = [record("1", "ORDER#a"), record("2", "ORDER#a")];
        let response = stream_batch(&records, |_| async { Ok::<_, String>(()) })
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
