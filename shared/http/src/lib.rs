//! The HTTP edge shared by the API functions: who is calling, what they sent, and
//! how failures are answered.

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

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
            other => other.to_string(),
        };
        let mut error = serde_json::json!({"code": code, "message": message});
        if let Self::Validation { details, .. } | Self::Unprocessable { details, .. } = &self {
            if !details.is_null() {
                error["details"] = details.clone();
            }
        }
        json_response(status, &serde_json::json!({ "error": error }))
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

/// The caller from the JWT authorizer's claims. Cognito prefixes custom claims with
/// `custom:`, other issuers do not: both spellings are read.
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
    let claim = |name: &str| {
        claims
            .get(name)
            .or_else(|| claims.get(&format!("custom:{name}")))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let merchant_id = claim("merchant_id").ok_or(ApiError::Unauthenticated)?;
    if merchant_id.len() > 64
        || !merchant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::Unauthenticated);
    }
    let role = match claim("role") {
        Some("operations") => Role::Operations,
        Some("merchant") | None => Role::Merchant,
        Some(_) => {
            return Err(ApiError::Forbidden(
                "Your role does not give access to this API.".into(),
            ))
        }
    };
    Ok(Identity {
        merchant_id: merchant_id.to_owned(),
        role,
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
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_path_parameter",
                format!("The path needs a {name}."),
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

    fn body_bytes_of(response: &Response<Body>) -> Vec<u8> {
        match response.body() {
            Body::Text(t) => t.clone().into_bytes(),
            Body::Binary(b) => b.clone(),
            _ => Vec::new(),
        }
    }
}
