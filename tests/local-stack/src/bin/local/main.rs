//! `./dev run`: the whole system on this machine.
//!
//! An API Gateway stand-in serves the template's HTTP routes on loopback through the
//! functions' own handlers, with the API Gateway v2 event shape; SQS queues are polled
//! into their functions with partial-failure semantics; the table's stream is delivered
//! to its consumers; the nightly run fires at 06:00 America/Chicago and on demand; sent
//! emails are written to `.local/mail/`. Identity comes from a development token
//! (`Authorization: Bearer dev.<merchant_id>.<role>`) that only this runner accepts: a
//! deployed function only ever sees claims vouched for by the JWT authorizer.
//!
//! Local-only routes: `POST /_local/clock {"now": "<RFC 3339>"}` moves this runner's
//! clock (handlers, pollers and the nightly run all read it), `POST /_local/nightly
//! {"scheduled_time": ...}` runs the nightly job now, `GET /_local/emails` lists sent mail.

mod demo;
mod gateway;
mod runtime;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map(|p| p.parse().context("--port needs a number"))
        .transpose()?
        .unwrap_or(3000);
    if !flag("--verbose") {
        // The handlers log JSON per request; the demo's own progress is the readable part.
        std::env::set_var("RUST_LOG", "error");
    }
    tracking_aws::telemetry::init();

    let runtime = Arc::new(runtime::Runtime::from_env().await?);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .with_context(|| format!("port {port} is taken; pass --port N"))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(gateway::serve(listener, runtime.clone()));
    runtime.clone().spawn_background_work();
    eprintln!("local: HTTP API on {base_url} (token: Authorization: Bearer dev.<merchant_id>.<merchant|operations>)");

    if !flag("--no-demo") {
        demo::play(&base_url, &runtime).await?;
    }
    if flag("--exit-after-demo") {
        runtime.drain().await;
        return Ok(());
    }
    eprintln!("local: serving on {base_url}; emails in .local/mail/; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
