//! A label attached to an order: what it does to the order and its timeline, and when a
//! label is refused. Validation of the request lives with the function that takes it;
//! everything decided from a valid label is here.

use chrono::{DateTime, Utc};

use crate::calendar;
use crate::carriers::{Carrier, TrackingNumber};
use crate::claims::LabelSource;
use crate::order::{Order, Shipment};
use crate::status::ShipmentStatus;
use crate::timeline::{advance, business_offset_minutes, short_hash, EventType, TimelineEvent};

/// A label that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub carrier: Carrier,
    pub service: String,
    pub tracking_number: TrackingNumber,
    pub label_source: LabelSource,
}

impl Label {
    /// The shipment this label starts at `at`: nothing heard from the carrier yet, its
    /// tracking valid for the carrier's 120 days.
    pub fn shipment(&self, at: DateTime<Utc>) -> Shipment {
        Shipment {
            carrier: self.carrier,
            service: self.service.clone(),
            tracking_number: self.tracking_number.as_str().to_owned(),
            label_source: self.label_source,
            label_created_at: at,
            tracking_expires_at: calendar::tracking_expires_at(at),
            handoff: None,
            stalled: false,
            stalled_at: None,
            last_carrier_update_at: None,
            tracking_expired: false,
            first_scan_late: false,
        }
    }
}

/// What attaching `label` to an order does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelDecision {
    /// The order carries this very label already: a retried upload, nothing to write.
    AlreadyAttached,
    /// The order carries another label; a second one is not accepted.
    Refused { existing: Shipment },
    /// The order with the label on it, and the timeline row recording the upload.
    Attach(Box<Order>, Box<TimelineEvent>),
}

/// Decides an upload of `label` at `now` to `order` as it was read.
pub fn attach(order: &Order, label: &Label, now: DateTime<Utc>) -> LabelDecision {
    match &order.shipment {
        Some(existing) if same_label(existing, label) => LabelDecision::AlreadyAttached,
        Some(existing) => LabelDecision::Refused {
            existing: existing.clone(),
        },
        None => {
            let (updated, event) = apply_label(order, label, now);
            LabelDecision::Attach(Box::new(updated), Box::new(event))
        }
    }
}

/// The order with the label on it, and the timeline row recording the upload.
fn apply_label(order: &Order, label: &Label, now: DateTime<Utc>) -> (Order, TimelineEvent) {
    let shipment = label.shipment(now);
    let mut updated = order.clone();
    updated.shipment_status = advance(Some(order.shipment_status), ShipmentStatus::AtDepot);
    updated.completes_at = Some(calendar::completion_time(now));
    updated.updated_at = now;
    updated.shipment = Some(shipment);
    let event = TimelineEvent {
        event_id: short_hash(&format!(
            "label\u{0}{}\u{0}{}",
            label.carrier.code(),
            label.tracking_number
        )),
        kind: EventType::LabelCreated,
        status: Some(ShipmentStatus::AtDepot),
        code: "LABEL_CREATED".into(),
        description: format!(
            "Packed and labeled: {} {} tracking {} uploaded; waiting for carrier pickup",
            label.carrier.display_name(),
            label.service,
            label.tracking_number
        ),
        occurred_at: now,
        utc_offset_minutes: business_offset_minutes(now),
        recorded_at: now,
        location: None,
        carrier: Some(label.carrier.code().to_owned()),
        tracking_number: Some(label.tracking_number.as_str().to_owned()),
        exception_reason: None,
        handoff: None,
    };
    (updated, event)
}

fn same_label(shipment: &Shipment, label: &Label) -> bool {
    shipment.carrier == label.carrier && shipment.tracking_number == label.tracking_number.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn order() -> Order {
        let draft: crate::order::OrderDraft = serde_json::from_value(serde_json::json!({
            "order_number": "1", "source": "manual",
            "customer": {"name": "A", "email": "a@example.com"},
            "ship_to": {"line1": "1 Main", "city": "Austin", "country": "US"}
        }))
        .unwrap();
        let created = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        Order::new("m", draft.parse().unwrap(), created)
    }

    fn ups(number: &str) -> Label {
        Label {
            carrier: Carrier::Ups,
            service: "ground".into(),
            tracking_number: TrackingNumber::parse(Carrier::Ups, number).unwrap(),
            label_source: LabelSource::Jetpack,
        }
    }

    fn attached(order: &Order, label: &Label, now: DateTime<Utc>) -> (Order, TimelineEvent) {
        match attach(order, label, now) {
            LabelDecision::Attach(order, event) => (*order, *event),
            other => panic!("expected the label to attach, got {other:?}"),
        }
    }

    #[test]
    fn label_moves_order_to_depot_and_starts_its_clocks() {
        // 23:50 CST Tuesday 2026-11-24 is 05:50Z Wednesday.
        let uploaded = Utc.with_ymd_and_hms(2026, 11, 25, 5, 50, 0).unwrap();
        let (updated, event) = attached(&order(), &ups("1Z999AA10123456784"), uploaded);
        assert_eq!(updated.shipment_status, ShipmentStatus::AtDepot);
        assert_eq!(
            updated.completes_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap())
        );
        assert_eq!(updated.updated_at, uploaded);
        let shipment = updated.shipment.unwrap();
        assert_eq!(shipment.label_created_at, uploaded);
        assert_eq!(
            shipment.tracking_expires_at,
            calendar::tracking_expires_at(uploaded)
        );
        assert_eq!(shipment.tracking_number, "1Z999AA10123456784");
        assert_eq!(event.kind, EventType::LabelCreated);
        assert_eq!(event.utc_offset_minutes, -360);
        assert_eq!(event.status, Some(ShipmentStatus::AtDepot));
        assert_eq!(event.tracking_number.as_deref(), Some("1Z999AA10123456784"));
    }

    #[test]
    fn the_same_label_again_is_a_replay_and_another_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap();
        let label = ups("1Z999AA10123456784");
        let (labeled, first) = attached(&order(), &label, now);
        assert_eq!(
            attach(&labeled, &label, now + chrono::Duration::hours(1)),
            LabelDecision::AlreadyAttached
        );
        let other = ups("1ZWX0692YP40636269");
        assert_eq!(
            attach(&labeled, &other, now),
            LabelDecision::Refused {
                existing: labeled.shipment.clone().unwrap()
            }
        );
        // The label's row is named by the label, so a retried upload that raced past the
        // read writes the same row, never a second one.
        let (_, again) = attached(&order(), &label, now + chrono::Duration::hours(1));
        assert_eq!(first.event_id, again.event_id);
        let (_, another) = attached(&order(), &other, now);
        assert_ne!(first.event_id, another.event_id);
    }
}
