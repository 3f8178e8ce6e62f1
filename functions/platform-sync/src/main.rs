use lambda_runtime::{service_fn, Error, LambdaEvent};
use platform_sync::amazon::AmazonClient;
use platform_sync::config::SyncConfig;
use platform_sync::lwa::SellerTokens;
use platform_sync::shopify::ShopifyClient;
use platform_sync::{PlatformSync, SyncQueues};
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sync_config = SyncConfig::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let http = platform_sync::push::http_client()?;
    // Named here, read on the first push: a cold start never waits on Secrets Manager.
    let credentials =
        sync_config.credentials(tracking_aws::secrets::SecretsManager::from_sdk(&sdk));
    let amazon_tokens =
        SellerTokens::new(http.clone(), sync_config.lwa.clone(), credentials.clone());
    let sync = PlatformSync::new(
        OrderStore::from_sdk(&sdk, &config.table_name),
        SyncQueues::new(
            aws_sdk_sqs::Client::new(&sdk),
            &sync_config.queue_url,
            &sync_config.dead_letter_url,
        ),
        ShopifyClient::new(http.clone(), sync_config.shopify.clone(), credentials),
        AmazonClient::new(http, sync_config.amazon.clone(), amazon_tokens),
    );
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
