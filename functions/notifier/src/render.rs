//! The email itself: subject, text part and HTML part, from templates in `templates/`.
//!
//! Both parts are askama templates compiled into the binary; the `.html` one is escaped
//! by askama, so a scan description or claim text with markup shows as text. The subject
//! is the only header value built from data, and [`header_safe`] strips every control
//! character from it; SES builds the headers from the Simple content fields.

use askama::Template;
use chrono::{DateTime, FixedOffset};
use tracking_aws::store::subscriptions::OutboxEvent;
use tracking_domain::carriers::{tracking_url_for, Carrier};
use tracking_domain::claims::ClaimType;
use tracking_domain::order::{is_international, Order};
use tracking_domain::status::ShipmentStatus;
use tracking_domain::subscriptions::SubscriptionScope;
use tracking_domain::timeline::{Location, Timeline, TimelineEvent};

use crate::notice::{Notice, Recipient};

/// Mail clients cut subjects long before this; the cap keeps a pathological order
/// number from producing a header SES refuses.
const MAX_SUBJECT_CHARS: usize = 150;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One moment on the timeline, as the email shows it.
#[derive(Debug, Clone)]
pub struct Moment {
    pub description: String,
    /// Local time where it happened, with its UTC offset.
    pub time: String,
    pub place: Option<String>,
}

/// A tracking number and, for a carrier we know, its tracking page.
#[derive(Debug, Clone)]
pub struct TrackingLink {
    pub carrier: String,
    pub number: String,
    pub url: Option<String>,
    pub expired: bool,
}

#[derive(Debug, Clone)]
pub struct ClaimLines {
    pub kind: &'static str,
    pub description: String,
    pub reference: Option<String>,
}

/// Everything the templates show. Built once per event and recipient.
#[derive(Debug, Clone)]
pub struct EmailView {
    pub subject: String,
    pub headline: String,
    pub intro: String,
    pub order_number: String,
    pub status_label: &'static str,
    pub event: Moment,
    pub latest_scan: Option<Moment>,
    pub tracking: Option<TrackingLink>,
    pub handoff: Option<TrackingLink>,
    pub handoff_note: Option<&'static str>,
    pub claim: Option<ClaimLines>,
    pub recipient: String,
    pub reason: &'static str,
    pub unsubscribe_url: String,
    pub unsubscribe_effect: &'static str,
}

#[derive(Template)]
#[template(path = "notification.txt")]
struct TextPart<'a> {
    v: &'a EmailView,
}

#[derive(Template)]
#[template(path = "notification.html")]
struct HtmlPart<'a> {
    v: &'a EmailView,
}

pub fn render(view: &EmailView) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: header_safe(&view.subject),
        text: TextPart { v: view }.render()?,
        html: HtmlPart { v: view }.render()?,
    })
}

