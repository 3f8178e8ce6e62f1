//! Cold starts against a Lambda Runtime API emulator on loopback.
//!
//! Each release binary is started as Lambda starts it (`AWS_LAMBDA_RUNTIME_API` and the
//! standard variables), fed one real-shaped event from `events/`, and timed from process
//! start to its first `GET /next` (initialisation done) and to its answer (first event
//! handled). Peak RSS is read from `/proc/<pid>/status` (VmHWM) before the process is
//! stopped; binary size is the stripped release file.

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[derive(Default)]
struct Observed {
    served_event: bool,
    first_next: Option<Instant>,
    answered: Option<Instant>,
    error: Option<String>,
}

pub struct ColdStart {
    pub init_ms: f64,
    pub first_event_ms: f64,
    pub peak_rss_kib: u64,
    pub binary_bytes: u64,
    pub error: Option<String>,
}

async fn serve(
    listener: tokio::net::TcpListener,
    event: Arc<Vec<u8>>,
    observed: Arc<Mutex<Observed>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (event, observed) = (event.clone(), observed.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (event, observed) = (event.clone(), observed.clone());
                async move {
                    let path = request.uri().path().to_owned();
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    if path.ends_with("/invocation/next") {
                        let first = {
                            let mut seen = observed.lock().unwrap_or_else(|p| p.into_inner());
                            seen.first_next.get_or_insert_with(Instant::now);
                            !std::mem::replace(&mut seen.served_event, true)
                        };
                        if !first {
                            // One event per process: park the runtime's next poll.
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                        let response = Response::builder()
                            .header("lambda-runtime-aws-request-id", "bench-request-1")
                            .header("lambda-runtime-deadline-ms", deadline.to_string())
                            .header(
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            )
                            .header(
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            )
                            .body(Full::new(Bytes::from(event.to_vec())))
                            .unwrap_or_default();
                        return Ok::<_, Infallible>(response);
                    }
                    let mut seen = observed.lock().unwrap_or_else(|p| p.into_inner());
                    if path.ends_with("/response") {
                        seen.answered.get_or_insert_with(Instant::now);
                    } else if path.ends_with("/error") {
                        seen.answered.get_or_insert_with(Instant::now);
                        seen.error =
                            Some(String::from_utf8_lossy(&body).chars().take(300).collect());
                    }
                    Ok(Response::builder()
                        .status(202)
                        .body(Full::new(Bytes::new()))
                        .unwrap_or_default())
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One cold start of `binary` answering `event`.
pub async fn measure(binary: &Path, name: &str, event: &[u8]) -> anyhow::Result<ColdStart> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let server = tokio::spawn(serve(listener, Arc::new(event.to_vec()), observed.clone()));

    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut exited = None;
    while Instant::now() < deadline {
        if observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answered
            .is_some()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rss = peak_rss_kib(pid);
    let _ = child.kill().await;
    server.abort();
    let seen = observed.lock().unwrap_or_else(|p| p.into_inner());
    let ms = |at: Option<Instant>| {
        at.map_or(f64::NAN, |t| {
            t.duration_since(started).as_secs_f64() * 1000.0
        })
    };
    Ok(ColdStart {
        init_ms: ms(seen.first_next),
        first_event_ms: ms(seen.answered),
        peak_rss_kib: rss,
        binary_bytes: std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0),
        error: seen
            .error
            .clone()
            .or_else(|| exited.map(|s| format!("exited early: {s}")))
            .or_else(|| {
                seen.answered
                    .is_none()
                    .then(|| "no answer within 20 s".to_owned())
            }),
    })
}
