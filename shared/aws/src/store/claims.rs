//! Claims storage (claims-intake).
//!
//! Claims live in their order's partition, beside the order and its timeline, so the
//! one Query that reads an order's details also reads its claims:
//!
//! | item             | pk                 | sk                   | indexed by |
//! |------------------|--------------------|----------------------|------------|
//! | claim            | `ORDER#{order_id}` | `CLAIM#{claim_id}`   | `claims_by_merchant`: `claims_pk` = `MERCHANT#{merchant_id}#CLAIMS`, `claims_sk` = `{created_at}#{claim_id}` |
//! | open-claim guard | `ORDER#{order_id}` | `OPEN_CLAIM#{type}#{shipment_id}` | - |
//! | claim-filed event| `ORDER#{order_id}` | `EVENT#{event_id}`   | -          |
//!
//! The guard exists exactly while a claim of its type is open on the package, which
//! turns "one open claim per package and type" into a conditional put. A claim, its
//! guard and its timeline event are written in one transaction so they cannot diverge.
//!
//! The event item is the notification outbox: besides the timeline row it carries a
//! `claim` map (id, type, description, carrier reference) for the stream consumer that
//! emails subscribers, so that consumer never has to read the claim back.

use crate::ports::Claims;
use std::collections::HashMap;

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracking_domain::claims::{ClaimRecord, ClaimState, ClaimType};
use tracking_domain::order::Order;
use tracking_domain::timeline::{Timeline, TimelineEvent};

use super::{
    decode_page_key, from_item, is_lost_race, order_pk, page_of, timestamp, to_item, EventItem,
    ListError, OrderStore, PageKey, StoreError, INDEX_CLAIMS_BY_MERCHANT,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClaimItem {
    pk: String,
    sk: String,
    claims_pk: String,
    claims_sk: String,
    #[serde(flatten)]
    claim: ClaimRecord,
}

impl ClaimItem {
    fn new(claim: ClaimRecord) -> Self {
        Self {
            pk: order_pk(&claim.order_id),
            sk: claim_sk(&claim.claim_id),
            claims_pk: claims_partition(&claim.merchant_id),
            claims_sk: format!("{}#{}", timestamp(claim.created_at), claim.claim_id),
            claim,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct OpenClaimGuard<'a> {
    pk: String,
    sk: String,
    claim_id: &'a str,
    #[serde(rename = "type")]
    claim_type: ClaimType,
    created_at: DateTime<Utc>,
}

/// What the notifier needs to write the claim email, carried on the event item.
#[derive(Debug, Clone, Serialize)]
struct ClaimNotice<'a> {
    claim_id: &'a str,
    #[serde(rename = "type")]
    claim_type: ClaimType,
    merchant_id: &'a str,
    order_number: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier_reference: Option<&'a str>,
}

/// A timeline event item (the same attributes as every other one) plus the outbox detail.
#[derive(Debug, Clone, Serialize)]
struct ClaimEventItem<'a> {
    #[serde(flatten)]
    event: EventItem,
    claim: ClaimNotice<'a>,
}

pub(crate) fn is_claim_key(sk: &str) -> bool {
    sk.starts_with("CLAIM#")
}

pub(crate) fn claim_from_item(
    item: HashMap<String, AttributeValue>,
) -> Result<ClaimRecord, StoreError> {
    Ok(from_item::<ClaimItem>(item)?.claim)
}

/// A condition that `#state` is any stored spelling of `state` (claims filed before the
/// lifecycle say `open`), with its values.
fn state_in(state: ClaimState, prefix: &str) -> (String, HashMap<String, AttributeValue>) {
    let values: HashMap<String, AttributeValue> = state
        .stored_names()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                format!("{prefix}{i}"),
                AttributeValue::S((*name).to_owned()),
            )
        })
        .collect();
    let mut names: Vec<&String> = values.keys().collect();
    names.sort();
    let condition = names
        .iter()
        .map(|n| format!("#state = {n}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    (format!("({condition})"), values)
}

/// A claim's timeline row as stored: the row, plus what the notifier mails about it.
fn claim_event_item(claim: &ClaimRecord, event: TimelineEvent) -> ClaimEventItem<'_> {
    ClaimEventItem {
        event: EventItem::new(&claim.order_id, event),
        claim: ClaimNotice {
            claim_id: &claim.claim_id,
            claim_type: claim.claim_type,
            merchant_id: &claim.merchant_id,
            order_number: &claim.order_number,
            description: &claim.description,
            carrier_reference: claim.carrier_reference.as_deref(),
        },
    }
}

fn claim_sk(claim_id: &str) -> String {
    format!("CLAIM#{claim_id}")
}

/// The open-claim guard of `claim`'s package and type. Claims filed before packages had
/// ids keep the guard they were filed with, so closing one finds it.
fn guard_sk(claim: &ClaimRecord) -> String {
    match claim.shipment_id.as_deref() {
        None => format!("OPEN_CLAIM#{}", claim.claim_type.as_str()),
        Some(package) => format!("OPEN_CLAIM#{}#{package}", claim.claim_type.as_str()),
    }
}

