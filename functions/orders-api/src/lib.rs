//! `orders-api`: order intake, spreadsheet import, list and search, order details, team
//! email subscriptions and the public unsubscribe link (see [`subscriptions`]).
//!
//! The handler is a plain async function of (request, now) so tests drive it with
//! the API Gateway events in `events/` and any clock they like.

pub mod import;
pub mod subscriptions;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tracing::Instrument;
use tracking_aws::config::{required, Env};
use tracking_aws::ports::{Claims, Orders, Subscriptions, Timelines};
use tracking_aws::secrets::SecretsManager;
use tracking_aws::store::{CreateOutcome, ListError, ListQuery};
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::claims::ClaimPolicy;
use tracking_domain::order::{FieldError, Order, OrderDraft};
use tracking_domain::shipment::ShipmentFilter;
use tracking_domain::status::OrderStatus;
use tracking_http::views::{self, ViewContext};
use tracking_http::{
    field_errors, identity, json_body, json_response, path_param, query_param, ApiError, Identity,
};

pub use tracking_aws::secrets::{unsubscribe_keys, UnsubscribeKeys};
pub use tracking_domain::unsubscribe::UnsubscribeKey;

/// Rows written at once during an import: enough to finish 5,000 rows in seconds,
/// few enough not to trip on-demand throttling of a fresh table.
const IMPORT_CONCURRENCY: usize = 16;

/// The handler, over any store that keeps orders, timelines and subscriptions: DynamoDB
/// when deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct OrdersApi<S = OrderStore> {
    store: S,
    config: Config,
    claim_policy: ClaimPolicy,
    /// Verifies the notifier's unsubscribe links; without it `GET /unsubscribe` is a 503.
    unsubscribe_keys: Option<Arc<UnsubscribeKeys>>,
}

/// What the handler asks of its store.
pub trait OrdersApiStore: Orders + Timelines + Claims + Subscriptions {}

impl<S: Orders + Timelines + Claims + Subscriptions> OrdersApiStore for S {}

