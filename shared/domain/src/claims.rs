//! Claim eligibility and the claim-window clock.
//!
//! Everything is decided from the stored shipment and its timeline; a claim body can
//! add evidence (a carrier reference) but never assert a status.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::status::ShipmentStatus;
use crate::timeline::Timeline;

/// Who paid for the label decides whether we can claim with the carrier at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    Jetpack,
    Prepaid,
}

impl LabelSource {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "jetpack" => Some(Self::Jetpack),
            "prepaid" => Some(Self::Prepaid),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    LostInTransit,
    Damaged,
    Misdelivery,
}

impl ClaimType {
    pub const ALL: [ClaimType; 3] = [Self::LostInTransit, Self::Damaged, Self::Misdelivery];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LostInTransit => "lost_in_transit",
            Self::Damaged => "damaged",
            Self::Misdelivery => "misdelivery",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value.trim())
    }
}

/// Claim windows, in days. Domestic and international parcels get different clocks
/// because international carriers take longer to declare a parcel lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimPolicy {
    pub lost_opens_days: i64,
    pub lost_closes_days: i64,
    pub lost_opens_days_international: i64,
    pub lost_closes_days_international: i64,
    pub damaged_closes_days: i64,
}

impl Default for ClaimPolicy {
    fn default() -> Self {
        Self {
            lost_opens_days: 15,
            lost_closes_days: 45,
            lost_opens_days_international: 20,
            lost_closes_days_international: 50,
            damaged_closes_days: 30,
        }
    }
}

impl ClaimRecord {
    /// Whether this claim is on `shipment` of `order`.
    pub fn is_on(&self, order: &crate::order::Order, shipment: &crate::order::Shipment) -> bool {
        match self.shipment_id.as_deref() {
            Some(id) => id == shipment.shipment_id,
            None => order
                .shipments
                .first()
                .is_some_and(|first| first.shipment_id == shipment.shipment_id),
        }
    }
}

/// What the claim rules need to know about a shipment, all of it from storage.
#[derive(Debug, Clone, Copy)]
pub struct ShipmentFacts<'a> {
    pub label_source: LabelSource,
    pub label_created_at: DateTime<Utc>,
    pub international: bool,
    pub ship_to_country: &'a str,
    pub timeline: &'a Timeline,
}

impl ShipmentFacts<'_> {
    fn status(&self) -> ShipmentStatus {
        self.timeline.status()
    }

    fn last_carrier_update_or_label(&self) -> DateTime<Utc> {
        self.timeline
            .last_carrier_update()
            .map_or(self.label_created_at, |e| e.occurred_at)
    }

    fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.timeline
            .final_scan()
            .filter(|e| e.status == Some(ShipmentStatus::Delivered))
            .map(|e| e.occurred_at)
    }

    /// The carrier's own tracking placing the delivery in another country is a
    /// misdelivery confirmed by the carrier.
    fn delivered_in_another_country(&self) -> bool {
        self.timeline
            .final_scan()
            .and_then(|e| e.location.as_ref())
            .and_then(|l| l.country.as_deref())
            .is_some_and(|country| !country.eq_ignore_ascii_case(self.ship_to_country))
    }
}

/// What a claim brings besides its type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimEvidence {
    /// The carrier's confirmation that the parcel went to a wrong address or that the
    /// proof of delivery shows it discarded.
    pub carrier_reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    PrepaidLabel,
    NotShipped,
    ReturnedToSender,
    WindowNotOpen,
    WindowClosed,
    DeliveredNoMisdelivery,
    NotDelivered,
    MisdeliveryNotConfirmed,
    DuplicateClaim,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrepaidLabel => "prepaid_label",
            Self::NotShipped => "not_shipped",
            Self::ReturnedToSender => "returned_to_sender",
            Self::WindowNotOpen => "window_not_open",
            Self::WindowClosed => "window_closed",
            Self::DeliveredNoMisdelivery => "delivered_no_misdelivery",
            Self::NotDelivered => "not_delivered",
            Self::MisdeliveryNotConfirmed => "misdelivery_not_confirmed",
            Self::DuplicateClaim => "duplicate_claim",
        }
    }
}

/// A refusal a merchant can act on: a stable code for software, a sentence for people,
/// and the date the window opens when it is only too early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<DateTime<Utc>>,
}

impl Refusal {
    fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            opens_at: None,
        }
    }

    pub fn duplicate(claim_type: ClaimType) -> Self {
        Self::new(
            RefusalCode::DuplicateClaim,
            format!(
                "This shipment already has an open {} claim; we will update you on that one.",
                claim_type.as_str().replace('_', " ")
            ),
        )
    }
}

