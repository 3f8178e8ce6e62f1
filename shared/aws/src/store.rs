//! The DynamoDB store: one table holding orders, their timelines and lookups.
//!
//! Item layout (every access pattern of the design is one request):
//!
//! | item            | pk                         | sk               | indexed by |
//! |-----------------|----------------------------|------------------|------------|
//! | order           | `ORDER#{order_id}`         | `ORDER`          | `by_merchant`, `by_status`, `by_shipment_status`, `by_attention` (while a package raises a flag), `lookup`, `due` (while due) |
//! | timeline event  | `ORDER#{order_id}`         | `EVENT#{event_id}` | -        |
//! | tracking claim  | `TRACKING#{carrier}#{no}`  | `TRACKING`       | `lookup`   |
//! | webhook delivery | `WEBHOOK#...` (see [`webhooks`]) | `DELIVERY` | -          |
//! | nightly hand-off | `NIGHTLY#{scheduled_time}` (see [`nightly`]) | `CONTINUATION#...` | - |
//!
//! An order and its events share a partition, so the details page is one Query. The
//! tracking item makes a tracking number unique per carrier through a conditional write
//! and answers "which order is this scan for" with one GetItem.

pub mod claims;
pub mod nightly;
pub mod optimistic;
pub mod polls;
pub mod subscriptions;
pub mod sync;
pub mod webhooks;

use crate::ports::{Orders, SweepLists, Timelines, TrackingNumbers};
use std::collections::{BTreeMap, HashMap};

use anyhow::{anyhow, Context};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tracking_domain::label::{LabelChange, Released, VoidChange};
use tracking_domain::nightly::Sweep;
use tracking_domain::order::Order;
use tracking_domain::shipment::ShipmentFilter;
use tracking_domain::status::{OrderStatus, ShipmentStatus};
use tracking_domain::timeline::{Timeline, TimelineEvent};

pub const INDEX_BY_MERCHANT: &str = "by_merchant";
pub const INDEX_BY_STATUS: &str = "by_status";
pub const INDEX_BY_SHIPMENT_STATUS: &str = "by_shipment_status";
pub const INDEX_BY_ATTENTION: &str = "by_attention";
pub const INDEX_LOOKUP: &str = "lookup";
pub const INDEX_DUE: &str = "due";

/// The partition of the sparse due-for-completion index. Only orders waiting for their
/// 06:00 CT completion carry it, so the nightly query costs what is due, not what exists.
pub const DUE_PARTITION: &str = "DUE";
pub const WATCH_PARTITION: &str = "WATCH";
pub const EXPIRY_PARTITION: &str = "EXPIRY";
pub const AWAITING_FIRST_SCAN_PARTITION: &str = "AWAITING_FIRST_SCAN";
pub const INDEX_STALL_WATCH: &str = "stall_watch";
pub const INDEX_EXPIRY: &str = "expiry";
pub const INDEX_AWAITING_FIRST_SCAN: &str = "awaiting_first_scan";
pub const INDEX_CLAIMS_BY_MERCHANT: &str = "claims_by_merchant";

/// How many times a batch read asks again for the keys DynamoDB left unprocessed.
const MAX_UNPROCESSED_ROUNDS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the item between our read and our write.
    #[error("the order was changed by another request; try again")]
    Contention,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Search terms are matched loosely: people paste tracking numbers with spaces and
