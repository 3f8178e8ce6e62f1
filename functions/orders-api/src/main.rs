use lambda_http::{service_fn, Error};
use orders_api::{OrdersApi, UnsubscribeKey};
use tracking_aws::config::required_env;
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let unsubscribe_key = UnsubscribeKey::new(&required_env("UNSUBSCRIBE_SECRET")?)?;
    let sdk = tracking_aws::sdk_config().await;
    let api = OrdersApi::new(OrderStore::from_sdk(&sdk, &config.table_name), config)
        .with_unsubscribe_key(unsubscribe_key);
    let api = &api;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(api.handle(request, tracking_aws::now()).await)
    }))
    .await
}
