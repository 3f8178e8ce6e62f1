use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use nightly_completion::{parse_trigger, Budget, Nightly, RunReport};
use tracking_aws::config::process_env;

/// Lambda's deadline, as an `Instant` the run can check cheaply.
fn deadline(context: &lambda_runtime::Context) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(context.deadline.saturating_sub(now_ms))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracking_aws::telemetry::init();
    let sdk = tracking_aws::sdk_config().await;
    let nightly = Nightly::build(&sdk, &process_env)?;
    let nightly = &nightly;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // A minute is enough for the pages in flight and the continuation message.
            let budget = Budget::Deadline {
                deadline: deadline(&event.context),
                margin: Duration::from_secs(60),
            };
            let mut reports: Vec<RunReport> = Vec::new();
            for input in parse_trigger(event.payload)? {
                let report = nightly.run(&input, &budget).await?;
                if report.failed > 0 {
                    // Fail the invocation so the scheduler's retry policy runs it again;
                    // what succeeded is not redone.
                    return Err(Error::from(format!(
                        "{} orders failed in the nightly run",
                        report.failed
                    )));
                }
                reports.push(report);
            }
            Ok::<_, Error>(serde_json::to_value(reports)?)
        },
    ))
    .await
}
