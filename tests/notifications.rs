//! Notification tests (notifier, subscriptions): subscriptions through the orders API,
//! then orders moved through the real handlers (label, carrier scans, nightly run,
//! claims), the table's stream read back from the local stack and handed to the notifier,
//! and the emails read back from the local stack's SES.
//!
//! moto keeps only the HTML body of a Simple SES message, so the text part is read from
//! the SendEmail request as it went on the wire (an interceptor on the SES client).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use aws_sdk_sesv2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sesv2::config::{ConfigBag, Intercept, RuntimeComponents};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lambda_http::{Body, Response};
use local_stack::streams::{event_of, StreamReader};
use local_stack::{read_response, unique_merchant, ApiEvent, TestQueue, TestSecret, TestStack};
use nightly_completion::{Budget, RunInput};
use notifier::config::{NotifierConfig, Sender};
use notifier::ses::SesMailer;

use notifier::{
    DeliveryJob, Mailer, Notifier, OutgoingEmail, RecordOutcome, SendError, SqsDeliveryQueue,
    DELIVERY_LEASE_SECONDS, JOB_VERSION,
};
use orders_api::OrdersApi;
use serde_json::{json, Value};
use tracking_aws::secrets::{unsubscribe_keys, UnsubscribeKeys};
use tracking_domain::calendar::chicago_time_at;
use tracking_domain::feed::Scan;
use tracking_domain::order::{Order, OrderDraft};
use tracking_domain::status::ShipmentStatus;
use tracking_domain::timeline::{EventType, Location, TimelineEvent};
use tracking_domain::unsubscribe::UnsubscribeKey;

use crate::*;

const SUBSCRIBE_ORDER: &str = include_str!("../events/orders-api/subscribe-order.json");
const LIST_ORDER_SUBSCRIPTIONS: &str =
    include_str!("../events/orders-api/list-order-subscriptions.json");
const UNSUBSCRIBE_ORDER: &str = include_str!("../events/orders-api/unsubscribe-order.json");
const SUBSCRIBE_MERCHANT: &str = include_str!("../events/orders-api/subscribe-merchant.json");
const LIST_MERCHANT_SUBSCRIPTIONS: &str =
    include_str!("../events/orders-api/list-merchant-subscriptions.json");
const UNSUBSCRIBE_MERCHANT: &str = include_str!("../events/orders-api/unsubscribe-merchant.json");
const UNSUBSCRIBE_LINK: &str = include_str!("../events/orders-api/unsubscribe-link.json");
const EMAIL_JOB: &str = include_str!("../events/notifier/email-job.json");
const UNSUBSCRIBE_ONE_CLICK: &str = include_str!("../events/orders-api/unsubscribe-one-click.json");
const FILE_CLAIM: &str = include_str!("../events/claims-intake/file-claim.json");
const CARRIER_FEED: &str = include_str!("../events/scan-ingest/carrier-feed-batch.json");
const GET_ORDER: &str = include_str!("../events/orders-api/get-order.json");
const STREAM_INSERT: &str = include_str!("../events/notifier/stream-insert.json");

const SENDER: &str = "Tracking <tracking@notify.example.com>";
const PUBLIC_BASE_URL: &str = "http://127.0.0.1:3000";
const SECRET: &str = "local-dev-unsubscribe-secret-not-for-production";
const UPS: &str = "1Z999AA10123456784";
const USPS: &str = "9400111899223197428497";

fn ct(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chicago_time_at(NaiveDate::from_ymd_opt(y, m, d).unwrap(), h, min)
}

/// Wednesday 2026-11-25 09:00 CST, before the sample feed's first scan.
fn label_time() -> DateTime<Utc> {
    ct(2026, 11, 25, 9, 0)
}

/// After the sample feed's delivery scan.
fn after_delivery() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

/// SendEmail request bodies as they went on the wire.
#[derive(Debug, Clone, Default)]
struct SentRequests(Arc<Mutex<Vec<Value>>>);

impl Intercept for SentRequests {
    fn name(&self) -> &'static str {
        "SentRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(body) = context.request().body().bytes() {
            // SendEmail bodies only; the client also verifies the sender identity.
            match serde_json::from_slice::<Value>(body) {
                Ok(json) if json.get("Destination").is_some() => self.0.lock().unwrap().push(json),
                _ => {}
            }
        }
        Ok(())
    }
}

/// One email as SES received it.
#[derive(Debug, Clone)]
struct Mail {
    source: String,
    to: Vec<String>,
    subject: String,
    /// The headers the SendEmail request asked SES to add.
    headers: Vec<(String, String)>,
    html: String,
    text: String,
}

/// Every message sent through the local stack's SES (all tests share it).
fn ses_messages() -> Vec<Value> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local stack's endpoint");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut connection = std::net::TcpStream::connect(host).expect("connect to moto");
    write!(
        connection,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    connection.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    let data: Value = serde_json::from_str(body).expect("moto's data.json");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn email_queue(queue: &TestQueue) -> SqsDeliveryQueue {
    SqsDeliveryQueue::new(queue.sqs.clone(), &queue.url, &queue.dead_letter_url)
}

fn fixed_keys() -> Arc<UnsubscribeKeys> {
    Arc::new(UnsubscribeKeys::fixed(UnsubscribeKey::new(SECRET).unwrap()))
}

fn notifier_config(unsubscribe_keys: Arc<UnsubscribeKeys>) -> NotifierConfig {
    NotifierConfig {
        sender: Sender::parse(SENDER).unwrap(),
        public_base_url: PUBLIC_BASE_URL.into(),
        unsubscribe_keys,
        origin_country: "US".into(),
    }
}

/// SES that is down for one recipient, as throttling or an outage would look.
struct DownFor {
    inner: SesMailer,
    recipient: String,
}

impl Mailer for DownFor {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        if email.to.as_str() == self.recipient {
            return Err(SendError::Retryable(anyhow::anyhow!("SES is throttling")));
        }
        self.inner.send(email).await
    }
}

fn unique_address(prefix: &str, domain: &str) -> String {
    format!("{}@{domain}", unique_merchant(prefix))
}

fn body_text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

