//! Sync jobs: which timeline events tell a store something, and what they tell it.
//!
//! Pure: the stream handler reads the order, these functions decide, and the job carries
//! everything the sync worker needs, so the worker never reads the order again.

use crate::carriers::{tracking_url_for, Carrier};
use crate::order::{Order, OrderSource};
use crate::sync::SyncKey;
use crate::timeline::{EventType, TimelineEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Version of the job body, so a worker can refuse a shape it does not know.
pub const JOB_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// The label's tracking: the store marks the order shipped.
    Label,
    /// A final-mile carrier took over: the store's tracking moves to its number.
    Handoff,
    /// The package's label was voided: the store forgets its tracking.
    Void,
}

/// A carrier's tracking number, with the public link when the carrier has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    /// Our carrier code (`ups`), or a normalised code for a carrier outside the catalogue.
    pub carrier: String,
    pub tracking_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
}

impl Tracking {
    fn new(carrier: &str, tracking_number: &str) -> Self {
        Self {
            carrier: carrier.to_owned(),
            tracking_number: tracking_number.to_owned(),
            tracking_url: tracking_url_for(carrier, tracking_number),
        }
    }

    /// Our catalogue entry, when the carrier is in it.
    pub fn known_carrier(&self) -> Option<Carrier> {
        Carrier::parse(&self.carrier).ok()
    }

    /// How people write the carrier's name: the catalogue's name, else the code as given.
    pub fn carrier_name(&self) -> String {
        self.known_carrier().map_or_else(
            || self.carrier.clone(),
            |carrier| carrier.display_name().to_owned(),
        )
    }
}

/// One push to one store, as a queue message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub version: u32,
    pub kind: SyncKind,
    pub order_id: String,
    pub merchant_id: String,
    pub order_number: String,
    pub platform: OrderSource,
    /// The order's id in the store: a Shopify Order gid, an Amazon order id.
    pub external_order_id: String,
    /// What to push now.
    pub tracking: Tracking,
    /// The label's tracking; on a hand-off, the store's record to update is found by it.
    pub label: Tracking,
    pub service: String,
    /// When the label was made: the ship date stores ask for.
    pub shipped_at: DateTime<Utc>,
    /// The timeline event that asked for this push.
    pub event_id: String,
    /// The package pushed for. Jobs queued before packages had ids carry none: the
    /// order's first package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageRef>,
    /// On a relabel: the label the store may hold, to be replaced by this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Tracking>,
}

/// A package as a store sees it: our id, and its place among the order's packages
/// (from 1), which is Amazon's package reference for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    pub shipment_id: String,
    pub number: u32,
    /// The package's label revision (0 until relabeled): a number given, taken back and
    /// given again is a push each time.
    #[serde(default)]
    pub revision: u32,
}

impl SyncJob {
    /// The sync record this job is deduplicated on: one push per store and tracking number.
    pub fn key(&self) -> SyncKey {
        SyncKey {
            order_id: self.order_id.clone(),
            platform: self.platform,
            carrier: self.tracking.carrier.clone(),
            tracking_number: self.tracking.tracking_number.clone(),
            withdraws: self.kind == SyncKind::Void,
            label: self
                .package
                .as_ref()
                .map(|p| format!("{}#{}", p.shipment_id, p.revision)),
        }
    }

    /// The record of taking back the label this relabel replaced, which this push does.
    pub fn replaced_key(&self) -> Option<SyncKey> {
        let old = self.replaces.as_ref()?;
        let package = self.package.as_ref()?;
        Some(SyncKey {
            order_id: self.order_id.clone(),
            platform: self.platform,
            carrier: old.carrier.clone(),
            tracking_number: old.tracking_number.clone(),
            withdraws: true,
            label: Some(format!(
                "{}#{}",
                package.shipment_id,
                package.revision.saturating_sub(1)
            )),
        })
    }

    /// Amazon's reference for the package: its place in the order.
    pub fn package_number(&self) -> u32 {
        self.package.as_ref().map_or(1, |p| p.number)
    }
}

