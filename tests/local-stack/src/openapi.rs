//! The API document (`openapi.json`, OpenAPI 3.1), built from the request and response
//! types the functions really parse and serialize.
//!
//! Bodies come from the types (schemars reads their serde attributes), so a changed body
//! changes the document; `committed_document_is_current` below fails until the committed
//! file is regenerated (`./dev openapi`). Routes, parameters and statuses are listed here,
//! once per route; `scripts/check_openapi.py` holds them to template.yaml's routes and auth,
//! and Schemathesis (`./dev test`) holds every answer of the running functions to them.

use claims_intake::request::{ClaimRequest, TransitionRequest};
use claims_intake::{ClaimList, ClaimsOfOrder};
use label_upload::{LabelRequest, LabelResponse, VoidResponse};
use orders_api::subscriptions::{
    MerchantSubscriptions, OrderSubscriptions, SubscriptionRequest, SubscriptionView,
    UnsubscribeAnswer,
};
use orders_api::ImportReport;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use store_webhooks::shopify_order::ShopifyOrder;
use store_webhooks::DuplicateDelivery;
use tracking_domain::claims::ClaimState;
use tracking_domain::order::OrderDraft;
use tracking_domain::shipment::{ShipmentFilter, SHIPMENT_ID_PATTERN};
use tracking_domain::status::OrderStatus;
use tracking_http::views::{OrderDetails, OrderPage, OrderSummary};
use tracking_http::{ErrorResponse, MAX_PAGE_SIZE};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A signed-in merchant (its own orders) or operations (every merchant's).
    Signed,
    /// Signed in as operations; a merchant is refused with 403 `forbidden`.
    Operations,
    /// No sign-in: the unsubscribe link's signed token is its authority.
    Public,
    /// Shopify's HMAC signature of the body.
    ShopifySigned,
}

/// Request and response schemas, each from a generator of its own direction: a field
/// serde skips when absent is optional in a request and may be missing from a response.
struct Schemas {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
}

impl Schemas {
    fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        Self {
            requests: settings.clone().for_deserialize().into_generator(),
            responses: settings.for_serialize().into_generator(),
        }
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    fn response<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    /// One `components/schemas`: a name both directions define must mean the same schema.
    fn components(mut self) -> Map<String, Value> {
        let mut all = self.responses.take_definitions(true);
        for (name, schema) in self.requests.take_definitions(true) {
            match all.get(&name) {
                Some(existing) if *existing != schema => panic!(
                    "{name} reads differently as a request and as a response; give one a name of its own"
                ),
                _ => {
                    all.insert(name, schema);
                }
            }
        }
        all
    }
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": json_content(schema)})
}

/// What each refusal status means here; the body is always `ErrorResponse`.
fn refusal(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed: see `error.code` (a query parameter, the body's JSON, a header).",
        401 => "Not signed in, or the token is not one this API accepts.",
        403 => "Signed in, but this caller may not do this.",
        404 => "No such order, package, claim or subscription visible to the caller.",
        409 => "The order's state refuses the request, or another request is changing it (`busy`: send it again).",
        413 => "The body is larger than this route accepts.",
        422 => "The request is well formed but its content is refused; `error.details` says where.",
        503 => "A secret this route needs is not readable right now; try again later.",
        _ => "Refused.",
    }
}

