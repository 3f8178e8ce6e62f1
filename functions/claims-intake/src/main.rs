use claims_intake::ClaimsIntake;
use lambda_http::{service_fn, Error};
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let intake = ClaimsIntake::new(OrderStore::from_sdk(&sdk, &config.table_name), config);
    let intake = &intake;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(intake.handle(request, tracking_aws::now()).await)
    }))
    .await
}
