//! The order timeline and the shipment status derived from it.
//!
//! The status is never stored on its own authority: it is whatever the timeline says
//! once its events are put in the order they occurred. That is what makes duplicate
//! and out-of-order carrier feeds harmless.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::status::ShipmentStatus;

/// What kind of thing happened. Carrier scans carry a status; the other kinds are
/// our own milestones and flags, shown on the same timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    OrderReceived,
    LabelCreated,
    /// Operations voided a package's label before the carrier scanned it.
    LabelVoided,
    CarrierScan,
    Handoff,
    OrderCompleted,
    FirstScanLate,
    Stalled,
    TrackingExpired,
    ClaimFiled,
    /// Operations moved a claim on: submitted, approved or denied.
    ClaimUpdated,
}

impl EventType {
    pub fn is_carrier_update(self) -> bool {
        matches!(self, Self::CarrierScan | Self::Handoff)
    }

    /// Rows about the order as a whole; every other kind is about one package.
    pub fn is_order_level(self) -> bool {
        matches!(self, Self::OrderReceived | Self::OrderCompleted)
    }
}

/// The scan codes of the carrier feed contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanCode {
    Pickup,
    InTransit,
    OutForDelivery,
    AvailableForPickup,
    Delivered,
    DeliveryAttempted,
    Exception,
    Handoff,
    ReturnToSender,
}

