use lambda_http::{service_fn, Error};
use std::sync::Arc;

use orders_api::{unsubscribe_keys, OrdersApi};
use tracking_aws::config::required_env;
use tracking_aws::secrets::SecretsManager;
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    // Named here, read on the first unsubscribe request.
    let unsubscribe_keys = unsubscribe_keys(
        SecretsManager::from_sdk(&sdk),
        &required_env("UNSUBSCRIBE_KEY_SECRET_ARN")?,
    );
    let api = OrdersApi::new(OrderStore::from_sdk(&sdk, &config.table_name), config)
        .with_unsubscribe_keys(Arc::new(unsubscribe_keys));
    let api = &api;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(api.handle(request, tracking_aws::now()).await)
    }))
    .await
}
