//! The JSON shapes the API promises (DESIGN.md "Interfaces"), built from domain values.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use tracking_domain::calendar;
use tracking_domain::carriers::{tracking_url_for, Carrier};
use tracking_domain::claims::{
    self, ClaimClock, ClaimPolicy, ClaimRecord, ClaimState, ClaimStep, ClaimType, ShipmentFacts,
};
use tracking_domain::order::{Address, Order, OrderSource, Shipment};
use tracking_domain::shipment::PackageSummary;
use tracking_domain::status::{OrderStatus, ShipmentStatus};
use tracking_domain::timeline::{
    business_offset_minutes, EventType, Location, Timeline, TimelineEvent,
};

/// What the details and list views need besides the order itself.
#[derive(Debug, Clone, Copy)]
pub struct ViewContext<'a> {
    pub now: DateTime<Utc>,
    pub origin_country: &'a str,
    pub claim_policy: &'a ClaimPolicy,
}

/// An order as created and as listed (`Order` in the API document; `OrderDetails` is the
/// whole of one order).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "Order")]
pub struct OrderSummary<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub source: OrderSource,
    /// The store's own id of a store order (`shopify`, `amazon`).
    pub external_order_id: Option<&'a str>,
    pub status: OrderStatus,
    /// The least advanced package's status; `exception` while any package is in exception.
    pub shipment_status: ShipmentStatus,
    pub created_at: DateTime<Utc>,
    pub completes_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The first package's label, for clients written before orders had several.
    pub carrier: Option<Carrier>,
    pub tracking_number: Option<&'a str>,
    pub tracking_url: Option<String>,
    /// Every live package, in the order they were added.
    pub shipments: Vec<PackageBrief<'a>>,
    pub packages: PackageSummary,
}

/// A page of `GET /orders`: pass `next_cursor` back as `cursor` for the next one; `null`
/// on the last page (and for a search, which answers in one page).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OrderPage<'a> {
    pub orders: Vec<OrderSummary<'a>>,
    pub next_cursor: Option<String>,
}

/// A package as the orders list shows it: its Shipment ID and tracking.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PackageBrief<'a> {
    pub shipment_id: &'a str,
    pub status: ShipmentStatus,
    pub carrier: Carrier,
    pub tracking_number: &'a str,
    pub tracking_url: Option<String>,
}

fn package_brief(shipment: &Shipment) -> PackageBrief<'_> {
    PackageBrief {
        shipment_id: &shipment.shipment_id,
        status: shipment.status,
        carrier: shipment.carrier,
        tracking_number: &shipment.tracking_number,
        tracking_url: tracking_url_for(shipment.carrier.code(), &shipment.tracking_number),
    }
}

