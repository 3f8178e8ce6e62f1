//! What the 06:00 CT run does to one order: complete it, flag a stall, flag a missing
//! first scan, mark tracking expired. Each is a pure decision returning the updated
//! order and the timeline row to add, or nothing when there is nothing (more) to do,
//! which is what makes re-running a night harmless.

use chrono::{DateTime, Utc};

use crate::calendar;
use crate::order::{is_international, Order, Shipment};
use crate::status::OrderStatus;
use crate::timeline::{business_offset_minutes, EventType, Timeline, TimelineEvent};

/// Business days without a carrier update before a shipment counts as stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallPolicy {
    pub domestic_business_days: u32,
    pub international_business_days: u32,
}

impl Default for StallPolicy {
    fn default() -> Self {
        Self {
            domestic_business_days: 5,
            international_business_days: 10,
        }
    }
}

impl StallPolicy {
    /// The fewest calendar days any stall can take: the sweep reads only shipments
    /// silent at least that long, then applies the business-day rule exactly.
    pub fn min_calendar_days(&self) -> u32 {
        self.domestic_business_days
            .min(self.international_business_days)
    }
}

fn milestone(
    kind: EventType,
    event_id: String,
    code: &str,
    description: String,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> TimelineEvent {
    TimelineEvent {
        shipment_id: None,
        replaces: None,
        event_id,
        kind,
        status: None,
        code: code.to_owned(),
        description,
        occurred_at,
        utc_offset_minutes: business_offset_minutes(occurred_at),
        recorded_at: now,
        location: None,
        carrier: None,
        tracking_number: None,
        exception_reason: None,
        handoff: None,
    }
}

fn chicago_day(at: DateTime<Utc>) -> String {
    at.with_timezone(&calendar::BUSINESS_TZ)
        .format("%a %b %-d")
        .to_string()
}

/// Processing -> Completed once the order's 06:00 CT has come. The row is dated at that
/// 06:00, not at the run, so a replayed or caught-up night tells the same story.
pub fn complete(order: &Order, now: DateTime<Utc>) -> Option<(Order, TimelineEvent)> {
    let completes_at = order.completes_at.filter(|at| *at <= now)?;
    if order.status != OrderStatus::Processing {
        return None;
    }
    let mut updated = order.clone();
    updated.status = OrderStatus::Completed;
    updated.completed_at = Some(completes_at);
    updated.updated_at = now;
    let event = milestone(
        EventType::OrderCompleted,
        "order-completed".into(),
        "ORDER_COMPLETED",
        "Order completed: tracking was uploaded the day before (orders complete at 6 am CT the day after their label)".into(),
        completes_at,
        now,
    );
    Some((updated, event))
}

/// The order with one package changed, its summary settled.
fn with_package(
    order: &Order,
    shipment_id: &str,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut Shipment),
) -> Order {
    let mut updated = order.clone();
    if let Some(shipment) = updated
        .shipments
        .iter_mut()
        .find(|s| s.shipment_id == shipment_id)
    {
        change(shipment);
    }
    updated.settle();
    updated.updated_at = now;
    updated
}

/// A package row's id: `base` for the order's first package on its first label, as it
/// was named when orders had one package (so a replayed night finds the row it wrote
/// then); `base` plus the package id for the others, and plus the label's revision once
/// relabeled, so a new label's late first scan or expiry is a row (and an email) of its own.
fn package_event_id(order: &Order, shipment: &Shipment, base: String) -> String {
    let first = order
        .shipments
        .first()
        .is_some_and(|first| first.shipment_id == shipment.shipment_id);
    match (first, shipment.label_revision) {
        (true, 0) => base,
        (false, 0) => format!("{base}-{}", shipment.shipment_id),
        (_, revision) => format!("{base}-{}-r{revision}", shipment.shipment_id),
    }
}