/// Merchants read dates on the warehouse's calendar.
fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::calendar::BUSINESS_TZ)
        .format("%B %-d, %Y")
        .to_string()
}

/// The window of a claim type, where one applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

impl Window {
    fn check(self, now: DateTime<Utc>, what: &str) -> Result<(), Refusal> {
        if now < self.opens_at {
            let mut refusal = Refusal::new(
                RefusalCode::WindowNotOpen,
                format!(
                    "It is too early for a {what} claim: carriers need time to find a parcel. You can file one from {}.",
                    date(self.opens_at)
                ),
            );
            refusal.opens_at = Some(self.opens_at);
            Err(refusal)
        } else if now >= self.closes_at {
            Err(Refusal::new(
                RefusalCode::WindowClosed,
                format!(
                    "The window for a {what} claim closed on {}; the carrier no longer accepts it.",
                    date(self.closes_at)
                ),
            ))
        } else {
            Ok(())
        }
    }
}

/// When a claim of this type can be filed for this shipment, or why it never can.
pub fn window(
    claim_type: ClaimType,
    facts: &ShipmentFacts<'_>,
    policy: &ClaimPolicy,
) -> Option<Window> {
    let days = Duration::days;
    match claim_type {
        ClaimType::LostInTransit => {
            let from = facts.last_carrier_update_or_label();
            let (opens, closes) = if facts.international {
                (
                    policy.lost_opens_days_international,
                    policy.lost_closes_days_international,
                )
            } else {
                (policy.lost_opens_days, policy.lost_closes_days)
            };
            Some(Window {
                opens_at: from + days(opens),
                closes_at: from + days(closes),
            })
        }
        ClaimType::Damaged => facts.delivered_at().map(|delivered| Window {
            opens_at: delivered,
            closes_at: delivered + days(policy.damaged_closes_days),
        }),
        // A misdelivery is a parcel lost at the last step: it gets the lost-in-transit
        // deadline, counted from the delivery scan, and can be filed at once.
        ClaimType::Misdelivery => facts.delivered_at().map(|delivered| Window {
            opens_at: delivered,
            closes_at: delivered
                + days(if facts.international {
                    policy.lost_closes_days_international
                } else {
                    policy.lost_closes_days
                }),
        }),
    }
}

/// Decides a claim. `Ok` means it may be filed; the one-open-claim rule needs storage
/// and is applied by the caller with [`Refusal::duplicate`].
pub fn decide(
    claim_type: ClaimType,
    facts: &ShipmentFacts<'_>,
    evidence: &ClaimEvidence,
    policy: &ClaimPolicy,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if facts.label_source == LabelSource::Prepaid {
        return Err(Refusal::new(
            RefusalCode::PrepaidLabel,
            "We can only file claims for shipments on labels we generated. This one used a prepaid label: please contact the carrier directly.",
        ));
    }
    let status = facts.status();
    if status == ShipmentStatus::ReturnedToSender {
        return Err(Refusal::new(
            RefusalCode::ReturnedToSender,
            "This parcel was returned to sender, so it is not lost or misdelivered; it is on its way back to the warehouse.",
        ));
    }
    let misdelivery_confirmed = facts.delivered_in_another_country()
        || evidence
            .carrier_reference
            .as_deref()
            .is_some_and(|r| !r.trim().is_empty());
    let delivered = status == ShipmentStatus::Delivered;
    match claim_type {
        ClaimType::LostInTransit if delivered && !misdelivery_confirmed => Err(Refusal::new(
            RefusalCode::DeliveredNoMisdelivery,
            "The carrier shows this parcel as delivered. We can only file a claim if the carrier confirms a misdelivery: send their confirmation reference with a misdelivery claim.",
        )),
        ClaimType::LostInTransit if delivered => check_window(ClaimType::Misdelivery, facts, policy, now),
        ClaimType::LostInTransit => check_window(claim_type, facts, policy, now),
        ClaimType::Damaged | ClaimType::Misdelivery if !delivered => Err(Refusal::new(
            RefusalCode::NotDelivered,
            format!(
                "A {} claim needs a delivered parcel, and the carrier does not show this one as delivered yet.",
                claim_type.as_str()
            ),
        )),
        ClaimType::Misdelivery if !misdelivery_confirmed => Err(Refusal::new(
            RefusalCode::MisdeliveryNotConfirmed,
            "A misdelivery claim needs the carrier's confirmation: a delivery scan in another country, or the carrier's reference confirming a wrong address or a discarded parcel.",
        )),
        ClaimType::Damaged | ClaimType::Misdelivery => check_window(claim_type, facts, policy, now),
    }
}