/// dashes, and order numbers with a leading '#'.
pub fn normalize_lookup_term(term: &str) -> String {
    term.trim()
        .trim_start_matches('#')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

pub(crate) fn order_pk(order_id: &str) -> String {
    format!("ORDER#{order_id}")
}

pub(crate) fn tracking_pk(carrier_code: &str, tracking_number: &str) -> String {
    format!("TRACKING#{carrier_code}#{tracking_number}")
}

pub(crate) fn merchant_pk(merchant_id: &str) -> String {
    format!("MERCHANT#{merchant_id}")
}

pub(crate) fn status_pk(merchant_id: &str, status: OrderStatus) -> String {
    format!("MERCHANT#{merchant_id}#STATUS#{}", status.as_str())
}

pub(crate) fn attention_pk(merchant_id: &str) -> String {
    format!("MERCHANT#{merchant_id}#ATTENTION")
}

pub(crate) fn shipment_status_pk(merchant_id: &str, status: ShipmentStatus) -> String {
    format!("MERCHANT#{merchant_id}#SHIPMENT#{}", status.as_str())
}

pub(crate) fn lookup_pk(merchant_id: &str, term: &str) -> String {
    format!(
        "MERCHANT#{merchant_id}#LOOKUP#{}",
        normalize_lookup_term(term)
    )
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    // Fixed width so that string order is time order in sort keys.
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An order as stored: the domain order plus the keys of every index it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OrderItem {
    pk: String,
    sk: String,
    pub(crate) version: u64,
    pub(crate) list_pk: String,
    pub(crate) list_sk: String,
    pub(crate) status_pk: String,
    pub(crate) shipment_status_pk: String,
    /// Only while a package raises a flag (see [`tracking_domain::shipment::Attention`]):
    /// the sparse list of the
    /// orders a merchant should look at, filtered by `attention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) attention_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) attention: Vec<String>,
    pub(crate) lookup_pk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watch_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watch_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiry_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_scan_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_scan_due_at: Option<String>,
    #[serde(flatten)]
    pub(crate) order: Order,
}

impl OrderItem {
    pub(crate) fn new(order: Order, version: u64) -> Self {
        // An order is in a sweep's sparse index only while the domain puts it on that
        // sweep's list, so each sweep reads what is due, not what exists.
        let position = |sweep: Sweep| sweep.position_of(&order).map(timestamp);
        let partition = |at: &Option<String>, sweep: Sweep| {
            at.as_ref().map(|_| sweep_index(sweep).partition.to_owned())
        };
        let due_at = position(Sweep::Completion);
        let first_scan_due_at = position(Sweep::AwaitingFirstScan);
        let watch_at = position(Sweep::StallWatch);
        let expiry_at = position(Sweep::Expiry);
        let attention: Vec<String> = order
            .attention()
            .into_iter()
            .map(|flag| flag.as_str().to_owned())
            .collect();
        Self {
            pk: order_pk(&order.order_id),
            sk: "ORDER".to_owned(),
            version,
            due_pk: partition(&due_at, Sweep::Completion),
            due_at,
            first_scan_pk: partition(&first_scan_due_at, Sweep::AwaitingFirstScan),
            first_scan_due_at,
            watch_pk: partition(&watch_at, Sweep::StallWatch),
            watch_at,
            expiry_pk: partition(&expiry_at, Sweep::Expiry),
            expiry_at,
            list_pk: merchant_pk(&order.merchant_id),
            list_sk: format!("{}#{}", timestamp(order.created_at), order.order_id),
            status_pk: status_pk(&order.merchant_id, order.status),
            shipment_status_pk: shipment_status_pk(&order.merchant_id, order.shipment_status),
            attention_pk: (!attention.is_empty()).then(|| attention_pk(&order.merchant_id)),
            attention,
            lookup_pk: lookup_pk(&order.merchant_id, &order.details.order_number),
            order,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: TimelineEvent,
}

impl EventItem {
    fn new(order_id: &str, event: TimelineEvent) -> Self {
        Self {
            pk: order_pk(order_id),
            sk: format!("EVENT#{}", event.event_id),
            event,
        }
    }
}

/// Which order a (carrier, tracking number) belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingRef {
    pub order_id: String,
    pub merchant_id: String,
    /// When the label this number belongs to was created (a final-mile number carries its
    /// label's), so the feed can judge a scan's date with the lookup it makes anyway.
    /// `None` on items written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_created_at: Option<DateTime<Utc>>,
    /// The package the number is on; `None` on items written before orders had several
    /// packages (those are the order's first package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    /// Set when the number had an earlier life (released by a relabel or a void) before
    /// this label took it: scans dated before this instant are the old parcel's and never
    /// land on this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scans_from: Option<DateTime<Utc>>,
}

impl TrackingRef {
    /// What a package's label number points at.
    pub fn for_package(order: &Order, shipment: &tracking_domain::order::Shipment) -> Self {
        Self {
            order_id: order.order_id.clone(),
            merchant_id: order.merchant_id.clone(),
            label_created_at: Some(shipment.label_created_at),
            shipment_id: Some(shipment.shipment_id.clone()),
            scans_from: None,
        }
    }
}

/// A tracking number a package gave up: no order, and so not in search, but remembered,
/// so the next label to take it knows the number had an earlier life.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReleasedTrackingItem {
    pk: String,
    sk: String,
    released_at: DateTime<Utc>,
}

/// A tracking item as read: held by an order's package, or released.
fn tracking_item(
    item: HashMap<String, AttributeValue>,
) -> Result<Result<TrackingRef, DateTime<Utc>>, StoreError> {
    if item.contains_key("order_id") {
        Ok(Ok(from_item::<TrackingItem>(item)?.target))
    } else {
        Ok(Err(from_item::<ReleasedTrackingItem>(item)?.released_at))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrackingItem {
    pk: String,
    sk: String,
    lookup_pk: String,
    #[serde(flatten)]
    target: TrackingRef,
}

/// An order's partition read back, by kind of item (sync records and guards are not kept).
#[derive(Default)]
pub(crate) struct OrderPartition {
    pub(crate) order: Option<OrderItem>,
    pub(crate) events: Vec<TimelineEvent>,
    pub(crate) claims: Vec<tracking_domain::claims::ClaimRecord>,
    pub(crate) subscriptions: Vec<tracking_domain::subscriptions::Subscription>,
}

/// An order read with its version, for an optimistic update.
#[derive(Debug, Clone)]
pub struct VersionedOrder {
    pub order: Order,
    pub version: u64,
}

/// An order with its whole timeline, read in one Query.
#[derive(Debug, Clone)]
pub struct OrderWithTimeline {
    pub order: Order,
    pub version: u64,
    pub timeline: Timeline,
}

#[derive(Debug)]
pub enum CreateOutcome {
    Created(Order),
    /// The same order was created before (a retry): nothing was written.
    AlreadyExists(Order),
    /// The order number is taken by an order with a different body.
    Conflict(Order),
}

/// What [`OrderStore::put_order_with_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventWrite {
    /// The order and its event, together.
    Written,
    /// Nothing: the event was already there (and the order still at the version read).
    EventExists,
}

#[derive(Debug)]
pub enum LabelOutcome {
    Attached(Box<Order>),
    /// The tracking number already belongs to another order of this carrier.
    TrackingNumberInUse,
}

/// Filters of the order list. `status` and `shipment_status` may be combined: the
/// index of the first narrows, the second filters that page.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<OrderStatus>,
    pub shipment_status: Option<ShipmentFilter>,
    pub limit: i32,
    pub cursor: Option<String>,
}

#[derive(Debug)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the cursor is not valid for this list")]
    InvalidCursor,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A page position, as handed to clients. It names the partition it was taken from,
/// so it cannot be replayed against another merchant's (or another filter's) list.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    partition: String,
    key: HashMap<String, String>,
}

#[derive(Clone)]
pub struct OrderStore {
    client: Client,
    table: String,
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by its table key, read consistently (the callers decide from it and then
    /// write conditionally), as `Item`; `None` when there is none.
    pub(crate) async fn get_consistent<Item: for<'de> Deserialize<'de>>(
        &self,
        pk: String,
        sk: String,
        what: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .context(what)?;
        output.item.map(from_item).transpose()
    }

    /// Every item of an order's partition (order, timeline, claims, subscriptions...), read
    /// consistently in one Query. One page holds an order with hundreds of events; the
    /// loop only matters for pathological feeds and keeps them correct, not truncated.
    pub(crate) async fn partition_items(
        &self,
        order_id: &str,
        purpose: &'static str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(order_pk(order_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .with_context(|| format!("{purpose}: query order partition"))?;
            items.extend(output.items.unwrap_or_default());
            start_key = output.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }

    /// An order's partition sorted by kind of item, in one Query (see [`Self::partition_items`]).
    pub(crate) async fn read_partition(
        &self,
        order_id: &str,
        purpose: &'static str,
    ) -> Result<OrderPartition, StoreError> {
        let mut partition = OrderPartition::default();
        for item in self.partition_items(order_id, purpose).await? {
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.clone(),
                _ => continue,
            };
            if sk == "ORDER" {
                partition.order = Some(from_item(item)?);
            } else if subscriptions::is_event_key(&sk) {
                partition.events.push(from_item::<EventItem>(item)?.event);
            } else if claims::is_claim_key(&sk) {
                partition.claims.push(claims::claim_from_item(item)?);
            } else if subscriptions::is_subscription_key(&sk) {
                partition
                    .subscriptions
                    .push(subscriptions::subscription_from_item(item)?);
            }
        }
        Ok(partition)
    }

    /// Read-modify-write of an order under optimistic locking: `change` sees the latest
    /// order and returns the new one (or `None` for "nothing to do"); a lost race
    /// re-reads and re-applies, so concurrent writers never lose an update.
    pub async fn update_order<F>(
        &self,
        order_id: &str,
        change: F,
    ) -> Result<Option<Order>, StoreError>
    where
        F: FnMut(&Order) -> Option<Order> + Send,
    {
        // Shared by the attempts' futures; never held across an await.
        let change = std::sync::Mutex::new(change);
        let change = &change;
        optimistic::until_won(|| async move {
            let Some(read) = self.get_order(order_id).await? else {
                return Ok(Try::Done(None));
            };
            let decided = change.lock().map_err(|_| anyhow!("a change panicked"))?(&read.order);
            let Some(updated) = decided else {
                return Ok(Try::Done(Some(read.order)));
            };
            Ok(
                Try::of(self.put_order_at_version(&updated, read.version).await)?
                    .map(|()| Some(updated)),
            )
        })
        .await
    }

    /// A put refused by its condition is `Ok(false)`: to the callers that is an answer (a
    /// duplicate, a number already taken), not a failure. A put that meets a transaction
    /// on the same item lost a race, like a version mismatch.
    async fn put_if(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
        value: Option<(&str, AttributeValue)>,
        what: &'static str,
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some((name, value)) = value {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(SdkError::ServiceError(e)) if e.err().is_transaction_conflict_exception() => {
                Err(StoreError::Contention)
            }
            Err(e) => Err(anyhow!(e).context(what).into()),
        }
    }
}

/// Where a sweep's list is kept: a sparse index, its one partition, and the attribute
/// holding the order's position on the list ([`Sweep::position_of`]).
pub(crate) struct SweepIndex {
    name: &'static str,
    pub(crate) partition_attr: &'static str,
    pub(crate) partition: &'static str,
    pub(crate) sort_attr: &'static str,
}

pub(crate) fn sweep_index(sweep: Sweep) -> SweepIndex {
    let (name, partition_attr, partition, sort_attr) = match sweep {
        Sweep::Completion => (INDEX_DUE, "due_pk", DUE_PARTITION, "due_at"),
        Sweep::AwaitingFirstScan => (
            INDEX_AWAITING_FIRST_SCAN,
            "first_scan_pk",
            AWAITING_FIRST_SCAN_PARTITION,
            "first_scan_due_at",
        ),
        Sweep::StallWatch => (INDEX_STALL_WATCH, "watch_pk", WATCH_PARTITION, "watch_at"),
        Sweep::Expiry => (INDEX_EXPIRY, "expiry_pk", EXPIRY_PARTITION, "expiry_at"),
    };
    SweepIndex {
        name,
        partition_attr,
        partition,
        sort_attr,
    }
}

/// Where the next page of a sweep starts: the index key DynamoDB returned as the last
/// one evaluated (the order's table key and its sweep index key).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCursor(BTreeMap<String, String>);

#[derive(Debug, thiserror::Error)]
#[error("not a page position of the {0} sweep")]
pub struct InvalidSweepCursor(&'static str);

impl SweepCursor {
    /// The position as plain strings, to carry in a message (every attribute of a sweep
    /// index key is a string).
    pub fn to_strings(&self) -> BTreeMap<String, String> {
        self.0.clone()
    }

    /// The position of `order_id` on `sweep`'s list at `position`, as DynamoDB states it.
    pub(crate) fn at(sweep: Sweep, position: String, order_id: &str) -> Self {
        let index = sweep_index(sweep);
        Self(BTreeMap::from([
            (index.partition_attr.to_owned(), index.partition.to_owned()),
            (index.sort_attr.to_owned(), position),
            ("pk".to_owned(), order_pk(order_id)),
            ("sk".to_owned(), "ORDER".to_owned()),
        ]))
    }

    /// The order and its position this cursor names, for a store that keeps lists itself.
    pub(crate) fn position(&self, sweep: Sweep) -> Option<(String, String)> {
        let index = sweep_index(sweep);
        Some((
            self.0.get(index.sort_attr)?.clone(),
            self.0.get("pk")?.clone(),
        ))
    }

    /// A position read back from a message. Only the exact shape of `sweep`'s key is
    /// accepted (its partition, a sort value, an order's table key): anything else was not
    /// written by a run, and is refused before it reaches DynamoDB.
    pub fn from_strings(
        sweep: Sweep,
        key: BTreeMap<String, String>,
    ) -> Result<Self, InvalidSweepCursor> {
        let SweepIndex {
            partition_attr,
            partition,
            sort_attr,
            ..
        } = sweep_index(sweep);
        let well_formed = key.len() == 4
            && key.get(partition_attr).map(String::as_str) == Some(partition)
            && key.get(sort_attr).is_some_and(|v| !v.is_empty())
            && key
                .get("pk")
                .is_some_and(|v| v.len() > "ORDER#".len() && v.starts_with("ORDER#"))
            && key.get("sk").map(String::as_str) == Some("ORDER");
        if !well_formed {
            return Err(InvalidSweepCursor(sweep.name()));
        }
        Ok(Self(key))
    }
}

#[derive(Debug)]
pub struct SweepPage {
    pub order_ids: Vec<String>,
    pub next: Option<SweepCursor>,
}
pub use optimistic::backoff;
use optimistic::Try;

fn to_item<T: Serialize>(value: &T) -> Result<HashMap<String, AttributeValue>, StoreError> {
    Ok(serde_dynamo::to_item(value).context("serialize item")?)
}

fn from_item<T: for<'de> Deserialize<'de>>(
    item: HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item).context("deserialize item")?)
}

