//! Shopify: tracking pushed through the Admin GraphQL API.
//!
//! A label becomes a fulfillment: the order's open fulfillment orders are looked up, then
//! `fulfillmentCreate` fulfils them with the tracking (carrier name, number, link) and
//! Shopify emails the customer. A hand-off moves that fulfillment's tracking to the
//! final-mile number with `fulfillmentTrackingInfoUpdate`.
//!
//! Packages: the first package's label fulfils the order's line items, so a later package
//! has nothing left to fulfil. Its number joins the fulfillment of the same carrier (one
//! fulfillment lists several numbers, one carrier name for all of them), as Shopify
//! documents for shipments of several packages; a later package of another carrier is
//! refused with that reason. A relabel replaces the old number where it is listed; a void
//! takes it out, cancelling the fulfillment when it was its only number (Shopify then
//! offers the line items for fulfilment again). A hand-off replaces its package's number
//! and takes the final-mile carrier's name only when the fulfillment lists no other.
//!
//! The lookup also answers "is it already there?": a fulfillment carrying our number means
//! an earlier attempt reached Shopify but died before recording it, so nothing is sent
//! again. That closes the one gap the sync record cannot (a crash after the store
//! accepted the push and before `sent` was written).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracking_domain::carriers::Carrier;

use crate::credentials::{self, StoreCredentialSecrets};
use crate::push::{successful_body, transport_error, PushError, Secret};
use crate::Pushed;
use tracking_domain::sync::job::{SyncJob, SyncKind, Tracking};

/// Placeholder in `SHOPIFY_API_BASE` for the shop's domain (`acme.myshopify.com`).
pub const SHOP_PLACEHOLDER: &str = "{shop}";
pub const DEFAULT_API_BASE: &str = "https://{shop}/admin/api/2026-01/graphql.json";

const ORDER_GID_PREFIX: &str = "gid://shopify/Order/";

/// Fulfilment orders in these states can still be fulfilled; see Shopify's
/// `FulfillmentOrderStatus`.
const FULFILLABLE: [&str; 2] = ["OPEN", "IN_PROGRESS"];

pub const FULFILLMENT_STATE_QUERY: &str = "query FulfillmentState($id: ID!) { \
order(id: $id) { id \
fulfillmentOrders(first: 20) { nodes { id status } } \
fulfillments(first: 20) { id status trackingInfo(first: 10) { company number url } } } }";

pub const FULFILLMENT_CANCEL_MUTATION: &str = "mutation CancelFulfillment($id: ID!) { \
fulfillmentCancel(id: $id) { fulfillment { id status } userErrors { field message } } }";

pub const FULFILLMENT_CREATE_MUTATION: &str =
    "mutation CreateFulfillment($fulfillment: FulfillmentInput!) { \
fulfillmentCreate(fulfillment: $fulfillment) { \
fulfillment { id status } userErrors { field message } } }";

pub const TRACKING_UPDATE_MUTATION: &str = "mutation UpdateTracking($fulfillmentId: ID!, \
$trackingInfoInput: FulfillmentTrackingInput!, $notifyCustomer: Boolean) { \
fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, \
trackingInfoInput: $trackingInfoInput, notifyCustomer: $notifyCustomer) { \
fulfillment { id } userErrors { field message } } }";

#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// `SHOPIFY_API_BASE`: the Admin GraphQL endpoint with `{shop}` for the shop's domain.
    pub api_base: String,
    /// `SHOPIFY_SHOPS`: shop domain -> merchant id (the same map the webhook intake uses).
    pub shops: BTreeMap<String, String>,
    /// Whether Shopify emails the customer the tracking (its shipping confirmation).
    pub notify_customer: bool,
}

pub struct ShopifyClient {
    http: reqwest::Client,
    config: ShopifyConfig,
    /// Each shop's Admin API access token (`shopify_access_tokens`).
    credentials: Arc<StoreCredentialSecrets>,
}

#[derive(Debug, Deserialize)]
struct GraphQlResponse<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    message: String,
    #[serde(default)]
    extensions: Option<GraphQlErrorExtensions>,
}

