//! `nightly-completion`: the 06:00 America/Chicago run.
//!
//! It completes the orders whose completion time has come, flags first scans that
//! never came, stalled shipments and expired tracking. "Now" is the scheduled time
//! from the input, so any night can be replayed; every step is idempotent, so a
//! replay, a retry or an overlapping continuation leaves exactly what one run leaves.
//! Each sweep reads a sparse index holding only the orders it may still act on, so
//! a run costs what is due, never what exists.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracking_aws::store::{backoff, StoreError, Sweep, SweepCursor};
use tracking_aws::OrderStore;
use tracking_domain::nightly::{self, StallPolicy};
use tracking_domain::order::Order;
use tracking_domain::timeline::{Timeline, TimelineEvent};

/// What the scheduler sends: `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`.
/// A continuation carries the same time, so it finishes the same night.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunInput {
    pub scheduled_time: DateTime<Utc>,
    #[serde(default)]
    pub continuation: u32,
}

/// Every shape that can start a run.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Trigger {
    Scheduler(RunInput),
    /// A classic EventBridge scheduled rule: its `time` is the scheduled time.
    ScheduledEvent {
        time: DateTime<Utc>,
    },
    /// A continuation message from the run's own queue.
    Queue(aws_lambda_events::event::sqs::SqsEvent),
}

/// The runs an invocation asks for.
pub fn parse_trigger(payload: serde_json::Value) -> anyhow::Result<Vec<RunInput>> {
    let trigger: Trigger = serde_json::from_value(payload).context(
        "input is neither {\"scheduled_time\": ...}, a scheduled event, nor an SQS continuation",
    )?;
    match trigger {
        Trigger::Scheduler(input) => Ok(vec![input]),
        Trigger::ScheduledEvent { time } => Ok(vec![RunInput {
            scheduled_time: time,
            continuation: 0,
        }]),
        Trigger::Queue(event) => event
            .records
            .iter()
            .map(|record| {
                serde_json::from_str(record.body.as_deref().unwrap_or_default())
                    .context("continuation message is not a run input")
            })
            .collect(),
    }
}

/// Hands the rest of a night to a fresh invocation when this one runs out of time.
pub trait Continuation: Send + Sync {
    fn schedule(&self, input: &RunInput) -> impl Future<Output = anyhow::Result<()>> + Send;
}

pub struct SqsContinuation {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsContinuation {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl Continuation for SqsContinuation {
    async fn schedule(&self, input: &RunInput) -> anyhow::Result<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(input)?)
            .send()
            .await
            .context("send continuation")?;
        Ok(())
    }
}

/// How long a run may go on.
pub enum Budget {
    /// Stop starting pages once less than `margin` is left before `deadline`, so the
    /// pages in flight finish and the continuation is sent inside the timeout.
    Deadline {
        deadline: Instant,
        margin: Duration,
    },
    /// Stop after this many pages: lets tests and benches cut a run deterministically.
    Pages(AtomicUsize),
    Unlimited,
}