/// One test's world: its own table and queues, the stream of that table, an orders API
/// that can verify unsubscribe links, and a notifier sending through the local SES.
struct Fixture {
    stack: TestStack,
    feed: TestQueue,
    stream: StreamReader,
    /// The notifier's email queue: the stream handler fills it, the sender drains it.
    emails: TestQueue,
    notifier: Notifier<SesMailer, SqsDeliveryQueue>,
    ses: aws_sdk_sesv2::Client,
    api: OrdersApi,
    sent: SentRequests,
    merchant: String,
}

impl Fixture {
    async fn new() -> Self {
        Self::with_keys(fixed_keys()).await
    }

    /// The notifier and the orders API sharing one unsubscribe key source, as in a stack.
    async fn with_keys(unsubscribe_keys: Arc<UnsubscribeKeys>) -> Self {
        let stack = TestStack::new().await;
        let feed = TestQueue::new("CarrierFeedQueue").await;
        let stream = StreamReader::for_table(&stack.client, &stack.table)
            .await
            .unwrap();
        let sdk = tracking_aws::sdk_config().await;
        let sent = SentRequests::default();
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&sdk)
                .interceptor(sent.clone())
                .build(),
        );
        // The local stack verifies senders it finds in the template; the notifier's
        // variables are not there yet, so the test verifies its own (moto: idempotent).
        ses.create_email_identity()
            .email_identity("tracking@notify.example.com")
            .send()
            .await
            .unwrap();
        let config = notifier_config(unsubscribe_keys.clone());
        let emails = TestQueue::new("EmailQueue").await;
        let notifier = Notifier::new(
            stack.store(),
            SesMailer::new(ses.clone(), &config.sender),
            email_queue(&emails),
            config,
        );
        let api = stack.orders_api().with_unsubscribe_keys(unsubscribe_keys);
        Self {
            stack,
            feed,
            stream,
            emails,
            notifier,
            ses,
            api,
            sent,
            merchant: unique_merchant("notify"),
        }
    }

    async fn call(&self, event: ApiEvent, now: DateTime<Utc>) -> (u16, Value) {
        read_response(self.api.handle(event.request(), now).await)
    }

    async fn order_with(&self, number: &str, customer: &str) -> String {
        let mut body = order_body(number);
        body["customer"]["email"] = customer.into();
        let event = ApiEvent::from_json(CREATE_ORDER)
            .merchant(&self.merchant)
            .body_json(&body);
        let (status, body) = self.call(event, label_time() - Duration::hours(2)).await;
        assert_eq!(status, 201, "{body}");
        body["order_id"].as_str().unwrap().to_owned()
    }

    async fn subscribe(&self, order_id: &str, email: &str) -> (u16, Value) {
        let event = ApiEvent::from_json(SUBSCRIBE_ORDER)
            .merchant(&self.merchant)
            .path_param("order_id", order_id)
            .body_json(&json!({ "email": email }));
        self.call(event, label_time()).await
    }

    async fn subscribe_merchant(&self, email: &str) -> (u16, Value) {
        let event = ApiEvent::from_json(SUBSCRIBE_MERCHANT)
            .merchant(&self.merchant)
            .body_json(&json!({ "email": email }));
        self.call(event, label_time()).await
    }

    async fn order_subscribers(&self, order_id: &str) -> Vec<String> {
        let event = ApiEvent::from_json(LIST_ORDER_SUBSCRIPTIONS)
            .merchant(&self.merchant)
            .path_param("order_id", order_id);
        let (status, body) = self.call(event, label_time()).await;
        assert_eq!(status, 200, "{body}");
        emails(&body)
    }

    async fn merchant_subscribers(&self, merchant: &str) -> Vec<String> {
        let event = ApiEvent::from_json(LIST_MERCHANT_SUBSCRIPTIONS).merchant(merchant);
        let (status, body) = self.call(event, label_time()).await;
        assert_eq!(status, 200, "{body}");
        emails(&body)
    }

    async fn label(&self, order_id: &str, carrier: &str, number: &str) {
        let (status, body) =
            upload_label(&self.stack, order_id, carrier, number, label_time()).await;
        assert_eq!(status, 201, "{body}");
    }

    async fn scan(&self, body: &str) {
        self.scan_arriving(body, after_delivery()).await;
    }

    async fn scan_arriving(&self, body: &str, now: DateTime<Utc>) {
        let scan = Scan::parse_body(body).unwrap();
        self.stack
            .scan_ingest(&self.feed)
            .ingest(&scan, now)
            .await
            .unwrap();
    }

    /// Hands everything written since the last delivery to the notifier, as one stream
    /// batch, and returns that batch so a test can deliver it again.
    async fn deliver(&mut self) -> aws_lambda_events::event::dynamodb::Event {
        let event = self.stream.next_event().await.unwrap();
        let response = self
            .notifier
            .handle_stream(event.clone(), after_delivery())
            .await
            .unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
        self.send_queued().await;
        event
    }

    /// Runs the email queue through the notifier's sender until it is empty, as Lambda's
    /// event source mapping would (failed jobs come straight back here; a test that wants
    /// their backoff drives the queue itself).
    async fn send_queued(&self) -> usize {
        let mut handled = 0;
        for _ in 0..20 {
            let batch = self
                .emails
                .deliver_once(10, |event| async {
                    self.notifier
                        .handle_jobs(event, after_delivery())
                        .await
                        .unwrap()
                })
                .await;
            if batch == 0 {
                return handled;
            }
            handled += batch;
        }
        panic!("the email queue never emptied")
    }

    /// Emails to `address`, oldest first, with their text part from the wire.
    fn mails_to(&self, address: &str) -> Vec<Mail> {
        let requests = self.sent.0.lock().unwrap().clone();
        ses_messages()
            .into_iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|a| a == address))
            })
            .map(|m| {
                let subject = m["subject"].as_str().unwrap().to_owned();
                let html = m["body"].as_str().unwrap().to_owned();
                let request = requests
                    .iter()
                    .find(|r| {
                        r["Destination"]["ToAddresses"] == json!([address])
                            && r["Content"]["Simple"]["Subject"]["Data"] == json!(subject)
                            && r["Content"]["Simple"]["Body"]["Html"]["Data"] == json!(html)
                    })
                    .unwrap_or_else(|| panic!("no SendEmail request for {subject:?} to {address}"));
                Mail {
                    source: m["source"].as_str().unwrap().to_owned(),
                    to: m["destinations"]["ToAddresses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                    subject,
                    headers: request["Content"]["Simple"]["Headers"]
                        .as_array()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|h| {
                                    (
                                        h["Name"].as_str().unwrap_or_default().to_owned(),
                                        h["Value"].as_str().unwrap_or_default().to_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    html,
                    text: request["Content"]["Simple"]["Body"]["Text"]["Data"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                }
            })
            .collect()
    }

    fn subjects_to(&self, address: &str) -> Vec<String> {
        self.mails_to(address)
            .into_iter()
            .map(|m| m.subject)
            .collect()
    }

    /// Opens the link (GET), as a person or a link scanner does.
    async fn follow(&self, url: &str, accept: &str) -> Response<Body> {
        self.unsubscribe_request(UNSUBSCRIBE_LINK, url, accept)
            .await
    }

    /// POSTs the link, as the confirmation button or a mail client's one-click does.
    async fn confirm(&self, url: &str, accept: &str) -> Response<Body> {
        self.unsubscribe_request(UNSUBSCRIBE_ONE_CLICK, url, accept)
            .await
    }

    async fn unsubscribe_request(&self, sample: &str, url: &str, accept: &str) -> Response<Body> {
        let token = url
            .split_once("token=")
            .map(|(_, token)| token)
            .expect("an unsubscribe link with a token");
        let mut event = ApiEvent::from_json(sample).query(&[("token", token)]);
        event.0["headers"]["accept"] = accept.into();
        self.api.handle(event.request(), after_delivery()).await
    }
}

fn emails(body: &Value) -> Vec<String> {
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap().to_owned())
        .collect()
}

/// The unsubscribe link in an email's text part.
fn unsubscribe_link(mail: &Mail) -> String {
    mail.text
        .lines()
        .find_map(|line| line.strip_prefix("Unsubscribe: "))
        .expect("an unsubscribe line")
        .trim()
        .to_owned()
}

fn feed_bodies() -> Vec<String> {
    let event: Value = serde_json::from_str(CARRIER_FEED).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

/// A carrier scan written straight to the store: the feed refuses control characters and
/// markup never reaches it, but another intake path (or a bug) might write them.
fn raw_scan(description: &str, city: &str, hour: u32) -> TimelineEvent {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, hour, 0, 0).unwrap();
    TimelineEvent {
        shipment_id: None,
        replaces: None,
        event_id: format!("raw-scan-{hour}"),
        kind: EventType::CarrierScan,
        status: Some(ShipmentStatus::InTransit),
        code: "IN_TRANSIT".into(),
        description: description.into(),
        occurred_at: at,
        utc_offset_minutes: -360,
        recorded_at: at,
        location: Some(Location {
            city: Some(city.into()),
            state: Some("TX".into()),
            postal_code: None,
            country: Some("US".into()),
        }),
        carrier: Some("ups".into()),
        tracking_number: Some(UPS.into()),
        exception_reason: None,
        handoff: None,
    }
}

#[tokio::test]
async fn subscribing_twice_or_with_another_spelling_is_one_subscription() {
    let f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    let (status, body) = f.subscribe(&order_id, "ops@merchant.example").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "ops@merchant.example");
    assert_eq!(body["scope"], "order");
    assert_eq!(body["order_id"], order_id.as_str());
    let (status, again) = f.subscribe(&order_id, "ops@merchant.example").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, body, "a retry returns the subscription as it is");
    let (status, other_spelling) = f
        .subscribe(&order_id, " OPS+tracking@Merchant.example ")
        .await;
    assert_eq!(status, 200, "{other_spelling}");
    assert_eq!(other_spelling["email"], "ops@merchant.example");
    assert_eq!(
        f.order_subscribers(&order_id).await,
        ["ops@merchant.example"]
    );
}

