//! `claims-intake`: lost-in-transit, damaged and misdelivery claims.
//!
//! Routes (the HTTP API's route keys, see template.yaml):
//! - `POST /orders/{order_id}/claims`: file a claim. Eligibility is decided by
//!   `tracking_domain::claims::decide` from the stored shipment and timeline only; the
//!   body adds evidence. 201 with the claim; 200 with the same claim for a retry (same
//!   body, or same `Idempotency-Key`); 409 `idempotency_key_reused` for another body
//!   under a used key; 422 with the refusal's stable code, its sentence and `opens_at`
//!   when it is only too early.
//! - `GET /orders/{order_id}/claims`: the order's claims, newest first.
//! - `GET /claims`: the merchant's claims, newest first, `state=`, `limit`, `cursor`.
//!
//! The handler is a plain async function of (request, now) so tests drive it with the
//! events in `events/claims-intake/` and any clock they like.

pub mod request;

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use tracing::Instrument;
use tracking_aws::config::Env;
use tracking_aws::ports::Claims;
use tracking_aws::store::claims::{ClaimPage, ClaimQuery, OrderClaims};
use tracking_aws::store::optimistic::{until_won, Try};
use tracking_aws::store::{ListError, StoreError};
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::claims::{
    self, decide, ClaimPolicy, ClaimRecord, ClaimState, ClaimType, MoveDecision, Refusal,
    RefusalCode, ShipmentFacts,
};
use tracking_domain::order::{is_international, Order, Shipment};
use tracking_domain::timeline::{business_offset_minutes, short_hash, EventType, TimelineEvent};
use tracking_http::{
    field_errors, identity, json_body, json_response, path_param, query_param, require_operations,
    ApiError, ErrorBody, Identity, Role,
};

use request::{claim_id, ClaimRequest, IdempotencyKey, Submission, TransitionRequest};

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The handler, over any store that keeps claims: DynamoDB when deployed,
/// [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct ClaimsIntake<S = OrderStore> {
    store: S,
    config: Config,
    policy: ClaimPolicy,
}

/// Why a request did not produce a claim: an ordinary API error, or a claim the rules
/// refuse, answered with the refusal's own code, sentence and opening date.
#[derive(Debug)]
enum Failure {
    Api(ApiError),
    Refused {
        refusal: Refusal,
        claim_type: ClaimType,
        open_claim_id: Option<String>,
    },
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

impl Failure {
    fn refused(refusal: Refusal, claim_type: ClaimType) -> Self {
        Self::Refused {
            refusal,
            claim_type,
            open_claim_id: None,
        }
    }

    fn into_response(self) -> Response<Body> {
        match self {
            Self::Api(error) => error.into_response(),
            Self::Refused {
                refusal,
                claim_type,
                open_claim_id,
            } => {
                tracing::info!(
                    code = refusal.code.as_str(),
                    claim_type = claim_type.as_str(),
                    "claim refused"
                );
                tracking_http::error_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorBody {
                        claim_type: Some(claim_type),
                        opens_at: refusal.opens_at,
                        open_claim_id: open_claim_id.as_deref(),
                        ..ErrorBody::new(refusal.code.as_str(), &refusal.message)
                    },
                )
            }
        }
    }
}

pub use tracking_http::views::{claim_view, ClaimView};

/// `GET /orders/{order_id}/claims`: the order's claims, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimsOfOrder<'a> {
    pub order_id: &'a str,
    pub claims: Vec<ClaimView<'a>>,
}

/// A page of `GET /claims`; `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimList<'a> {
    pub claims: Vec<ClaimView<'a>>,
    pub next_cursor: Option<String>,
}

/// A merchant sees only its own orders; operations staff see every merchant's, as in
/// the orders API, so they can file on a merchant's behalf.
fn visible_to(caller: &Identity, order: &Order) -> bool {
    caller.role == Role::Operations || order.merchant_id == caller.merchant_id
}

fn not_shipped() -> Refusal {
    Refusal {
        code: RefusalCode::NotShipped,
        message: "This order has no shipping label yet, so there is no carrier shipment to claim against.".into(),
        opens_at: None,
    }
}

