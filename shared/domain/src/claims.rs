//! Claim eligibility and the claim-window clock.
//!
//! Everything is decided from the stored shipment and its timeline; a claim body can
//! add evidence (a carrier reference) but never assert a status.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::status::ShipmentStatus;
use crate::timeline::Timeline;

/// Who paid for the label decides whether we can claim with the carrier at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Open,
    NotYetOpen,
    Closed,
    NotEligible,
}

/// The claim-window clock shown in the order details, so a merchant sees when a claim
/// opens and closes before asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// Where a claim stands with the carrier: `filed` (by the merchant), `submitted` (operations
/// opened a case with the carrier), then the carrier's `approved` or `denied`. Only
/// operations move a claim, and only forward (see [`transition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    /// Filed and waiting for operations to open the carrier case. Stored as `open`
    /// before claims had a lifecycle, and read under that name too.
    #[serde(rename = "filed", alias = "open")]
    Open,
    /// Operations opened a case with the carrier.
    Submitted,
    /// The carrier accepted the claim.
    Approved,
    /// The carrier refused the claim.
    Denied,
    /// The merchant withdrew it (the parcel turned up, say).
    Withdrawn,
}

impl ClaimState {
    pub const ALL: [ClaimState; 5] = [
        Self::Open,
        Self::Submitted,
        Self::Approved,
        Self::Denied,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "filed",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Every spelling a stored claim may carry for this state.
    pub fn stored_names(self) -> &'static [&'static str] {
        match self {
            Self::Open => &["filed", "open"],
            Self::Submitted => &["submitted"],
            Self::Approved => &["approved"],
            Self::Denied => &["denied"],
            Self::Withdrawn => &["withdrawn"],
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL.into_iter().find(|s| {
            s.stored_names()
                .iter()
                .any(|name| name.eq_ignore_ascii_case(value))
        })
    }

    /// Still waiting on someone: a new claim of its type on its package would repeat it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::Submitted)
    }
}

/// A step of a claim's life, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClaimStep {
    pub state: ClaimState,
    pub at: DateTime<Utc>,
    /// The carrier's case number, on `submitted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_case_reference: Option<String>,
    /// What the carrier pays, on `approved`: a decimal with two places ("42.50").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// ISO 4217, on `approved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Why the carrier refused, on `denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A move operations ask for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimMove {
    Submit { carrier_case_reference: String },
    Approve { amount: String, currency: String },
    Deny { reason: String },
}

impl ClaimMove {
    pub fn target(&self) -> ClaimState {
        match self {
            Self::Submit { .. } => ClaimState::Submitted,
            Self::Approve { .. } => ClaimState::Approved,
            Self::Deny { .. } => ClaimState::Denied,
        }
    }

    fn step(&self, at: DateTime<Utc>) -> ClaimStep {
        let mut step = ClaimStep {
            state: self.target(),
            at,
            carrier_case_reference: None,
            amount: None,
            currency: None,
            reason: None,
        };
        match self {
            Self::Submit {
                carrier_case_reference,
            } => step.carrier_case_reference = Some(carrier_case_reference.clone()),
            Self::Approve { amount, currency } => {
                step.amount = Some(amount.clone());
                step.currency = Some(currency.clone());
            }
            Self::Deny { reason } => step.reason = Some(reason.clone()),
        }
        step
    }
}

/// Why a move is refused; each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveRefusal {
    /// The move is not the next step from where the claim stands.
    OutOfOrder { from: ClaimState, to: ClaimState },
    /// The claim took this step already, with other details.
    ConflictsWithHistory { to: ClaimState },
}

impl MoveRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::OutOfOrder { .. } => "claim_transition_out_of_order",
            Self::ConflictsWithHistory { .. } => "claim_transition_conflict",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::OutOfOrder { from, to } => format!(
                "A {} claim cannot become {}: claims go filed, then submitted, then approved or denied.",
                from.as_str(),
                to.as_str()
            ),
            Self::ConflictsWithHistory { to } => format!(
                "This claim was already {} with other details; a step is taken once.",
                to.as_str()
            ),
        }
    }
}

/// What a move does to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveDecision {
    /// The claim took this very step already: a retry, nothing to write.
    AlreadyDone,
    Refused(MoveRefusal),
    /// The claim after the step, the state it was read in, and the timeline row.
    Move {
        claim: Box<ClaimRecord>,
        from: ClaimState,
        event: Box<crate::timeline::TimelineEvent>,
    },
}