#[tokio::test]
async fn the_orders_customer_is_refused_whatever_its_case_or_tag() {
    let f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    for customer in [
        "ada@example.com",
        "Ada@EXAMPLE.com",
        "ada+alerts@example.com",
    ] {
        let (status, body) = f.subscribe(&order_id, customer).await;
        assert_eq!(status, 422, "{customer}: {body}");
        assert_eq!(body["error"]["code"], "customer_email", "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("customer address"));
    }
    assert!(f.order_subscribers(&order_id).await.is_empty());
}

#[tokio::test]
async fn invalid_addresses_are_refused_and_change_nothing() {
    let f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    for bad in [
        "not-an-email",
        "ops@localhost",
        "ops@merchant.example\r\nBcc: x@evil.example",
        "a@b.c, d@e.f",
    ] {
        let (status, body) = f.subscribe(&order_id, bad).await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_email", "{body}");
        assert_eq!(body["error"]["details"][0]["field"], "email");
    }
    let missing = ApiEvent::from_json(SUBSCRIBE_ORDER)
        .merchant(&f.merchant)
        .path_param("order_id", &order_id)
        .body_json(&json!({}));
    let (status, body) = f.call(missing, label_time()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("invalid_email"))
    );
    let (status, body) = f.subscribe_merchant("nobody").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("invalid_email"))
    );
    assert!(f.order_subscribers(&order_id).await.is_empty());
    assert!(f.merchant_subscribers(&f.merchant).await.is_empty());
}

#[tokio::test]
async fn another_merchants_order_is_not_found_like_a_missing_one() {
    let f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    let intruder = unique_merchant("intruder");
    let events = [
        ApiEvent::from_json(SUBSCRIBE_ORDER).body_json(&json!({"email": "spy@other.example"})),
        ApiEvent::from_json(LIST_ORDER_SUBSCRIPTIONS),
        ApiEvent::from_json(UNSUBSCRIBE_ORDER).query(&[("email", "spy@other.example")]),
    ];
    for event in events {
        for (merchant, order) in [
            (intruder.as_str(), order_id.as_str()),
            (f.merchant.as_str(), "ord_missing"),
        ] {
            let (status, body) = f
                .call(
                    event
                        .clone()
                        .merchant(merchant)
                        .path_param("order_id", order),
                    label_time(),
                )
                .await;
            assert_eq!(status, 404, "{body}");
            assert_eq!(body["error"]["code"], "order_not_found");
        }
    }
    let no_login = ApiEvent::from_json(LIST_ORDER_SUBSCRIPTIONS)
        .path_param("order_id", &order_id)
        .without_authorizer();
    assert_eq!(f.call(no_login, label_time()).await.0, 401);
    assert!(f.order_subscribers(&order_id).await.is_empty());
}