/// The package a claim is for: the one it names, or the order's only live package.
fn claimed_package<'a>(order: &'a Order, submission: &Submission) -> Result<&'a Shipment, Failure> {
    let claim_type = submission.claim_type;
    match submission.shipment_id.as_deref() {
        Some(id) => match order.shipment(id) {
            Some(shipment) if shipment.is_live() => Ok(shipment),
            Some(_) => Err(Failure::refused(
                Refusal {
                    code: RefusalCode::NotShipped,
                    message: format!("Package {id} was voided before the carrier had it, so there is no carrier shipment to claim against."),
                    opens_at: None,
                },
                claim_type,
            )),
            None => Err(ApiError::NotFound {
                code: "shipment_not_found",
                message: format!("This order has no package {id}."),
            }
            .into()),
        },
        None => {
            let mut live = order.live_shipments();
            match (live.next(), live.next()) {
                (None, _) => Err(Failure::refused(not_shipped(), claim_type)),
                (Some(only), None) => Ok(only),
                (Some(_), Some(_)) => Err(ApiError::Validation {
                    message: "This order ships as several packages: say which one the claim is for.".into(),
                    details: serde_json::json!([{
                        "field": "shipment_id",
                        "message": format!(
                            "is required: one of {}",
                            order.live_shipments().map(|s| s.shipment_id.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    }]),
                }
                .into()),
            }
        }
    }
}

fn type_label(claim_type: ClaimType) -> &'static str {
    match claim_type {
        ClaimType::LostInTransit => "Lost in transit",
        ClaimType::Damaged => "Damaged",
        ClaimType::Misdelivery => "Misdelivery",
    }
}

/// The claim's timeline row id derives from the claim id, so a retry can never add a
/// second row for one claim.
pub fn claim_filed_event_id(claim_id: &str) -> String {
    short_hash(&format!("claim-filed\u{0}{claim_id}"))
}

/// The timeline row of a filed claim.
pub fn claim_filed_event(claim: &ClaimRecord, carrier_name: &str) -> TimelineEvent {
    let reference = claim
        .carrier_reference
        .as_deref()
        .map(|r| format!("; carrier reference {r}"))
        .unwrap_or_default();
    TimelineEvent {
        shipment_id: claim.shipment_id.clone(),
        replaces: None,
        event_id: claim.event_id.clone(),
        kind: EventType::ClaimFiled,
        status: None,
        code: "CLAIM_FILED".into(),
        description: format!(
            "{} claim {} filed with {carrier_name}{reference}",
            type_label(claim.claim_type),
            claim.claim_id
        ),
        occurred_at: claim.created_at,
        utc_offset_minutes: business_offset_minutes(claim.created_at),
        recorded_at: claim.created_at,
        location: None,
        carrier: Some(claim.carrier.clone()),
        tracking_number: Some(claim.tracking_number.clone()),
        exception_reason: None,
        handoff: None,
    }
}

