//! Function configuration, read once at cold start.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use tracking_domain::connections::{AmazonSeller, StoreConnections};

/// Everything a function needs from its environment. template.yaml sets each variable.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TRACKING_TABLE`: the single table holding orders, timelines and lookups.
    pub table_name: String,
    /// `ORIGIN_COUNTRY`: where parcels leave from; any other ship-to country is international.
    pub origin_country: String,
    /// `SHOPIFY_SHOPS` and `AMAZON_SELLERS`: which stores each merchant is connected to.
    /// Not secret (the credentials live apart), so every function that needs to know
    /// whether an order may name a store can read it.
    pub connections: StoreConnections,
}

impl Config {
    /// Fails fast, naming the missing variable, so a misconfigured deploy dies at cold
    /// start instead of on the first merchant's request.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("environment variable {name} is not set"))
        };
        let origin_country = lookup("ORIGIN_COUNTRY").unwrap_or_else(|| "US".to_owned());
        if origin_country.len() != 2 {
            bail!("ORIGIN_COUNTRY must be a two-letter country code, got {origin_country:?}");
        }
        let present = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(Self {
            table_name: required("TRACKING_TABLE")?,
            origin_country: origin_country.to_ascii_uppercase(),
            connections: StoreConnections::new(
                shop_map(present("SHOPIFY_SHOPS").as_deref())?,
                amazon_sellers(present("AMAZON_SELLERS").as_deref())?,
            ),
        })
    }
}

/// `SHOPIFY_SHOPS`: `{"acme.myshopify.com": "merchant-acme"}`, shop domain -> merchant id.
pub fn shop_map(raw: Option<&str>) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, String> = serde_json::from_str(raw)
        .context("SHOPIFY_SHOPS must be a JSON object of shop domain -> merchant id")?;
    map.into_iter()
        .map(|(shop, merchant)| {
            let shop = shop.trim().to_ascii_lowercase();
            let valid = !shop.is_empty()
                && shop
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid || merchant.trim().is_empty() {
                bail!("SHOPIFY_SHOPS: {shop:?} is not a shop domain with a merchant id");
            }
            Ok((shop, merchant.trim().to_owned()))
        })
        .collect()
}

/// `AMAZON_SELLERS`: `{"merchant-acme": {"seller_id": "A2...", "marketplace_id": "ATVPDKIKX0DER"}}`.
pub fn amazon_sellers(raw: Option<&str>) -> anyhow::Result<BTreeMap<String, AmazonSeller>> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, AmazonSeller> = serde_json::from_str(raw).context(
        "AMAZON_SELLERS must be a JSON object of merchant id -> {seller_id, marketplace_id}",
    )?;
    let id_like =
        |v: &str| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric());
    for (merchant, seller) in &map {
        if merchant.trim().is_empty()
            || !id_like(&seller.seller_id)
            || !id_like(&seller.marketplace_id)
        {
            bail!(
                "AMAZON_SELLERS: {merchant:?} needs an alphanumeric seller_id and marketplace_id"
            );
        }
    }
    Ok(map)
}

/// A function's environment as a lookup: the process environment in AWS and in the local
/// runner ([`process_env`]), a map in tests. Every function's `build` reads it once.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A variable a function cannot run without, named in the error when it is missing.
pub fn required(env: Env, name: &str) -> anyhow::Result<String> {
    env(name)
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("environment variable {name} is not set"))
}

/// [`required`] from the process environment.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    required(&process_env, name)
}

/// A number, or `default` when the variable is unset or empty.
pub fn number<T: std::str::FromStr>(env: Env, name: &str, default: T) -> anyhow::Result<T> {
    match env(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| {
            anyhow::anyhow!("environment variable {name} must be a number, got {value:?}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_default_when_unset_and_name_their_variable_when_wrong() {
        let env = |name: &str| match name {
            "GOOD" => Some(" 7 ".to_owned()),
            "BAD" => Some("seven".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(number(&env, "GOOD", 5).unwrap(), 7);
        assert_eq!(number(&env, "UNSET", 5).unwrap(), 5);
        assert_eq!(number(&env, "EMPTY", 5).unwrap(), 5);
        let error = number::<u32>(&env, "BAD", 5).unwrap_err().to_string();
        assert!(error.contains("BAD") && error.contains("seven"), "{error}");
        assert!(required(&env, "EMPTY")
            .unwrap_err()
            .to_string()
            .contains("EMPTY"));
    }

    #[test]
    fn missing_table_variable_is_named_in_the_error() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains("TRACKING_TABLE"), "{err}");
    }

    #[test]
    fn origin_country_defaults_to_us() {
        let config =
            Config::from_lookup(|name| (name == "TRACKING_TABLE").then(|| "t".to_owned())).unwrap();
        assert_eq!(config.origin_country, "US");
        assert_eq!(config.connections, StoreConnections::default());
    }

    #[test]
    fn connections_are_read_and_broken_ones_fail_fast_with_their_name() {
        let vars = |shops: &'static str, sellers: &'static str| {
            move |name: &str| match name {
                "TRACKING_TABLE" => Some("t".to_owned()),
                "SHOPIFY_SHOPS" => Some(shops.to_owned()),
                "AMAZON_SELLERS" => Some(sellers.to_owned()),
                _ => None,
            }
        };
        let config = Config::from_lookup(vars(
            r#"{"Acme.myshopify.com": "acme"}"#,
            r#"{"bolt": {"seller_id": "A2BOLT", "marketplace_id": "ATVPDKIKX0DER"}}"#,
        ))
        .unwrap();
        assert_eq!(
            config.connections.merchant_of_shop("acme.myshopify.com"),
            Some("acme")
        );
        assert_eq!(
            config
                .connections
                .amazon_seller_of("bolt")
                .map(|s| s.seller_id.as_str()),
            Some("A2BOLT")
        );
        let err = Config::from_lookup(vars("acme=merchant", "{}")).unwrap_err();
        assert!(err.to_string().contains("SHOPIFY_SHOPS"), "{err}");
        let err = Config::from_lookup(vars(
            "{}",
            r#"{"bolt": {"seller_id": "../x", "marketplace_id": "ATVPDKIKX0DER"}}"#,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("AMAZON_SELLERS"), "{err}");
    }
}