#[tokio::test]
async fn a_deleted_subscription_is_gone_and_deleting_again_is_not_found() {
    let f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    f.subscribe(&order_id, "ops@merchant.example").await;
    f.subscribe(&order_id, "lead@merchant.example").await;
    let delete = |email: &str| {
        ApiEvent::from_json(UNSUBSCRIBE_ORDER)
            .merchant(&f.merchant)
            .path_param("order_id", &order_id)
            .query(&[("email", email)])
    };
    let response = f
        .api
        .handle(delete("OPS+x@merchant.example").request(), label_time())
        .await;
    assert_eq!(
        response.status(),
        204,
        "any spelling of the mailbox removes it"
    );
    assert_eq!(
        f.order_subscribers(&order_id).await,
        ["lead@merchant.example"]
    );
    let (status, body) = f.call(delete("ops@merchant.example"), label_time()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("subscription_not_found"))
    );
    let no_email = ApiEvent::from_json(UNSUBSCRIBE_ORDER)
        .merchant(&f.merchant)
        .path_param("order_id", &order_id)
        .query(&[]);
    assert_eq!(f.call(no_email, label_time()).await.0, 400);
}

#[tokio::test]
async fn merchant_wide_subscriptions_are_the_callers_own() {
    let f = Fixture::new().await;
    let (status, body) = f.subscribe_merchant("Leads@Merchant.example").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["scope"], "merchant");
    assert!(body.get("order_id").is_none());
    assert_eq!(
        f.subscribe_merchant("leads+x@merchant.example").await.0,
        200
    );
    assert_eq!(
        f.merchant_subscribers(&f.merchant).await,
        ["Leads@Merchant.example"]
    );
    assert!(f
        .merchant_subscribers(&unique_merchant("other"))
        .await
        .is_empty());
    let delete = ApiEvent::from_json(UNSUBSCRIBE_MERCHANT)
        .merchant(&f.merchant)
        .query(&[("email", "leads@merchant.example")]);
    assert_eq!(
        f.api.handle(delete.request(), label_time()).await.status(),
        204
    );
    assert!(f.merchant_subscribers(&f.merchant).await.is_empty());
}

#[tokio::test]
async fn a_journey_mails_each_subscriber_once_per_notifiable_event_even_when_redelivered() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let everything = unique_address("leads", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    assert_eq!(f.subscribe_merchant(&everything).await.0, 201);
    let mut batches = vec![f.deliver().await];

    f.label(&order_id, "ups", UPS).await;
    batches.push(f.deliver().await);
    let nightly_queue = TestQueue::new("NightlyContinuationQueue").await;
    let report = f
        .stack
        .nightly(&nightly_queue, &[])
        .run(&RunInput::night(ct(2026, 11, 26, 6, 0)), &Budget::Unlimited)
        .await
        .unwrap();
    assert_eq!(report.completed, 1, "{report:?}");
    batches.push(f.deliver().await);
    // One scan at a time, the notifier keeping up as it does on AWS.
    for body in feed_bodies() {
        f.scan(&body).await;
        batches.push(f.deliver().await);
    }
    let claim = ApiEvent::from_json(FILE_CLAIM)
        .merchant(&f.merchant)
        .path_param("order_id", &order_id)
        .body_json(&json!({"type": "damaged", "description": "Box arrived crushed", "carrier_reference": "UPS-DMG-1"}));
    let (status, body) = read_response(
        f.stack
            .claims_intake()
            .handle(claim.request(), after_delivery())
            .await,
    );
    assert_eq!(status, 201, "{body}");
    batches.push(f.deliver().await);

    let expected = [
        "Order 1001 is packed and labeled",
        "Order 1001 is Completed",
        "Order 1001: Pick Up Scan from Dock",
        "Order 1001 was handed to USPS",
        "Order 1001: Out for Delivery",
        "Order 1001: Delivered",
        "Order 1001: damaged claim filed",
    ];
    assert_eq!(f.subjects_to(&team), expected);
    assert_eq!(f.subjects_to(&everything), expected);

    // The stream delivers every record again: nothing more is sent.
    let all_records: Vec<_> = batches.into_iter().flat_map(|b| b.records).collect();
    let again = f
        .notifier
        .handle_stream(event_of(all_records.clone()), after_delivery())
        .await
        .unwrap();
    assert!(again.batch_item_failures.is_empty());
    for record in &all_records {
        if let RecordOutcome::Enqueued(jobs) = f
            .notifier
            .handle_record(record, after_delivery())
            .await
            .unwrap()
        {
            assert_eq!(jobs, 2, "one job per subscriber");
        }
    }
    assert_eq!(f.send_queued().await, 2 * 2 * expected.len());
    assert_eq!(f.subjects_to(&team), expected);
    assert_eq!(f.subjects_to(&everything), expected);

    let mails = f.mails_to(&team);
    for mail in &mails {
        assert_eq!(mail.source, SENDER);
        assert_eq!(mail.to, [team.as_str()]);
        // RFC 8058 one-click: mail clients offer "Unsubscribe" and POST to the same link.
        assert_eq!(
            mail.headers,
            [
                (
                    "List-Unsubscribe".to_owned(),
                    format!("<{}>", unsubscribe_link(mail))
                ),
                (
                    "List-Unsubscribe-Post".to_owned(),
                    "List-Unsubscribe=One-Click".to_owned()
                ),
            ]
        );
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("1001"), "{part}");
            assert!(
                part.contains("https://www.ups.com/track?tracknum=1Z999AA10123456784"),
                "{part}"
            );
            assert!(
                part.contains(&format!("{PUBLIC_BASE_URL}/unsubscribe?token=")),
                "{part}"
            );
        }
    }
    let out_for_delivery = &mails[4];
    for part in [&out_for_delivery.text, &out_for_delivery.html] {
        assert!(part.contains("Out for Delivery"), "{part}");
        assert!(part.contains("Austin, TX 78701 US"), "{part}");
        assert!(
            part.contains("Sat Nov 28, 2026, 7:48 AM (UTC-06:00)"),
            "{part}"
        );
        assert!(
            part.contains(&format!(
                "https://tools.usps.com/go/TrackConfirmAction?tLabels={USPS}"
            )),
            "{part}"
        );
    }
    assert!(
        out_for_delivery
            .text
            .contains("Current status: Out for Delivery"),
        "{}",
        out_for_delivery.text
    );
    let handoff = &mails[3];
    assert!(
        handoff.text.contains(&format!("Final mile: USPS {USPS}")),
        "{}",
        handoff.text
    );
    assert!(handoff.text.contains("Austin, TX 78701 US"));
    let pickup = &mails[2];
    assert!(
        pickup
            .text
            .contains("Wed Nov 25, 2026, 5:42 PM (UTC-06:00)"),
        "{}",
        pickup.text
    );
    assert!(pickup.text.contains("Louisville, KY 40209 US"));
    let claim_mail = &mails[6];
    assert!(claim_mail.text.contains("Box arrived crushed"));
    assert!(claim_mail.text.contains("Carrier reference: UPS-DMG-1"));
    // The merchant-wide subscriber's link says what it stops.
    assert!(f.mails_to(&everything)[0]
        .text
        .contains("every order of your account"));
}

