//! Which timeline events are worth an email, and to whom. Pure: no I/O.
//!
//! Mailed: every change of shipment status (judged over the events that had arrived when
//! this one did, in the order they occurred, so a duplicate, a scan that repeats the status
//! and a scan overtaken by a later one are silent), every
//! hand-off, the label (the status moves to "At Depot" and the first tracking link
//! exists), a voided label (that link is dead), completion, a stall, tracking expiry, a late first scan (the first sign a
//! parcel may not have left: the team can chase the carrier days before a stall), a
//! filed claim and each step of it (submitted, approved, denied). Not mailed: scans that leave the status as it was, anything after a final
//! status (nothing moves it), and the derived "order received" row.

use std::collections::{BTreeMap, BTreeSet};

use tracking_domain::email::{EmailAddress, MAX_MERCHANT_SUBSCRIPTIONS, MAX_ORDER_SUBSCRIPTIONS};
use tracking_domain::order::Order;
use tracking_domain::status::ShipmentStatus;
use tracking_domain::subscriptions::{Subscription, SubscriptionScope};
use tracking_domain::timeline::{advance, EventType, Handoff, Timeline, TimelineEvent};

/// Why an event is mailed; decides the subject and the headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A carrier scan moved the shipment to a new status. `label` is the dashboard
    /// wording of that row ("Pick Up Scan from Dock" for the first scan).
    StatusChange {
        status: ShipmentStatus,
        label: &'static str,
    },
    Handoff(Handoff),
    LabelCreated,
    LabelVoided,
    Completed,
    Stalled,
    TrackingExpired,
    FirstScanLate,
    ClaimFiled,
    ClaimUpdated,
}

/// The notice for `event`, judged against the order's timeline (which must contain it).
pub fn notice_for(event: &TimelineEvent, timeline: &Timeline) -> Option<Notice> {
    match event.kind {
        EventType::OrderReceived => None,
        EventType::LabelCreated => Some(Notice::LabelCreated),
        EventType::LabelVoided => Some(Notice::LabelVoided),
        EventType::OrderCompleted => Some(Notice::Completed),
        EventType::Stalled => Some(Notice::Stalled),
        EventType::TrackingExpired => Some(Notice::TrackingExpired),
        EventType::FirstScanLate => Some(Notice::FirstScanLate),
        EventType::ClaimFiled => Some(Notice::ClaimFiled),
        EventType::ClaimUpdated => Some(Notice::ClaimUpdated),
        EventType::Handoff => event.handoff.clone().map(Notice::Handoff),
        EventType::CarrierScan => {
            let events = timeline.events();
            let index = events.iter().position(|e| e.event_id == event.event_id)?;
            // Some feeds put the final-mile number on an ordinary scan: its first
            // appearance is a hand-off all the same.
            if let Some(handoff) = &event.handoff {
                let seen_before = events[..index]
                    .iter()
                    .any(|e| e.handoff.as_ref() == Some(handoff));
                if !seen_before {
                    return Some(Notice::Handoff(handoff.clone()));
                }
            }
            event.status?;
            // Judged against what had reached us when the scan did: a scan that arrives
            // after a later one ("Out for Delivery" after "Delivered") is put in its
            // place on the timeline but is no news. Scans arriving together (one feed
            // batch) count as arriving in the order they occurred.
            let arrived_first = |i: usize, other: &TimelineEvent| {
                other.recorded_at < event.recorded_at
                    || (other.recorded_at == event.recorded_at && i < index)
            };
            let before = status_of(events, arrived_first);
            let after = status_of(events, |i, other| i == index || arrived_first(i, other));
            (after != before).then(|| Notice::StatusChange {
                status: after,
                label: timeline.event_label(index),
            })
        }
    }
}

