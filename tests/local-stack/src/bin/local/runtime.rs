//! The functions, wired as AWS would wire them, around a clock the demo can move.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracking_aws::config::{process_env, Env};
use tracking_aws::Config;

/// "Now" for everything in the runner: the real clock plus an offset the demo can set,
/// so a journey of several days plays in a minute through unchanged handlers.
#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        tracking_aws::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        let offset = at - tracking_aws::now();
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub binary: String,
    pub auth: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Resources {
    pub endpoint: String,
    pub queues: HashMap<String, QueueInfo>,
    pub routes: Vec<Route>,
}

pub struct Runtime {
    pub clock: Clock,
    pub resources: Resources,
    pub sqs: aws_sdk_sqs::Client,
    pub orders: orders_api::OrdersApi,
    pub labels: label_upload::LabelUpload,
    pub claims: claims_intake::ClaimsIntake,
    pub scans: scan_ingest::ScanIngest<scan_ingest::SqsDeadLetters>,
    pub notifier: notifier::Notifier<notifier::ses::SesMailer, notifier::SqsDeliveryQueue>,
    pub sync: platform_sync::PlatformSync<platform_sync::lwa::SellerTokens>,
    pub webhooks: store_webhooks::StoreWebhooks,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    pub nightly: nightly_completion::Nightly<nightly_completion::SqsContinuation>,
    /// The local Shopify stand-in's fulfillments: order gid -> (fulfillment id, tracking number).
    pub shop: std::sync::Mutex<HashMap<String, Vec<(String, String)>>>,
    /// Messages handed to functions and not yet finished: the demo waits for zero.
    in_flight: AtomicUsize,
    mails_seen: AtomicUsize,
}

fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .with_context(|| format!("{name} is not set: run through scripts/local_aws.py (./dev run)"))
}

impl Runtime {
    pub async fn from_env() -> anyhow::Result<Self> {
        let resources: Resources = serde_json::from_str(
            &std::fs::read_to_string(required("LOCAL_AWS_RESOURCES")?)
                .context("read the local stack's resources")?,
        )?;
        let config = Config::from_env()?;
        let sdk = tracking_aws::sdk_config().await;
        // Every function as its main.rs builds it, from the local stack's environment
        // (the template's variables, resolved), secrets read from its Secrets Manager.
        let env: Env = &process_env;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        Ok(Self {
            clock: Clock::default(),
            orders: orders_api::OrdersApi::build(&sdk, env)?,
            notifier: notifier::Notifier::build(&sdk, env)?,
            sync: platform_sync::PlatformSync::build(&sdk, env)?,
            webhooks: store_webhooks::StoreWebhooks::build(&sdk, env)?,
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            table: config.table_name.clone(),
            labels: label_upload::LabelUpload::build(&sdk, env)?,
            claims: claims_intake::ClaimsIntake::build(&sdk, env)?,
            scans: scan_ingest::ScanIngest::build(&sdk, env)?,
            nightly: nightly_completion::Nightly::build(&sdk, env)?,
            sqs,
            resources,
            shop: std::sync::Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            mails_seen: AtomicUsize::new(0),
        })
    }

    pub fn queue(&self, name: &str) -> Option<&QueueInfo> {
        self.resources.queues.get(name)
    }

    pub async fn run_nightly(
        &self,
        scheduled_time: DateTime<Utc>,
    ) -> anyhow::Result<nightly_completion::RunReport> {
        let input = nightly_completion::RunInput::night(scheduled_time);
        self.nightly
            .run(&input, &nightly_completion::Budget::Unlimited)
            .await
    }

    pub fn spawn_background_work(self: Arc<Self>) {
        let runtime = self.clone();
        tokio::spawn(async move { runtime.poll("CarrierFeedQueue", 10).await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.poll("NightlyContinuationQueue", 1).await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.schedule_nightly().await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.poll("StoreSyncQueue", 10).await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.poll("EmailQueue", 10).await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.follow_stream(Consumer::Notifier).await });
        let runtime = self.clone();
        tokio::spawn(async move { runtime.follow_stream(Consumer::PlatformSync).await });
        tokio::spawn(async move { self.collect_mail().await });
    }

