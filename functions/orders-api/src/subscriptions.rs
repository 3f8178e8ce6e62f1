//! Team email subscriptions, and the public unsubscribe link the notifier's emails carry.
//!
//! Routes:
//! - `POST /orders/{order_id}/subscriptions` `{"email"}`: 201 with the subscription; 200
//!   with the existing one when that mailbox is already subscribed (any case, any
//!   `+tag`); 422 `customer_email` for the order's own customer; 422 `invalid_email`.
//! - `GET /orders/{order_id}/subscriptions`: the order's own subscriptions.
//! - `DELETE /orders/{order_id}/subscriptions?email=`: 204; 404
//!   `subscription_not_found`. The address travels in the query rather than the path:
//!   addresses can be longer than a path segment we accept and hold characters (`+`,
//!   `/`) that path routing handles badly.
//! - `POST /subscriptions`, `GET /subscriptions`, `DELETE /subscriptions?email=`: the
//!   same for merchant-wide subscriptions (every order of the caller's merchant). Their
//!   customer rule is applied per order when emails are sent.
//! - `GET /unsubscribe?token=`: no login; the token is signed by the notifier. Shows what
//!   the link would stop and a button; changes nothing (link scanners open every link).
//! - `POST /unsubscribe?token=`: the button, or a mail client's RFC 8058 one-click POST.
//!   Removes the subscriptions the token names; doing it again is harmless. Both: 400 for
//!   a garbled token, 403 for one we did not sign, and neither changes anything. Browsers
//!   (`Accept: text/html`) get a page, other clients JSON.
//!
//! Another merchant's order is a 404, exactly like a missing one.

use askama::Template;
use chrono::{DateTime, Utc};
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use tracking_aws::store::subscriptions::SubscribeOutcome;
use tracking_domain::email::{
    subscription_fits, EmailAddress, EmailError, TeamEmail, MAX_MERCHANT_SUBSCRIPTIONS,
    MAX_ORDER_SUBSCRIPTIONS,
};
use tracking_domain::order::Order;
use tracking_domain::subscriptions::{Subscription, SubscriptionScope};
use tracking_domain::unsubscribe::{verify_with_any, TokenError, Unsubscribe, UnsubscribeKey};
use tracking_http::{json_body, json_response, path_param, query_param, ApiError, Identity};

use tracking_aws::secrets::Versions;

use crate::{visible_to, OrdersApi, OrdersApiStore};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct SubscriptionRequest {
    /// Who gets the emails: a team address, at most 254 characters.
    #[schemars(required, email, length(max = 254))]
    pub email: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SubscriptionView<'a> {
    pub email: &'a str,
    pub scope: SubscriptionScope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

/// `GET /orders/{order_id}/subscriptions`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OrderSubscriptions<'a> {
    pub order_id: &'a str,
    pub subscriptions: Vec<SubscriptionView<'a>>,
}

/// `GET /subscriptions`: the addresses told about every order of the account.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MerchantSubscriptions<'a> {
    pub subscriptions: Vec<SubscriptionView<'a>>,
}

/// What an unsubscribe link does, as JSON (`Accept: text/html` gets a page instead).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UnsubscribeAnswer<'a> {
    /// `false` from `GET`, which only asks; `true` once `POST` has removed the address.
    pub unsubscribed: bool,
    pub email: &'a str,
    /// The order whose email carried the link.
    pub order_id: &'a str,
    /// What `GET` asks of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<&'static str>,
    /// The subscriptions `POST` removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<SubscriptionScope>>,
}

fn view(subscription: &Subscription) -> SubscriptionView<'_> {
    SubscriptionView {
        email: subscription.email.as_str(),
        scope: subscription.scope(),
        order_id: subscription.order_id.as_deref(),
        created_at: subscription.created_at,
    }
}

fn email_error(error: EmailError) -> ApiError {
    let (code, message) = match &error {
        EmailError::Invalid(_) => ("invalid_email", "email is not a valid email address."),
        EmailError::CustomerAddress => (
            "customer_email",
            "This is the order's customer address. Subscriptions are for your team's addresses; the customer hears from the store.",
        ),
    };
    ApiError::Unprocessable {
        code,
        message: message.to_owned(),
        details: serde_json::json!([{"field": "email", "message": error.to_string()}]),
    }
}

