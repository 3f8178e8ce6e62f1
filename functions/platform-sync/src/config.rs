//! Configuration, read once at cold start. template.yaml sets every variable.

use std::collections::BTreeMap;

use anyhow::{bail, Context};

use crate::amazon::{self, AmazonConfig};
use crate::lwa::{self, LwaCredentials};
use crate::push::Secret;
use crate::shopify::{self, ShopifyConfig};

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// `STORE_SYNC_QUEUE_URL`: where the stream handler puts sync jobs.
    pub queue_url: String,
    /// `STORE_SYNC_DLQ_URL`: where a job the store refused goes at once, with its reason.
    pub dead_letter_url: String,
    pub shopify: ShopifyConfig,
    pub amazon: AmazonConfig,
    /// `AMAZON_ACCESS_TOKENS`: fixed LWA access tokens per merchant (tests, local runs);
    /// ignored when `amazon_lwa` is configured.
    pub amazon_access_tokens: BTreeMap<String, Secret>,
    /// `AMAZON_LWA_CLIENT_*` and `AMAZON_REFRESH_TOKENS`: what a deployment uses to keep
    /// each seller's access token fresh.
    pub amazon_lwa: Option<LwaCredentials>,
}

impl SyncConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Queue URLs are required; store credentials are not (a deployment may serve only
    /// Shopify merchants): a job for an unconfigured store is dead-lettered with the reason.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let optional = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| {
            optional(name).with_context(|| format!("environment variable {name} is not set"))
        };
        let shops = tracking_aws::config::shop_map(optional("SHOPIFY_SHOPS").as_deref())?;
        let sellers = tracking_aws::config::amazon_sellers(optional("AMAZON_SELLERS").as_deref())?;
        // Credentials of a merchant with no seller account would be used for nothing, or
        // worse, be a sign the two maps were keyed differently: fail at cold start.
        let merchant_secrets = |name: &str| -> anyhow::Result<BTreeMap<String, Secret>> {
            let Some(raw) = optional(name) else {
                return Ok(BTreeMap::new());
            };
            let map: BTreeMap<String, String> = serde_json::from_str(&raw)
                .with_context(|| format!("{name} must be a JSON object of merchant id -> token"))?;
            map.into_iter()
                .map(|(merchant, token)| {
                    if !sellers.contains_key(&merchant) || token.trim().is_empty() {
                        bail!("{name} has a token for {merchant:?}, which AMAZON_SELLERS does not connect to a seller account");
                    }
                    Ok((merchant, Secret::new(token.trim())))
                })
                .collect()
        };
        let amazon_access_tokens = merchant_secrets("AMAZON_ACCESS_TOKENS")?;
        let refresh_tokens = merchant_secrets("AMAZON_REFRESH_TOKENS")?;
        let access_tokens: BTreeMap<String, Secret> =
            shop_map("SHOPIFY_ACCESS_TOKENS", optional("SHOPIFY_ACCESS_TOKENS"))?
                .into_iter()
                .map(|(shop, token)| (shop, Secret::new(token)))
                .collect();
        if let Some(stray) = access_tokens.keys().find(|shop| !shops.contains_key(*shop)) {
            bail!("SHOPIFY_ACCESS_TOKENS has a token for {stray}, which SHOPIFY_SHOPS does not map to a merchant");
        }
        let notify_customer = match optional("SHOPIFY_NOTIFY_CUSTOMER")
            .as_deref()
            .map(str::trim)
        {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => bail!("SHOPIFY_NOTIFY_CUSTOMER must be true or false, got {other:?}"),
        };
        let shopify_base =
            optional("SHOPIFY_API_BASE").unwrap_or_else(|| shopify::DEFAULT_API_BASE.to_owned());
        if !shopify_base.starts_with("https://") && !shopify_base.starts_with("http://") {
            bail!("SHOPIFY_API_BASE must be an http(s) URL, got {shopify_base:?}");
        }
        let amazon_base =
            optional("AMAZON_SP_API_BASE").unwrap_or_else(|| amazon::DEFAULT_API_BASE.to_owned());
        if !amazon_base.starts_with("https://") && !amazon_base.starts_with("http://") {
            bail!("AMAZON_SP_API_BASE must be an http(s) URL, got {amazon_base:?}");
        }
        // A refresh token without the client that may use it is a half-done setup: fail
        // at cold start rather than on the first Amazon order.
        let amazon_lwa = if refresh_tokens.is_empty() {
            None
        } else {
            Some(LwaCredentials {
                token_url: optional("AMAZON_LWA_TOKEN_URL")
                    .unwrap_or_else(|| lwa::DEFAULT_TOKEN_URL.to_owned()),
                client_id: required("AMAZON_LWA_CLIENT_ID")?,
                client_secret: Secret::new(required("AMAZON_LWA_CLIENT_SECRET")?),
                refresh_tokens,
            })
        };
        Ok(Self {
            queue_url: required("STORE_SYNC_QUEUE_URL")?,
            dead_letter_url: required("STORE_SYNC_DLQ_URL")?,
            shopify: ShopifyConfig {
                api_base: shopify_base,
                shops,
                access_tokens,
                notify_customer,
            },
            amazon: AmazonConfig {
                api_base: amazon_base,
                sellers,
            },
            amazon_access_tokens,
            amazon_lwa,
        })
    }
}