impl Budget {
    fn allows_another_page(&self) -> bool {
        match self {
            Self::Deadline { deadline, margin } => {
                deadline.saturating_duration_since(Instant::now()) > *margin
            }
            Self::Pages(left) => left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok(),
            Self::Unlimited => true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NightlyConfig {
    pub origin_country: String,
    pub stall: StallPolicy,
    /// Orders worked on at once: enough to finish thousands in minutes, few enough not
    /// to throttle an on-demand table (the SDK retries throttling with backoff).
    pub concurrency: usize,
    pub page_size: i32,
}

impl Default for NightlyConfig {
    fn default() -> Self {
        Self {
            origin_country: "US".into(),
            stall: StallPolicy::default(),
            concurrency: 16,
            page_size: 100,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunReport {
    pub scheduled_time: Option<DateTime<Utc>>,
    pub completed: usize,
    pub first_scan_late: usize,
    pub stalled: usize,
    pub expired: usize,
    /// Candidates read that needed nothing (e.g. silent, but not yet for 5 business days).
    pub unchanged: usize,
    pub failed: usize,
    /// The run stopped early and handed the rest to a continuation.
    pub continued: bool,
}

enum Applied {
    Changed,
    Unchanged,
}

pub struct Nightly<C> {
    store: OrderStore,
    config: NightlyConfig,
    continuation: C,
}

/// Re-reads after losing a race with a scan or label write on the same order.
const MAX_ATTEMPTS: usize = 6;

impl<C: Continuation> Nightly<C> {
    pub fn new(store: OrderStore, config: NightlyConfig, continuation: C) -> Self {
        Self {
            store,
            config,
            continuation,
        }
    }

    pub async fn run(&self, input: &RunInput, budget: &Budget) -> anyhow::Result<RunReport> {
        let span = tracing::info_span!("nightly", scheduled_time = %input.scheduled_time, continuation = input.continuation);
        self.run_sweeps(input, budget).instrument(span).await
    }

    async fn run_sweeps(&self, input: &RunInput, budget: &Budget) -> anyhow::Result<RunReport> {
        let now = input.scheduled_time;
        let mut report = RunReport {
            scheduled_time: Some(now),
            ..RunReport::default()
        };
        for sweep in Sweep::ALL {
            let up_to = match sweep {
                // Only shipments silent for at least the shortest possible stall can be
                // stalled; the business-day rule then decides each one exactly.
                Sweep::StallWatch => {
                    now - chrono::Duration::days(i64::from(self.config.stall.min_calendar_days()))
                }
                _ => now,
            };
            let mut cursor: Option<SweepCursor> = None;
            loop {
                if !budget.allows_another_page() {
                    self.continuation
                        .schedule(&RunInput {
                            scheduled_time: now,
                            continuation: input.continuation + 1,
                        })
                        .await?;
                    report.continued = true;
                    tracing::info!(?report, "out of time: continuation scheduled");
                    return Ok(report);
                }
                let page = self
                    .store
                    .sweep_page(sweep, up_to, self.config.page_size, cursor.take())
                    .await?;
                let results: Vec<_> = futures::stream::iter(page.order_ids)
                    .map(|order_id| async move {
                        let result = self.apply(sweep, &order_id, now).await;
                        (order_id, result)
                    })
                    .buffer_unordered(self.config.concurrency)
                    .collect()
                    .await;
                for (order_id, result) in results {
                    match result {
                        Ok(Applied::Changed) => match sweep {
                            Sweep::Completion => report.completed += 1,
                            Sweep::AwaitingFirstScan => report.first_scan_late += 1,
                            Sweep::StallWatch => report.stalled += 1,
                            Sweep::Expiry => report.expired += 1,
                        },
                        Ok(Applied::Unchanged) => report.unchanged += 1,
                        Err(error) => {
                            report.failed += 1;
                            tracing::error!(%order_id, sweep = sweep.name(), error = ?error, "order failed; the next run retries it");
                        }
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        tracing::info!(?report, "nightly run finished");
        Ok(report)
    }

    fn decide(
        &self,
        sweep: Sweep,
        order: &Order,
        timeline: &Timeline,
        now: DateTime<Utc>,
    ) -> Option<(Order, TimelineEvent)> {
        match sweep {
            Sweep::Completion => nightly::complete(order, now),
            Sweep::AwaitingFirstScan => nightly::first_scan_overdue(order, timeline, now),
            Sweep::StallWatch => nightly::stall(
                order,
                timeline,
                &self.config.stall,
                &self.config.origin_country,
                now,
            ),
            Sweep::Expiry => nightly::expire(order, now),
        }
    }

    /// Reads the order with its timeline, decides, then writes the timeline row and the
    /// order at the version read. The row goes first: if the order write is lost, the
    /// order stays in the sweep's index and the next run redoes both, the row then being
    /// a refused duplicate.
    async fn apply(
        &self,
        sweep: Sweep,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Applied> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let current = self
                .store
                .order_with_timeline(order_id)
                .await?
                .with_context(|| format!("sweep index names missing order {order_id}"))?;
            let Some((updated, event)) = self.decide(sweep, &current.order, &current.timeline, now)
            else {
                return Ok(Applied::Unchanged);
            };
            self.store.put_event(order_id, event).await?;
            match self
                .store
                .put_order_at_version(&updated, current.version)
                .await
            {
                Ok(()) => return Ok(Applied::Changed),
                Err(StoreError::Contention) => continue,
                Err(StoreError::Unexpected(e)) => return Err(e),
            }
        }
        anyhow::bail!("order {order_id} kept changing during the run")
    }
}
