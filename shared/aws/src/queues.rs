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