fn for_package(mut event: TimelineEvent, order: &Order, shipment: &Shipment) -> TimelineEvent {
    event.event_id = package_event_id(order, shipment, event.event_id);
    event.shipment_id = Some(shipment.shipment_id.clone());
    event
}

/// Flags a package whose last carrier update (or label) is older than its expected
/// timeframe, the first such package of the order (the run decides again for the
/// next). The row's id names the silence it is about, so a package that resumes and
/// then goes silent again is flagged again, while one silence is flagged once.
pub fn stall(
    order: &Order,
    timeline: &Timeline,
    policy: &StallPolicy,
    origin_country: &str,
    now: DateTime<Utc>,
) -> Option<(Order, TimelineEvent)> {
    let business_days = if is_international(origin_country, &order.details.ship_to) {
        policy.international_business_days
    } else {
        policy.domestic_business_days
    };
    order.live_shipments().find_map(|shipment| {
        let rows = order.rows_of(shipment, timeline);
        if shipment.stalled || rows.status().is_final() {
            return None;
        }
        let last_update = rows
            .last_carrier_update()
            .map_or(shipment.label_created_at, |e| e.occurred_at);
        if !calendar::is_stalled(last_update, now, business_days) {
            return None;
        }
        let updated = with_package(order, &shipment.shipment_id, now, |s| {
            s.stalled = true;
            s.stalled_at = Some(now);
        });
        let since = if rows.last_carrier_update().is_some() {
            "the last carrier update"
        } else {
            "the label"
        };
        let event = milestone(
            EventType::Stalled,
            format!("stalled-{}", last_update.timestamp_millis()),
            "STALLED",
            format!(
                "No carrier update for {business_days} business days since {since} ({}): {} tracking {} may be stalled",
                chicago_day(last_update),
                shipment.carrier.display_name(),
                shipment.tracking_number
            ),
            calendar::stall_deadline(last_update, business_days),
            now,
        );
        Some((updated, for_package(event, order, shipment)))
    })
}

/// Flags a label whose first carrier scan has not come by the end of the next business
/// day, the first such package of the order.
pub fn first_scan_overdue(
    order: &Order,
    timeline: &Timeline,
    now: DateTime<Utc>,
) -> Option<(Order, TimelineEvent)> {
    order.live_shipments().find_map(|shipment| {
        let due = calendar::first_scan_due(shipment.label_created_at);
        let rows = order.rows_of(shipment, timeline);
        if shipment.first_scan_late || rows.first_carrier_update().is_some() || now < due {
            return None;
        }
        let updated = with_package(order, &shipment.shipment_id, now, |s| {
            s.first_scan_late = true;
        });
        let event = milestone(
            EventType::FirstScanLate,
            "first-scan-late".into(),
            "FIRST_SCAN_LATE",
            format!(
                "No carrier scan yet for {} tracking {}: the first scan was expected by the end of {} (the business day after the label)",
                shipment.carrier.display_name(),
                shipment.tracking_number,
                chicago_day(due - chrono::Duration::seconds(1))
            ),
            due,
            now,
        );
        Some((updated, for_package(event, order, shipment)))
    })
}

/// Marks a package's tracking expired once the carrier's 120 days are over.
pub fn expire(order: &Order, now: DateTime<Utc>) -> Option<(Order, TimelineEvent)> {
    order.live_shipments().find_map(|shipment| {
        if shipment.tracking_expired || now < shipment.tracking_expires_at {
            return None;
        }
        let updated = with_package(order, &shipment.shipment_id, now, |s| {
            s.tracking_expired = true;
        });
        let event = milestone(
            EventType::TrackingExpired,
            "tracking-expired".into(),
            "TRACKING_EXPIRED",
            format!(
                "Carrier tracking for {} {} expired 120 days after the label: the carrier no longer shows this package, and the link may not work",
                shipment.carrier.display_name(),
                shipment.tracking_number
            ),
            shipment.tracking_expires_at,
            now,
        );
        Some((updated, for_package(event, order, shipment)))
    })
}