pub(crate) fn claims_partition(merchant_id: &str) -> String {
    format!("MERCHANT#{merchant_id}#CLAIMS")
}

/// An order with its timeline and every claim on it, read in one Query.
#[derive(Debug, Clone)]
pub struct OrderClaims {
    pub order: Order,
    pub version: u64,
    pub timeline: Timeline,
    /// Newest first.
    pub claims: Vec<ClaimRecord>,
}

#[derive(Debug, Clone, Default)]
pub struct ClaimQuery {
    pub state: Option<ClaimState>,
    pub limit: i32,
    pub cursor: Option<String>,
}

#[derive(Debug)]
pub struct ClaimPage {
    pub claims: Vec<ClaimRecord>,
    pub next_cursor: Option<String>,
}

/// The claims index's page keys.
pub(crate) const CLAIM_PAGE_KEY: PageKey = PageKey {
    partition_attrs: &["claims_pk"],
    sort_attr: "claims_sk",
    item_sk: |sk| sk.starts_with("CLAIM#"),
};

/// A claims page position, accepted only from this merchant's claims list.
pub fn decode_claims_cursor(
    cursor: &str,
    partition: &str,
) -> Result<HashMap<String, AttributeValue>, ListError> {
    decode_page_key(cursor, partition, &CLAIM_PAGE_KEY)
}

impl Claims for OrderStore {
    /// The order, its timeline and its claims: one Query over the order's partition.
    async fn order_with_claims(&self, order_id: &str) -> Result<Option<OrderClaims>, StoreError> {
        let partition = self.read_partition(order_id, "order with claims").await?;
        let mut claims = partition.claims;
        claims.sort_by(|a, b| (b.created_at, &b.claim_id).cmp(&(a.created_at, &a.claim_id)));
        Ok(partition.order.map(|item| OrderClaims {
            order: item.order,
            version: item.version,
            timeline: Timeline::new(partition.events),
            claims,
        }))
    }

    /// Files an open claim: the claim, its open-claim guard and its timeline event in one
    /// transaction, on the condition that the order is still at `order_version` (the
    /// state the claim was decided on). Any lost race is [`StoreError::Contention`]: the
    /// caller re-reads and decides again, which also turns a concurrent copy of the same
    /// request into "already filed".
    async fn file_claim(
        &self,
        order_version: u64,
        claim: &ClaimRecord,
        event: TimelineEvent,
    ) -> Result<(), StoreError> {
        if claim.state != ClaimState::Open {
            return Err(anyhow!("only an open claim can be filed").into());
        }
        let guard = OpenClaimGuard {
            pk: order_pk(&claim.order_id),
            sk: guard_sk(claim),
            claim_id: &claim.claim_id,
            claim_type: claim.claim_type,
            created_at: claim.created_at,
        };
        let event_item = claim_event_item(claim, event);
        let put_new = |item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .context("build claim transaction put")?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let order_unchanged = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(order_pk(&claim.order_id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(order_version.to_string()))
            .build()
            .context("build order condition check")?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(put_new(to_item(&ClaimItem::new(claim.clone()))?)?)
            .transact_items(put_new(to_item(&guard)?)?)
            .transact_items(put_new(to_item(&event_item)?)?)
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(order_unchanged)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if is_lost_race(e.err()) => Err(StoreError::Contention),
            Err(e) => Err(anyhow!(e).context("file claim transaction").into()),
        }
    }

