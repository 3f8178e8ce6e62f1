//! A loopback HTTP relay in front of the local stack that fails a share of DynamoDB
//! requests the two ways a real network and service fail them:
//!
//! - **refused**: answered `500 InternalServerError` without reaching the table;
//! - **lost reply**: passed to the table, which applies it, and then answered `500` anyway,
//!   as when the reply is lost on the way back or the service fails after committing.
//!
//! The SDK retries both like any 500, so a retried write meets its own first attempt
//! (a conditional put that finds its item, an update that finds its lease taken), which is
//! exactly what idempotent handlers must survive. Other services (SQS, SES) pass untouched.
//! The choice per request comes from a seeded generator, so a failing run can be replayed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// How often each kind of fault is injected, per thousand DynamoDB requests.
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    pub refused_per_mille: u64,
    pub lost_reply_per_mille: u64,
    pub seed: u64,
}

/// What the relay did, for the test's report.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub dynamodb_requests: AtomicUsize,
    pub refused: AtomicUsize,
    pub lost_replies: AtomicUsize,
}

pub struct FaultRelay {
    pub endpoint: String,
    pub counts: Arc<FaultCounts>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Refuse,
    LoseReply,
}

struct Dice {
    state: AtomicU64,
    rates: FaultRates,
}

impl Dice {
    /// splitmix64: tiny, seedable, and good enough to spread faults evenly.
    fn roll(&self) -> Fault {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let draw = (z ^ (z >> 31)) % 1000;
        if draw < self.rates.refused_per_mille {
            Fault::Refuse
        } else if draw < self.rates.refused_per_mille + self.rates.lost_reply_per_mille {
            Fault::LoseReply
        } else {
            Fault::None
        }
    }
}

/// Starts the relay in front of the local stack (`AWS_ENDPOINT_URL`).
pub async fn start(rates: FaultRates) -> anyhow::Result<FaultRelay> {
    let upstream: SocketAddr = std::env::var("AWS_ENDPOINT_URL")?
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let counts = Arc::new(FaultCounts::default());
    let dice = Arc::new(Dice {
        state: AtomicU64::new(rates.seed),
        rates,
    });
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (counts, dice) = (shared.clone(), dice.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    relay(request, upstream, counts.clone(), dice.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(client), service)
                    .await;
            });
        }
    });
    Ok(FaultRelay { endpoint, counts })
}

fn injected_error() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(
        br#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected by the fault relay"}"#,
    )));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

async fn relay(
    request: Request<Incoming>,
    upstream: SocketAddr,
    counts: Arc<FaultCounts>,
    dice: Arc<Dice>,
) -> anyhow::Result<Response<Full<Bytes>>> {
    let is_dynamodb = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|target| target.starts_with("DynamoDB_"));
    let fault = if is_dynamodb {
        counts.dynamodb_requests.fetch_add(1, Ordering::Relaxed);
        dice.roll()
    } else {
        Fault::None
    };
    if fault == Fault::Refuse {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        return Ok(injected_error());
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    if fault == Fault::LoseReply {
        counts.lost_replies.fetch_add(1, Ordering::Relaxed);
        return Ok(injected_error());
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

impl FaultRelay {
    /// A DynamoDB client whose every request goes through the relay.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let sdk = tracking_aws::sdk_config().await;
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(&self.endpoint)
                .build(),
        )
    }

    pub fn summary(&self) -> String {
        format!(
            "{} DynamoDB requests: {} refused, {} applied but answered 500",
            self.counts.dynamodb_requests.load(Ordering::Relaxed),
            self.counts.refused.load(Ordering::Relaxed),
            self.counts.lost_replies.load(Ordering::Relaxed)
        )
    }
}