/// The nightly run's work lists. An order is on a sweep's list only while that sweep may
/// still have something to do for it, so each sweep reads what is due, not what exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Labeled orders still Processing, by their 06:00 CT completion time.
    Completion,
    /// Labeled shipments with no carrier scan yet, by when the first scan is due.
    AwaitingFirstScan,
    /// Shipments neither final nor flagged stalled, by their last carrier update.
    StallWatch,
    /// Shipments whose tracking is not yet marked expired, by expiry time.
    Expiry,
}

impl Sweep {
    pub const ALL: [Sweep; 4] = [
        Self::Completion,
        Self::AwaitingFirstScan,
        Self::StallWatch,
        Self::Expiry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Completion => "completion",
            Self::AwaitingFirstScan => "first_scan",
            Self::StallWatch => "stall",
            Self::Expiry => "expiry",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Where `order` stands on this sweep's list: the instant the list is ordered by, or
    /// `None` when the sweep has nothing (more) to do for it and it is off the list. The
    /// store keeps each list as an index keyed by this instant.
    /// For the package sweeps it is the earliest instant among the order's live
    /// packages, so the order is read when its first package is due.
    pub fn position_of(self, order: &Order) -> Option<DateTime<Utc>> {
        let packages = order.live_shipments();
        match self {
            Self::Completion => order
                .completes_at
                .filter(|_| order.status == OrderStatus::Processing),
            Self::AwaitingFirstScan => packages
                .filter(|s| s.last_carrier_update_at.is_none() && !s.first_scan_late)
                .map(|s| calendar::first_scan_due(s.label_created_at))
                .min(),
            Self::StallWatch => packages
                .filter(|s| !s.status.is_final() && !s.stalled)
                .map(Shipment::last_update_or_label)
                .min(),
            Self::Expiry => packages
                .filter(|s| !s.tracking_expired)
                .map(|s| s.tracking_expires_at)
                .min(),
        }
    }

    /// How far along its list a run at `now` reads. The stall watch is ordered by the last
    /// update, and only shipments silent for at least the shortest possible stall can be
    /// stalled; the business-day rule then decides each one exactly.
    pub fn reads_up_to(self, now: DateTime<Utc>, policy: &StallPolicy) -> DateTime<Utc> {
        match self {
            Self::StallWatch => now - chrono::Duration::days(i64::from(policy.min_calendar_days())),
            _ => now,
        }
    }

    /// What this sweep does to one order read with its timeline, if anything.
    pub fn decide(
        self,
        order: &Order,
        timeline: &Timeline,
        policy: &StallPolicy,
        origin_country: &str,
        now: DateTime<Utc>,
    ) -> Option<(Order, TimelineEvent)> {
        match self {
            Self::Completion => complete(order, now),
            Self::AwaitingFirstScan => first_scan_overdue(order, timeline, now),
            Self::StallWatch => stall(order, timeline, policy, origin_country, now),
            Self::Expiry => expire(order, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::chicago_time_at;
    use crate::carriers::Carrier;
    use crate::claims::LabelSource;
    use crate::order::OrderDraft;
    use crate::timeline::tests::scan;
    use crate::timeline::ScanCode;
    use chrono::NaiveDate;

    fn ct(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chicago_time_at(NaiveDate::from_ymd_opt(y, m, d).unwrap(), h, min)
    }

    fn labeled(label_at: DateTime<Utc>, country: &str) -> Order {
        let draft: OrderDraft = serde_json::from_value(serde_json::json!({
            "order_number": "1", "source": "manual",
            "customer": {"name": "A", "email": "a@example.com"},
            "ship_to": {"line1": "1 Main", "city": "X", "country": country}
        }))
        .unwrap();
        let mut order = Order::new("m", draft.parse().unwrap(), label_at);
        order.completes_at = Some(calendar::completion_time(label_at));
        let label = crate::label::Label {
            carrier: Carrier::Ups,
            service: "ground".into(),
            tracking_number: crate::carriers::TrackingNumber::parse(
                Carrier::Ups,
                "1Z999AA10123456784",
            )
            .unwrap(),
            label_source: LabelSource::Jetpack,
        };
        order.shipments = vec![label.shipment(order.next_shipment_id(), label_at)];
        order
    }

    #[test]
    fn order_completes_at_six_ct_the_day_after_the_label_and_only_then() {
        let order = labeled(ct(2026, 11, 24, 23, 50), "US");
        assert!(complete(&order, ct(2026, 11, 25, 5, 59)).is_none());
        let (done, event) = complete(&order, ct(2026, 11, 25, 6, 0)).unwrap();
        assert_eq!(done.status, OrderStatus::Completed);
        assert_eq!(done.completed_at, Some(ct(2026, 11, 25, 6, 0)));
        assert_eq!(event.occurred_at, ct(2026, 11, 25, 6, 0));
        assert_eq!(event.local_time().to_rfc3339(), "2026-11-25T06:00:00-06:00");
        assert!(
            complete(&done, ct(2026, 11, 25, 6, 0)).is_none(),
            "completing twice"
        );
    }

    #[test]
    fn missed_night_is_caught_up_dated_at_its_own_six_am() {
        let order = labeled(ct(2026, 11, 24, 10, 0), "US");
        let (done, event) = complete(&order, ct(2026, 11, 27, 6, 0)).unwrap();
        assert_eq!(done.completed_at, Some(ct(2026, 11, 25, 6, 0)));
        assert_eq!(event.recorded_at, ct(2026, 11, 27, 6, 0));
    }

    #[test]
    fn dst_change_days_complete_at_six_local() {
        // Spring forward 2026-03-08, fall back 2026-11-01; uploads at 23:59 and 00:01 CT.
        for (upload, expected) in [
            (ct(2026, 3, 7, 23, 59), "2026-03-08T11:00:00+00:00"),
            (ct(2026, 3, 8, 0, 1), "2026-03-09T11:00:00+00:00"),
            (ct(2026, 10, 31, 23, 59), "2026-11-01T12:00:00+00:00"),
            (ct(2026, 11, 1, 0, 1), "2026-11-02T12:00:00+00:00"),
        ] {
            let order = labeled(upload, "US");
            let due = order.completes_at.unwrap();
            assert_eq!(due.to_rfc3339(), expected, "upload {upload}");
            assert!(complete(&order, due).is_some());
        }
    }

    #[test]
    fn domestic_shipment_stalls_after_five_business_days_without_a_scan_update() {
        // Last scan Tuesday 2026-11-24; Thanksgiving (Thu 26) is not a business day:
        // Wed 25, Fri 27, Mon 30, Tue Dec 1, Wed Dec 2 -> stalled from Thu Dec 3 00:00 CT.
        let order = labeled(ct(2026, 11, 23, 10, 0), "US");
        let timeline = Timeline::new([scan(ScanCode::InTransit, ct(2026, 11, 24, 9, 0))]);
        let policy = StallPolicy::default();
        assert!(stall(&order, &timeline, &policy, "US", ct(2026, 12, 2, 23, 59)).is_none());
        let (flagged, event) =
            stall(&order, &timeline, &policy, "US", ct(2026, 12, 3, 6, 0)).unwrap();
        assert!(flagged.shipments[0].stalled);
        assert_eq!(event.occurred_at, ct(2026, 12, 3, 0, 0));
        assert!(
            stall(&flagged, &timeline, &policy, "US", ct(2026, 12, 4, 6, 0)).is_none(),
            "flagged twice"
        );
    }

    #[test]
    fn international_shipment_stalls_after_ten_business_days() {
        let order = labeled(ct(2026, 11, 23, 10, 0), "GB");
        let timeline = Timeline::new([scan(ScanCode::InTransit, ct(2026, 11, 24, 9, 0))]);
        let policy = StallPolicy::default();
        assert!(stall(&order, &timeline, &policy, "US", ct(2026, 12, 3, 6, 0)).is_none());
        // Ten business days after Tue Nov 24 (Thanksgiving skipped) end on Wed Dec 9.
        assert!(stall(&order, &timeline, &policy, "US", ct(2026, 12, 9, 23, 0)).is_none());
        assert!(stall(&order, &timeline, &policy, "US", ct(2026, 12, 10, 6, 0)).is_some());
    }

    #[test]
    fn delivered_shipment_never_stalls() {
        let order = labeled(ct(2026, 11, 2, 10, 0), "US");
        let timeline = Timeline::new([scan(ScanCode::Delivered, ct(2026, 11, 3, 9, 0))]);
        assert!(stall(
            &order,
            &timeline,
            &StallPolicy::default(),
            "US",
            ct(2026, 12, 30, 6, 0)
        )
        .is_none());
    }

    #[test]
    fn friday_label_before_a_monday_holiday_expects_its_first_scan_tuesday() {
        // Friday 2027-01-15, MLK day Monday 2027-01-18: the scan is due by the end of Tuesday.
        let order = labeled(ct(2027, 1, 15, 14, 0), "US");
        let empty = Timeline::default();
        assert!(first_scan_overdue(&order, &empty, ct(2027, 1, 19, 23, 59)).is_none());
        let (flagged, event) = first_scan_overdue(&order, &empty, ct(2027, 1, 20, 6, 0)).unwrap();
        assert!(flagged.shipments[0].first_scan_late);
        assert!(
            event.description.contains("Tue Jan 19"),
            "{}",
            event.description
        );
        assert!(
            first_scan_overdue(&flagged, &empty, ct(2027, 1, 21, 6, 0)).is_none(),
            "flagged twice"
        );
        let scanned = Timeline::new([scan(ScanCode::Pickup, ct(2027, 1, 19, 17, 0))]);
        assert!(first_scan_overdue(&order, &scanned, ct(2027, 1, 20, 6, 0)).is_none());
    }

    #[test]
    fn friday_before_a_holiday_label_stalls_counting_business_days_only() {
        // Label Fri 2027-01-15, no scan, MLK day skipped: the five business days are
        // Tue 19, Wed 20, Thu 21, Fri 22, Mon 25 -> stalled from Tue Jan 26 00:00 CT.
        let order = labeled(ct(2027, 1, 15, 14, 0), "US");
        let empty = Timeline::default();
        let policy = StallPolicy::default();
        assert!(stall(&order, &empty, &policy, "US", ct(2027, 1, 25, 23, 59)).is_none());
        assert!(stall(&order, &empty, &policy, "US", ct(2027, 1, 26, 6, 0)).is_some());
    }

    #[test]
    fn tracking_expires_once_after_120_days() {
        let order = labeled(ct(2026, 7, 1, 10, 0), "US");
        let expires = order.shipments[0].tracking_expires_at;
        assert!(expire(&order, expires - chrono::Duration::seconds(1)).is_none());
        let (expired, event) = expire(&order, expires).unwrap();
        assert!(expired.shipments[0].tracking_expired);
        assert_eq!(event.code, "TRACKING_EXPIRED");
        assert!(expire(&expired, expires + chrono::Duration::days(1)).is_none());
    }

    #[test]
    fn an_order_is_on_each_sweep_list_only_while_the_sweep_has_work_for_it() {
        let label_at = ct(2026, 11, 24, 10, 0);
        let unlabeled = {
            let mut o = labeled(label_at, "US");
            o.shipments.clear();
            o.completes_at = None;
            o
        };
        for sweep in Sweep::ALL {
            assert_eq!(sweep.position_of(&unlabeled), None, "{sweep:?}");
            assert_eq!(Sweep::from_name(sweep.name()), Some(sweep));
        }
        assert_eq!(Sweep::from_name("nightly"), None);

        let order = labeled(label_at, "US");
        let shipment = order.shipments[0].clone();
        assert_eq!(
            Sweep::Completion.position_of(&order),
            Some(ct(2026, 11, 25, 6, 0))
        );
        assert_eq!(
            Sweep::AwaitingFirstScan.position_of(&order),
            Some(calendar::first_scan_due(label_at))
        );
        assert_eq!(Sweep::StallWatch.position_of(&order), Some(label_at));
        assert_eq!(
            Sweep::Expiry.position_of(&order),
            Some(shipment.tracking_expires_at)
        );

        let mut done = order.clone();
        done.status = OrderStatus::Completed;
        assert_eq!(Sweep::Completion.position_of(&done), None);

        let scanned_at = ct(2026, 11, 25, 9, 0);
        let mut scanned = order.clone();
        scanned.shipments[0].last_carrier_update_at = Some(scanned_at);
        assert_eq!(Sweep::AwaitingFirstScan.position_of(&scanned), None);
        assert_eq!(Sweep::StallWatch.position_of(&scanned), Some(scanned_at));

        let mut late = order.clone();
        late.shipments[0].first_scan_late = true;
        assert_eq!(Sweep::AwaitingFirstScan.position_of(&late), None);

        let mut stalled = order.clone();
        stalled.shipments[0].stalled = true;
        assert_eq!(Sweep::StallWatch.position_of(&stalled), None);

        let mut delivered = order.clone();
        delivered.shipments[0].status = crate::status::ShipmentStatus::Delivered;
        assert_eq!(Sweep::StallWatch.position_of(&delivered), None);
        assert!(Sweep::Expiry.position_of(&delivered).is_some());

        let mut expired = order;
        expired.shipments[0].tracking_expired = true;
        assert_eq!(Sweep::Expiry.position_of(&expired), None);
    }

    #[test]
    fn package_sweeps_read_an_order_when_its_first_package_is_due_and_flag_each_package_once() {
        let first_label = ct(2027, 1, 11, 10, 0);
        let second_label = ct(2027, 1, 12, 10, 0);
        let mut order = labeled(first_label, "US");
        let label = crate::label::Label {
            carrier: Carrier::Ups,
            service: "ground".into(),
            tracking_number: crate::carriers::TrackingNumber::parse(
                Carrier::Ups,
                "1ZWX0692YP40636269",
            )
            .unwrap(),
            label_source: LabelSource::Jetpack,
        };
        order
            .shipments
            .push(label.shipment(order.next_shipment_id(), second_label));
        assert_eq!(Sweep::StallWatch.position_of(&order), Some(first_label));
        assert_eq!(
            Sweep::AwaitingFirstScan.position_of(&order),
            Some(calendar::first_scan_due(first_label))
        );
        assert_eq!(
            Sweep::Expiry.position_of(&order),
            Some(order.shipments[0].tracking_expires_at)
        );
        let mut voided = order.clone();
        voided.shipments[0].voided_at = Some(first_label);
        assert_eq!(Sweep::StallWatch.position_of(&voided), Some(second_label));

        let empty = Timeline::default();
        let policy = StallPolicy::default();
        let now = ct(2027, 2, 1, 6, 0);
        let (once, first_row) = stall(&order, &empty, &policy, "US", now).unwrap();
        assert!(once.shipments[0].stalled && !once.shipments[1].stalled);
        assert_eq!(
            first_row.shipment_id.as_deref(),
            Some(order.shipments[0].shipment_id.as_str())
        );
        assert_eq!(Sweep::StallWatch.position_of(&once), Some(second_label));
        let (twice, second_row) = stall(&once, &empty, &policy, "US", now).unwrap();
        assert!(twice.shipments[1].stalled);
        assert_eq!(
            second_row.shipment_id.as_deref(),
            Some(order.shipments[1].shipment_id.as_str())
        );
        // The first package's row keeps the id it had when orders had one package; the
        // others' name their package, so two silences of the same length never collide.
        assert_eq!(
            first_row.event_id,
            format!("stalled-{}", first_label.timestamp_millis())
        );
        assert!(second_row
            .event_id
            .ends_with(&order.shipments[1].shipment_id));
        assert!(second_row.description.contains("1ZWX0692YP40636269"));
        assert!(stall(&twice, &empty, &policy, "US", now).is_none());
        assert_eq!(Sweep::StallWatch.position_of(&twice), None);
        // A relabeled package's rows are the new label's own.
        let mut relabeled = order.clone();
        relabeled.shipments[0].label_revision = 1;
        let (_, row) = first_scan_overdue(&relabeled, &empty, now).unwrap();
        assert_eq!(
            row.event_id,
            format!("first-scan-late-{}-r1", order.shipments[0].shipment_id)
        );

        let (late, _) = first_scan_overdue(&order, &empty, now).unwrap();
        let (both_late, row) = first_scan_overdue(&late, &empty, now).unwrap();
        assert!(both_late.shipments.iter().all(|s| s.first_scan_late));
        assert_eq!(
            row.shipment_id,
            Some(order.shipments[1].shipment_id.clone())
        );
        let expiry = order.shipments[1].tracking_expires_at;
        let (expired, _) = expire(&order, expiry).unwrap();
        let (both_expired, _) = expire(&expired, expiry).unwrap();
        assert!(both_expired.shipments.iter().all(|s| s.tracking_expired));
        assert!(expire(&both_expired, expiry).is_none());
    }

    #[test]
    fn only_the_stall_watch_reads_behind_the_run() {
        let now = ct(2026, 11, 30, 6, 0);
        let policy = StallPolicy {
            domestic_business_days: 7,
            international_business_days: 3,
        };
        assert_eq!(
            Sweep::StallWatch.reads_up_to(now, &policy),
            now - chrono::Duration::days(3)
        );
        for sweep in [Sweep::Completion, Sweep::AwaitingFirstScan, Sweep::Expiry] {
            assert_eq!(sweep.reads_up_to(now, &policy), now, "{sweep:?}");
        }
    }

    #[test]
    fn each_sweep_decides_with_its_own_rule() {
        let label_at = ct(2026, 7, 1, 10, 0);
        let order = labeled(label_at, "US");
        let empty = Timeline::default();
        let policy = StallPolicy::default();
        let expires = order.shipments[0].tracking_expires_at;
        let code = |sweep: Sweep, now| {
            sweep
                .decide(&order, &empty, &policy, "US", now)
                .map(|(_, event)| event.code)
        };
        assert_eq!(
            code(Sweep::Completion, expires).as_deref(),
            Some("ORDER_COMPLETED")
        );
        assert_eq!(
            code(Sweep::AwaitingFirstScan, expires).as_deref(),
            Some("FIRST_SCAN_LATE")
        );
        assert_eq!(code(Sweep::StallWatch, expires).as_deref(), Some("STALLED"));
        assert_eq!(
            code(Sweep::Expiry, expires).as_deref(),
            Some("TRACKING_EXPIRED")
        );
        assert_eq!(code(Sweep::Expiry, label_at), None);
    }

    #[test]
    fn a_missing_first_scan_is_flagged_from_the_instant_it_is_due() {
        let order = labeled(ct(2026, 11, 24, 10, 0), "US");
        let due = calendar::first_scan_due(ct(2026, 11, 24, 10, 0));
        let empty = Timeline::default();
        assert!(first_scan_overdue(&order, &empty, due - chrono::Duration::seconds(1)).is_none());
        assert!(first_scan_overdue(&order, &empty, due).is_some());
    }
}
