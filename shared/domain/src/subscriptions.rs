//! Team email subscriptions: who receives an order's updates, and why (the scope).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::{EmailAddress, TeamEmail};
use crate::order::Order;

/// Which updates a subscription receives.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionScope {
    /// One order's updates.
    Order,
    /// Every order of the merchant.
    Merchant,
}

impl SubscriptionScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Merchant => "merchant",
        }
    }
}

/// A team address receiving updates, for one order or for all of a merchant's orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The address as the merchant typed it; mail goes to exactly this spelling.
    pub email: EmailAddress,
    pub merchant_id: String,
    /// `None` for a merchant-wide subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    /// Takes a [`TeamEmail`], so an order's own customer cannot be subscribed to it.
    pub fn for_order(order: &Order, email: TeamEmail, now: DateTime<Utc>) -> Self {
        Self {
            email: email.address().clone(),
            merchant_id: order.merchant_id.clone(),
            order_id: Some(order.order_id.clone()),
            created_at: now,
        }
    }

    /// Merchant-wide subscriptions have no customer to compare with when they are made:
    /// the customer rule is applied to each order when its emails are sent.
    pub fn merchant_wide(merchant_id: &str, email: EmailAddress, now: DateTime<Utc>) -> Self {
        Self {
            email,
            merchant_id: merchant_id.to_owned(),
            order_id: None,
            created_at: now,
        }
    }

    pub fn scope(&self) -> SubscriptionScope {
        match self.order_id {
            Some(_) => SubscriptionScope::Order,
            None => SubscriptionScope::Merchant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_named_as_the_api_shows_them() {
        assert_eq!(SubscriptionScope::Order.as_str(), "order");
        assert_eq!(SubscriptionScope::Merchant.as_str(), "merchant");
    }
}
