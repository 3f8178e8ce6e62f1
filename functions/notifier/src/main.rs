use lambda_runtime::{service_fn, Error, LambdaEvent};
use notifier::config::NotifierConfig;
use notifier::ses::SesMailer;
use notifier::Notifier;
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let notify = NotifierConfig::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), &notify.sender);
    let notifier = Notifier::new(
        OrderStore::from_sdk(&sdk, &config.table_name),
        mailer,
        notify,
    );
    let notifier = &notifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| async move {
            notifier
                .handle(event.payload, tracking_aws::now())
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
