//! Orders as merchants submit them, parsed at the edge into valid values.

use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;
use crate::timeline::short_hash;

/// Where an order came from; decides whether its store hears about the tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderSource {
    Manual,
    Excel,
    Shopify,
    Amazon,
    Api,
}

impl OrderSource {
    pub const ALL: [OrderSource; 5] = [
        Self::Manual,
        Self::Excel,
        Self::Shopify,
        Self::Amazon,
        Self::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Excel => "excel",
            Self::Shopify => "shopify",
            Self::Amazon => "amazon",
            Self::Api => "api",
        }
    }

    /// "csv" and "spreadsheet" are what people call an Excel upload too.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "csv" | "xlsx" | "spreadsheet" => Some(Self::Excel),
            other => Self::ALL.into_iter().find(|s| s.as_str() == other),
        }
    }

    /// Integrated stores get their tracking pushed back automatically; everyone else's
    /// customers only learn it from the merchant.
    pub fn syncs_tracking_to_store(self) -> bool {
        matches!(self, Self::Shopify | Self::Amazon)
    }

    /// The sentence the order details show under "Store sync".
    pub fn tracking_sync_note(self) -> &'static str {
        match self {
            Self::Shopify => "Tracking is sent to your Shopify store automatically; your customer gets updates from the store.",
            Self::Amazon => "Tracking is sent to Amazon automatically; your customer gets updates from Amazon.",
            Self::Manual | Self::Excel | Self::Api => "This order was not imported from an integrated store: share the tracking details with your customer yourself.",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Customer {
    pub name: String,
    pub email: EmailAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// A validated new order, ready to store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub order_number: String,
    pub source: OrderSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_order_id: Option<String>,
    pub customer: Customer,
    pub ship_to: Address,
}

/// The order body as a client sends it; every field optional so that a missing field
/// becomes a precise validation message rather than a serde error.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[schemars(
    description = "A new order. Missing or invalid fields are answered together: 422 `validation_failed`, one `details` entry per field."
)]
pub struct OrderDraft {
    /// The merchant's order number: text, or a number as spreadsheets send it (read as
    /// its decimal text).
    /// With `source` it identifies the order, so sending it again is safe.
    #[schemars(required, schema_with = "order_number_schema")]
    pub order_number: Option<serde_json::Value>,
    #[schemars(required, with = "OrderSource")]
    pub source: Option<String>,
    /// The store's own id of the order; required when `source` is `shopify` or `amazon`,
    /// so tracking can be sent back.
    #[schemars(length(max = 128))]
    pub external_order_id: Option<String>,
    #[schemars(required)]
    pub customer: Option<CustomerDraft>,
    #[schemars(required)]
    pub ship_to: Option<AddressDraft>,
}

fn order_number_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_ORDER_NUMBER_LEN},
            {"type": "number"}
        ]
    })
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct CustomerDraft {
    #[schemars(required, length(min = 1, max = MAX_TEXT_LEN))]
    pub name: Option<String>,
    #[schemars(required, email, length(max = 254))]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct AddressDraft {
    #[schemars(required, length(min = 1, max = MAX_TEXT_LEN))]
    pub line1: Option<String>,
    #[schemars(length(max = MAX_TEXT_LEN))]
    pub line2: Option<String>,
    #[schemars(required, length(min = 1, max = MAX_TEXT_LEN))]
    pub city: Option<String>,
    #[schemars(length(max = 64))]
    pub state: Option<String>,
    #[schemars(length(max = 16))]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 ("US"); any letter case.
    #[schemars(required, regex(pattern = r"^[A-Za-z]{2}$"))]
    pub country: Option<String>,
}

/// One problem with one field, phrased for the person who filled it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub const MAX_ORDER_NUMBER_LEN: usize = 64;
pub const MAX_TEXT_LEN: usize = 200;

struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    fn required(&mut self, field: &str, value: Option<&str>, max_len: usize) -> String {
        match value.map(str::trim) {
            None | Some("") => {
                self.errors.push(FieldError::new(field, "is required"));
                String::new()
            }
            Some(v) => self.checked_text(field, v, max_len),
        }
    }

    fn optional(&mut self, field: &str, value: Option<&str>, max_len: usize) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(self.checked_text(field, v, max_len)),
        }
    }

    fn checked_text(&mut self, field: &str, value: &str, max_len: usize) -> String {
        if value.chars().count() > max_len {
            self.errors.push(FieldError::new(
                field,
                format!("is longer than {max_len} characters"),
            ));
        } else if value.chars().any(char::is_control) {
            self.errors
                .push(FieldError::new(field, "contains control characters"));
        }
        value.to_owned()
    }
}

impl OrderDraft {
    /// All problems at once, so a merchant fixes a row in one go.
    pub fn parse(self) -> Result<NewOrder, Vec<FieldError>> {
        let mut fields = Fields { errors: Vec::new() };
        let order_number_text = match &self.order_number {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            // Spreadsheets and some stores send order numbers as numbers.
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Null) | None => None,
            Some(_) => {
                fields.errors.push(FieldError::new(
                    "order_number",
                    "must be a string or a number",
                ));
                Some(String::from("invalid"))
            }
        };
        let order_number = fields.required(
            "order_number",
            order_number_text.as_deref(),
            MAX_ORDER_NUMBER_LEN,
        );
        let source = match self.source.as_deref().map(str::trim) {
            None | Some("") => {
                fields.errors.push(FieldError::new("source", "is required"));
                OrderSource::Manual
            }
            Some(raw) => OrderSource::parse(raw).unwrap_or_else(|| {
                fields.errors.push(FieldError::new(
                    "source",
                    "must be one of manual, excel, shopify, amazon, api",
                ));
                OrderSource::Manual
            }),
        };
        let external_order_id =
            fields.optional("external_order_id", self.external_order_id.as_deref(), 128);
        if source.syncs_tracking_to_store() && external_order_id.is_none() {
            fields.errors.push(FieldError::new(
                "external_order_id",
                "is required for store orders, so their tracking can be sent back",
            ));
        }

        let customer = self.customer.unwrap_or_default();
        let name = fields.required("customer.name", customer.name.as_deref(), MAX_TEXT_LEN);
        let email_text = fields.required("customer.email", customer.email.as_deref(), 254);
        let email = if email_text.is_empty() {
            None
        } else {
            match EmailAddress::parse(&email_text) {
                Ok(email) => Some(email),
                Err(_) => {
                    fields.errors.push(FieldError::new(
                        "customer.email",
                        "is not a valid email address",
                    ));
                    None
                }
            }
        };

        let address = self.ship_to.unwrap_or_default();
        let line1 = fields.required("ship_to.line1", address.line1.as_deref(), MAX_TEXT_LEN);
        let line2 = fields.optional("ship_to.line2", address.line2.as_deref(), MAX_TEXT_LEN);
        let city = fields.required("ship_to.city", address.city.as_deref(), MAX_TEXT_LEN);
        let state = fields.optional("ship_to.state", address.state.as_deref(), 64);
        let postal_code =
            fields.optional("ship_to.postal_code", address.postal_code.as_deref(), 16);
        let country = fields
            .required("ship_to.country", address.country.as_deref(), 64)
            .to_ascii_uppercase();
        let is_country_code = country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase());
        if !country.is_empty() && !is_country_code {
            fields.errors.push(FieldError::new(
                "ship_to.country",
                "must be a two-letter ISO country code such as US",
            ));
        }

        match (fields.errors.is_empty(), email) {
            (true, Some(email)) => Ok(NewOrder {
                order_number,
                source,
                external_order_id,
                customer: Customer { name, email },
                ship_to: Address {
                    line1,
                    line2,
                    city,
                    state,
                    postal_code,
                    country,
                },
            }),
            _ => Err(fields.errors),
        }
    }
}

pub use crate::shipment::Shipment;