/// A single header line whatever the input: control characters (CR and LF above all)
/// become spaces, runs of whitespace one space, and the length is capped.
pub fn header_safe(raw: &str) -> String {
    let flat: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = flat.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() <= MAX_SUBJECT_CHARS {
        line
    } else {
        let cut: String = line.chars().take(MAX_SUBJECT_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// "Wed Nov 25, 2026, 5:42 PM (UTC-06:00)": the time where it happened.
pub fn local_time_text(at: DateTime<FixedOffset>) -> String {
    let offset = at.offset().local_minus_utc() / 60;
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "{} (UTC{sign}{:02}:{:02})",
        at.format("%a %b %-d, %Y, %-I:%M %p"),
        offset / 60,
        offset % 60
    )
}

fn moment(event: &TimelineEvent) -> Moment {
    Moment {
        description: event.description.clone(),
        time: local_time_text(event.local_time()),
        place: event
            .location
            .as_ref()
            .map(Location::display)
            .filter(|p| !p.is_empty()),
    }
}

/// A carrier's name where we know it, its code otherwise ("correos_express").
pub fn carrier_name(code: &str) -> String {
    Carrier::parse(code).map_or_else(|_| code.to_owned(), |c| c.display_name().to_owned())
}

fn claim_kind(claim_type: ClaimType) -> &'static str {
    match claim_type {
        ClaimType::LostInTransit => "Lost in transit",
        ClaimType::Damaged => "Damaged",
        ClaimType::Misdelivery => "Misdelivery",
    }
}

/// What the email is about, in a subject, a headline and an opening sentence.
fn wording(notice: &Notice, order_number: &str, outbox: &OutboxEvent) -> (String, String, String) {
    let n = order_number;
    match notice {
        Notice::StatusChange { status, label } => {
            let intro = match status {
                ShipmentStatus::Delivered => format!("Order {n} was delivered."),
                ShipmentStatus::OutForDelivery => format!("Order {n} is out for delivery."),
                ShipmentStatus::Exception => format!(
                    "The carrier reported a problem with order {n}; the next scan usually says how it goes on."
                ),
                ShipmentStatus::ReturnedToSender => {
                    format!("Order {n} is being returned to the sender.")
                }
                ShipmentStatus::AvailableForPickup => {
                    format!("Order {n} is waiting to be picked up by the recipient.")
                }
                _ => format!("Order {n} has a new status: {label}."),
            };
            (format!("Order {n}: {label}"), (*label).to_owned(), intro)
        }
        Notice::Handoff(handoff) => {
            let carrier = carrier_name(&handoff.carrier);
            (
                format!("Order {n} was handed to {carrier}"),
                format!("Handed to {carrier}"),
                format!(
                    "Order {n} was handed to {carrier} for the last leg, with its own tracking number {}.",
                    handoff.tracking_number
                ),
            )
        }
        Notice::LabelCreated => (
            format!("Order {n} is packed and labeled"),
            "Packed and labeled".to_owned(),
            format!("Order {n} is packed and labeled, waiting for the carrier's pickup."),
        ),
        Notice::ClaimUpdated => {
            let kind = outbox
                .claim
                .as_ref()
                .map_or("A", |c| claim_kind(c.claim_type));
            let step = outbox
                .event
                .code
                .strip_prefix("CLAIM_")
                .unwrap_or("UPDATED")
                .to_ascii_lowercase();
            (
                format!("Order {n}: {} claim {step}", kind.to_lowercase()),
                format!("{kind} claim {step}"),
                format!("{}.", outbox.event.description),
            )
        }
        Notice::LabelVoided => {
            let number = outbox.event.tracking_number.as_deref().unwrap_or_default();
            (
                format!("Order {n}: label {number} voided"),
                "Label voided".to_owned(),
                format!(
                    "The label with tracking {number} on order {n} was voided before the carrier scanned it; that tracking number no longer follows this order."
                ),
            )
        }
        Notice::Completed => (
            format!("Order {n} is Completed"),
            "Order completed".to_owned(),
            format!("Order {n} is Completed."),
        ),
        Notice::Stalled => (
            format!("Order {n} may be stalled"),
            "Possibly stalled".to_owned(),
            format!("Order {n} has had no carrier update for longer than expected."),
        ),
        Notice::TrackingExpired => (
            format!("Order {n}: carrier tracking has expired"),
            "Tracking expired".to_owned(),
            format!(
                "The carrier's tracking for order {n} has expired; its link may no longer work."
            ),
        ),
        Notice::FirstScanLate => (
            format!("Order {n}: no carrier scan yet"),
            "No carrier scan yet".to_owned(),
            format!("Order {n} has no carrier scan yet, later than expected after its label."),
        ),
        Notice::ClaimFiled => {
            let kind = outbox
                .claim
                .as_ref()
                .map_or("A", |c| claim_kind(c.claim_type));
            (
                format!("Order {n}: {} claim filed", kind.to_lowercase()),
                format!("{kind} claim filed"),
                format!("A {} claim was filed for order {n}.", kind.to_lowercase()),
            )
        }
    }
}

/// What to render for one recipient.
pub struct Inputs<'a> {
    pub notice: &'a Notice,
    pub outbox: &'a OutboxEvent,
    pub order: &'a Order,
    /// Must contain the outbox event.
    pub timeline: &'a Timeline,
    pub recipient: &'a Recipient,
    pub unsubscribe_url: String,
    pub origin_country: &'a str,
}

