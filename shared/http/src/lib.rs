//! The HTTP edge shared by the API functions: who is calling, what they sent, and
//! how failures are answered.

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracking_aws::store::StoreError;

#[cfg(feature = "testing")]
pub mod testing;
pub mod views;

/// API Gateway's payload limit is 10 MB, but nothing we accept as JSON is near 64 KiB;
/// refusing early keeps a hostile body from costing memory and parse time.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Merchant,
    Operations,
}

/// The caller, as the API Gateway JWT authorizer vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub merchant_id: String,
    pub role: Role,
}

/// An expected failure, answered with a status, a stable code and a sentence.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Sign in to use this API.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// The same answer for "missing" and "another merchant's": existence is not leaked.
    #[error("No order with this id.")]
    OrderNotFound,
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("The request body is larger than {MAX_JSON_BODY_BYTES} bytes.")]
    PayloadTooLarge,
    #[error("{message}")]
    Validation {
        message: String,
        details: serde_json::Value,
    },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    #[error("No route for {0}.")]
    RouteNotFound(String),
    /// Something the operator has to mend (a secret not set up or unreadable): the
    /// request was fine and may be sent again later. The cause goes to the log only.
    #[error("This service is temporarily unavailable. Please try again in a few minutes.")]
    Unavailable {
        code: &'static str,
        cause: anyhow::Error,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::OrderNotFound => (StatusCode::NOT_FOUND, "order_not_found"),
            Self::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::RouteNotFound(_) => (StatusCode::NOT_FOUND, "route_not_found"),
            Self::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            Self::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// The one place errors become HTTP. A 500 says nothing internal; its whole cause
    /// chain goes to the log, tied to the request id by the request span.
    pub fn into_response(self) -> Response<Body> {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Unexpected(cause) => {
                tracing::error!(error = ?cause, "unexpected error");
                "Something went wrong on our side; it has been logged. Please try again.".to_owned()
            }
            Self::Unavailable { cause, .. } => {
                tracing::error!(error = ?cause, "unavailable");
                self.to_string()
            }
            other => other.to_string(),
        };
        let details = match &self {
            Self::Validation { details, .. } | Self::Unprocessable { details, .. } => {
                Some(details).filter(|d| !d.is_null())
            }
            _ => None,
        };
        error_response(
            status,
            ErrorBody {
                details,
                ..ErrorBody::new(code, &message)
            },
        )
    }
}

/// The body of every refusal, from every function: `{"error": {"code", "message", ...}}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorResponse<'a> {
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    /// Stable and machine-readable: branch on this, never on the message.
    #[schemars(schema_with = "error_code_schema")]
    pub code: &'a str,
    /// One sentence that says what is wrong, for the person using the API.
    pub message: &'a str,
    /// More about the refusal where the code has more to say: `[{field, message}]` for
    /// `validation_failed`, the limits for a file past them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a serde_json::Value>,
    /// On a refused claim: the type that was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_type: Option<tracking_domain::claims::ClaimType>,
    /// On a claim refused as too early: when its window opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<chrono::DateTime<chrono::Utc>>,
    /// On a claim that repeats an open one: that claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_claim_id: Option<&'a str>,
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: &'a str, message: &'a str) -> Self {
        Self {
            code,
            message,
            details: None,
            claim_type: None,
            opens_at: None,
            open_claim_id: None,
        }
    }
}

/// Every refusal goes out here, so none can carry a code the API document does not list.
pub fn error_response(status: StatusCode, body: ErrorBody<'_>) -> Response<Body> {
    debug_assert!(
        is_documented_error_code(body.code),
        "error code {:?} is not in ERROR_CODES (and so not in openapi.json)",
        body.code
    );
    json_response(status, &ErrorResponse { error: body })
}

pub fn is_documented_error_code(code: &str) -> bool {
    ERROR_CODES.iter().any(|(known, _)| *known == code)
}