/// Refuses a new mailbox past the limit. Two requests racing past it together can add one
/// each; the notifier still mails only the oldest `limit`, so the fan-out stays bounded.
fn within_limit(
    existing: &[Subscription],
    email: &EmailAddress,
    limit: usize,
    what: &str,
) -> Result<(), ApiError> {
    let mailboxes: Vec<&EmailAddress> = existing.iter().map(|s| &s.email).collect();
    if subscription_fits(&mailboxes, email, limit) {
        Ok(())
    } else {
        Err(ApiError::Unprocessable {
            code: "subscription_limit_reached",
            message: format!(
                "{limit} addresses already get updates for {what}, the most we send to. Remove one first."
            ),
            details: serde_json::json!({"limit": limit}),
        })
    }
}

fn requested_email(request: &Request) -> Result<String, ApiError> {
    let body: SubscriptionRequest = json_body(request)?;
    body.email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::Unprocessable {
            code: "invalid_email",
            message: "email is required.".into(),
            details: serde_json::json!([{"field": "email", "message": "is required"}]),
        })
}

fn email_to_remove(request: &Request) -> Result<EmailAddress, ApiError> {
    let raw = query_param(request, "email")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_email", "Say which address to remove with ?email=.")
        })?;
    EmailAddress::parse(&raw).map_err(email_error)
}

fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn subscribed(outcome: SubscribeOutcome) -> Response<Body> {
    match outcome {
        SubscribeOutcome::Created(s) => json_response(StatusCode::CREATED, &view(&s)),
        SubscribeOutcome::AlreadySubscribed(s) => json_response(StatusCode::OK, &view(&s)),
    }
}

fn not_subscribed() -> ApiError {
    ApiError::NotFound {
        code: "subscription_not_found",
        message: "This address is not subscribed.".into(),
    }
}

impl<S: OrdersApiStore> OrdersApi<S> {
    async fn visible_order(&self, caller: &Identity, request: &Request) -> Result<Order, ApiError> {
        let order_id = path_param(request, "order_id")?;
        let found = self
            .store
            .get_order(&order_id)
            .await
            .map_err(ApiError::from)?;
        found
            .map(|v| v.order)
            .filter(|order| visible_to(caller, order))
            .ok_or(ApiError::OrderNotFound)
    }

    pub(crate) async fn subscribe_to_order(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let raw = requested_email(request)?;
        let order = self.visible_order(caller, request).await?;
        let email = TeamEmail::parse(&raw, &order.details.customer.email).map_err(email_error)?;
        let existing = self
            .store
            .order_subscriptions(&order.order_id)
            .await
            .map_err(ApiError::from)?;
        within_limit(
            &existing,
            email.address(),
            MAX_ORDER_SUBSCRIPTIONS,
            "this order",
        )?;
        let subscription = Subscription::for_order(&order, email, now);
        tracing::info!(order_id = %order.order_id, "subscribing to an order");
        let outcome = self
            .store
            .subscribe(subscription)
            .await
            .map_err(ApiError::from)?;
        Ok(subscribed(outcome))
    }

    pub(crate) async fn list_order_subscriptions(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let order = self.visible_order(caller, request).await?;
        let subscriptions = self
            .store
            .order_subscriptions(&order.order_id)
            .await
            .map_err(ApiError::from)?;
        let views: Vec<_> = subscriptions.iter().map(view).collect();
        Ok(json_response(
            StatusCode::OK,
            &OrderSubscriptions {
                order_id: &order.order_id,
                subscriptions: views,
            },
        ))
    }

    pub(crate) async fn unsubscribe_from_order(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let email = email_to_remove(request)?;
        let order = self.visible_order(caller, request).await?;
        let removed = self
            .store
            .remove_order_subscription(&order.order_id, &email)
            .await
            .map_err(ApiError::from)?;
        if removed {
            Ok(no_content())
        } else {
            Err(not_subscribed())
        }
    }

