//! The claim request, parsed at the edge: what the merchant may tell us (the claim type
//! and its evidence), and the identity that makes a retried request the same claim.
//!
//! Nothing here says whether the claim is eligible: that is decided from the stored
//! shipment and timeline alone. A body that also asserts a status or a delivery date is
//! not refused, but those fields are never read.

use serde::Deserialize;
use tracking_domain::claims::{parse_amount, parse_currency, ClaimEvidence, ClaimMove, ClaimType};
use tracking_domain::order::FieldError;
use tracking_domain::shipment::{parse_shipment_id, OPTIONAL_SHIPMENT_ID_PATTERN};
use tracking_domain::timeline::short_hash;

pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_CARRIER_REFERENCE_CHARS: usize = 100;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The body as clients send it; every field optional so a missing one becomes a precise
/// validation message rather than a serde error.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[schemars(
    description = "A claim for one package of the order. Eligibility is decided from the stored package and its timeline; fields asserting a status or a date are not read."
)]
pub struct ClaimRequest {
    #[serde(rename = "type")]
    #[schemars(required, with = "ClaimType")]
    pub claim_type: Option<String>,
    /// What happened to the parcel, in the merchant's words.
    #[schemars(required, length(min = 1, max = MAX_DESCRIPTION_CHARS))]
    pub description: Option<String>,
    /// The carrier's own reference, if the merchant has one.
    #[schemars(length(max = MAX_CARRIER_REFERENCE_CHARS))]
    pub carrier_reference: Option<String>,
    /// The package claimed for; may be left out when the order has one.
    #[schemars(regex(pattern = OPTIONAL_SHIPMENT_ID_PATTERN))]
    pub shipment_id: Option<String>,
}

/// A claim request that passed every check, normalized (trimmed, blank reference absent)
/// so that two sends of the same claim compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub claim_type: ClaimType,
    pub description: String,
    pub carrier_reference: Option<String>,
    pub shipment_id: Option<String>,
}

impl ClaimRequest {
    /// All problems at once, so a merchant fixes the form in one go.
    pub fn parse(self) -> Result<Submission, Vec<FieldError>> {
        let mut errors = Vec::new();
        let claim_type = match self.claim_type.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new(
                    "type",
                    "is required (lost_in_transit, damaged or misdelivery)",
                ));
                None
            }
            Some(raw) => ClaimType::parse(raw).or_else(|| {
                errors.push(FieldError::new(
                    "type",
                    "must be lost_in_transit, damaged or misdelivery",
                ));
                None
            }),
        };
        let description = self
            .description
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if description.is_empty() {
            errors.push(FieldError::new(
                "description",
                "is required: say what happened to the parcel",
            ));
        } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            ));
        } else if description
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            errors.push(FieldError::new(
                "description",
                "contains control characters",
            ));
        }
        let carrier_reference = self
            .carrier_reference
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        if let Some(reference) = &carrier_reference {
            if reference.chars().count() > MAX_CARRIER_REFERENCE_CHARS
                || reference.chars().any(char::is_control)
            {
                errors.push(FieldError::new(
                    "carrier_reference",
                    format!(
                        "must be at most {MAX_CARRIER_REFERENCE_CHARS} printable characters on one line"
                    ),
                ));
            }
        }
        let shipment_id = parse_shipment_id(self.shipment_id.as_deref())
            .map_err(|e| errors.push(FieldError::new("shipment_id", e)))
            .ok()
            .flatten();
        match claim_type {
            Some(claim_type) if errors.is_empty() => Ok(Submission {
                claim_type,
                description,
                carrier_reference,
                shipment_id,
            }),
            _ => Err(errors),
        }
    }
}

impl Submission {
    /// Identity of the claim's content. Parsing refuses NUL in every field, so joining
    /// on it is unambiguous; a named package is part of it (claims filed before packages
    /// named none, and keep the fingerprint they had).
    pub fn fingerprint(&self) -> String {
        let package = self
            .shipment_id
            .as_deref()
            .map(|id| format!("\u{0}{id}"))
            .unwrap_or_default();
        short_hash(&format!(
            "{}\u{0}{}\u{0}{}{package}",
            self.claim_type.as_str(),
            self.description,
            self.carrier_reference.as_deref().unwrap_or_default()
        ))
    }