fn path_param(name: &str, description: &str, pattern: Option<&str>) -> Value {
    let mut schema = json!({"type": "string", "minLength": 1, "maxLength": 64});
    if let Some(pattern) = pattern {
        schema["pattern"] = json!(pattern);
    }
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn order_id_param() -> Value {
    path_param(
        "order_id",
        "The order's id, as `POST /orders` answered it (`ord_` and 16 hex digits).",
        None,
    )
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn limit_param() -> Value {
    query_param(
        "limit",
        "Page size.",
        json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": tracking_http::DEFAULT_PAGE_SIZE}),
    )
}

fn cursor_param() -> Value {
    query_param(
        "cursor",
        "The `next_cursor` of the page before; opaque, and only for the same list and filters.",
        json!({"type": "string"}),
    )
}

struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    description: &'static str,
    tag: &'static str,
    access: Access,
    parameters: Vec<Value>,
    body: Option<Value>,
    /// Success statuses with their answers.
    answers: Vec<(u16, Value)>,
    refusals: &'static [u16],
}

impl Operation {
    fn to_value(&self) -> Value {
        let mut responses = Map::new();
        for (status, answer) in &self.answers {
            responses.insert(status.to_string(), answer.clone());
        }
        let mut refusals: Vec<u16> = self.refusals.to_vec();
        match self.access {
            Access::Signed | Access::Operations => refusals.extend([401, 403]),
            Access::ShopifySigned => refusals.push(401),
            Access::Public => {}
        }
        // A route that answers a person with a page (`Accept: text/html`) refuses with one too.
        let answers_pages = self
            .answers
            .iter()
            .any(|(_, answer)| answer["content"].get("text/html").is_some());
        refusals.sort_unstable();
        refusals.dedup();
        for status in refusals {
            let ours = json!({"$ref": "#/components/schemas/ErrorResponse"});
            // API Gateway itself answers these before any function runs, in its own shape.
            let schema = match status {
                401 | 413 => {
                    json!({"anyOf": [ours, {"$ref": "#/components/schemas/GatewayMessage"}]})
                }
                _ => ours,
            };
            let mut content = json_content(schema);
            if answers_pages {
                content["text/html"] = json!({"schema": {"type": "string"}});
            }
            responses.insert(
                status.to_string(),
                json!({"description": refusal(status), "content": content}),
            );
        }
        let mut operation = json!({
            "operationId": self.id,
            "summary": self.summary,
            "description": self.description,
            "tags": [self.tag],
            "responses": responses,
        });
        if !self.parameters.is_empty() {
            operation["parameters"] = json!(self.parameters);
        }
        if let Some(body) = &self.body {
            operation["requestBody"] = body.clone();
        }
        operation["security"] = match self.access {
            Access::Signed | Access::Operations => json!([{"bearer": []}]),
            Access::ShopifySigned => json!([{"shopifyHmac": []}]),
            Access::Public => json!([]),
        };
        if self.access == Access::Operations {
            operation["x-required-role"] = json!("operations");
        }
        operation
    }
}

fn json_body(schema: Value) -> Value {
    json!({"required": true, "content": json_content(schema)})
}

/// A body with a worked example, which Schemathesis also sends (its examples phase), so
/// chains through the stateful links reach a labeled order.
fn json_body_with_example(schema: Value, example: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema, "example": example}}})
}

