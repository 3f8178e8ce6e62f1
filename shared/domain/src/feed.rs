//! The carrier feed: one scan per message, parsed into a valid scan or refused for good.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::carriers::{Carrier, TrackingNumber};
use crate::timeline::{scan_event_id, EventType, Handoff, Location, ScanCode, TimelineEvent};

/// How far after its arrival a scan may be dated. Carrier clocks drift by minutes and a
/// wrong time-zone offset moves a time by at most 14 hours; a day ahead is a broken feed.
/// Taken, such a scan would be the shipment's latest update (status is derived by
/// occurrence time) and hide every real scan until its date passes.
pub const MAX_SCAN_AHEAD_OF_RECEIPT: TimeDelta = TimeDelta::hours(24);

/// How long before its label was created a scan may be dated. Carriers report events
/// before a label reaches us: the "label created" / "shipment information received"
/// scan comes when the label is bought, and a prepaid label may be bought days or weeks
/// before operations upload it. Carriers void unused labels after about 30 days (USPS
/// after 28), so a scan dated earlier than that belongs to another parcel that once had
/// this tracking number (carriers reuse them) or has a wrong date.
pub const MAX_SCAN_BEFORE_LABEL: TimeDelta = TimeDelta::days(30);

/// The message body as carriers (or our feed adapters) send it. Optional fields are
/// optional here too, so a missing one yields a precise reason, not a serde error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedMessage {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub code: Option<String>,
    pub occurred_at: Option<String>,
    pub description: Option<String>,
    pub location: Option<Location>,
    pub event_id: Option<String>,
    pub handoff: Option<FeedHandoff>,
    /// Sub-code of an exception ("address_problem", "damaged", ...), where the feed has one.
    pub exception_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedHandoff {
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

/// Why a message can never succeed. Such a message goes to the dead-letter queue at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("the body is not JSON of the carrier feed shape: {0}")]
    Malformed(String),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("carrier {0:?} is not a carrier code")]
    BadCarrier(String),
    #[error("tracking number: {0}")]
    BadTrackingNumber(String),
    #[error("code {0:?} is not a carrier feed scan code")]
    UnknownCode(String),
    #[error("occurred_at {0:?} is not an RFC 3339 time with an offset")]
    BadTime(String),
    #[error("a HANDOFF scan needs handoff.carrier and handoff.tracking_number")]
    HandoffWithoutTarget,
    #[error("{0} is longer than {1} characters")]
    TooLong(&'static str, usize),
    #[error("occurred_at {occurred_at} is more than {} hours after the scan was received ({received_at})", MAX_SCAN_AHEAD_OF_RECEIPT.num_hours())]
    AheadOfReceipt {
        occurred_at: DateTime<Utc>,
        received_at: DateTime<Utc>,
    },
    #[error("occurred_at {occurred_at} is more than {} days before the label was created ({label_created_at}): a reused tracking number's old scan, or a wrong date", MAX_SCAN_BEFORE_LABEL.num_days())]
    LongBeforeLabel {
        occurred_at: DateTime<Utc>,
        label_created_at: DateTime<Utc>,
    },
    #[error("occurred_at {occurred_at} is before {scans_from}, when this tracking number went on its current label after an earlier label gave it up: the earlier parcel's scan")]
    BeforeReusedLabel {
        occurred_at: DateTime<Utc>,
        scans_from: DateTime<Utc>,
    },
}

/// A carrier as the feed names it. Known carriers get their canonical code; a final-mile
/// carrier we have no catalogue entry for (a local carrier abroad) keeps a normalised
/// slug, so its scans can still land on the order it took over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CarrierCode {
    code: String,
    known: Option<Carrier>,
}

