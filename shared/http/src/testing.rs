//! Test support shared by every function's tests: API Gateway HTTP API events with the
//! fields a test needs changed, and handler responses read back as JSON.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// An API Gateway v2 event from `events/`, with the fields a test cares about changed.
#[derive(Debug, Clone)]
pub struct ApiEvent(pub Value);

impl ApiEvent {
    pub fn from_json(json: &str) -> Self {
        Self(serde_json::from_str(json).expect("event json"))
    }

    fn claims_mut(&mut self) -> &mut serde_json::Map<String, Value> {
        self.0["requestContext"]["authorizer"]["jwt"]["claims"]
            .as_object_mut()
            .expect("the sample has JWT claims")
    }

    /// The samples are Cognito ID tokens (the template's own user pool): the merchant is
    /// the `custom:merchant_id` attribute. A sample without Cognito's `token_use` is a
    /// brought identity provider's token and gets a `merchant_id` claim.
    pub fn merchant(mut self, merchant_id: &str) -> Self {
        let claims = self.claims_mut();
        let name = if claims.contains_key("token_use") {
            claims.remove("merchant_id");
            "custom:merchant_id"
        } else {
            "merchant_id"
        };
        claims.insert(name.into(), Value::from(merchant_id));
        self
    }

    /// Cognito: membership of the `operations` group (flattened the way the HTTP API's
    /// authorizer passes array claims); a brought provider: the `role` claim.
    pub fn role(mut self, role: &str) -> Self {
        let claims = self.claims_mut();
        if claims.contains_key("token_use") {
            claims.remove("role");
            match role {
                "operations" => claims.insert("cognito:groups".into(), "[operations]".into()),
                _ => claims.remove("cognito:groups"),
            };
        } else {
            claims.insert("role".into(), Value::from(role));
        }
        self
    }

    pub fn without_authorizer(mut self) -> Self {
        self.0["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        self
    }

    pub fn body_json(self, body: &Value) -> Self {
        self.body_text(&body.to_string())
    }

    pub fn body_text(mut self, body: &str) -> Self {
        self.0["body"] = Value::from(body);
        self.0["isBase64Encoded"] = Value::from(false);
        self
    }

    /// Binary uploads (an XLSX file) reach Lambda base64-encoded.
    pub fn body_binary(mut self, bytes: &[u8]) -> Self {
        use base64::Engine;
        self.0["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.0["isBase64Encoded"] = Value::from(true);
        self
    }

    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.0["pathParameters"][name] = Value::from(value);
        self
    }

    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), Value::from(*v));
        }
        self.0["rawQueryString"] = Value::from(
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect::<Vec<_>>()
                .join("&"),
        );
        if map.is_empty() {
            self.0
                .as_object_mut()
                .unwrap()
                .remove("queryStringParameters");
        } else {
            self.0["queryStringParameters"] = Value::Object(map);
        }
        self
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.0.to_string())
            .expect("event parses as an API Gateway request")
    }
}

/// API Gateway sends the raw query string URL-encoded, as the client wrote it.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Status and JSON body of a handler's response.
pub fn read_response(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("json body"),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("json body"),
        _ => Value::Null,
    };
    (status, body)
}
