//! The cold-start floor: the smallest `lambda_runtime` function, built with the same
//! release profile as the real ones, so their start-up can be read as a ratio to it.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
