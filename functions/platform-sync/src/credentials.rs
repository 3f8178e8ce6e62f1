//! Store credentials: the Shopify Admin API token of each shop, the SP-API application's
//! Login with Amazon client secret, and each seller's refresh token, all in one secret
//! (`STORE_CREDENTIALS_SECRET_ARN`) that only this function may read.
//!
//! The secret's text is a JSON object; every field may be left out:
//!
//! ```json
//! {
//!   "shopify_access_tokens": {"acme.myshopify.com": "shpat_..."},
//!   "amazon_lwa_client_secret": "amzn1.oa2-cs.v1....",
//!   "amazon_refresh_tokens": {"merchant-acme": "Atzr|..."},
//!   "amazon_access_tokens": {"merchant-acme": "Atza|..."}
//! }
//! ```
//!
//! `amazon_access_tokens` are fixed LWA access tokens (they live an hour: tests and short
//! local runs); a merchant with a refresh token gets fresh ones from LWA instead.
//!
//! Which merchant a token may serve is decided by the connections (`SHOPIFY_SHOPS`,
//! `AMAZON_SELLERS`), never by this secret: a token for a shop or merchant that is not
//! connected is simply never used, so an operator may add a store's token before or
//! after its connection without breaking anyone else's pushes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use tracking_aws::secrets::{CachedSecret, SecretSource};

use crate::push::{PushError, Secret};

#[derive(Debug, Default)]
pub struct StoreCredentials {
    /// Shop domain (lower case) -> Admin API access token of the app install.
    pub shopify_access_tokens: BTreeMap<String, Secret>,
    pub amazon_lwa_client_secret: Option<Secret>,
    /// Merchant id -> that seller's authorization of the SP-API application.
    pub amazon_refresh_tokens: BTreeMap<String, Secret>,
    /// Merchant id -> a fixed access token.
    pub amazon_access_tokens: BTreeMap<String, Secret>,
}

pub type StoreCredentialSecrets = CachedSecret<StoreCredentials>;

impl StoreCredentials {
    /// Credentials that are never read from Secrets Manager: handler tests, in-process runs.
    pub fn fixed(self) -> Arc<StoreCredentialSecrets> {
        Arc::new(CachedSecret::fixed(self))
    }
}

/// The secret the template names, read on the first push.
pub fn store_credentials(source: Arc<dyn SecretSource>, secret_id: &str) -> StoreCredentialSecrets {
    CachedSecret::new(source, secret_id, decode_store_credentials)
}

/// The credentials the function holds right now; a secret that cannot be read is a
/// fault to retry, not a reason to drop the job.
pub async fn current(secrets: &StoreCredentialSecrets) -> Result<Arc<StoreCredentials>, PushError> {
    secrets
        .current()
        .await
        .map_err(|e| PushError::Retryable(anyhow::Error::new(e)))
}

pub fn decode_store_credentials(raw: &str) -> Result<StoreCredentials, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        #[serde(default)]
        shopify_access_tokens: BTreeMap<String, String>,
        #[serde(default)]
        amazon_lwa_client_secret: Option<String>,
        #[serde(default)]
        amazon_refresh_tokens: BTreeMap<String, String>,
        #[serde(default)]
        amazon_access_tokens: BTreeMap<String, String>,
    }
    // serde's message names the field and position, never the value.
    let text: Text = serde_json::from_str(raw).map_err(|e| {
        format!("expected a JSON object of store credentials (see platform_sync::credentials): {e}")
    })?;
    let tokens = |field: &str, map: BTreeMap<String, String>, lower_keys: bool| {
        map.into_iter()
            .map(|(key, token)| {
                let key = key.trim();
                let key = if lower_keys {
                    key.to_ascii_lowercase()
                } else {
                    key.to_owned()
                };
                if key.is_empty() || token.trim().is_empty() {
                    return Err(format!("{field} has an empty key or token"));
                }
                Ok((key, Secret::new(token.trim())))
            })
            .collect::<Result<BTreeMap<_, _>, String>>()
    };
    Ok(StoreCredentials {
        // Shopify sends shop domains in lower case, and SHOPIFY_SHOPS is lower-cased too.
        shopify_access_tokens: tokens("shopify_access_tokens", text.shopify_access_tokens, true)?,
        amazon_lwa_client_secret: text
            .amazon_lwa_client_secret
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        amazon_refresh_tokens: tokens("amazon_refresh_tokens", text.amazon_refresh_tokens, false)?,
        amazon_access_tokens: tokens("amazon_access_tokens", text.amazon_access_tokens, false)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_optional() {
        let empty = decode_store_credentials("{}").unwrap();
        assert!(empty.shopify_access_tokens.is_empty());
        assert!(empty.amazon_lwa_client_secret.is_none());
        let blank = decode_store_credentials(r#"{"amazon_lwa_client_secret": " "}"#).unwrap();
        assert!(blank.amazon_lwa_client_secret.is_none());
    }

    #[test]
    fn shops_are_lower_cased_and_tokens_never_printed() {
        let parsed = decode_store_credentials(
            r#"{"shopify_access_tokens": {"Acme.myshopify.com": "shpat_1"},
                "amazon_refresh_tokens": {"merchant-acme": "Atzr|seller"}}"#,
        )
        .unwrap();
        assert_eq!(
            parsed.shopify_access_tokens["acme.myshopify.com"].expose(),
            "shpat_1"
        );
        let printed = format!("{parsed:?}");
        assert!(
            !printed.contains("shpat_1") && !printed.contains("Atzr"),
            "{printed}"
        );
    }

    #[test]
    fn a_broken_secret_says_what_is_wrong_without_echoing_it() {
        for (raw, says) in [
            (r#"{"shopify_tokens": {}}"#, "unknown field"),
            (
                r#"{"amazon_refresh_tokens": {"merchant-acme": ""}}"#,
                "empty key or token",
            ),
            ("shpat_leaked", "JSON object"),
        ] {
            let error = decode_store_credentials(raw).unwrap_err();
            assert!(error.contains(says), "{raw}: {error}");
            assert!(!error.contains("shpat_leaked"), "{error}");
        }
    }
}