/// The status the events `included` picks add up to, taken in the order they occurred,
/// by the timeline's own rules: "Received" until a label or scan says otherwise.
fn status_of(
    events: &[TimelineEvent],
    included: impl Fn(usize, &TimelineEvent) -> bool,
) -> ShipmentStatus {
    events
        .iter()
        .enumerate()
        .filter(|(i, e)| included(*i, e))
        .filter_map(|(_, e)| e.status)
        .fold(ShipmentStatus::Received, |current, next| {
            advance(Some(current), next)
        })
}

/// One mailbox to email about an order, and the subscriptions that make it one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// As subscribed (the order's own spelling wins over the merchant-wide one).
    pub address: EmailAddress,
    pub canonical: String,
    pub scopes: BTreeSet<SubscriptionScope>,
}

/// The order's subscribers and the merchant's, one entry per mailbox, never the order's
/// own customer: merchant-wide subscriptions are made without an order to check against,
/// so the customer rule is applied here, to every address alike.
pub fn recipients<'a>(
    order: &Order,
    order_subscriptions: &'a [Subscription],
    merchant_subscriptions: &'a [Subscription],
) -> Vec<Recipient> {
    let customer = &order.details.customer.email;
    let mut by_mailbox: BTreeMap<String, Recipient> = BTreeMap::new();
    // The oldest within each limit: intake refuses more, and this holds the bound even
    // against subscriptions that raced past that check.
    let oldest_first = |mut list: Vec<&'a Subscription>, limit: usize| {
        list.sort_by_key(|s| s.created_at);
        list.truncate(limit);
        list
    };
    let own = oldest_first(
        order_subscriptions
            .iter()
            .filter(|s| s.order_id.as_deref() == Some(order.order_id.as_str()))
            .collect(),
        MAX_ORDER_SUBSCRIPTIONS,
    );
    let merchant_wide = oldest_first(
        merchant_subscriptions
            .iter()
            .filter(|s| s.order_id.is_none() && s.merchant_id == order.merchant_id)
            .collect(),
        MAX_MERCHANT_SUBSCRIPTIONS,
    );
    let subscriptions = own.into_iter().chain(merchant_wide);
    for subscription in subscriptions {
        if subscription.email.same_mailbox(customer) {
            continue;
        }
        let canonical = subscription.email.canonical();
        by_mailbox
            .entry(canonical.clone())
            .or_insert_with(|| Recipient {
                address: subscription.email.clone(),
                canonical,
                scopes: BTreeSet::new(),
            })
            .scopes
            .insert(subscription.scope());
    }
    by_mailbox.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use tracking_domain::timeline::{scan_event_id, ScanCode};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
    }

    fn event(
        kind: EventType,
        status: Option<ShipmentStatus>,
        id: &str,
        hour: u32,
    ) -> TimelineEvent {
        TimelineEvent {
            shipment_id: None,
            replaces: None,
            event_id: id.into(),
            kind,
            status,
            code: id.to_uppercase(),
            description: id.into(),
            occurred_at: at(hour),
            utc_offset_minutes: -360,
            recorded_at: at(hour),
            location: None,
            carrier: Some("ups".into()),
            tracking_number: Some("1Z999AA10123456784".into()),
            exception_reason: None,
            handoff: None,
        }
    }

    fn scan(code: ScanCode, hour: u32) -> TimelineEvent {
        let mut e = event(EventType::CarrierScan, Some(code.status()), "", hour);
        e.event_id = scan_event_id("ups", "1Z999AA10123456784", code, at(hour), None);
        e.code = code.as_str().into();
        if code == ScanCode::Handoff {
            e.kind = EventType::Handoff;
            e.handoff = Some(Handoff {
                carrier: "usps".into(),
                tracking_number: "9400111899223197428497".into(),
            });
        }
        e
    }

    fn label() -> TimelineEvent {
        event(
            EventType::LabelCreated,
            Some(ShipmentStatus::AtDepot),
            "label",
            1,
        )
    }

    fn notices(events: &[TimelineEvent]) -> Vec<Option<Notice>> {
        let timeline = Timeline::new(events.iter().cloned());
        events.iter().map(|e| notice_for(e, &timeline)).collect()
    }

    #[test]
    fn a_journey_mails_each_status_change_and_the_handoff_once() {
        let journey = [
            label(),
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::InTransit, 3),
            scan(ScanCode::Handoff, 4),
            scan(ScanCode::OutForDelivery, 5),
            scan(ScanCode::Delivered, 6),
        ];
        let got = notices(&journey);
        assert_eq!(got[0], Some(Notice::LabelCreated));
        assert_eq!(
            got[1],
            Some(Notice::StatusChange {
                status: ShipmentStatus::InTransit,
                label: "Pick Up Scan from Dock"
            })
        );
        assert_eq!(got[2], None, "in transit again is not a change");
        assert!(matches!(got[3], Some(Notice::Handoff(ref h)) if h.carrier == "usps"));
        assert_eq!(
            got[4],
            Some(Notice::StatusChange {
                status: ShipmentStatus::OutForDelivery,
                label: "Out for Delivery"
            })
        );
        assert_eq!(
            got[5],
            Some(Notice::StatusChange {
                status: ShipmentStatus::Delivered,
                label: "Delivered"
            })
        );
    }

    #[test]
    fn a_scan_after_delivery_changes_nothing_and_is_not_mailed() {
        let journey = [scan(ScanCode::Delivered, 6), scan(ScanCode::InTransit, 7)];
        assert_eq!(notices(&journey)[1], None);
    }

    #[test]
    fn a_late_older_scan_is_judged_where_it_occurred() {
        // Arrives after the out-for-delivery scan but occurred before it, in transit as
        // the pickup already said: silent.
        let journey = [
            label(),
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::OutForDelivery, 5),
            scan(ScanCode::InTransit, 3),
        ];
        assert_eq!(notices(&journey)[3], None);
    }

    fn arriving_at(mut event: TimelineEvent, hour: u32) -> TimelineEvent {
        event.recorded_at = at(hour);
        event
    }

    #[test]
    fn a_scan_overtaken_by_a_later_one_is_not_mailed() {
        // Out for delivery at 05:00 reaches us at 07:00, after the 06:00 delivery did.
        let journey = [
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::Delivered, 6),
            arriving_at(scan(ScanCode::OutForDelivery, 5), 7),
        ];
        assert_eq!(notices(&journey)[2], None);
    }

    #[test]
    fn scans_arriving_together_are_news_in_the_order_they_occurred() {
        // One feed batch: the pickup and the in-transit scans after it. The pickup is the
        // change; the rest repeat it.
        let batch: Vec<_> = [
            scan(ScanCode::InTransit, 4),
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::InTransit, 3),
        ]
        .into_iter()
        .map(|e| arriving_at(e, 5))
        .collect();
        let got = notices(&batch);
        assert_eq!(
            got,
            [
                None,
                Some(Notice::StatusChange {
                    status: ShipmentStatus::InTransit,
                    label: "Pick Up Scan from Dock"
                }),
                None
            ]
        );
        let both_final_mile = [
            arriving_at(scan(ScanCode::Delivered, 6), 7),
            arriving_at(scan(ScanCode::OutForDelivery, 5), 7),
        ];
        assert!(notices(&both_final_mile).iter().all(Option::is_some));
    }

    #[test]
    fn a_scan_arriving_after_a_later_one_of_the_same_status_is_silent() {
        // The in-transit scan was mailed; the pickup that reaches us afterwards repeats it.
        let journey = [
            label(),
            arriving_at(scan(ScanCode::InTransit, 3), 3),
            arriving_at(scan(ScanCode::Pickup, 2), 4),
        ];
        let got = notices(&journey);
        assert!(got[1].is_some());
        assert_eq!(got[2], None);
    }

    #[test]
    fn an_exception_cleared_before_it_arrived_is_not_mailed() {
        let journey = [
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::OutForDelivery, 4),
            arriving_at(scan(ScanCode::DeliveryAttempted, 3), 5),
        ];
        assert_eq!(notices(&journey)[2], None);
    }

    #[test]
    fn a_delayed_scan_is_mailed_when_nothing_later_has_arrived() {
        // Occurred at 03:00, reached us at 05:00, but it is still the newest news.
        let journey = [
            scan(ScanCode::Pickup, 2),
            arriving_at(scan(ScanCode::OutForDelivery, 3), 5),
        ];
        assert!(matches!(
            notices(&journey)[1],
            Some(Notice::StatusChange {
                status: ShipmentStatus::OutForDelivery,
                ..
            })
        ));
    }

    #[test]
    fn an_exception_and_the_recovery_after_it_are_both_changes() {
        let journey = [
            scan(ScanCode::Pickup, 2),
            scan(ScanCode::DeliveryAttempted, 3),
            scan(ScanCode::OutForDelivery, 4),
        ];
        let got = notices(&journey);
        assert!(matches!(
            got[1],
            Some(Notice::StatusChange {
                status: ShipmentStatus::Exception,
                ..
            })
        ));
        assert!(matches!(
            got[2],
            Some(Notice::StatusChange {
                status: ShipmentStatus::OutForDelivery,
                ..
            })
        ));
    }

    #[test]
    fn milestones_and_flags_are_mailed() {
        for (kind, expected) in [
            (EventType::OrderCompleted, Notice::Completed),
            (EventType::Stalled, Notice::Stalled),
            (EventType::TrackingExpired, Notice::TrackingExpired),
            (EventType::FirstScanLate, Notice::FirstScanLate),
            (EventType::ClaimFiled, Notice::ClaimFiled),
            (EventType::ClaimUpdated, Notice::ClaimUpdated),
            (EventType::LabelVoided, Notice::LabelVoided),
        ] {
            let e = event(kind, None, "m", 9);
            assert_eq!(notice_for(&e, &Timeline::new([e.clone()])), Some(expected));
        }
        let received = event(
            EventType::OrderReceived,
            Some(ShipmentStatus::Received),
            "r",
            0,
        );
        assert_eq!(
            notice_for(&received, &Timeline::new([received.clone()])),
            None
        );
    }

    fn order(customer: &str) -> Order {
        let draft: tracking_domain::order::OrderDraft = serde_json::from_value(serde_json::json!({
            "order_number": "1001", "source": "manual",
            "customer": {"name": "Ada", "email": customer},
            "ship_to": {"line1": "1 Main St", "city": "Austin", "country": "US"}
        }))
        .unwrap();
        Order::new("m1", draft.parse().unwrap(), at(0))
    }

    fn subscription(order: Option<&Order>, email: &str) -> Subscription {
        let email = EmailAddress::parse(email).unwrap();
        match order {
            Some(order) => Subscription {
                email,
                merchant_id: order.merchant_id.clone(),
                order_id: Some(order.order_id.clone()),
                created_at: at(0),
            },
            None => Subscription::merchant_wide("m1", email, at(0)),
        }
    }

    #[test]
    fn recipients_are_one_per_mailbox_and_never_the_customer() {
        let order = order("ada@example.com");
        let got = recipients(
            &order,
            &[subscription(Some(&order), "Ops@Merchant.example")],
            &[
                subscription(None, "ops+all@merchant.example"),
                subscription(None, "ADA+alerts@example.com"),
                subscription(None, "lead@merchant.example"),
            ],
        );
        let addresses: Vec<_> = got.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(addresses, ["lead@merchant.example", "Ops@Merchant.example"]);
        assert_eq!(
            got[1].scopes,
            BTreeSet::from([SubscriptionScope::Order, SubscriptionScope::Merchant])
        );
    }

    #[test]
    fn another_merchants_subscriptions_never_reach_an_order() {
        let order = order("ada@example.com");
        let mut foreign = subscription(None, "spy@other.example");
        foreign.merchant_id = "m2".into();
        assert!(recipients(&order, &[], &[foreign]).is_empty());
    }
}
