//! A label attached to an order: what it does to the order and its timeline, and when a
//! label is refused. Validation of the request lives with the function that takes it;
//! everything decided from a valid label is here.

use chrono::{DateTime, Utc};

use crate::calendar;
use crate::carriers::{Carrier, TrackingNumber};
use crate::claims::LabelSource;
use crate::order::{Order, Shipment};
use crate::status::ShipmentStatus;
use crate::timeline::{business_offset_minutes, short_hash, EventType, LabelNumber, TimelineEvent};

/// A label that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub carrier: Carrier,
    pub service: String,
    pub tracking_number: TrackingNumber,
    pub label_source: LabelSource,
}

impl Label {
    /// The package this label starts at `at`: nothing heard from the carrier yet, its
    /// tracking valid for the carrier's 120 days.
    pub fn shipment(&self, shipment_id: String, at: DateTime<Utc>) -> Shipment {
        Shipment {
            shipment_id,
            carrier: self.carrier,
            service: self.service.clone(),
            tracking_number: self.tracking_number.as_str().to_owned(),
            label_source: self.label_source,
            label_created_at: at,
            tracking_expires_at: calendar::tracking_expires_at(at),
            label_revision: 0,
            status: ShipmentStatus::AtDepot,
            handoff: None,
            stalled: false,
            stalled_at: None,
            last_carrier_update_at: None,
            tracking_expired: false,
            first_scan_late: false,
            voided_at: None,
        }
    }

    fn is_on(&self, shipment: &Shipment) -> bool {
        shipment.carrier == self.carrier
            && shipment.tracking_number == self.tracking_number.as_str()
    }
}

/// Why a label is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRefusal {
    /// The upload names a package the order does not have.
    UnknownShipment,
    /// The named package was voided; a new label is a new package.
    ShipmentVoided,
    /// The named package's carrier has scanned it: it is on its way under that label.
    AlreadyScanned { existing: Shipment },
    /// Another live package of this order already carries this label.
    OnAnotherShipment { existing: Shipment },
}

/// A label to write: the order with it, the row recording it, the package it is on,
/// and the tracking number a relabel gives up (for the store to release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelChange {
    pub order: Order,
    pub event: TimelineEvent,
    pub shipment_id: String,
    pub released: Option<Released>,
}

/// A tracking number no package uses any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub carrier: Carrier,
    pub tracking_number: String,
}

impl LabelChange {
    /// The package the label is on; `None` only for a change not made by [`attach`].
    pub fn shipment(&self) -> Option<&Shipment> {
        self.order.shipment(&self.shipment_id)
    }
}

/// What uploading `label` to an order does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelDecision {
    /// The package carries this very label already: a retried upload, nothing to write.
    AlreadyAttached {
        shipment_id: String,
    },
    Refused(LabelRefusal),
    Attach(Box<LabelChange>),
}

/// Decides an upload of `label` at `now` to `order` as it was read. Without
/// `shipment_id` the label is a new package, unless a live package already carries it
/// (a retry). With one, it replaces that package's label, which only a package the
/// carrier has not scanned yet allows: a mistyped number never leaves a ghost package.
pub fn attach(
    order: &Order,
    label: &Label,
    shipment_id: Option<&str>,
    now: DateTime<Utc>,
) -> LabelDecision {
    let carrying = order.live_shipments().find(|s| label.is_on(s));
    match (shipment_id, carrying) {
        (None, Some(existing)) => LabelDecision::AlreadyAttached {
            shipment_id: existing.shipment_id.clone(),
        },
        (Some(id), Some(existing)) if existing.shipment_id == id => {
            LabelDecision::AlreadyAttached {
                shipment_id: existing.shipment_id.clone(),
            }
        }
        (Some(_), Some(existing)) => LabelDecision::Refused(LabelRefusal::OnAnotherShipment {
            existing: existing.clone(),
        }),
        (None, None) => {
            let mut updated = order.clone();
            let shipment = label.shipment(order.next_shipment_id(), now);
            let event = label_event(&shipment, label, None, now);
            let shipment_id = shipment.shipment_id.clone();
            updated.shipments.push(shipment);
            LabelDecision::Attach(Box::new(settled(updated, event, shipment_id, None, now)))
        }
        (Some(id), None) => relabel(order, label, id, now),
    }
}