/// A list page's items, each read as `Item` and kept as `keep` says, and the cursor to the
/// next page (bound to `partition`), if DynamoDB says there is one.
fn page_of<Item: serde::de::DeserializeOwned, Kept>(
    output: aws_sdk_dynamodb::operation::query::QueryOutput,
    partition: &str,
    keep: impl Fn(Item) -> Kept,
) -> Result<(Vec<Kept>, Option<String>), StoreError> {
    let kept = output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| Ok(keep(from_item::<Item>(item)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let next_cursor = output
        .last_evaluated_key
        .map(|key| encode_cursor(partition, key))
        .transpose()?;
    Ok((kept, next_cursor))
}

pub fn encode_cursor(
    partition: &str,
    key: HashMap<String, AttributeValue>,
) -> anyhow::Result<String> {
    let key = key
        .into_iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name, s)),
            other => Err(anyhow!("unexpected key attribute {name}: {other:?}")),
        })
        .collect::<anyhow::Result<HashMap<_, _>>>()?;
    let json = serde_json::to_vec(&Cursor {
        partition: partition.to_owned(),
        key,
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// The shape of one list's page keys: the index partition attributes it may carry (one of
/// them, holding the list's partition), its sort attribute, and what the listed items'
/// sort keys look like.
pub(crate) struct PageKey {
    pub(crate) partition_attrs: &'static [&'static str],
    pub(crate) sort_attr: &'static str,
    pub(crate) item_sk: fn(&str) -> bool,
}

/// The order lists' keys (`by_merchant`, `by_status`, `by_shipment_status`).
/// Which index a list query reads, which of its partitions, and what it filters a page
/// by: the narrowest index the query allows, so a page costs one Query.
pub(crate) struct OrderList {
    pub(crate) index: &'static str,
    pub(crate) partition_attr: &'static str,
    pub(crate) partition: String,
    pub(crate) filter: Option<ShipmentFilter>,
}

pub(crate) fn order_list(merchant_id: &str, query: &ListQuery) -> OrderList {
    let list = |index, partition_attr, partition, filter| OrderList {
        index,
        partition_attr,
        partition,
        filter,
    };
    match (query.status, query.shipment_status) {
        (Some(status), filter) => list(
            INDEX_BY_STATUS,
            "status_pk",
            status_pk(merchant_id, status),
            filter,
        ),
        (None, Some(ShipmentFilter::Status(status))) => list(
            INDEX_BY_SHIPMENT_STATUS,
            "shipment_status_pk",
            shipment_status_pk(merchant_id, status),
            None,
        ),
        (None, Some(attention @ ShipmentFilter::Attention(_))) => list(
            INDEX_BY_ATTENTION,
            "attention_pk",
            attention_pk(merchant_id),
            Some(attention),
        ),
        (None, None) => list(INDEX_BY_MERCHANT, "list_pk", merchant_pk(merchant_id), None),
    }
}

pub(crate) const ORDER_PAGE_KEY: PageKey = PageKey {
    partition_attrs: &["list_pk", "status_pk", "shipment_status_pk", "attention_pk"],
    sort_attr: "list_sk",
    item_sk: |sk| sk == "ORDER",
};

/// A page position handed back by a client, as the key to resume `partition` from.
/// Only the exact shape of that list's key is accepted: the list's own partition, its
/// sort value, and the table key of a listed item. Anything else is forged or stale, and
/// is refused here rather than surfacing as a DynamoDB validation error.
pub(crate) fn decode_page_key(
    cursor: &str,
    partition: &str,
    shape: &PageKey,
) -> Result<HashMap<String, AttributeValue>, ListError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| ListError::InvalidCursor)?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| ListError::InvalidCursor)?;
    let key = &cursor.key;
    let index_partitions: Vec<(&str, &str)> = key
        .iter()
        .filter(|(name, _)| name.ends_with("_pk") && name.as_str() != "pk")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let well_formed = key.len() == 4
        && matches!(index_partitions.as_slice(),
            [(name, value)] if shape.partition_attrs.contains(name) && *value == partition)
        && key.get(shape.sort_attr).is_some_and(|v| !v.is_empty())
        && key.get("pk").is_some_and(|v| v.starts_with("ORDER#"))
        && key.get("sk").is_some_and(|v| (shape.item_sk)(v));
    if cursor.partition != partition || !well_formed {
        return Err(ListError::InvalidCursor);
    }
    Ok(cursor
        .key
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

/// The checks a list request makes of a client's cursor before anything reaches DynamoDB:
/// the fuzz targets drive them with arbitrary bytes.
pub fn decode_order_cursor(
    cursor: &str,
    partition: &str,
) -> Result<HashMap<String, AttributeValue>, ListError> {
    decode_page_key(cursor, partition, &ORDER_PAGE_KEY)
}

impl Orders for OrderStore {
    /// Creates an order once. The order id is derived from merchant and order number, so
    /// a conditional put is the whole idempotency mechanism: one write, no read first.
    async fn create_order(&self, order: Order) -> Result<CreateOutcome, StoreError> {
        let item = to_item(&OrderItem::new(order.clone(), 1))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOutcome::Created(order)),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    let existing: OrderItem = from_item(
                        failed
                            .item
                            .context("conditional check failure returned no existing order")?,
                    )?;
                    if existing.order.request_fingerprint == order.request_fingerprint {
                        Ok(CreateOutcome::AlreadyExists(existing.order))
                    } else {
                        Ok(CreateOutcome::Conflict(existing.order))
                    }
                }
                other => Err(anyhow!(other).context("put order").into()),
            },
            Err(e) => Err(anyhow!(e).context("put order").into()),
        }
    }

    async fn get_order(&self, order_id: &str) -> Result<Option<VersionedOrder>, StoreError> {
        let item: Option<OrderItem> = self
            .get_consistent(order_pk(order_id), "ORDER".into(), "get order")
            .await?;
        Ok(item.map(|item| VersionedOrder {
            order: item.order,
            version: item.version,
        }))
    }

    /// Writes an order read at `expected`; [`StoreError::Contention`] if it moved since.
    async fn put_order_at_version(&self, order: &Order, expected: u64) -> Result<(), StoreError> {
        let item = to_item(&OrderItem::new(order.clone(), expected + 1))?;
        let written = self
            .put_if(
                item,
                "version = :expected",
                Some((":expected", AttributeValue::N(expected.to_string()))),
                "put order at version",
            )
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::Contention)
        }
    }

    /// A merchant's orders, newest first, one indexed Query per page.
    async fn list_orders(
        &self,
        merchant_id: &str,
        query: &ListQuery,
    ) -> Result<OrderPage, ListError> {
        let list = order_list(merchant_id, query);
        let start_key = match &query.cursor {
            Some(cursor) => Some(decode_page_key(cursor, &list.partition, &ORDER_PAGE_KEY)?),
            None => None,
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(list.index)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", list.partition_attr)
            .expression_attribute_values(":p", AttributeValue::S(list.partition.clone()))
            .scan_index_forward(false)
            .limit(query.limit)
            .set_exclusive_start_key(start_key);
        match list.filter {
            Some(ShipmentFilter::Status(status)) => {
                request = request
                    .filter_expression("shipment_status = :ss")
                    .expression_attribute_values(":ss", AttributeValue::S(status.as_str().into()));
            }
            Some(ShipmentFilter::Attention(flag)) => {
                request = request
                    .filter_expression("contains(attention, :flag)")
                    .expression_attribute_values(":flag", AttributeValue::S(flag.as_str().into()));
            }
            None => {}
        }
        let output = request.send().await.context("query order list")?;
        let (orders, next_cursor) = page_of(output, &list.partition, |item: OrderItem| item.order)
            .map_err(|e| anyhow!(e))?;
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }

    /// Orders whose order number, tracking number or hand-off number is `term`: one
    /// Query on the lookup index, then one BatchGet of the orders it names.
    async fn search_orders(&self, merchant_id: &str, term: &str) -> Result<Vec<Order>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_LOOKUP)
            .key_condition_expression("lookup_pk = :p")
            .expression_attribute_values(":p", AttributeValue::S(lookup_pk(merchant_id, term)))
            .limit(50)
            .send()
            .await
            .context("query lookup index")?;
        let mut order_ids: Vec<String> = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("order_id") {
                Some(AttributeValue::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect();
        order_ids.sort();
        order_ids.dedup();
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = order_ids
            .iter()
            .map(|id| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(order_pk(id))),
                    ("sk".to_owned(), AttributeValue::S("ORDER".into())),
                ])
            })
            .collect();
        let mut request_items = HashMap::from([(
            self.table.clone(),
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .context("build batch keys")?,
        )]);
        let mut orders = Vec::new();
        // BatchGet may leave keys unprocessed under throttling; ask again for those only.
        for _ in 0..MAX_UNPROCESSED_ROUNDS {
            let output = self
                .client
                .batch_get_item()
                .set_request_items(Some(request_items))
                .send()
                .await
                .context("batch get searched orders")?;
            for item in output
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                let item: OrderItem = from_item(item)?;
                if item.order.merchant_id == merchant_id {
                    orders.push(item.order);
                }
            }
            match output.unprocessed_keys {
                Some(rest) if !rest.is_empty() => request_items = rest,
                _ => break,
            }
        }
        orders.sort_by_key(|order| std::cmp::Reverse(order.created_at));
        Ok(orders)
    }
}

