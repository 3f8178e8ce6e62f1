use lambda_runtime::{service_fn, Error, LambdaEvent};
use notifier::Notifier;
use tracking_aws::config::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let sdk = tracking_aws::sdk_config().await;
    let notifier = Notifier::build(&sdk, &process_env)?;
    let notifier = &notifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            notifier
                .handle(event.payload, tracking_aws::now())
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