pub fn email_view(inputs: Inputs<'_>) -> EmailView {
    let Inputs {
        notice,
        outbox,
        order,
        timeline,
        recipient,
        unsubscribe_url,
        origin_country,
    } = inputs;
    let order_number = order.details.order_number.as_str();
    let (subject, headline, intro) = wording(notice, order_number, outbox);
    // Worded from the package the event is about, with that package's rows only.
    let (shipment, rows) = order.package_context(&outbox.event, timeline);
    let timeline = &rows;
    let expired =
        shipment.is_some_and(|s| s.tracking_expired) || matches!(notice, Notice::TrackingExpired);
    // A voided label's link follows nothing any more.
    let tracking = shipment.filter(|s| s.is_live()).map(|s| TrackingLink {
        carrier: s.carrier.display_name().to_owned(),
        number: s.tracking_number.clone(),
        url: tracking_url_for(s.carrier.code(), &s.tracking_number),
        expired,
    });
    let handoff = timeline.latest_handoff();
    let local_carrier_abroad = handoff.is_some_and(|h| {
        is_international(origin_country, &order.details.ship_to)
            && !h.carrier.eq_ignore_ascii_case("usps")
    });
    let from_order = recipient.scopes.contains(&SubscriptionScope::Order);
    let from_merchant = recipient.scopes.contains(&SubscriptionScope::Merchant);
    EmailView {
        subject,
        headline,
        intro,
        order_number: order_number.to_owned(),
        status_label: timeline.status_label(),
        event: moment(&outbox.event),
        // Shown apart only when it is not the event itself, which is already above.
        latest_scan: timeline
            .last_carrier_update()
            .filter(|scan| scan.event_id != outbox.event.event_id)
            .map(moment),
        tracking,
        handoff: handoff.map(|h| TrackingLink {
            carrier: carrier_name(&h.carrier),
            number: h.tracking_number.clone(),
            url: tracking_url_for(&h.carrier, &h.tracking_number),
            expired,
        }),
        handoff_note: local_carrier_abroad.then_some(
            "A local carrier delivers the last leg: its tracking detail may be limited. The original carrier's page usually has more updates.",
        ),
        claim: outbox.claim.as_ref().map(|c| ClaimLines {
            kind: claim_kind(c.claim_type),
            description: c.description.clone(),
            reference: c.carrier_reference.clone(),
        }),
        recipient: recipient.address.to_string(),
        reason: match (from_order, from_merchant) {
            (true, true) => "this order and to all of your account's orders",
            (true, false) => "this order",
            _ => "all of your account's orders",
        },
        unsubscribe_url,
        unsubscribe_effect: if from_merchant {
            "Unsubscribing stops these emails for every order of your account."
        } else {
            "Unsubscribing stops emails about this order."
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn outbox(code: &str, description: &str, claim: bool) -> OutboxEvent {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
        OutboxEvent {
            order_id: "ord_1".into(),
            event: TimelineEvent {
                event_id: "e".into(),
                kind: tracking_domain::timeline::EventType::ClaimUpdated,
                status: None,
                code: code.into(),
                description: description.into(),
                occurred_at: at,
                utc_offset_minutes: -360,
                recorded_at: at,
                location: None,
                carrier: Some("ups".into()),
                tracking_number: Some("1Z999AA10123456784".into()),
                exception_reason: None,
                handoff: None,
                shipment_id: Some("SHP-1".into()),
                replaces: None,
            },
            claim: claim.then(|| tracking_aws::store::subscriptions::OutboxClaim {
                claim_id: "clm_1".into(),
                claim_type: ClaimType::Damaged,
                description: "Box crushed.".into(),
                carrier_reference: None,
            }),
        }
    }

    #[test]
    fn a_claim_step_and_a_voided_label_are_worded_for_their_email() {
        let step = outbox(
            "CLAIM_APPROVED",
            "Claim clm_1 approved by ups: 42.50 USD",
            true,
        );
        let (subject, headline, intro) = wording(&Notice::ClaimUpdated, "1001", &step);
        assert_eq!(subject, "Order 1001: damaged claim approved");
        assert_eq!(headline, "Damaged claim approved");
        assert_eq!(intro, "Claim clm_1 approved by ups: 42.50 USD.");
        let voided = outbox("LABEL_VOIDED", "Label voided", false);
        let (subject, headline, intro) = wording(&Notice::LabelVoided, "1001", &voided);
        assert_eq!(subject, "Order 1001: label 1Z999AA10123456784 voided");
        assert_eq!(headline, "Label voided");
        assert!(
            intro.contains("1Z999AA10123456784") && intro.contains("1001"),
            "{intro}"
        );
    }

    fn view(description: &str, order_number: &str) -> EmailView {
        EmailView {
            subject: format!("Order {order_number}: Out for Delivery"),
            headline: "Out for Delivery".into(),
            intro: format!("Order {order_number} is out for delivery."),
            order_number: order_number.into(),
            status_label: "Out for Delivery",
            event: Moment {
                description: description.into(),
                time: "Sat Nov 28, 2026, 7:48 AM (UTC-06:00)".into(),
                place: Some("Austin, TX 78701 US".into()),
            },
            latest_scan: None,
            tracking: Some(TrackingLink {
                carrier: "DHL Express".into(),
                number: "1234567890".into(),
                url: Some("https://www.dhl.com/track?submit=1&tracking-id=1234567890".into()),
                expired: false,
            }),
            handoff: None,
            handoff_note: None,
            claim: None,
            recipient: "ops@merchant.example".into(),
            reason: "this order",
            unsubscribe_url: "https://api.example.com/unsubscribe?token=a.b".into(),
            unsubscribe_effect: "Unsubscribing stops emails about this order.",
        }
    }

    #[test]
    fn subject_loses_every_line_break_and_control_character() {
        let subject = header_safe("Order 1001\r\nBcc: evil@example.com\u{0}\u{7f}: Delivered");
        assert_eq!(subject, "Order 1001 Bcc: evil@example.com : Delivered");
        assert!(!subject.chars().any(char::is_control));
        assert_eq!(
            header_safe(&"x".repeat(500)).chars().count(),
            MAX_SUBJECT_CHARS
        );
    }

    #[test]
    fn html_part_escapes_markup_and_text_part_keeps_it_verbatim() {
        let rendered = render(&view("<script>alert('x')</script> & more", "A<b>1")).unwrap();
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        // askama writes numeric character references.
        assert!(
            rendered.html.contains("&#60;script&#62;"),
            "{}",
            rendered.html
        );
        assert!(!rendered.html.contains("A<b>1"));
        assert!(rendered.text.contains("<script>alert('x')</script> & more"));
        // The link's ampersand is escaped in the attribute, as HTML requires.
        assert!(rendered
            .html
            .contains("https://www.dhl.com/track?submit=1&#38;tracking-id=1234567890"));
    }

    #[test]
    fn both_parts_carry_the_facts_and_the_unsubscribe_link() {
        let rendered = render(&view("Out for Delivery", "1001")).unwrap();
        for part in [&rendered.text, &rendered.html] {
            for needle in [
                "1001",
                "Out for Delivery",
                "Austin, TX 78701 US",
                "7:48 AM (UTC-06:00)",
                "1234567890",
                "https://api.example.com/unsubscribe?token=a.b",
            ] {
                assert!(part.contains(needle), "{needle} missing from:\n{part}");
            }
        }
        assert_eq!(rendered.subject, "Order 1001: Out for Delivery");
    }

    #[test]
    fn local_time_reads_like_a_person_writes_it() {
        let at = FixedOffset::west_opt(6 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 25, 17, 42, 0)
            .unwrap();
        assert_eq!(local_time_text(at), "Wed Nov 25, 2026, 5:42 PM (UTC-06:00)");
        let india = FixedOffset::east_opt(330 * 60)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 25, 9, 5, 0)
            .unwrap();
        assert_eq!(
            local_time_text(india),
            "Wed Nov 25, 2026, 9:05 AM (UTC+05:30)"
        );
    }

    #[test]
    fn unknown_carriers_keep_their_code() {
        assert_eq!(carrier_name("usps"), "USPS");
        assert_eq!(carrier_name("correos_express"), "correos_express");
    }
}