impl Timelines for OrderStore {
    /// The order and every timeline event, in one Query over the order's partition.
    async fn order_with_timeline(
        &self,
        order_id: &str,
    ) -> Result<Option<OrderWithTimeline>, StoreError> {
        let partition = self.read_partition(order_id, "order with timeline").await?;
        Ok(partition.order.map(|item| OrderWithTimeline {
            order: item.order,
            version: item.version,
            timeline: Timeline::new(partition.events),
        }))
    }

    /// Adds a timeline event unless it is already there. Returns false for a duplicate:
    /// the refused conditional write is the whole cost of one.
    async fn put_event(&self, order_id: &str, event: TimelineEvent) -> Result<bool, StoreError> {
        let item = to_item(&EventItem::new(order_id, event))?;
        self.put_if(item, "attribute_not_exists(pk)", None, "put timeline event")
            .await
    }

    /// Writes an order change and the timeline event announcing it as one transaction:
    /// the event is put only if it is new, the order only if it is still at `expected`.
    /// Neither lands without the other, so a writer that raced us (a scan between our read
    /// and this write) leaves no event behind, and so no email (the notifier mails from
    /// event items on the stream). A lost race is [`StoreError::Contention`]: re-read and
    /// decide again. An event already there while the order is unchanged (a change whose
    /// event an earlier, half-finished writer left) is [`EventWrite::EventExists`].
    async fn put_order_with_event(
        &self,
        order: &Order,
        expected: u64,
        event: TimelineEvent,
    ) -> Result<EventWrite, StoreError> {
        let event_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&EventItem::new(&order.order_id, event))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .context("build event put")?;
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&OrderItem::new(order.clone(), expected + 1))?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .context("build order put")?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(event_put).build())
            .transact_items(TransactWriteItem::builder().put(order_put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(EventWrite::Written),
            Err(SdkError::ServiceError(e)) => {
                let err = e.into_err();
                let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
                    return Err(anyhow!(err).context("order and event transaction").into());
                };
                let code = |index: usize| {
                    cancelled
                        .cancellation_reasons()
                        .get(index)
                        .and_then(|r| r.code())
                        .unwrap_or("None")
                        .to_owned()
                };
                match (code(0).as_str(), code(1).as_str()) {
                    (_, "ConditionalCheckFailed") => Err(StoreError::Contention),
                    // DynamoDB cancels one of two overlapping transactions: a lost race.
                    ("TransactionConflict", _) | (_, "TransactionConflict") => {
                        Err(StoreError::Contention)
                    }
                    ("ConditionalCheckFailed", "None") => Ok(EventWrite::EventExists),
                    _ => Err(anyhow!(err).context("order and event transaction").into()),
                }
            }
            Err(e) => Err(anyhow!(e).context("order and event transaction").into()),
        }
    }
}