fn relabel(order: &Order, label: &Label, shipment_id: &str, now: DateTime<Utc>) -> LabelDecision {
    let Some(existing) = order.shipment(shipment_id) else {
        return LabelDecision::Refused(LabelRefusal::UnknownShipment);
    };
    if !existing.is_live() {
        return LabelDecision::Refused(LabelRefusal::ShipmentVoided);
    }
    if existing.has_carrier_scans() {
        return LabelDecision::Refused(LabelRefusal::AlreadyScanned {
            existing: existing.clone(),
        });
    }
    let mut replacement = label.shipment(existing.shipment_id.clone(), now);
    replacement.label_revision = existing.label_revision + 1;
    let event = label_event(&replacement, label, Some(existing), now);
    let released = Released {
        carrier: existing.carrier,
        tracking_number: existing.tracking_number.clone(),
    };
    let mut updated = order.clone();
    for shipment in &mut updated.shipments {
        if shipment.shipment_id == shipment_id {
            *shipment = replacement.clone();
        }
    }
    LabelDecision::Attach(Box::new(settled(
        updated,
        event,
        shipment_id.to_owned(),
        Some(released),
        now,
    )))
}

fn settled(
    mut order: Order,
    event: TimelineEvent,
    shipment_id: String,
    released: Option<Released>,
    now: DateTime<Utc>,
) -> LabelChange {
    order.settle();
    order.updated_at = now;
    LabelChange {
        order,
        event,
        shipment_id,
        released,
    }
}

/// A void to write: the order with the package voided, the row saying so, and the
/// package's number, released for another label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidChange {
    pub order: Order,
    pub event: TimelineEvent,
    pub shipment_id: String,
    pub released: Released,
}

/// What voiding a package's label does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidDecision {
    /// Voided before: a retried request, nothing to write.
    AlreadyVoided,
    /// Only [`LabelRefusal::UnknownShipment`] and [`LabelRefusal::AlreadyScanned`].
    Refused(LabelRefusal),
    Void(Box<VoidChange>),
}

/// Decides a void of `shipment_id`'s label at `now`. A label the carrier has scanned is
/// a parcel on its way: it cannot be voided here. The order forgets the package for
/// everything but the record: its completion comes from its earliest live label, and
/// an order whose only label is voided before its 06:00 CT stays Processing.
pub fn void(order: &Order, shipment_id: &str, now: DateTime<Utc>) -> VoidDecision {
    let Some(existing) = order.shipment(shipment_id) else {
        return VoidDecision::Refused(LabelRefusal::UnknownShipment);
    };
    if !existing.is_live() {
        return VoidDecision::AlreadyVoided;
    }
    if existing.has_carrier_scans() {
        return VoidDecision::Refused(LabelRefusal::AlreadyScanned {
            existing: existing.clone(),
        });
    }
    let mut updated = order.clone();
    for shipment in &mut updated.shipments {
        if shipment.shipment_id == shipment_id {
            shipment.voided_at = Some(now);
        }
    }
    updated.settle();
    updated.updated_at = now;
    let event = TimelineEvent {
        event_id: short_hash(&format!(
            "void\u{0}{}\u{0}{}",
            existing.shipment_id, existing.label_revision
        )),
        kind: EventType::LabelVoided,
        status: None,
        code: "LABEL_VOIDED".into(),
        description: format!(
            "Label voided: {} tracking {} was never scanned and no longer tracks this package",
            existing.carrier.display_name(),
            existing.tracking_number
        ),
        occurred_at: now,
        utc_offset_minutes: business_offset_minutes(now),
        recorded_at: now,
        location: None,
        carrier: Some(existing.carrier.code().to_owned()),
        tracking_number: Some(existing.tracking_number.clone()),
        exception_reason: None,
        handoff: None,
        shipment_id: Some(existing.shipment_id.clone()),
        replaces: None,
    };
    VoidDecision::Void(Box::new(VoidChange {
        order: updated,
        event,
        shipment_id: shipment_id.to_owned(),
        released: Released {
            carrier: existing.carrier,
            tracking_number: existing.tracking_number.clone(),
        },
    }))
}

