use lambda_http::{service_fn, Error};
use store_webhooks::{StoreWebhooks, WebhookConfig};
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let webhook_config =
        WebhookConfig::from_env(tracking_aws::secrets::SecretsManager::from_sdk(&sdk))?;
    let webhooks = StoreWebhooks::new(
        OrderStore::from_sdk(&sdk, &config.table_name),
        webhook_config,
    );
    let webhooks = &webhooks;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(webhooks.handle(request, tracking_aws::now()).await)
    }))
    .await
}