/// A JSON object keyed by shop domain (`{"acme.myshopify.com": "..."}`); domains are
/// compared in lower case, as Shopify sends them.
pub fn shop_map(name: &str, raw: Option<String>) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, String> = serde_json::from_str(&raw)
        .with_context(|| format!("{name} must be a JSON object of shop domain -> value"))?;
    map.into_iter()
        .map(|(shop, value)| {
            let shop = shop.trim().to_ascii_lowercase();
            let valid = !shop.is_empty()
                && shop
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid || value.trim().is_empty() {
                bail!("{name}: {shop:?} is not a shop domain with a value");
            }
            Ok((shop, value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<SyncConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SyncConfig::from_lookup(|name| vars.get(name).cloned())
    }

    const QUEUES: [(&str, &str); 2] = [
        ("STORE_SYNC_QUEUE_URL", "http://q"),
        ("STORE_SYNC_DLQ_URL", "http://dlq"),
    ];

    #[test]
    fn missing_queue_is_named() {
        let err = config(&[]).unwrap_err();
        assert!(err.to_string().contains("STORE_SYNC_QUEUE_URL"), "{err}");
    }

    #[test]
    fn store_credentials_are_optional_and_defaults_point_at_the_real_apis() {
        let config = config(&QUEUES).unwrap();
        assert!(config.shopify.shops.is_empty());
        assert!(config.shopify.notify_customer);
        assert_eq!(config.shopify.api_base, shopify::DEFAULT_API_BASE);
        assert_eq!(config.amazon.api_base, amazon::DEFAULT_API_BASE);
        assert!(config.amazon_access_tokens.is_empty());
        assert!(config.amazon_lwa.is_none());
    }

    const SELLERS: (&str, &str) = (
        "AMAZON_SELLERS",
        r#"{"merchant-acme": {"seller_id": "A2ACME", "marketplace_id": "ATVPDKIKX0DER"}}"#,
    );

    #[test]
    fn a_refresh_token_needs_its_client() {
        let mut vars = QUEUES.to_vec();
        vars.push(SELLERS);
        vars.push((
            "AMAZON_REFRESH_TOKENS",
            r#"{"merchant-acme": "Atzr|seller"}"#,
        ));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("AMAZON_LWA_CLIENT_ID"), "{err}");
        vars.push(("AMAZON_LWA_CLIENT_ID", "amzn1.application-oa2-client.1"));
        vars.push(("AMAZON_LWA_CLIENT_SECRET", "secret"));
        let lwa = config(&vars).unwrap().amazon_lwa.unwrap();
        assert_eq!(lwa.token_url, lwa::DEFAULT_TOKEN_URL);
        assert!(lwa.refresh_tokens.contains_key("merchant-acme"));
        assert!(!format!("{lwa:?}").contains("Atzr|seller"));
    }

    #[test]
    fn amazon_credentials_belong_to_a_connected_seller() {
        let mut vars = QUEUES.to_vec();
        vars.push(SELLERS);
        vars.push(("AMAZON_ACCESS_TOKENS", r#"{"merchant-bolt": "Atza|bolt"}"#));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("merchant-bolt"), "{err}");
        let vars: Vec<_> = QUEUES
            .iter()
            .copied()
            .chain([
                SELLERS,
                ("AMAZON_ACCESS_TOKENS", r#"{"merchant-acme": "Atza|acme"}"#),
            ])
            .collect();
        let parsed = config(&vars).unwrap();
        assert_eq!(
            parsed.amazon.sellers["merchant-acme"].marketplace_id,
            "ATVPDKIKX0DER"
        );
        assert!(parsed.amazon_access_tokens.contains_key("merchant-acme"));
    }

    #[test]
    fn shop_maps_are_lower_cased_and_tokens_need_a_mapped_shop() {
        let mut vars = QUEUES.to_vec();
        vars.push((
            "SHOPIFY_SHOPS",
            r#"{"Acme.myshopify.com": "merchant-acme"}"#,
        ));
        vars.push((
            "SHOPIFY_ACCESS_TOKENS",
            r#"{"acme.myshopify.com": "shpat_1"}"#,
        ));
        let parsed = config(&vars).unwrap();
        assert_eq!(
            parsed
                .shopify
                .shops
                .get("acme.myshopify.com")
                .map(String::as_str),
            Some("merchant-acme")
        );
        vars.push((
            "SHOPIFY_ACCESS_TOKENS",
            r#"{"other.myshopify.com": "shpat_2"}"#,
        ));
        let vars: Vec<_> = vars
            .into_iter()
            .filter(|(k, v)| *k != "SHOPIFY_ACCESS_TOKENS" || v.contains("other"))
            .collect();
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("other.myshopify.com"), "{err}");
    }

    #[test]
    fn a_broken_shop_map_fails_fast_with_its_name() {
        let mut vars = QUEUES.to_vec();
        vars.push(("SHOPIFY_SHOPS", "acme.myshopify.com=merchant-acme"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("SHOPIFY_SHOPS"), "{err}");
    }
}
