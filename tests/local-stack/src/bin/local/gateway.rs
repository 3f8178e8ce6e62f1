//! An API Gateway (HTTP API, payload v2) stand-in on loopback: routes from template.yaml,
//! the same event shape AWS sends, a development token instead of the JWT authorizer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::runtime::{Route, Runtime};

pub async fn serve(listener: tokio::net::TcpListener, runtime: Arc<Runtime>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let runtime = runtime.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let runtime = runtime.clone();
                async move { Ok::<_, Infallible>(handle(&runtime, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Matches `/orders/ord_1/label` against `/orders/{order_id}/label`.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let template: Vec<&str> = template.trim_matches('/').split('/').collect();
    let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
    if template.len() != actual.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (t, a) in template.iter().zip(&actual) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) if !a.is_empty() => {
                params.insert(name.to_owned(), percent_decode(a));
            }
            Some(_) => return None,
            None if t == a => {}
            None => return None,
        }
    }
    Some(params)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Bearer dev.<merchant_id>.<role>`: the claims a brought identity provider's JWT would carry
/// (`merchant_id`, `role`; no Cognito markers), read as "Identity" in the README describes.
fn dev_claims(authorization: Option<&str>) -> Option<Value> {
    let token = authorization?
        .strip_prefix("Bearer ")?
        .strip_prefix("dev.")?;
    let (merchant_id, role) = token.rsplit_once('.')?;
    (!merchant_id.is_empty() && matches!(role, "merchant" | "operations")).then(|| {
        json!({"sub": format!("dev-{merchant_id}"), "iss": "local-dev", "merchant_id": merchant_id, "role": role})
    })
}

async fn handle(runtime: &Runtime, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_response(StatusCode::BAD_REQUEST, &json!({"message": "Bad Request"}))
        }
    };
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let method = parts.method.as_str().to_owned();

    if let Some(response) = local_route(runtime, &method, &path, &body).await {
        return response;
    }
    let Some((route, path_params)) = runtime
        .resources
        .routes
        .iter()
        .filter(|r| r.method == method || r.method == "ANY")
        .find_map(|r| match_path(&r.path, &path).map(|p| (r.clone(), p)))
    else {
        return json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}));
    };

    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default();
        let entry = headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::from(""));
        // API Gateway v2 joins repeated headers with commas.
        *entry = match entry.as_str() {
            Some("") => Value::from(value),
            Some(existing) => Value::from(format!("{existing},{value}")),
            None => Value::from(value),
        };
    }
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let authorizer = match route.auth.as_str() {
        "none" => None,
        _ => match dev_claims(authorization) {
            Some(claims) => Some(json!({"jwt": {"claims": claims, "scopes": null}})),
            // The JWT authorizer answers this itself; the function never runs.
            None => {
                return json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"message": "Unauthorized"}),
                )
            }
        },
    };
    let mut query = serde_json::Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let entry = query.entry(k).or_insert_with(|| Value::from(""));
        *entry = match entry.as_str() {
            Some("") => Value::from(v),
            Some(existing) => Value::from(format!("{existing},{v}")),
            None => Value::from(v),
        };
    }
    let is_text = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/") || ct.contains("json") || ct.contains("csv"));
    let (body_value, is_base64) = match (body.is_empty(), is_text, std::str::from_utf8(&body)) {
        (true, _, _) => (Value::Null, false),
        (false, true, Ok(text)) => (Value::from(text), false),
        _ => (
            Value::from(base64::engine::general_purpose::STANDARD.encode(&body)),
            true,
        ),
    };
    let route_key = format!("{} {}", route.method, route.path);
    let now = runtime.clock.now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""},
            "requestId": format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if let Some(authorizer) = authorizer {
        event["requestContext"]["authorizer"] = authorizer;
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = json!(path_params);
    }
    let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(error) => {
            return json_response(
                StatusCode::BAD_GATEWAY,
                &json!({"message": format!("bad event: {error}")}),
            )
        }
    };
    let response = dispatch(runtime, &route, lambda_request, now).await;
    let status = response.status();
    let mut out = Response::new(Full::new(match response.body() {
        lambda_http::Body::Text(text) => Bytes::from(text.clone()),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes.clone()),
        _ => Bytes::new(),
    }));
    *out.status_mut() = status;
    *out.headers_mut() = response.headers().clone();
    out
}

async fn dispatch(
    runtime: &Runtime,
    route: &Route,
    request: lambda_http::Request,
    now: chrono::DateTime<chrono::Utc>,
) -> lambda_http::Response<lambda_http::Body> {
    match route.binary.as_str() {
        "orders-api" => runtime.orders.handle(request, now).await,
        "label-upload" => runtime.labels.handle(request, now).await,
        "claims-intake" => runtime.claims.handle(request, now).await,
        "store-webhooks" => runtime.webhooks.handle(request, now).await,
        other => {
            let mut response = lambda_http::Response::new(lambda_http::Body::Text(
                json!({"message": format!("function {other} is not wired into the local runner")})
                    .to_string(),
            ));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}

/// Routes that exist only here, to drive time and the schedule from a demo or a terminal.
async fn local_route(
    runtime: &Runtime,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Response<Full<Bytes>>> {
    let parse_time = |field: &str| -> Option<chrono::DateTime<chrono::Utc>> {
        let value: Value = serde_json::from_slice(body).ok()?;
        chrono::DateTime::parse_from_rfc3339(value[field].as_str()?)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    if method == "POST" && path.starts_with("/_local/shopify/") {
        return Some(shopify_stand_in(runtime, path, body));
    }
    match (method, path) {
        ("POST", "/_local/clock") => Some(match parse_time("now") {
            Some(at) => {
                runtime.clock.set(at);
                json_response(StatusCode::OK, &json!({"now": runtime.clock.now()}))
            }
            None => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"message": "body must be {\"now\": \"<RFC 3339>\"}"}),
            ),
        }),
        ("GET", "/_local/clock") => Some(json_response(
            StatusCode::OK,
            &json!({"now": runtime.clock.now()}),
        )),
        ("POST", "/_local/nightly") => {
            let at = parse_time("scheduled_time").unwrap_or_else(|| runtime.clock.now());
            Some(match runtime.run_nightly(at).await {
                Ok(report) => json_response(StatusCode::OK, &json!(report)),
                Err(error) => json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": format!("{error:#}")}),
                ),
            })
        }
        ("GET", "/_local/emails") => {
            let url = format!("{}/moto-api/data.json", runtime.resources.endpoint);
            Some(match crate::runtime::sent_mail(&url).await {
                Ok(mails) => json_response(
                    StatusCode::OK,
                    &json!(mails
                        .iter()
                        .map(|m| json!({"to": m.to, "subject": m.subject}))
                        .collect::<Vec<_>>()),
                ),
                Err(error) => json_response(
                    StatusCode::BAD_GATEWAY,
                    &json!({"message": format!("{error:#}")}),
                ),
            })
        }
        _ => None,
    }
}

/// Enough of Shopify's Admin GraphQL API for store sync to be seen working locally: one
/// open fulfillment order per order, fulfillments created and their tracking updated.
fn shopify_stand_in(runtime: &Runtime, path: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let shop = path
        .trim_start_matches("/_local/shopify/")
        .split('/')
        .next()
        .unwrap_or("");
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let query = request["query"].as_str().unwrap_or("");
    let variables = &request["variables"];
    let mut fulfillments = runtime.shop.lock().unwrap_or_else(|p| p.into_inner());
    let data = if query.contains("fulfillmentCreate") {
        let order = variables["fulfillment"]["lineItemsByFulfillmentOrder"][0]
            ["fulfillmentOrderId"]
            .as_str()
            .unwrap_or("")
            .replace("FulfillmentOrder", "Order");
        let number = variables["fulfillment"]["trackingInfo"]["number"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let id = format!(
            "gid://shopify/Fulfillment/{}",
            fulfillments.values().map(Vec::len).sum::<usize>() + 1
        );
        eprintln!("local: Shopify {shop} <- fulfillmentCreate {order} tracking {number}");
        fulfillments
            .entry(order)
            .or_default()
            .push((id.clone(), number));
        json!({"fulfillmentCreate": {"fulfillment": {"id": id, "status": "SUCCESS"}, "userErrors": []}})
    } else if query.contains("fulfillmentTrackingInfoUpdate") {
        let id = variables["fulfillmentId"].as_str().unwrap_or("").to_owned();
        let number = variables["trackingInfoInput"]["number"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        eprintln!("local: Shopify {shop} <- fulfillmentTrackingInfoUpdate {id} tracking {number}");
        for entries in fulfillments.values_mut() {
            for entry in entries.iter_mut().filter(|(fid, _)| *fid == id) {
                entry.1 = number.clone();
            }
        }
        json!({"fulfillmentTrackingInfoUpdate": {"fulfillment": {"id": id}, "userErrors": []}})
    } else {
        let order = variables["id"].as_str().unwrap_or("").to_owned();
        let known: Vec<Value> = fulfillments
            .get(&order)
            .into_iter()
            .flatten()
            .map(|(id, number)| json!({"id": id, "trackingInfo": [{"number": number}]}))
            .collect();
        let open = order.replace("Order", "FulfillmentOrder");
        json!({"order": {"fulfillmentOrders": {"nodes": [{"id": open, "status": if known.is_empty() { "OPEN" } else { "CLOSED" }}]}, "fulfillments": known}})
    };
    json_response(StatusCode::OK, &json!({ "data": data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_capture_parameters() {
        let params = match_path("/orders/{order_id}/label", "/orders/ord_1/label").unwrap();
        assert_eq!(params["order_id"], "ord_1");
        assert!(match_path("/orders/{order_id}", "/orders/ord_1/label").is_none());
        assert!(match_path("/orders", "/claims").is_none());
    }

    #[test]
    fn dev_token_carries_merchant_and_role() {
        let claims = dev_claims(Some("Bearer dev.acme.operations")).unwrap();
        assert_eq!(
            (claims["merchant_id"].as_str(), claims["role"].as_str()),
            (Some("acme"), Some("operations"))
        );
        assert!(dev_claims(Some("Bearer eyJhbGciOi")).is_none());
        assert!(dev_claims(Some("Bearer dev.acme.admin")).is_none());
        assert!(dev_claims(None).is_none());
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(percent_decode("1Z%20999+AA"), "1Z 999 AA");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
