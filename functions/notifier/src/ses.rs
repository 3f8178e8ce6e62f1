//! The SES v2 adapter.
//!
//! Simple content only: SES writes every header itself from typed fields (a single
//! recipient, the configured sender, a subject already flattened to one line), so no
//! value of ours is ever spliced into raw MIME. The two headers we add are RFC 8058's
//! one-click unsubscribe: the link is our own base URL and a base64url token, so it holds
//! nothing that could break a header.

use anyhow::{anyhow, Context};
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

use crate::config::Sender;
use crate::{Mailer, OutgoingEmail, SendError};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: &Sender) -> Self {
        Self {
            client,
            from: sender.mailbox(),
        }
    }
}

fn utf8(data: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .context("build SES content")
        .map_err(SendError::Rejected)
}

fn header(name: &str, value: String) -> Result<MessageHeader, SendError> {
    MessageHeader::builder()
        .name(name)
        .value(value)
        .build()
        .context("build SES header")
        .map_err(SendError::Rejected)
}

impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let message = Message::builder()
            .headers(header(
                "List-Unsubscribe",
                format!("<{}>", email.unsubscribe_url),
            )?)
            .headers(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            )?)
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id.unwrap_or_default()),
            Err(SdkError::ServiceError(e)) => {
                let error = e.into_err();
                match &error {
                    // This message can never pass (e.g. SES refused its content or the
                    // address): record it as failed rather than hold up the shard.
                    SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_) => {
                        Err(SendError::Rejected(
                            anyhow!(error).context("SES refused the email"),
                        ))
                    }
                    // Throttling and quotas refill; a paused or misconfigured account is an
                    // outage for every email, which must reach the dead-letter queue and
                    // its alarm instead of being written off one delivery at a time.
                    _ => Err(SendError::Retryable(anyhow!(error).context("SES send"))),
                }
            }
            // Timeouts, connection and 5xx errors (after the SDK's own retries).
            Err(e) => Err(SendError::Retryable(anyhow!(e).context("SES send"))),
        }
    }
}