/// Every `code` an error body can carry, with what it means: the API document's list.
pub const ERROR_CODES: &[(&str, &str)] = &[
    ("unauthenticated", "No valid identity token: sign in again."),
    (
        "forbidden",
        "The caller's role may not do this (or an unsubscribe link's signature is wrong).",
    ),
    (
        "order_not_found",
        "No order with this id that the caller may see.",
    ),
    (
        "shipment_not_found",
        "The order has no package with this Shipment ID.",
    ),
    ("claim_not_found", "The order has no claim with this id."),
    (
        "subscription_not_found",
        "That address is not subscribed here.",
    ),
    ("route_not_found", "No such route."),
    ("missing_body", "The request needs a JSON body."),
    (
        "malformed_json",
        "The body is not valid JSON of the expected shape.",
    ),
    (
        "missing_path_parameter",
        "A path parameter is empty or longer than 64 characters.",
    ),
    (
        "invalid_limit",
        "limit is not a whole number from 1 to 100.",
    ),
    (
        "invalid_cursor",
        "The cursor does not belong to this list; start again without it.",
    ),
    (
        "invalid_query",
        "The search term is longer than 64 characters.",
    ),
    ("invalid_status", "status is not Processing or Completed."),
    (
        "invalid_shipment_status",
        "shipment_status is not one of the listed statuses or flags.",
    ),
    ("invalid_state", "state is not one of the claim states."),
    (
        "invalid_idempotency_key",
        "The Idempotency-Key header is not 1 to 255 printable ASCII characters.",
    ),
    (
        "invalid_email",
        "The email address is not one we can send to.",
    ),
    ("missing_email", "The request needs an email address."),
    (
        "customer_email",
        "That is the order's customer: subscriptions are for the merchant's team.",
    ),
    (
        "invalid_unsubscribe_link",
        "The unsubscribe link is incomplete.",
    ),
    (
        "unreadable_file",
        "The import file is empty, not CSV or XLSX, or lacks a required column.",
    ),
    (
        "payload_too_large",
        "The body is larger than this route accepts.",
    ),
    (
        "validation_failed",
        "Fields need attention; details lists each with a sentence.",
    ),
    (
        "too_many_rows",
        "The import file has more rows than one import takes.",
    ),
    (
        "too_many_columns",
        "The import file has more columns than one import takes.",
    ),
    (
        "workbook_too_large",
        "The spreadsheet unpacks to more than one import takes.",
    ),
    (
        "store_not_connected",
        "Store orders need the merchant's store connected to this deployment.",
    ),
    (
        "subscription_limit_reached",
        "The order or account has as many subscribers as it may.",
    ),
    (
        "order_number_taken",
        "The order number is in use by an order with other details.",
    ),
    (
        "store_order_taken",
        "The store order is in use by an order with other details.",
    ),
    (
        "tracking_number_in_use",
        "Another order's package has this tracking number.",
    ),
    (
        "label_on_another_shipment",
        "This label is already on another package of the order.",
    ),
    (
        "shipment_already_scanned",
        "The carrier has scanned the package: its label can no longer change.",
    ),
    ("shipment_voided", "The package's label was voided."),
    (
        "idempotency_key_reused",
        "The Idempotency-Key was used for a different claim.",
    ),
    (
        "claim_transition_out_of_order",
        "The claim cannot move to that state from where it is.",
    ),
    (
        "claim_transition_conflict",
        "The claim already went another way at that step.",
    ),
    (
        "prepaid_label",
        "Claims for merchant-supplied labels go to the carrier directly.",
    ),
    (
        "not_shipped",
        "The carrier has not scanned the package yet.",
    ),
    ("returned_to_sender", "The package went back to the sender."),
    (
        "window_not_open",
        "The claim window has not opened yet (opens_at says when).",
    ),
    ("window_closed", "The claim window has closed."),
    (
        "delivered_no_misdelivery",
        "A delivered package is claimed as misdelivered only after a report.",
    ),
    ("not_delivered", "Damage claims need the package delivered."),
    (
        "misdelivery_not_confirmed",
        "A misdelivery claim needs the delivery confirmed first.",
    ),
    (
        "duplicate_claim",
        "An open claim of this type exists for the package (open_claim_id).",
    ),
    (
        "busy",
        "The order is being changed by another request: send the same request again.",
    ),
    (
        "invalid_signature",
        "The webhook's signature is missing or does not match.",
    ),
    ("missing_shop", "The webhook names no shop."),
    (
        "unknown_shop",
        "The webhook's shop is not connected to a merchant.",
    ),
    (
        "unsupported_topic",
        "The webhook's topic is not one this route takes.",
    ),
    (
        "invalid_webhook_id",
        "The webhook id header is missing or malformed.",
    ),
    (
        "stale_webhook",
        "The webhook is older than the replay window.",
    ),
    (
        "unsubscribe_unavailable",
        "Unsubscribe links cannot be checked right now; try again shortly.",
    ),
    (
        "shopify_not_configured",
        "This deployment has no Shopify webhook secret.",
    ),
    (
        "shopify_secret_unavailable",
        "The Shopify webhook secret cannot be read right now; Shopify retries.",
    ),
    (
        "internal_error",
        "Something failed on our side; it is logged.",
    ),
];

