//! `nightly-completion`: the 06:00 America/Chicago run.
//!
//! It completes the orders whose completion time has come, flags first scans that
//! never came, stalled shipments and expired tracking. "Now" is the scheduled time
//! from the input, so any night can be replayed; every step is idempotent, so a
//! replay, a retry or an overlapping continuation leaves exactly what one run leaves.
//! Each sweep reads a sparse index holding only the orders it may still act on, so
//! a run costs what is due, never what exists.
//!
//! Three rules keep a night exact under races and retries:
//! - a decision (complete, first scan late, stalled, expired) is written as one
//!   transaction of the timeline event and the order, conditioned on the order version
//!   the decision was made from: a scan landing in between cancels both, and the order is
//!   read and decided again, so no false event (and no false email) is ever left;
//! - a run out of time hands its continuation a cursor (the sweep and the page it was
//!   about to read), so the continuation never re-reads what was already looked at;
//! - each invocation input hands off at most once (a conditional hand-off record in the
//!   table, see `tracking_aws::store::nightly`), so retries never multiply continuations.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracking_aws::config::{number, required, Env};
use tracking_aws::ports::{HandOffs, Orders, SweepLists, Timelines};
use tracking_aws::store::nightly::HandOffKey;
use tracking_aws::store::optimistic::{until_won, Try};
use tracking_aws::store::{EventWrite, OrderWithTimeline, StoreError, SweepCursor};
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::nightly::{StallPolicy, Sweep};
use tracking_domain::order::Order;
use tracking_domain::timeline::{short_hash, TimelineEvent};

/// What the scheduler sends: `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`.
/// A continuation carries the same time, so it finishes the same night, and where the
/// run before it stopped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunInput {
    pub scheduled_time: DateTime<Utc>,
    #[serde(default)]
    pub continuation: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

impl RunInput {
    /// A night from its top, as the scheduler starts it.
    pub fn night(scheduled_time: DateTime<Utc>) -> Self {
        Self {
            scheduled_time,
            continuation: 0,
            resume: None,
        }
    }

    /// Where this input starts: the index of its first sweep in [`Sweep::ALL`], and the
    /// page of that sweep to read first (`None`: its first page).
    fn start(&self) -> anyhow::Result<(usize, Option<SweepCursor>)> {
        let Some(resume) = &self.resume else {
            return Ok((0, None));
        };
        let sweep = Sweep::from_name(&resume.sweep)
            .with_context(|| format!("continuation names no sweep {:?}", resume.sweep))?;
        let index = Sweep::ALL
            .iter()
            .position(|s| *s == sweep)
            .context("sweep missing from Sweep::ALL")?;
        let cursor = resume
            .page
            .clone()
            .map(|page| SweepCursor::from_strings(sweep, page))
            .transpose()?;
        Ok((index, cursor))
    }

    /// Names where this input starts, for its hand-off record: retries and redeliveries
    /// of the same input share it, and so share one hand-off.
    fn start_id(&self) -> String {
        match &self.resume {
            None => "top".to_owned(),
            Some(resume) => short_hash(&serde_json::to_string(resume).unwrap_or_default()),
        }
    }
}

/// A continuation's starting point: the sweep (by name) and the page it was about to read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resume {
    pub sweep: String,
    /// The sweep index key to start after, as DynamoDB returned it; absent: the sweep's
    /// first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<BTreeMap<String, String>>,
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
        Trigger::ScheduledEvent { time } => Ok(vec![RunInput::night(time)]),
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
    /// The continuation had been sent already (by an earlier attempt at this same input),
    /// so this run sent none.
    pub continuation_already_sent: bool,
}

enum Applied {
    Changed,
    Unchanged,
}

/// One order's decision, with the version of the order it was made from.
#[derive(Debug, Clone)]
pub struct Decision {
    pub sweep: Sweep,
    pub read_version: u64,
    pub updated: Order,
    pub event: TimelineEvent,
}