impl CarrierCode {
    pub fn parse(raw: &str) -> Result<Self, FeedError> {
        if let Ok(carrier) = Carrier::parse(raw) {
            return Ok(Self {
                code: carrier.code().to_owned(),
                known: Some(carrier),
            });
        }
        let slug: String = raw
            .trim()
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect();
        let valid = (2..=32).contains(&slug.len())
            && slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(Self {
                code: slug,
                known: None,
            })
        } else {
            Err(FeedError::BadCarrier(raw.chars().take(40).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }

    pub fn known(&self) -> Option<Carrier> {
        self.known
    }

    /// Known carriers check their published number format; others only the charset.
    pub fn parse_tracking_number(&self, raw: &str) -> Result<String, FeedError> {
        match self.known {
            Some(carrier) => TrackingNumber::parse(carrier, raw)
                .map(|n| n.as_str().to_owned())
                .map_err(|e| FeedError::BadTrackingNumber(e.to_string())),
            None => {
                let number: String = raw
                    .chars()
                    .filter(|c| *c != ' ' && *c != '-')
                    .flat_map(char::to_uppercase)
                    .collect();
                if (4..=40).contains(&number.len())
                    && number.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    Ok(number)
                } else {
                    Err(FeedError::BadTrackingNumber(
                        "tracking numbers are 4 to 40 letters or digits".into(),
                    ))
                }
            }
        }
    }
}

/// A scan that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub carrier: CarrierCode,
    pub tracking_number: String,
    pub code: ScanCode,
    pub occurred_at: DateTime<Utc>,
    pub utc_offset_minutes: i32,
    pub description: String,
    pub location: Option<Location>,
    pub carrier_event_id: Option<String>,
    pub handoff: Option<(CarrierCode, String)>,
    pub exception_reason: Option<String>,
}

fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, FeedError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(FeedError::Missing(name))
}

fn bounded(
    value: Option<String>,
    name: &'static str,
    max: usize,
) -> Result<Option<String>, FeedError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => Err(FeedError::TooLong(name, max)),
        Some(v) if v.chars().any(char::is_control) => Err(FeedError::Malformed(format!(
            "{name} has control characters"
        ))),
        other => Ok(other),
    }
}

impl Scan {
    pub fn parse_body(body: &str) -> Result<Self, FeedError> {
        let message: FeedMessage =
            serde_json::from_str(body).map_err(|e| FeedError::Malformed(e.to_string()))?;
        Self::parse(message)
    }

    pub fn parse(message: FeedMessage) -> Result<Self, FeedError> {
        let carrier = CarrierCode::parse(required(&message.carrier, "carrier")?)?;
        let tracking_number = carrier
            .parse_tracking_number(required(&message.tracking_number, "tracking_number")?)?;
        let code_text = required(&message.code, "code")?;
        let code = ScanCode::parse(code_text)
            .ok_or_else(|| FeedError::UnknownCode(code_text.chars().take(40).collect()))?;
        let time_text = required(&message.occurred_at, "occurred_at")?;
        let occurred = DateTime::parse_from_rfc3339(time_text)
            .map_err(|_| FeedError::BadTime(time_text.chars().take(40).collect()))?;
        let handoff = match (&message.handoff, code) {
            (Some(h), _) if h.carrier.is_some() || h.tracking_number.is_some() => {
                let handoff_carrier = CarrierCode::parse(required(&h.carrier, "handoff.carrier")?)?;
                let number = handoff_carrier.parse_tracking_number(required(
                    &h.tracking_number,
                    "handoff.tracking_number",
                )?)?;
                Some((handoff_carrier, number))
            }
            (_, ScanCode::Handoff) => return Err(FeedError::HandoffWithoutTarget),
            _ => None,
        };
        let location = message.location.map(|l| -> Result<Location, FeedError> {
            Ok(Location {
                city: bounded(l.city, "location.city", 100)?,
                state: bounded(l.state, "location.state", 64)?,
                postal_code: bounded(l.postal_code, "location.postal_code", 16)?,
                country: bounded(l.country, "location.country", 64)?.and_then(|c| country_code(&c)),
            })
        });
        let exception_reason =
            bounded(message.exception_reason, "exception_reason", 64)?.or(match code {
                ScanCode::DeliveryAttempted => Some("delivery_attempted".to_owned()),
                ScanCode::Exception => Some("exception".to_owned()),
                _ => None,
            });
        Ok(Self {
            description: bounded(message.description, "description", 500)?
                .unwrap_or_else(|| default_description(code).to_owned()),
            carrier_event_id: bounded(message.event_id, "event_id", 128)?,
            location: location.transpose()?.filter(|l| l != &Location::default()),
            occurred_at: occurred.with_timezone(&Utc),
            utc_offset_minutes: occurred.offset().local_minus_utc() / 60,
            carrier,
            tracking_number,
            code,
            handoff,
            exception_reason: exception_reason
                .filter(|_| code.status() == crate::status::ShipmentStatus::Exception),
        })
    }