/// Decides `step` on `claim` at `now`: forward only, each step once.
pub fn transition(claim: &ClaimRecord, step: &ClaimMove, now: DateTime<Utc>) -> MoveDecision {
    let to = step.target();
    if let Some(taken) = claim.history.iter().find(|s| s.state == to) {
        let asked = step.step(taken.at);
        return if *taken == asked {
            MoveDecision::AlreadyDone
        } else {
            MoveDecision::Refused(MoveRefusal::ConflictsWithHistory { to })
        };
    }
    let allowed = matches!(
        (claim.state, to),
        (ClaimState::Open, ClaimState::Submitted)
            | (
                ClaimState::Submitted,
                ClaimState::Approved | ClaimState::Denied
            )
    );
    if !allowed {
        return MoveDecision::Refused(MoveRefusal::OutOfOrder {
            from: claim.state,
            to,
        });
    }
    let mut moved = claim.clone();
    moved.state = to;
    moved.updated_at = now;
    moved.history.push(step.step(now));
    let detail = match step {
        ClaimMove::Submit {
            carrier_case_reference,
        } => format!(
            "submitted to {}, case {carrier_case_reference}",
            claim.carrier
        ),
        ClaimMove::Approve { amount, currency } => {
            format!("approved by {}: {amount} {currency}", claim.carrier)
        }
        ClaimMove::Deny { reason } => format!("denied by {}: {reason}", claim.carrier),
    };
    let event = crate::timeline::TimelineEvent {
        event_id: crate::timeline::short_hash(&format!(
            "claim-step\u{0}{}\u{0}{}",
            claim.claim_id,
            to.as_str()
        )),
        kind: crate::timeline::EventType::ClaimUpdated,
        status: None,
        code: format!("CLAIM_{}", to.as_str().to_ascii_uppercase()),
        description: format!("Claim {} {detail}", claim.claim_id),
        occurred_at: now,
        utc_offset_minutes: crate::timeline::business_offset_minutes(now),
        recorded_at: now,
        location: None,
        carrier: Some(claim.carrier.clone()),
        tracking_number: Some(claim.tracking_number.clone()),
        exception_reason: None,
        handoff: None,
        shipment_id: claim.shipment_id.clone(),
        replaces: None,
    };
    MoveDecision::Move {
        claim: Box::new(moved),
        from: claim.state,
        event: Box::new(event),
    }
}

