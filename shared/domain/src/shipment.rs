//! Packages. An order ships as one or more packages ("shipments"), each with its own
//! label, status, hand-off, clocks and claims, all decided from the package's own rows
//! of the order's timeline. The order's summary is derived from its packages here too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar;
use crate::order::Order;
use crate::status::{OrderStatus, ShipmentStatus};
use crate::timeline::{short_hash, Timeline, TimelineEvent};

/// A package: the label operations attached, and what the carrier feed told us since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Stable, shown to merchants, never reused within its order (see [`shipment_id`]).
    /// Empty only while a one-package order stored before packages is being read.
    #[serde(default)]
    pub shipment_id: String,
    pub carrier: crate::carriers::Carrier,
    pub service: String,
    pub tracking_number: String,
    pub label_source: crate::claims::LabelSource,
    pub label_created_at: DateTime<Utc>,
    pub tracking_expires_at: DateTime<Utc>,
    /// How many times this package was relabeled: each label gets a row of its own.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_revision: u32,
    /// The package's status, from its own rows of the timeline.
    #[serde(default = "status_before_packages")]
    pub status: ShipmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<crate::timeline::Handoff>,
    #[serde(default)]
    pub stalled: bool,
    /// When the stall was flagged: a carrier update after it clears the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled_at: Option<DateTime<Utc>>,
    /// The latest carrier scan by occurrence; the stall clock runs from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_carrier_update_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tracking_expired: bool,
    #[serde(default)]
    pub first_scan_late: bool,
    /// Operations voided the label before the carrier scanned it: the package is kept
    /// for the record, its tracking number released, and it counts for nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A package stored before packages had their own status carried the order's; reading
/// the order puts that one back (see `Order`'s stored form).
fn status_before_packages() -> ShipmentStatus {
    ShipmentStatus::Received
}

impl Shipment {
    pub fn is_live(&self) -> bool {
        self.voided_at.is_none()
    }

    /// Whether a carrier has scanned the package: from then on its label stays.
    pub fn has_carrier_scans(&self) -> bool {
        self.last_carrier_update_at.is_some() || !self.status.is_pre_transit()
    }

    /// The instant the stall clock runs from: the last carrier update, or the label.
    pub fn last_update_or_label(&self) -> DateTime<Utc> {
        self.last_carrier_update_at.unwrap_or(self.label_created_at)
    }

    /// Brings the package up to date with its own rows of the timeline: status, last
    /// carrier update, hand-off, late first scan, and a stall the carrier has ended.
    fn refresh(&mut self, rows: &Timeline) {
        self.status = rows.status();
        self.last_carrier_update_at = rows.last_carrier_update().map(|e| e.occurred_at);
        if let Some(handoff) = rows.latest_handoff() {
            self.handoff = Some(handoff.clone());
        }
        if let Some(first) = rows.first_carrier_update() {
            self.first_scan_late =
                calendar::is_first_scan_late(self.label_created_at, first.occurred_at);
        }
        let last_heard = rows
            .events()
            .iter()
            .filter(|e| e.kind.is_carrier_update())
            .map(|e| e.recorded_at)
            .max();
        if self.stalled
            && matches!((last_heard, self.stalled_at), (Some(heard), Some(flagged)) if heard > flagged)
        {
            self.stalled = false;
            self.stalled_at = None;
        }
    }
}

/// The id of an order's `number`th package (from 1). Derived, so a retried upload that
/// raced past its read names the same package, and hashed, so it is safe in a URL path
/// and tells nothing about the order.
pub fn shipment_id(order_id: &str, number: usize) -> String {
    let digest = short_hash(&format!("shipment\u{0}{order_id}\u{0}{number}"));
    format!("SHP-{}", digest[..10].to_ascii_uppercase())
}

/// A Shipment ID as a client sends it: absent or blank is none; anything that could not
/// be one of ours (see [`shipment_id`]) is refused before it reaches a key.
/// How a Shipment ID looks (`SHP-` and 10 upper-case hex digits), for the API document.
pub const SHIPMENT_ID_PATTERN: &str = "^SHP-[0-9A-F]{10}$";
/// A body's `shipment_id`, where a blank one means the same as leaving it out.
pub const OPTIONAL_SHIPMENT_ID_PATTERN: &str = "^(SHP-[0-9A-F]{10})?$";

pub fn parse_shipment_id(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) if id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Ok(Some(id.to_owned()))
        }
        Some(_) => Err("must be a Shipment ID of this order (like SHP-7F3A9C2D1E)"),
    }
}