#[derive(Debug, Deserialize)]
struct GraphQlErrorExtensions {
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OrderData {
    order: Option<OrderState>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderState {
    fulfillment_orders: Nodes<FulfillmentOrderNode>,
    #[serde(default)]
    fulfillments: Vec<FulfillmentNode>,
}

#[derive(Debug, Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct FulfillmentOrderNode {
    id: String,
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentNode {
    id: String,
    /// `CANCELLED` ones stay on the order in Shopify, listing what they listed.
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tracking_info: Vec<TrackingInfoNode>,
}

#[derive(Debug, Clone, Deserialize)]
struct TrackingInfoNode {
    #[serde(default)]
    company: Option<String>,
    number: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateData {
    fulfillment_create: Option<MutationPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateData {
    fulfillment_tracking_info_update: Option<MutationPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelData {
    fulfillment_cancel: Option<MutationPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationPayload {
    fulfillment: Option<IdNode>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
struct IdNode {
    id: String,
}

#[derive(Debug, Deserialize)]
struct UserError {
    #[serde(default)]
    field: Option<Vec<String>>,
    message: String,
}

/// `FulfillmentTrackingInput` as we fill it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackingInput {
    pub company: String,
    pub number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl TrackingInput {
    pub fn from_tracking(tracking: &Tracking) -> Self {
        Self {
            company: company_name(tracking),
            number: tracking.tracking_number.clone(),
            url: tracking.tracking_url.clone(),
        }
    }
}

/// Shopify's name for the carrier: for names on its supported list it links the number
/// itself. Ours match that list except Amazon's, which Shopify calls "Amazon".
pub fn company_name(tracking: &Tracking) -> String {
    match tracking.known_carrier() {
        Some(Carrier::AmazonShipping) => "Amazon".to_owned(),
        _ => tracking.carrier_name(),
    }
}

/// Shopify's webhooks give both forms of the id; the GraphQL API takes the gid.
pub fn order_gid(external_order_id: &str) -> Result<String, PushError> {
    let id = external_order_id.trim();
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match id.strip_prefix(ORDER_GID_PREFIX) {
        Some(number) if numeric(number) => Ok(id.to_owned()),
        None if numeric(id) => Ok(format!("{ORDER_GID_PREFIX}{id}")),
        _ => Err(PushError::rejected(format!(
            "{external_order_id:?} is not a Shopify order id (expected {ORDER_GID_PREFIX}<number>)"
        ))),
    }
}

/// Tracking numbers compare as carriers print them: any case, spaces and dashes ignored.
fn same_number(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .flat_map(char::to_uppercase)
            .collect::<String>()
    };
    norm(a) == norm(b)
}

impl OrderState {
    fn has_open_orders(&self) -> bool {
        self.fulfillment_orders
            .nodes
            .iter()
            .any(|fo| FULFILLABLE.contains(&fo.status.as_str()))
    }

    fn live_fulfillments(&self) -> impl Iterator<Item = &FulfillmentNode> {
        self.fulfillments
            .iter()
            .filter(|f| f.status.as_deref() != Some("CANCELLED"))
    }

    fn fulfillment_with(&self, number: &str) -> Option<&FulfillmentNode> {
        self.live_fulfillments().find(|f| f.lists(number))
    }

    /// The fulfillment a later package of this carrier joins.
    fn fulfillment_of_company(&self, company: &str) -> Option<&FulfillmentNode> {
        self.live_fulfillments().find(|f| {
            f.tracking_info
                .first()
                .and_then(|t| t.company.as_deref())
                .is_some_and(|c| c.eq_ignore_ascii_case(company))
        })
    }
}

impl FulfillmentNode {
    fn lists(&self, number: &str) -> bool {
        self.tracking_info
            .iter()
            .any(|t| t.number.as_deref().is_some_and(|n| same_number(n, number)))
    }

    fn company(&self) -> Option<&str> {
        self.tracking_info
            .first()
            .and_then(|t| t.company.as_deref())
    }
}

/// The whole tracking a fulfillment is to list, as `fulfillmentTrackingInfoUpdate`
/// replaces it: one company, every number with its link.
fn tracking_list(company: String, entries: &[(String, Option<String>)]) -> serde_json::Value {
    match entries {
        [(number, url)] => json!({ "company": company, "number": number, "url": url }),
        _ => json!({
            "company": company,
            "numbers": entries.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "urls": entries.iter().map(|(_, u)| u.clone().unwrap_or_default()).collect::<Vec<_>>(),
        }),
    }
}

fn listed(fulfillment: &FulfillmentNode) -> Vec<(String, Option<String>)> {
    fulfillment
        .tracking_info
        .iter()
        .filter_map(|t| Some((t.number.clone()?, t.url.clone())))
        .collect()
}

fn user_errors(operation: &str, payload: Option<MutationPayload>) -> Result<String, PushError> {
    let payload = payload
        .ok_or_else(|| PushError::retryable(format!("Shopify returned no {operation} result")))?;
    if !payload.user_errors.is_empty() {
        let reasons = payload
            .user_errors
            .iter()
            .map(|e| match &e.field {
                Some(field) if !field.is_empty() => format!("{}: {}", field.join("."), e.message),
                _ => e.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(PushError::rejected(format!(
            "Shopify refused {operation}: {reasons}"
        )));
    }
    payload.fulfillment.map(|f| f.id).ok_or_else(|| {
        PushError::retryable(format!("Shopify's {operation} returned no fulfillment"))
    })
}

impl ShopifyClient {
    pub fn new(
        http: reqwest::Client,
        config: ShopifyConfig,
        credentials: Arc<StoreCredentialSecrets>,
    ) -> Self {
        Self {
            http,
            config,
            credentials,
        }
    }

    /// The merchant's shop. One shop per merchant: with two, we could not tell which one
    /// an order came from, so the job is refused rather than sent to the wrong store.
    fn shop_for(&self, merchant_id: &str) -> Result<&str, PushError> {
        let shops: Vec<&str> = self
            .config
            .shops
            .iter()
            .filter(|(_, merchant)| merchant.as_str() == merchant_id)
            .map(|(shop, _)| shop.as_str())
            .collect();
        match shops.as_slice() {
            [shop] => Ok(shop),
            [] => Err(PushError::rejected(format!(
                "no Shopify shop is configured for merchant {merchant_id} (SHOPIFY_SHOPS)"
            ))),
            many => Err(PushError::rejected(format!(
                "merchant {merchant_id} has several Shopify shops ({}); cannot tell which one the order is from",
                many.join(", ")
            ))),
        }
    }

    pub async fn push(&self, job: &SyncJob) -> Result<Pushed, PushError> {
        let pushed = self.fulfil(job).await;
        if pushed.as_ref().is_err_and(PushError::refused_credentials) {
            // Perhaps rotated since it was read: the retry reads the secret again.
            self.credentials.forget().await;
        }
        pushed
    }

    async fn fulfil(&self, job: &SyncJob) -> Result<Pushed, PushError> {
        let shop = self.shop_for(&job.merchant_id)?;
        let credentials = credentials::current(&self.credentials).await?;
        let token = credentials.shopify_access_tokens.get(shop).ok_or_else(|| {
            PushError::rejected(format!(
                "no Shopify access token is configured for {shop} (shopify_access_tokens in the store credentials secret)"
            ))
        })?;
        let endpoint = self.config.api_base.replace(SHOP_PLACEHOLDER, shop);
        let gid = order_gid(&job.external_order_id)?;
        let call = Call {
            http: &self.http,
            endpoint: &endpoint,
            token,
            shop,
            gid: &gid,
        };
        let state = call.order_state().await?;
        if job.kind == SyncKind::Void {
            return self.withdraw(&call, &state, job).await;
        }
        if let Some(existing) = state.fulfillment_with(&job.tracking.tracking_number) {
            tracing::info!(fulfillment_id = %existing.id, "Shopify already has this tracking");
            return Ok(Pushed::already_there(Some(existing.id.clone())));
        }
        // A relabel's old number, or a hand-off's label: replaced where it is listed.
        let replaced = match job.kind {
            SyncKind::Handoff => Some(&job.label),
            _ => job.replaces.as_ref(),
        };
        if let Some(old) = replaced {
            if let Some(fulfillment) = state.fulfillment_with(&old.tracking_number) {
                return self.replace(&call, fulfillment, old, &job.tracking).await;
            }
            if job.kind == SyncKind::Handoff {
                // The label's own sync may still be on its way; its job runs first or is
                // retried, and this one is retried after it.
                return Err(PushError::retryable(format!(
                    "Shopify has no fulfillment with the label's tracking {} yet",
                    job.label.tracking_number
                )));
            }
        }
        let open: Vec<_> = state
            .fulfillment_orders
            .nodes
            .iter()
            .filter(|fo| FULFILLABLE.contains(&fo.status.as_str()))
            .map(|fo| json!({ "fulfillmentOrderId": fo.id }))
            .collect();
        if open.is_empty() {
            let company = company_name(&job.tracking);
            let Some(fulfillment) = state.fulfillment_of_company(&company) else {
                return Err(PushError::rejected(format!(
                    "order {gid} has no open fulfillment orders in Shopify and no {company} fulfillment to add package tracking {} to (fulfilled with another carrier, cancelled or on hold there)",
                    job.tracking.tracking_number
                )));
            };
            let mut entries = listed(fulfillment);
            entries.push((
                job.tracking.tracking_number.clone(),
                job.tracking.tracking_url.clone(),
            ));
            return self
                .update(
                    &call,
                    &fulfillment.id,
                    tracking_list(company, &entries),
                    &job.tracking.tracking_number,
                    None,
                )
                .await;
        }
        let variables = json!({
            "fulfillment": {
                "lineItemsByFulfillmentOrder": open,
                "trackingInfo": TrackingInput::from_tracking(&job.tracking),
                "notifyCustomer": self.config.notify_customer,
            }
        });
        let data = call
            .graphql::<CreateData>(FULFILLMENT_CREATE_MUTATION, variables)
            .await?;
        match user_errors("fulfillmentCreate", data.fulfillment_create) {
            Ok(id) => Ok(Pushed::sent(Some(id))),
            // Another package's push fulfilled the order between our read and our create:
            // the retry adds this package to that fulfillment.
            Err(PushError::Rejected(reason)) if !call.order_state().await?.has_open_orders() => {
                Err(PushError::retryable(format!(
                    "{reason} (another package fulfilled the order first; joining it on the retry)"
                )))
            }
            Err(other) => Err(other),
        }
    }

    /// `old` becomes `new` where `fulfillment` lists it. The final-mile carrier's name
    /// replaces the fulfillment's only when it lists nothing else.
    async fn replace(
        &self,
        call: &Call<'_>,
        fulfillment: &FulfillmentNode,
        old: &Tracking,
        new: &Tracking,
    ) -> Result<Pushed, PushError> {
        let entries: Vec<_> = listed(fulfillment)
            .into_iter()
            .map(|(number, url)| {
                if same_number(&number, &old.tracking_number) {
                    (new.tracking_number.clone(), new.tracking_url.clone())
                } else {
                    (number, url)
                }
            })
            .collect();
        let company = match (entries.len(), fulfillment.company()) {
            (n, Some(company)) if n > 1 => company.to_owned(),
            _ => company_name(new),
        };
        self.update(
            call,
            &fulfillment.id,
            tracking_list(company, &entries),
            &new.tracking_number,
            Some(&old.tracking_number),
        )
        .await
    }

    /// A voided package's number leaves the store: out of its fulfillment's list, or,
    /// when it was the only one, the fulfillment cancelled.
    async fn withdraw(
        &self,
        call: &Call<'_>,
        state: &OrderState,
        job: &SyncJob,
    ) -> Result<Pushed, PushError> {
        let Some(fulfillment) = state.fulfillment_with(&job.tracking.tracking_number) else {
            tracing::info!("Shopify does not list the voided tracking: nothing to take back");
            return Ok(Pushed::already_there(None));
        };
        let rest: Vec<_> = listed(fulfillment)
            .into_iter()
            .filter(|(number, _)| !same_number(number, &job.tracking.tracking_number))
            .collect();
        if rest.is_empty() {
            let data = call
                .graphql::<CancelData>(FULFILLMENT_CANCEL_MUTATION, json!({ "id": fulfillment.id }))
                .await?;
            let id = user_errors("fulfillmentCancel", data.fulfillment_cancel)?;
            return Ok(Pushed::sent(Some(id)));
        }
        let company = fulfillment
            .company()
            .map_or_else(|| company_name(&job.label), str::to_owned);
        self.update(
            call,
            &fulfillment.id,
            tracking_list(company, &rest),
            "",
            Some(&job.tracking.tracking_number),
        )
        .await
    }

    /// Replaces a fulfillment's whole tracking list, then reads the order back: Shopify
    /// has no conditional update, so two packages' pushes racing on one list would leave
    /// one number out. `listed` must be there and `gone` must not; otherwise the push is
    /// retried, reading the list afresh.
    async fn update(
        &self,
        call: &Call<'_>,
        fulfillment_id: &str,
        tracking: serde_json::Value,
        listed: &str,
        gone: Option<&str>,
    ) -> Result<Pushed, PushError> {
        let variables = json!({
            "fulfillmentId": fulfillment_id,
            "trackingInfoInput": tracking,
            "notifyCustomer": self.config.notify_customer,
        });
        let data = call
            .graphql::<UpdateData>(TRACKING_UPDATE_MUTATION, variables)
            .await?;
        let id = user_errors(
            "fulfillmentTrackingInfoUpdate",
            data.fulfillment_tracking_info_update,
        )?;
        let after = call.order_state().await?;
        let holds = after
            .live_fulfillments()
            .find(|f| f.id == fulfillment_id)
            .is_some_and(|f| {
                (listed.is_empty() || f.lists(listed)) && gone.is_none_or(|n| !f.lists(n))
            });
        if !holds {
            return Err(PushError::retryable(format!(
                "Shopify fulfillment {fulfillment_id} changed while we updated it (another package's push); reading it again"
            )));
        }
        Ok(Pushed::sent(Some(id)))
    }
}

struct Call<'a> {
    http: &'a reqwest::Client,
    endpoint: &'a str,
    token: &'a Secret,
    shop: &'a str,
    /// The order's gid.
    gid: &'a str,
}

impl Call<'_> {
    /// The order's fulfillment orders and fulfillments, as Shopify has them now.
    async fn order_state(&self) -> Result<OrderState, PushError> {
        self.graphql::<OrderData>(FULFILLMENT_STATE_QUERY, json!({ "id": self.gid }))
            .await?
            .order
            .ok_or_else(|| {
                PushError::rejected(format!(
                    "Shopify shop {} has no order {}",
                    self.shop, self.gid
                ))
            })
    }

    async fn graphql<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, PushError> {
        let response = self
            .http
            .post(self.endpoint)
            .header("X-Shopify-Access-Token", self.token.expose())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| transport_error("Shopify", e))?;
        let bytes = successful_body("Shopify", response).await?;
        let body: GraphQlResponse<T> = serde_json::from_slice(&bytes).map_err(|e| {
            PushError::Retryable(
                anyhow::Error::new(e).context("Shopify answered with a body we cannot read"),
            )
        })?;
        if !body.errors.is_empty() {
            // GraphQL reports throttling (cost limit) with a 200 and an error code.
            let transient = body.errors.iter().any(|e| {
                matches!(
                    e.extensions.as_ref().and_then(|x| x.code.as_deref()),
                    Some("THROTTLED" | "INTERNAL_SERVER_ERROR")
                )
            });
            let message = format!(
                "Shopify GraphQL errors: {}",
                body.errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            return Err(if transient {
                PushError::retryable(message)
            } else {
                PushError::rejected(message)
            });
        }
        body.data
            .ok_or_else(|| PushError::retryable("Shopify answered without data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking(carrier: &str, number: &str, url: Option<&str>) -> Tracking {
        Tracking {
            carrier: carrier.into(),
            tracking_number: number.into(),
            tracking_url: url.map(str::to_owned),
        }
    }

    #[test]
    fn tracking_input_names_the_carrier_as_shopify_lists_it() {
        let input = TrackingInput::from_tracking(&tracking(
            "ups",
            "1Z999AA10123456784",
            Some("https://www.ups.com/track?tracknum=1Z999AA10123456784"),
        ));
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            json!({"company": "UPS", "number": "1Z999AA10123456784",
                   "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"})
        );
        assert_eq!(
            company_name(&tracking("amazon_shipping", "TBA123456789012", None)),
            "Amazon"
        );
        assert_eq!(
            company_name(&tracking("dhl_express", "1234567890", None)),
            "DHL Express"
        );
    }

    #[test]
    fn unknown_carrier_is_sent_without_a_link() {
        let input = TrackingInput::from_tracking(&tracking("colis_prive", "AB123", None));
        assert_eq!(
            serde_json::to_value(&input).unwrap(),
            json!({"company": "colis_prive", "number": "AB123"})
        );
    }

    #[test]
    fn order_ids_are_taken_as_gid_or_number_and_nothing_else() {
        assert_eq!(
            order_gid("gid://shopify/Order/5531").unwrap(),
            "gid://shopify/Order/5531"
        );
        assert_eq!(order_gid("5531").unwrap(), "gid://shopify/Order/5531");
        for bad in [
            "",
            "#1001",
            "gid://shopify/Customer/1",
            "gid://shopify/Order/",
        ] {
            assert!(
                matches!(order_gid(bad), Err(PushError::Rejected(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tracking_numbers_match_however_they_were_typed() {
        assert!(same_number("1z 999-aa1 0123456784", "1Z999AA10123456784"));
        assert!(!same_number("1Z999AA10123456784", "1Z999AA10123456785"));
    }

    #[test]
    fn user_errors_are_a_rejection_naming_the_field() {
        let payload: MutationPayload = serde_json::from_value(json!({
            "fulfillment": null,
            "userErrors": [{"field": ["fulfillment", "lineItemsByFulfillmentOrder"],
                            "message": "Fulfillment order is closed"}]
        }))
        .unwrap();
        let PushError::Rejected(reason) =
            user_errors("fulfillmentCreate", Some(payload)).unwrap_err()
        else {
            panic!("user errors are a rejection");
        };
        assert!(
            reason.contains("fulfillment.lineItemsByFulfillmentOrder: Fulfillment order is closed"),
            "{reason}"
        );
    }
}
