//! Local stand-ins for Shopify's Admin GraphQL API, Amazon's SP-API and Login with Amazon's
//! token endpoint: a small HTTP/1.1
//! server on 127.0.0.1 that records every request exactly as it arrived and answers like
//! the store would, keeping just enough state (fulfillments, their tracking) for the
//! platform-sync lookups to mean something. Tests can make it fail the next requests
//! with a status, or accept a push and still answer 500 (a reply lost on the way back).
//!
//! Plain std networking on a thread keeps it independent of the test's runtime; the only
//! client is reqwest, which sends `Content-Length` bodies, so the parsing stays small.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};

/// One request as the store received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The GraphQL operation name a Shopify request runs (`FulfillmentState`, ...).
    pub fn operation(&self) -> String {
        self.body["query"]
            .as_str()
            .and_then(|q| q.split(['(', ' ', '{']).nth(1))
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Clone)]
struct Fulfillment {
    id: String,
    cancelled: bool,
    company: String,
    /// (number, link), as Shopify lists a fulfillment's tracking.
    numbers: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    /// Statuses (and a `Retry-After` in seconds) to answer the next requests with, before
    /// any store logic runs.
    fail_next: VecDeque<(u16, Option<u32>)>,
    /// Apply the next mutation, then answer 500 anyway.
    lose_next_reply: bool,
    /// Answer the next mutation with this user error.
    refuse_next: Option<String>,
    fulfillments: Vec<Fulfillment>,
    /// Fulfillment ids are never reused, cancelled or not.
    next_fulfillment: usize,
    /// Amazon orders waiting to ship, per seller (by the seller's access token).
    amazon_orders: BTreeMap<String, Vec<Value>>,
}