/// What an order's packages add up to, for the list, the filters and the emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PackageSummary {
    /// Live packages (voided labels do not count).
    pub packages: usize,
    pub delivered: usize,
    /// The least advanced live package's status (see [`ShipmentStatus::progress`]);
    /// `received` while the order has no live package.
    pub status: ShipmentStatus,
    pub stalled: bool,
    pub first_scan_late: bool,
    pub exception: bool,
}

/// A flag any one package can raise on its order, whatever the others are doing: the
/// orders a merchant needs to look at. `Late` is a first scan that did not come by the end
/// of the business day after the label. (A package in exception makes the order's
/// shipment status `exception`, so that one is a status filter.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attention {
    Stalled,
    Late,
}

impl Attention {
    pub const ALL: [Attention; 2] = [Self::Stalled, Self::Late];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stalled => "stalled",
            Self::Late => "late",
        }
    }

    fn raised_by(self, shipment: &Shipment) -> bool {
        match self {
            Self::Stalled => shipment.stalled,
            Self::Late => shipment.first_scan_late,
        }
    }
}

/// What the orders list can be narrowed to by `shipment_status`: the order's shipment
/// status (see [`PackageSummary::order_status`]), or a flag any of its packages raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipmentFilter {
    Status(ShipmentStatus),
    Attention(Attention),
}

impl ShipmentFilter {
    /// Every accepted spelling, for the error that lists them.
    pub fn names() -> Vec<&'static str> {
        ShipmentStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .filter(|name| Attention::ALL.iter().all(|a| a.as_str() != *name))
            .chain(Attention::ALL.iter().map(|a| a.as_str()))
            .collect()
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Attention::ALL
            .into_iter()
            .find(|a| a.as_str() == value)
            .map(Self::Attention)
            .or_else(|| ShipmentStatus::parse(value).map(Self::Status))
    }

    pub fn matches(self, order: &Order) -> bool {
        match self {
            Self::Status(status) => order.shipment_status == status,
            Self::Attention(flag) => order.attention().contains(&flag),
        }
    }
}

impl PackageSummary {
    /// The order's own shipment status, the one it is listed and filtered by: exception
    /// while any package is in exception, however far the others are (and so an order
    /// stored before packages, in exception, is still found as one), otherwise the least
    /// advanced package's.
    pub fn order_status(&self) -> ShipmentStatus {
        if self.exception {
            ShipmentStatus::Exception
        } else {
            self.status
        }
    }

    /// Delivered only when every package is.
    pub fn all_delivered(&self) -> bool {
        self.packages > 0 && self.delivered == self.packages
    }
}

impl Order {
    pub fn live_shipments(&self) -> impl Iterator<Item = &Shipment> {
        self.shipments.iter().filter(|s| s.is_live())
    }

    pub fn shipment(&self, shipment_id: &str) -> Option<&Shipment> {
        self.shipments.iter().find(|s| s.shipment_id == shipment_id)
    }

    /// The live package carrying this label, if any.
    pub fn shipment_with_tracking(
        &self,
        carrier: crate::carriers::Carrier,
        tracking_number: &str,
    ) -> Option<&Shipment> {
        self.live_shipments()
            .find(|s| s.carrier == carrier && s.tracking_number == tracking_number)
    }

    /// The id the order's next new package gets: voided packages keep theirs.
    pub fn next_shipment_id(&self) -> String {
        shipment_id(&self.order_id, self.shipments.len() + 1)
    }

    fn is_first_shipment(&self, shipment: &Shipment) -> bool {
        self.shipments
            .first()
            .is_some_and(|first| first.shipment_id == shipment.shipment_id)
    }

    /// A package's own rows of the order's timeline.
    pub fn rows_of(&self, shipment: &Shipment, timeline: &Timeline) -> Timeline {
        timeline.of_shipment(&shipment.shipment_id, self.is_first_shipment(shipment))
    }

    /// The package a timeline row is about; `None` for an order-level row.
    pub fn shipment_of(&self, event: &TimelineEvent) -> Option<&Shipment> {
        if event.kind.is_order_level() {
            return None;
        }
        match event.shipment_id.as_deref() {
            Some(id) => self.shipment(id),
            None => self.shipments.first(),
        }
    }