/// A cancelled transaction is a lost race (a concurrent copy of the request, an open
/// claim of the type that appeared, a scan that moved the order) exactly when every item
/// that failed failed its condition or collided: re-reading settles all of them.
pub(crate) fn is_lost_race(error: &TransactWriteItemsError) -> bool {
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            let reasons = cancelled.cancellation_reasons();
            let lost = |code: Option<&str>| {
                matches!(code, Some("ConditionalCheckFailed" | "TransactionConflict"))
            };
            reasons.iter().any(|r| lost(r.code()))
                && reasons
                    .iter()
                    .all(|r| lost(r.code()) || matches!(r.code(), None | Some("None")))
        }
        TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}

impl OrderStore {
    /// The transaction item that gives a package's number up: free for another label,
    /// remembered as released so that label keeps this parcel's scans off its own. It
    /// holds only while the number is still this order's.
    fn release(&self, order: &Order, released: &Released) -> Result<TransactWriteItem, StoreError> {
        let release = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&ReleasedTrackingItem {
                pk: tracking_pk(released.carrier.code(), &released.tracking_number),
                sk: "TRACKING".into(),
                released_at: order.updated_at,
            })?))
            .condition_expression("attribute_not_exists(pk) OR order_id = :order_id")
            .expression_attribute_values(":order_id", AttributeValue::S(order.order_id.clone()))
            .build()
            .context("build tracking release")?;
        Ok(TransactWriteItem::builder().put(release).build())
    }
}