fn check_window(
    claim_type: ClaimType,
    facts: &ShipmentFacts<'_>,
    policy: &ClaimPolicy,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    match window(claim_type, facts, policy) {
        Some(w) => w.check(now, &claim_type.as_str().replace('_', " ")),
        None => Err(Refusal::new(
            RefusalCode::NotShipped,
            "This shipment has no carrier record to claim against yet.",
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Open,
    NotYetOpen,
    Closed,
    NotEligible,
}

/// The claim-window clock shown in the order details, so a merchant sees when a claim
/// opens and closes before asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimClock {
    pub state: ClockState,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefusalCode>,
    pub message: String,
}

pub fn clock(
    claim_type: ClaimType,
    facts: &ShipmentFacts<'_>,
    policy: &ClaimPolicy,
    now: DateTime<Utc>,
) -> ClaimClock {
    let window = window(claim_type, facts, policy);
    let decision = decide(claim_type, facts, &ClaimEvidence::default(), policy, now);
    let (state, reason, message) = match decision {
        Ok(()) => (
            ClockState::Open,
            None,
            "A claim can be filed now.".to_owned(),
        ),
        Err(r) => {
            let state = match r.code {
                RefusalCode::WindowNotOpen => ClockState::NotYetOpen,
                RefusalCode::WindowClosed => ClockState::Closed,
                // Evidence can still open it: the clock says what is needed.
                _ => ClockState::NotEligible,
            };
            (state, Some(r.code), r.message)
        }
    };
    ClaimClock {
        state,
        opens_at: window.map(|w| w.opens_at),
        closes_at: window.map(|w| w.closes_at),
        reason,
        message,
    }
}

/// Where a claim stands with the carrier. Intake only ever creates `Open` claims; the
/// other states belong to the resolution step (`resolve_claim` in the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Filed and waiting for the carrier's decision.
    Open,
    /// The carrier accepted the claim.
    Approved,
    /// The carrier refused the claim.
    Denied,
    /// The merchant withdrew it (the parcel turned up, say).
    Withdrawn,
}

impl ClaimState {
    pub const ALL: [ClaimState; 4] = [Self::Open, Self::Approved, Self::Denied, Self::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value))
    }
}

