//! Structured JSON logs, the format CloudWatch Logs Insights queries best.

/// Installs the JSON log subscriber once. `RUST_LOG` (or the runtime's `AWS_LAMBDA_LOG_LEVEL`)
/// sets the level; the default keeps the SDK's chatter out.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map_err(|_| ())
                .and_then(|level| {
                    tracing_subscriber::EnvFilter::try_new(level.to_lowercase()).map_err(|_| ())
                })
        })
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
        });
    // A second init (tests, local runner) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .try_init();
}