#[tokio::test]
async fn a_scan_arriving_after_a_later_one_is_not_mailed() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    let feed = feed_bodies();
    let (handoff, out_for_delivery, delivered) = (&feed[3], &feed[4], &feed[5]);
    f.scan_arriving(handoff, after_delivery() - Duration::hours(2))
        .await;
    f.scan_arriving(delivered, after_delivery() - Duration::hours(1))
        .await;
    f.deliver().await;
    // The morning's out-for-delivery scan reaches us after the afternoon's delivery.
    f.scan_arriving(out_for_delivery, after_delivery()).await;
    f.deliver().await;

    assert_eq!(
        f.subjects_to(&team),
        [
            "Order 1001 is packed and labeled",
            "Order 1001 was handed to USPS",
            "Order 1001: Delivered",
        ]
    );
    // The timeline still shows the scan where it occurred.
    let (status, details) = f
        .call(
            ApiEvent::from_json(GET_ORDER)
                .merchant(&f.merchant)
                .path_param("order_id", &order_id),
            after_delivery(),
        )
        .await;
    assert_eq!(status, 200, "{details}");
    let codes: Vec<&str> = details["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    let position = |code: &str| codes.iter().position(|c| *c == code);
    assert!(
        position("OUT_FOR_DELIVERY") < position("DELIVERED")
            && position("HANDOFF") < position("OUT_FOR_DELIVERY"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn a_merchant_wide_subscriber_gets_every_order_but_never_as_its_customer() {
    let mut f = Fixture::new().await;
    let ops = unique_address("ops", "merchant.example");
    let ada = unique_merchant("ada");
    let ada_customer = format!("{ada}@example.com");
    let first = f.order_with("2001", &ada_customer).await;
    let second = f
        .order_with("2002", &unique_address("bob", "example.com"))
        .await;
    assert_eq!(f.subscribe_merchant(&ops).await.0, 201);
    // Ada also works for the merchant and follows all orders, under a tagged address.
    let ada_tagged = format!("{}+alerts@Example.com", ada.to_uppercase());
    assert_eq!(f.subscribe_merchant(&ada_tagged).await.0, 201);
    f.label(&first, "ups", UPS).await;
    f.label(&second, "fedex", "123456789012").await;
    f.deliver().await;
    assert_eq!(
        f.subjects_to(&ops),
        [
            "Order 2001 is packed and labeled",
            "Order 2002 is packed and labeled"
        ]
    );
    assert_eq!(
        f.subjects_to(&ada_tagged),
        ["Order 2002 is packed and labeled"],
        "never emailed about the order she is the customer of"
    );
    assert!(f.mails_to(&ada_customer).is_empty());
}

#[tokio::test]
async fn no_field_can_inject_a_header() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    // The API refuses control characters in order numbers; another intake path might not.
    let draft: OrderDraft = serde_json::from_value(order_body("1001")).unwrap();
    let mut details = draft.parse().unwrap();
    details.order_number = "1001\r\nBcc: evil@example.com".into();
    let order = Order::new(&f.merchant, details, label_time() - Duration::hours(1));
    let order_id = order.order_id.clone();
    f.stack.store().create_order(order).await.unwrap();
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.stack
        .store()
        .put_event(
            &order_id,
            raw_scan(
                "Arrived\r\nBcc: evil@example.com\r\nSubject: pwned",
                "Austin\r\nCc: evil@example.com",
                14,
            ),
        )
        .await
        .unwrap();
    f.deliver().await;

    let mails = f.mails_to(&team);
    assert_eq!(mails.len(), 2, "{mails:?}");
    for mail in &mails {
        assert!(!mail.subject.contains(['\r', '\n']), "{:?}", mail.subject);
        assert!(
            mail.subject.starts_with("Order 1001 Bcc: evil@example.com"),
            "{:?}",
            mail.subject
        );
        assert_eq!(mail.to, [team.as_str()]);
    }
    let requests = f.sent.0.lock().unwrap().clone();
    for request in &requests {
        let destination = request["Destination"].as_object().unwrap();
        assert_eq!(destination.keys().collect::<Vec<_>>(), ["ToAddresses"]);
        assert_eq!(request["Destination"]["ToAddresses"], json!([team.clone()]));
        assert_eq!(request["FromEmailAddress"], SENDER);
    }
    let to_evil = ses_messages()
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains("evil@example.com"))
        .count();
    assert_eq!(to_evil, 0, "no message ever went to the injected address");
}

#[tokio::test]
async fn the_html_part_escapes_markup_from_any_field() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.stack
        .store()
        .put_event(
            &order_id,
            raw_scan("<script>alert(\"pwned\")</script>", "<b>Austin</b>", 14),
        )
        .await
        .unwrap();
    f.deliver().await;
    let mails = f.mails_to(&team);
    let scan_mail = mails.last().unwrap();
    assert_eq!(scan_mail.subject, "Order 1001: Pick Up Scan from Dock");
    assert!(!scan_mail.html.contains("<script>"), "{}", scan_mail.html);
    assert!(!scan_mail.html.contains("<b>Austin"), "{}", scan_mail.html);
    assert!(
        scan_mail
            .html
            .contains("&#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62;"),
        "{}",
        scan_mail.html
    );
    assert!(scan_mail.text.contains("<script>alert(\"pwned\")</script>"));
}