    pub(crate) async fn subscribe_merchant(
        &self,
        caller: &Identity,
        request: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, ApiError> {
        let email = EmailAddress::parse(&requested_email(request)?).map_err(email_error)?;
        let existing = self
            .store
            .merchant_subscriptions(&caller.merchant_id)
            .await
            .map_err(ApiError::from)?;
        within_limit(
            &existing,
            &email,
            MAX_MERCHANT_SUBSCRIPTIONS,
            "all orders of your account",
        )?;
        let subscription = Subscription::merchant_wide(&caller.merchant_id, email, now);
        let outcome = self
            .store
            .subscribe(subscription)
            .await
            .map_err(ApiError::from)?;
        Ok(subscribed(outcome))
    }

    pub(crate) async fn list_merchant_subscriptions(
        &self,
        caller: &Identity,
    ) -> Result<Response<Body>, ApiError> {
        let subscriptions = self
            .store
            .merchant_subscriptions(&caller.merchant_id)
            .await
            .map_err(ApiError::from)?;
        let views: Vec<_> = subscriptions.iter().map(view).collect();
        Ok(json_response(
            StatusCode::OK,
            &MerchantSubscriptions {
                subscriptions: views,
            },
        ))
    }

    pub(crate) async fn unsubscribe_merchant(
        &self,
        caller: &Identity,
        request: &Request,
    ) -> Result<Response<Body>, ApiError> {
        let email = email_to_remove(request)?;
        let removed = self
            .store
            .remove_merchant_subscription(&caller.merchant_id, &email)
            .await
            .map_err(ApiError::from)?;
        if removed {
            Ok(no_content())
        } else {
            Err(not_subscribed())
        }
    }

    /// `GET /unsubscribe?token=`: the link in every email. Public, so it trusts nothing
    /// but the signature, checked before anything is read or written.
    /// `GET /unsubscribe`: only asks. Mail scanners and link previews open every link in
    /// an email; a GET that unsubscribed would unsubscribe people who never clicked.
    pub(crate) async fn confirm_unsubscribe_link(&self, request: &Request) -> Response<Body> {
        let verified = self.unsubscribe_key_versions().await.map(|keys| {
            verify_with_any(
                keys.each(),
                &query_param(request, "token").unwrap_or_default(),
            )
        });
        match verified {
            Ok(Ok(unsubscribe)) if wants_html(request) => {
                page(StatusCode::OK, &UnsubscribedPage::confirm(&unsubscribe))
            }
            Ok(Ok(unsubscribe)) => json_response(
                StatusCode::OK,
                &UnsubscribeAnswer {
                    unsubscribed: false,
                    email: unsubscribe.email.as_str(),
                    order_id: &unsubscribe.order_id,
                    confirm: Some("POST to this same URL to unsubscribe."),
                    scopes: None,
                },
            ),
            Ok(Err(error)) if wants_html(request) => {
                page(token_status(&error), &UnsubscribedPage::refused(&error))
            }
            Ok(Err(error)) => token_error(error).into_response(),
            Err(error) => error.into_response(),
        }
    }

    /// `POST /unsubscribe`: the confirmation page's button, or a mail client's RFC 8058
    /// one-click request (body `List-Unsubscribe=One-Click`); the token is in the query.
    pub(crate) async fn follow_unsubscribe_link(&self, request: &Request) -> Response<Body> {
        let wants_html = wants_html(request);
        match self.unsubscribe(request).await {
            Ok(done) if wants_html => page(StatusCode::OK, &UnsubscribedPage::done(&done)),
            Ok(done) => json_response(
                StatusCode::OK,
                &UnsubscribeAnswer {
                    unsubscribed: true,
                    email: done.email.as_str(),
                    order_id: &done.order_id,
                    confirm: None,
                    scopes: Some(done.scopes.clone()),
                },
            ),
            Err(LinkError::Token(error)) if wants_html => {
                page(token_status(&error), &UnsubscribedPage::refused(&error))
            }
            Err(LinkError::Token(error)) => token_error(error).into_response(),
            Err(LinkError::Api(error)) => error.into_response(),
        }
    }

    /// The current key and, during a rotation, the previous one: a link in an email sent
    /// before the rotation still works.
    async fn unsubscribe_key_versions(&self) -> Result<Versions<UnsubscribeKey>, ApiError> {
        let keys = self
            .unsubscribe_keys
            .as_ref()
            .ok_or_else(|| ApiError::Unavailable {
                code: "unsubscribe_unavailable",
                cause: anyhow::anyhow!("orders-api was started without the unsubscribe key"),
            })?;
        keys.versions().await.map_err(|e| ApiError::Unavailable {
            code: "unsubscribe_unavailable",
            cause: e.into(),
        })
    }

    async fn unsubscribe(&self, request: &Request) -> Result<Unsubscribe, LinkError> {
        let keys = self.unsubscribe_key_versions().await?;
        let token = query_param(request, "token").unwrap_or_default();
        let unsubscribe = verify_with_any(keys.each(), &token).map_err(LinkError::Token)?;
        for scope in &unsubscribe.scopes {
            let removed = match scope {
                SubscriptionScope::Order => {
                    self.store
                        .remove_order_subscription(&unsubscribe.order_id, &unsubscribe.email)
                        .await
                }
                SubscriptionScope::Merchant => {
                    self.store
                        .remove_merchant_subscription(&unsubscribe.merchant_id, &unsubscribe.email)
                        .await
                }
            }
            .map_err(ApiError::from)?;
            tracing::info!(scope = scope.as_str(), order_id = %unsubscribe.order_id, removed, "unsubscribed through a link");
        }
        Ok(unsubscribe)
    }
}

fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

enum LinkError {
    Token(TokenError),
    Api(ApiError),
}

impl From<ApiError> for LinkError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

fn token_status(error: &TokenError) -> StatusCode {
    match error {
        TokenError::Malformed => StatusCode::BAD_REQUEST,
        TokenError::BadSignature => StatusCode::FORBIDDEN,
    }
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::Malformed => ApiError::bad_request(
            "invalid_unsubscribe_link",
            "This unsubscribe link is incomplete. Open the link from the email again, or copy all of it.",
        ),
        TokenError::BadSignature => ApiError::Forbidden(
            "This unsubscribe link is not valid. Use the link from one of our emails.".into(),
        ),
    }
}

