use lambda_runtime::{service_fn, Error, LambdaEvent};
use platform_sync::PlatformSync;
use tracking_aws::config::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let sdk = tracking_aws::sdk_config().await;
    let sync = PlatformSync::build(&sdk, &process_env)?;
    let sync = &sync;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            sync.handle(event.payload, tracking_aws::now())
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
