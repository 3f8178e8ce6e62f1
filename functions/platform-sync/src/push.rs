//! What a store said, sorted into "try again later" and "will never work as sent".

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

/// A credential that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The store's answer to one push.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Throttling, a fault on their side, a timeout, expired credentials: SQS redelivers
    /// the job, and after the queue's receive limit it lands in the dead-letter queue.
    #[error("{0:#}")]
    Retryable(anyhow::Error),
    /// The store refused the request itself (unknown order, already fulfilled, a field it
    /// does not accept). Sending it again cannot help: dead-lettered at once, with this reason.
    #[error("{0}")]
    Rejected(String),
}

/// The store said when to come back (`Retry-After` on a 429 or 503), kept in a retryable
/// error's cause chain so the queue handler can hide the job for exactly that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store asked to retry after {seconds} s")]
pub struct RetryAfter {
    pub seconds: u64,
}

/// The store refused the credential itself (401, 403): kept in the cause chain so the
/// client drops what it holds and reads the credentials again before the retry; a
/// rotated token is then picked up at once instead of after the cache's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store refused the credential")]
pub struct CredentialsRefused;

impl PushError {
    pub fn refused_credentials(&self) -> bool {
        matches!(self, Self::Retryable(cause) if cause.downcast_ref::<CredentialsRefused>().is_some())
    }
}

/// `Retry-After` as seconds (its HTTP-date form is not used by either store's API).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<RetryAfter> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(|seconds| RetryAfter { seconds })
}

impl PushError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable(anyhow::anyhow!(message.into()))
    }

    /// Attaches the store's `Retry-After` to a retryable error; a refusal stays as it is.
    pub fn waiting(self, wait: Option<RetryAfter>) -> Self {
        match (self, wait) {
            (Self::Retryable(cause), Some(wait)) => Self::Retryable(cause.context(wait)),
            (other, _) => other,
        }
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected(message.into())
    }
}

/// One HTTP client for both stores: bounded so a hung store cannot hold a job past the
/// sync record's lease (see `SYNC_LEASE_SECONDS` in the crate root).
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!(
            "tracking-platform-sync/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()?)
}

/// Longest slice of a store's error body kept in logs and on the sync record.
const MAX_ECHOED_BODY: usize = 300;

/// Sorts a non-success status. 401 and 403 are retried: credentials rotate and tokens
/// expire, and a misconfiguration still ends in the dead-letter queue after the retries.
pub fn classify_status(store: &str, status: StatusCode, body: &[u8]) -> PushError {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .take(MAX_ECHOED_BODY)
        .collect();
    let message = format!("{store} answered {status}: {text}");
    let retry = status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
        );
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        PushError::Retryable(anyhow::anyhow!(message).context(CredentialsRefused))
    } else if retry {
        PushError::retryable(message)
    } else {
        PushError::rejected(message)
    }
}

/// A store's answer, read whole: its body when it succeeded, else the error its status
/// calls for, carrying the store's `Retry-After` when it gave one.
pub async fn successful_body(
    store: &str,
    response: reqwest::Response,
) -> Result<Vec<u8>, PushError> {
    let status = response.status();
    let wait = retry_after(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(store, e))?;
    if status.is_success() {
        Ok(bytes.to_vec())
    } else {
        Err(classify_status(store, status, &bytes).waiting(wait))
    }
}

/// Connection failures and timeouts are the network's fault, never the request's.
pub fn transport_error(store: &str, error: reqwest::Error) -> PushError {
    PushError::Retryable(anyhow::Error::new(error).context(format!("calling {store}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stores_retry_after_travels_with_the_retryable_error_only() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        let wait = retry_after(&headers);
        assert_eq!(wait, Some(RetryAfter { seconds: 7 }));
        let throttled = classify_status("Amazon", StatusCode::TOO_MANY_REQUESTS, b"").waiting(wait);
        let PushError::Retryable(cause) = throttled else {
            panic!("a 429 is retried")
        };
        let cause = cause.context("store push failed");
        assert_eq!(
            cause.downcast_ref::<RetryAfter>(),
            Some(&RetryAfter { seconds: 7 })
        );
        let refused = classify_status("Amazon", StatusCode::BAD_REQUEST, b"").waiting(wait);
        assert!(matches!(refused, PushError::Rejected(_)));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn throttling_faults_and_auth_are_retried_other_client_errors_are_not() {
        for status in [429, 500, 502, 503, 408, 401, 403] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(
                    classify_status("Shopify", status, b""),
                    PushError::Retryable(_)
                ),
                "{status}"
            );
        }
        for status in [400, 404, 422] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(
                    classify_status("Amazon", status, b"{}"),
                    PushError::Rejected(_)
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn echoed_error_bodies_are_bounded() {
        let body = "x".repeat(10_000);
        let PushError::Rejected(message) =
            classify_status("Amazon", StatusCode::BAD_REQUEST, body.as_bytes())
        else {
            panic!("400 is a rejection");
        };
        assert!(message.len() < 400, "{}", message.len());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        assert_eq!(format!("{:?}", Secret::new("shpat_123")), "Secret(..)");
    }
}