fn error_code_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let codes: Vec<serde_json::Value> = ERROR_CODES
        .iter()
        .map(|(code, meaning)| serde_json::json!({"const": code, "description": meaning}))
        .collect();
    schemars::json_schema!({ "type": "string", "oneOf": codes })
}

/// The one answer to a store failure, in every function: a race lost on every attempt
/// (see `tracking_aws::store::optimistic`) is 409 `busy`, which the caller may send again
/// as is (Shopify and API clients retry it); anything else is a 500.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Contention => Self::conflict(
                "busy",
                "The order is being changed by another request; try again.",
            ),
            StoreError::Unexpected(cause) => Self::Unexpected(cause),
        }
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":{"code":"internal_error","message":"Something went wrong on our side."}}"#
                .to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The route key API Gateway matched ("POST /orders/{order_id}/label"); handlers
/// dispatch on it, so routing lives in template.yaml alone.
pub fn route_key(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

pub fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.request_id.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The caller from the JWT authorizer's claims (see "Identity" in the README).
pub fn identity(request: &Request) -> Result<Identity, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or(ApiError::Unauthenticated)?;
    identity_from_claims(|name| claims.get(name).map(String::as_str))
}

/// The Cognito group whose members are the operations team.
pub const OPERATIONS_GROUP: &str = "operations";

/// Who the claims say the caller is. Only claims the user cannot set count:
///
/// - A Cognito token (its issuer, `token_use` or `cognito:groups` says so): the merchant
///   is the `custom:merchant_id` attribute, which the template's app client cannot write,
///   and the role is membership of the `operations` group, which only administrators
///   grant. A `role` claim is ignored: Cognito users cannot mint one, but a deployer's
///   pre-token-generation trigger could, and two sources of the role would be one too many.
///   Only ID tokens carry the attribute: an access token is refused.
/// - Any other issuer (a brought identity provider, the local runner's dev token): the
///   `merchant_id` and `role` claims, which that provider must let only administrators set.
///
/// `custom:role` is never read: with Cognito's defaults a user can write their own
/// custom attributes, so it proves nothing.
pub fn identity_from_claims<'a>(
    claim: impl Fn(&str) -> Option<&'a str>,
) -> Result<Identity, ApiError> {
    let claim = |name: &str| claim(name).map(str::trim).filter(|v| !v.is_empty());
    let cognito = claim("iss").is_some_and(|iss| iss.starts_with("https://cognito-idp."))
        || claim("token_use").is_some()
        || claim("cognito:groups").is_some();
    if cognito && claim("token_use").is_some_and(|use_| use_ != "id") {
        return Err(ApiError::Unauthenticated);
    }
    let merchant_id = if cognito {
        // A plain `merchant_id` in a Cognito token can only come from the deployer's own
        // trigger; where both are present they must agree.
        match (claim("merchant_id"), claim("custom:merchant_id")) {
            (Some(plain), Some(custom)) if plain != custom => None,
            (plain, custom) => plain.or(custom),
        }
    } else {
        claim("merchant_id")
    }
    .ok_or(ApiError::Unauthenticated)?;
    if merchant_id.len() > 64
        || !merchant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::Unauthenticated);
    }
    let role = if cognito {
        let groups = claim("cognito:groups").map(group_names).unwrap_or_default();
        if groups.iter().any(|group| group == OPERATIONS_GROUP) {
            Role::Operations
        } else {
            Role::Merchant
        }
    } else {
        match claim("role") {
            Some("operations") => Role::Operations,
            Some("merchant") | None => Role::Merchant,
            Some(_) => {
                return Err(ApiError::Forbidden(
                    "Your role does not give access to this API.".into(),
                ))
            }
        }
    };
    Ok(Identity {
        merchant_id: merchant_id.to_owned(),
        role,
    })
}