fn operations(schemas: &mut Schemas) -> Vec<Operation> {
    let summary = schemas.response::<OrderSummary<'static>>();
    let claim = schemas.response::<tracking_http::views::ClaimView<'static>>();
    let subscription = schemas.response::<SubscriptionView<'static>>();
    let label = schemas.response::<LabelResponse<'static>>();
    let email_param = json!({"name": "email", "in": "query", "required": true, "description": "The address to remove.", "schema": {"type": "string", "format": "email", "maxLength": 254}});
    // The payload and its HMAC-SHA256, each base64url without padding: 32 bytes are 43
    // characters, the last carrying 2 bits.
    let token_param = json!({"name": "token", "in": "query", "required": true, "description": "The signed token of an email's unsubscribe link.", "schema": {"type": "string", "maxLength": tracking_domain::unsubscribe::MAX_TOKEN_LEN, "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"}});
    let unsubscribe_answer = json!({
        "description": "The link's address and order; HTML instead when the caller accepts `text/html` (a person clicking the link).",
        "content": {
            "application/json": {"schema": schemas.response::<UnsubscribeAnswer<'static>>()},
            "text/html": {"schema": {"type": "string"}},
        }
    });
    let claim_id_param = path_param("claim_id", "The claim's id, as filing it answered.", None);
    vec![
        Operation {
            method: "post",
            path: "/orders",
            id: "createOrder",
            summary: "Create an order",
            description: "Creates the order in `Processing`. The same order sent again answers 200 with it and writes nothing; the same order number (or store order) with other details is 409.",
            tag: "Orders",
            access: Access::Signed,
            parameters: vec![],
            body: Some(json_body_with_example(
                schemas.request::<OrderDraft>(),
                json!({"order_number": "1001", "source": "manual", "customer": {"name": "Ada Lovelace", "email": "ada@example.com"}, "ship_to": {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701", "country": "US"}}),
            )),
            answers: vec![
                (201, json!({"description": "Created.", "content": json_content(summary.clone()), "links": order_links()})),
                (200, json!({"description": "This order exists already, with these details: nothing was written.", "content": json_content(summary.clone()), "links": order_links()})),
            ],
            refusals: &[400, 409, 413, 422],
        },
        Operation {
            method: "post",
            path: "/orders/import",
            id: "importOrders",
            summary: "Import orders from a spreadsheet",
            description: "A CSV or XLSX file (sniffed from its bytes, whatever the Content-Type): one header row (order_number, source, customer_name, customer_email, ship_to_line1, ship_to_city, ship_to_country and the optional columns), then one order per row. Every row is answered; a file sent again creates nothing twice.",
            tag: "Orders",
            access: Access::Signed,
            parameters: vec![],
            body: Some(json!({"required": true, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "contentMediaType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}},
            }})),
            answers: vec![(200, answer("Each row's outcome.", schemas.response::<ImportReport>()))],
            refusals: &[400, 413, 422],
        },
        Operation {
            method: "get",
            path: "/orders",
            id: "listOrders",
            summary: "List or search orders",
            description: "The caller's orders, newest first, a page at a time. `q` searches order numbers, tracking numbers and names instead, in one page.",
            tag: "Orders",
            access: Access::Signed,
            parameters: vec![
                query_param("status", "Processing or Completed (any letter case).", json!({"type": "string", "enum": [OrderStatus::Processing.as_str(), OrderStatus::Completed.as_str()]})),
                query_param("shipment_status", "A package status, or a flag any package can raise (`stalled`, `late`).", json!({"type": "string", "enum": ShipmentFilter::names()})),
                query_param("q", "Search term.", json!({"type": "string", "maxLength": 64})),
                limit_param(),
                cursor_param(),
            ],
            body: None,
            answers: vec![(200, answer("A page of orders.", schemas.response::<OrderPage<'static>>()))],
            refusals: &[400],
        },
        Operation {
            method: "get",
            path: "/orders/{order_id}",
            id: "getOrder",
            summary: "Order details and timeline",
            description: "The order, its packages, every timeline row (local time and offset where it happened), claim windows and claims.",
            tag: "Orders",
            access: Access::Signed,
            parameters: vec![order_id_param()],
            body: None,
            answers: vec![(200, answer("The order.", schemas.response::<OrderDetails<'static>>()))],
            refusals: &[400, 404],
        },
        Operation {
            method: "post",
            path: "/orders/{order_id}/label",
            id: "uploadLabel",
            summary: "Put a label on an order",
            description: "Without `shipment_id`, adds a package. With it, relabels that package (only before its first carrier scan). The same label again answers 200 and writes nothing.",
            tag: "Packages",
            access: Access::Operations,
            parameters: vec![order_id_param()],
            body: Some(json_body_with_example(
                schemas.request::<LabelRequest>(),
                json!({"carrier": "ups", "service": "Ground", "tracking_number": "1Z999AA10123456784", "label_source": "jetpack"}),
            )),
            answers: vec![
                (201, json!({"description": "The label is on the package.", "content": json_content(label.clone()), "links": package_links()})),
                (200, json!({"description": "This label was already on the package: nothing was written.", "content": json_content(label), "links": package_links()})),
            ],
            refusals: &[400, 404, 409, 413, 422],
        },
        Operation {
            method: "post",
            path: "/orders/{order_id}/shipments/{shipment_id}/void",
            id: "voidShipment",
            summary: "Void a package's label",
            description: "Only before the carrier's first scan. Voiding again answers the same and writes nothing.",
            tag: "Packages",
            access: Access::Operations,
            parameters: vec![
                order_id_param(),
                path_param("shipment_id", "The package's Shipment ID.", Some(SHIPMENT_ID_PATTERN)),
            ],
            body: None,
            answers: vec![(200, answer("Voided.", schemas.response::<VoidResponse<'static>>()))],
            refusals: &[400, 404, 409],
        },
        Operation {
            method: "post",
            path: "/orders/{order_id}/claims",
            id: "fileClaim",
            summary: "File a claim",
            description: "Eligibility is decided from the stored package and timeline alone. The same claim again (same body, or the same `Idempotency-Key`) answers 200 with it; the key with another body is 409.",
            tag: "Claims",
            access: Access::Signed,
            parameters: vec![
                order_id_param(),
                json!({"name": "Idempotency-Key", "in": "header", "required": false, "description": "The client's name for this request: 1 to 255 visible ASCII characters.", "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}}),
            ],
            body: Some(json_body_with_example(
                schemas.request::<ClaimRequest>(),
                json!({"type": "lost_in_transit", "description": "No scan for ten days after pickup."}),
            )),
            answers: vec![
                (201, json!({"description": "Filed.", "content": json_content(claim.clone()), "links": claim_links()})),
                (200, json!({"description": "This claim was filed before: nothing was written.", "content": json_content(claim.clone()), "links": claim_links()})),
            ],
            refusals: &[400, 404, 409, 413, 422],
        },
        Operation {
            method: "get",
            path: "/orders/{order_id}/claims",
            id: "listOrderClaims",
            summary: "An order's claims",
            description: "Newest first, each with its history.",
            tag: "Claims",
            access: Access::Signed,
            parameters: vec![order_id_param()],
            body: None,
            answers: vec![(200, answer("The claims.", schemas.response::<ClaimsOfOrder<'static>>()))],
            refusals: &[400, 404],
        },
        Operation {
            method: "get",
            path: "/claims",
            id: "listClaims",
            summary: "The caller's claims",
            description: "Newest first, a page at a time, optionally in one state.",
            tag: "Claims",
            access: Access::Signed,
            parameters: vec![
                query_param("state", "A claim state.", json!({"type": "string", "enum": ClaimState::ALL.map(|s| s.as_str())})),
                limit_param(),
                cursor_param(),
            ],
            body: None,
            answers: vec![(200, answer("A page of claims.", schemas.response::<ClaimList<'static>>()))],
            refusals: &[400],
        },
        Operation {
            method: "post",
            path: "/orders/{order_id}/claims/{claim_id}/transitions",
            id: "moveClaim",
            summary: "Move a claim along",
            description: "`filed` to `submitted` (with the carrier's case number), then `approved` (amount and currency) or `denied` (a reason). The same step again answers 200 and writes nothing.",
            tag: "Claims",
            access: Access::Operations,
            parameters: vec![order_id_param(), claim_id_param],
            body: Some(json_body_with_example(
                schemas.request::<TransitionRequest>(),
                json!({"to": "submitted", "carrier_case_reference": "UPS-CASE-88213"}),
            )),
            answers: vec![(200, answer("The claim after the step.", claim))],
            refusals: &[400, 404, 409, 413, 422],
        },
        Operation {
            method: "post",
            path: "/orders/{order_id}/subscriptions",
            id: "subscribeToOrder",
            summary: "Email a team address about one order",
            description: "Subscribing again answers 200 with the subscription.",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![order_id_param()],
            body: Some(json_body(schemas.request::<SubscriptionRequest>())),
            answers: vec![
                (201, answer("Subscribed.", subscription.clone())),
                (200, answer("Already subscribed: nothing was written.", subscription.clone())),
            ],
            refusals: &[400, 404, 409, 413, 422],
        },
        Operation {
            method: "get",
            path: "/orders/{order_id}/subscriptions",
            id: "listOrderSubscriptions",
            summary: "An order's email subscriptions",
            description: "The addresses told about this order alone.",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![order_id_param()],
            body: None,
            answers: vec![(200, answer("The subscriptions.", schemas.response::<OrderSubscriptions<'static>>()))],
            refusals: &[400, 404],
        },
        Operation {
            method: "delete",
            path: "/orders/{order_id}/subscriptions",
            id: "unsubscribeFromOrder",
            summary: "Stop emailing an address about one order",
            description: "",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![order_id_param(), email_param.clone()],
            body: None,
            answers: vec![(204, json!({"description": "Removed."}))],
            refusals: &[400, 404, 422],
        },
        Operation {
            method: "post",
            path: "/subscriptions",
            id: "subscribeToAccount",
            summary: "Email a team address about every order",
            description: "Subscribing again answers 200 with the subscription.",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![],
            body: Some(json_body(schemas.request::<SubscriptionRequest>())),
            answers: vec![
                (201, answer("Subscribed.", subscription.clone())),
                (200, answer("Already subscribed: nothing was written.", subscription)),
            ],
            refusals: &[400, 409, 413, 422],
        },
        Operation {
            method: "get",
            path: "/subscriptions",
            id: "listAccountSubscriptions",
            summary: "The account's email subscriptions",
            description: "The addresses told about every order.",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![],
            body: None,
            answers: vec![(200, answer("The subscriptions.", schemas.response::<MerchantSubscriptions<'static>>()))],
            refusals: &[],
        },
        Operation {
            method: "delete",
            path: "/subscriptions",
            id: "unsubscribeFromAccount",
            summary: "Stop emailing an address about every order",
            description: "",
            tag: "Subscriptions",
            access: Access::Signed,
            parameters: vec![email_param],
            body: None,
            answers: vec![(204, json!({"description": "Removed."}))],
            refusals: &[400, 404, 422],
        },
        Operation {
            method: "get",
            path: "/unsubscribe",
            id: "confirmUnsubscribe",
            summary: "An email's unsubscribe link: ask",
            description: "Only asks: mail scanners open every link, so a GET never unsubscribes.",
            tag: "Subscriptions",
            access: Access::Public,
            parameters: vec![token_param.clone()],
            body: None,
            answers: vec![(200, unsubscribe_answer.clone())],
            refusals: &[400, 403, 503],
        },
        Operation {
            method: "post",
            path: "/unsubscribe",
            id: "unsubscribe",
            summary: "An email's unsubscribe link: unsubscribe",
            description: "The confirmation page's button, or a mail client's RFC 8058 one-click request. Sending it again answers the same.",
            tag: "Subscriptions",
            access: Access::Public,
            parameters: vec![token_param],
            body: Some(json!({"required": false, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"List-Unsubscribe": {"const": "One-Click"}}}}}})),
            answers: vec![(200, unsubscribe_answer)],
            refusals: &[400, 403, 503],
        },
        Operation {
            method: "post",
            path: "/webhooks/shopify/orders-create",
            id: "shopifyOrderCreated",
            summary: "Shopify's orders/create webhook",
            description: "Signed by Shopify with the app's client secret (X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the raw body). A delivery Shopify repeats (same X-Shopify-Webhook-Id) writes nothing.",
            tag: "Stores",
            access: Access::ShopifySigned,
            parameters: vec![
                json!({"name": "X-Shopify-Topic", "in": "header", "required": false, "schema": {"type": "string", "const": "orders/create"}}),
                json!({"name": "X-Shopify-Shop-Domain", "in": "header", "required": true, "schema": {"type": "string"}}),
                json!({"name": "X-Shopify-Webhook-Id", "in": "header", "required": false, "schema": {"type": "string"}}),
                json!({"name": "X-Shopify-Triggered-At", "in": "header", "required": false, "schema": {"type": "string", "format": "date-time"}}),
            ],
            body: Some(json_body(schemas.request::<ShopifyOrder>())),
            answers: vec![
                (201, answer("The order was created.", summary.clone())),
                (200, json!({"description": "The order existed already, or this delivery was processed before.", "content": json_content(json!({"oneOf": [summary, schemas.response::<DuplicateDelivery<'static>>()]}))})),
            ],
            refusals: &[400, 404, 409, 413, 422, 503],
        },
        Operation {
            method: "get",
            path: "/openapi.json",
            id: "getApiDocument",
            summary: "This document",
            description: "",
            tag: "Meta",
            access: Access::Public,
            parameters: vec![],
            body: None,
            answers: vec![(200, answer("OpenAPI 3.1.", json!({"type": "object"})))],
            refusals: &[],
        },
    ]
}

/// Schemathesis follows these to chain calls: create an order, then read, label, claim it.
fn order_links() -> Value {
    let order_id = json!({"order_id": "$response.body#/order_id"});
    json!({
        "GetOrder": {"operationId": "getOrder", "parameters": order_id},
        "UploadLabel": {"operationId": "uploadLabel", "parameters": order_id},
        "FileClaim": {"operationId": "fileClaim", "parameters": order_id},
        "ListOrderClaims": {"operationId": "listOrderClaims", "parameters": order_id},
        "SubscribeToOrder": {"operationId": "subscribeToOrder", "parameters": order_id},
    })
}

fn package_links() -> Value {
    json!({
        "GetOrder": {"operationId": "getOrder", "parameters": {"order_id": "$response.body#/order_id"}},
        "VoidShipment": {"operationId": "voidShipment", "parameters": {"order_id": "$response.body#/order_id", "shipment_id": "$response.body#/shipment_id"}},
        "FileClaim": {"operationId": "fileClaim", "parameters": {"order_id": "$response.body#/order_id"}},
    })
}

fn claim_links() -> Value {
    json!({
        "MoveClaim": {"operationId": "moveClaim", "parameters": {"order_id": "$response.body#/order_id", "claim_id": "$response.body#/claim_id"}},
        "ListOrderClaims": {"operationId": "listOrderClaims", "parameters": {"order_id": "$response.body#/order_id"}},
    })
}

/// The whole document, as `openapi.json` holds it.
pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let operations = operations(&mut schemas);
    schemas.response::<ErrorResponse<'static>>();
    let mut components = schemas.components();
    components.insert(
        "GatewayMessage".into(),
        json!({
            "description": "API Gateway's own refusal, sent before any function runs: `Unauthorized` from the JWT authorizer (no token, or one it does not accept), `Request Entity Too Large` past its 10 MB limit.",
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
        }),
    );
    let mut paths = Map::new();
    for operation in &operations {
        let item = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| json!({}));
        item[operation.method] = operation.to_value();
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Order tracking API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Orders from Received through label, carrier scans, final-mile hand-off and delivery, the nightly move from Processing to Completed (06:00 America/Chicago), claims and team email alerts. Times are UTC (RFC 3339); timeline rows also carry the local time and offset where they happened. Every refusal is `{\"error\": {\"code\", \"message\"}}` with a code from `ErrorBody.code`.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [
            {"url": "https://{api_id}.execute-api.{region}.amazonaws.com", "description": "The deployed HTTP API (the stack's ApiUrl output).", "variables": {"api_id": {"default": "abc123"}, "region": {"default": "us-east-1"}}},
            {"url": "http://127.0.0.1:3000", "description": "The local runner (`./dev run`)."},
        ],
        "tags": [
            {"name": "Orders"}, {"name": "Packages"}, {"name": "Claims"},
            {"name": "Subscriptions"}, {"name": "Stores"}, {"name": "Meta"},
        ],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An ID token from the deployment's identity provider (Cognito by default), checked by API Gateway's JWT authorizer. It names the merchant (`custom:merchant_id`, or `merchant_id` from a brought provider) and the role (the Cognito group `operations`, or a `role` claim). The local runner takes `dev.<merchant_id>.<merchant|operations>` instead.",
                },
                "shopifyHmac": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Shopify-Hmac-Sha256",
                    "description": "Base64 HMAC-SHA256 of the raw body with the Shopify app's client secret.",
                },
            },
        },
    })
}

/// The document as committed: pretty, with a final newline, so diffs read well.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("a JSON value serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_is_current() {
        let committed = include_str!("../../../openapi.json");
        assert!(
            committed == document_text(),
            "openapi.json is not what the types say: run ./dev openapi and commit the result"
        );
    }

    /// Every error code the source can emit is in the document's list. The debug build's
    /// assertion only sees the paths a test takes; this sees the ones no test takes. Codes
    /// come from the domain's refusal enums and from the literals the functions pass.
    #[test]
    fn every_error_code_in_the_source_is_documented() {
        let mut codes: Vec<String> = Vec::new();
        let refusal_codes = schemars::schema_for!(tracking_domain::claims::RefusalCode);
        for code in refusal_codes.as_value()["enum"]
            .as_array()
            .expect("an enum")
        {
            codes.push(code.as_str().unwrap().to_owned());
        }
        use tracking_domain::claims::MoveRefusal;
        for refusal in [
            MoveRefusal::OutOfOrder {
                from: ClaimState::Open,
                to: ClaimState::Approved,
            },
            MoveRefusal::ConflictsWithHistory {
                to: ClaimState::Approved,
            },
        ] {
            codes.push(refusal.code().to_owned());
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut sources = Vec::new();
        for dir in ["functions", "shared/http/src", "shared/domain/src"] {
            rust_files(&root.join(dir), &mut sources);
        }
        for path in sources {
            let text = std::fs::read_to_string(&path).unwrap();
            // The unit tests at the end of a file name codes of their own making.
            let text = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for marker in ["bad_request(", "conflict(", "code: ", "code =>", "=> ("] {
                for (at, _) in text.match_indices(marker) {
                    let rest = text[at + marker.len()..].trim_start();
                    let rest = rest
                        .strip_prefix("StatusCode::")
                        .and_then(|r| r.split_once(',').map(|(_, r)| r.trim_start()))
                        .unwrap_or(rest);
                    if let Some(literal) = rest
                        .strip_prefix('"')
                        .and_then(|r| r.split_once('"'))
                        .map(|(literal, _)| literal)
                        .filter(|l| {
                            l.contains('_') && l.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        })
                    {
                        codes.push(literal.to_owned());
                    }
                }
            }
        }
        for code in [
            "store_order_taken",
            "order_number_taken",
            "customer_email",
            "claim_transition_conflict",
        ] {
            assert!(
                codes.iter().any(|c| c == code),
                "the scan no longer finds {code}"
            );
        }
        // Codes a row of an import report carries, not an error body.
        let row_codes = ["repeated_in_file", "not_saved"];
        let undocumented: Vec<&String> = codes
            .iter()
            .filter(|c| {
                !tracking_http::is_documented_error_code(c) && !row_codes.contains(&c.as_str())
            })
            .collect();
        assert!(
            undocumented.is_empty(),
            "not in ERROR_CODES: {undocumented:?}"
        );
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("tests") {
                    rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_operation_has_a_unique_id_and_route() {
        let mut schemas = Schemas::new();
        let operations = operations(&mut schemas);
        let mut ids: Vec<_> = operations.iter().map(|o| o.id).collect();
        let mut routes: Vec<_> = operations.iter().map(|o| (o.method, o.path)).collect();
        ids.sort_unstable();
        ids.dedup();
        routes.sort_unstable();
        routes.dedup();
        assert_eq!(
            (ids.len(), routes.len()),
            (operations.len(), operations.len())
        );
    }

    #[test]
    fn every_link_names_an_operation() {
        let document = document();
        let ids: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        for item in document["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for response in op["responses"].as_object().unwrap().values() {
                    for link in response["links"]
                        .as_object()
                        .into_iter()
                        .flat_map(|l| l.values())
                    {
                        let target = link["operationId"].as_str().unwrap();
                        assert!(ids.contains(&target), "{target}");
                    }
                }
            }
        }
    }
}