    pub fn evidence(&self) -> ClaimEvidence {
        ClaimEvidence {
            carrier_reference: self.carrier_reference.clone(),
        }
    }
}

/// The client's name for one request (`Idempotency-Key` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Visible ASCII only, as header values should be; an empty header is no key.
    pub fn parse(raw: &[u8]) -> Result<Option<Self>, String> {
        let text = std::str::from_utf8(raw)
            .ok()
            .map(str::trim)
            .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                "The Idempotency-Key header must be visible ASCII characters without spaces."
                    .to_owned()
            })?;
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(format!(
                "The Idempotency-Key header is longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters."
            ));
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The claim id, derived so that a retried request lands on the claim it already made
/// and a conditional put is the whole idempotency mechanism.
///
/// With an idempotency key the key alone (per merchant and order) names the claim, not
/// the key plus the claim type: the key stands for one request, so the same key with a
/// changed type must meet the first claim and be refused as a reused key, not quietly
/// file a second claim. Without a key, the normalized body names it.
pub fn claim_id(
    merchant_id: &str,
    order_id: &str,
    submission: &Submission,
    key: Option<&IdempotencyKey>,
) -> String {
    let identity = match key {
        Some(key) => format!(
            "claim-key\u{0}{merchant_id}\u{0}{order_id}\u{0}{}",
            key.as_str()
        ),
        None => format!(
            "claim-body\u{0}{merchant_id}\u{0}{order_id}\u{0}{}",
            submission.fingerprint()
        ),
    };
    format!("clm_{}", &short_hash(&identity)[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(claim_type: &str, description: &str, reference: Option<&str>) -> ClaimRequest {
        ClaimRequest {
            claim_type: Some(claim_type.into()),
            description: Some(description.into()),
            carrier_reference: reference.map(str::to_owned),
            shipment_id: None,
        }
    }

    #[test]
    fn contract_example_claim_parses() {
        let body: ClaimRequest = serde_json::from_value(serde_json::json!({
            "type": "lost_in_transit", "description": "No scan for three weeks.", "carrier_reference": null
        }))
        .unwrap();
        let submission = body.parse().unwrap();
        assert_eq!(submission.claim_type, ClaimType::LostInTransit);
        assert_eq!(submission.carrier_reference, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = ClaimRequest::default().parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["type", "description"]);
        let errors = request(
            "stolen",
            &"x".repeat(MAX_DESCRIPTION_CHARS + 1),
            Some(&"R".repeat(MAX_CARRIER_REFERENCE_CHARS + 1)),
        )
        .parse()
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["type", "description", "carrier_reference"]);
    }

    #[test]
    fn description_may_span_lines_but_reference_may_not() {
        assert!(request("damaged", "Box crushed.\nPhotos sent.", None)
            .parse()
            .is_ok());
        assert!(request("damaged", "Box\u{0}crushed", None).parse().is_err());
        assert!(request("misdelivery", "Wrong house", Some("UPS\n123"))
            .parse()
            .is_err());
        assert!(request(
            "damaged",
            &"é".repeat(MAX_DESCRIPTION_CHARS),
            Some(&"R".repeat(MAX_CARRIER_REFERENCE_CHARS))
        )
        .parse()
        .is_ok());
    }

    #[test]
    fn blank_carrier_reference_is_no_reference() {
        let submission = request("misdelivery", "Wrong house", Some("   "))
            .parse()
            .unwrap();
        assert_eq!(submission.carrier_reference, None);
    }

    #[test]
    fn same_claim_sent_twice_gets_the_same_id_and_another_claim_another_id() {
        let a = request("damaged", " Box crushed. ", None).parse().unwrap();
        let b = request("damaged", "Box crushed.", Some(" "))
            .parse()
            .unwrap();
        let c = request("damaged", "Box wet.", None).parse().unwrap();
        assert_eq!(claim_id("m", "o", &a, None), claim_id("m", "o", &b, None));
        assert_ne!(claim_id("m", "o", &a, None), claim_id("m", "o", &c, None));
        assert_ne!(claim_id("m", "o", &a, None), claim_id("m2", "o", &a, None));
        assert!(claim_id("m", "o", &a, None).starts_with("clm_"));
    }

    #[test]
    fn an_idempotency_key_names_the_claim_whatever_the_body() {
        let key = IdempotencyKey::parse(b"retry-7f3a").unwrap().unwrap();
        let a = request("damaged", "Box crushed.", None).parse().unwrap();
        let b = request("misdelivery", "Wrong house", Some("REF"))
            .parse()
            .unwrap();
        assert_eq!(
            claim_id("m", "o", &a, Some(&key)),
            claim_id("m", "o", &b, Some(&key))
        );
        assert_ne!(
            claim_id("m", "o", &a, Some(&key)),
            claim_id("m", "o", &a, None)
        );
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_and_bounded() {
        assert_eq!(IdempotencyKey::parse(b"  ").unwrap(), None);
        assert!(IdempotencyKey::parse(b"a b").is_err());
        assert!(IdempotencyKey::parse("clé".as_bytes()).is_err());
        assert!(IdempotencyKey::parse("k".repeat(256).as_bytes()).is_err());
        assert!(IdempotencyKey::parse("k".repeat(255).as_bytes()).is_ok());
    }
}

/// A move of a claim, as operations send it.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct TransitionRequest {
    /// `filed` moves to `submitted`; `submitted` to `approved` or `denied`.
    #[schemars(required, schema_with = "claim_target_schema")]
    pub to: Option<String>,
    /// Required to move to `submitted`: the carrier's case number (at most 100 characters).
    pub carrier_case_reference: Option<String>,
    /// Required to move to `approved`: what the carrier pays, a positive decimal with at
    /// most two places, as text ("42.50").
    pub amount: Option<String>,
    /// Required to move to `approved`: ISO 4217 ("USD").
    pub currency: Option<String>,
    /// Required to move to `denied`: why the carrier refused (at most 2000 characters).
    pub reason: Option<String>,
}

fn claim_target_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": ["submitted", "approved", "denied"]})
}