    /// The package a row is told about (an order-level row: the first live one), and
    /// that package's rows, which an email about the row is judged and worded from.
    pub fn package_context(
        &self,
        event: &TimelineEvent,
        timeline: &Timeline,
    ) -> (Option<&Shipment>, Timeline) {
        match self
            .shipment_of(event)
            .or_else(|| self.live_shipments().next())
        {
            Some(shipment) => (Some(shipment), self.rows_of(shipment, timeline)),
            None => (None, timeline.clone()),
        }
    }

    /// The flags its live packages raise, each once, in a fixed order.
    pub fn attention(&self) -> Vec<Attention> {
        Attention::ALL
            .into_iter()
            .filter(|flag| self.live_shipments().any(|s| flag.raised_by(s)))
            .collect()
    }

    pub fn package_summary(&self) -> PackageSummary {
        let live: Vec<&Shipment> = self.live_shipments().collect();
        let status = live
            .iter()
            .map(|s| s.status)
            .min_by_key(|status| {
                let (distance, needs_a_person) = status.progress();
                (distance, !needs_a_person)
            })
            .unwrap_or(ShipmentStatus::Received);
        PackageSummary {
            packages: live.len(),
            delivered: live
                .iter()
                .filter(|s| s.status == ShipmentStatus::Delivered)
                .count(),
            status,
            stalled: live.iter().any(|s| s.stalled),
            first_scan_late: live.iter().any(|s| s.first_scan_late),
            exception: live.iter().any(|s| s.status == ShipmentStatus::Exception),
        }
    }

    /// Re-derives what the order owes its packages after any of them changed: its
    /// shipment status (the summary's) and, while Processing, its completion time,
    /// 06:00 CT the day after its earliest live label. A Completed order is never moved
    /// back; an order whose only label was voided has no completion time.
    pub fn settle(&mut self) {
        self.shipment_status = self.package_summary().order_status();
        if self.status == OrderStatus::Processing {
            self.completes_at = self
                .live_shipments()
                .map(|s| s.label_created_at)
                .min()
                .map(calendar::completion_time);
        }
    }

