//! A Shopify `orders/create` webhook body, read into the order draft every intake shares.
//!
//! Only what an order needs is read; Shopify sends far more (line items, prices, taxes).
//! Missing pieces are left empty so that the shared validation names them all at once.

use serde::Deserialize;
use serde_json::Value;
use tracking_domain::order::{AddressDraft, CustomerDraft, FieldError, OrderDraft};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ShopifyOrder {
    /// The REST id (a number); the gid below is what the Admin GraphQL API takes.
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub admin_graphql_api_id: Option<String>,
    /// What the merchant and the customer see: "#1001" (prefix and suffix configurable).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub order_number: Option<Value>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub customer: Option<ShopifyCustomer>,
    #[serde(default)]
    pub shipping_address: Option<ShopifyAddress>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ShopifyCustomer {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ShopifyAddress {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub province_code: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
}

fn present(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn full_name(first: &Option<String>, last: &Option<String>) -> Option<String> {
    let name = [present(first), present(last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Some(name).filter(|n| !n.is_empty())
}

impl ShopifyOrder {
    /// The order's Admin API id: Shopify's own gid, or one built from the REST id.
    fn graphql_id(&self) -> Option<String> {
        present(&self.admin_graphql_api_id).or_else(|| match &self.id {
            Some(Value::Number(n)) => Some(format!("gid://shopify/Order/{n}")),
            _ => None,
        })
    }

    /// The order number as the merchant searches for it: the order's name without its
    /// leading '#', else the plain order number.
    fn number(&self) -> Option<Value> {
        present(&self.name)
            .map(|name| name.trim_start_matches('#').trim().to_owned())
            .filter(|name| !name.is_empty())
            .map(Value::String)
            .or_else(|| self.order_number.clone().filter(|n| !n.is_null()))
    }

    pub fn into_draft(self) -> OrderDraft {
        let order_number = self.number();
        let external_order_id = self.graphql_id();
        let customer = self.customer.unwrap_or_default();
        let address = self.shipping_address.unwrap_or_default();
        let customer_name = full_name(&customer.first_name, &customer.last_name)
            .or_else(|| present(&address.name))
            .or_else(|| full_name(&address.first_name, &address.last_name));
        let email = present(&customer.email)
            .or_else(|| present(&self.email))
            .or_else(|| present(&self.contact_email));
        OrderDraft {
            order_number,
            source: Some("shopify".into()),
            external_order_id,
            customer: Some(CustomerDraft {
                name: customer_name,
                email,
            }),
            ship_to: Some(AddressDraft {
                line1: present(&address.address1),
                line2: present(&address.address2),
                city: present(&address.city),
                state: present(&address.province_code).or_else(|| present(&address.province)),
                postal_code: present(&address.zip),
                country: present(&address.country_code),
            }),
        }
    }
}

/// Our field names in Shopify's words, so the refusal reads right in Shopify's delivery log.
pub fn in_shopify_terms(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut error| {
            let shopify = match error.field.as_str() {
                "order_number" => "name",
                "external_order_id" => "admin_graphql_api_id",
                "customer.name" => "customer.first_name",
                "customer.email" => "email",
                "ship_to.line1" => "shipping_address.address1",
                "ship_to.line2" => "shipping_address.address2",
                "ship_to.city" => "shipping_address.city",
                "ship_to.state" => "shipping_address.province_code",
                "ship_to.postal_code" => "shipping_address.zip",
                "ship_to.country" => "shipping_address.country_code",
                _ => return error,
            };
            error.field = shopify.to_owned();
            error
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracking_domain::order::OrderSource;

    fn sample() -> Value {
        let event: Value = serde_json::from_str(include_str!(
            "../../../events/store-webhooks/shopify-orders-create.json"
        ))
        .unwrap();
        serde_json::from_str(event["body"].as_str().unwrap()).unwrap()
    }

    fn parse(body: Value) -> Result<tracking_domain::order::NewOrder, Vec<FieldError>> {
        serde_json::from_value::<ShopifyOrder>(body)
            .unwrap()
            .into_draft()
            .parse()
    }

    #[test]
    fn sample_webhook_becomes_a_shopify_order_with_its_gid() {
        let order = parse(sample()).unwrap();
        assert_eq!(order.order_number, "1001");
        assert_eq!(order.source, OrderSource::Shopify);
        assert_eq!(
            order.external_order_id.as_deref(),
            Some("gid://shopify/Order/5531")
        );
        assert_eq!(order.customer.name, "Ada Lovelace");
        assert_eq!(order.customer.email.as_str(), "ada@example.com");
        assert_eq!(order.ship_to.line1, "1 Main St");
        assert_eq!(order.ship_to.line2.as_deref(), Some("Suite 200"));
        assert_eq!(order.ship_to.state.as_deref(), Some("TX"));
        assert_eq!(order.ship_to.postal_code.as_deref(), Some("78701"));
        assert_eq!(order.ship_to.country, "US");
    }

    #[test]
    fn fallbacks_fill_what_a_guest_checkout_leaves_out() {
        let mut body = sample();
        body["customer"] = Value::Null;
        body["name"] = Value::Null;
        body["admin_graphql_api_id"] = Value::Null;
        let order = parse(body).unwrap();
        assert_eq!(order.order_number, "1001");
        assert_eq!(order.customer.name, "Ada Lovelace");
        assert_eq!(order.customer.email.as_str(), "ada@example.com");
        assert_eq!(
            order.external_order_id.as_deref(),
            Some("gid://shopify/Order/5531")
        );
    }

    #[test]
    fn an_order_without_shipping_address_is_refused_in_shopify_terms() {
        let mut body = sample();
        body["shipping_address"] = Value::Null;
        body["customer"] = Value::Null;
        let errors = in_shopify_terms(parse(body).unwrap_err());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "customer.first_name",
                "shipping_address.address1",
                "shipping_address.city",
                "shipping_address.country_code"
            ]
        );
    }
}