impl OrdersApi {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`,
    /// the tests and the local runner all build it here, so they cannot drift.
    /// The unsubscribe key is named here and read on the first unsubscribe request.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        let keys = unsubscribe_keys(
            SecretsManager::from_sdk(sdk),
            &required(env, "UNSUBSCRIBE_KEY_SECRET_ARN")?,
        );
        Ok(
            Self::new(OrderStore::from_sdk(sdk, &config.table_name), config)
                .with_unsubscribe_keys(Arc::new(keys)),
        )
    }
}

impl<S: OrdersApiStore> OrdersApi<S> {
    pub fn new(store: S, config: Config) -> Self {
        Self {
            store,
            config,
            claim_policy: ClaimPolicy::default(),
            unsubscribe_keys: None,
        }
    }

    /// The same handler over another store: the integration tests build the function as
    /// deployed and swap in a store that counts its requests.
    pub fn with_store<T: OrdersApiStore>(self, store: T) -> OrdersApi<T> {
        OrdersApi {
            store,
            config: self.config,
            claim_policy: self.claim_policy,
            unsubscribe_keys: self.unsubscribe_keys,
        }
    }

    /// The key shared with the notifier (the secret `UNSUBSCRIBE_KEY_SECRET_ARN` names).
    pub fn with_unsubscribe_keys(mut self, keys: Arc<UnsubscribeKeys>) -> Self {
        self.unsubscribe_keys = Some(keys);
        self
    }

    /// One fixed key, never rotated: handler tests.
    pub fn with_unsubscribe_key(self, key: UnsubscribeKey) -> Self {
        self.with_unsubscribe_keys(Arc::new(UnsubscribeKeys::fixed(key)))
    }

    pub async fn handle(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let route = tracking_http::route_key(&request);
        let span = tracing::info_span!("request", route = %route, request_id = %tracking_http::request_id(&request));
        async {
            // The public routes: the recipient of an email has no login, the link's
            // signature is its authority.
            if route == "GET /unsubscribe" {
                return self.confirm_unsubscribe_link(&request).await;
            }
            if route == "POST /unsubscribe" {
                return self.follow_unsubscribe_link(&request).await;
            }
            if route == "GET /openapi.json" {
                return api_document();
            }
            match self.route(&route, &request, now).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            }
        }
        .instrument(span)
        .await
    }

    async fn route(
        &self,
        route: &str,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let caller = identity(request)?;
        match route {
            "POST /orders" => self.create_order(&caller, request, now).await,
            "POST /orders/import" => self.import_orders(&caller, request, now).await,
            "GET /orders" => self.list_orders(&caller, request).await,
            "GET /orders/{order_id}" => self.order_details(&caller, request, now).await,
            "POST /orders/{order_id}/subscriptions" => {
                self.subscribe_to_order(&caller, request, now).await
            }
            "GET /orders/{order_id}/subscriptions" => {
                self.list_order_subscriptions(&caller, request).await
            }
            "DELETE /orders/{order_id}/subscriptions" => {
                self.unsubscribe_from_order(&caller, request).await
            }
            "POST /subscriptions" => self.subscribe_merchant(&caller, request, now).await,
            "GET /subscriptions" => self.list_merchant_subscriptions(&caller).await,
            "DELETE /subscriptions" => self.unsubscribe_merchant(&caller, request).await,
            other => Err(ApiError::RouteNotFound(other.to_owned())),
        }
    }

    async fn create_order(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let draft: OrderDraft = json_body(request)?;
        let details = draft.parse().map_err(field_errors)?;
        self.config
            .connections
            .check(&caller.merchant_id, details.source)
            .map_err(|refusal| ApiError::Unprocessable {
                code: "store_not_connected",
                message: refusal.to_string(),
                details: serde_json::Value::Null,
            })?;
        let order = Order::new(&caller.merchant_id, details, now);
        tracing::info!(order_id = %order.order_id, "creating order");
        match self
            .store
            .create_order(order)
            .await
            .map_err(ApiError::from)?
        {
            CreateOutcome::Created(order) => Ok(json_response(
                StatusCode::CREATED,
                &views::order_summary(&order),
            )),
            CreateOutcome::AlreadyExists(order) => {
                Ok(json_response(StatusCode::OK, &views::order_summary(&order)))
            }
            CreateOutcome::Conflict(existing) => {
                let (code, message) = existing.details.identity_conflict(&existing.order_id);
                Err(ApiError::conflict(code, message))
            }
        }
    }

    async fn import_orders(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let bytes = tracking_http::body_bytes(request);
        if bytes.len() > import::MAX_IMPORT_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        let rows = import::parse(bytes).map_err(import_error)?;
        let mut first_row_of: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        let mut results: Vec<RowResult> = Vec::with_capacity(rows.len());
        let mut to_create = Vec::new();
        for row in rows {
            let details = match row.draft.parse() {
                Ok(details) => details,
                Err(errors) => {
                    results.push(RowResult::failed(
                        row.row,
                        "validation_failed",
                        None,
                        errors,
                    ));
                    continue;
                }
            };
            if let Err(refusal) = self
                .config
                .connections
                .check(&caller.merchant_id, details.source)
            {
                results.push(RowResult::failed(
                    row.row,
                    "store_not_connected",
                    Some(details.order_number),
                    vec![FieldError::new("source", refusal.to_string())],
                ));
                continue;
            }
            // Rows repeat when they would be the same order: same number for the
            // merchant's own orders, same store order id for store orders.
            let order_id = details.order_id(&caller.merchant_id);
            match first_row_of.get(&order_id) {
                Some(first) => results.push(RowResult::failed(
                    row.row,
                    "repeated_in_file",
                    Some(details.order_number.clone()),
                    vec![FieldError::new(
                        details.identity_field(),
                        format!("repeats row {first}"),
                    )],
                )),
                None => {
                    first_row_of.insert(order_id, row.row);
                    to_create.push((row.row, Order::new(&caller.merchant_id, details, now)));
                }
            }
        }
        let store = &self.store;
        let created: Vec<RowResult> = futures::stream::iter(to_create)
            .map(|(row, order)| async move {
                let order_number = order.details.order_number.clone();
                let identity_field = order.details.identity_field();
                match store.create_order(order).await {
                    Ok(CreateOutcome::Created(o)) => RowResult::ok(row, o, RowOutcome::Created),
                    Ok(CreateOutcome::AlreadyExists(o)) => {
                        RowResult::ok(row, o, RowOutcome::AlreadyExists)
                    }
                    Ok(CreateOutcome::Conflict(o)) => RowResult::failed(
                        row,
                        o.details.identity_conflict(&o.order_id).0,
                        Some(order_number),
                        vec![FieldError::new(
                            identity_field,
                            format!(
                                "already exists with different details (order {})",
                                o.order_id
                            ),
                        )],
                    ),
                    Err(error) => {
                        tracing::error!(row, error = ?error, "import row failed");
                        RowResult::failed(
                            row,
                            "not_saved",
                            Some(order_number),
                            vec![FieldError::new(
                                "row",
                                "could not be saved; upload the file again to retry it",
                            )],
                        )
                    }
                }
            })
            .buffer_unordered(IMPORT_CONCURRENCY)
            .collect()
            .await;
        results.extend(created);
        results.sort_by_key(|r| r.row);
        let count = |outcome: RowOutcome| results.iter().filter(|r| r.result == outcome).count();
        let report = ImportReport {
            created: count(RowOutcome::Created),
            already_existed: count(RowOutcome::AlreadyExists),
            failed: count(RowOutcome::Error),
            rows: results,
        };
        Ok(json_response(StatusCode::OK, &report))
    }

    async fn list_orders(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let status = query_param(request, "status")
            .map(|s| {
                OrderStatus::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_status",
                        "status must be Processing or Completed.",
                    )
                })
            })
            .transpose()?;
        let shipment_status = query_param(request, "shipment_status")
            .map(|s| {
                ShipmentFilter::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_shipment_status",
                        format!(
                            "shipment_status must be one of {}.",
                            ShipmentFilter::names().join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        // Every parameter is checked before either path runs: a search must not quietly
        // ignore a filter it was given.
        let limit = tracking_http::page_limit(request)?;
        if let Some(term) = query_param(request, "q").filter(|q| !q.trim().is_empty()) {
            if term.chars().count() > 64 {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "The search term is longer than 64 characters.",
                ));
            }
            let orders = self
                .store
                .search_orders(&caller.merchant_id, &term)
                .await
                .map_err(ApiError::from)?;
            let orders: Vec<_> = orders
                .iter()
                .filter(|o| status.is_none_or(|s| o.status == s))
                .filter(|o| shipment_status.is_none_or(|f| f.matches(o)))
                .map(views::order_summary)
                .collect();
            return Ok(json_response(
                StatusCode::OK,
                &views::OrderPage {
                    orders,
                    next_cursor: None,
                },
            ));
        }
        let query = ListQuery {
            status,
            shipment_status,
            limit,
            // `?cursor=` (a form's empty field) is the first page.
            cursor: query_param(request, "cursor").filter(|c| !c.is_empty()),
        };
        let page = self
            .store
            .list_orders(&caller.merchant_id, &query)
            .await
            .map_err(|e| match e {
                ListError::InvalidCursor => ApiError::bad_request(
                    "invalid_cursor",
                    "The cursor is not valid for this list; start again without it.",
                ),
                ListError::Unexpected(e) => ApiError::Unexpected(e),
            })?;
        let orders: Vec<_> = page.orders.iter().map(views::order_summary).collect();
        Ok(json_response(
            StatusCode::OK,
            &views::OrderPage {
                orders,
                next_cursor: page.next_cursor,
            },
        ))
    }

    async fn order_details(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        // The order, its timeline and its claims: one Query of its partition.
        let found = self
            .store
            .order_with_claims(&order_id)
            .await
            .map_err(ApiError::from)?;
        let Some(found) = found.filter(|f| visible_to(caller, &f.order)) else {
            return Err(ApiError::OrderNotFound);
        };
        let timeline = views::full_timeline(&found.order, found.timeline);
        let context = ViewContext {
            now,
            origin_country: &self.config.origin_country,
            claim_policy: &self.claim_policy,
        };
        Ok(json_response(
            StatusCode::OK,
            &views::order_details(&found.order, &timeline, &found.claims, &context),
        ))
    }
}

/// The API's contract, as committed at the repository's root (generated from the types by
/// `./dev openapi`, and checked against them by the tests). Public: integrators and
/// client generators fetch it before they have a login.
pub const API_DOCUMENT: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"));

fn api_document() -> Response<Body> {
    let mut response = Response::new(Body::Text(API_DOCUMENT.to_owned()));
    let headers = response.headers_mut();
    headers.insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        lambda_http::http::header::CACHE_CONTROL,
        lambda_http::http::HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// A merchant sees only its own orders; operations staff see every merchant's.
pub fn visible_to(caller: &Identity, order: &Order) -> bool {
    caller.role == tracking_http::Role::Operations || order.merchant_id == caller.merchant_id
}

/// A file past a limit is well-formed but more than an import takes (422, with the limits
/// in `details`); a file we cannot read at all is a 400.
fn import_error(error: import::ImportError) -> ApiError {
    if error.is_limit() {
        ApiError::Unprocessable {
            code: error.code(),
            message: error.to_string(),
            details: serde_json::json!({
                "max_rows": import::MAX_IMPORT_ROWS,
                "max_columns": import::MAX_IMPORT_COLUMNS,
                "max_unpacked_bytes": import::MAX_XLSX_UNPACKED_BYTES,
            }),
        }
    } else {
        ApiError::bad_request(error.code(), error.to_string())
    }
}

/// What `POST /orders/import` made of a file: counts, and every row's outcome in file order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    pub created: usize,
    pub already_existed: usize,
    pub failed: usize,
    pub rows: Vec<RowResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    Created,
    /// The same order was imported or created before: nothing changed.
    AlreadyExists,
    Error,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RowResult {
    /// The row's number in the file, the header being row 1.
    pub row: usize,
    pub result: RowOutcome,
    /// Why a row failed, as a stable code (the errors say it in words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl RowResult {
    fn ok(row: usize, order: Order, result: RowOutcome) -> Self {
        Self {
            row,
            result,
            code: None,
            order_number: Some(order.details.order_number),
            order_id: Some(order.order_id),
            errors: Vec::new(),
        }
    }

    fn failed(
        row: usize,
        code: &'static str,
        order_number: Option<String>,
        errors: Vec<FieldError>,
    ) -> Self {
        Self {
            row,
            result: RowOutcome::Error,
            code: Some(code),
            order_number,
            order_id: None,
            errors,
        }
    }
}
