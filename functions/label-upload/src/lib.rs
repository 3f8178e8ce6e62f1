//! `label-upload`: operations attach carrier, service and tracking number to an order.
//!
//! This starts the order's clocks: Completed at 06:00 CT the next day, tracking valid
//! for 120 days, the first carrier scan expected by the end of the next business day.

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracking_aws::config::Env;
use tracking_aws::ports::{Orders, Timelines, TrackingNumbers};
use tracking_aws::store::optimistic::{until_won, Try};
use tracking_aws::store::{LabelOutcome, StoreError, VersionedOrder};
use tracking_aws::{Config, OrderStore, SdkConfig};
use tracking_domain::calendar;
use tracking_domain::carriers::{tracking_url_for, Carrier, TrackingNumber};
use tracking_domain::claims::LabelSource;
use tracking_domain::label::{self, Label, LabelDecision, LabelRefusal, VoidDecision};
use tracking_domain::order::{FieldError, Order, Shipment};
use tracking_domain::shipment::{parse_shipment_id, OPTIONAL_SHIPMENT_ID_PATTERN};
use tracking_domain::status::{OrderStatus, ShipmentStatus};
use tracking_http::{
    field_errors, identity, json_body, json_response, path_param, require_operations, ApiError,
};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct LabelRequest {
    /// Any letter case; spaces, dashes and underscores are ignored ("DHL Express").
    #[schemars(required, with = "Carrier")]
    pub carrier: Option<String>,
    /// The carrier's service level ("Ground"), as printed on the label.
    #[schemars(required, length(min = 1, max = 64))]
    pub service: Option<String>,
    /// Checked against the carrier's format and check digit; spaces and dashes are ignored.
    #[schemars(required, length(min = 1))]
    pub tracking_number: Option<String>,
    #[schemars(required, with = "LabelSource")]
    pub label_source: Option<String>,
    /// The package to relabel; without it the label is a new package.
    #[schemars(regex(pattern = OPTIONAL_SHIPMENT_ID_PATTERN))]
    pub shipment_id: Option<String>,
}

/// A valid upload: the label, and the package it replaces the label of, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub label: Label,
    pub shipment_id: Option<String>,
}