impl TrackingNumbers for OrderStore {
    /// Which order a carrier's tracking number belongs to: one GetItem. The carrier is a
    /// code so that final-mile carriers outside the catalogue resolve too.
    async fn order_for_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
    ) -> Result<Option<TrackingRef>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(tracking_pk(carrier_code, tracking_number)),
            )
            .key("sk", AttributeValue::S("TRACKING".into()))
            .send()
            .await
            .context("get tracking reference")?;
        match output.item {
            Some(item) => Ok(tracking_item(item)?.ok()),
            None => Ok(None),
        }
    }

    /// Points a final-mile carrier's tracking number at the order it took over, so its
    /// own scans land on the same timeline and search finds the order by it. Claiming it
    /// again for the same order is a no-op; another order holding it returns false.
    async fn claim_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
        target: &TrackingRef,
    ) -> Result<bool, StoreError> {
        let item = to_item(&TrackingItem {
            pk: tracking_pk(carrier_code, tracking_number),
            sk: "TRACKING".into(),
            lookup_pk: lookup_pk(&target.merchant_id, tracking_number),
            target: target.clone(),
        })?;
        self.put_if(
            item,
            "attribute_not_exists(pk) OR attribute_exists(released_at) OR order_id = :order_id",
            Some((":order_id", AttributeValue::S(target.order_id.clone()))),
            "claim tracking number",
        )
        .await
    }

    /// Attaches a label in one transaction: claims the tracking number (unique per
    /// carrier), writes the order at the version it was read, and adds the label event.
    /// A lost race on the order is [`StoreError::Contention`]; the caller re-reads.
    async fn attach_label(
        &self,
        read: &VersionedOrder,
        change: &LabelChange,
    ) -> Result<LabelOutcome, StoreError> {
        let updated = &change.order;
        let shipment = change
            .shipment()
            .context("a label change names a package its order does not have")?;
        let tracking_key = tracking_pk(shipment.carrier.code(), &shipment.tracking_number);
        // A number with an earlier life is taken only as it was seen released, and its
        // old parcel's scans are kept off this one.
        let current = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(tracking_key.clone()))
            .key("sk", AttributeValue::S("TRACKING".into()))
            .consistent_read(true)
            .send()
            .await
            .context("read tracking number")?
            .item
            .map(tracking_item)
            .transpose()?;
        let (claim_condition, released_at) = match current {
            None => ("attribute_not_exists(pk)", None),
            Some(Err(released_at)) => ("released_at = :released_at", Some(released_at)),
            Some(Ok(_)) => return Ok(LabelOutcome::TrackingNumberInUse),
        };
        let tracking = TrackingItem {
            pk: tracking_key,
            sk: "TRACKING".into(),
            lookup_pk: lookup_pk(&updated.merchant_id, &shipment.tracking_number),
            target: TrackingRef {
                scans_from: released_at.map(|_| shipment.label_created_at),
                ..TrackingRef::for_package(updated, shipment)
            },
        };
        let order_item = OrderItem::new(updated.clone(), read.version + 1);
        let event_item = EventItem::new(&updated.order_id, change.event.clone());
        let put = |item, condition: &str| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .context("build transaction put")?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&tracking)?))
            .condition_expression(claim_condition)
            .set_expression_attribute_values(
                released_at
                    .map(|at| {
                        serde_dynamo::to_attribute_value(at)
                            .map(|value| HashMap::from([(":released_at".to_owned(), value)]))
                    })
                    .transpose()
                    .context("serialize release time")?,
            )
            .build()
            .context("build tracking claim")?;
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&order_item)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(read.version.to_string()))
            .build()
            .context("build order put")?;
        let mut items = vec![
            TransactWriteItem::builder().put(claim).build(),
            TransactWriteItem::builder().put(order_put).build(),
            put(to_item(&event_item)?, "attribute_not_exists(pk)")?,
        ];
        if let Some(released) = &change.released {
            items.push(self.release(updated, released)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(LabelOutcome::Attached(Box::new(updated.clone()))),
            Err(SdkError::ServiceError(e)) => {
                let err = e.into_err();
                let reasons: Vec<CancellationReason> = match &err {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        c.cancellation_reasons().to_vec()
                    }
                    _ => return Err(anyhow!(err).context("attach label transaction").into()),
                };
                let failed = |index: usize| {
                    reasons
                        .get(index)
                        .and_then(|r| r.code())
                        .is_some_and(|code| code == "ConditionalCheckFailed")
                };
                // DynamoDB cancels one of two overlapping transactions on an item with
                // TransactionConflict: a lost race like a version mismatch, so retried.
                let conflicted = reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"));
                if failed(0) {
                    Ok(LabelOutcome::TrackingNumberInUse)
                } else if failed(1) || failed(2) || failed(3) || conflicted {
                    Err(StoreError::Contention)
                } else {
                    Err(anyhow!(err).context("attach label transaction").into())
                }
            }
            Err(e) => Err(anyhow!(e).context("attach label transaction").into()),
        }
    }

    /// Voids a package in one transaction: the order at the version read, the void's
    /// event, and the number released.
    async fn void_label(
        &self,
        read: &VersionedOrder,
        change: &VoidChange,
    ) -> Result<(), StoreError> {
        let order_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&OrderItem::new(
                change.order.clone(),
                read.version + 1,
            ))?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(read.version.to_string()))
            .build()
            .context("build order put")?;
        let event_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&EventItem::new(
                &change.order.order_id,
                change.event.clone(),
            ))?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .context("build event put")?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(order_put).build())
            .transact_items(TransactWriteItem::builder().put(event_put).build())
            .transact_items(self.release(&change.order, &change.released)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Every condition is "still as read": any of them failing is a lost race.
            Err(SdkError::ServiceError(e)) if is_lost_race(e.err()) => Err(StoreError::Contention),
            Err(e) => Err(anyhow!(e).context("void label transaction").into()),
        }
    }
}