/// The page a person sees after clicking the link in an email.
#[derive(Template)]
#[template(path = "unsubscribed.html")]
struct UnsubscribedPage<'a> {
    title: &'static str,
    message: String,
    email: Option<&'a str>,
    /// Shows the button that POSTs the link back (to the page's own URL, token and all).
    confirm: bool,
}

impl<'a> UnsubscribedPage<'a> {
    fn confirm(unsubscribe: &'a Unsubscribe) -> Self {
        let merchant_wide = unsubscribe.scopes.contains(&SubscriptionScope::Merchant);
        Self {
            title: "Unsubscribe from tracking updates?",
            message: if merchant_wide {
                "This address will stop receiving tracking updates for every order of this account."
                    .into()
            } else {
                "This address will stop receiving tracking updates for this order.".into()
            },
            email: Some(unsubscribe.email.as_str()),
            confirm: true,
        }
    }

    fn done(unsubscribe: &'a Unsubscribe) -> Self {
        let merchant_wide = unsubscribe.scopes.contains(&SubscriptionScope::Merchant);
        Self {
            title: "You are unsubscribed",
            message: if merchant_wide {
                "You will no longer receive tracking updates for any order of this account.".into()
            } else {
                "You will no longer receive tracking updates for this order.".into()
            },
            email: Some(unsubscribe.email.as_str()),
            confirm: false,
        }
    }

    fn refused(error: &TokenError) -> Self {
        Self {
            title: "This link does not work",
            message: token_error(error.clone()).to_string(),
            email: None,
            confirm: false,
        }
    }
}

fn page(status: StatusCode, page: &UnsubscribedPage<'_>) -> Response<Body> {
    match page.render() {
        Ok(html) => {
            let mut response = Response::new(Body::Text(html));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Err(error) => {
            ApiError::Unexpected(anyhow::Error::new(error).context("render unsubscribe page"))
                .into_response()
        }
    }
}