impl ScanCode {
    pub const ALL: [ScanCode; 9] = [
        Self::Pickup,
        Self::InTransit,
        Self::OutForDelivery,
        Self::AvailableForPickup,
        Self::Delivered,
        Self::DeliveryAttempted,
        Self::Exception,
        Self::Handoff,
        Self::ReturnToSender,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pickup => "PICKUP",
            Self::InTransit => "IN_TRANSIT",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::AvailableForPickup => "AVAILABLE_FOR_PICKUP",
            Self::Delivered => "DELIVERED",
            Self::DeliveryAttempted => "DELIVERY_ATTEMPTED",
            Self::Exception => "EXCEPTION",
            Self::Handoff => "HANDOFF",
            Self::ReturnToSender => "RETURN_TO_SENDER",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// The shipment status a scan of this code puts the parcel in. A hand-off keeps
    /// the parcel moving: the final-mile carrier has it, still in transit.
    pub fn status(self) -> ShipmentStatus {
        match self {
            Self::Pickup | Self::InTransit | Self::Handoff => ShipmentStatus::InTransit,
            Self::OutForDelivery => ShipmentStatus::OutForDelivery,
            Self::AvailableForPickup => ShipmentStatus::AvailableForPickup,
            Self::Delivered => ShipmentStatus::Delivered,
            Self::DeliveryAttempted | Self::Exception => ShipmentStatus::Exception,
            Self::ReturnToSender => ShipmentStatus::ReturnedToSender,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Location {
    /// "Austin, TX 78701, US": how a place reads on a timeline row.
    pub fn display(&self) -> String {
        let city_state = [self.city.as_deref(), self.state.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        [
            Some(city_state.as_str()).filter(|s| !s.is_empty()),
            self.postal_code.as_deref(),
            self.country.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// A final-mile carrier taking the parcel over, with its own tracking number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Handoff {
    pub carrier: String,
    pub tracking_number: String,
}

/// One row of an order's timeline, as stored and as served.
///
/// `occurred_at` is UTC so events sort and compare across time zones;
/// `utc_offset_minutes` keeps the offset the source reported so the row can show the
/// local time where the scan happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Stable identity used to refuse duplicates (see [`scan_event_id`]).
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ShipmentStatus>,
    pub code: String,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
    pub utc_offset_minutes: i32,
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
    /// The package this row is about; `None` on order-level rows, and on package rows
    /// stored before orders had several packages (those belong to its first package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    /// On a relabel, the label it replaced, so a store that had the old number can be
    /// told the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<LabelNumber>,
}

/// A label's carrier and tracking number, as a row names one it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelNumber {
    pub carrier: String,
    pub tracking_number: String,
}

impl TimelineEvent {
    /// The final-mile hand-off this event reports. Any carrier update carrying a
    /// `handoff` counts, whatever its code: carriers and aggregators report the
    /// final-mile number on ordinary scans too, and the timeline, the order, the emails
    /// and store sync must all agree on what a hand-off is.
    pub fn reported_handoff(&self) -> Option<&Handoff> {
        self.handoff
            .as_ref()
            .filter(|_| self.kind.is_carrier_update())
    }

    /// The event's time in the offset its source reported.
    pub fn local_time(&self) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.utc_offset_minutes.saturating_mul(60))
            .unwrap_or_else(|| chrono::Offset::fix(&Utc));
        self.occurred_at.with_timezone(&offset)
    }

    /// Events at the same instant are ordered so the status reads naturally: our own
    /// milestones first, carrier scans next, a final scan last.
    fn same_instant_rank(&self) -> u8 {
        match self.status {
            None | Some(ShipmentStatus::Received) => 0,
            Some(ShipmentStatus::AtDepot) => 1,
            Some(s) if s.is_final() => 3,
            Some(_) => 2,
        }
    }

    fn order_key(&self) -> (DateTime<Utc>, u8, &str) {
        (self.occurred_at, self.same_instant_rank(), &self.event_id)
    }
}

/// The identity of a carrier scan, so the same scan sent twice is stored once.
///
/// The carrier's own event id wins when present; otherwise carrier, tracking number,
/// code and occurrence instant identify it. Hashed so the id is safe in a sort key
/// whatever the carrier put in its fields.
pub fn scan_event_id(
    carrier: &str,
    tracking_number: &str,
    code: ScanCode,
    occurred_at: DateTime<Utc>,
    carrier_event_id: Option<&str>,
) -> String {
    let identity = match carrier_event_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => format!("carrier-event\u{0}{carrier}\u{0}{id}"),
        None => format!(
            "scan\u{0}{carrier}\u{0}{tracking_number}\u{0}{}\u{0}{}",
            code.as_str(),
            occurred_at.timestamp_millis()
        ),
    };
    short_hash(&identity)
}

/// A 128-bit hex digest: collision-free in practice, short enough for keys.
pub fn short_hash(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Our own milestones are shown in Chicago time, where the warehouse day is counted.
pub fn business_offset_minutes(at: DateTime<Utc>) -> i32 {
    use chrono::Offset;
    at.with_timezone(&crate::calendar::BUSINESS_TZ)
        .offset()
        .fix()
        .local_minus_utc()
        / 60
}

/// Moves a shipment status by one event, following the rules:
/// a final status is never left, and our own pre-transit milestones never pull a
/// parcel the carrier already has back to the depot.
pub fn advance(current: Option<ShipmentStatus>, next: ShipmentStatus) -> ShipmentStatus {
    match current {
        Some(current) if current.is_final() => current,
        Some(current) if !current.is_pre_transit() && next.is_pre_transit() => current,
        Some(current) if next.is_pre_transit() && next.ladder_rank() < current.ladder_rank() => {
            current
        }
        _ => next,
    }
}

/// An order's events in the order they occurred, whatever order they arrived in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    events: Vec<TimelineEvent>,
}

impl Timeline {
    pub fn new(events: impl IntoIterator<Item = TimelineEvent>) -> Self {
        let mut timeline = Self::default();
        for event in events {
            timeline.insert(event);
        }
        timeline
    }

    /// Places an event where it occurred. Returns false for a duplicate, which changes nothing.
    pub fn insert(&mut self, event: TimelineEvent) -> bool {
        if self.events.iter().any(|e| e.event_id == event.event_id) {
            return false;
        }
        let at = self
            .events
            .partition_point(|e| e.order_key() <= event.order_key());
        self.events.insert(at, event);
        true
    }

    pub fn events(&self) -> &[TimelineEvent] {
        &self.events
    }

    /// The status of the latest event by occurrence, under [`advance`]'s rules.
    /// An order with no status-bearing event is `Received`.
    pub fn status(&self) -> ShipmentStatus {
        self.status_with_source().0
    }

    fn status_with_source(&self) -> (ShipmentStatus, Option<usize>) {
        let mut current: Option<ShipmentStatus> = None;
        let mut source = None;
        for (index, event) in self.events.iter().enumerate() {
            if let Some(next) = event.status {
                let moved = advance(current, next);
                if moved == next {
                    source = Some(index);
                }
                current = Some(moved);
            }
        }
        (current.unwrap_or(ShipmentStatus::Received), source)
    }

    /// The dashboard wording of the current status: "Pick Up Scan from Dock" while the
    /// pickup is the only carrier scan, "In Transit" once another one has come in.
    pub fn status_label(&self) -> &'static str {
        // The event that set the status words it: its own label is the status's, but
        // for the pickup, which reads "Pick Up Scan from Dock" while it is the only scan.
        match self.status_with_source() {
            (_, Some(index)) => self.event_label(index),
            (status, None) => status.label(),
        }
    }

    /// The wording of one row: the first carrier scan reads "Pick Up Scan from Dock".
    pub fn event_label(&self, index: usize) -> &'static str {
        let Some(event) = self.events.get(index) else {
            return "";
        };
        let is_first_carrier_scan = event.kind.is_carrier_update()
            && self.events[..index]
                .iter()
                .all(|e| !e.kind.is_carrier_update());
        match event.status {
            Some(ShipmentStatus::InTransit) if is_first_carrier_scan => "Pick Up Scan from Dock",
            Some(status) => status.label(),
            None => "",
        }
    }

