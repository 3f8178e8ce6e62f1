//! Pushing tracking to a merchant's store: which push a record stands for, where it
//! stands, and when a worker may take it on.
//!
//! A record moves `pending` -> `sent`, or `pending` -> `failed` -> `pending` again on a
//! retry; `sent` is final. A worker may lease a record that does not exist yet, that
//! failed, or that is pending under a lease that ran out ([`SyncRecord::leasable`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::OrderSource;

pub mod job;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// A worker holds the lease until `lease_until` and is talking to the store.
    Pending,
    /// The last attempt failed; the next delivery of the job may lease it again.
    Failed,
    /// The store has the tracking. Final.
    Sent,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Sent => "sent",
        }
    }
}

/// Which push a record stands for: one store, one carrier's tracking number on one order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncKey {
    pub order_id: String,
    pub platform: OrderSource,
    pub carrier: String,
    pub tracking_number: String,
    /// Taking the number back (a voided label), a push of its own beside the one that
    /// gave it.
    pub withdraws: bool,
    /// Which label of which package (`{shipment_id}#{revision}`), so a number given,
    /// taken back and given again is pushed again; `None` for jobs queued before
    /// packages, keyed as they were.
    pub label: Option<String>,
}

/// A sync record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub order_id: String,
    pub platform: OrderSource,
    pub carrier: String,
    pub tracking_number: String,
    pub status: SyncStatus,
    /// How many times a worker leased it (each lease is one call to the store).
    pub attempts: u32,
    /// Until when the worker that leased it may be talking to the store. Written at a fixed
    /// width, so a conditional write can compare it as a string.
    #[serde(with = "fixed_width")]
    pub lease_until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// What the store calls the result (a Shopify fulfillment id, an Amazon package id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl SyncRecord {
    /// Whether a worker may lease this record at `now`: never once sent, and otherwise
    /// only when no live lease holds it (a worker that died holding one is replaced once
    /// its lease runs out).
    pub fn leasable(&self, now: DateTime<Utc>) -> bool {
        self.status != SyncStatus::Sent && self.lease_until <= now
    }
}

/// RFC 3339 with milliseconds and `Z`: every instant the same width, so string order is
/// time order.
mod fixed_width {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record(status: SyncStatus, lease_until: DateTime<Utc>) -> SyncRecord {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        SyncRecord {
            order_id: "ord_1".into(),
            platform: OrderSource::Shopify,
            carrier: "ups".into(),
            tracking_number: "1Z999AA10123456784".into(),
            status,
            attempts: 1,
            lease_until,
            created_at: at,
            updated_at: at,
            sent_at: None,
            remote_ref: None,
            last_error: None,
        }
    }

    #[test]
    fn a_record_is_leasable_once_its_lease_is_out_and_never_once_sent() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let later = now + chrono::Duration::seconds(1);
        assert!(!record(SyncStatus::Pending, later).leasable(now));
        assert!(record(SyncStatus::Pending, now).leasable(now));
        assert!(record(SyncStatus::Failed, now).leasable(now));
        assert!(!record(SyncStatus::Failed, later).leasable(now));
        assert!(!record(SyncStatus::Sent, now).leasable(now));
    }

    #[test]
    fn the_lease_is_written_at_a_fixed_width() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let json = serde_json::to_value(record(SyncStatus::Sent, at)).unwrap();
        assert_eq!(json["lease_until"], "2026-11-25T12:00:00.000Z");
        let back: SyncRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back.lease_until, at);
    }

    #[test]
    fn statuses_are_named_as_they_are_stored() {
        let names: Vec<_> = [SyncStatus::Pending, SyncStatus::Failed, SyncStatus::Sent]
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(names, ["pending", "failed", "sent"]);
    }
}