/// An order as stored: what the merchant sent plus what happened since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredOrder")]
pub struct Order {
    pub order_id: String,
    pub merchant_id: String,
    #[serde(flatten)]
    pub details: NewOrder,
    pub status: crate::status::OrderStatus,
    /// The least advanced package's status (the summary's), kept on the order so the
    /// list can be filtered by it.
    pub shipment_status: crate::status::ShipmentStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completes_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its packages in the order they were added, voided ones included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shipments: Vec<Shipment>,
    /// Fingerprint of the request that created the order: a retry with the same body
    /// is the same order, a different body under the same order number is a conflict.
    pub request_fingerprint: String,
}

/// An order as it may be stored: today's layout, or the one before packages, where an
/// order had at most one `shipment` and its status was the order's `shipment_status`.
#[derive(Deserialize)]
struct StoredOrder {
    order_id: String,
    merchant_id: String,
    #[serde(flatten)]
    details: NewOrder,
    status: crate::status::OrderStatus,
    shipment_status: crate::status::ShipmentStatus,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    completes_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    completed_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    shipments: Vec<Shipment>,
    #[serde(default)]
    shipment: Option<Shipment>,
    request_fingerprint: String,
}

impl From<StoredOrder> for Order {
    fn from(stored: StoredOrder) -> Self {
        let mut shipments = stored.shipments;
        if shipments.is_empty() {
            if let Some(mut only) = stored.shipment {
                only.shipment_id = crate::shipment::shipment_id(&stored.order_id, 1);
                only.status = stored.shipment_status;
                shipments.push(only);
            }
        }
        Self {
            order_id: stored.order_id,
            merchant_id: stored.merchant_id,
            details: stored.details,
            status: stored.status,
            shipment_status: stored.shipment_status,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            completes_at: stored.completes_at,
            completed_at: stored.completed_at,
            shipments,
            request_fingerprint: stored.request_fingerprint,
        }
    }
}

impl NewOrder {
    pub fn fingerprint(&self) -> String {
        short_hash(&serde_json::to_string(self).unwrap_or_default())
    }

    /// The id this order is created under, which is what makes intake idempotent. A store
    /// order is the store's order: its number is only what the shop shows, and it repeats
    /// across sources (a manual #1001 beside the shop's #1001) and across a merchant's
    /// shops, so it is identified by the store's own order id. Every other order is the
    /// merchant's own numbering, identified by it.
    pub fn order_id(&self, merchant_id: &str) -> String {
        match (
            self.source.syncs_tracking_to_store(),
            self.external_order_id.as_deref(),
        ) {
            (true, Some(external)) => store_order_id(merchant_id, self.source, external),
            _ => order_id(merchant_id, &self.order_number),
        }
    }

    /// The field that identifies this order, for a per-field error on a collision.
    pub fn identity_field(&self) -> &'static str {
        if self.source.syncs_tracking_to_store() && self.external_order_id.is_some() {
            "external_order_id"
        } else {
            "order_number"
        }
    }

    /// What a conflicting create under the same id collides on, for the 409: the order
    /// number for the merchant's own orders, the store's order id for store orders.
    pub fn identity_conflict(&self, existing_order_id: &str) -> (&'static str, String) {
        match (
            self.source.syncs_tracking_to_store(),
            self.external_order_id.as_deref(),
        ) {
            (true, Some(external)) => (
                "store_order_taken",
                format!(
                    "The {} order {external} already exists with different details (order {existing_order_id}). Send exactly the same order to retry.",
                    self.source.as_str()
                ),
            ),
            _ => (
                "order_number_taken",
                format!(
                    "Order number {} already exists with different details (order {existing_order_id}). Use another order number, or send exactly the same order to retry.",
                    self.order_number
                ),
            ),
        }
    }
}

impl Order {
    pub fn new(merchant_id: &str, details: NewOrder, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            order_id: details.order_id(merchant_id),
            merchant_id: merchant_id.to_owned(),
            request_fingerprint: details.fingerprint(),
            details,
            status: crate::status::OrderStatus::Processing,
            shipment_status: crate::status::ShipmentStatus::Received,
            created_at: now,
            updated_at: now,
            completes_at: None,
            completed_at: None,
            shipments: Vec::new(),
        }
    }
}

