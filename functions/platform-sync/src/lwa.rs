//! Login with Amazon: the SP-API access token, refreshed from the seller's refresh token.
//!
//! `POST https://api.amazon.com/auth/o2/token` with `grant_type=refresh_token`, the app's
//! client id and secret and the seller's refresh token returns an access token that lives
//! an hour (`expires_in`). It is cached per warm function and renewed a minute before it
//! runs out, so a busy function asks LWA about once an hour.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::amazon::AccessTokenProvider;
use crate::credentials::{self, StoreCredentialSecrets, StoreCredentials};
use crate::push::{successful_body, transport_error, PushError, Secret};

pub const DEFAULT_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";

/// Renew this long before the token's end, so a request never leaves with a dying token.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The SP-API application as Login with Amazon knows it. Its client secret and the
/// sellers' refresh tokens are in the store credentials secret.
#[derive(Debug, Clone)]
pub struct LwaClient {
    /// `AMAZON_LWA_TOKEN_URL`.
    pub token_url: String,
    /// `AMAZON_LWA_CLIENT_ID`: the SP-API application's LWA client id; `None` for a
    /// deployment that confirms no Amazon orders (or uses fixed access tokens only).
    pub client_id: Option<String>,
}

/// Each seller's access token: traded for the seller's refresh token with LWA, or a fixed
/// one from the credentials (`amazon_access_tokens`).
pub struct SellerTokens {
    http: reqwest::Client,
    lwa: LwaClient,
    credentials: Arc<StoreCredentialSecrets>,
    /// Per merchant: a token is only ever handed to jobs of the seller it was issued for.
    cached: tokio::sync::Mutex<BTreeMap<String, (Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// `application/x-www-form-urlencoded`, as LWA expects. The URL crate's query encoder is
/// exactly that encoding; reqwest's own form support is a feature this workspace leaves off.
fn form(pairs: &[(&str, &str)]) -> Result<String, PushError> {
    let url = reqwest::Url::parse_with_params("http://form.invalid/", pairs)
        .map_err(|e| PushError::rejected(format!("cannot encode the LWA request: {e}")))?;
    Ok(url.query().unwrap_or_default().to_owned())
}

impl SellerTokens {
    pub fn new(
        http: reqwest::Client,
        lwa: LwaClient,
        credentials: Arc<StoreCredentialSecrets>,
    ) -> Self {
        Self {
            http,
            lwa,
            credentials,
            cached: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    async fn refresh(
        &self,
        refresh_token: &Secret,
        credentials: &StoreCredentials,
    ) -> Result<(Secret, Instant), PushError> {
        // A refresh token without the application that may use it is a half-done setup;
        // no retry mends it, so the job is dead-lettered saying what is missing.
        let client_id = self.lwa.client_id.as_deref().ok_or_else(|| {
            PushError::rejected("AMAZON_LWA_CLIENT_ID is not set, so no refresh token can be used")
        })?;
        let client_secret = credentials.amazon_lwa_client_secret.as_ref().ok_or_else(|| {
            PushError::rejected(
                "the store credentials secret has no amazon_lwa_client_secret, so no refresh token can be used",
            )
        })?;
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
        ])?;
        let asked_at = Instant::now();
        let response = self
            .http
            .post(&self.lwa.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("Login with Amazon", e))?;
        // A revoked or wrong refresh token is a 400 `invalid_grant`: no retry mends it.
        let bytes = successful_body("Login with Amazon", response).await?;
        let token: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
            PushError::Retryable(
                anyhow::Error::new(e).context("Login with Amazon answered without a token"),
            )
        })?;
        Ok((
            Secret::new(token.access_token),
            asked_at + Duration::from_secs(token.expires_in),
        ))
    }
}

impl AccessTokenProvider for SellerTokens {
    async fn access_token(&self, merchant_id: &str) -> Result<Secret, PushError> {
        let credentials = credentials::current(&self.credentials).await?;
        let Some(refresh_token) = credentials.amazon_refresh_tokens.get(merchant_id) else {
            return credentials
                .amazon_access_tokens
                .get(merchant_id)
                .cloned()
                .ok_or_else(|| {
                    PushError::rejected(format!(
                        "no Amazon refresh token is configured for merchant {merchant_id} (amazon_refresh_tokens in the store credentials secret)"
                    ))
                });
        };
        // Held across the refresh, so concurrent jobs of a batch share one LWA call.
        let mut cached = self.cached.lock().await;
        if let Some((token, expires_at)) = cached.get(merchant_id) {
            if Instant::now() + RENEW_BEFORE < *expires_at {
                return Ok(token.clone());
            }
        }
        let (token, expires_at) = self.refresh(refresh_token, &credentials).await?;
        cached.insert(merchant_id.to_owned(), (token.clone(), expires_at));
        Ok(token)
    }

    async fn refused(&self, merchant_id: &str) {
        self.cached.lock().await.remove(merchant_id);
        self.credentials.forget().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_body_encodes_what_refresh_tokens_contain() {
        assert_eq!(
            form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "Atzr|IwEB+a/b=c&d")
            ])
            .unwrap(),
            "grant_type=refresh_token&refresh_token=Atzr%7CIwEB%2Ba%2Fb%3Dc%26d"
        );
    }
}
