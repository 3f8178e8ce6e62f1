use lambda_runtime::{service_fn, Error, LambdaEvent};
use scan_ingest::{ScanIngest, SqsDeadLetters};
use tracking_aws::config::required_env;
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let dead_letter_queue = required_env("CARRIER_FEED_DLQ_URL")?;
    let sdk = tracking_aws::sdk_config().await;
    let ingest = ScanIngest::new(
        OrderStore::from_sdk(&sdk, &config.table_name),
        SqsDeadLetters::new(aws_sdk_sqs::Client::new(&sdk), dead_letter_queue),
    );
    let ingest = &ingest;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
            ingest
                .handle(event.payload, tracking_aws::now())
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