pub fn order_summary(order: &Order) -> OrderSummary<'_> {
    let first = order.live_shipments().next();
    OrderSummary {
        order_id: &order.order_id,
        order_number: &order.details.order_number,
        source: order.details.source,
        external_order_id: order.details.external_order_id.as_deref(),
        status: order.status,
        shipment_status: order.shipment_status,
        created_at: order.created_at,
        completes_at: order.completes_at,
        completed_at: order.completed_at,
        carrier: first.map(|s| s.carrier),
        tracking_number: first.map(|s| s.tracking_number.as_str()),
        tracking_url: first.and_then(|s| tracking_url_for(s.carrier.code(), &s.tracking_number)),
        shipments: order.live_shipments().map(package_brief).collect(),
        packages: order.package_summary(),
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StoreSync {
    pub automatic: bool,
    pub message: &'static str,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HandoffView {
    pub carrier: String,
    pub tracking_number: String,
    /// `None` for a carrier we have no tracking page for: no link beats a broken one.
    pub tracking_url: Option<String>,
    /// International final-mile carriers often report little back.
    pub detail_may_be_limited: bool,
    pub note: Option<&'static str>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimWindows {
    pub lost_in_transit: ClaimClock,
    pub damaged: ClaimClock,
    pub misdelivery: ClaimClock,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ShipmentView {
    pub shipment_id: String,
    /// Operations voided this label before the carrier scanned it.
    pub voided_at: Option<DateTime<Utc>>,
    pub status: ShipmentStatus,
    pub status_label: &'static str,
    pub carrier: Carrier,
    pub carrier_name: &'static str,
    pub service: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub label_source: tracking_domain::claims::LabelSource,
    pub label_created_at: DateTime<Utc>,
    pub tracking_expires_at: DateTime<Utc>,
    /// Past 120 days the carrier drops the tracking; the link is kept but marked.
    pub tracking_expired: bool,
    pub handoff: Option<HandoffView>,
    pub first_scan_due_at: DateTime<Utc>,
    pub first_scan_late: bool,
    pub stalled: bool,
    pub international: bool,
    pub claim_windows: ClaimWindows,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TimelineRow<'a> {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub status: Option<ShipmentStatus>,
    pub status_label: &'static str,
    pub code: &'a str,
    pub description: &'a str,
    pub occurred_at: DateTime<Utc>,
    /// The time where it happened, with that place's offset.
    pub local_time: DateTime<FixedOffset>,
    pub utc_offset: String,
    pub recorded_at: DateTime<Utc>,
    pub location: Option<&'a Location>,
    pub location_display: Option<String>,
    pub carrier: Option<&'a str>,
    pub tracking_number: Option<&'a str>,
    pub exception_reason: Option<&'a str>,
    pub handoff: Option<&'a tracking_domain::timeline::Handoff>,
    /// The package the row is about; `None` on order-level rows.
    pub shipment_id: Option<&'a str>,
    /// Set on a package's first carrier scan when it came after the end of the next
    /// business day after its label.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OrderDetails<'a> {
    pub order_id: &'a str,
    pub order_number: &'a str,
    pub source: OrderSource,
    pub external_order_id: Option<&'a str>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub completes_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub customer: &'a tracking_domain::order::Customer,
    pub ship_to: &'a Address,
    /// The least advanced package's status; worded as the package's own while the
    /// order has one package ("Pick Up Scan from Dock").
    pub shipment_status: ShipmentStatus,
    pub shipment_status_label: &'static str,
    pub packages: PackageSummary,
    pub store_sync: StoreSync,
    /// The first live package, for clients written before orders had several.
    pub shipment: Option<ShipmentView>,
    /// The shipment breakdown: every package, voided ones included, in the order added.
    pub shipments: Vec<ShipmentView>,
    /// Every package's rows and the order's own, interleaved by time.
    pub timeline: Vec<TimelineRow<'a>>,
    /// The order's claims, newest first, each with its state and history.
    pub claims: Vec<ClaimView<'a>>,
}

/// The "received" row is derived from the order itself rather than stored, so that
/// creating an order stays a single conditional write.
fn received_event(order: &Order) -> TimelineEvent {
    TimelineEvent {
        shipment_id: None,
        replaces: None,
        event_id: "order-received".into(),
        kind: EventType::OrderReceived,
        status: Some(ShipmentStatus::Received),
        code: "ORDER_RECEIVED".into(),
        description: format!(
            "Order received ({})",
            match order.details.source {
                tracking_domain::order::OrderSource::Manual => "created manually",
                tracking_domain::order::OrderSource::Excel => "spreadsheet upload",
                tracking_domain::order::OrderSource::Shopify => "imported from Shopify",
                tracking_domain::order::OrderSource::Amazon => "imported from Amazon",
                tracking_domain::order::OrderSource::Api => "created through the API",
            }
        ),
        occurred_at: order.created_at,
        utc_offset_minutes: business_offset_minutes(order.created_at),
        recorded_at: order.created_at,
        location: None,
        carrier: None,
        tracking_number: None,
        exception_reason: None,
        handoff: None,
    }
}

/// The order's timeline including the derived "received" row.
pub fn full_timeline(order: &Order, stored: Timeline) -> Timeline {
    let mut timeline = stored;
    timeline.insert(received_event(order));
    timeline
}

fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// One package's view; `timeline` is the package's own rows.
fn shipment_view(
    order: &Order,
    shipment: &Shipment,
    timeline: &Timeline,
    context: &ViewContext<'_>,
) -> ShipmentView {
    let international =
        tracking_domain::order::is_international(context.origin_country, &order.details.ship_to);
    let facts = ShipmentFacts {
        label_source: shipment.label_source,
        label_created_at: shipment.label_created_at,
        international,
        ship_to_country: &order.details.ship_to.country,
        timeline,
    };
    let clock = |t| claims::clock(t, &facts, context.claim_policy, context.now);
    let expired = shipment.tracking_expired
        || calendar::is_tracking_expired(shipment.label_created_at, context.now);
    let handoff = shipment.handoff.as_ref().map(|h| {
        let limited = international && !h.carrier.eq_ignore_ascii_case("usps");
        HandoffView {
            carrier: h.carrier.clone(),
            tracking_number: h.tracking_number.clone(),
            tracking_url: tracking_url_for(&h.carrier, &h.tracking_number),
            detail_may_be_limited: limited,
            note: limited.then_some(
                "A local carrier delivers the last leg: its tracking detail may be limited. The original carrier's page usually has more updates.",
            ),
        }
    });
    let first_scan_late = shipment.first_scan_late
        || match timeline.first_carrier_update() {
            Some(first) => {
                calendar::is_first_scan_late(shipment.label_created_at, first.occurred_at)
            }
            None => context.now >= calendar::first_scan_due(shipment.label_created_at),
        };
    ShipmentView {
        shipment_id: shipment.shipment_id.clone(),
        voided_at: shipment.voided_at,
        status: timeline.status(),
        status_label: timeline.status_label(),
        carrier: shipment.carrier,
        carrier_name: shipment.carrier.display_name(),
        service: shipment.service.clone(),
        tracking_number: shipment.tracking_number.clone(),
        tracking_url: tracking_url_for(shipment.carrier.code(), &shipment.tracking_number),
        label_source: shipment.label_source,
        label_created_at: shipment.label_created_at,
        tracking_expires_at: shipment.tracking_expires_at,
        tracking_expired: expired,
        handoff,
        first_scan_due_at: calendar::first_scan_due(shipment.label_created_at),
        first_scan_late,
        stalled: shipment.stalled,
        international,
        claim_windows: ClaimWindows {
            lost_in_transit: clock(ClaimType::LostInTransit),
            damaged: clock(ClaimType::Damaged),
            misdelivery: clock(ClaimType::Misdelivery),
        },
    }
}

/// Builds the details view. `timeline` must already include the derived rows
/// (see [`full_timeline`]).
pub fn order_details<'a>(
    order: &'a Order,
    timeline: &'a Timeline,
    claims: &'a [ClaimRecord],
    context: &ViewContext<'_>,
) -> OrderDetails<'a> {
    let packages: Vec<(&Shipment, Timeline)> = order
        .shipments
        .iter()
        .map(|s| (s, order.rows_of(s, timeline)))
        .collect();
    // A row is worded and judged within its package: each package's first carrier scan
    // reads "Pick Up Scan from Dock" and is the one that can be late.
    let mut package_rows: HashMap<String, (&'static str, bool)> = HashMap::new();
    for (shipment, rows) in &packages {
        let first_scan = rows.first_carrier_update().map(|e| e.event_id.as_str());
        for (index, event) in rows.events().iter().enumerate() {
            let late = Some(event.event_id.as_str()) == first_scan
                && calendar::is_first_scan_late(shipment.label_created_at, event.occurred_at);
            package_rows.insert(event.event_id.clone(), (rows.event_label(index), late));
        }
    }
    let rows = timeline
        .events()
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let (status_label, late) = package_rows
                .get(&event.event_id)
                .copied()
                .unwrap_or_else(|| (timeline.event_label(index), false));
            TimelineRow {
                late,
                kind: event.kind,
                status: event.status,
                status_label,
                code: &event.code,
                description: &event.description,
                occurred_at: event.occurred_at,
                local_time: event.local_time(),
                utc_offset: offset_text(event.utc_offset_minutes),
                recorded_at: event.recorded_at,
                location: event.location.as_ref(),
                location_display: event
                    .location
                    .as_ref()
                    .map(Location::display)
                    .filter(|s| !s.is_empty()),
                carrier: event.carrier.as_deref(),
                tracking_number: event.tracking_number.as_deref(),
                exception_reason: event.exception_reason.as_deref(),
                handoff: event.handoff.as_ref(),
                shipment_id: order.shipment_of(event).map(|s| s.shipment_id.as_str()),
            }
        })
        .collect();
    // Status and wording from the same rows: an order whose refresh after a scan is still
    // to come reads as its timeline already says.
    let settled = order.refreshed_from(timeline, context.now);
    let summary = settled.as_ref().unwrap_or(order).package_summary();
    let live: Vec<&(&Shipment, Timeline)> = packages.iter().filter(|(s, _)| s.is_live()).collect();
    let shipment_status_label = match live.as_slice() {
        [(_, only)] => only.status_label(),
        _ => summary.order_status().label(),
    };
    let views: Vec<ShipmentView> = packages
        .iter()
        .map(|(s, rows)| shipment_view(order, s, rows, context))
        .collect();
    let first_live = live
        .first()
        .map(|(s, rows)| shipment_view(order, s, rows, context));
    OrderDetails {
        order_id: &order.order_id,
        order_number: &order.details.order_number,
        source: order.details.source,
        external_order_id: order.details.external_order_id.as_deref(),
        status: order.status,
        created_at: order.created_at,
        completes_at: order.completes_at,
        completed_at: order.completed_at,
        customer: &order.details.customer,
        ship_to: &order.details.ship_to,
        shipment_status: summary.order_status(),
        shipment_status_label,
        packages: summary,
        store_sync: StoreSync {
            automatic: order.details.source.syncs_tracking_to_store(),
            message: order.details.source.tracking_sync_note(),
        },
        shipment: first_live,
        shipments: views,
        timeline: rows,
        claims: claims.iter().map(claim_view).collect(),
    }
}