/// The groups of a `cognito:groups` claim. The HTTP API's JWT authorizer flattens array
/// claims to `[operations other]`; a JSON array string and a single name are read too.
/// Cognito group names contain no whitespace, so splitting on it cannot merge or cut one.
fn group_names(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    serde_json::from_str::<Vec<String>>(raw).unwrap_or_else(|_| {
        raw.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(raw)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    })
}

pub fn require_operations(identity: &Identity) -> Result<(), ApiError> {
    match identity.role {
        Role::Operations => Ok(()),
        Role::Merchant => Err(ApiError::Forbidden(
            "Only the operations team can do this.".into(),
        )),
    }
}

pub fn path_param(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
        .filter(|v| !v.is_empty() && v.chars().count() <= 64)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_path_parameter",
                format!("The path's {name} is empty or longer than 64 characters."),
            )
        })
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
}

/// Page size of list routes when the client names none, and the most it may ask for.
pub const DEFAULT_PAGE_SIZE: i32 = 25;
pub const MAX_PAGE_SIZE: i32 = 100;

/// The `limit` query parameter of a list route, within 1..=[`MAX_PAGE_SIZE`].
pub fn page_limit(request: &Request) -> Result<i32, ApiError> {
    match query_param(request, "limit") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}."),
                )
            }),
    }
}

pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Parses a JSON body into `T`, refusing oversized and malformed bodies with a
/// sentence that says what is wrong, and where.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request);
    if bytes.len() > MAX_JSON_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "missing_body",
            "The request needs a JSON body.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "malformed_json",
            format!(
                "The body is not valid JSON for this request (line {}, column {}): {}.",
                e.line(),
                e.column(),
                json_error_summary(&e)
            ),
        )
    })
}

/// serde's message names Rust types; merchants need the JSON words.
fn json_error_summary(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof => "the JSON syntax is broken".into(),
        Category::Data => error
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or("a field has the wrong type")
            .replace("invalid type: ", "wrong type: ")
            .replace("alloc::string::String", "text"),
        Category::Io => "the body could not be read".into(),
    }
}