/// Why an event leads to no job; logged, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Only a label and a hand-off change what the customer can track.
    NotATrackingEvent,
    /// Manual, spreadsheet and API orders: the merchant shares tracking (their details say so).
    SourceDoesNotSync,
    /// A store order without its store id cannot be addressed (intake refuses these).
    NoExternalOrderId,
    /// A hand-off on an order with no label, or an event missing its numbers.
    IncompleteEvent,
    /// The event's package was voided: its label is not the store's business any more.
    ShipmentVoided,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotATrackingEvent => "not a label or hand-off event",
            Self::SourceDoesNotSync => "order source does not sync tracking to a store",
            Self::NoExternalOrderId => "store order without an external order id",
            Self::IncompleteEvent => "event or order lacks the tracking to push",
            Self::ShipmentVoided => "the event's package was voided",
        }
    }
}

/// The job a timeline event asks for on `order`, if any.
/// Whether an event can tell a store something: a label, or any scan reporting a
/// hand-off (see `TimelineEvent::reported_handoff`).
pub fn is_tracking_event(event: &TimelineEvent) -> bool {
    matches!(event.kind, EventType::LabelCreated | EventType::LabelVoided)
        || event.reported_handoff().is_some()
}

pub fn job_for_event(order: &Order, event: &TimelineEvent) -> Result<SyncJob, Skip> {
    if !is_tracking_event(event) {
        return Err(Skip::NotATrackingEvent);
    }
    let handoff = event.reported_handoff();
    let source = order.details.source;
    if !source.syncs_tracking_to_store() {
        return Err(Skip::SourceDoesNotSync);
    }
    let external_order_id = order
        .details
        .external_order_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or(Skip::NoExternalOrderId)?;
    // The package the event is about; a label row names its own label, which matters
    // once a package is relabeled: each label row pushes the label it records.
    let shipment = order.shipment_of(event);
    if event.kind != EventType::LabelVoided && shipment.is_some_and(|s| !s.is_live()) {
        return Err(Skip::ShipmentVoided);
    }
    let label = match (event.kind, shipment) {
        (EventType::LabelCreated | EventType::LabelVoided, _) => Tracking::new(
            event.carrier.as_deref().ok_or(Skip::IncompleteEvent)?,
            event
                .tracking_number
                .as_deref()
                .ok_or(Skip::IncompleteEvent)?,
        ),
        (_, Some(shipment)) => Tracking::new(shipment.carrier.code(), &shipment.tracking_number),
        (_, None) => return Err(Skip::IncompleteEvent),
    };
    let tracking = match handoff {
        Some(handoff) => Tracking::new(&handoff.carrier, &handoff.tracking_number),
        None => label.clone(),
    };
    let package = shipment.and_then(|s| {
        let place = order
            .shipments
            .iter()
            .position(|p| p.shipment_id == s.shipment_id)?;
        Some(PackageRef {
            shipment_id: s.shipment_id.clone(),
            number: u32::try_from(place + 1).ok()?,
            // A void takes back the label it names, the package's current one.
            revision: s.label_revision,
        })
    });
    Ok(SyncJob {
        version: JOB_VERSION,
        kind: match (event.kind, handoff) {
            (EventType::LabelVoided, _) => SyncKind::Void,
            (_, Some(_)) => SyncKind::Handoff,
            _ => SyncKind::Label,
        },
        order_id: order.order_id.clone(),
        merchant_id: order.merchant_id.clone(),
        order_number: order.details.order_number.clone(),
        platform: source,
        external_order_id,
        tracking,
        label,
        service: shipment.map(|s| s.service.clone()).unwrap_or_default(),
        shipped_at: shipment.map_or(event.occurred_at, |s| s.label_created_at),
        event_id: event.event_id.clone(),
        package,
        replaces: event
            .replaces
            .as_ref()
            .map(|old| Tracking::new(&old.carrier, &old.tracking_number)),
    })
}