impl LabelRequest {
    pub fn parse(self) -> Result<Upload, Vec<FieldError>> {
        let mut errors = Vec::new();
        let shipment_id = parse_shipment_id(self.shipment_id.as_deref())
            .map_err(|e| errors.push(FieldError::new("shipment_id", e)))
            .ok()
            .flatten();
        let carrier = match self.carrier.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new("carrier", "is required"));
                None
            }
            Some(raw) => Carrier::parse(raw)
                .map_err(|e| errors.push(FieldError::new("carrier", e.to_string())))
                .ok(),
        };
        let service = self
            .service
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if service.is_empty() {
            errors.push(FieldError::new("service", "is required"));
        } else if service.chars().count() > 64 || service.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "service",
                "must be at most 64 printable characters",
            ));
        }
        let tracking_number = match (carrier, self.tracking_number.as_deref().map(str::trim)) {
            (_, None | Some("")) => {
                errors.push(FieldError::new("tracking_number", "is required"));
                None
            }
            (Some(carrier), Some(raw)) => TrackingNumber::parse(carrier, raw)
                .map_err(|e| errors.push(FieldError::new("tracking_number", e.to_string())))
                .ok(),
            (None, Some(_)) => None,
        };
        let label_source = match self.label_source.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new(
                    "label_source",
                    "is required (jetpack or prepaid)",
                ));
                None
            }
            Some(raw) => LabelSource::parse(raw).or_else(|| {
                errors.push(FieldError::new(
                    "label_source",
                    "must be jetpack or prepaid",
                ));
                None
            }),
        };
        match (carrier, tracking_number, label_source) {
            (Some(carrier), Some(tracking_number), Some(label_source)) if errors.is_empty() => {
                Ok(Upload {
                    label: Label {
                        carrier,
                        service,
                        tracking_number,
                        label_source,
                    },
                    shipment_id,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The package a label was put on, and where the order stands with it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LabelResponse<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub status: OrderStatus,
    pub shipment_status: ShipmentStatus,
    pub shipment_id: &'a str,
    /// Live packages of the order, this one included.
    pub packages: usize,
    /// 06:00 America/Chicago the day after the order's first label.
    pub completes_at: Option<DateTime<Utc>>,
    pub carrier: Carrier,
    pub service: &'a str,
    pub tracking_number: &'a str,
    pub tracking_url: Option<String>,
    pub tracking_expires_at: DateTime<Utc>,
    pub first_scan_due_at: DateTime<Utc>,
    pub label_source: LabelSource,
}

/// A voided package, and where the order stands without it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct VoidResponse<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub status: OrderStatus,
    pub shipment_status: ShipmentStatus,
    /// `null` once the order has no live label left before 06:00 CT.
    pub completes_at: Option<DateTime<Utc>>,
    pub shipment_id: &'a str,
    pub voided_at: Option<DateTime<Utc>>,
    /// Live packages left.
    pub packages: usize,
}

fn label_response<'a>(order: &'a Order, shipment: &'a Shipment) -> LabelResponse<'a> {
    LabelResponse {
        order_id: &order.order_id,
        order_number: &order.details.order_number,
        status: order.status,
        shipment_status: order.shipment_status,
        shipment_id: &shipment.shipment_id,
        packages: order.live_shipments().count(),
        completes_at: order.completes_at,
        carrier: shipment.carrier,
        service: &shipment.service,
        tracking_number: &shipment.tracking_number,
        tracking_url: tracking_url_for(shipment.carrier.code(), &shipment.tracking_number),
        tracking_expires_at: shipment.tracking_expires_at,
        first_scan_due_at: calendar::first_scan_due(shipment.label_created_at),
        label_source: shipment.label_source,
    }
}

/// The handler, over any store that keeps orders and tracking numbers: DynamoDB when
/// deployed, [`tracking_aws::memory::MemoryStore`] in the handler tests.
pub struct LabelUpload<S = OrderStore> {
    store: S,
}

impl LabelUpload {
    /// The function as deployed, from its environment (template.yaml sets it): `main.rs`,
    /// the tests and the local runner all build it here, so they cannot drift.
    pub fn build(sdk: &SdkConfig, env: Env) -> anyhow::Result<Self> {
        let config = Config::from_lookup(env)?;
        Ok(Self::new(OrderStore::from_sdk(sdk, &config.table_name)))
    }
}

impl<S: Orders + Timelines + TrackingNumbers> LabelUpload<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// The same handler over another store: the integration tests build the function as
    /// deployed and swap in a store that counts its requests.
    pub fn with_store<T: Orders + Timelines + TrackingNumbers>(self, store: T) -> LabelUpload<T> {
        LabelUpload { store }
    }

    pub async fn handle(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let span =
            tracing::info_span!("request", request_id = %tracking_http::request_id(&request));
        async {
            match self.upload(&request, now).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            }
        }
        .instrument(span)
        .await
    }

    async fn upload(
        &self,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let route = tracking_http::route_key(request);
        let void = match route.as_str() {
            "POST /orders/{order_id}/label" => false,
            "POST /orders/{order_id}/shipments/{shipment_id}/void" => true,
            _ => return Err(ApiError::RouteNotFound(route)),
        };
        let caller = identity(request)?;
        require_operations(&caller)?;
        let order_id = path_param(request, "order_id")?;
        if void {
            let shipment_id = parse_shipment_id(Some(&path_param(request, "shipment_id")?))
                .ok()
                .flatten()
                .ok_or_else(|| ApiError::NotFound {
                    code: "shipment_not_found",
                    message: "This order has no such package.".into(),
                })?;
            return self.void(&order_id, &shipment_id, now).await;
        }
        let upload = json_body::<LabelRequest>(request)?
            .parse()
            .map_err(field_errors)?;
        let label = &upload.label;
        tracing::info!(%order_id, carrier = %label.carrier, tracking_number = %label.tracking_number, shipment_id = ?upload.shipment_id, "attaching label");
        let (order_id, upload) = (&order_id, &upload);
        until_won(|| async move {
            let read = self.read(order_id).await?;
            let change = match label::attach(&read.order, label, upload.shipment_id.as_deref(), now)
            {
                LabelDecision::AlreadyAttached { shipment_id } => {
                    let shipment = read.order.shipment(&shipment_id).ok_or_else(|| {
                        ApiError::Unexpected(anyhow::anyhow!("attached label lost its package"))
                    })?;
                    return Ok(Try::Done(json_response(
                        StatusCode::OK,
                        &label_response(&read.order, shipment),
                    )));
                }
                LabelDecision::Refused(refusal) => return Err(refused(refusal, upload)),
                LabelDecision::Attach(change) => *change,
            };
            match self.store.attach_label(&read, &change).await {
                Ok(LabelOutcome::Attached(order)) => {
                    let shipment = order.shipment(&change.shipment_id).ok_or_else(|| {
                        ApiError::Unexpected(anyhow::anyhow!("attached order lost its package"))
                    })?;
                    Ok(Try::Done(json_response(
                        StatusCode::CREATED,
                        &label_response(&order, shipment),
                    )))
                }
                Ok(LabelOutcome::TrackingNumberInUse) => {
                    // A concurrent retry of this very upload claims the number first; only
                    // another order holding it is a real conflict.
                    let owner = self
                        .store
                        .order_for_tracking(label.carrier.code(), label.tracking_number.as_str())
                        .await
                        .map_err(ApiError::from)?;
                    if owner.is_some_and(|o| o.order_id == *order_id) {
                        return Ok(Try::LostRace);
                    }
                    Err(ApiError::conflict(
                        "tracking_number_in_use",
                        format!(
                            "{} tracking number {} is already used by another order.",
                            label.carrier.display_name(),
                            label.tracking_number
                        ),
                    ))
                }
                Err(StoreError::Contention) => Ok(Try::LostRace),
                Err(StoreError::Unexpected(e)) => Err(ApiError::Unexpected(e)),
            }
        })
        .await
    }

    /// Voids a package's label; again is the same answer and writes nothing.
    async fn void(
        &self,
        order_id: &str,
        shipment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        tracing::info!(%order_id, %shipment_id, "voiding label");
        until_won(|| async move {
            let read = self.read(order_id).await?;
            let change = match label::void(&read.order, shipment_id, now) {
                VoidDecision::AlreadyVoided => {
                    return Ok(Try::Done(void_response(&read.order, shipment_id)));
                }
                VoidDecision::Refused(LabelRefusal::AlreadyScanned { existing }) => {
                    return Err(ApiError::conflict(
                        "shipment_already_scanned",
                        format!(
                            "Package {shipment_id} ({} tracking {}) has been scanned by the carrier, so its label can no longer be voided.",
                            existing.carrier.display_name(),
                            existing.tracking_number
                        ),
                    ));
                }
                VoidDecision::Refused(_) => {
                    return Err(ApiError::NotFound {
                        code: "shipment_not_found",
                        message: format!("This order has no package {shipment_id}."),
                    });
                }
                VoidDecision::Void(change) => *change,
            };
            Ok(Try::of(self.store.void_label(&read, &change).await)?
                .map(|()| void_response(&change.order, shipment_id)))
        })
        .await
    }

    /// The order with its timeline folded in (one Query), so a carrier scan whose order
    /// refresh is still to come already counts: a scanned package is never relabeled or
    /// voided. The version is the one read, so the write still checks it.
    async fn read(&self, order_id: &str) -> Result<VersionedOrder, ApiError> {
        let read = self
            .store
            .order_with_timeline(order_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::OrderNotFound)?;
        let order = read
            .order
            .refreshed_from(&read.timeline, read.order.updated_at)
            .unwrap_or(read.order);
        Ok(VersionedOrder {
            order,
            version: read.version,
        })
    }
}