/// A claim as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ClaimView<'a> {
    pub claim_id: &'a str,
    pub order_id: &'a str,
    pub order_number: &'a str,
    #[serde(rename = "type")]
    pub claim_type: ClaimType,
    pub state: ClaimState,
    pub description: &'a str,
    pub carrier_reference: Option<&'a str>,
    /// The package claimed for; `null` on claims filed before packages had ids.
    pub shipment_id: Option<&'a str>,
    pub carrier: &'a str,
    pub carrier_name: String,
    pub tracking_number: &'a str,
    pub tracking_url: Option<String>,
    pub international: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every step since filing, oldest first.
    pub history: &'a [ClaimStep],
}

pub fn claim_view(claim: &ClaimRecord) -> ClaimView<'_> {
    ClaimView {
        claim_id: &claim.claim_id,
        order_id: &claim.order_id,
        order_number: &claim.order_number,
        claim_type: claim.claim_type,
        state: claim.state,
        description: &claim.description,
        carrier_reference: claim.carrier_reference.as_deref(),
        shipment_id: claim.shipment_id.as_deref(),
        carrier: &claim.carrier,
        carrier_name: carrier_name(&claim.carrier),
        tracking_number: &claim.tracking_number,
        tracking_url: tracking_url_for(&claim.carrier, &claim.tracking_number),
        international: claim.international,
        created_at: claim.created_at,
        updated_at: claim.updated_at,
        history: &claim.history,
    }
}

/// A carrier's display name where we know it; the code itself otherwise.
pub fn carrier_name(code: &str) -> String {
    Carrier::parse(code).map_or_else(|_| code.to_owned(), |c| c.display_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_rfc3339() {
        assert_eq!(offset_text(-360), "-06:00");
        assert_eq!(offset_text(330), "+05:30");
        assert_eq!(offset_text(0), "+00:00");
    }
}