pub fn field_errors(errors: Vec<tracking_domain::order::FieldError>) -> ApiError {
    let message = match errors.as_slice() {
        [only] => format!("{} {}.", only.field, only.message),
        many => format!(
            "{} fields need attention: {}.",
            many.len(),
            many.iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    ApiError::Validation {
        message,
        details: serde_json::to_value(errors).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_error_body_says_nothing_internal() {
        let response =
            ApiError::Unexpected(anyhow::anyhow!("table arn:aws:dynamodb:secret exploded"))
                .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = String::from_utf8(body_bytes_of(&response)).unwrap();
        assert!(!body.contains("arn:aws"), "{body}");
        assert!(body.contains("internal_error"));
    }

    #[test]
    fn every_error_body_has_code_and_message() {
        let response = ApiError::conflict("order_number_taken", "Taken.").into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body: serde_json::Value = serde_json::from_slice(&body_bytes_of(&response)).unwrap();
        assert_eq!(body["error"]["code"], "order_number_taken");
        assert_eq!(body["error"]["message"], "Taken.");
    }

    const COGNITO_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1";

    fn identity_of(claims: &[(&str, &str)]) -> Result<Identity, ApiError> {
        identity_from_claims(|name| claims.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    fn cognito_id_token<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut claims = vec![
            ("iss", COGNITO_ISSUER),
            ("token_use", "id"),
            ("aud", "7example0client0id0abcdef"),
            ("custom:merchant_id", "merchant-acme"),
        ];
        claims.extend_from_slice(extra);
        claims
    }

    fn role_of(claims: &[(&str, &str)]) -> Role {
        identity_of(claims).unwrap().role
    }

    #[test]
    fn custom_role_never_grants_operations() {
        // A Cognito user can write their own custom attributes by default.
        assert_eq!(
            role_of(&cognito_id_token(&[("custom:role", "operations")])),
            Role::Merchant
        );
        // Nor does it from a brought provider: only `role` counts there.
        assert_eq!(
            role_of(&[("merchant_id", "m-1"), ("custom:role", "operations")]),
            Role::Merchant
        );
    }

    #[test]
    fn a_cognito_merchant_in_no_group_is_a_merchant() {
        let identity = identity_of(&cognito_id_token(&[])).unwrap();
        assert_eq!(
            identity,
            Identity {
                merchant_id: "merchant-acme".into(),
                role: Role::Merchant
            }
        );
        assert_eq!(
            role_of(&cognito_id_token(&[(
                "cognito:groups",
                "[support billing]"
            )])),
            Role::Merchant
        );
    }

    #[test]
    fn operations_comes_from_the_group_in_every_spelling_of_the_claim() {
        for groups in [
            "[operations]",
            "[support operations]",
            "[operations support]",
            r#"["support","operations"]"#,
            r#"["operations"]"#,
            "operations",
        ] {
            assert_eq!(
                role_of(&cognito_id_token(&[("cognito:groups", groups)])),
                Role::Operations,
                "{groups}"
            );
        }
        for groups in [
            "[operations-team]",
            "[Operations]",
            r#"["operations team"]"#,
            "[]",
            "[xoperations]",
        ] {
            assert_eq!(
                role_of(&cognito_id_token(&[("cognito:groups", groups)])),
                Role::Merchant,
                "{groups}"
            );
        }
    }

    #[test]
    fn a_cognito_token_cannot_claim_operations_with_a_role_claim() {
        assert_eq!(
            role_of(&cognito_id_token(&[("role", "operations")])),
            Role::Merchant
        );
        // Whatever marks the token as Cognito's, the role claim is not read.
        assert_eq!(
            role_of(&[
                ("merchant_id", "m-1"),
                ("cognito:groups", "[support]"),
                ("role", "operations")
            ]),
            Role::Merchant
        );
        assert_eq!(
            role_of(&[
                ("merchant_id", "m-1"),
                ("token_use", "id"),
                ("role", "operations")
            ]),
            Role::Merchant
        );
    }

    #[test]
    fn a_brought_provider_gives_merchant_id_and_role_claims() {
        let identity = identity_of(&[
            ("iss", "https://id.example.com/"),
            ("merchant_id", "merchant-acme"),
            ("role", "operations"),
        ])
        .unwrap();
        assert_eq!(identity.merchant_id, "merchant-acme");
        assert_eq!(identity.role, Role::Operations);
        assert_eq!(role_of(&[("merchant_id", "m-1")]), Role::Merchant);
        assert!(matches!(
            identity_of(&[("merchant_id", "m-1"), ("role", "admin")]),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn custom_merchant_id_counts_only_in_cognito_tokens() {
        assert!(matches!(
            identity_of(&[
                ("iss", "https://id.example.com/"),
                ("custom:merchant_id", "merchant-acme")
            ]),
            Err(ApiError::Unauthenticated)
        ));
        // A deployer's trigger may add a plain merchant_id; it must agree with the attribute.
        assert_eq!(
            identity_of(&cognito_id_token(&[("merchant_id", "merchant-acme")]))
                .unwrap()
                .merchant_id,
            "merchant-acme"
        );
        assert!(matches!(
            identity_of(&cognito_id_token(&[("merchant_id", "merchant-other")])),
            Err(ApiError::Unauthenticated)
        ));
    }

    #[test]
    fn cognito_access_tokens_and_missing_or_odd_merchant_ids_are_unauthenticated() {
        let access = [
            ("iss", COGNITO_ISSUER),
            ("token_use", "access"),
            ("client_id", "7example0client0id0abcdef"),
            ("custom:merchant_id", "merchant-acme"),
        ];
        let too_long = "m".repeat(65);
        for claims in [
            access.to_vec(),
            vec![("iss", COGNITO_ISSUER), ("token_use", "id")],
            vec![("merchant_id", "  ")],
            vec![("merchant_id", "acme/other")],
            vec![("merchant_id", too_long.as_str())],
        ] {
            assert!(
                matches!(identity_of(&claims), Err(ApiError::Unauthenticated)),
                "{claims:?}"
            );
        }
    }

    fn body_bytes_of(response: &Response<Body>) -> Vec<u8> {
        match response.body() {
            Body::Text(t) => t.clone().into_bytes(),
            Body::Binary(b) => b.clone(),
            _ => Vec::new(),
        }
    }
}