    /// Moves a claim one step on: the claim as moved, on the condition that it is still
    /// in `from`, with the step's timeline row (the notification outbox), and, once the
    /// claim is decided, its open-claim guard removed so its package may be claimed for
    /// again. A claim that moved since it was read is [`StoreError::Contention`].
    async fn move_claim(
        &self,
        moved: &ClaimRecord,
        from: ClaimState,
        event: TimelineEvent,
    ) -> Result<(), StoreError> {
        let (condition, values) = state_in(from, ":from");
        let claim_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&ClaimItem::new(moved.clone()))?))
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .build()
            .context("build claim put")?;
        let event_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&claim_event_item(moved, event))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .context("build claim event put")?;
        let mut items = vec![
            TransactWriteItem::builder().put(claim_put).build(),
            TransactWriteItem::builder().put(event_put).build(),
        ];
        if !moved.state.is_open() {
            let delete_guard = Delete::builder()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(order_pk(&moved.order_id)))
                .key("sk", AttributeValue::S(guard_sk(moved)))
                .condition_expression("attribute_not_exists(pk) OR claim_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(moved.claim_id.clone()))
                .build()
                .context("build guard delete")?;
            items.push(TransactWriteItem::builder().delete(delete_guard).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if is_lost_race(e.err()) => Err(StoreError::Contention),
            Err(e) => Err(anyhow!(e).context("move claim transaction").into()),
        }
    }

    /// A merchant's claims, newest first, one indexed Query per page. A state filter
    /// applies to the page read, so a page may hold fewer than `limit` claims while
    /// `next_cursor` still points further.
    async fn list_claims(
        &self,
        merchant_id: &str,
        query: &ClaimQuery,
    ) -> Result<ClaimPage, ListError> {
        let partition = claims_partition(merchant_id);
        let start_key = match &query.cursor {
            Some(cursor) => Some(decode_claims_cursor(cursor, &partition)?),
            None => None,
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_CLAIMS_BY_MERCHANT)
            .key_condition_expression("claims_pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(partition.clone()))
            .scan_index_forward(false)
            .limit(query.limit)
            .set_exclusive_start_key(start_key);
        if let Some(state) = query.state {
            let (names, values) = state_in(state, ":state");
            request = request
                .filter_expression(names)
                .expression_attribute_names("#state", "state");
            // Added one by one: the partition's `:p` is already in the map.
            for (name, value) in values {
                request = request.expression_attribute_values(name, value);
            }
        }
        let output = request.send().await.context("query claims index")?;
        let (claims, next_cursor) =
            page_of(output, &partition, |item: ClaimItem| item.claim).map_err(|e| anyhow!(e))?;
        Ok(ClaimPage {
            claims,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::encode_cursor;

    fn page_key(merchant: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (
                "claims_pk".to_owned(),
                AttributeValue::S(claims_partition(merchant)),
            ),
            (
                "claims_sk".to_owned(),
                AttributeValue::S("2026-09-20T15:00:00.000Z#clm_x".into()),
            ),
            ("pk".to_owned(), AttributeValue::S("ORDER#ord_x".into())),
            ("sk".to_owned(), AttributeValue::S("CLAIM#clm_x".into())),
        ])
    }

    #[test]
    fn claims_cursor_is_refused_for_another_merchant() {
        let cursor = encode_cursor(&claims_partition("a"), page_key("a")).unwrap();
        assert!(decode_claims_cursor(&cursor, &claims_partition("a")).is_ok());
        assert!(matches!(
            decode_claims_cursor(&cursor, &claims_partition("b")),
            Err(ListError::InvalidCursor)
        ));
    }

    #[test]
    fn claims_cursor_with_a_forged_key_is_refused() {
        // Right partition name, but a key pointing at another merchant's index partition.
        let forged = encode_cursor(&claims_partition("a"), page_key("b")).unwrap();
        assert!(matches!(
            decode_claims_cursor(&forged, &claims_partition("a")),
            Err(ListError::InvalidCursor)
        ));
        // An order-list cursor is not a claims cursor.
        let order_key = HashMap::from([
            ("list_pk".to_owned(), AttributeValue::S("MERCHANT#a".into())),
            ("list_sk".to_owned(), AttributeValue::S("2026#x".into())),
            ("pk".to_owned(), AttributeValue::S("ORDER#x".into())),
            ("sk".to_owned(), AttributeValue::S("ORDER".into())),
        ]);
        let orders = encode_cursor(&claims_partition("a"), order_key).unwrap();
        assert!(matches!(
            decode_claims_cursor(&orders, &claims_partition("a")),
            Err(ListError::InvalidCursor)
        ));
        assert!(matches!(
            decode_claims_cursor("%%%", &claims_partition("a")),
            Err(ListError::InvalidCursor)
        ));
    }

    #[test]
    fn claim_states_parse_from_their_api_names() {
        for state in ClaimState::ALL {
            assert_eq!(ClaimState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ClaimState::parse(" Open "), Some(ClaimState::Open));
        assert_eq!(ClaimState::parse("pending"), None);
    }

    #[test]
    fn claim_sort_key_orders_by_creation_time() {
        use chrono::TimeZone;
        let at = |h| Utc.with_ymd_and_hms(2026, 9, 20, h, 0, 0).unwrap();
        let record = |id: &str, created_at| ClaimRecord {
            claim_id: id.into(),
            order_id: "ord_1".into(),
            merchant_id: "m".into(),
            order_number: "1".into(),
            claim_type: ClaimType::Damaged,
            state: ClaimState::Open,
            description: "d".into(),
            carrier_reference: None,
            shipment_id: None,
            carrier: "ups".into(),
            tracking_number: "1Z".into(),
            international: false,
            created_at,
            updated_at: created_at,
            request_fingerprint: "f".into(),
            event_id: "e".into(),
            history: Vec::new(),
        };
        let early = ClaimItem::new(record("clm_b", at(9)));
        let late = ClaimItem::new(record("clm_a", at(10)));
        assert!(early.claims_sk < late.claims_sk);
        assert_eq!(early.claims_pk, "MERCHANT#m#CLAIMS");
        assert_eq!(early.sk, "CLAIM#clm_b");
    }
}