/// What writing a decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// The order change and its event, in one write.
    Written,
    /// The event was already on the timeline: the order change alone was written.
    OrderOnly,
    /// The order moved since the decision (a scan, a label): nothing was written.
    Outdated,
}

/// Wall-clock time, for hand-off leases (the run's own "now" is its scheduled time).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The run, over any store that keeps orders, timelines, the sweep lists and hand-off
/// records: DynamoDB when deployed, [`tracking_aws::memory::MemoryStore`] in the handler
/// tests.
pub struct Nightly<C, S = OrderStore> {
    store: S,
    config: NightlyConfig,
    continuation: C,
    clock: Clock,
}

/// A hand-off lease outlives the sending of one SQS message many times over; a sender
/// that died holding it is replaced by the next retry after this long.
const HAND_OFF_LEASE_SECONDS: i64 = 300;

/// How long a hand-off record stands for "already sent". Every retry of one input comes
/// well inside it: Lambda's two async retries within minutes of a failed run, SQS's
/// redeliveries of a continuation within 5 receives x 90 min visibility = 7.5 h. Past
/// it, the same input is a deliberate replay of the night, and hands off again.
const HAND_OFF_REPLAY_HOURS: i64 = 12;

impl NightlyConfig {
    /// `STALL_BUSINESS_DAYS_DOMESTIC` / `_INTERNATIONAL` (5 and 10 by default),
    /// `NIGHTLY_CONCURRENCY` (16) and `NIGHTLY_PAGE_SIZE` (100 orders per sweep query),
    /// beside the shared configuration already read.
    pub fn from_lookup(env: Env, config: &Config) -> anyhow::Result<Self> {
        let defaults = Self::default();
        let page_size = number(env, "NIGHTLY_PAGE_SIZE", defaults.page_size)?;
        // DynamoDB refuses a Query limit below 1; 1,000 keeps one page well inside a
        // run's time budget.
        if !(1..=1000).contains(&page_size) {
            anyhow::bail!("NIGHTLY_PAGE_SIZE must be between 1 and 1000, got {page_size}");
        }
        Ok(Self {
            origin_country: config.origin_country.clone(),
            stall: StallPolicy {
                domestic_business_days: number(
                    env,
                    "STALL_BUSINESS_DAYS_DOMESTIC",
                    defaults.stall.domestic_business_days,
                )?,
                international_business_days: number(
                    env,
                    "STALL_BUSINESS_DAYS_INTERNATIONAL",
                    defaults.stall.international_business_days,
                )?,
            },
            concurrency: number(env, "NIGHTLY_CONCURRENCY", defaults.concurrency)?,
            page_size,
        })
    }
}

