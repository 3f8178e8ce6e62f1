use label_upload::LabelUpload;
use lambda_http::{service_fn, Error};
use tracking_aws::{Config, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let config = Config::from_env()?;
    let sdk = tracking_aws::sdk_config().await;
    let upload = LabelUpload::new(OrderStore::from_sdk(&sdk, &config.table_name));
    let upload = &upload;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, std::convert::Infallible>(upload.handle(request, tracking_aws::now()).await)
    }))
    .await
}