fn void_response(order: &Order, shipment_id: &str) -> Response<Body> {
    let voided_at = order.shipment(shipment_id).and_then(|s| s.voided_at);
    json_response(
        StatusCode::OK,
        &VoidResponse {
            order_id: &order.order_id,
            order_number: &order.details.order_number,
            status: order.status,
            shipment_status: order.shipment_status,
            completes_at: order.completes_at,
            shipment_id,
            voided_at,
            packages: order.live_shipments().count(),
        },
    )
}

/// The answer to a label the order cannot take, each with its own code.
fn refused(refusal: LabelRefusal, upload: &Upload) -> ApiError {
    let named = upload.shipment_id.as_deref().unwrap_or_default();
    match refusal {
        LabelRefusal::UnknownShipment => ApiError::NotFound {
            code: "shipment_not_found",
            message: format!("This order has no package {named}."),
        },
        LabelRefusal::ShipmentVoided => ApiError::conflict(
            "shipment_voided",
            format!("Package {named} was voided. Upload the label without a shipment_id to add it as a new package."),
        ),
        LabelRefusal::AlreadyScanned { existing } => ApiError::conflict(
            "shipment_already_scanned",
            format!(
                "Package {named} ({} tracking {}) has been scanned by the carrier, so its label can no longer be replaced. Upload the label without a shipment_id to add a new package.",
                existing.carrier.display_name(),
                existing.tracking_number
            ),
        ),
        LabelRefusal::OnAnotherShipment { existing } => ApiError::conflict(
            "label_on_another_shipment",
            format!(
                "{} tracking {} is already on package {} of this order.",
                existing.carrier.display_name(),
                existing.tracking_number,
                existing.shipment_id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(carrier: &str, number: &str, source: &str) -> LabelRequest {
        LabelRequest {
            carrier: Some(carrier.into()),
            service: Some("ground".into()),
            tracking_number: Some(number.into()),
            label_source: Some(source.into()),
            shipment_id: None,
        }
    }

    #[test]
    fn valid_ups_label_parses() {
        let upload = request("UPS", "1Z999AA10123456784", "jetpack")
            .parse()
            .unwrap();
        assert_eq!(upload.label.carrier, Carrier::Ups);
        assert_eq!(upload.label.label_source, LabelSource::Jetpack);
        assert_eq!(upload.shipment_id, None);
        let relabel = LabelRequest {
            shipment_id: Some(" SHP-7F3A9C2D1E ".into()),
            ..request("ups", "1Z999AA10123456784", "jetpack")
        };
        assert_eq!(
            relabel.parse().unwrap().shipment_id.as_deref(),
            Some("SHP-7F3A9C2D1E")
        );
        let odd = LabelRequest {
            shipment_id: Some("../x".into()),
            ..request("ups", "1Z999AA10123456784", "jetpack")
        };
        assert_eq!(odd.parse().unwrap_err()[0].field, "shipment_id");
    }

    #[test]
    fn unknown_carrier_bad_number_and_source_are_all_reported() {
        let errors = request("pigeon", "123", "gift").parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["carrier", "label_source"]);
        let errors = request("ups", "1Z999AA10123456785", "jetpack")
            .parse()
            .unwrap_err();
        assert_eq!(errors[0].field, "tracking_number");
    }
}
