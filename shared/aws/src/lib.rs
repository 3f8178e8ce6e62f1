//! AWS adapters for the tracking functions: configuration, logging and the DynamoDB store.
//!
//! Kept apart from `tracking-domain` so the rules stay pure and the I/O stays here.

pub mod batches;
pub mod config;
#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod memory;
pub mod ports;
pub mod queues;
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use aws_config::SdkConfig;
pub use config::Config;
pub use store::OrderStore;

/// SDK configuration from the environment. `AWS_ENDPOINT_URL` (set by the local stack)
/// redirects every client, so one binary serves AWS and the local stack alike.
///
/// Throttling and transient errors are retried with exponential backoff and jitter;
/// five attempts ride out a burst on an on-demand table without holding a request long.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
        .load()
        .await
}

/// The current instant at millisecond precision: what DynamoDB keys and API responses
/// carry, so a value read back compares equal to the one written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(3)
}