/// A claim as stored: what was decided and the evidence it was filed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub claim_id: String,
    pub order_id: String,
    pub merchant_id: String,
    pub order_number: String,
    #[serde(rename = "type")]
    pub claim_type: ClaimType,
    pub state: ClaimState,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_reference: Option<String>,
    /// The package claimed against; `None` on claims filed before orders had several
    /// packages (those are on the order's first package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    /// The package's label, as it was when the claim was filed.
    pub carrier: String,
    pub tracking_number: String,
    pub international: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The normalized request body: a retry with the same body is the same claim, another
    /// body under the same idempotency key is a conflict.
    pub request_fingerprint: String,
    /// The `claim_filed` timeline row written with the claim.
    pub event_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::tests::scan;
    use crate::timeline::{Location, ScanCode, TimelineEvent};
    use chrono::TimeZone;

    #[test]
    fn claim_types_and_label_sources_parse_their_api_spellings_only() {
        for claim_type in ClaimType::ALL {
            assert_eq!(ClaimType::parse(claim_type.as_str()), Some(claim_type));
            assert_eq!(
                ClaimType::parse(&format!(" {} ", claim_type.as_str())),
                Some(claim_type)
            );
        }
        assert_eq!(
            ClaimType::parse("lost_in_transit"),
            Some(ClaimType::LostInTransit)
        );
        assert_eq!(ClaimType::parse("damaged"), Some(ClaimType::Damaged));
        assert_eq!(
            ClaimType::parse("misdelivery"),
            Some(ClaimType::Misdelivery)
        );
        for wrong in ["", "lost", "Damaged!", "misdelivered"] {
            assert_eq!(ClaimType::parse(wrong), None, "{wrong:?}");
        }
        assert_eq!(LabelSource::parse("jetpack"), Some(LabelSource::Jetpack));
        assert_eq!(LabelSource::parse(" Prepaid "), Some(LabelSource::Prepaid));
        assert_eq!(LabelSource::parse("JETPACK"), Some(LabelSource::Jetpack));
        for wrong in ["", "ups", "pre-paid"] {
            assert_eq!(LabelSource::parse(wrong), None, "{wrong:?}");
        }
    }

    fn day(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 9, 1, 15, 0, 0).unwrap() + Duration::days(n)
    }

    fn delivered_in(country: &str, at: DateTime<Utc>) -> TimelineEvent {
        let mut event = scan(ScanCode::Delivered, at);
        event.location = Some(Location {
            country: Some(country.into()),
            ..Location::default()
        });
        event
    }

    struct Case {
        label_source: LabelSource,
        international: bool,
        timeline: Timeline,
    }

    impl Case {
        fn jetpack(events: Vec<TimelineEvent>) -> Self {
            Self {
                label_source: LabelSource::Jetpack,
                international: false,
                timeline: Timeline::new(events),
            }
        }

        fn facts(&self) -> ShipmentFacts<'_> {
            ShipmentFacts {
                label_source: self.label_source,
                label_created_at: day(0),
                international: self.international,
                ship_to_country: "US",
                timeline: &self.timeline,
            }
        }

        fn decide(
            &self,
            claim_type: ClaimType,
            reference: Option<&str>,
            now: DateTime<Utc>,
        ) -> Result<(), RefusalCode> {
            let evidence = ClaimEvidence {
                carrier_reference: reference.map(str::to_owned),
            };
            decide(
                claim_type,
                &self.facts(),
                &evidence,
                &ClaimPolicy::default(),
                now,
            )
            .map_err(|r| r.code)
        }
    }

    #[test]
    fn prepaid_label_is_refused_with_advice_to_contact_the_carrier() {
        let mut case = Case::jetpack(vec![scan(ScanCode::Pickup, day(1))]);
        case.label_source = LabelSource::Prepaid;
        let refusal = decide(
            ClaimType::LostInTransit,
            &case.facts(),
            &ClaimEvidence::default(),
            &ClaimPolicy::default(),
            day(30),
        )
        .unwrap_err();
        assert_eq!(refusal.code, RefusalCode::PrepaidLabel);
        assert!(refusal.message.contains("contact the carrier directly"));
    }

    #[test]
    fn lost_in_transit_opens_15_days_after_the_last_scan_and_closes_at_45() {
        let case = Case::jetpack(vec![
            scan(ScanCode::Pickup, day(1)),
            scan(ScanCode::InTransit, day(3)),
        ]);
        let before = day(3) + Duration::days(15) - Duration::seconds(1);
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, before),
            Err(RefusalCode::WindowNotOpen)
        );
        assert_eq!(case.decide(ClaimType::LostInTransit, None, day(18)), Ok(()));
        assert_eq!(
            case.decide(
                ClaimType::LostInTransit,
                None,
                day(48) - Duration::seconds(1)
            ),
            Ok(())
        );
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, day(48)),
            Err(RefusalCode::WindowClosed)
        );
    }

    #[test]
    fn early_lost_in_transit_refusal_says_when_the_window_opens() {
        let case = Case::jetpack(vec![scan(ScanCode::Pickup, day(1))]);
        let refusal = decide(
            ClaimType::LostInTransit,
            &case.facts(),
            &ClaimEvidence::default(),
            &ClaimPolicy::default(),
            day(2),
        )
        .unwrap_err();
        assert_eq!(refusal.opens_at, Some(day(16)));
        assert!(
            refusal.message.contains("September 17, 2026"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn never_scanned_shipment_counts_lost_in_transit_from_the_label() {
        let case = Case::jetpack(vec![]);
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, day(14)),
            Err(RefusalCode::WindowNotOpen)
        );
        assert_eq!(case.decide(ClaimType::LostInTransit, None, day(15)), Ok(()));
    }

    #[test]
    fn international_lost_in_transit_opens_at_20_days_and_closes_at_50() {
        let mut case = Case::jetpack(vec![scan(ScanCode::Pickup, day(0))]);
        case.international = true;
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, day(19)),
            Err(RefusalCode::WindowNotOpen)
        );
        assert_eq!(case.decide(ClaimType::LostInTransit, None, day(20)), Ok(()));
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, day(50)),
            Err(RefusalCode::WindowClosed)
        );
    }

    #[test]
    fn delivered_shipment_refuses_lost_in_transit_without_misdelivery() {
        let case = Case::jetpack(vec![
            scan(ScanCode::Pickup, day(1)),
            delivered_in("US", day(3)),
        ]);
        assert_eq!(
            case.decide(ClaimType::LostInTransit, None, day(20)),
            Err(RefusalCode::DeliveredNoMisdelivery)
        );
    }

    #[test]
    fn delivery_scan_in_another_country_confirms_misdelivery() {
        let case = Case::jetpack(vec![
            scan(ScanCode::Pickup, day(1)),
            delivered_in("MX", day(3)),
        ]);
        assert_eq!(case.decide(ClaimType::LostInTransit, None, day(5)), Ok(()));
        assert_eq!(case.decide(ClaimType::Misdelivery, None, day(5)), Ok(()));
    }

    #[test]
    fn carrier_reference_confirms_misdelivery_of_a_delivered_parcel() {
        let case = Case::jetpack(vec![delivered_in("US", day(3))]);
        assert_eq!(
            case.decide(ClaimType::Misdelivery, None, day(5)),
            Err(RefusalCode::MisdeliveryNotConfirmed)
        );
        assert_eq!(
            case.decide(ClaimType::Misdelivery, Some("UPS-INV-7781"), day(5)),
            Ok(())
        );
        assert_eq!(
            case.decide(ClaimType::Misdelivery, Some("  "), day(5)),
            Err(RefusalCode::MisdeliveryNotConfirmed)
        );
    }

    #[test]
    fn misdelivery_needs_a_delivered_parcel() {
        let case = Case::jetpack(vec![scan(ScanCode::OutForDelivery, day(3))]);
        assert_eq!(
            case.decide(ClaimType::Misdelivery, Some("REF"), day(5)),
            Err(RefusalCode::NotDelivered)
        );
    }

    #[test]
    fn damaged_is_accepted_within_30_days_of_delivery() {
        let case = Case::jetpack(vec![delivered_in("US", day(3))]);
        assert_eq!(case.decide(ClaimType::Damaged, None, day(3)), Ok(()));
        assert_eq!(
            case.decide(ClaimType::Damaged, None, day(33) - Duration::seconds(1)),
            Ok(())
        );
        assert_eq!(
            case.decide(ClaimType::Damaged, None, day(33)),
            Err(RefusalCode::WindowClosed)
        );
    }

    #[test]
    fn damaged_before_delivery_is_refused() {
        let case = Case::jetpack(vec![scan(ScanCode::InTransit, day(3))]);
        assert_eq!(
            case.decide(ClaimType::Damaged, None, day(4)),
            Err(RefusalCode::NotDelivered)
        );
    }

    #[test]
    fn returned_to_sender_refuses_every_claim() {
        let case = Case::jetpack(vec![scan(ScanCode::ReturnToSender, day(3))]);
        for claim_type in ClaimType::ALL {
            assert_eq!(
                case.decide(claim_type, Some("REF"), day(20)),
                Err(RefusalCode::ReturnedToSender)
            );
        }
    }

    #[test]
    fn every_refusal_code_has_a_stable_string_and_a_sentence() {
        let duplicate = Refusal::duplicate(ClaimType::Damaged);
        assert_eq!(duplicate.code.as_str(), "duplicate_claim");
        assert!(duplicate.message.ends_with('.'));
        assert_eq!(
            serde_json::to_value(RefusalCode::DeliveredNoMisdelivery).unwrap(),
            "delivered_no_misdelivery"
        );
    }

    #[test]
    fn clock_shows_when_each_claim_opens_and_closes() {
        let case = Case::jetpack(vec![scan(ScanCode::Pickup, day(1))]);
        let lost = clock(
            ClaimType::LostInTransit,
            &case.facts(),
            &ClaimPolicy::default(),
            day(2),
        );
        assert_eq!(lost.state, ClockState::NotYetOpen);
        assert_eq!(lost.opens_at, Some(day(16)));
        assert_eq!(lost.closes_at, Some(day(46)));
        let damaged = clock(
            ClaimType::Damaged,
            &case.facts(),
            &ClaimPolicy::default(),
            day(2),
        );
        assert_eq!(damaged.state, ClockState::NotEligible);
        assert_eq!(damaged.reason, Some(RefusalCode::NotDelivered));
        assert_eq!(damaged.opens_at, None);
        let open = clock(
            ClaimType::LostInTransit,
            &case.facts(),
            &ClaimPolicy::default(),
            day(20),
        );
        assert_eq!(open.state, ClockState::Open);
        let closed = clock(
            ClaimType::LostInTransit,
            &case.facts(),
            &ClaimPolicy::default(),
            day(60),
        );
        assert_eq!(closed.state, ClockState::Closed);
    }

    #[test]
    fn claim_states_read_back_from_their_names_in_any_case() {
        for state in ClaimState::ALL {
            assert_eq!(ClaimState::parse(state.as_str()), Some(state));
            assert_eq!(
                ClaimState::parse(&format!(" {} ", state.as_str().to_uppercase())),
                Some(state)
            );
        }
        let names: Vec<_> = ClaimState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["open", "approved", "denied", "withdrawn"]);
        assert_eq!(ClaimState::parse("closed"), None);
    }
}