impl Nightly<SqsContinuation> {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`
    /// and the local runner both build it here, so the two cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            NightlyConfig::from_lookup(env, &config)?,
            SqsContinuation::new(
                aws_sdk_sqs::Client::new(sdk),
                required(env, "NIGHTLY_CONTINUATION_QUEUE_URL")?,
            ),
        ))
    }
}

impl<C: Continuation, S: Orders + Timelines + SweepLists + HandOffs> Nightly<C, S> {
    pub fn new(store: S, config: NightlyConfig, continuation: C) -> Self {
        Self {
            store,
            config,
            continuation,
            clock: Arc::new(tracking_aws::now),
        }
    }

    /// The same run over another store (tests count the requests it makes).
    pub fn with_store<T: Orders + Timelines + SweepLists + HandOffs>(
        self,
        store: T,
    ) -> Nightly<C, T> {
        Nightly {
            store,
            config: self.config,
            continuation: self.continuation,
            clock: self.clock,
        }
    }

    /// The same run with another wall clock (tests move it past the replay horizon).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
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
        let (first, mut resume_at) = input.start()?;
        for sweep in Sweep::ALL.into_iter().skip(first) {
            let up_to = sweep.reads_up_to(now, &self.config.stall);
            let mut cursor: Option<SweepCursor> = resume_at.take();
            loop {
                if !budget.allows_another_page() {
                    let next = RunInput {
                        scheduled_time: now,
                        continuation: input.continuation + 1,
                        resume: Some(Resume {
                            sweep: sweep.name().to_owned(),
                            page: cursor.as_ref().map(SweepCursor::to_strings),
                        }),
                    };
                    report.continued = true;
                    report.continuation_already_sent = !self.hand_off(input, &next).await?;
                    tracing::info!(?report, ?next.resume, "out of time: the rest of the night is handed on");
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

    /// Sends `next` on, unless an earlier attempt at `from` (the same input) already did.
    /// Returns whether this call sent it.
    async fn hand_off(&self, from: &RunInput, next: &RunInput) -> anyhow::Result<bool> {
        let key = HandOffKey {
            scheduled_time: from.scheduled_time,
            from: from.start_id(),
        };
        let body = serde_json::to_string(next)?;
        let token = hand_off_token();
        let leased_at = (self.clock)();
        let leased = self
            .store
            .lease_hand_off(
                &key,
                &token,
                leased_at,
                chrono::Duration::seconds(HAND_OFF_LEASE_SECONDS),
                chrono::Duration::hours(HAND_OFF_REPLAY_HOURS),
                &body,
            )
            .await?;
        if !leased {
            tracing::info!(from = %key.from, "this input's continuation was sent by an earlier attempt: not sending another");
            return Ok(false);
        }
        if let Err(error) = self.continuation.schedule(next).await {
            // Give the lease back so the retry of this invocation sends it at once.
            if let Err(release) = self
                .store
                .release_hand_off(&key, &token, (self.clock)(), &body)
                .await
            {
                tracing::error!(error = ?release, "could not release the hand-off lease; the retry waits out its lease");
            }
            return Err(error);
        }
        match self
            .store
            .hand_off_sent(&key, &token, (self.clock)(), &body)
            .await
        {
            Ok(true) => {}
            // Sent, but the record still says "sending": once its lease is out a retry may
            // send this continuation again, a harmless duplicate (same start, same
            // hand-off record for what follows it).
            Ok(false) => tracing::warn!("hand-off lease was taken over before it was marked sent"),
            Err(error) => tracing::error!(error = ?error, "continuation sent but not marked sent"),
        }
        Ok(true)
    }

    /// Reads the order with its timeline and decides what `sweep` does to it, if anything.
    pub async fn decide_for(
        &self,
        sweep: Sweep,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Decision>> {
        let current = self.read(order_id).await?;
        Ok(self.decide_on(sweep, &current, now))
    }

    async fn read(&self, order_id: &str) -> anyhow::Result<OrderWithTimeline> {
        self.store
            .order_with_timeline(order_id)
            .await?
            .with_context(|| format!("sweep index names missing order {order_id}"))
    }

    fn decide_on(
        &self,
        sweep: Sweep,
        current: &OrderWithTimeline,
        now: DateTime<Utc>,
    ) -> Option<Decision> {
        sweep
            .decide(
                &current.order,
                &current.timeline,
                &self.config.stall,
                &self.config.origin_country,
                now,
            )
            .map(|(updated, event)| Decision {
                sweep,
                read_version: current.version,
                updated,
                event,
            })
    }

    /// Writes a decision: its event and its order change as one transaction, conditioned
    /// on the version the decision was made from. A decision the order has moved past
    /// writes nothing ([`Committed::Outdated`]); the caller decides again from a fresh read.
    pub async fn commit(&self, decision: &Decision) -> anyhow::Result<Committed> {
        let written = self
            .store
            .put_order_with_event(
                &decision.updated,
                decision.read_version,
                decision.event.clone(),
            )
            .await;
        match written {
            Ok(EventWrite::Written) => Ok(Committed::Written),
            // The row is there from an earlier writer (a silence flagged, cleared by a late
            // scan of an older instant, now flagged again): the order change still has to
            // land, and the row must not be announced twice.
            Ok(EventWrite::EventExists) => match self
                .store
                .put_order_at_version(&decision.updated, decision.read_version)
                .await
            {
                Ok(()) => Ok(Committed::OrderOnly),
                Err(StoreError::Contention) => Ok(Committed::Outdated),
                Err(StoreError::Unexpected(e)) => Err(e),
            },
            Err(StoreError::Contention) => Ok(Committed::Outdated),
            Err(StoreError::Unexpected(e)) => Err(e),
        }
    }

    /// Decides and commits, deciding again after losing a race. A sweep acts on one
    /// package per decision; after a write it decides again on what it just wrote (no
    /// read), so every due package of the order is done in this run.
    async fn apply(
        &self,
        sweep: Sweep,
        order_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Applied> {
        let changed = std::sync::atomic::AtomicBool::new(false);
        let changed = &changed;
        until_won(|| async move {
            let mut current = self.read(order_id).await?;
            // Each decision settles one package (or the order) for good, so there are at
            // most that many; the bound keeps a rule that failed to settle from spinning.
            for _ in 0..=current.order.shipments.len() {
                let Some(decision) = self.decide_on(sweep, &current, now) else {
                    break;
                };
                match self.commit(&decision).await? {
                    Committed::Written | Committed::OrderOnly => {
                        changed.store(true, Ordering::Relaxed);
                        current.timeline.insert(decision.event);
                        current.order = decision.updated;
                        current.version = decision.read_version + 1;
                    }
                    Committed::Outdated => return Ok(Try::LostRace),
                }
            }
            Ok(Try::Done(if changed.load(Ordering::Relaxed) {
                Applied::Changed
            } else {
                Applied::Unchanged
            }))
        })
        .await
        .map_err(
            |error: anyhow::Error| match error.downcast_ref::<StoreError>() {
                Some(StoreError::Contention) => {
                    anyhow::anyhow!("order {order_id} kept changing during the run")
                }
                _ => error,
            },
        )
    }
}

/// Tells one hand-off lease from another (a retry's from the original's).
fn hand_off_token() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    short_hash(&format!(
        "{nanos}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(vars: &[(&str, &str)]) -> anyhow::Result<NightlyConfig> {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let base = Config::from_lookup(env)?;
        NightlyConfig::from_lookup(&env, &base)
    }

    #[test]
    fn stall_days_and_concurrency_come_from_the_environment_or_their_defaults() {
        let table = ("TRACKING_TABLE", "t");
        let defaults = config_from(&[table]).unwrap();
        assert_eq!(defaults.stall, StallPolicy::default());
        assert_eq!(defaults.concurrency, 16);
        let set = config_from(&[
            table,
            ("ORIGIN_COUNTRY", "ca"),
            ("STALL_BUSINESS_DAYS_DOMESTIC", "3"),
            ("STALL_BUSINESS_DAYS_INTERNATIONAL", "7"),
            ("NIGHTLY_CONCURRENCY", "4"),
            ("NIGHTLY_PAGE_SIZE", "25"),
        ])
        .unwrap();
        assert_eq!(set.page_size, 25);
        assert_eq!(defaults.page_size, 100);
        assert_eq!(set.origin_country, "CA");
        assert_eq!(
            (
                set.stall.domestic_business_days,
                set.stall.international_business_days
            ),
            (3, 7)
        );
        assert_eq!(set.concurrency, 4);
        for (name, value) in [("NIGHTLY_PAGE_SIZE", "0"), ("NIGHTLY_PAGE_SIZE", "1001")] {
            let error = config_from(&[table, (name, value)]).unwrap_err();
            assert!(error.to_string().contains(name), "{value}: {error}");
        }
        assert!(config_from(&[table, ("NIGHTLY_PAGE_SIZE", "1000")]).is_ok());
        let error = config_from(&[table, ("STALL_BUSINESS_DAYS_DOMESTIC", "five")]).unwrap_err();
        assert!(
            error.to_string().contains("STALL_BUSINESS_DAYS_DOMESTIC"),
            "{error}"
        );
    }
}
