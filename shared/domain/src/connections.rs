//! Store connections: which Shopify shops and which Amazon seller account belong to which
//! merchant.
//!
//! A store order carries the store's own order id, and the tracking we push back is
//! addressed by it. Without this check any merchant could name another seller's order id
//! and have our credentials write tracking into it, so an order may name a store only when
//! its merchant is connected to that store, and a push only ever uses the connection of the
//! order's own merchant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::order::OrderSource;

/// A merchant's Amazon seller account, as the SP-API names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmazonSeller {
    /// The merchant token of the seller account (`A2EXAMPLE...`).
    pub seller_id: String,
    /// The marketplace its orders are in (`ATVPDKIKX0DER` is amazon.com).
    pub marketplace_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreConnections {
    /// Shop domain (lower case) -> merchant id.
    shopify_shops: BTreeMap<String, String>,
    /// Merchant id -> its seller account.
    amazon_sellers: BTreeMap<String, AmazonSeller>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Your account is not connected to {store}, so an order cannot name {source} as its source. Connect the store first, or create the order as manual.", store = store_phrase(*.0), source = .0.as_str())]
pub struct NotConnected(pub OrderSource);

fn store_phrase(source: OrderSource) -> &'static str {
    match source {
        OrderSource::Shopify => "a Shopify store",
        OrderSource::Amazon => "an Amazon seller account",
        OrderSource::Manual | OrderSource::Excel | OrderSource::Api => "that store",
    }
}

impl StoreConnections {
    pub fn new(
        shopify_shops: BTreeMap<String, String>,
        amazon_sellers: BTreeMap<String, AmazonSeller>,
    ) -> Self {
        Self {
            shopify_shops: shopify_shops
                .into_iter()
                .map(|(shop, merchant)| (shop.to_ascii_lowercase(), merchant))
                .collect(),
            amazon_sellers,
        }
    }

    /// The merchant a Shopify shop's webhooks belong to.
    pub fn merchant_of_shop(&self, shop: &str) -> Option<&str> {
        self.shopify_shops
            .get(&shop.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The merchant's Shopify shops.
    pub fn shops_of(&self, merchant_id: &str) -> Vec<&str> {
        self.shopify_shops
            .iter()
            .filter(|(_, merchant)| merchant.as_str() == merchant_id)
            .map(|(shop, _)| shop.as_str())
            .collect()
    }

    pub fn amazon_seller_of(&self, merchant_id: &str) -> Option<&AmazonSeller> {
        self.amazon_sellers.get(merchant_id)
    }

    /// Every merchant with an Amazon seller account, for the order poll.
    pub fn amazon_sellers(&self) -> impl Iterator<Item = (&str, &AmazonSeller)> {
        self.amazon_sellers.iter().map(|(m, s)| (m.as_str(), s))
    }

    /// Whether `merchant_id` may create an order from `source`. Sources that are not stores
    /// need no connection.
    pub fn check(&self, merchant_id: &str, source: OrderSource) -> Result<(), NotConnected> {
        let connected = match source {
            OrderSource::Shopify => !self.shops_of(merchant_id).is_empty(),
            OrderSource::Amazon => self.amazon_seller_of(merchant_id).is_some(),
            OrderSource::Manual | OrderSource::Excel | OrderSource::Api => true,
        };
        if connected {
            Ok(())
        } else {
            Err(NotConnected(source))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connections() -> StoreConnections {
        StoreConnections::new(
            BTreeMap::from([("Acme.myshopify.com".to_owned(), "acme".to_owned())]),
            BTreeMap::from([(
                "bolt".to_owned(),
                AmazonSeller {
                    seller_id: "A2BOLT".into(),
                    marketplace_id: "ATVPDKIKX0DER".into(),
                },
            )]),
        )
    }

    #[test]
    fn a_store_order_needs_its_merchants_own_connection() {
        let c = connections();
        assert_eq!(c.check("acme", OrderSource::Shopify), Ok(()));
        assert_eq!(
            c.check("acme", OrderSource::Amazon),
            Err(NotConnected(OrderSource::Amazon))
        );
        assert_eq!(c.check("bolt", OrderSource::Amazon), Ok(()));
        assert_eq!(
            c.check("bolt", OrderSource::Shopify),
            Err(NotConnected(OrderSource::Shopify))
        );
        assert_eq!(
            c.check("nobody", OrderSource::Amazon),
            Err(NotConnected(OrderSource::Amazon))
        );
    }

    #[test]
    fn orders_that_are_not_from_a_store_need_no_connection() {
        let c = StoreConnections::default();
        for source in [OrderSource::Manual, OrderSource::Excel, OrderSource::Api] {
            assert_eq!(c.check("nobody", source), Ok(()));
        }
    }

    #[test]
    fn shops_are_matched_without_case_and_refusals_say_what_to_do() {
        let c = connections();
        assert_eq!(c.merchant_of_shop("ACME.myshopify.com"), Some("acme"));
        assert_eq!(c.shops_of("acme"), ["acme.myshopify.com"]);
        let sentence = NotConnected(OrderSource::Amazon).to_string();
        assert!(sentence.contains("an Amazon seller account"), "{sentence}");
        assert!(sentence.contains("manual"), "{sentence}");
    }

    #[test]
    fn the_order_poll_reaches_every_merchant_with_a_seller_account() {
        let c = connections();
        let sellers: Vec<_> = c
            .amazon_sellers()
            .map(|(merchant, seller)| (merchant, seller.seller_id.as_str()))
            .collect();
        assert_eq!(sellers, [("bolt", "A2BOLT")]);
        assert_eq!(StoreConnections::default().amazon_sellers().count(), 0);
    }
}