    /// The order as its timeline says it is now: each package's status, hand-off, late
    /// first scan, last carrier update and stall flag, then the summary. `None` when
    /// nothing changes, so a scan that changes nothing (a late, older one) costs no
    /// order write.
    pub fn refreshed_from(&self, timeline: &Timeline, now: DateTime<Utc>) -> Option<Order> {
        let mut updated = self.clone();
        let rows: Vec<Timeline> = self
            .shipments
            .iter()
            .map(|s| self.rows_of(s, timeline))
            .collect();
        for (shipment, rows) in updated.shipments.iter_mut().zip(&rows) {
            if shipment.is_live() {
                shipment.refresh(rows);
            }
        }
        updated.settle();
        if updated == *self {
            return None;
        }
        updated.updated_at = now;
        Some(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carriers::Carrier;
    use crate::label::tests::{order, ups};
    use crate::label::{attach, LabelDecision};
    use crate::timeline::tests::scan;
    use crate::timeline::ScanCode;
    use chrono::TimeZone;

    const FIRST: &str = "1Z999AA10123456784";
    const SECOND: &str = "1ZWX0692YP40636269";

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn with_label(order: &Order, number: &str, now: DateTime<Utc>) -> Order {
        match attach(order, &ups(number), None, now) {
            LabelDecision::Attach(change) => change.order,
            other => panic!("{other:?}"),
        }
    }

    /// A scan of `number`'s package, as scan-ingest stamps it.
    fn scan_of(order: &Order, number: &str, code: ScanCode, at: DateTime<Utc>) -> TimelineEvent {
        let mut event = scan(code, at);
        event.event_id = format!("{number}-{}-{}", code.as_str(), at.timestamp());
        event.tracking_number = Some(number.into());
        event.shipment_id = order
            .live_shipments()
            .find(|s| s.tracking_number == number)
            .map(|s| s.shipment_id.clone());
        event
    }

    fn two_packages() -> Order {
        with_label(&with_label(&order(), FIRST, at(24, 16)), SECOND, at(25, 10))
    }

    #[test]
    fn package_ids_are_stable_distinct_and_safe_in_a_path() {
        let id = shipment_id("ord_1", 1);
        assert_eq!(id, shipment_id("ord_1", 1));
        assert_ne!(id, shipment_id("ord_1", 2));
        assert_ne!(id, shipment_id("ord_2", 1));
        assert_eq!(id.len(), 14);
        assert!(id.starts_with("SHP-"));
        assert!(id[4..]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        let order = two_packages();
        assert_eq!(
            order.shipments[0].shipment_id,
            shipment_id(&order.order_id, 1)
        );
        assert_eq!(
            order.shipments[1].shipment_id,
            shipment_id(&order.order_id, 2)
        );
        assert_eq!(order.next_shipment_id(), shipment_id(&order.order_id, 3));
    }

    #[test]
    fn shipment_ids_from_clients_are_ours_or_refused() {
        assert_eq!(parse_shipment_id(None), Ok(None));
        assert_eq!(parse_shipment_id(Some("  ")), Ok(None));
        assert_eq!(
            parse_shipment_id(Some(" SHP-7F3A9C2D1E ")),
            Ok(Some("SHP-7F3A9C2D1E".into()))
        );
        assert_eq!(
            parse_shipment_id(Some(&"A".repeat(64))),
            Ok(Some("A".repeat(64)))
        );
        for bad in ["../x", "SHP 1", "SHP#1", "é", &"A".repeat(65)] {
            assert!(parse_shipment_id(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_package_takes_its_status_from_its_own_scans() {
        let order = two_packages();
        let timeline = Timeline::new([
            scan_of(&order, FIRST, ScanCode::Pickup, at(25, 9)),
            scan_of(&order, FIRST, ScanCode::Delivered, at(26, 9)),
            scan_of(&order, SECOND, ScanCode::Pickup, at(26, 8)),
        ]);
        let refreshed = order.refreshed_from(&timeline, at(26, 10)).unwrap();
        assert_eq!(refreshed.shipments[0].status, ShipmentStatus::Delivered);
        assert_eq!(refreshed.shipments[1].status, ShipmentStatus::InTransit);
        assert_eq!(
            refreshed.shipments[1].last_carrier_update_at,
            Some(at(26, 8))
        );
        let summary = refreshed.package_summary();
        assert_eq!((summary.packages, summary.delivered), (2, 1));
        assert_eq!(summary.status, ShipmentStatus::InTransit);
        assert!(!summary.all_delivered());
        assert_eq!(refreshed.shipment_status, ShipmentStatus::InTransit);

        let done = Timeline::new(timeline.events().iter().cloned().chain([scan_of(
            &order,
            SECOND,
            ScanCode::Delivered,
            at(27, 9),
        )]));
        let delivered = refreshed.refreshed_from(&done, at(27, 10)).unwrap();
        assert!(delivered.package_summary().all_delivered());
        assert_eq!(delivered.shipment_status, ShipmentStatus::Delivered);
    }

    #[test]
    fn the_summary_is_the_least_advanced_package_and_never_hides_one_needing_a_person() {
        let mut order = two_packages();
        let mut summary_of = |a, b| {
            order.shipments[0].status = a;
            order.shipments[1].status = b;
            order.package_summary().status
        };
        use ShipmentStatus::*;
        assert_eq!(summary_of(Delivered, AtDepot), AtDepot);
        assert_eq!(summary_of(OutForDelivery, InTransit), InTransit);
        assert_eq!(summary_of(InTransit, Exception), Exception);
        assert_eq!(summary_of(Exception, OutForDelivery), Exception);
        assert_eq!(
            summary_of(OutForDelivery, AvailableForPickup),
            AvailableForPickup
        );
        assert_eq!(summary_of(Delivered, ReturnedToSender), ReturnedToSender);
        assert_eq!(summary_of(Received, Exception), Received);
        assert_eq!(summary_of(Delivered, Delivered), Delivered);
        let summary = order.package_summary();
        assert_eq!(order.package_summary().delivered, 2);
        assert!(!summary.exception && !summary.stalled && !summary.first_scan_late);
        order.shipments[1].status = Exception;
        order.shipments[0].stalled = true;
        order.shipments[1].first_scan_late = true;
        let flagged = order.package_summary();
        assert!(flagged.exception && flagged.stalled && flagged.first_scan_late);
        assert_eq!(flagged.delivered, 1);
    }

    #[test]
    fn a_filter_is_a_summary_status_or_a_flag_any_live_package_raises() {
        let mut order = two_packages();
        assert_eq!(order.attention(), []);
        order.shipments[1].status = ShipmentStatus::Exception;
        order.shipments[1].first_scan_late = true;
        order.shipments[0].stalled = true;
        assert_eq!(order.attention(), [Attention::Stalled, Attention::Late]);
        order.shipments[0].status = ShipmentStatus::AtDepot;
        order.settle();
        assert_eq!(order.package_summary().status, ShipmentStatus::AtDepot);
        assert_eq!(order.shipment_status, ShipmentStatus::Exception);
        for name in ["stalled", "late"] {
            let filter = ShipmentFilter::parse(name).unwrap();
            assert!(matches!(filter, ShipmentFilter::Attention(_)), "{name}");
            assert!(filter.matches(&order), "{name}");
        }
        assert_eq!(
            ShipmentFilter::parse("exception"),
            Some(ShipmentFilter::Status(ShipmentStatus::Exception))
        );
        assert!(ShipmentFilter::parse(" exception ")
            .unwrap()
            .matches(&order));
        assert!(ShipmentFilter::parse("exception").is_some_and(|f| f.matches(&order)));
        assert!(!ShipmentFilter::parse("delivered").unwrap().matches(&order));
        assert!(!ShipmentFilter::parse("at_depot").unwrap().matches(&order));
        assert_eq!(ShipmentFilter::parse("shipped"), None);
        // A voided package raises nothing.
        order.shipments[1].voided_at = Some(at(26, 9));
        order.shipments[0].voided_at = Some(at(26, 9));
        assert_eq!(order.attention(), []);
        let names = ShipmentFilter::names();
        assert_eq!(names.iter().filter(|n| **n == "exception").count(), 1);
        assert!(names.contains(&"stalled") && names.contains(&"at_depot"));
        for name in names {
            assert!(ShipmentFilter::parse(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_voided_package_counts_for_nothing_and_an_order_without_one_never_completes() {
        let mut order = two_packages();
        let first_completion = order.completes_at;
        assert_eq!(
            first_completion,
            Some(calendar::completion_time(at(24, 16)))
        );
        order.shipments[0].voided_at = Some(at(25, 11));
        order.settle();
        assert_eq!(order.package_summary().packages, 1);
        assert_eq!(
            order.completes_at,
            Some(calendar::completion_time(at(25, 10))),
            "from the earliest live label"
        );
        order.shipments[1].voided_at = Some(at(25, 11));
        order.settle();
        assert_eq!(order.completes_at, None);
        assert_eq!(order.shipment_status, ShipmentStatus::Received);
        assert!(!order.package_summary().all_delivered());
        assert_eq!(order.live_shipments().count(), 0);
    }

    #[test]
    fn rows_before_packages_belong_to_the_first_package_and_order_rows_to_none() {
        let order = two_packages();
        let mut legacy = scan(ScanCode::Pickup, at(25, 9));
        legacy.shipment_id = None;
        let second = scan_of(&order, SECOND, ScanCode::InTransit, at(26, 9));
        let mut completed = scan(ScanCode::Pickup, at(25, 6));
        completed.kind = crate::timeline::EventType::OrderCompleted;
        completed.status = None;
        completed.event_id = "order-completed".into();
        let timeline = Timeline::new([legacy.clone(), second.clone(), completed.clone()]);
        let first_rows = order.rows_of(&order.shipments[0], &timeline);
        assert_eq!(first_rows.events(), std::slice::from_ref(&legacy));
        let second_rows = order.rows_of(&order.shipments[1], &timeline);
        assert_eq!(second_rows.events(), std::slice::from_ref(&second));
        assert_eq!(
            order.shipment_of(&legacy).map(|s| &s.shipment_id),
            Some(&order.shipments[0].shipment_id)
        );
        assert_eq!(
            order.shipment_of(&second).map(|s| &s.shipment_id),
            Some(&order.shipments[1].shipment_id)
        );
        assert_eq!(order.shipment_of(&completed), None);
        assert_eq!(
            order
                .shipment_with_tracking(Carrier::Ups, SECOND)
                .map(|s| &s.shipment_id),
            Some(&order.shipments[1].shipment_id)
        );
        assert_eq!(order.shipment_with_tracking(Carrier::Fedex, SECOND), None);
    }

    #[test]
    fn an_email_is_worded_from_the_package_its_row_is_about() {
        let packaged = two_packages();
        let second_scan = scan_of(&packaged, SECOND, ScanCode::Pickup, at(26, 9));
        let first_scan = scan_of(&packaged, FIRST, ScanCode::Pickup, at(25, 9));
        let timeline = Timeline::new([first_scan.clone(), second_scan.clone()]);
        let (package, rows) = packaged.package_context(&second_scan, &timeline);
        assert_eq!(package.map(|s| s.tracking_number.as_str()), Some(SECOND));
        assert_eq!(rows.events(), std::slice::from_ref(&second_scan));
        // An order-level row is told about with the first live package.
        let mut completed = scan(ScanCode::Pickup, at(26, 6));
        completed.kind = crate::timeline::EventType::OrderCompleted;
        let (package, rows) = packaged.package_context(&completed, &timeline);
        assert_eq!(package.map(|s| s.tracking_number.as_str()), Some(FIRST));
        assert_eq!(rows.events(), std::slice::from_ref(&first_scan));
        let mut first_voided = packaged.clone();
        first_voided.shipments[0].voided_at = Some(at(25, 8));
        let (package, _) = first_voided.package_context(&completed, &timeline);
        assert_eq!(package.map(|s| s.tracking_number.as_str()), Some(SECOND));
        // No package at all: the whole timeline.
        let order_without_packages = order();
        let (package, rows) = order_without_packages.package_context(&completed, &timeline);
        assert!(package.is_none());
        assert_eq!(rows, timeline);
    }

    #[test]
    fn a_first_label_is_stored_without_a_revision_and_a_relabel_with_one() {
        let mut order = two_packages();
        let first = serde_json::to_value(&order.shipments[0]).unwrap();
        assert!(first.get("label_revision").is_none(), "{first}");
        order.shipments[0].label_revision = 2;
        let relabeled = serde_json::to_value(&order.shipments[0]).unwrap();
        assert_eq!(relabeled["label_revision"], 2);
        let back: Shipment = serde_json::from_value(relabeled).unwrap();
        assert_eq!(back.label_revision, 2);
    }

    #[test]
    fn a_claim_is_on_the_package_it_names_and_one_filed_before_packages_on_the_first() {
        let order = two_packages();
        let claim = |shipment_id: Option<&str>| crate::claims::ClaimRecord {
            claim_id: "clm_1".into(),
            order_id: order.order_id.clone(),
            merchant_id: "m".into(),
            order_number: "1001".into(),
            claim_type: crate::claims::ClaimType::Damaged,
            state: crate::claims::ClaimState::Open,
            description: "d".into(),
            carrier_reference: None,
            shipment_id: shipment_id.map(str::to_owned),
            carrier: "ups".into(),
            tracking_number: FIRST.into(),
            international: false,
            created_at: at(26, 9),
            updated_at: at(26, 9),
            request_fingerprint: "f".into(),
            event_id: "e".into(),
            history: Vec::new(),
        };
        let (first, second) = (&order.shipments[0], &order.shipments[1]);
        let on_second = claim(Some(&second.shipment_id));
        assert!(on_second.is_on(&order, second));
        assert!(!on_second.is_on(&order, first));
        let legacy = claim(None);
        assert!(legacy.is_on(&order, first));
        assert!(!legacy.is_on(&order, second));
    }

    #[test]
    fn an_order_stored_with_one_shipment_reads_as_a_one_package_order() {
        let label_at = at(24, 16);
        let stored = serde_json::json!({
            "order_id": "ord_legacy", "merchant_id": "m",
            "order_number": "1001", "source": "manual",
            "customer": {"name": "A", "email": "a@example.com"},
            "ship_to": {"line1": "1 Main", "city": "Austin", "country": "US"},
            "status": "Processing", "shipment_status": "in_transit",
            "created_at": "2026-11-24T15:00:00Z", "updated_at": "2026-11-25T09:00:00Z",
            "completes_at": "2026-11-25T12:00:00Z",
            "shipment": {
                "carrier": "ups", "service": "ground", "tracking_number": FIRST,
                "label_source": "jetpack", "label_created_at": label_at,
                "tracking_expires_at": calendar::tracking_expires_at(label_at),
                "stalled": false, "last_carrier_update_at": "2026-11-25T09:00:00Z",
                "tracking_expired": false, "first_scan_late": false
            },
            "request_fingerprint": "f"
        });
        let order: Order = serde_json::from_value(stored).unwrap();
        assert_eq!(order.shipments.len(), 1);
        let only = &order.shipments[0];
        assert_eq!(only.shipment_id, shipment_id("ord_legacy", 1));
        assert_eq!(only.status, ShipmentStatus::InTransit);
        assert_eq!(only.tracking_number, FIRST);
        assert!(only.is_live());
        // Written back in today's layout, it reads the same.
        let written = serde_json::to_value(&order).unwrap();
        assert!(written.get("shipment").is_none());
        let again: Order = serde_json::from_value(written).unwrap();
        assert_eq!(again, order);
    }
}