#[derive(Clone)]
pub struct FakeStore {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

pub const FULFILLMENT_ORDER_ID: &str = "gid://shopify/FulfillmentOrder/6601";
pub const AMAZON_ORDER_ITEM_ID: &str = "68828574383266";
pub const LWA_TOKEN_PATH: &str = "/auth/o2/token";
pub const LWA_ACCESS_TOKEN: &str = "Atza|from-lwa-refresh";
/// What a Restricted Data Token looks like here: this prefix and the access token that got it.
pub const RDT_PREFIX: &str = "Atz.sprdt|";

impl FakeStore {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake store");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                thread::spawn(move || serve(stream, &shared));
            }
        });
        Self { base_url, state }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .extend(statuses.iter().map(|s| (*s, None)));
    }

    /// Answers the next request with 429 and `Retry-After: seconds`.
    pub fn throttle_next(&self, seconds: u32) {
        self.state
            .lock()
            .unwrap()
            .fail_next
            .push_back((429, Some(seconds)));
    }

    pub fn lose_next_reply(&self) {
        self.state.lock().unwrap().lose_next_reply = true;
    }

    pub fn refuse_next(&self, message: &str) {
        self.state.lock().unwrap().refuse_next = Some(message.to_owned());
    }

    /// An order the seller holding `access_token` has waiting to ship.
    pub fn add_amazon_order(&self, access_token: &str, order: Value) {
        self.state
            .lock()
            .unwrap()
            .amazon_orders
            .entry(access_token.to_owned())
            .or_default()
            .push(order);
    }

    /// Tracking numbers per live Shopify fulfillment, as the shop now shows them.
    pub fn fulfillments(&self) -> Vec<(String, Vec<String>)> {
        self.state
            .lock()
            .unwrap()
            .fulfillments
            .iter()
            .filter(|f| !f.cancelled)
            .map(|f| {
                (
                    f.id.clone(),
                    f.numbers.iter().map(|(n, _)| n.clone()).collect(),
                )
            })
            .collect()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Keep-alive: reqwest reuses connections, so serve requests until the client closes.
    while let Some(request) = read_request(&mut reader) {
        let (status, retry_after, body) = answer(state, request);
        let retry_after = retry_after
            .map(|seconds| format!("retry-after: {seconds}\r\n"))
            .unwrap_or_default();
        let reply = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\n{retry_after}content-length: {}\r\n\r\n{body}",
            reason(status),
            body.len()
        );
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn answer(state: &Mutex<State>, request: Recorded) -> (u16, Option<u32>, String) {
    let mut state = state.lock().unwrap();
    state.requests.push(request.clone());
    if let Some((status, retry_after)) = state.fail_next.pop_front() {
        return (
            status,
            retry_after,
            json!({"errors": "injected failure"}).to_string(),
        );
    }
    let (status, body) = if request.path == LWA_TOKEN_PATH {
        (
            200,
            json!({"access_token": LWA_ACCESS_TOKEN, "refresh_token": "Atzr|rotated-but-unused",
                   "token_type": "bearer", "expires_in": 3600}),
        )
    } else if request.path.contains("/orders/v0/orders") || request.path.starts_with("/tokens/") {
        amazon(&mut state, &request)
    } else {
        shopify(&mut state, &request)
    };
    let is_write = request.method == "POST" && request.operation() != "FulfillmentState";
    if is_write && std::mem::take(&mut state.lose_next_reply) {
        return (500, None, json!({"errors": "reply lost"}).to_string());
    }
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    (status, None, body)
}

fn shopify(state: &mut State, request: &Recorded) -> (u16, Value) {
    let variables = &request.body["variables"];
    match request.operation().as_str() {
        "FulfillmentState" => {
            // A fulfillment takes every line item; cancelling it offers them again, and
            // the cancelled one stays on the order.
            let fulfilled = state.fulfillments.iter().any(|f| !f.cancelled);
            let fulfillments: Vec<Value> = state
                .fulfillments
                .iter()
                .map(|f| {
                    let info: Vec<Value> = f
                        .numbers
                        .iter()
                        .map(|(n, u)| json!({"company": f.company, "number": n, "url": u}))
                        .collect();
                    let status = if f.cancelled { "CANCELLED" } else { "SUCCESS" };
                    json!({"id": f.id, "status": status, "trackingInfo": info})
                })
                .collect();
            (
                200,
                json!({"data": {"order": {
                    "id": variables["id"],
                    "fulfillmentOrders": {"nodes": [
                        {"id": FULFILLMENT_ORDER_ID, "status": if fulfilled { "CLOSED" } else { "OPEN" }}
                    ]},
                    "fulfillments": fulfillments
                }}}),
            )
        }
        "CreateFulfillment" => {
            if let Some(message) = state.refuse_next.take() {
                return (
                    200,
                    json!({"data": {"fulfillmentCreate": {"fulfillment": null,
                        "userErrors": [{"field": ["fulfillment"], "message": message}]}}}),
                );
            }
            if state.fulfillments.iter().any(|f| !f.cancelled) {
                return (
                    200,
                    json!({"data": {"fulfillmentCreate": {"fulfillment": null,
                        "userErrors": [{"field": ["fulfillment"], "message": "Fulfillment order is closed."}]}}}),
                );
            }
            let id = format!(
                "gid://shopify/Fulfillment/{}",
                7701 + state.next_fulfillment
            );
            state.next_fulfillment += 1;
            let info = &variables["fulfillment"]["trackingInfo"];
            state.fulfillments.push(Fulfillment {
                id: id.clone(),
                cancelled: false,
                company: info["company"].as_str().unwrap_or_default().to_owned(),
                numbers: tracking_numbers(info),
            });
            (
                200,
                json!({"data": {"fulfillmentCreate": {"fulfillment": {"id": id, "status": "SUCCESS"}, "userErrors": []}}}),
            )
        }
        "UpdateTracking" => {
            let id = variables["fulfillmentId"].as_str().unwrap_or_default();
            let info = &variables["trackingInfoInput"];
            match state
                .fulfillments
                .iter_mut()
                .find(|f| f.id == id && !f.cancelled)
            {
                Some(fulfillment) => {
                    // The update replaces the whole tracking of the fulfillment.
                    fulfillment.company = info["company"].as_str().unwrap_or_default().to_owned();
                    fulfillment.numbers = tracking_numbers(info);
                    (
                        200,
                        json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": {"id": id}, "userErrors": []}}}),
                    )
                }
                None => (
                    200,
                    json!({"data": {"fulfillmentTrackingInfoUpdate": {"fulfillment": null,
                        "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}]}}}),
                ),
            }
        }
        "CancelFulfillment" => {
            let id = variables["id"].as_str().unwrap_or_default().to_owned();
            let live = state
                .fulfillments
                .iter_mut()
                .find(|f| f.id == id && !f.cancelled);
            let Some(fulfillment) = live else {
                return (
                    200,
                    json!({"data": {"fulfillmentCancel": {"fulfillment": null,
                        "userErrors": [{"field": ["id"], "message": "Fulfillment does not exist."}]}}}),
                );
            };
            fulfillment.cancelled = true;
            (
                200,
                json!({"data": {"fulfillmentCancel": {"fulfillment": {"id": id, "status": "CANCELLED"}, "userErrors": []}}}),
            )
        }
        other => (
            200,
            json!({"errors": [{"message": format!("unknown operation {other}")}]}),
        ),
    }
}

/// A `FulfillmentTrackingInput`'s numbers with their links: `number` and `url`, or the
/// `numbers` and `urls` lists.
fn tracking_numbers(info: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match info["numbers"].as_array() {
        Some(numbers) => numbers
            .iter()
            .enumerate()
            .map(|(i, n)| (text(n), text(&info["urls"][i])))
            .collect(),
        None => vec![(text(&info["number"]), text(&info["url"]))],
    }
}

fn amazon(state: &mut State, request: &Recorded) -> (u16, Value) {
    let token = request.header("x-amz-access-token").unwrap_or_default();
    if request.method == "POST" && request.path == "/tokens/2021-03-01/restrictedDataToken" {
        return (
            200,
            json!({"restrictedDataToken": format!("{RDT_PREFIX}{token}"), "expiresIn": 3600}),
        );
    }
    if request.method == "GET" && request.path.starts_with("/orders/v0/orders?") {
        // The address and buyer email are restricted data: only a Restricted Data Token
        // reads them, and only the orders of the seller it was issued to.
        let Some(seller_token) = token.strip_prefix(RDT_PREFIX) else {
            return (
                403,
                json!({"errors": [{"code": "Unauthorized", "message": "restricted data needs an RDT"}]}),
            );
        };
        let orders = state
            .amazon_orders
            .get(seller_token)
            .cloned()
            .unwrap_or_default();
        // One order a page, so paging is exercised: NextToken is the next index.
        let index: usize = query_value(&request.path, "NextToken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = orders.get(index).cloned().into_iter().collect();
        let next = (index + 1 < orders.len()).then(|| (index + 1).to_string());
        return (
            200,
            json!({"payload": {"Orders": page, "NextToken": next,
                               "LastUpdatedBefore": "2026-12-01T11:58:00Z"}}),
        );
    }
    if request.method == "GET" && request.path.ends_with("/orderItems") {
        let order_id = request
            .path
            .split('/')
            .nth(4)
            .unwrap_or_default()
            .to_owned();
        return (
            200,
            json!({"payload": {"AmazonOrderId": order_id, "OrderItems": [{
                "ASIN": "B08N5WRWNW", "SellerSKU": "MUG-SLATE-12", "OrderItemId": AMAZON_ORDER_ITEM_ID,
                "Title": "Trail Mug - Slate", "QuantityOrdered": 2, "QuantityShipped": 0
            }]}}),
        );
    }
    if request.method == "POST" && request.path.ends_with("/shipmentConfirmation") {
        return (204, Value::Null);
    }
    (
        404,
        json!({"errors": [{"code": "NotFound", "message": "no such resource"}]}),
    )
}

fn query_value(path: &str, name: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}