#[tokio::test]
async fn the_unsubscribe_link_stops_the_mails_and_a_forged_one_changes_nothing() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let everything = unique_address("leads", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    assert_eq!(f.subscribe_merchant(&everything).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.deliver().await;
    let team_link = unsubscribe_link(&f.mails_to(&team)[0]);
    let everything_link = unsubscribe_link(&f.mails_to(&everything)[0]);

    // A signature that is not ours, and a token that is not one: refused, nothing removed.
    let (payload, signature) = team_link.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{payload}.{flipped}{}", &signature[1..]);
    let response = f.follow(&forged, "application/json").await;
    assert_eq!(response.status(), 403, "{}", body_text(&response));
    let response = f
        .follow(
            &format!("{PUBLIC_BASE_URL}/unsubscribe?token=garbage"),
            "application/json",
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(body_text(&response).contains("invalid_unsubscribe_link"));
    let response = f.follow(&forged, "text/html").await;
    assert_eq!(response.status(), 403);
    assert!(body_text(&response).contains("This link does not work"));
    assert_eq!(f.order_subscribers(&order_id).await, [team.as_str()]);
    assert_eq!(
        f.merchant_subscribers(&f.merchant).await,
        [everything.as_str()]
    );

    // Opening the link (a person, or a mail scanner checking every link) only asks.
    for accept in ["text/html,application/xhtml+xml", "application/json"] {
        let response = f.follow(&team_link, accept).await;
        assert_eq!(response.status(), 200);
    }
    let response = f
        .follow(&team_link, "text/html,application/xhtml+xml")
        .await;
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = body_text(&response);
    assert!(
        page.contains("Unsubscribe from tracking updates?")
            && page.contains(&team)
            && page.contains(r#"<form method="post""#),
        "{page}"
    );
    assert_eq!(f.order_subscribers(&order_id).await, [team.as_str()]);
    let response = f.confirm(&forged, "application/json").await;
    assert_eq!(
        response.status(),
        403,
        "a forged link cannot be confirmed either"
    );
    assert_eq!(f.order_subscribers(&order_id).await, [team.as_str()]);

    // The page's button (or a mail client's one-click POST) unsubscribes; again is harmless.
    let response = f
        .confirm(&team_link, "text/html,application/xhtml+xml")
        .await;
    assert_eq!(response.status(), 200);
    let page = body_text(&response);
    assert!(
        page.contains("You are unsubscribed") && page.contains(&team),
        "{page}"
    );
    let (status, body) = read_response(f.confirm(&team_link, "application/json").await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scopes"], json!(["order"]));
    assert!(f.order_subscribers(&order_id).await.is_empty());
    let (status, body) = read_response(f.confirm(&everything_link, "application/json").await);
    assert_eq!((status, &body["scopes"]), (200, &json!(["merchant"])));
    assert!(f.merchant_subscribers(&f.merchant).await.is_empty());

    f.scan(&feed_bodies()[0]).await;
    f.deliver().await;
    assert_eq!(f.mails_to(&team).len(), 1, "no mail after unsubscribing");
    assert_eq!(
        f.mails_to(&everything).len(),
        1,
        "no mail after unsubscribing"
    );
}

#[tokio::test]
async fn links_signed_before_a_key_rotation_keep_working_until_the_next_one() {
    // The key in the local stack's Secrets Manager, read with no cache so each rotation
    // is seen at once (a deployment sees it within the cache's time to live).
    let secret = TestSecret::create("the-first-unsubscribe-key-of-this-test-0001").await;
    let keys = unsubscribe_keys(TestSecret::source().await, &secret.arn)
        .with_ttl(std::time::Duration::ZERO);
    let mut f = Fixture::with_keys(Arc::new(keys)).await;
    let team = unique_address("ops", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.deliver().await;
    let signed_before = unsubscribe_link(&f.mails_to(&team)[0]);

    secret
        .put("the-second-unsubscribe-key-of-this-test-002")
        .await;
    f.scan(&feed_bodies()[0]).await;
    f.deliver().await;
    let signed_after = unsubscribe_link(&f.mails_to(&team)[1]);
    assert_ne!(
        signed_before, signed_after,
        "new mail is signed with the new key"
    );
    for link in [&signed_before, &signed_after] {
        let response = f.follow(link, "application/json").await;
        assert_eq!(response.status(), 200, "{}", body_text(&response));
    }

    secret
        .put("the-third-unsubscribe-key-of-this-test-0003")
        .await;
    let response = f.follow(&signed_before, "application/json").await;
    assert_eq!(
        response.status(),
        403,
        "two rotations on, the first key is gone"
    );
    assert_eq!(f.order_subscribers(&order_id).await, [team.as_str()]);
    let (status, body) = read_response(f.confirm(&signed_after, "application/json").await);
    assert_eq!(status, 200, "{body}");
    assert!(f.order_subscribers(&order_id).await.is_empty());
}

#[tokio::test]
async fn an_unreadable_unsubscribe_key_is_a_503_that_removes_nothing() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.deliver().await;
    let link = unsubscribe_link(&f.mails_to(&team)[0]);

    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique_merchant("never-created")
    );
    f.api = f
        .stack
        .orders_api()
        .with_unsubscribe_keys(Arc::new(unsubscribe_keys(
            TestSecret::source().await,
            &missing,
        )));
    for accept in ["application/json", "text/html"] {
        let (status, body) = read_response(f.confirm(&link, accept).await);
        assert_eq!(status, 503, "{body}");
    }
    let (status, body) = read_response(f.confirm(&link, "application/json").await);
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("unsubscribe_unavailable"))
    );
    assert!(
        !body.to_string().contains(&missing),
        "no ARN in the answer: {body}"
    );
    assert_eq!(f.order_subscribers(&order_id).await, [team.as_str()]);
}

#[tokio::test]
async fn stream_records_reach_the_notifier_in_the_lambda_event_shape() {
    let mut f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    f.subscribe(&order_id, "ops@merchant.example").await;
    f.label(&order_id, "ups", UPS).await;
    let event = f.stream.next_event().await.unwrap();
    // The order insert, the subscription, the label transaction (tracking claim, order
    // update, label event).
    let names: Vec<_> = event
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "MODIFY").count(),
        1,
        "{names:?}"
    );
    let sample: Value = serde_json::from_str(STREAM_INSERT).unwrap();
    let real = serde_json::to_value(&event).unwrap();
    let label_record = real["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dynamodb"]["NewImage"]["code"]["S"] == "LABEL_CREATED")
        .expect("the label event's INSERT");
    // The sample event must not drift from what the stream really carries.
    let keys = |v: &Value| -> HashSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let sample_record = &sample["Records"][0];
    assert!(
        keys(sample_record).is_subset(&keys(label_record)),
        "{label_record}"
    );
    assert!(keys(&sample_record["dynamodb"]).is_subset(&keys(&label_record["dynamodb"])));
    let mut sample_attributes = keys(&sample_record["dynamodb"]["NewImage"]);
    sample_attributes.remove("location");
    assert_eq!(
        sample_attributes,
        keys(&label_record["dynamodb"]["NewImage"])
    );
    assert!(
        f.stream.next_event().await.unwrap().records.is_empty(),
        "nothing is read twice"
    );
    let outcomes: Vec<_> = {
        let mut outcomes = Vec::new();
        for record in &event.records {
            outcomes.push(
                f.notifier
                    .handle_record(record, after_delivery())
                    .await
                    .unwrap(),
            );
        }
        outcomes
    };
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, RecordOutcome::Enqueued(_)))
            .count(),
        1,
        "only the label event mails: {outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, RecordOutcome::Enqueued(_) | RecordOutcome::Ignored)));
}