    /// Lambda's SQS event source mapping, for one queue: batches of `batch_size`,
    /// partial failures retried after a few seconds (the deployed queues wait their
    /// visibility timeout), poison messages moved to the dead-letter queue by SQS itself.
    async fn poll(&self, queue_name: &str, batch_size: i32) {
        let Some(queue) = self.queue(queue_name).cloned() else {
            eprintln!("local: no queue {queue_name} in the template; not polling it");
            return;
        };
        loop {
            // Short polls: the local SQS serves one request at a time, so a long poll would
            // hold up every other call for its whole wait.
            let delivered = local_stack::deliver_batch(
                &self.sqs,
                &queue.url,
                &queue.arn,
                batch_size,
                0,
                3,
                |event| async move {
                    let _busy = InFlight::enter(&self.in_flight);
                    let ids: Vec<String> = event
                        .records
                        .iter()
                        .filter_map(|r| r.message_id.clone())
                        .collect();
                    self.handle_queue_batch(queue_name, event, &ids).await
                },
            )
            .await;
            match delivered {
                Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
                Ok(_) => {}
                Err(error) => {
                    eprintln!("local: polling {queue_name}: {error:#}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// One queue batch into the function the template wires to that queue. An invocation
    /// error retries the whole batch, as Lambda does.
    async fn handle_queue_batch(
        &self,
        queue_name: &str,
        event: aws_lambda_events::event::sqs::SqsEvent,
        ids: &[String],
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        let outcome = match queue_name {
            "CarrierFeedQueue" => self.scans.handle(event, self.clock.now()).await,
            "EmailQueue" => self.notifier.handle_jobs(event, self.clock.now()).await,
            "StoreSyncQueue" => self
                .sync
                .handle(
                    serde_json::to_value(&event).unwrap_or_default(),
                    self.clock.now(),
                )
                .await
                .and_then(|response| Ok(serde_json::from_value(response)?)),
            _ => Ok(self.continue_nightly(event).await),
        };
        outcome.unwrap_or_else(|error| {
            eprintln!("local: the {queue_name} function failed its batch: {error:#}");
            failed_all(ids)
        })
    }

    async fn continue_nightly(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
        let payload = serde_json::to_value(&event).unwrap_or_default();
        match nightly_completion::parse_trigger(payload) {
            Ok(inputs) => {
                for input in inputs {
                    if let Err(error) = self
                        .nightly
                        .run(&input, &nightly_completion::Budget::Unlimited)
                        .await
                    {
                        eprintln!("local: nightly continuation failed: {error:#}");
                        for record in &event.records {
                            if let Some(id) = &record.message_id {
                                response.add_failure(id.clone());
                            }
                        }
                    }
                }
            }
            Err(error) => eprintln!("local: bad continuation message: {error:#}"),
        }
        response
    }

    /// The table's stream into its consumers, as Lambda's DynamoDB event source mapping
    /// does: in order, a failed record and those after it delivered again.
    async fn follow_stream(&self, consumer: Consumer) {
        let mut reader = match local_stack::streams::StreamReader::for_table(
            &self.dynamodb,
            &self.table,
        )
        .await
        {
            Ok(reader) => reader,
            Err(error) => {
                eprintln!("local: cannot follow the table's stream: {error:#}");
                return;
            }
        };
        let mut pending = Vec::new();
        loop {
            match reader.read_new().await {
                Ok(records) => pending.extend(records),
                Err(error) => eprintln!("local: reading the stream: {error:#}"),
            }
            if pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            let _busy = InFlight::enter(&self.in_flight);
            let event = local_stack::streams::event_of(pending.clone());
            let handled = match consumer {
                Consumer::Notifier => self.notifier.handle_stream(event, self.clock.now()).await,
                Consumer::PlatformSync => self
                    .sync
                    .handle(
                        serde_json::to_value(&event).unwrap_or_default(),
                        self.clock.now(),
                    )
                    .await
                    .and_then(|response| Ok(serde_json::from_value(response)?)),
            };
            match handled {
                Ok(response) => {
                    let retry_from = response
                        .batch_item_failures
                        .first()
                        .and_then(|f| f.item_identifier.clone());
                    match retry_from {
                        Some(sequence) => {
                            let keep = pending
                                .iter()
                                .position(|r| {
                                    r.change.sequence_number.as_deref() == Some(sequence.as_str())
                                })
                                .unwrap_or(0);
                            pending.drain(..keep);
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        None => pending.clear(),
                    }
                }
                Err(error) => {
                    eprintln!("local: {consumer:?} failed the batch: {error:#}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// EventBridge Scheduler's `cron(0 6 * * ? *)` in America/Chicago, on the runner's clock.
    async fn schedule_nightly(&self) {
        let mut last_run: Option<DateTime<Utc>> = None;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = self.clock.now();
            let today = tracking_domain::calendar::chicago_date(now);
            let six_today = tracking_domain::calendar::chicago_time_at(today, 6, 0);
            let latest_six = if now >= six_today {
                six_today
            } else {
                tracking_domain::calendar::chicago_time_at(today.pred_opt().unwrap_or(today), 6, 0)
            };
            // The first look only remembers where the clock is: the scheduler fires on the
            // next 06:00 it sees pass, like a schedule created now.
            match last_run {
                None => last_run = Some(latest_six),
                Some(previous) if latest_six > previous => {
                    last_run = Some(latest_six);
                    match self.run_nightly(latest_six).await {
                        Ok(report) => eprintln!(
                            "local: 06:00 CT run for {}: {} completed, {} first scans late, {} stalled, {} expired",
                            latest_six, report.completed, report.first_scan_late, report.stalled, report.expired
                        ),
                        Err(error) => eprintln!("local: nightly run failed: {error:#}"),
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// Sent emails, as the local SES recorded them, written to `.local/mail/`.
    async fn collect_mail(&self) {
        let url = format!("{}/moto-api/data.json", self.resources.endpoint);
        let _ = std::fs::create_dir_all(".local/mail");
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Ok(messages) = sent_mail(&url).await else {
                continue;
            };
            let seen = self.mails_seen.load(Ordering::SeqCst);
            for (index, message) in messages.iter().enumerate().skip(seen) {
                let path = format!(".local/mail/{:04}.html", index + 1);
                let _ = std::fs::write(&path, message.body.as_bytes());
                eprintln!(
                    "local: mail to {} - {} ({path})",
                    message.to.join(", "),
                    message.subject
                );
            }
            self.mails_seen
                .store(messages.len().max(seen), Ordering::SeqCst);
        }
    }

    /// Waits until every queue the runner polls is empty and no batch is in a handler.
    pub async fn drain(&self) {
        for _ in 0..120 {
            let mut waiting = 0;
            for name in [
                "CarrierFeedQueue",
                "NightlyContinuationQueue",
                "StoreSyncQueue",
                "EmailQueue",
            ] {
                if let Some(queue) = self.queue(name) {
                    waiting += queue_depth(&self.sqs, &queue.url).await;
                }
            }
            if waiting == 0 && self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The table stream's two consumers, as in the template (DynamoDB allows two per shard).
#[derive(Debug, Clone, Copy)]
enum Consumer {
    Notifier,
    PlatformSync,
}

/// Counts a batch as in a handler for as long as the guard lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn failed_all(ids: &[String]) -> aws_lambda_events::event::sqs::SqsBatchResponse {
    let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
    for id in ids {
        response.add_failure(id.clone());
    }
    response
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let Ok(output) = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
    else {
        return 0;
    };
    let attributes = output.attributes.unwrap_or_default();
    [
        Name::ApproximateNumberOfMessages,
        Name::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|name| attributes.get(name).and_then(|v| v.parse::<usize>().ok()))
    .sum()
}

pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// The local SES's sent messages (moto keeps them in its data dump).
pub async fn sent_mail(url: &str) -> anyhow::Result<Vec<Mail>> {
    let data: serde_json::Value = reqwest::get(url).await?.json().await?;
    Ok(data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Mail {
            to: m["destinations"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            body: m["body"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}