impl TransitionRequest {
    /// Each target state with exactly what it needs: a case reference to submit, an
    /// amount and currency to approve, a reason to deny.
    pub fn parse(self) -> Result<ClaimMove, Vec<FieldError>> {
        let mut errors = Vec::new();
        let text =
            |errors: &mut Vec<FieldError>, field: &str, value: Option<&str>, limit: usize| {
                match value.map(str::trim).filter(|v| !v.is_empty()) {
                    None => {
                        errors.push(FieldError::new(field, "is required for this step"));
                        None
                    }
                    Some(v) if v.chars().count() > limit || v.chars().any(char::is_control) => {
                        errors.push(FieldError::new(
                            field,
                            format!("must be at most {limit} printable characters on one line"),
                        ));
                        None
                    }
                    Some(v) => Some(v.to_owned()),
                }
            };
        let step = match self.to.as_deref().map(str::trim) {
            Some("submitted") => text(
                &mut errors,
                "carrier_case_reference",
                self.carrier_case_reference.as_deref(),
                MAX_CARRIER_REFERENCE_CHARS,
            )
            .map(|carrier_case_reference| ClaimMove::Submit {
                carrier_case_reference,
            }),
            Some("approved") => {
                let amount = self.amount.as_deref().and_then(parse_amount);
                if amount.is_none() {
                    errors.push(FieldError::new(
                        "amount",
                        "is required: a positive amount with at most two decimals, as text (\"42.50\")",
                    ));
                }
                let currency = self.currency.as_deref().and_then(parse_currency);
                if currency.is_none() {
                    errors.push(FieldError::new(
                        "currency",
                        "is required: a three-letter ISO 4217 code (USD)",
                    ));
                }
                amount
                    .zip(currency)
                    .map(|(amount, currency)| ClaimMove::Approve { amount, currency })
            }
            Some("denied") => text(
                &mut errors,
                "reason",
                self.reason.as_deref(),
                MAX_DESCRIPTION_CHARS,
            )
            .map(|reason| ClaimMove::Deny { reason }),
            _ => {
                errors.push(FieldError::new(
                    "to",
                    "must be submitted, approved or denied",
                ));
                None
            }
        };
        match step {
            Some(step) if errors.is_empty() => Ok(step),
            _ => Err(errors),
        }
    }
}