#[tokio::test]
async fn a_throttled_mailbox_is_retried_alone_with_backoff_and_holds_up_nothing() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let throttled = unique_address("leads", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    assert_eq!(f.subscribe_merchant(&throttled).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    f.scan(&feed_bodies()[0]).await;
    let event = f.stream.next_event().await.unwrap();
    let response = f
        .notifier
        .handle_stream(event, after_delivery())
        .await
        .unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "the stream never waits for SES"
    );

    let flaky = Notifier::new(
        f.stack.store(),
        DownFor {
            inner: SesMailer::new(f.ses.clone(), &Sender::parse(SENDER).unwrap()),
            recipient: throttled.clone(),
        },
        email_queue(&f.emails),
        notifier_config(fixed_keys()),
    );
    let jobs = f.emails.receive_event(10).await.expect("the queued emails");
    assert_eq!(jobs.records.len(), 4, "two events, two mailboxes each");
    let response = flaky
        .handle_jobs(jobs.clone(), after_delivery())
        .await
        .unwrap();
    let failed: HashSet<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let throttled_jobs: HashSet<_> = jobs
        .records
        .iter()
        .filter(|m| m.body.as_deref().unwrap().contains(&throttled))
        .map(|m| m.message_id.clone().unwrap())
        .collect();
    assert_eq!(
        failed, throttled_jobs,
        "only the throttled mailbox's emails are retried"
    );
    let expected = [
        "Order 1001 is packed and labeled",
        "Order 1001: Pick Up Scan from Dock",
    ];
    assert_eq!(f.subjects_to(&team), expected);
    assert!(f.mails_to(&throttled).is_empty());
    // Lambda deletes what succeeded; the failed jobs wait their backoff (the notifier's unit
    // tests pin that it is set, tracking-aws's how long it is).
    for message in jobs
        .records
        .iter()
        .filter(|m| !failed.contains(&m.message_id.clone().unwrap()))
    {
        f.emails
            .sqs
            .delete_message()
            .queue_url(&f.emails.url)
            .receipt_handle(message.receipt_handle.as_deref().unwrap())
            .send()
            .await
            .unwrap();
    }

    // Time passes (the backoff is ended by hand) and SES is back: what is left goes out once.
    for message in jobs
        .records
        .iter()
        .filter(|m| failed.contains(&m.message_id.clone().unwrap()))
    {
        f.emails
            .sqs
            .change_message_visibility()
            .queue_url(&f.emails.url)
            .receipt_handle(message.receipt_handle.as_deref().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(f.send_queued().await, 2);
    assert_eq!(f.subjects_to(&throttled), expected);
    assert_eq!(f.subjects_to(&team), expected, "nothing is sent twice");
}

#[tokio::test]
async fn an_email_under_another_senders_lease_waits_for_it_and_is_sent_once() {
    let f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    let job = DeliveryJob {
        version: JOB_VERSION,
        order_id: order_id.clone(),
        event_id: "evt_lease".into(),
        recipient: team.clone(),
        email: OutgoingEmail {
            to: tracking_domain::email::EmailAddress::parse(&team).unwrap(),
            subject: "Order 1001 is packed and labeled".into(),
            text: "Unsubscribe: https://api.example.com/unsubscribe?token=a.b".into(),
            html: "<p>packed</p>".into(),
            unsubscribe_url: "https://api.example.com/unsubscribe?token=a.b".into(),
        },
    };
    let now = after_delivery();
    // Another sender took the lease and is (slowly) sending.
    let key = tracking_aws::store::subscriptions::DeliveryKey {
        order_id: &order_id,
        event_id: "evt_lease",
        recipient: &team,
    };
    let store = f.stack.store();
    assert!(matches!(
        store
            .lease_delivery(key, now, Duration::seconds(DELIVERY_LEASE_SECONDS))
            .await
            .unwrap(),
        tracking_aws::store::subscriptions::DeliveryLease::Acquired { attempt: 1 }
    ));
    let busy = f.notifier.deliver(&job, now + Duration::seconds(30)).await;
    assert!(busy.is_err(), "a live lease is not taken over");
    assert!(f.mails_to(&team).is_empty());
    // That sender died: once its lease is over, the email is sent, and only once.
    let later = now + Duration::seconds(DELIVERY_LEASE_SECONDS + 1);
    assert_eq!(
        f.notifier.deliver(&job, later).await.unwrap(),
        notifier::Delivery::Sent
    );
    assert_eq!(
        f.notifier.deliver(&job, later).await.unwrap(),
        notifier::Delivery::AlreadySent
    );
    assert_eq!(f.subjects_to(&team), ["Order 1001 is packed and labeled"]);
}

#[tokio::test]
async fn subscriptions_stop_at_their_limits_and_an_event_is_mailed_to_that_many_at_most() {
    let mut f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    for i in 0..notifier::MAX_ORDER_SUBSCRIPTIONS {
        assert_eq!(
            f.subscribe(&order_id, &format!("ops{i}@merchant.example"))
                .await
                .0,
            201
        );
    }
    let (status, body) = f.subscribe(&order_id, "one-more@merchant.example").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "subscription_limit_reached");
    assert_eq!(body["error"]["details"]["limit"], 10);
    // Already subscribed is still fine: subscribing again changes nothing.
    assert_eq!(
        f.subscribe(&order_id, "OPS3+x@merchant.example").await.0,
        200
    );
    for i in 0..notifier::MAX_MERCHANT_SUBSCRIPTIONS {
        assert_eq!(
            f.subscribe_merchant(&format!("lead{i}@merchant.example"))
                .await
                .0,
            201
        );
    }
    let (status, body) = f.subscribe_merchant("one-more@merchant.example").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("subscription_limit_reached"))
    );
    assert_eq!(f.order_subscribers(&order_id).await.len(), 10);
    // Even subscriptions written past the check (racing requests) are not mailed.
    f.stack
        .store()
        .subscribe(tracking_domain::subscriptions::Subscription::merchant_wide(
            &f.merchant,
            tracking_domain::email::EmailAddress::parse("racer@merchant.example").unwrap(),
            label_time() + Duration::hours(1),
        ))
        .await
        .unwrap();
    f.label(&order_id, "ups", UPS).await;
    f.deliver().await;
    assert!(f.mails_to("racer@merchant.example").is_empty());
    assert_eq!(f.mails_to("ops9@merchant.example").len(), 1);
    assert_eq!(f.mails_to("lead24@merchant.example").len(), 1);
}