impl SweepLists for OrderStore {
    /// One page of a nightly sweep: the ids of orders whose sweep key is at or before
    /// `up_to`, oldest first, from that sweep's sparse index. Processing an order takes
    /// it out of the index, so the next run only ever reads what is still to do.
    async fn sweep_page(
        &self,
        sweep: Sweep,
        up_to: DateTime<Utc>,
        limit: i32,
        start: Option<SweepCursor>,
    ) -> Result<SweepPage, StoreError> {
        let SweepIndex {
            name: index,
            partition_attr,
            partition,
            sort_attr,
        } = sweep_index(sweep);
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#p = :p AND #s <= :up_to")
            .expression_attribute_names("#p", partition_attr)
            .expression_attribute_names("#s", sort_attr)
            .expression_attribute_values(":p", AttributeValue::S(partition.into()))
            .expression_attribute_values(":up_to", AttributeValue::S(timestamp(up_to)))
            .limit(limit)
            .set_exclusive_start_key(start.map(|cursor| {
                cursor
                    .0
                    .into_iter()
                    .map(|(name, value)| (name, AttributeValue::S(value)))
                    .collect()
            }))
            .send()
            .await
            .with_context(|| format!("query sweep index {index}"))?;
        let order_ids = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk.strip_prefix("ORDER#").map(str::to_owned),
                _ => None,
            })
            .collect();
        Ok(SweepPage {
            order_ids,
            // Every attribute of a sweep index key is a string.
            next: output.last_evaluated_key.map(|key| {
                SweepCursor(
                    key.into_iter()
                        .filter_map(|(name, value)| match value {
                            AttributeValue::S(s) => Some((name, s)),
                            _ => None,
                        })
                        .collect(),
                )
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_terms_ignore_case_spaces_dashes_and_hash() {
        assert_eq!(normalize_lookup_term(" #a-100 1 "), "A1001");
        assert_eq!(normalize_lookup_term("1z 999 aa1"), "1Z999AA1");
    }

    #[test]
    fn cursor_from_another_partition_is_refused() {
        let key = HashMap::from([
            ("list_pk".to_owned(), AttributeValue::S("MERCHANT#a".into())),
            ("list_sk".to_owned(), AttributeValue::S("2026#x".into())),
            ("pk".to_owned(), AttributeValue::S("ORDER#x".into())),
            ("sk".to_owned(), AttributeValue::S("ORDER".into())),
        ]);
        let cursor = encode_cursor("MERCHANT#a", key).unwrap();
        assert!(decode_page_key(&cursor, "MERCHANT#a", &ORDER_PAGE_KEY).is_ok());
        assert!(matches!(
            decode_page_key(&cursor, "MERCHANT#b", &ORDER_PAGE_KEY),
            Err(ListError::InvalidCursor)
        ));
        assert!(matches!(
            decode_page_key("not a cursor", "MERCHANT#a", &ORDER_PAGE_KEY),
            Err(ListError::InvalidCursor)
        ));
        let forged = encode_cursor(
            "MERCHANT#a",
            HashMap::from([("list_sk".to_owned(), AttributeValue::S("x".into()))]),
        )
        .unwrap();
        assert!(matches!(
            decode_page_key(&forged, "MERCHANT#a", &ORDER_PAGE_KEY),
            Err(ListError::InvalidCursor)
        ));
    }
}
