//! Email addresses, and the rule that team alerts never go to the order's customer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("{0:?} is not a valid email address")]
    Invalid(String),
    #[error("this is the order's customer address; subscriptions are for your team's addresses, never the customer's")]
    CustomerAddress,
}

/// An email address that passed a deliberately strict check.
///
/// Strict because these addresses end up in email headers: anything that could break a
/// header (whitespace, control characters, quotes, angle brackets, commas) is refused here,
/// once, instead of being escaped in every place that sends mail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
#[schemars(
    description = "An email address, checked strictly: whitespace, quotes, angle brackets, commas and control characters are refused."
)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        let invalid = || EmailError::Invalid(raw.chars().take(80).collect());
        if trimmed.len() > 254 {
            return Err(invalid());
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox the address reaches: case folded, `+tag` dropped. Two addresses
    /// with the same canonical form land in the same inbox.
    pub fn canonical(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let local = local.split('+').next().unwrap_or(local);
        format!(
            "{}@{}",
            local.to_ascii_lowercase(),
            domain.to_ascii_lowercase()
        )
    }

    pub fn same_mailbox(&self, other: &EmailAddress) -> bool {
        self.canonical() == other.canonical()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team address that may receive an order's updates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TeamEmail(EmailAddress);

/// How many subscriptions one order may have, and how many merchant-wide ones one
/// merchant may have. One event is mailed to at most their sum, so no merchant can turn
/// an event into a flood that slows everyone's emails.
pub const MAX_ORDER_SUBSCRIPTIONS: usize = 10;
pub const MAX_MERCHANT_SUBSCRIPTIONS: usize = 25;

/// Whether subscribing `email` keeps `existing` within `limit`. A mailbox already there
/// always fits: subscribing it again changes nothing.
pub fn subscription_fits(existing: &[&EmailAddress], email: &EmailAddress, limit: usize) -> bool {
    existing.len() < limit || existing.iter().any(|e| e.same_mailbox(email))
}

impl TeamEmail {
    /// Refuses the order's customer address, whatever its case or `+tag`: tracking
    /// alerts are for the merchant's team, and the store already tells the customer.
    pub fn parse(raw: &str, customer_email: &EmailAddress) -> Result<Self, EmailError> {
        let address = EmailAddress::parse(raw)?;
        if address.same_mailbox(customer_email) {
            return Err(EmailError::CustomerAddress);
        }
        Ok(Self(address))
    }

    pub fn address(&self) -> &EmailAddress {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn customer() -> EmailAddress {
        EmailAddress::parse("Ada.Lovelace@Example.com").unwrap()
    }

    #[test]
    fn team_address_is_accepted() {
        let team = TeamEmail::parse("ops@merchant.example", &customer()).unwrap();
        assert_eq!(team.address().as_str(), "ops@merchant.example");
    }

    #[test]
    fn customer_address_is_refused_whatever_its_case() {
        assert_eq!(
            TeamEmail::parse("ada.lovelace@EXAMPLE.COM", &customer()),
            Err(EmailError::CustomerAddress)
        );
    }

    #[test]
    fn customer_address_is_refused_with_a_plus_tag() {
        assert_eq!(
            TeamEmail::parse("ada.lovelace+alerts@example.com", &customer()),
            Err(EmailError::CustomerAddress)
        );
        let tagged_customer = EmailAddress::parse("ada.lovelace+shop@example.com").unwrap();
        assert_eq!(
            TeamEmail::parse("Ada.Lovelace@example.com", &tagged_customer),
            Err(EmailError::CustomerAddress)
        );
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for raw in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@example..com",
            "ada lovelace@example.com",
            "ada@example.com\r\nBcc: x@evil.example",
            "\"ada\"@example.com",
            "<ada@example.com>",
            "ada@example.com,bob@example.com",
            "ada@-example.com",
            "ada@example.c0m",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "accepted {raw:?}");
        }
    }

    proptest! {
        #[test]
        fn no_accepted_address_can_break_an_email_header(raw in "\\PC{0,40}[\r\n,<>\" ]\\PC{0,40}@example.com") {
            let accepted = EmailAddress::parse(&raw);
            if let Ok(address) = accepted {
                prop_assert!(!address.as_str().contains(['\r', '\n', ',', '<', '>', '"', ' ']));
            }
        }
    }

    #[test]
    fn a_full_list_takes_no_new_mailbox_but_still_takes_a_repeat() {
        let a = EmailAddress::parse("a@merchant.example").unwrap();
        let b = EmailAddress::parse("b@merchant.example").unwrap();
        let a_again = EmailAddress::parse("A+tag@Merchant.example").unwrap();
        assert!(subscription_fits(&[], &a, 1));
        assert!(!subscription_fits(&[&a], &b, 1));
        assert!(subscription_fits(&[&a], &a_again, 1));
        assert!(subscription_fits(&[&a], &b, 2));
    }

    #[test]
    fn an_address_of_254_characters_is_taken_and_one_longer_is_not() {
        let address = |first_label: usize| {
            format!(
                "{}@{}.{}.{}.com",
                "l".repeat(64),
                "a".repeat(first_label),
                "b".repeat(61),
                "c".repeat(61)
            )
        };
        assert_eq!(address(61).len(), 254);
        assert!(EmailAddress::parse(&address(61)).is_ok());
        assert_eq!(address(62).len(), 255);
        assert!(EmailAddress::parse(&address(62)).is_err());
    }

    #[test]
    fn domain_labels_may_hold_hyphens_inside_and_nothing_else_but_letters_and_digits() {
        assert!(EmailAddress::parse("ops@my-shop.example.com").is_ok());
        for bad in [
            "ops@my_shop.com",
            "ops@-shop.com",
            "ops@shop-.com",
            "ops@shop!.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_address_is_shown_as_it_was_typed() {
        let address = EmailAddress::parse(" Ops+Alerts@Example.com ").unwrap();
        assert_eq!(address.to_string(), "Ops+Alerts@Example.com");
    }
}
