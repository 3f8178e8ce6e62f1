use lambda_runtime::{service_fn, Error, LambdaEvent};
use notifier::config::NotifierConfig;
use notifier::ses::SesMailer;
use notifier::{Notifier, SqsDeliveryQueue};
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let notify = NotifierConfig::from_env(tracking_aws::secrets::SecretsManager::from_sdk(&sdk))?;
    let queue = SqsDeliveryQueue::from_env(aws_sdk_sqs::Client::new(&sdk))?;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), &notify.sender);
    let notifier = Notifier::new(
        OrderStore::from_sdk(&sdk, &config.table_name),
        mailer,
        queue,
        notify,
    );
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