    pub fn first_carrier_update(&self) -> Option<&TimelineEvent> {
        self.events.iter().find(|e| e.kind.is_carrier_update())
    }

    pub fn last_carrier_update(&self) -> Option<&TimelineEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind.is_carrier_update())
    }

    /// The scan that made the shipment final, if it is final.
    pub fn final_scan(&self) -> Option<&TimelineEvent> {
        self.events
            .iter()
            .find(|e| e.kind.is_carrier_update() && e.status.is_some_and(|s| s.is_final()))
    }

    pub fn latest_handoff(&self) -> Option<&Handoff> {
        self.events
            .iter()
            .rev()
            .find_map(TimelineEvent::reported_handoff)
    }

    pub fn has(&self, kind: EventType) -> bool {
        self.events.iter().any(|e| e.kind == kind)
    }

    /// One package's own rows, in the same order. Package rows without a package id
    /// were written when an order had one package, so they are the first package's.
    pub fn of_shipment(&self, shipment_id: &str, first_package: bool) -> Timeline {
        Timeline {
            events: self
                .events
                .iter()
                .filter(|e| match e.shipment_id.as_deref() {
                    Some(id) => id == shipment_id,
                    None => first_package && !e.kind.is_order_level(),
                })
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    pub(crate) fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, hour, minute, 0).unwrap()
    }

    pub(crate) fn scan(code: ScanCode, occurred_at: DateTime<Utc>) -> TimelineEvent {
        TimelineEvent {
            shipment_id: None,
            replaces: None,
            event_id: scan_event_id("ups", "1Z999AA10123456784", code, occurred_at, None),
            kind: if code == ScanCode::Handoff {
                EventType::Handoff
            } else {
                EventType::CarrierScan
            },
            status: Some(code.status()),
            code: code.as_str().to_owned(),
            description: format!("{code:?}"),
            occurred_at,
            utc_offset_minutes: -360,
            recorded_at: occurred_at,
            location: None,
            carrier: Some("ups".into()),
            tracking_number: Some("1Z999AA10123456784".into()),
            exception_reason: None,
            handoff: None,
        }
    }

    fn label(occurred_at: DateTime<Utc>) -> TimelineEvent {
        TimelineEvent {
            shipment_id: None,
            replaces: None,
            event_id: "label".into(),
            kind: EventType::LabelCreated,
            status: Some(ShipmentStatus::AtDepot),
            code: "LABEL_CREATED".into(),
            description: "Label created".into(),
            occurred_at,
            utc_offset_minutes: -360,
            recorded_at: occurred_at,
            location: None,
            carrier: None,
            tracking_number: None,
            exception_reason: None,
            handoff: None,
        }
    }

    /// Every pair of statuses, against the rule stated in words: a final status stays; a
    /// parcel the carrier has (anything past the depot) is never pulled back by our own
    /// pre-transit milestones; Received never follows At Depot; anything else moves.
    #[test]
    fn advance_follows_its_rule_for_every_pair_of_statuses() {
        use ShipmentStatus::*;
        for current in ShipmentStatus::ALL {
            for next in ShipmentStatus::ALL {
                let expected = if current.is_final()
                    || (!matches!(current, Received | AtDepot)
                        && matches!(next, Received | AtDepot))
                    || (current == AtDepot && next == Received)
                {
                    current
                } else {
                    next
                };
                assert_eq!(
                    advance(Some(current), next),
                    expected,
                    "{current:?} then {next:?}"
                );
            }
            assert_eq!(advance(None, current), current, "first status {current:?}");
        }
    }

    #[test]
    fn events_at_one_instant_read_milestone_then_scan_then_final_scan() {
        let noon = at(12, 0);
        let mut received = label(noon);
        received.event_id = "received".into();
        received.status = Some(ShipmentStatus::Received);
        received.code = "RECEIVED".into();
        let mut note = label(noon);
        note.event_id = "note".into();
        note.status = None;
        note.code = "NOTE".into();
        // Arrival order is the worst one; event ids would sort them otherwise.
        let timeline = Timeline::new([
            scan(ScanCode::Delivered, noon),
            scan(ScanCode::OutForDelivery, noon),
            label(noon),
            received,
            note,
        ]);
        let ranks: Vec<u8> = timeline
            .events()
            .iter()
            .map(|e| e.same_instant_rank())
            .collect();
        assert_eq!(ranks, [0, 0, 1, 2, 3], "{:?}", timeline.events());
        assert_eq!(timeline.events()[2].code, "LABEL_CREATED");
        assert_eq!(timeline.events()[3].code, "OUT_FOR_DELIVERY");
        assert_eq!(timeline.events()[4].code, "DELIVERED");
        assert_eq!(timeline.status(), ShipmentStatus::Delivered);
        // An exception is not final: it sorts with the other scans, before a delivery.
        let timeline = Timeline::new([
            scan(ScanCode::Delivered, noon),
            scan(ScanCode::Exception, noon),
        ]);
        assert_eq!(timeline.events()[1].code, "DELIVERED");
    }

    #[test]
    fn a_handoff_is_reported_by_carrier_updates_only() {
        let handoff = Handoff {
            carrier: "usps".into(),
            tracking_number: "9400111899223100012345".into(),
        };
        let mut pickup = scan(ScanCode::Pickup, at(8, 0));
        pickup.handoff = Some(handoff.clone());
        assert_eq!(pickup.reported_handoff(), Some(&handoff));
        let mut milestone = label(at(7, 0));
        milestone.handoff = Some(handoff);
        assert_eq!(
            milestone.reported_handoff(),
            None,
            "our own milestone is no hand-off"
        );
        assert_eq!(scan(ScanCode::InTransit, at(9, 0)).reported_handoff(), None);
    }

    #[test]
    fn the_latest_handoff_by_occurrence_wins_and_kinds_are_found() {
        let handoff = |number: &str| Handoff {
            carrier: "usps".into(),
            tracking_number: number.into(),
        };
        let mut first = scan(ScanCode::Handoff, at(9, 0));
        first.handoff = Some(handoff("9400100000000000000001"));
        let mut corrected = scan(ScanCode::InTransit, at(11, 0));
        corrected.handoff = Some(handoff("9400100000000000000002"));
        // Arrives first, occurred last: still the one in force.
        let timeline = Timeline::new([
            corrected,
            label(at(7, 0)),
            first,
            scan(ScanCode::Pickup, at(8, 0)),
        ]);
        assert_eq!(
            timeline.latest_handoff(),
            Some(&handoff("9400100000000000000002"))
        );
        assert!(timeline.has(EventType::LabelCreated));
        assert!(timeline.has(EventType::Handoff));
        assert!(!timeline.has(EventType::OrderCompleted));
        assert_eq!(Timeline::default().latest_handoff(), None);
        assert!(!Timeline::default().has(EventType::LabelCreated));
    }

    #[test]
    fn empty_timeline_is_received() {
        assert_eq!(Timeline::default().status(), ShipmentStatus::Received);
    }

    #[test]
    fn status_follows_the_latest_event_by_occurrence_not_arrival() {
        let timeline = Timeline::new([
            scan(ScanCode::OutForDelivery, at(12, 0)),
            scan(ScanCode::Pickup, at(8, 0)),
            label(at(7, 0)),
        ]);
        assert_eq!(timeline.status(), ShipmentStatus::OutForDelivery);
        let codes: Vec<_> = timeline.events().iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["LABEL_CREATED", "PICKUP", "OUT_FOR_DELIVERY"]);
    }

    #[test]
    fn late_older_scan_is_placed_in_order_and_changes_nothing_after_it() {
        let mut timeline = Timeline::new([
            label(at(7, 0)),
            scan(ScanCode::Pickup, at(8, 0)),
            scan(ScanCode::OutForDelivery, at(12, 0)),
        ]);
        assert!(timeline.insert(scan(ScanCode::InTransit, at(10, 0))));
        assert_eq!(timeline.status(), ShipmentStatus::OutForDelivery);
        assert_eq!(timeline.events()[2].code, "IN_TRANSIT");
    }

    #[test]
    fn duplicate_scan_is_refused_and_changes_nothing() {
        let mut timeline = Timeline::new([scan(ScanCode::Pickup, at(8, 0))]);
        let before = timeline.clone();
        assert!(!timeline.insert(scan(ScanCode::Pickup, at(8, 0))));
        assert_eq!(timeline, before);
    }

    #[test]
    fn delivered_is_never_left_even_by_a_later_scan() {
        let timeline = Timeline::new([
            scan(ScanCode::Delivered, at(12, 0)),
            scan(ScanCode::InTransit, at(13, 0)),
            scan(ScanCode::Exception, at(14, 0)),
        ]);
        assert_eq!(timeline.status(), ShipmentStatus::Delivered);
        assert_eq!(timeline.status_label(), "Delivered");
    }

    #[test]
    fn returned_to_sender_is_final() {
        let timeline = Timeline::new([
            scan(ScanCode::Pickup, at(8, 0)),
            scan(ScanCode::ReturnToSender, at(9, 0)),
            scan(ScanCode::Delivered, at(10, 0)),
        ]);
        assert_eq!(timeline.status(), ShipmentStatus::ReturnedToSender);
    }

    #[test]
    fn exception_is_not_final_a_later_scan_moves_the_shipment_on() {
        let timeline = Timeline::new([
            scan(ScanCode::Pickup, at(8, 0)),
            scan(ScanCode::DeliveryAttempted, at(9, 0)),
        ]);
        assert_eq!(timeline.status(), ShipmentStatus::Exception);
        let timeline = Timeline::new(
            timeline
                .events()
                .iter()
                .cloned()
                .chain([scan(ScanCode::OutForDelivery, at(10, 0))]),
        );
        assert_eq!(timeline.status(), ShipmentStatus::OutForDelivery);
    }

    #[test]
    fn first_carrier_scan_reads_pick_up_scan_from_dock_then_in_transit() {
        let mut timeline = Timeline::new([label(at(7, 0)), scan(ScanCode::Pickup, at(8, 0))]);
        assert_eq!(timeline.status_label(), "Pick Up Scan from Dock");
        timeline.insert(scan(ScanCode::InTransit, at(9, 0)));
        assert_eq!(timeline.status_label(), "In Transit");
        assert_eq!(timeline.event_label(1), "Pick Up Scan from Dock");
        assert_eq!(timeline.event_label(2), "In Transit");
    }

    #[test]
    fn label_recorded_after_the_first_scan_does_not_pull_the_parcel_back_to_the_depot() {
        let timeline = Timeline::new([scan(ScanCode::Pickup, at(8, 0)), label(at(8, 5))]);
        assert_eq!(timeline.status(), ShipmentStatus::InTransit);
    }

    #[test]
    fn a_label_never_reads_as_received_even_at_the_same_instant() {
        let mut received = label(at(7, 0));
        received.event_id = "order-received".into();
        received.kind = EventType::OrderReceived;
        received.status = Some(ShipmentStatus::Received);
        let timeline = Timeline::new([label(at(7, 0)), received]);
        assert_eq!(timeline.status(), ShipmentStatus::AtDepot);
    }

    #[test]
    fn delivered_wins_a_tie_with_out_for_delivery_in_the_same_minute() {
        let timeline = Timeline::new([
            scan(ScanCode::Delivered, at(12, 0)),
            scan(ScanCode::OutForDelivery, at(12, 0)),
        ]);
        assert_eq!(timeline.status(), ShipmentStatus::Delivered);
    }

    #[test]
    fn carrier_event_id_wins_over_the_scan_fields_for_dedupe() {
        let a = scan_event_id("ups", "1Z", ScanCode::Pickup, at(8, 0), Some("E1"));
        let b = scan_event_id("ups", "1Z", ScanCode::InTransit, at(9, 0), Some("E1"));
        let c = scan_event_id("ups", "1Z", ScanCode::Pickup, at(8, 0), None);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn local_time_keeps_the_source_offset() {
        let event = scan(ScanCode::Pickup, at(14, 15));
        assert_eq!(event.local_time().to_rfc3339(), "2026-11-20T08:15:00-06:00");
    }

    #[test]
    fn location_reads_city_state_postal_country() {
        let location = Location {
            city: Some("Austin".into()),
            state: Some("TX".into()),
            postal_code: Some("78701".into()),
            country: Some("US".into()),
        };
        assert_eq!(location.display(), "Austin, TX 78701 US");
        assert_eq!(Location::default().display(), "");
    }

    fn journey() -> Vec<TimelineEvent> {
        vec![
            label(at(7, 0)),
            scan(ScanCode::Pickup, at(8, 0)),
            scan(ScanCode::InTransit, at(9, 0)),
            scan(ScanCode::Exception, at(10, 0)),
            scan(ScanCode::Handoff, at(11, 0)),
            scan(ScanCode::OutForDelivery, at(12, 0)),
            scan(ScanCode::Delivered, at(13, 0)),
            scan(ScanCode::InTransit, at(14, 0)),
        ]
    }

    proptest! {
        #[test]
        fn any_arrival_order_with_duplicates_gives_the_clean_timeline(
            order in Just((0..8usize).collect::<Vec<_>>()).prop_shuffle(),
            duplicates in proptest::collection::vec(0..8usize, 0..6),
        ) {
            let clean = Timeline::new(journey());
            let events = journey();
            let arrivals = order.iter().chain(duplicates.iter()).map(|&i| events[i].clone());
            let shuffled = Timeline::new(arrivals);
            prop_assert_eq!(shuffled.status(), ShipmentStatus::Delivered);
            prop_assert_eq!(&shuffled, &clean);
        }

        #[test]
        fn once_final_the_status_stays_final_whatever_arrives_next(
            codes in proptest::collection::vec((0..9usize, 0..600i64), 1..20),
        ) {
            let mut timeline = Timeline::default();
            let mut seen_final = false;
            for (code, minute) in codes {
                let event = scan(ScanCode::ALL[code], at(0, 0) + chrono::Duration::minutes(minute));
                timeline.insert(event);
                let status = timeline.status();
                if seen_final {
                    prop_assert!(status.is_final(), "left a final status for {status:?}");
                }
                seen_final |= status.is_final();
                // Which final status holds is the one that occurred first; only an older
                // final scan arriving late can replace it.
                if let Some(first_final) = timeline.final_scan() {
                    prop_assert_eq!(Some(status), first_final.status);
                }
            }
        }
    }
}