/// The row recording a label. Named by package, revision and label, so a retried
/// upload that raced past its read writes the same row, never a second one.
fn label_event(
    shipment: &Shipment,
    label: &Label,
    replaces: Option<&Shipment>,
    now: DateTime<Utc>,
) -> TimelineEvent {
    let uploaded = format!(
        "{} {} tracking {}",
        label.carrier.display_name(),
        label.service,
        label.tracking_number
    );
    let (code, description) = match replaces {
        None => (
            "LABEL_CREATED",
            format!("Packed and labeled: {uploaded} uploaded; waiting for carrier pickup"),
        ),
        Some(old) => (
            "LABEL_REPLACED",
            format!(
                "Relabeled: {uploaded} replaces {} tracking {}, which was never scanned; waiting for carrier pickup",
                old.carrier.display_name(),
                old.tracking_number
            ),
        ),
    };
    TimelineEvent {
        event_id: short_hash(&format!(
            "label\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            shipment.shipment_id,
            shipment.label_revision,
            label.carrier.code(),
            label.tracking_number
        )),
        kind: EventType::LabelCreated,
        status: Some(ShipmentStatus::AtDepot),
        code: code.into(),
        description,
        occurred_at: now,
        utc_offset_minutes: business_offset_minutes(now),
        recorded_at: now,
        location: None,
        carrier: Some(label.carrier.code().to_owned()),
        tracking_number: Some(label.tracking_number.as_str().to_owned()),
        exception_reason: None,
        handoff: None,
        shipment_id: Some(shipment.shipment_id.clone()),
        replaces: replaces.map(|old| LabelNumber {
            carrier: old.carrier.code().to_owned(),
            tracking_number: old.tracking_number.clone(),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A manual order created Tuesday 2026-11-24 09:00 CST, without a label.
    pub(crate) fn order() -> Order {
        let draft: crate::order::OrderDraft = serde_json::from_value(serde_json::json!({
            "order_number": "1", "source": "manual",
            "customer": {"name": "A", "email": "a@example.com"},
            "ship_to": {"line1": "1 Main", "city": "Austin", "country": "US"}
        }))
        .unwrap();
        let created = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        Order::new("m", draft.parse().unwrap(), created)
    }

    /// A UPS ground label on a Jetpack label, `number` a valid UPS tracking number.
    pub(crate) fn ups(number: &str) -> Label {
        Label {
            carrier: Carrier::Ups,
            service: "ground".into(),
            tracking_number: TrackingNumber::parse(Carrier::Ups, number).unwrap(),
            label_source: LabelSource::Jetpack,
        }
    }

    fn attached(order: &Order, label: &Label, now: DateTime<Utc>) -> LabelChange {
        match attach(order, label, None, now) {
            LabelDecision::Attach(change) => *change,
            other => panic!("expected the label to attach, got {other:?}"),
        }
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn label_moves_order_to_depot_and_starts_its_clocks() {
        // 23:50 CST Tuesday 2026-11-24 is 05:50Z Wednesday.
        let uploaded = Utc.with_ymd_and_hms(2026, 11, 25, 5, 50, 0).unwrap();
        let change = attached(&order(), &ups("1Z999AA10123456784"), uploaded);
        let (updated, event) = (&change.order, &change.event);
        assert_eq!(updated.shipment_status, ShipmentStatus::AtDepot);
        assert_eq!(
            updated.completes_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap())
        );
        assert_eq!(updated.updated_at, uploaded);
        let shipment = change.shipment().unwrap();
        assert_eq!(shipment.shipment_id, updated.shipments[0].shipment_id);
        assert_eq!(shipment.status, ShipmentStatus::AtDepot);
        assert_eq!(shipment.label_created_at, uploaded);
        assert_eq!(
            shipment.tracking_expires_at,
            calendar::tracking_expires_at(uploaded)
        );
        assert_eq!(shipment.tracking_number, "1Z999AA10123456784");
        assert_eq!(event.kind, EventType::LabelCreated);
        assert_eq!(event.code, "LABEL_CREATED");
        assert_eq!(event.utc_offset_minutes, -360);
        assert_eq!(event.status, Some(ShipmentStatus::AtDepot));
        assert_eq!(event.tracking_number.as_deref(), Some("1Z999AA10123456784"));
        assert_eq!(
            event.shipment_id.as_deref(),
            Some(shipment.shipment_id.as_str())
        );
        assert_eq!(change.released, None);
    }

    #[test]
    fn the_same_label_again_is_a_replay_and_another_is_a_second_package() {
        let now = at(25, 15);
        let label = ups("1Z999AA10123456784");
        let first = attached(&order(), &label, now);
        let id = first.shipment_id.clone();
        assert_eq!(
            attach(&first.order, &label, None, now + chrono::Duration::hours(1)),
            LabelDecision::AlreadyAttached {
                shipment_id: id.clone()
            }
        );
        assert_eq!(
            attach(&first.order, &label, Some(&id), now),
            LabelDecision::AlreadyAttached {
                shipment_id: id.clone()
            }
        );
        // A second label is a second package, with an id of its own; the order still
        // completes from its first label.
        let second = attached(&first.order, &ups("1ZWX0692YP40636269"), at(26, 15));
        assert_eq!(second.order.shipments.len(), 2);
        assert_ne!(second.shipment_id, id);
        assert_eq!(second.order.completes_at, first.order.completes_at);
        assert_ne!(first.event.event_id, second.event.event_id);
        // The label's row is named by the label, so a retried upload that raced past the
        // read writes the same row, never a second one.
        let again = attached(&order(), &label, now + chrono::Duration::hours(1));
        assert_eq!(first.event.event_id, again.event.event_id);
        assert_eq!(first.shipment_id, again.shipment_id);
    }

    #[test]
    fn a_package_is_relabeled_only_before_its_first_scan_and_gives_its_number_up() {
        let first = attached(&order(), &ups("1Z999AA10123456784"), at(25, 15));
        let id = first.shipment_id.clone();
        let typo_fixed = ups("1ZWX0692YP40636269");
        let LabelDecision::Attach(relabeled) =
            attach(&first.order, &typo_fixed, Some(&id), at(25, 16))
        else {
            panic!("a package nobody scanned can be relabeled");
        };
        assert_eq!(relabeled.order.shipments.len(), 1, "no ghost package");
        let shipment = relabeled.shipment().unwrap();
        assert_eq!(shipment.shipment_id, id);
        assert_eq!(shipment.tracking_number, "1ZWX0692YP40636269");
        assert_eq!(shipment.label_revision, 1);
        assert_eq!(shipment.label_created_at, at(25, 16));
        assert_eq!(relabeled.event.code, "LABEL_REPLACED");
        assert!(relabeled.event.description.contains("1Z999AA10123456784"));
        assert_eq!(
            relabeled.event.replaces,
            Some(LabelNumber {
                carrier: "ups".into(),
                tracking_number: "1Z999AA10123456784".into()
            })
        );
        assert_eq!(first.event.replaces, None);
        assert_ne!(relabeled.event.event_id, first.event.event_id);
        assert_eq!(
            relabeled.released,
            Some(Released {
                carrier: Carrier::Ups,
                tracking_number: "1Z999AA10123456784".into()
            })
        );
        // Going back to the first number is a label of its own, with its own row.
        let LabelDecision::Attach(back) = attach(
            &relabeled.order,
            &ups("1Z999AA10123456784"),
            Some(&id),
            at(25, 17),
        ) else {
            panic!("relabel back");
        };
        assert_ne!(back.event.event_id, first.event.event_id);

        let mut scanned = first.order.clone();
        scanned.shipments[0].last_carrier_update_at = Some(at(26, 9));
        scanned.shipments[0].status = ShipmentStatus::InTransit;
        assert!(matches!(
            attach(&scanned, &typo_fixed, Some(&id), at(26, 10)),
            LabelDecision::Refused(LabelRefusal::AlreadyScanned { .. })
        ));
        assert_eq!(
            attach(&first.order, &typo_fixed, Some("SHP-NOPE"), at(25, 16)),
            LabelDecision::Refused(LabelRefusal::UnknownShipment)
        );
        let mut voided = first.order.clone();
        voided.shipments[0].voided_at = Some(at(25, 15));
        assert_eq!(
            attach(&voided, &typo_fixed, Some(&id), at(25, 16)),
            LabelDecision::Refused(LabelRefusal::ShipmentVoided)
        );
    }

    #[test]
    fn a_label_is_voided_once_before_its_first_scan_and_the_order_forgets_it() {
        let first = attached(&order(), &ups("1Z999AA10123456784"), at(24, 23));
        let second = attached(&first.order, &ups("1ZWX0692YP40636269"), at(25, 16));
        let id = first.shipment_id.clone();
        let VoidDecision::Void(voided) = void(&second.order, &id, at(25, 17)) else {
            panic!("an unscanned label can be voided");
        };
        let package = voided.order.shipment(&id).unwrap();
        assert_eq!(package.voided_at, Some(at(25, 17)));
        assert_eq!(voided.order.live_shipments().count(), 1);
        assert_eq!(
            voided.order.completes_at,
            Some(calendar::completion_time(at(25, 16))),
            "from the earliest live label"
        );
        assert_eq!(voided.event.kind, EventType::LabelVoided);
        assert_eq!(voided.event.code, "LABEL_VOIDED");
        assert_eq!(voided.event.status, None);
        assert_eq!(voided.event.shipment_id.as_deref(), Some(id.as_str()));
        assert!(voided.event.description.contains("1Z999AA10123456784"));
        assert_eq!(
            voided.released,
            Released {
                carrier: Carrier::Ups,
                tracking_number: "1Z999AA10123456784".into()
            }
        );
        assert_eq!(
            void(&voided.order, &id, at(25, 18)),
            VoidDecision::AlreadyVoided
        );
        assert_eq!(
            void(&voided.order, "SHP-NOPE", at(25, 18)),
            VoidDecision::Refused(LabelRefusal::UnknownShipment)
        );
        // The only label voided before 06:00: no completion, still Processing.
        let VoidDecision::Void(only) = void(&first.order, &id, at(25, 5)) else {
            panic!("void");
        };
        assert_eq!(only.order.completes_at, None);
        assert_eq!(only.order.status, crate::status::OrderStatus::Processing);
        assert_eq!(only.order.shipment_status, ShipmentStatus::Received);
        // Scanned, it stays.
        let mut scanned = first.order.clone();
        scanned.shipments[0].last_carrier_update_at = Some(at(25, 9));
        assert!(matches!(
            void(&scanned, &id, at(25, 10)),
            VoidDecision::Refused(LabelRefusal::AlreadyScanned { .. })
        ));
        let mut moving = first.order.clone();
        moving.shipments[0].status = ShipmentStatus::InTransit;
        assert!(matches!(
            void(&moving, &id, at(25, 10)),
            VoidDecision::Refused(LabelRefusal::AlreadyScanned { .. })
        ));
        // A Completed order stays Completed.
        let mut completed = first.order.clone();
        completed.status = crate::status::OrderStatus::Completed;
        let VoidDecision::Void(after) = void(&completed, &id, at(26, 10)) else {
            panic!("void");
        };
        assert_eq!(after.order.status, crate::status::OrderStatus::Completed);
        assert_eq!(after.order.completes_at, first.order.completes_at);
    }

    #[test]
    fn a_label_on_one_package_is_refused_for_another() {
        let first = attached(&order(), &ups("1Z999AA10123456784"), at(25, 15));
        let second = attached(&first.order, &ups("1ZWX0692YP40636269"), at(25, 16));
        assert!(matches!(
            attach(
                &second.order,
                &ups("1Z999AA10123456784"),
                Some(&second.shipment_id),
                at(25, 17)
            ),
            LabelDecision::Refused(LabelRefusal::OnAnotherShipment { existing })
                if existing.shipment_id == first.shipment_id
        ));
    }

    #[test]
    fn a_relabel_moves_the_completion_with_the_only_label_but_never_a_completed_order() {
        let first = attached(&order(), &ups("1Z999AA10123456784"), at(25, 15));
        let id = first.shipment_id.clone();
        let LabelDecision::Attach(relabeled) = attach(
            &first.order,
            &ups("1ZWX0692YP40636269"),
            Some(&id),
            at(26, 15),
        ) else {
            panic!("relabel");
        };
        assert_eq!(
            relabeled.order.completes_at,
            Some(calendar::completion_time(at(26, 15)))
        );
        let mut completed = first.order.clone();
        completed.status = crate::status::OrderStatus::Completed;
        let LabelDecision::Attach(later) =
            attach(&completed, &ups("1ZWX0692YP40636269"), None, at(27, 15))
        else {
            panic!("second package");
        };
        assert_eq!(later.order.completes_at, first.order.completes_at);
        assert_eq!(later.order.status, crate::status::OrderStatus::Completed);
    }
}
