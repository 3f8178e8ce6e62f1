//! Shipment and order statuses, with the strings the API promises.

use serde::{Deserialize, Serialize};

/// Where a parcel is, as merchants see it.
///
/// The first five form a ladder (`Received` .. `Delivered`); the others sit beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    Received,
    AtDepot,
    InTransit,
    OutForDelivery,
    Delivered,
    AvailableForPickup,
    Exception,
    ReturnedToSender,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 8] = [
        Self::Received,
        Self::AtDepot,
        Self::InTransit,
        Self::OutForDelivery,
        Self::Delivered,
        Self::AvailableForPickup,
        Self::Exception,
        Self::ReturnedToSender,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::AtDepot => "at_depot",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::AvailableForPickup => "available_for_pickup",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The dashboard wording. `InTransit` reads "Pick Up Scan from Dock" while the
    /// only carrier scan is the pickup; [`crate::timeline::Timeline::status_label`] decides that.
    pub fn label(self) -> &'static str {
        match self {
            Self::Received => "Received",
            Self::AtDepot => "At Depot",
            Self::InTransit => "In Transit",
            Self::OutForDelivery => "Out for Delivery",
            Self::Delivered => "Delivered",
            Self::AvailableForPickup => "Available for Pickup",
            Self::Exception => "Exception",
            Self::ReturnedToSender => "Returned to Sender",
        }
    }

    /// A final status is never left: the parcel's journey is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::ReturnedToSender)
    }

    /// Statuses we set ourselves before any carrier has the parcel.
    pub fn is_pre_transit(self) -> bool {
        matches!(self, Self::Received | Self::AtDepot)
    }

    /// Position on the main ladder; `None` for the statuses beside it.
    pub fn ladder_rank(self) -> Option<u8> {
        match self {
            Self::Received => Some(0),
            Self::AtDepot => Some(1),
            Self::InTransit => Some(2),
            Self::OutForDelivery => Some(3),
            Self::Delivered => Some(4),
            Self::AvailableForPickup | Self::Exception | Self::ReturnedToSender => None,
        }
    }
}

impl ShipmentStatus {
    /// How far along its journey a package in this status is, for "the least advanced
    /// package" of an order. Statuses beside the ladder sit where the parcel is: an
    /// exception is still on its way, a parcel at a pickup point as far as one out for
    /// delivery, a return as finished as a delivery. At the same distance the one that
    /// needs a person (exception, pickup, return) comes first, so an order summary
    /// never hides it.
    pub fn progress(self) -> (u8, bool) {
        match self {
            Self::Received => (0, false),
            Self::AtDepot => (1, false),
            Self::InTransit => (2, false),
            Self::Exception => (2, true),
            Self::OutForDelivery => (3, false),
            Self::AvailableForPickup => (3, true),
            Self::Delivered => (4, false),
            Self::ReturnedToSender => (4, true),
        }
    }
}

impl std::fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The order's own status: `Processing` until the 06:00 CT run after its tracking upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum OrderStatus {
    Processing,
    Completed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "Processing",
            Self::Completed => "Completed",
        }
    }

    /// Accepts the API spelling and, because people type it, any letter case.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Processing, Self::Completed]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value.trim()))
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_strings_round_trip_for_every_status() {
        for status in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(ShipmentStatus::parse("shipped"), None);
    }

    #[test]
    fn ladder_is_received_depot_transit_out_delivered() {
        let ladder: Vec<_> = ShipmentStatus::ALL
            .into_iter()
            .filter_map(|s| s.ladder_rank().map(|r| (r, s)))
            .collect();
        assert_eq!(
            ladder,
            vec![
                (0, ShipmentStatus::Received),
                (1, ShipmentStatus::AtDepot),
                (2, ShipmentStatus::InTransit),
                (3, ShipmentStatus::OutForDelivery),
                (4, ShipmentStatus::Delivered),
            ]
        );
    }

    #[test]
    fn only_delivered_and_returned_to_sender_are_final() {
        let finals: Vec<_> = ShipmentStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            vec![ShipmentStatus::Delivered, ShipmentStatus::ReturnedToSender]
        );
    }

    #[test]
    fn order_status_filter_accepts_any_case() {
        assert_eq!(
            OrderStatus::parse("completed"),
            Some(OrderStatus::Completed)
        );
        assert_eq!(
            OrderStatus::parse("Processing"),
            Some(OrderStatus::Processing)
        );
        assert_eq!(OrderStatus::parse("done"), None);
    }

    #[test]
    fn statuses_are_shown_by_their_names_and_only_delivery_or_return_ends_a_journey() {
        assert_eq!(
            ShipmentStatus::InTransit.to_string(),
            ShipmentStatus::InTransit.as_str()
        );
        assert_eq!(
            OrderStatus::Completed.to_string(),
            OrderStatus::Completed.as_str()
        );
        assert!(ShipmentStatus::Delivered.is_final());
        assert!(ShipmentStatus::ReturnedToSender.is_final());
        assert!(!ShipmentStatus::OutForDelivery.is_final());
    }
}