/// Why a queue message is not a job; the message goes to the dead-letter queue with it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the message is not a sync job: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("sync job version {0} is not supported (expected {JOB_VERSION})")]
    UnsupportedVersion(u32),
    #[error("a {0} order cannot be synced to a store")]
    NotAStore(&'static str),
}

pub fn parse_job(body: &str) -> Result<SyncJob, JobError> {
    let job: SyncJob = serde_json::from_str(body)?;
    if job.version != JOB_VERSION {
        return Err(JobError::UnsupportedVersion(job.version));
    }
    if !job.platform.syncs_tracking_to_store() {
        return Err(JobError::NotAStore(job.platform.as_str()));
    }
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::LabelSource;
    use crate::order::{Address, Customer, NewOrder};
    use crate::status::ShipmentStatus;
    use crate::timeline::Handoff;
    use chrono::TimeZone;

    const UPS: &str = "1Z999AA10123456784";
    const USPS: &str = "9400111899223197428497";

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap()
    }

    fn order(source: OrderSource, external: Option<&str>) -> Order {
        let details = NewOrder {
            order_number: "1001".into(),
            source,
            external_order_id: external.map(str::to_owned),
            customer: Customer {
                name: "Ada Lovelace".into(),
                email: crate::email::EmailAddress::parse("ada@example.com").unwrap(),
            },
            ship_to: Address {
                line1: "1 Main St".into(),
                line2: None,
                city: "Austin".into(),
                state: Some("TX".into()),
                postal_code: Some("78701".into()),
                country: "US".into(),
            },
        };
        let mut order = Order::new("merchant-acme", details, at());
        let label = crate::label::Label {
            carrier: Carrier::Ups,
            service: "ground".into(),
            tracking_number: crate::carriers::TrackingNumber::parse(Carrier::Ups, UPS).unwrap(),
            label_source: LabelSource::Jetpack,
        };
        order.shipments = vec![label.shipment(order.next_shipment_id(), at())];
        order
    }

    fn event(kind: EventType) -> TimelineEvent {
        TimelineEvent {
            shipment_id: None,
            replaces: None,
            event_id: "evt-1".into(),
            kind,
            status: Some(ShipmentStatus::AtDepot),
            code: "LABEL_CREATED".into(),
            description: "Packed and labeled".into(),
            occurred_at: at(),
            utc_offset_minutes: -360,
            recorded_at: at(),
            location: None,
            carrier: Some("ups".into()),
            tracking_number: Some(UPS.into()),
            exception_reason: None,
            handoff: (kind == EventType::Handoff).then(|| Handoff {
                carrier: "usps".into(),
                tracking_number: USPS.into(),
            }),
        }
    }

    #[test]
    fn shopify_label_becomes_a_label_job_with_the_tracking_link() {
        let order = order(OrderSource::Shopify, Some("gid://shopify/Order/5531"));
        let job = job_for_event(&order, &event(EventType::LabelCreated)).unwrap();
        assert_eq!(job.kind, SyncKind::Label);
        assert_eq!(job.external_order_id, "gid://shopify/Order/5531");
        assert_eq!(job.tracking.carrier, "ups");
        assert_eq!(job.tracking.tracking_number, UPS);
        assert_eq!(
            job.tracking.tracking_url.as_deref(),
            Some("https://www.ups.com/track?tracknum=1Z999AA10123456784")
        );
        assert_eq!(job.tracking, job.label);
        assert_eq!(job.service, "ground");
        assert_eq!(job.key().carrier, "ups");
    }

    #[test]
    fn handoff_job_pushes_the_final_mile_number_and_remembers_the_label() {
        let order = order(OrderSource::Amazon, Some("902-0300094-5705420"));
        let job = job_for_event(&order, &event(EventType::Handoff)).unwrap();
        assert_eq!(job.kind, SyncKind::Handoff);
        assert_eq!(job.tracking.carrier, "usps");
        assert_eq!(job.tracking.tracking_number, USPS);
        assert!(job.tracking.tracking_url.is_some());
        assert_eq!(job.label.tracking_number, UPS);
        assert_eq!(job.key().tracking_number, USPS);
    }

    #[test]
    fn an_ordinary_scan_carrying_a_handoff_is_a_handoff_for_the_store_too() {
        let order = order(OrderSource::Shopify, Some("gid://shopify/Order/5531"));
        let mut scan = event(EventType::CarrierScan);
        scan.code = "IN_TRANSIT".into();
        scan.handoff = Some(Handoff {
            carrier: "usps".into(),
            tracking_number: USPS.into(),
        });
        let job = job_for_event(&order, &scan).unwrap();
        assert_eq!(job.kind, SyncKind::Handoff);
        assert_eq!(job.tracking.tracking_number, USPS);
        assert_eq!(job.label.tracking_number, UPS);
        // A milestone that happens to carry a number is not a carrier's word.
        let mut stalled = scan.clone();
        stalled.kind = EventType::Stalled;
        assert_eq!(
            job_for_event(&order, &stalled),
            Err(Skip::NotATrackingEvent)
        );
    }

    #[test]
    fn manual_spreadsheet_and_api_orders_are_never_synced() {
        for source in [OrderSource::Manual, OrderSource::Excel, OrderSource::Api] {
            let order = order(source, None);
            assert_eq!(
                job_for_event(&order, &event(EventType::LabelCreated)),
                Err(Skip::SourceDoesNotSync)
            );
        }
    }

    #[test]
    fn scans_and_milestones_other_than_label_and_handoff_are_not_synced() {
        let order = order(OrderSource::Shopify, Some("gid://shopify/Order/5531"));
        for kind in [
            EventType::CarrierScan,
            EventType::OrderCompleted,
            EventType::Stalled,
        ] {
            assert_eq!(
                job_for_event(&order, &event(kind)),
                Err(Skip::NotATrackingEvent)
            );
        }
    }

    #[test]
    fn unknown_final_mile_carrier_has_no_link_but_keeps_its_name() {
        let order = order(OrderSource::Shopify, Some("gid://shopify/Order/5531"));
        let mut handoff = event(EventType::Handoff);
        handoff.handoff = Some(Handoff {
            carrier: "la_poste_colissimo".into(),
            tracking_number: "6A12345678901".into(),
        });
        let job = job_for_event(&order, &handoff).unwrap();
        assert_eq!(job.tracking.tracking_url, None);
        assert_eq!(job.tracking.carrier_name(), "la_poste_colissimo");
    }

    #[test]
    fn job_bodies_round_trip_and_foreign_shapes_are_refused() {
        let order = order(OrderSource::Shopify, Some("gid://shopify/Order/5531"));
        let job = job_for_event(&order, &event(EventType::LabelCreated)).unwrap();
        let body = serde_json::to_string(&job).unwrap();
        assert_eq!(parse_job(&body).unwrap(), job);
        assert!(matches!(parse_job("{}"), Err(JobError::Malformed(_))));
        let mut future = serde_json::to_value(&job).unwrap();
        future["version"] = 2.into();
        assert!(matches!(
            parse_job(&future.to_string()),
            Err(JobError::UnsupportedVersion(2))
        ));
        let mut manual = serde_json::to_value(&job).unwrap();
        manual["platform"] = "manual".into();
        assert!(matches!(
            parse_job(&manual.to_string()),
            Err(JobError::NotAStore("manual"))
        ));
    }

    #[test]
    fn every_skip_says_why_in_its_own_words() {
        let reasons = [
            Skip::NotATrackingEvent,
            Skip::SourceDoesNotSync,
            Skip::NoExternalOrderId,
            Skip::IncompleteEvent,
        ]
        .map(Skip::as_str);
        assert!(
            reasons.iter().all(|r| r.split(' ').count() >= 4),
            "{reasons:?}"
        );
        let distinct: std::collections::BTreeSet<_> = reasons.iter().collect();
        assert_eq!(distinct.len(), reasons.len());
        assert_eq!(
            Skip::SourceDoesNotSync.as_str(),
            "order source does not sync tracking to a store"
        );
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;
    use crate::label::tests::ups;
    use crate::label::{attach, void, LabelDecision, VoidDecision};
    use chrono::TimeZone;

    const FIRST: &str = "1Z999AA10123456784";
    const SECOND: &str = "1ZWX0692YP40636269";

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, hour, 0, 0).unwrap()
    }

    fn shopify_order() -> Order {
        let draft: crate::order::OrderDraft = serde_json::from_value(serde_json::json!({
            "order_number": "1001", "source": "shopify",
            "external_order_id": "gid://shopify/Order/5531",
            "customer": {"name": "A", "email": "a@example.com"},
            "ship_to": {"line1": "1 Main", "city": "Austin", "country": "US"}
        }))
        .unwrap();
        Order::new("m", draft.parse().unwrap(), at(9))
    }

    fn labeled(
        order: &Order,
        number: &str,
        shipment_id: Option<&str>,
        hour: u32,
    ) -> (Order, TimelineEvent) {
        match attach(order, &ups(number), shipment_id, at(hour)) {
            LabelDecision::Attach(change) => (change.order, change.event),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_package_is_pushed_under_its_place_and_label() {
        let (one, first_row) = labeled(&shopify_order(), FIRST, None, 10);
        let (two, second_row) = labeled(&one, SECOND, None, 11);
        let first = job_for_event(&two, &first_row).unwrap();
        let second = job_for_event(&two, &second_row).unwrap();
        assert_eq!((first.package_number(), second.package_number()), (1, 2));
        let package = second.package.clone().unwrap();
        assert_eq!(package.shipment_id, two.shipments[1].shipment_id);
        assert_eq!(package.revision, 0);
        let key = second.key();
        assert!(!key.withdraws);
        assert_eq!(
            key.label.as_deref(),
            Some(format!("{}#0", two.shipments[1].shipment_id).as_str())
        );
        assert_ne!(first.key(), key);
        assert_eq!(second.replaced_key(), None);
        // A job queued before packages names none: Amazon's first package.
        let legacy = SyncJob {
            package: None,
            ..first.clone()
        };
        assert_eq!(legacy.package_number(), 1);
        assert_eq!(legacy.key().label, None);
    }

    #[test]
    fn a_relabel_pushes_the_new_number_and_takes_the_old_one_back() {
        let (one, _) = labeled(&shopify_order(), FIRST, None, 10);
        let id = one.shipments[0].shipment_id.clone();
        let (relabeled, row) = labeled(&one, SECOND, Some(&id), 11);
        let job = job_for_event(&relabeled, &row).unwrap();
        assert_eq!(job.kind, SyncKind::Label);
        assert_eq!(job.tracking.tracking_number, SECOND);
        assert_eq!(job.replaces.as_ref().unwrap().tracking_number, FIRST);
        assert_eq!(job.package.as_ref().unwrap().revision, 1);
        let replaced = job.replaced_key().unwrap();
        assert!(replaced.withdraws);
        assert_eq!(replaced.tracking_number, FIRST);
        assert_eq!(replaced.label, Some(format!("{id}#0")));
        assert_eq!(job.key().label, Some(format!("{id}#1")));
    }

    #[test]
    fn a_void_takes_its_number_back_and_a_voided_label_is_pushed_no_more() {
        let (one, label_row) = labeled(&shopify_order(), FIRST, None, 10);
        let id = one.shipments[0].shipment_id.clone();
        let VoidDecision::Void(change) = void(&one, &id, at(11)) else {
            panic!("void");
        };
        let job = job_for_event(&change.order, &change.event).unwrap();
        assert_eq!(job.kind, SyncKind::Void);
        assert_eq!(job.tracking.tracking_number, FIRST);
        assert!(job.key().withdraws);
        assert_eq!(job.key().label, Some(format!("{id}#0")));
        assert!(matches!(
            job_for_event(&change.order, &label_row),
            Err(Skip::ShipmentVoided)
        ));
    }
}