    /// A scan dated more than [`MAX_SCAN_AHEAD_OF_RECEIPT`] after `received_at` is refused;
    /// exactly at the margin it is taken.
    pub fn check_received_at(&self, received_at: DateTime<Utc>) -> Result<(), FeedError> {
        if self.occurred_at - received_at > MAX_SCAN_AHEAD_OF_RECEIPT {
            return Err(FeedError::AheadOfReceipt {
                occurred_at: self.occurred_at,
                received_at,
            });
        }
        Ok(())
    }

    /// A scan dated more than [`MAX_SCAN_BEFORE_LABEL`] before its label was created is
    /// refused; exactly at the margin it is taken.
    pub fn check_label(&self, label_created_at: DateTime<Utc>) -> Result<(), FeedError> {
        if label_created_at - self.occurred_at > MAX_SCAN_BEFORE_LABEL {
            return Err(FeedError::LongBeforeLabel {
                occurred_at: self.occurred_at,
                label_created_at,
            });
        }
        Ok(())
    }

    /// A number that had an earlier life on another label takes no scan dated before its
    /// current label (`scans_from`): such a scan is the earlier parcel's.
    pub fn check_reused_number(&self, scans_from: DateTime<Utc>) -> Result<(), FeedError> {
        if self.occurred_at < scans_from {
            return Err(FeedError::BeforeReusedLabel {
                occurred_at: self.occurred_at,
                scans_from,
            });
        }
        Ok(())
    }

    /// The timeline row this scan becomes, received at `now`.
    pub fn to_event(&self, now: DateTime<Utc>) -> TimelineEvent {
        TimelineEvent {
            shipment_id: None,
            replaces: None,
            event_id: scan_event_id(
                self.carrier.as_str(),
                &self.tracking_number,
                self.code,
                self.occurred_at,
                self.carrier_event_id.as_deref(),
            ),
            kind: if self.code == ScanCode::Handoff {
                EventType::Handoff
            } else {
                EventType::CarrierScan
            },
            status: Some(self.code.status()),
            code: self.code.as_str().to_owned(),
            description: self.description.clone(),
            occurred_at: self.occurred_at,
            utc_offset_minutes: self.utc_offset_minutes,
            recorded_at: now,
            location: self.location.clone(),
            carrier: Some(self.carrier.as_str().to_owned()),
            tracking_number: Some(self.tracking_number.clone()),
            exception_reason: self.exception_reason.clone(),
            handoff: self.handoff.as_ref().map(|(carrier, number)| Handoff {
                carrier: carrier.as_str().to_owned(),
                tracking_number: number.clone(),
            }),
        }
    }
}

