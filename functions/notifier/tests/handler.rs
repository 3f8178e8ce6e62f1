//! The notifier's delivery branches against the in-memory store, a mailer and a queue
//! kept in memory: no local stack needed. The integration tests send the same emails
//! through SES and SQS on the local stack.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, Duration, TimeZone, Utc};
use notifier::config::NotifierConfig;
use notifier::{Delivery, DeliveryJob, DeliveryQueue, Mailer, Notifier, OutgoingEmail, SendError};
use tracking_aws::memory::MemoryStore;
use tracking_aws::secrets::FixedSecrets;
use tracking_domain::email::EmailAddress;

/// What the mailer does with each email it is handed, in turn; `Accept` once the script
/// runs out.
#[derive(Clone, Copy)]
enum Answer {
    Accept,
    Throttle,
    Reject,
}

#[derive(Clone, Default)]
struct ScriptedMailer {
    script: Arc<Mutex<Vec<Answer>>>,
    sent: Arc<AtomicUsize>,
}

impl ScriptedMailer {
    fn answering(answers: &[Answer]) -> Self {
        let mailer = Self::default();
        *mailer.script.lock().unwrap() = answers.iter().rev().copied().collect();
        mailer
    }
}

impl Mailer for ScriptedMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<String, SendError> {
        let answer = self.script.lock().unwrap().pop().unwrap_or(Answer::Accept);
        match answer {
            Answer::Accept => {
                let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(format!("ses-{n}"))
            }
            Answer::Throttle => Err(SendError::Retryable(anyhow::anyhow!("throttled"))),
            Answer::Reject => Err(SendError::Rejected(anyhow::anyhow!("address rejected"))),
        }
    }
}

/// Jobs are delivered directly in these tests; nothing may reach the queue.
struct UnusedQueue;

impl DeliveryQueue for UnusedQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob]) -> anyhow::Result<()> {
        panic!("no job was to be queued: {jobs:?}")
    }

    async fn dead_letter(&self, body: &str, _reason: &str) -> anyhow::Result<()> {
        panic!("nothing was to be dead-lettered: {body}")
    }

    async fn retry_later(&self, _message: &SqsMessage) -> anyhow::Result<()> {
        panic!("nothing was to be retried")
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 16, 0, 0).unwrap()
}

fn config() -> NotifierConfig {
    NotifierConfig::from_lookup(
        |name| {
            match name {
                "NOTIFY_SENDER" => Some("tracking@notify.example.com"),
                "PUBLIC_BASE_URL" => Some("https://api.example.com"),
                "UNSUBSCRIBE_KEY_SECRET_ARN" => Some("arn:unsubscribe"),
                _ => None,
            }
            .map(str::to_owned)
        },
        FixedSecrets::new([(
            "arn:unsubscribe",
            "a-unit-test-secret-of-32-characters!",
            None,
        )]),
    )
    .unwrap()
}

fn job(recipient: &str) -> DeliveryJob {
    DeliveryJob {
        version: 1,
        order_id: "ord_1".into(),
        event_id: "ev_delivered".into(),
        recipient: recipient.into(),
        email: OutgoingEmail {
            to: EmailAddress::parse(recipient).unwrap(),
            subject: "Order 1001 was delivered".into(),
            text: "Delivered.".into(),
            html: "<p>Delivered.</p>".into(),
            unsubscribe_url: "https://api.example.com/unsubscribe?token=t".into(),
        },
    }
}

fn notifier(
    store: &MemoryStore,
    mailer: &ScriptedMailer,
) -> Notifier<ScriptedMailer, UnusedQueue, MemoryStore> {
    Notifier::new(store.clone(), mailer.clone(), UnusedQueue, config())
}

#[tokio::test]
async fn an_email_is_sent_once_however_often_its_job_comes() {
    let store = MemoryStore::new();
    let mailer = ScriptedMailer::default();
    let notifier = notifier(&store, &mailer);
    let job = job("ops@example.com");
    assert_eq!(notifier.deliver(&job, now()).await.unwrap(), Delivery::Sent);
    for later in [Duration::zero(), Duration::hours(1), Duration::days(2)] {
        assert_eq!(
            notifier.deliver(&job, now() + later).await.unwrap(),
            Delivery::AlreadySent
        );
    }
    assert_eq!(mailer.sent.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_throttled_send_is_retried_at_once_and_a_rejected_one_never_again() {
    let store = MemoryStore::new();
    let mailer = ScriptedMailer::answering(&[Answer::Throttle, Answer::Reject]);
    let notifier = notifier(&store, &mailer);
    let throttled = job("ops@example.com");
    assert!(notifier.deliver(&throttled, now()).await.is_err());
    // The lease was given back: the retry need not wait it out.
    let rejected = job("bounce@example.com");
    assert_eq!(
        notifier.deliver(&rejected, now()).await.unwrap(),
        Delivery::Refused
    );
    assert_eq!(
        notifier.deliver(&throttled, now()).await.unwrap(),
        Delivery::Sent
    );
    assert_eq!(
        notifier
            .deliver(&rejected, now() + Duration::hours(1))
            .await
            .unwrap(),
        Delivery::Refused
    );
    assert_eq!(mailer.sent.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_store_that_fails_sends_nothing_and_reports_the_failure() {
    let store = MemoryStore::new();
    store.fail_order("ord_1");
    let mailer = ScriptedMailer::default();
    assert!(notifier(&store, &mailer)
        .deliver(&job("ops@example.com"), now())
        .await
        .is_err());
    assert_eq!(mailer.sent.load(Ordering::SeqCst), 0);
}