impl ClaimsIntake {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`,
    /// the tests and the local runner all build it here, so they cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        Ok(Self::new(
            OrderStore::from_sdk(sdk, &config.table_name),
            config,
        ))
    }
}

impl<S: Claims> ClaimsIntake<S> {
    pub fn new(store: S, config: Config) -> Self {
        Self {
            store,
            config,
            policy: ClaimPolicy::default(),
        }
    }

    /// The same handler over another store: the integration tests build the function as
    /// deployed and swap in a store that counts its requests.
    pub fn with_store<T: Claims>(self, store: T) -> ClaimsIntake<T> {
        ClaimsIntake {
            store,
            config: self.config,
            policy: self.policy,
        }
    }

    pub async fn handle(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let route = tracking_http::route_key(&request);
        let span = tracing::info_span!("request", route = %route, request_id = %tracking_http::request_id(&request));
        async {
            match self.route(&route, &request, now).await {
                Ok(response) => response,
                Err(failure) => failure.into_response(),
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
    ) -> Result<Response<Body>, Failure> {
        let caller = identity(request)?;
        match route {
            "POST /orders/{order_id}/claims" => self.file_claim(&caller, request, now).await,
            "GET /orders/{order_id}/claims" => Ok(self.order_claims(&caller, request).await?),
            "GET /claims" => Ok(self.merchant_claims(&caller, request).await?),
            "POST /orders/{order_id}/claims/{claim_id}/transitions" => {
                Ok(self.move_claim(&caller, request, now).await?)
            }
            other => Err(ApiError::RouteNotFound(other.to_owned()).into()),
        }
    }

    /// Operations move a claim one step on; the same step again answers the same.
    async fn move_claim(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        require_operations(caller)?;
        let order_id = path_param(request, "order_id")?;
        let claim_id = path_param(request, "claim_id")?;
        let step = json_body::<TransitionRequest>(request)?
            .parse()
            .map_err(field_errors)?;
        let (order_id, claim_id, step) = (&order_id, &claim_id, &step);
        let span =
            tracing::info_span!("claim step", %order_id, %claim_id, to = step.target().as_str());
        until_won(|| async move {
            let found = self.read_order(caller, order_id).await?;
            let claim = found
                .claims
                .iter()
                .find(|c| c.claim_id == *claim_id)
                .ok_or_else(|| ApiError::NotFound {
                    code: "claim_not_found",
                    message: format!("This order has no claim {claim_id}."),
                })?;
            match claims::transition(claim, step, now) {
                MoveDecision::AlreadyDone => {
                    Ok(Try::Done(json_response(StatusCode::OK, &claim_view(claim))))
                }
                MoveDecision::Refused(refusal) => {
                    Err(ApiError::conflict(refusal.code(), refusal.message()))
                }
                MoveDecision::Move { claim, from, event } => {
                    let moved = Try::of(self.store.move_claim(&claim, from, *event).await)
                        .map_err(ApiError::from)?;
                    Ok(moved.map(|()| {
                        tracing::info!(state = claim.state.as_str(), "claim moved");
                        json_response(StatusCode::OK, &claim_view(&claim))
                    }))
                }
            }
        })
        .instrument(span)
        .await
    }

    async fn read_order(&self, caller: &Identity, order_id: &str) -> Result<OrderClaims, ApiError> {
        self.store
            .order_with_claims(order_id)
            .await
            .map_err(ApiError::from)?
            .filter(|found| visible_to(caller, &found.order))
            .ok_or(ApiError::OrderNotFound)
    }

    async fn file_claim(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Failure> {
        let order_id = path_param(request, "order_id")?;
        let key = match request.headers().get(IDEMPOTENCY_KEY_HEADER) {
            Some(value) => IdempotencyKey::parse(value.as_bytes())
                .map_err(|message| ApiError::bad_request("invalid_idempotency_key", message))?,
            None => None,
        };
        let submission = json_body::<ClaimRequest>(request)?
            .parse()
            .map_err(field_errors)?;
        let claim_type = submission.claim_type;
        let span = tracing::info_span!("claim", %order_id, claim_type = claim_type.as_str());
        async {
            let (order_id, submission, key) = (&order_id, &submission, &key);
            until_won(|| async move {
                let found = self.read_order(caller, order_id).await?;
                // The order's merchant, not the caller, owns the claim: an operations
                // colleague filing on a merchant's behalf files the merchant's claim.
                let id = claim_id(
                    &found.order.merchant_id,
                    order_id,
                    submission,
                    key.as_ref(),
                );
                if let Some(existing) = found.claims.iter().find(|c| c.claim_id == id) {
                    return if existing.request_fingerprint == submission.fingerprint() {
                        tracing::info!(claim_id = %id, "claim already filed: returning it");
                        Ok(Try::Done(json_response(StatusCode::OK, &claim_view(existing))))
                    } else {
                        Err(ApiError::conflict(
                            "idempotency_key_reused",
                            format!(
                                "This Idempotency-Key was already used for claim {} with different details. Use a new key for a new claim, or send exactly the same claim to retry.",
                                existing.claim_id
                            ),
                        )
                        .into())
                    };
                }
                let claim = self.decide(&found, submission, id, now)?;
                let carrier_name = tracking_http::views::carrier_name(&claim.carrier);
                let event = claim_filed_event(&claim, &carrier_name);
                let filed = Try::of(self.store.file_claim(found.version, &claim, event).await)
                    .map_err(ApiError::from)?;
                Ok(filed.map(|()| {
                    tracing::info!(claim_id = %claim.claim_id, "claim filed");
                    json_response(StatusCode::CREATED, &claim_view(&claim))
                }))
            })
            .await
        }
        .instrument(span)
        .await
    }

    /// Applies the rules to the order as stored and builds the claim to file.
    fn decide(
        &self,
        found: &OrderClaims,
        submission: &Submission,
        claim_id: String,
        now: DateTime<Utc>,
    ) -> Result<ClaimRecord, Failure> {
        let claim_type = submission.claim_type;
        let order = &found.order;
        let shipment = claimed_package(order, submission)?;
        if let Some(open) = found
            .claims
            .iter()
            .find(|c| c.claim_type == claim_type && c.state.is_open() && c.is_on(order, shipment))
        {
            return Err(Failure::Refused {
                refusal: Refusal::duplicate(claim_type),
                claim_type,
                open_claim_id: Some(open.claim_id.clone()),
            });
        }
        let international = is_international(&self.config.origin_country, &order.details.ship_to);
        let facts = ShipmentFacts {
            label_source: shipment.label_source,
            label_created_at: shipment.label_created_at,
            international,
            ship_to_country: &order.details.ship_to.country,
            timeline: &order.rows_of(shipment, &found.timeline),
        };
        decide(
            claim_type,
            &facts,
            &submission.evidence(),
            &self.policy,
            now,
        )
        .map_err(|refusal| Failure::refused(refusal, claim_type))?;
        Ok(ClaimRecord {
            event_id: claim_filed_event_id(&claim_id),
            history: Vec::new(),
            claim_id,
            order_id: order.order_id.clone(),
            merchant_id: order.merchant_id.clone(),
            order_number: order.details.order_number.clone(),
            claim_type,
            state: ClaimState::Open,
            description: submission.description.clone(),
            carrier_reference: submission.carrier_reference.clone(),
            shipment_id: Some(shipment.shipment_id.clone()),
            carrier: shipment.carrier.code().to_owned(),
            tracking_number: shipment.tracking_number.clone(),
            international,
            created_at: now,
            updated_at: now,
            request_fingerprint: submission.fingerprint(),
        })
    }

    async fn order_claims(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let found = self.read_order(caller, &order_id).await?;
        let claims: Vec<_> = found.claims.iter().map(claim_view).collect();
        Ok(json_response(
            StatusCode::OK,
            &ClaimsOfOrder {
                order_id: &found.order.order_id,
                claims,
            },
        ))
    }

    async fn merchant_claims(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let state = query_param(request, "state")
            .map(|s| {
                ClaimState::parse(&s).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_state",
                        format!(
                            "state must be one of {}.",
                            ClaimState::ALL.map(|s| s.as_str()).join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        let limit = tracking_http::page_limit(request)?;
        let query = ClaimQuery {
            state,
            limit,
            // `?cursor=` (a form's empty field) is the first page.
            cursor: query_param(request, "cursor").filter(|c| !c.is_empty()),
        };
        let ClaimPage {
            claims,
            next_cursor,
        } = self
            .store
            .list_claims(&caller.merchant_id, &query)
            .await
            .map_err(|e| match e {
                ListError::InvalidCursor => ApiError::bad_request(
                    "invalid_cursor",
                    "The cursor is not valid for this list; start again without it.",
                ),
                ListError::Unexpected(e) => ApiError::Unexpected(e),
            })?;
        let claims: Vec<_> = claims.iter().map(claim_view).collect();
        Ok(json_response(
            StatusCode::OK,
            &ClaimList {
                claims,
                next_cursor,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record() -> ClaimRecord {
        let at = Utc.with_ymd_and_hms(2026, 9, 20, 15, 0, 0).unwrap();
        ClaimRecord {
            claim_id: "clm_1".into(),
            order_id: "ord_1".into(),
            merchant_id: "m".into(),
            order_number: "1001".into(),
            claim_type: ClaimType::Misdelivery,
            state: ClaimState::Open,
            description: "Left at the wrong house.".into(),
            carrier_reference: Some("UPS-INV-7781".into()),
            shipment_id: Some("SHP-0000000001".into()),
            carrier: "ups".into(),
            tracking_number: "1Z999AA10123456784".into(),
            international: false,
            created_at: at,
            updated_at: at,
            request_fingerprint: "f".into(),
            event_id: claim_filed_event_id("clm_1"),
            history: Vec::new(),
        }
    }

    #[test]
    fn claim_filed_row_names_the_claim_and_the_reference_and_moves_no_status() {
        let claim = record();
        let event = claim_filed_event(&claim, "UPS");
        assert_eq!(event.event_id, claim.event_id);
        assert_eq!(event.kind, EventType::ClaimFiled);
        assert_eq!(event.status, None);
        assert_eq!(
            event.description,
            "Misdelivery claim clm_1 filed with UPS; carrier reference UPS-INV-7781"
        );
        assert_eq!(event.utc_offset_minutes, -300);
    }

    #[test]
    fn refusal_body_carries_code_sentence_and_opening_date() {
        let opens_at = Utc.with_ymd_and_hms(2026, 9, 17, 15, 0, 0).unwrap();
        let response = Failure::refused(
            Refusal {
                code: RefusalCode::WindowNotOpen,
                message: "Too early.".into(),
                opens_at: Some(opens_at),
            },
            ClaimType::LostInTransit,
        )
        .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let Body::Text(text) = response.body() else {
            panic!("json body expected");
        };
        let body: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["error"]["code"], "window_not_open");
        assert_eq!(body["error"]["message"], "Too early.");
        assert_eq!(body["error"]["opens_at"], "2026-09-17T15:00:00Z");
        assert_eq!(body["error"]["claim_type"], "lost_in_transit");
    }

    #[test]
    fn claim_view_hides_the_fingerprint_and_links_the_tracking() {
        let claim = record();
        let view = serde_json::to_value(claim_view(&claim)).unwrap();
        assert!(view.get("request_fingerprint").is_none());
        assert_eq!(view["type"], "misdelivery");
        assert_eq!(view["state"], "filed");
        assert_eq!(view["carrier_name"], "UPS");
        assert!(view["tracking_url"]
            .as_str()
            .unwrap()
            .contains("1Z999AA10123456784"));
    }
}