#[tokio::test]
async fn the_sample_email_job_has_the_shape_the_stream_handler_queues() {
    let mut f = Fixture::new().await;
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, "ops@merchant.example").await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    let event = f.stream.next_event().await.unwrap();
    let response = f
        .notifier
        .handle_stream(event, after_delivery())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let queued = f.emails.peek(&f.emails.url).await;
    assert_eq!(queued.len(), 1, "one job: one event, one mailbox");
    let real: Value = serde_json::from_str(&queued[0].0).unwrap();
    let sample: Value = serde_json::from_str(EMAIL_JOB).unwrap();
    let sample: Value =
        serde_json::from_str(sample["Records"][0]["body"].as_str().unwrap()).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&real), keys(&sample));
    assert_eq!(keys(&real["email"]), keys(&sample["email"]));
    assert_eq!(real["recipient"], "ops@merchant.example");
    assert_eq!(real["order_id"], order_id.as_str());
}

#[tokio::test]
async fn under_dynamodb_faults_each_email_is_sent_exactly_once() {
    let mut f = Fixture::new().await;
    let team = unique_address("ops", "merchant.example");
    let everything = unique_address("leads", "merchant.example");
    let order_id = f.order_with("1001", "ada@example.com").await;
    assert_eq!(f.subscribe(&order_id, &team).await.0, 201);
    assert_eq!(f.subscribe_merchant(&everything).await.0, 201);
    f.label(&order_id, "ups", UPS).await;
    for body in feed_bodies() {
        f.scan(&body).await;
    }
    let event = f.stream.next_event().await.unwrap();

    let relay = local_stack::faults::start(local_stack::faults::FaultRates {
        refused_per_mille: 150,
        lost_reply_per_mille: 150,
        seed: 11,
    })
    .await
    .unwrap();
    let faulty = Notifier::new(
        tracking_aws::OrderStore::new(relay.dynamodb().await, &f.stack.table),
        SesMailer::new(f.ses.clone(), &Sender::parse(SENDER).unwrap()),
        email_queue(&f.emails),
        notifier_config(fixed_keys()),
    );
    // The stream: Lambda retries a batch from the record the function reports failed.
    let mut records = event.records;
    for _ in 0..100 {
        let response = faulty
            .handle_stream(event_of(records.clone()), after_delivery())
            .await
            .unwrap();
        let Some(failed) = response.batch_item_failures.first() else {
            break;
        };
        let from = records
            .iter()
            .position(|r| r.change.sequence_number == failed.item_identifier)
            .unwrap();
        records = records.split_off(from);
    }
    // The queue: each round later than a lease, as the backoff would make it.
    let mut now = after_delivery();
    let mut rounds = 0;
    while rounds < 100 {
        rounds += 1;
        let handled = f
            .emails
            .deliver_once(10, |event| async {
                faulty.handle_jobs(event, now).await.unwrap()
            })
            .await;
        if handled == 0 {
            break;
        }
        now += Duration::seconds(DELIVERY_LEASE_SECONDS + 10);
    }
    eprintln!(
        "fault relay at 15% refused + 15% applied-then-500: {} ({rounds} queue rounds)",
        relay.summary()
    );
    assert!(
        relay
            .counts
            .lost_replies
            .load(std::sync::atomic::Ordering::Relaxed)
            > 5,
        "{}",
        relay.summary()
    );
    let mut expected = vec![
        "Order 1001 is packed and labeled",
        "Order 1001: Pick Up Scan from Dock",
        "Order 1001 was handed to USPS",
        "Order 1001: Out for Delivery",
        "Order 1001: Delivered",
    ];
    expected.sort_unstable();
    for mailbox in [&team, &everything] {
        let mut subjects = f.subjects_to(mailbox);
        subjects.sort();
        assert_eq!(subjects, expected, "each email once to {mailbox}");
    }
}
