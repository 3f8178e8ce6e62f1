use lambda_http::{service_fn, Error};
use tracking_aws::config::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let sdk = tracking_aws::sdk_config().await;
    let api = orders_api::OrdersApi::build(&sdk, &process_env)?;
    let api = &api;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(api.handle(request, tracking_aws::now()).await)
    }))
    .await
}
