//! Configuration, read once at cold start. template.yaml sets every variable.

use anyhow::{bail, Context};

use std::sync::Arc;

use tracking_aws::secrets::SecretSource;

use crate::amazon::{self, AmazonConfig};
use crate::credentials::{self, StoreCredentialSecrets, StoreCredentials};
use crate::lwa::{self, LwaClient};
use crate::shopify::{self, ShopifyConfig};

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// `STORE_SYNC_QUEUE_URL`: where the stream handler puts sync jobs.
    pub queue_url: String,
    /// `STORE_SYNC_DLQ_URL`: where a job the store refused goes at once, with its reason.
    pub dead_letter_url: String,
    pub shopify: ShopifyConfig,
    pub amazon: AmazonConfig,
    pub lwa: LwaClient,
    /// `STORE_CREDENTIALS_SECRET_ARN`: the secret with every store credential (see
    /// `crate::credentials`), read on the first push. `None`: no store credentials at all,
    /// so every push is refused with the reason.
    pub credentials_secret_arn: Option<String>,
}

impl SyncConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Queue URLs are required; store connections are not (a deployment may serve only
    /// Shopify merchants): a job for an unconfigured store is dead-lettered with the reason.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let optional = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| {
            optional(name).with_context(|| format!("environment variable {name} is not set"))
        };
        let shops = tracking_aws::config::shop_map(optional("SHOPIFY_SHOPS").as_deref())?;
        let sellers = tracking_aws::config::amazon_sellers(optional("AMAZON_SELLERS").as_deref())?;
        let notify_customer = match optional("SHOPIFY_NOTIFY_CUSTOMER")
            .as_deref()
            .map(str::trim)
        {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => bail!("SHOPIFY_NOTIFY_CUSTOMER must be true or false, got {other:?}"),
        };
        let http_url = |name: &str, default: &str| -> anyhow::Result<String> {
            let url = optional(name).unwrap_or_else(|| default.to_owned());
            if !url.starts_with("https://") && !url.starts_with("http://") {
                bail!("{name} must be an http(s) URL, got {url:?}");
            }
            Ok(url)
        };
        Ok(Self {
            queue_url: required("STORE_SYNC_QUEUE_URL")?,
            dead_letter_url: required("STORE_SYNC_DLQ_URL")?,
            shopify: ShopifyConfig {
                api_base: http_url("SHOPIFY_API_BASE", shopify::DEFAULT_API_BASE)?,
                shops,
                notify_customer,
            },
            amazon: AmazonConfig {
                api_base: http_url("AMAZON_SP_API_BASE", amazon::DEFAULT_API_BASE)?,
                sellers,
            },
            lwa: LwaClient {
                token_url: http_url("AMAZON_LWA_TOKEN_URL", lwa::DEFAULT_TOKEN_URL)?,
                client_id: optional("AMAZON_LWA_CLIENT_ID").map(|id| id.trim().to_owned()),
            },
            credentials_secret_arn: optional("STORE_CREDENTIALS_SECRET_ARN")
                .map(|arn| arn.trim().to_owned()),
        })
    }

    /// The store credentials this configuration names, read from `source` on first use.
    pub fn credentials(&self, source: Arc<dyn SecretSource>) -> Arc<StoreCredentialSecrets> {
        match &self.credentials_secret_arn {
            Some(arn) => Arc::new(credentials::store_credentials(source, arn)),
            None => StoreCredentials::default().fixed(),
        }
    }
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
    fn store_connections_are_optional_and_defaults_point_at_the_real_apis() {
        let config = config(&QUEUES).unwrap();
        assert!(config.shopify.shops.is_empty());
        assert!(config.shopify.notify_customer);
        assert_eq!(config.shopify.api_base, shopify::DEFAULT_API_BASE);
        assert_eq!(config.amazon.api_base, amazon::DEFAULT_API_BASE);
        assert_eq!(config.lwa.token_url, lwa::DEFAULT_TOKEN_URL);
        assert!(config.lwa.client_id.is_none());
        assert!(config.credentials_secret_arn.is_none());
    }

    #[test]
    fn no_credential_is_in_the_environment() {
        let mut vars = QUEUES.to_vec();
        vars.push(("STORE_CREDENTIALS_SECRET_ARN", " arn:aws:secretsmanager:x "));
        vars.push(("AMAZON_LWA_CLIENT_ID", "amzn1.application-oa2-client.1"));
        let parsed = config(&vars).unwrap();
        assert_eq!(
            parsed.credentials_secret_arn.as_deref(),
            Some("arn:aws:secretsmanager:x")
        );
        assert_eq!(
            parsed.lwa.client_id.as_deref(),
            Some("amzn1.application-oa2-client.1")
        );
    }

    #[test]
    fn shop_maps_are_lower_cased() {
        let mut vars = QUEUES.to_vec();
        vars.push((
            "SHOPIFY_SHOPS",
            r#"{"Acme.myshopify.com": "merchant-acme"}"#,
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
    }

    #[test]
    fn store_urls_must_be_http() {
        let mut vars = QUEUES.to_vec();
        vars.push(("AMAZON_LWA_TOKEN_URL", "api.amazon.com/auth/o2/token"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("AMAZON_LWA_TOKEN_URL"), "{err}");
    }

    #[test]
    fn a_broken_shop_map_fails_fast_with_its_name() {
        let mut vars = QUEUES.to_vec();
        vars.push(("SHOPIFY_SHOPS", "acme.myshopify.com=merchant-acme"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("SHOPIFY_SHOPS"), "{err}");
    }
}
