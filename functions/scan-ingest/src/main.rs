use lambda_runtime::{service_fn, Error, LambdaEvent};
use scan_ingest::ScanIngest;
use tracking_aws::config::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let sdk = tracking_aws::sdk_config().await;
    let ingest = ScanIngest::build(&sdk, &process_env)?;
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
