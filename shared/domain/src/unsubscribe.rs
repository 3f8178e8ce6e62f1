//! Unsubscribe links: signed, self-contained tokens.
//!
//! Pure: the key comes from wherever the caller keeps it (`tracking_aws::secrets`
//! reads it from Secrets Manager). The notifier puts a token in every email; `orders-api` serves `GET /unsubscribe?token=`
//! without a login (the recipient has none) and trusts the token because only holders of
//! the unsubscribe key (the secret `UNSUBSCRIBE_KEY_SECRET_ARN` names) can sign one. A token names the merchant, the order, the mailbox
//! and the subscriptions that caused that email, so following it removes exactly those.
//!
//! Shape: `base64url(payload JSON) "." base64url(HMAC-SHA256(purpose || payload part))`.
//! Tokens do not expire: an unsubscribe link has to keep working in an old email. When
//! the key is rotated, links signed with the key before are still accepted (Secrets
//! Manager's previous version) until the next rotation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::email::EmailAddress;
use crate::subscriptions::SubscriptionScope;

/// Binds a MAC to this use, so the same secret can never sign something that passes here
/// by accident (or the other way round).
const PURPOSE: &[u8] = b"tracking-unsubscribe-v1\n";

/// Far above any real token (a few hundred bytes); refuses junk before decoding it.
pub const MAX_TOKEN_LEN: usize = 2048;

/// A secret shorter than this is a configuration mistake, not a key.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the unsubscribe link is incomplete or garbled")]
    Malformed,
    #[error("the unsubscribe link was not issued by us")]
    BadSignature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the unsubscribe key must be at least {MIN_SECRET_LEN} bytes")]
pub struct WeakSecret;

/// What one unsubscribe link removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    #[serde(rename = "m")]
    pub merchant_id: String,
    #[serde(rename = "o")]
    pub order_id: String,
    #[serde(rename = "e")]
    pub email: EmailAddress,
    /// The subscriptions that made this mailbox a recipient: the order's own, the
    /// merchant-wide one, or both.
    #[serde(rename = "s")]
    pub scopes: Vec<SubscriptionScope>,
}

/// The HMAC, keyed once at cold start. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct UnsubscribeKey(Hmac<Sha256>);

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnsubscribeKey(<redacted>)")
    }
}

impl UnsubscribeKey {
    pub fn new(secret: &str) -> Result<Self, WeakSecret> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return Err(WeakSecret);
        }
        // HMAC takes keys of any length; the error only exists for fixed-size MACs.
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).map_err(|_| WeakSecret)?;
        Ok(Self(mac))
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(PURPOSE);
        mac.update(payload.as_bytes());
        mac
    }

    pub fn sign(&self, unsubscribe: &Unsubscribe) -> String {
        // Serializing plain strings and enums cannot fail; an empty payload would only
        // produce a token that verifies to nothing useful and is refused.
        let json = serde_json::to_vec(unsubscribe).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// Checks the signature in constant time before looking at the payload.
    pub fn verify(&self, token: &str) -> Result<Unsubscribe, TokenError> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let unsubscribe: Unsubscribe =
            serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if unsubscribe.scopes.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(unsubscribe)
    }
}

/// Verifies with each key in turn: the current one, then, during a rotation, the one before.
pub fn verify_with_any<'a>(
    keys: impl IntoIterator<Item = &'a UnsubscribeKey>,
    token: &str,
) -> Result<Unsubscribe, TokenError> {
    for key in keys {
        match key.verify(token) {
            Err(TokenError::BadSignature) => continue,
            decided => return decided,
        }
    }
    Err(TokenError::BadSignature)
}

/// `{base}/unsubscribe?token=...`. Tokens are base64url and '.', safe in a query as is.
pub fn unsubscribe_url(public_base_url: &str, token: &str) -> String {
    format!(
        "{}/unsubscribe?token={token}",
        public_base_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> UnsubscribeKey {
        UnsubscribeKey::new("a-local-test-secret-of-some-length").unwrap()
    }

    fn request() -> Unsubscribe {
        Unsubscribe {
            merchant_id: "merchant-acme".into(),
            order_id: "ord_1".into(),
            email: EmailAddress::parse("ops@merchant.example").unwrap(),
            scopes: vec![SubscriptionScope::Order, SubscriptionScope::Merchant],
        }
    }

    #[test]
    fn a_signed_token_verifies_to_what_was_signed() {
        let token = key().sign(&request());
        assert_eq!(key().verify(&token), Ok(request()));
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let other = UnsubscribeKey::new("another-secret-entirely-different").unwrap();
        let token = other.sign(&request());
        assert_eq!(key().verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn during_a_rotation_links_of_the_previous_key_still_verify() {
        let old = key();
        let new = UnsubscribeKey::new("the-rotated-unsubscribe-key-of-some-length").unwrap();
        let stranger = UnsubscribeKey::new("a-key-nobody-here-has-ever-held-x").unwrap();
        for signer in [&new, &old] {
            let token = signer.sign(&request());
            assert_eq!(verify_with_any([&new, &old], &token), Ok(request()));
        }
        assert_eq!(
            verify_with_any([&new, &old], &stranger.sign(&request())),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify_with_any([&new, &old], "junk"),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify_with_any([&new], &old.sign(&request())),
            Err(TokenError::BadSignature),
            "after the next rotation the old key is gone"
        );
    }

    #[test]
    fn a_changed_payload_is_refused() {
        let token = key().sign(&request());
        let (_, signature) = token.split_once('.').unwrap();
        let mut forged = request();
        forged.merchant_id = "merchant-evil".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            key().verify(&format!("{payload}.{signature}")),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for token in ["", "abc", "abc.%%%", &"a".repeat(5000), "e30.e30"] {
            assert!(key().verify(token).is_err(), "{token}");
        }
        assert_eq!(key().verify("no-dot-here"), Err(TokenError::Malformed));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(UnsubscribeKey::new("short").unwrap_err(), WeakSecret);
        assert!(!format!("{:?}", key()).contains("secret"));
    }

    #[test]
    fn url_joins_base_and_token() {
        assert_eq!(
            unsubscribe_url("https://api.example.com/", "a.b"),
            "https://api.example.com/unsubscribe?token=a.b"
        );
    }

    #[test]
    fn tokens_are_judged_by_their_signature_up_to_the_length_limit_and_refused_past_it() {
        let signature = "A".repeat(43);
        let token = |len: usize| format!("{}.{signature}", "p".repeat(len - signature.len() - 1));
        assert_eq!(
            key().verify(&token(MAX_TOKEN_LEN)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            key().verify(&token(MAX_TOKEN_LEN + 1)),
            Err(TokenError::Malformed)
        );
        assert_eq!(key().verify("  "), Err(TokenError::Malformed));
    }

    #[test]
    fn a_key_never_prints_its_secret() {
        let shown = format!("{:?}", key());
        assert_eq!(shown, "UnsubscribeKey(<redacted>)");
    }
}