/// The id of a merchant's own order (manual, spreadsheet, API): derived from merchant and
/// order number, so creating the same order twice lands on the same item and a
/// conditional put makes intake idempotent in one write.
pub fn order_id(merchant_id: &str, order_number: &str) -> String {
    format!(
        "ord_{}",
        &short_hash(&format!("order\u{0}{merchant_id}\u{0}{order_number}"))[..24]
    )
}

/// The id of a store order: derived from merchant, store and the store's own order id
/// (a Shopify gid, an Amazon order id), never from the order number. Store orders stored
/// before this rule keep the id they were created under (ids are never re-derived).
pub fn store_order_id(merchant_id: &str, source: OrderSource, external_order_id: &str) -> String {
    format!(
        "ord_{}",
        &short_hash(&format!(
            "store-order\u{0}{merchant_id}\u{0}{}\u{0}{external_order_id}",
            source.as_str()
        ))[..24]
    )
}

/// Shipping beyond the origin country changes the claim and stall clocks.
pub fn is_international(origin_country: &str, ship_to: &Address) -> bool {
    !ship_to.country.eq_ignore_ascii_case(origin_country)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The API document says what `parse` takes: an order number as text or as a number,
    /// and each required field present.
    #[test]
    fn the_schema_of_a_draft_matches_what_parse_accepts() {
        let schema = schemars::schema_for!(OrderDraft);
        let schema = schema.as_value();
        let kinds: Vec<&str> = schema["properties"]["order_number"]["oneOf"]
            .as_array()
            .expect("order_number is text or a number")
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["string", "number"]);
        assert_eq!(
            schema["properties"]["order_number"]["oneOf"][0]["maxLength"],
            MAX_ORDER_NUMBER_LEN
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["order_number", "source", "customer", "ship_to"]);
        for number in [json!("A-1"), json!(1001), json!(10.5)] {
            let mut body = valid();
            body["order_number"] = number;
            assert!(draft(body).parse().is_ok());
        }
    }

    fn draft(value: serde_json::Value) -> OrderDraft {
        serde_json::from_value(value).unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "order_number": "1001", "source": "manual", "external_order_id": null,
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "ship_to": {"line1": "1 Main St", "city": "Austin", "state": "TX",
                        "postal_code": "78701", "country": "us"}
        })
    }

    #[test]
    fn contract_example_order_parses() {
        let order = draft(valid()).parse().unwrap();
        assert_eq!(order.order_number, "1001");
        assert_eq!(order.source, OrderSource::Manual);
        assert_eq!(order.ship_to.country, "US");
    }

    #[test]
    fn numeric_order_number_is_accepted_as_text() {
        let mut body = valid();
        body["order_number"] = json!(1001);
        assert_eq!(draft(body).parse().unwrap().order_number, "1001");
    }

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let errors = draft(json!({})).parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order_number",
                "source",
                "customer.name",
                "customer.email",
                "ship_to.line1",
                "ship_to.city",
                "ship_to.country"
            ]
        );
    }

    #[test]
    fn oversized_and_invalid_fields_are_refused() {
        let mut body = valid();
        body["order_number"] = json!("9".repeat(65));
        body["customer"]["email"] = json!("not-an-email");
        body["ship_to"]["country"] = json!("USA");
        body["source"] = json!("ebay");
        let errors = draft(body).parse().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order_number",
                "source",
                "customer.email",
                "ship_to.country"
            ]
        );
    }

    #[test]
    fn store_orders_need_their_external_id_for_tracking_sync() {
        let mut body = valid();
        body["source"] = json!("shopify");
        let errors = draft(body).parse().unwrap_err();
        assert_eq!(errors[0].field, "external_order_id");
    }

    #[test]
    fn only_shopify_and_amazon_orders_sync_tracking_to_the_store() {
        let syncing: Vec<_> = OrderSource::ALL
            .into_iter()
            .filter(|s| s.syncs_tracking_to_store())
            .collect();
        assert_eq!(syncing, [OrderSource::Shopify, OrderSource::Amazon]);
        assert!(OrderSource::Excel
            .tracking_sync_note()
            .contains("share the tracking details"));
    }

    #[test]
    fn a_store_order_is_identified_by_its_store_order_id_not_its_number() {
        let manual = draft(valid()).parse().unwrap();
        let mut body = valid();
        body["source"] = json!("shopify");
        body["external_order_id"] = json!("gid://shopify/Order/5531");
        let shopify = draft(body.clone()).parse().unwrap();
        assert_eq!(manual.order_number, shopify.order_number);
        assert_ne!(manual.order_id("m1"), shopify.order_id("m1"));
        assert_eq!(
            shopify.order_id("m1"),
            store_order_id("m1", OrderSource::Shopify, "gid://shopify/Order/5531")
        );
        // The same store order with another number (a renamed order) is the same order.
        body["order_number"] = json!("A-1001");
        assert_eq!(
            draft(body.clone()).parse().unwrap().order_id("m1"),
            shopify.order_id("m1")
        );
        // Another store order with the same number is another order.
        body["external_order_id"] = json!("gid://shopify/Order/5532");
        assert_ne!(
            draft(body.clone()).parse().unwrap().order_id("m1"),
            shopify.order_id("m1")
        );
        // Store, merchant and id all count: an Amazon id equal to a Shopify one is not it.
        body["external_order_id"] = json!("gid://shopify/Order/5531");
        body["source"] = json!("amazon");
        assert_ne!(
            draft(body).parse().unwrap().order_id("m1"),
            shopify.order_id("m1")
        );
        assert_ne!(shopify.order_id("m2"), shopify.order_id("m1"));
        assert_eq!(shopify.order_id("m1").len(), 28);
        // The Shopify sample's id (events/platform-sync carries this very order).
        assert_eq!(
            store_order_id(
                "merchant-acme",
                OrderSource::Shopify,
                "gid://shopify/Order/5531"
            ),
            "ord_aea3d576e2dfec1f8211cf9e"
        );
    }

    #[test]
    fn merchant_orders_keep_their_number_derived_id() {
        for source in ["manual", "excel", "api"] {
            let mut body = valid();
            body["source"] = json!(source);
            // An external id on a non-store order is informational: the number still rules.
            body["external_order_id"] = json!("ERP-77");
            let order = draft(body).parse().unwrap();
            assert_eq!(order.order_id("m1"), order_id("m1", "1001"), "{source}");
        }
        // Ids already handed out must not move: merchant-acme's #1001 has had this one
        // since the first release (it was also the Shopify sample's id under the old rule).
        assert_eq!(
            order_id("merchant-acme", "1001"),
            "ord_cbfba8658e1a28567cda6e50"
        );
        assert_eq!(
            Order::new("m1", draft(valid()).parse().unwrap(), chrono::Utc::now()).order_id,
            order_id("m1", "1001")
        );
    }

    #[test]
    fn a_conflict_names_what_collided() {
        let manual = draft(valid()).parse().unwrap();
        assert_eq!(manual.identity_conflict("ord_x").0, "order_number_taken");
        let mut body = valid();
        body["source"] = json!("amazon");
        body["external_order_id"] = json!("902-0300094-5705420");
        let (code, message) = draft(body).parse().unwrap().identity_conflict("ord_x");
        assert_eq!(code, "store_order_taken");
        assert!(
            message.contains("amazon order 902-0300094-5705420"),
            "{message}"
        );
    }

    #[test]
    fn order_id_is_stable_per_merchant_and_order_number() {
        assert_eq!(order_id("m1", "1001"), order_id("m1", "1001"));
        assert_ne!(order_id("m1", "1001"), order_id("m2", "1001"));
        assert_ne!(order_id("m1", "1001"), order_id("m1", "1002"));
        assert_eq!(order_id("m1", "1001").len(), 28);
    }

    #[test]
    fn text_of_the_limit_is_taken_and_one_character_more_is_not() {
        let mut at_limit = valid();
        at_limit["customer"]["name"] = "n".repeat(MAX_TEXT_LEN).into();
        assert!(draft(at_limit).parse().is_ok());
        let mut over = valid();
        over["customer"]["name"] = "n".repeat(MAX_TEXT_LEN + 1).into();
        let errors = draft(over).parse().unwrap_err();
        assert_eq!(errors[0].field, "customer.name");
    }

    #[test]
    fn the_same_body_has_one_fingerprint_and_another_body_another() {
        let first = draft(valid()).parse().unwrap().fingerprint();
        assert_eq!(first, draft(valid()).parse().unwrap().fingerprint());
        assert_eq!(first.len(), 32);
        let mut other = valid();
        other["customer"]["name"] = "Grace Hopper".into();
        assert_ne!(first, draft(other).parse().unwrap().fingerprint());
    }

    fn labeled_order(at: chrono::DateTime<chrono::Utc>) -> Order {
        let mut order = Order::new("m1", draft(valid()).parse().unwrap(), at);
        let label = crate::label::Label {
            carrier: crate::carriers::Carrier::Ups,
            service: "ground".into(),
            tracking_number: crate::carriers::TrackingNumber::parse(
                crate::carriers::Carrier::Ups,
                "1Z999AA10123456784",
            )
            .unwrap(),
            label_source: crate::claims::LabelSource::Jetpack,
        };
        order.shipments = vec![label.shipment(order.next_shipment_id(), at)];
        order.shipment_status = crate::status::ShipmentStatus::AtDepot;
        order
    }

    #[test]
    fn a_scan_refreshes_the_order_once_and_a_stall_clears_only_when_the_carrier_speaks_after_it() {
        use crate::timeline::{tests::scan, ScanCode, Timeline};
        let label_at = chrono::DateTime::parse_from_rfc3339("2026-11-24T16:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let order = labeled_order(label_at);
        let hour = chrono::Duration::hours(1);
        let timeline = Timeline::new([scan(ScanCode::Pickup, label_at + hour)]);
        let refreshed = order
            .refreshed_from(&timeline, label_at + hour * 2)
            .expect("a pickup changes the order");
        assert_eq!(
            refreshed.shipment_status,
            crate::status::ShipmentStatus::InTransit
        );
        assert_eq!(refreshed.updated_at, label_at + hour * 2);
        assert_eq!(
            refreshed.refreshed_from(&timeline, label_at + hour * 3),
            None
        );

        // Flagged stalled after the scan was recorded: the same scan does not clear it.
        let mut stalled = refreshed.clone();
        if let Some(s) = stalled.shipments.first_mut() {
            s.stalled = true;
            s.stalled_at = Some(label_at + hour * 10);
        }
        assert_eq!(
            stalled.refreshed_from(&timeline, label_at + hour * 11),
            None
        );
        let mut later = scan(ScanCode::InTransit, label_at + hour * 12);
        later.recorded_at = label_at + hour * 12;
        let resumed = Timeline::new([scan(ScanCode::Pickup, label_at + hour), later]);
        let cleared = stalled
            .refreshed_from(&resumed, label_at + hour * 12)
            .expect("the carrier spoke again");
        let shipment = cleared.shipments[0].clone();
        assert!(!shipment.stalled && shipment.stalled_at.is_none());
    }

    #[test]
    fn a_collision_names_what_identifies_the_order() {
        let manual = draft(valid()).parse().unwrap();
        assert_eq!(manual.identity_field(), "order_number");
        assert_eq!(manual.identity_conflict("ord_1").0, "order_number_taken");
        // A merchant's own order that carries some outside reference is still its number.
        let mut referenced = valid();
        referenced["external_order_id"] = json!("ERP-77");
        let referenced = draft(referenced).parse().unwrap();
        assert_eq!(referenced.identity_field(), "order_number");
        assert!(manual.identity_conflict("ord_1").1.contains("1001"));
        let mut body = valid();
        body["source"] = json!("shopify");
        body["external_order_id"] = json!("gid://shopify/Order/5531");
        let shopify = draft(body).parse().unwrap();
        assert_eq!(shopify.identity_field(), "external_order_id");
        let (code, message) = shopify.identity_conflict("ord_1");
        assert_eq!(code, "store_order_taken");
        assert!(message.contains("gid://shopify/Order/5531") && message.contains("ord_1"));
    }
}