/// The ISO 3166 alpha-2 code of a scan's country. Claims compare it with the ship-to
/// country to confirm a misdelivery, so a spelling we cannot read must be "unknown",
/// never a false "another country".
pub fn country_code(raw: &str) -> Option<String> {
    let upper = raw.trim().to_ascii_uppercase();
    let alpha3 = [
        ("USA", "US"),
        ("CAN", "CA"),
        ("MEX", "MX"),
        ("GBR", "GB"),
        ("AUS", "AU"),
        ("DEU", "DE"),
        ("FRA", "FR"),
        ("ESP", "ES"),
        ("ITA", "IT"),
        ("NLD", "NL"),
        ("IRL", "IE"),
        ("NZL", "NZ"),
        ("JPN", "JP"),
        ("PRI", "PR"),
    ];
    match upper.len() {
        2 if upper.chars().all(|c| c.is_ascii_uppercase()) => Some(upper),
        3 => alpha3
            .iter()
            .find(|(a3, _)| *a3 == upper)
            .map(|(_, a2)| (*a2).to_owned()),
        _ => match upper.as_str() {
            "UNITED STATES" | "UNITED STATES OF AMERICA" => Some("US".to_owned()),
            _ => None,
        },
    }
}

fn default_description(code: ScanCode) -> &'static str {
    match code {
        ScanCode::Pickup => "Picked up by the carrier",
        ScanCode::InTransit => "In transit",
        ScanCode::OutForDelivery => "Out for delivery",
        ScanCode::AvailableForPickup => "Available for pickup",
        ScanCode::Delivered => "Delivered",
        ScanCode::DeliveryAttempted => "Delivery attempted",
        ScanCode::Exception => "Carrier exception",
        ScanCode::Handoff => "Handed to the final-mile carrier",
        ScanCode::ReturnToSender => "Returning to sender",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(overrides: serde_json::Value) -> String {
        let mut body = json!({
            "carrier": "ups", "tracking_number": "1Z999AA10123456784", "code": "PICKUP",
            "occurred_at": "2026-11-24T08:15:00-06:00", "description": "Origin scan",
            "location": {"city": "Louisville", "state": "KY", "postal_code": "40209", "country": "US"},
            "event_id": "evt-1"
        });
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string()
    }

    #[test]
    fn contract_message_parses_with_utc_time_and_source_offset() {
        let scan = Scan::parse_body(&message(json!({}))).unwrap();
        assert_eq!(scan.occurred_at.to_rfc3339(), "2026-11-24T14:15:00+00:00");
        assert_eq!(scan.utc_offset_minutes, -360);
        let event = scan.to_event(scan.occurred_at);
        assert_eq!(event.local_time().to_rfc3339(), "2026-11-24T08:15:00-06:00");
        assert_eq!(event.status, Some(crate::status::ShipmentStatus::InTransit));
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        let cases = [
            ("not json".to_owned(), "not JSON"),
            (message(json!({"carrier": null})), "carrier is missing"),
            (
                message(json!({"code": "TELEPORTED"})),
                "not a carrier feed scan code",
            ),
            (
                message(json!({"occurred_at": "2026-11-24 08:15"})),
                "RFC 3339",
            ),
            (
                message(json!({"tracking_number": "1Z999AA10123456785"})),
                "tracking number",
            ),
            (message(json!({"code": "HANDOFF"})), "HANDOFF"),
            (message(json!({"carrier": "!!"})), "not a carrier code"),
        ];
        for (body, reason) in cases {
            let error = Scan::parse_body(&body).unwrap_err();
            assert!(error.to_string().contains(reason), "{body}: {error}");
        }
    }

    #[test]
    fn handoff_scan_carries_the_final_mile_number() {
        let scan = Scan::parse_body(&message(json!({
            "code": "HANDOFF", "event_id": null,
            "handoff": {"carrier": "USPS", "tracking_number": "9400 1118 9922 3197 4284 97"}
        })))
        .unwrap();
        let (carrier, number) = scan.handoff.clone().unwrap();
        assert_eq!(
            (carrier.as_str(), number.as_str()),
            ("usps", "9400111899223197428497")
        );
        assert_eq!(scan.to_event(scan.occurred_at).kind, EventType::Handoff);
    }

    #[test]
    fn scan_countries_are_read_as_iso_codes_or_left_unknown() {
        assert_eq!(country_code("us").as_deref(), Some("US"));
        assert_eq!(country_code("USA").as_deref(), Some("US"));
        assert_eq!(country_code("United States").as_deref(), Some("US"));
        assert_eq!(country_code("Atlantis"), None);
        let scan = Scan::parse_body(&message(
            json!({"location": {"city": "Austin", "country": "USA"}}),
        ))
        .unwrap();
        assert_eq!(scan.location.unwrap().country.as_deref(), Some("US"));
    }

    #[test]
    fn unknown_local_carrier_is_kept_as_a_slug() {
        let code = CarrierCode::parse("Correos Express").unwrap();
        assert_eq!(code.as_str(), "correos_express");
        assert_eq!(code.known(), None);
        assert_eq!(
            code.parse_tracking_number("pq-4d8 1234").unwrap(),
            "PQ4D81234"
        );
    }

    #[test]
    fn delivery_attempt_is_an_exception_with_its_reason_kept() {
        let scan = Scan::parse_body(&message(json!({"code": "DELIVERY_ATTEMPTED"}))).unwrap();
        assert_eq!(scan.exception_reason.as_deref(), Some("delivery_attempted"));
        let scan = Scan::parse_body(&message(
            json!({"code": "EXCEPTION", "exception_reason": "address_problem"}),
        ))
        .unwrap();
        assert_eq!(scan.exception_reason.as_deref(), Some("address_problem"));
        let scan = Scan::parse_body(&message(json!({"exception_reason": "ignored"}))).unwrap();
        assert_eq!(scan.exception_reason, None);
    }

    #[test]
    fn scan_a_day_ahead_of_its_arrival_is_taken_and_one_second_more_is_refused() {
        let scan = Scan::parse_body(&message(json!({}))).unwrap();
        let at_margin = scan.occurred_at - MAX_SCAN_AHEAD_OF_RECEIPT;
        assert_eq!(scan.check_received_at(at_margin), Ok(()));
        assert_eq!(scan.check_received_at(scan.occurred_at), Ok(()));
        let past = at_margin - TimeDelta::seconds(1);
        assert_eq!(
            scan.check_received_at(past),
            Err(FeedError::AheadOfReceipt {
                occurred_at: scan.occurred_at,
                received_at: past
            })
        );
        assert!(scan
            .check_received_at(past)
            .unwrap_err()
            .to_string()
            .contains("more than 24 hours after"));
    }

    #[test]
    fn the_margin_ahead_is_measured_in_utc_whatever_offset_the_carrier_prints() {
        // 2026-11-25T23:00-10:00 is 2026-11-26T09:00Z.
        let scan = Scan::parse_body(&message(
            json!({"occurred_at": "2026-11-25T23:00:00-10:00"}),
        ))
        .unwrap();
        let received = "2026-11-25T09:00:00Z".parse().unwrap();
        assert_eq!(scan.check_received_at(received), Ok(()));
        let received: DateTime<Utc> = "2026-11-25T08:59:59Z".parse().unwrap();
        assert!(scan.check_received_at(received).is_err());
    }

    #[test]
    fn a_reused_number_takes_no_scan_from_before_its_current_label() {
        let scan = Scan::parse_body(&message(json!({}))).unwrap();
        assert_eq!(scan.check_reused_number(scan.occurred_at), Ok(()));
        assert_eq!(
            scan.check_reused_number(scan.occurred_at - TimeDelta::days(1)),
            Ok(())
        );
        let later = scan.occurred_at + TimeDelta::seconds(1);
        assert_eq!(
            scan.check_reused_number(later),
            Err(FeedError::BeforeReusedLabel {
                occurred_at: scan.occurred_at,
                scans_from: later
            })
        );
    }

    #[test]
    fn scan_30_days_before_its_label_is_taken_and_one_second_more_is_refused() {
        let scan = Scan::parse_body(&message(json!({}))).unwrap();
        let at_margin = scan.occurred_at + MAX_SCAN_BEFORE_LABEL;
        assert_eq!(scan.check_label(at_margin), Ok(()));
        // Scans after the label, or shortly before it (a prepaid label bought earlier).
        assert_eq!(
            scan.check_label(scan.occurred_at - TimeDelta::days(90)),
            Ok(())
        );
        assert_eq!(
            scan.check_label(scan.occurred_at + TimeDelta::hours(3)),
            Ok(())
        );
        let past = at_margin + TimeDelta::seconds(1);
        let error = scan.check_label(past).unwrap_err();
        assert_eq!(
            error,
            FeedError::LongBeforeLabel {
                occurred_at: scan.occurred_at,
                label_created_at: past
            }
        );
        assert!(error
            .to_string()
            .contains("more than 30 days before the label"));
    }

    #[test]
    fn same_scan_in_two_messages_has_one_identity() {
        let a =
            Scan::parse_body(&message(json!({"event_id": null, "description": "first"}))).unwrap();
        let b = Scan::parse_body(&message(
            json!({"event_id": null, "description": "second copy",
            "occurred_at": "2026-11-24T14:15:00Z"}),
        ))
        .unwrap();
        assert_eq!(
            a.to_event(a.occurred_at).event_id,
            b.to_event(b.occurred_at).event_id
        );
    }

    #[test]
    fn known_carriers_are_recognised_and_others_keep_their_code() {
        assert_eq!(
            CarrierCode::parse("UPS").unwrap().known(),
            Some(crate::carriers::Carrier::Ups)
        );
        let local = CarrierCode::parse("lasership").unwrap();
        assert_eq!(local.known(), None);
        assert_eq!(
            local.parse_tracking_number("ls-1234 5678").unwrap(),
            "LS12345678"
        );
        for bad in ["AB_12345", "AB1", &"A".repeat(41)] {
            assert!(local.parse_tracking_number(bad).is_err(), "{bad}");
        }
        assert!(local.parse_tracking_number(&"A".repeat(40)).is_ok());
    }

    #[test]
    fn free_text_fields_are_taken_up_to_their_limit_and_without_control_characters() {
        let at_limit = "d".repeat(500);
        let scan = Scan::parse_body(&message(json!({"description": at_limit}))).unwrap();
        assert_eq!(scan.description.chars().count(), 500);
        assert!(matches!(
            Scan::parse_body(&message(json!({"description": "d".repeat(501)}))),
            Err(FeedError::TooLong("description", 500))
        ));
        assert!(matches!(
            Scan::parse_body(&message(json!({"description": "line\u{0007}bell"}))),
            Err(FeedError::Malformed(_))
        ));
    }

    #[test]
    fn a_hand_off_names_both_its_carrier_and_its_number() {
        let without = Scan::parse_body(&message(json!({"handoff": {}}))).unwrap();
        assert_eq!(without.handoff, None);
        assert!(matches!(
            Scan::parse_body(&message(json!({"handoff": {"carrier": "usps"}}))),
            Err(FeedError::Missing("handoff.tracking_number"))
        ));
        assert!(matches!(
            Scan::parse_body(&message(
                json!({"handoff": {"tracking_number": "9400111899223100000001"}})
            )),
            Err(FeedError::Missing("handoff.carrier"))
        ));
    }

    #[test]
    fn an_exception_scan_without_a_reason_is_an_exception() {
        let scan = Scan::parse_body(&message(json!({"code": "EXCEPTION"}))).unwrap();
        assert_eq!(scan.exception_reason.as_deref(), Some("exception"));
    }

    #[test]
    fn countries_are_two_letters_or_a_known_name_and_a_scan_has_a_default_description() {
        assert_eq!(country_code("us").as_deref(), Some("US"));
        assert_eq!(country_code("DEU").as_deref(), Some("DE"));
        assert_eq!(country_code("United States").as_deref(), Some("US"));
        assert_eq!(country_code("u1"), None);
        assert_eq!(country_code("XYZ"), None);
        let body = message(json!({"description": null}));
        let scan = Scan::parse_body(&body).unwrap();
        assert_eq!(scan.description, "Picked up by the carrier");
    }
}