/// "42.5" -> "42.50": a positive amount with at most two decimals and nine digits before.
pub fn parse_amount(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (whole, cents) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || whole.len() > 9 || !digits(whole) || cents.len() > 2 || !digits(cents) {
        return None;
    }
    if raw.ends_with('.') {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let cents: u64 = format!("{cents:0<2}").parse().ok()?;
    (whole > 0 || cents > 0).then(|| format!("{whole}.{cents:02}"))
}

/// Three ASCII letters, upper-cased ("usd" -> "USD").
pub fn parse_currency(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (raw.len() == 3 && raw.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| raw.to_ascii_uppercase())
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
    /// Every step after filing, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<ClaimStep>,
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
        assert_eq!(
            names,
            ["filed", "submitted", "approved", "denied", "withdrawn"]
        );
        assert_eq!(ClaimState::parse("closed"), None);
        // Claims stored before the lifecycle said "open".
        assert_eq!(ClaimState::parse("open"), Some(ClaimState::Open));
        let legacy: ClaimState = serde_json::from_str("\"open\"").unwrap();
        assert_eq!(legacy, ClaimState::Open);
        assert_eq!(serde_json::to_string(&legacy).unwrap(), "\"filed\"");
        let open: Vec<_> = ClaimState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(open, [ClaimState::Open, ClaimState::Submitted]);
    }

    fn filed_claim() -> ClaimRecord {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
        ClaimRecord {
            claim_id: "clm_1".into(),
            order_id: "ord_1".into(),
            merchant_id: "m".into(),
            order_number: "1001".into(),
            claim_type: ClaimType::LostInTransit,
            state: ClaimState::Open,
            description: "Never arrived.".into(),
            carrier_reference: None,
            shipment_id: Some("SHP-1".into()),
            carrier: "ups".into(),
            tracking_number: "1Z999AA10123456784".into(),
            international: false,
            created_at: at,
            updated_at: at,
            request_fingerprint: "f".into(),
            event_id: "e".into(),
            history: Vec::new(),
        }
    }

    fn moved(claim: &ClaimRecord, step: &ClaimMove, at: DateTime<Utc>) -> ClaimRecord {
        match transition(claim, step, at) {
            MoveDecision::Move {
                claim: next,
                from,
                event,
            } => {
                assert_eq!(from, claim.state);
                assert_eq!(event.kind, crate::timeline::EventType::ClaimUpdated);
                assert_eq!(event.shipment_id, claim.shipment_id);
                *next
            }
            other => panic!("{step:?} from {:?}: {other:?}", claim.state),
        }
    }

    #[test]
    fn a_claim_goes_filed_submitted_then_approved_or_denied_each_step_once() {
        let filed = filed_claim();
        let day = |d| Utc.with_ymd_and_hms(2026, 12, d, 15, 0, 0).unwrap();
        let submit = ClaimMove::Submit {
            carrier_case_reference: "CASE-9".into(),
        };
        let approve = ClaimMove::Approve {
            amount: "42.50".into(),
            currency: "USD".into(),
        };
        let deny = ClaimMove::Deny {
            reason: "delivered".into(),
        };
        // Nothing is decided before the carrier has the case.
        for early in [&approve, &deny] {
            assert!(matches!(
                transition(&filed, early, day(2)),
                MoveDecision::Refused(MoveRefusal::OutOfOrder {
                    from: ClaimState::Open,
                    ..
                })
            ));
        }
        let submitted = moved(&filed, &submit, day(2));
        assert_eq!(submitted.state, ClaimState::Submitted);
        assert_eq!(submitted.updated_at, day(2));
        assert_eq!(submitted.history.len(), 1);
        assert_eq!(
            submitted.history[0].carrier_case_reference.as_deref(),
            Some("CASE-9")
        );
        // The same step again is done; another reference for it conflicts.
        assert_eq!(
            transition(&submitted, &submit, day(3)),
            MoveDecision::AlreadyDone
        );
        let other_case = ClaimMove::Submit {
            carrier_case_reference: "CASE-10".into(),
        };
        let refusal = match transition(&submitted, &other_case, day(3)) {
            MoveDecision::Refused(refusal) => refusal,
            other => panic!("{other:?}"),
        };
        assert_eq!(refusal.code(), "claim_transition_conflict");
        assert!(refusal.message().contains("submitted"));
        let approved = moved(&submitted, &approve, day(4));
        assert_eq!(approved.state, ClaimState::Approved);
        assert!(!approved.state.is_open());
        assert_eq!(approved.history[1].amount.as_deref(), Some("42.50"));
        assert_eq!(approved.history[1].currency.as_deref(), Some("USD"));
        assert_eq!(
            transition(&approved, &approve, day(5)),
            MoveDecision::AlreadyDone
        );
        // Only forward: a decided claim takes no other decision, nor goes back.
        for late in [&deny, &other_case] {
            let MoveDecision::Refused(refusal) = transition(&approved, late, day(5)) else {
                panic!("{late:?} after approval");
            };
            assert!(
                matches!(
                    refusal.code(),
                    "claim_transition_out_of_order" | "claim_transition_conflict"
                ),
                "{refusal:?}"
            );
        }
        let denied = moved(&submitted, &deny, day(4));
        assert_eq!(denied.history[1].reason.as_deref(), Some("delivered"));
        let event = match transition(&submitted, &deny, day(4)) {
            MoveDecision::Move { event, .. } => event,
            other => panic!("{other:?}"),
        };
        assert_eq!(event.code, "CLAIM_DENIED");
        assert!(event.description.contains("delivered"));
        let again = match transition(&submitted, &deny, day(6)) {
            MoveDecision::Move { event, .. } => event,
            other => panic!("{other:?}"),
        };
        assert_eq!(event.event_id, again.event_id, "one row per claim and step");
        let mut withdrawn = filed_claim();
        withdrawn.state = ClaimState::Withdrawn;
        assert!(matches!(
            transition(&withdrawn, &submit, day(2)),
            MoveDecision::Refused(MoveRefusal::OutOfOrder { .. })
        ));
    }

    #[test]
    fn amounts_and_currencies_are_read_strictly() {
        for (raw, expected) in [
            ("42.5", Some("42.50")),
            ("42", Some("42.00")),
            (" 0.01 ", Some("0.01")),
            ("999999999.99", Some("999999999.99")),
            ("0", None),
            ("0.00", None),
            ("-1", None),
            ("1.234", None),
            ("1.", None),
            (".5", None),
            ("1e3", None),
            ("1000000000", None),
            ("", None),
        ] {
            assert_eq!(parse_amount(raw).as_deref(), expected, "{raw:?}");
        }
        assert_eq!(parse_currency(" usd ").as_deref(), Some("USD"));
        for bad in ["US", "USDD", "U5D", ""] {
            assert_eq!(parse_currency(bad), None, "{bad:?}");
        }
    }
}
