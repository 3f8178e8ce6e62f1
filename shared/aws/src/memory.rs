//! The in-memory store: every port of [`crate::ports`] over plain maps behind one lock,
//! for handler tests that need no local stack.
//!
//! It keeps what the handlers rely on from DynamoDB, and the contract suite
//! ([`crate::contract`]) runs the same cases against it and against the DynamoDB store to
//! keep it so: each write checks the same condition DynamoDB is asked to, transactions
//! land whole or not at all, versions move by one, list pages resume after the last item
//! a page read (with the same cursors, refused the same way), and filters apply after the
//! page's limit, as DynamoDB's do. Instants are compared as the DynamoDB store writes them
//! (fixed-width, to the millisecond), and orders sit in the same lists, because the keys
//! are computed by the same code.
//!
//! Tests can also make it misbehave the way a shared table does: [`MemoryStore::race`]
//! has the next versioned writes find their order moved by a concurrent writer, and
//! [`MemoryStore::fail_order`] makes every request touching one order fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::anyhow;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use tracking_domain::claims::{ClaimRecord, ClaimState};
use tracking_domain::email::EmailAddress;
use tracking_domain::label::{LabelChange, VoidChange};
use tracking_domain::nightly::Sweep;
use tracking_domain::order::Order;
use tracking_domain::subscriptions::Subscription;
use tracking_domain::sync::{SyncKey, SyncRecord, SyncStatus};
use tracking_domain::timeline::{Timeline, TimelineEvent};

use crate::ports::{
    Claims, Deliveries, HandOffs, Orders, PollCursors, Subscriptions, SweepLists, SyncRecords,
    Timelines, TrackingNumbers, WebhookDeliveries,
};
use crate::store::claims::{
    claims_partition, decode_claims_cursor, ClaimPage, ClaimQuery, OrderClaims,
};
use crate::store::nightly::{HandOffKey, HandOffState};
use crate::store::polls::PollCursor;
use crate::store::subscriptions::{
    merchant_subscriptions_pk, subscription_key, DeliveryKey, DeliveryLease, DeliveryState,
    NotificationContext, SubscribeOutcome,
};
use crate::store::sync::{sync_sk, truncate, SyncLease};
use crate::store::webhooks::{self, Delivery};
use crate::store::{
    decode_page_key, encode_cursor, lookup_pk, order_list, order_pk, timestamp, tracking_pk,
    CreateOutcome, EventWrite, LabelOutcome, ListError, ListQuery, OrderItem, OrderList, OrderPage,
    OrderWithTimeline, StoreError, SweepCursor, SweepPage, TrackingRef, VersionedOrder,
    ORDER_PAGE_KEY,
};

/// How many items one lookup Query reads, as the DynamoDB store asks.
const SEARCH_LIMIT: usize = 50;

#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    orders: BTreeMap<String, OrderItem>,
    /// Order id -> event id -> event.
    events: BTreeMap<String, BTreeMap<String, TimelineEvent>>,
    /// By the tracking item's key.
    tracking: BTreeMap<String, TrackingRef>,
    /// Numbers a package gave up, by the tracking item's key: when.
    released: BTreeMap<String, DateTime<Utc>>,
    /// Order id -> claim id -> claim.
    claims: BTreeMap<String, BTreeMap<String, ClaimRecord>>,
    /// (order id, claim type, package) -> the open claim's id: the open-claim guard.
    open_claims: BTreeMap<(String, &'static str, Option<String>), String>,
    /// (partition, sort key) as the DynamoDB store keys them.
    subscriptions: BTreeMap<(String, String), Subscription>,
    /// (order id, event id, recipient).
    deliveries: BTreeMap<(String, String, String), DeliveryRecord>,
    hand_offs: BTreeMap<(String, String), HandOffRecord>,
    /// (order id, sync sort key).
    sync: BTreeMap<(String, String), SyncRecord>,
    /// (store, merchant).
    polls: BTreeMap<(String, String), PollCursor>,
    /// By the delivery item's key.
    webhooks: BTreeMap<String, Delivery>,
    faults: Faults,
}

#[derive(Default)]
struct Faults {
    /// Versioned order writes still to lose a race.
    races: usize,
    /// Orders whose every request fails.
    failing: BTreeSet<String>,
}

struct DeliveryRecord {
    state: DeliveryState,
    attempts: u32,
    lease_until: String,
}

struct HandOffRecord {
    state: HandOffState,
    token: String,
    claimed_at: String,
    lease_until: String,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `writes` versioned writes of an order (order writes, labels, decisions,
    /// claims) each find that a concurrent writer moved the order just before: its version
    /// goes up by one, and the write is refused as DynamoDB would refuse it.
    pub fn race(&self, writes: usize) {
        self.lock().faults.races = writes;
    }

    /// Every later request that reads or writes `order_id` fails, as a throttled or
    /// unreachable partition would.
    pub fn fail_order(&self, order_id: &str) {
        self.lock().faults.failing.insert(order_id.to_owned());
    }

    /// How many items the store holds, of every kind: what a test checks to see that a
    /// refused request wrote nothing.
    pub fn item_count(&self) -> usize {
        let state = self.lock();
        state.orders.len()
            + state.events.values().map(BTreeMap::len).sum::<usize>()
            + state.tracking.len()
            + state.released.len()
            + state.claims.values().map(BTreeMap::len).sum::<usize>()
            + state.open_claims.len()
            + state.subscriptions.len()
            + state.deliveries.len()
            + state.hand_offs.len()
            + state.sync.len()
            + state.polls.len()
            + state.webhooks.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already; the state it left
        // is still the state to report on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state, for a request about `order_id`.
    fn touching(&self, order_id: &str) -> Result<MutexGuard<'_, State>, StoreError> {
        let state = self.lock();
        if state.faults.failing.contains(order_id) {
            return Err(anyhow!("injected failure for order {order_id}").into());
        }
        Ok(state)
    }
}

/// The open-claim guard's key for `claim`: one per order, claim type and package.
fn open_claim_guard(claim: &ClaimRecord) -> (String, &'static str, Option<String>) {
    (
        claim.order_id.clone(),
        claim.claim_type.as_str(),
        claim.shipment_id.clone(),
    )
}

impl State {
    /// Whether the order is at `expected` (after a race the test asked for).
    fn at_version(&mut self, order_id: &str, expected: u64) -> bool {
        if self.faults.races > 0 {
            if let Some(item) = self.orders.get_mut(order_id) {
                self.faults.races -= 1;
                item.version += 1;
            }
        }
        self.orders
            .get(order_id)
            .is_some_and(|item| item.version == expected)
    }

    fn has_event(&self, order_id: &str, event_id: &str) -> bool {
        self.events
            .get(order_id)
            .is_some_and(|events| events.contains_key(event_id))
    }

    fn add_event(&mut self, order_id: &str, event: TimelineEvent) {
        self.events
            .entry(order_id.to_owned())
            .or_default()
            .insert(event.event_id.clone(), event);
    }

    fn timeline(&self, order_id: &str) -> Timeline {
        Timeline::new(
            self.events
                .get(order_id)
                .map(|events| events.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default(),
        )
    }

    /// Subscriptions of one partition, in key order (as a Query returns them).
    fn subscriptions_in(&self, partition: &str) -> Vec<Subscription> {
        self.subscriptions
            .iter()
            .filter(|((pk, _), _)| pk == partition)
            .map(|(_, subscription)| subscription.clone())
            .collect()
    }
}

/// An instant as the DynamoDB store writes it, to the millisecond.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(3)
}

/// Where an entry sits in an index: its sort key, then its table partition.
type IndexKey = (String, String);

/// One page of an index read newest first: the entries after `start` (a key as the
/// index orders it), `limit` at most, and the last one's key if more follow.
fn page_desc<T: Clone>(
    mut entries: Vec<(IndexKey, T)>,
    start: Option<IndexKey>,
    limit: i32,
) -> Result<(Vec<T>, Option<IndexKey>), StoreError> {
    let limit = page_limit(limit)?;
    entries.sort_by(|a, b| b.0.cmp(&a.0));
    let rest: Vec<_> = entries
        .into_iter()
        .filter(|(key, _)| start.as_ref().is_none_or(|start| key < start))
        .collect();
    let more = rest.len() > limit;
    let page: Vec<_> = rest.into_iter().take(limit).collect();
    let last = more
        .then(|| page.last().map(|(key, _)| key.clone()))
        .flatten();
    Ok((page.into_iter().map(|(_, value)| value).collect(), last))
}

/// DynamoDB refuses a Limit below one.
fn page_limit(limit: i32) -> Result<usize, StoreError> {
    usize::try_from(limit)
        .ok()
        .filter(|l| *l > 0)
        .ok_or_else(|| anyhow!("a page limit must be at least 1, not {limit}").into())
}

fn string_key(key: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match key.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        _ => String::new(),
    }
}

impl Orders for MemoryStore {
    async fn create_order(&self, order: Order) -> Result<CreateOutcome, StoreError> {
        let mut state = self.touching(&order.order_id)?;
        if let Some(existing) = state.orders.get(&order.order_id) {
            let existing = existing.order.clone();
            return Ok(
                if existing.request_fingerprint == order.request_fingerprint {
                    CreateOutcome::AlreadyExists(existing)
                } else {
                    CreateOutcome::Conflict(existing)
                },
            );
        }
        state
            .orders
            .insert(order.order_id.clone(), OrderItem::new(order.clone(), 1));
        Ok(CreateOutcome::Created(order))
    }

    async fn get_order(&self, order_id: &str) -> Result<Option<VersionedOrder>, StoreError> {
        let state = self.touching(order_id)?;
        Ok(state.orders.get(order_id).map(|item| VersionedOrder {
            order: item.order.clone(),
            version: item.version,
        }))
    }

    async fn put_order_at_version(&self, order: &Order, expected: u64) -> Result<(), StoreError> {
        let mut state = self.touching(&order.order_id)?;
        if !state.at_version(&order.order_id, expected) {
            return Err(StoreError::Contention);
        }
        state.orders.insert(
            order.order_id.clone(),
            OrderItem::new(order.clone(), expected + 1),
        );
        Ok(())
    }

    async fn list_orders(
        &self,
        merchant_id: &str,
        query: &ListQuery,
    ) -> Result<OrderPage, ListError> {
        let state = self.lock();
        // The same partitions, filters and cursors as the DynamoDB store's list indexes.
        let OrderList {
            partition_attr,
            partition,
            filter,
            ..
        } = order_list(merchant_id, query);
        let start = match &query.cursor {
            Some(cursor) => {
                let key = decode_page_key(cursor, &partition, &ORDER_PAGE_KEY)?;
                Some((string_key(&key, "list_sk"), string_key(&key, "pk")))
            }
            None => None,
        };
        let entries = state
            .orders
            .values()
            .filter(|item| {
                let in_partition = match partition_attr {
                    "status_pk" => Some(&item.status_pk),
                    "shipment_status_pk" => Some(&item.shipment_status_pk),
                    "attention_pk" => item.attention_pk.as_ref(),
                    _ => Some(&item.list_pk),
                };
                in_partition == Some(&partition)
            })
            .map(|item| {
                (
                    (item.list_sk.clone(), order_pk(&item.order.order_id)),
                    item.order.clone(),
                )
            })
            .collect();
        let (orders, last) = page_desc(entries, start, query.limit).map_err(store_to_list)?;
        let orders = match filter {
            Some(filter) => orders
                .into_iter()
                .filter(|order| filter.matches(order))
                .collect(),
            None => orders,
        };
        let next_cursor = last
            .map(|(list_sk, pk)| {
                encode_cursor(
                    &partition,
                    std::collections::HashMap::from([
                        (
                            partition_attr.to_owned(),
                            AttributeValue::S(partition.clone()),
                        ),
                        ("list_sk".to_owned(), AttributeValue::S(list_sk)),
                        ("pk".to_owned(), AttributeValue::S(pk)),
                        ("sk".to_owned(), AttributeValue::S("ORDER".into())),
                    ]),
                )
            })
            .transpose()?;
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }

    async fn search_orders(&self, merchant_id: &str, term: &str) -> Result<Vec<Order>, StoreError> {
        let state = self.lock();
        let wanted = lookup_pk(merchant_id, term);
        let by_order_number = state
            .orders
            .values()
            .filter(|item| item.lookup_pk == wanted)
            .map(|item| item.order.order_id.clone());
        let by_tracking = state
            .tracking
            .iter()
            .filter(|(key, target)| {
                let number = key.rsplit('#').next().unwrap_or_default();
                lookup_pk(&target.merchant_id, number) == wanted
            })
            .map(|(_, target)| target.order_id.clone());
        let ids: BTreeSet<String> = by_order_number
            .chain(by_tracking)
            .take(SEARCH_LIMIT)
            .collect();
        let mut orders: Vec<Order> = ids
            .iter()
            .filter_map(|id| state.orders.get(id))
            .map(|item| item.order.clone())
            .filter(|order| order.merchant_id == merchant_id)
            .collect();
        orders.sort_by_key(|order| std::cmp::Reverse(order.created_at));
        Ok(orders)
    }
}

fn store_to_list(error: StoreError) -> ListError {
    match error {
        StoreError::Contention => ListError::Unexpected(anyhow!("a list read met contention")),
        StoreError::Unexpected(e) => ListError::Unexpected(e),
    }
}

impl Timelines for MemoryStore {
    async fn order_with_timeline(
        &self,
        order_id: &str,
    ) -> Result<Option<OrderWithTimeline>, StoreError> {
        let state = self.touching(order_id)?;
        Ok(state.orders.get(order_id).map(|item| OrderWithTimeline {
            order: item.order.clone(),
            version: item.version,
            timeline: state.timeline(order_id),
        }))
    }

    async fn put_event(&self, order_id: &str, event: TimelineEvent) -> Result<bool, StoreError> {
        let mut state = self.touching(order_id)?;
        if state.has_event(order_id, &event.event_id) {
            return Ok(false);
        }
        state.add_event(order_id, event);
        Ok(true)
    }

    async fn put_order_with_event(
        &self,
        order: &Order,
        expected: u64,
        event: TimelineEvent,
    ) -> Result<EventWrite, StoreError> {
        let mut state = self.touching(&order.order_id)?;
        // The order's condition decides first: a moved order is a lost race whatever the
        // event's, exactly as the DynamoDB store reads the cancellation reasons.
        if !state.at_version(&order.order_id, expected) {
            return Err(StoreError::Contention);
        }
        if state.has_event(&order.order_id, &event.event_id) {
            return Ok(EventWrite::EventExists);
        }
        state.add_event(&order.order_id, event);
        state.orders.insert(
            order.order_id.clone(),
            OrderItem::new(order.clone(), expected + 1),
        );
        Ok(EventWrite::Written)
    }
}

impl TrackingNumbers for MemoryStore {
    async fn order_for_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
    ) -> Result<Option<TrackingRef>, StoreError> {
        let state = self.lock();
        Ok(state
            .tracking
            .get(&tracking_pk(carrier_code, tracking_number))
            .cloned())
    }

    async fn claim_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
        target: &TrackingRef,
    ) -> Result<bool, StoreError> {
        let mut state = self.touching(&target.order_id)?;
        let key = tracking_pk(carrier_code, tracking_number);
        if state
            .tracking
            .get(&key)
            .is_some_and(|held| held.order_id != target.order_id)
        {
            return Ok(false);
        }
        state.released.remove(&key);
        state.tracking.insert(key, target.clone());
        Ok(true)
    }

    async fn attach_label(
        &self,
        read: &VersionedOrder,
        change: &LabelChange,
    ) -> Result<LabelOutcome, StoreError> {
        let updated = &change.order;
        let shipment = change
            .shipment()
            .ok_or_else(|| anyhow!("a label change names a package its order does not have"))?;
        let mut state = self.touching(&updated.order_id)?;
        let key = tracking_pk(shipment.carrier.code(), &shipment.tracking_number);
        let number_taken = state.tracking.contains_key(&key);
        let order_moved = !state.at_version(&updated.order_id, read.version);
        if number_taken {
            return Ok(LabelOutcome::TrackingNumberInUse);
        }
        let released_key = change
            .released
            .as_ref()
            .map(|r| tracking_pk(r.carrier.code(), &r.tracking_number));
        let released_elsewhere = released_key.as_ref().is_some_and(|k| {
            state
                .tracking
                .get(k)
                .is_some_and(|held| held.order_id != updated.order_id)
        });
        if order_moved
            || released_elsewhere
            || state.has_event(&updated.order_id, &change.event.event_id)
        {
            return Err(StoreError::Contention);
        }
        let earlier_life = state.released.remove(&key).is_some();
        if let Some(released) = released_key {
            state.tracking.remove(&released);
            state.released.insert(released, updated.updated_at);
        }
        state.tracking.insert(
            key,
            TrackingRef {
                scans_from: earlier_life.then_some(shipment.label_created_at),
                ..TrackingRef::for_package(updated, shipment)
            },
        );
        state.add_event(&updated.order_id, change.event.clone());
        state.orders.insert(
            updated.order_id.clone(),
            OrderItem::new(updated.clone(), read.version + 1),
        );
        Ok(LabelOutcome::Attached(Box::new(updated.clone())))
    }

    async fn void_label(
        &self,
        read: &VersionedOrder,
        change: &VoidChange,
    ) -> Result<(), StoreError> {
        let order = &change.order;
        let mut state = self.touching(&order.order_id)?;
        let key = tracking_pk(
            change.released.carrier.code(),
            &change.released.tracking_number,
        );
        let number_elsewhere = state
            .tracking
            .get(&key)
            .is_some_and(|held| held.order_id != order.order_id);
        if !state.at_version(&order.order_id, read.version)
            || number_elsewhere
            || state.has_event(&order.order_id, &change.event.event_id)
        {
            return Err(StoreError::Contention);
        }
        state.tracking.remove(&key);
        state.released.insert(key, order.updated_at);
        state.add_event(&order.order_id, change.event.clone());
        state.orders.insert(
            order.order_id.clone(),
            OrderItem::new(order.clone(), read.version + 1),
        );
        Ok(())
    }
}

impl SweepLists for MemoryStore {
    async fn sweep_page(
        &self,
        sweep: Sweep,
        up_to: DateTime<Utc>,
        limit: i32,
        start: Option<SweepCursor>,
    ) -> Result<SweepPage, StoreError> {
        let limit = page_limit(limit)?;
        let state = self.lock();
        let up_to = timestamp(up_to);
        let start = start.and_then(|cursor| cursor.position(sweep));
        let mut listed: Vec<(String, String)> = state
            .orders
            .values()
            .filter_map(|item| {
                let position = timestamp(sweep.position_of(&item.order)?);
                (position <= up_to).then(|| (position, order_pk(&item.order.order_id)))
            })
            .filter(|key| start.as_ref().is_none_or(|start| key > start))
            .collect();
        listed.sort();
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next = more
            .then(|| listed.last().cloned())
            .flatten()
            .map(|(position, pk)| {
                SweepCursor::at(sweep, position, pk.trim_start_matches("ORDER#"))
            });
        Ok(SweepPage {
            order_ids: listed
                .into_iter()
                .map(|(_, pk)| pk.trim_start_matches("ORDER#").to_owned())
                .collect(),
            next,
        })
    }
}

fn hand_off_key(key: &HandOffKey) -> (String, String) {
    (timestamp(key.scheduled_time), key.from.clone())
}

impl MemoryStore {
    fn finish_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        state_after: HandOffState,
    ) -> bool {
        let mut state = self.lock();
        let Some(record) = state.hand_offs.get_mut(&hand_off_key(key)) else {
            return false;
        };
        if record.state != HandOffState::Sending || record.token != token {
            return false;
        }
        record.state = state_after;
        record.claimed_at = timestamp(now);
        record.lease_until = timestamp(now);
        true
    }
}

impl HandOffs for MemoryStore {
    async fn lease_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        lease: Duration,
        replay_horizon: Duration,
        _next: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = hand_off_key(key);
        let free = state.hand_offs.get(&key).is_none_or(|record| {
            record.state == HandOffState::Released
                || (record.state == HandOffState::Sending && record.lease_until < timestamp(now))
                || record.claimed_at < timestamp(now - replay_horizon)
        });
        if !free {
            return Ok(false);
        }
        state.hand_offs.insert(
            key,
            HandOffRecord {
                state: HandOffState::Sending,
                token: token.to_owned(),
                claimed_at: timestamp(now),
                lease_until: timestamp(now + lease),
            },
        );
        Ok(true)
    }

    async fn hand_off_sent(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        _next: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.finish_hand_off(key, token, now, HandOffState::Sent))
    }

    async fn release_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        _next: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.finish_hand_off(key, token, now, HandOffState::Released))
    }
}

impl Claims for MemoryStore {
    async fn order_with_claims(&self, order_id: &str) -> Result<Option<OrderClaims>, StoreError> {
        let state = self.touching(order_id)?;
        let Some(item) = state.orders.get(order_id) else {
            return Ok(None);
        };
        let mut claims: Vec<ClaimRecord> = state
            .claims
            .get(order_id)
            .map(|claims| claims.values().cloned().collect())
            .unwrap_or_default();
        claims.sort_by(|a, b| (b.created_at, &b.claim_id).cmp(&(a.created_at, &a.claim_id)));
        Ok(Some(OrderClaims {
            order: item.order.clone(),
            version: item.version,
            timeline: state.timeline(order_id),
            claims,
        }))
    }

    async fn file_claim(
        &self,
        order_version: u64,
        claim: &ClaimRecord,
        event: TimelineEvent,
    ) -> Result<(), StoreError> {
        if claim.state != ClaimState::Open {
            return Err(anyhow!("only an open claim can be filed").into());
        }
        let mut state = self.touching(&claim.order_id)?;
        let guard = open_claim_guard(claim);
        let order_moved = !state.at_version(&claim.order_id, order_version);
        let filed = state
            .claims
            .get(&claim.order_id)
            .is_some_and(|claims| claims.contains_key(&claim.claim_id));
        if order_moved
            || filed
            || state.open_claims.contains_key(&guard)
            || state.has_event(&claim.order_id, &event.event_id)
        {
            return Err(StoreError::Contention);
        }
        state.open_claims.insert(guard, claim.claim_id.clone());
        state.add_event(&claim.order_id, event);
        state
            .claims
            .entry(claim.order_id.clone())
            .or_default()
            .insert(claim.claim_id.clone(), claim.clone());
        Ok(())
    }

    async fn move_claim(
        &self,
        moved: &ClaimRecord,
        from: ClaimState,
        event: TimelineEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.touching(&moved.order_id)?;
        let still_in_from = state
            .claims
            .get(&moved.order_id)
            .and_then(|claims| claims.get(&moved.claim_id))
            .is_some_and(|stored| stored.state == from);
        if !still_in_from || state.has_event(&moved.order_id, &event.event_id) {
            return Err(StoreError::Contention);
        }
        if !moved.state.is_open() {
            let guard = open_claim_guard(moved);
            if state.open_claims.get(&guard) == Some(&moved.claim_id) {
                state.open_claims.remove(&guard);
            }
        }
        state.add_event(&moved.order_id, event);
        state
            .claims
            .entry(moved.order_id.clone())
            .or_default()
            .insert(moved.claim_id.clone(), moved.clone());
        Ok(())
    }

    async fn list_claims(
        &self,
        merchant_id: &str,
        query: &ClaimQuery,
    ) -> Result<ClaimPage, ListError> {
        let state = self.lock();
        let partition = claims_partition(merchant_id);
        let start = match &query.cursor {
            Some(cursor) => {
                let key = decode_claims_cursor(cursor, &partition)?;
                Some((string_key(&key, "claims_sk"), string_key(&key, "pk")))
            }
            None => None,
        };
        let entries = state
            .claims
            .values()
            .flat_map(BTreeMap::values)
            .filter(|claim| claim.merchant_id == merchant_id)
            .map(|claim| {
                (
                    (
                        format!("{}#{}", timestamp(claim.created_at), claim.claim_id),
                        order_pk(&claim.order_id),
                    ),
                    claim.clone(),
                )
            })
            .collect();
        let (claims, last) = page_desc(entries, start, query.limit).map_err(store_to_list)?;
        let claims = claims
            .into_iter()
            .filter(|claim| query.state.is_none_or(|state| claim.state == state))
            .collect();
        let next_cursor = match last {
            Some((claims_sk, pk)) => {
                let claim_id = claims_sk.rsplit('#').next().unwrap_or_default().to_owned();
                Some(encode_cursor(
                    &partition,
                    std::collections::HashMap::from([
                        ("claims_pk".to_owned(), AttributeValue::S(partition.clone())),
                        ("claims_sk".to_owned(), AttributeValue::S(claims_sk)),
                        ("pk".to_owned(), AttributeValue::S(pk)),
                        (
                            "sk".to_owned(),
                            AttributeValue::S(format!("CLAIM#{claim_id}")),
                        ),
                    ]),
                )?)
            }
            None => None,
        };
        Ok(ClaimPage {
            claims,
            next_cursor,
        })
    }
}

impl Subscriptions for MemoryStore {
    async fn subscribe(&self, subscription: Subscription) -> Result<SubscribeOutcome, StoreError> {
        let mut state = self.lock();
        let key = subscription_key(&subscription);
        if let Some(existing) = state.subscriptions.get(&key) {
            return Ok(SubscribeOutcome::AlreadySubscribed(existing.clone()));
        }
        state.subscriptions.insert(key, subscription.clone());
        Ok(SubscribeOutcome::Created(subscription))
    }

    async fn order_subscriptions(&self, order_id: &str) -> Result<Vec<Subscription>, StoreError> {
        Ok(self
            .touching(order_id)?
            .subscriptions_in(&order_pk(order_id)))
    }

    async fn merchant_subscriptions(
        &self,
        merchant_id: &str,
    ) -> Result<Vec<Subscription>, StoreError> {
        Ok(self
            .lock()
            .subscriptions_in(&merchant_subscriptions_pk(merchant_id)))
    }

    async fn remove_order_subscription(
        &self,
        order_id: &str,
        email: &EmailAddress,
    ) -> Result<bool, StoreError> {
        let mut state = self.touching(order_id)?;
        let key = (order_pk(order_id), format!("SUB#{}", email.canonical()));
        Ok(state.subscriptions.remove(&key).is_some())
    }

    async fn remove_merchant_subscription(
        &self,
        merchant_id: &str,
        email: &EmailAddress,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = (
            merchant_subscriptions_pk(merchant_id),
            format!("SUB#{}", email.canonical()),
        );
        Ok(state.subscriptions.remove(&key).is_some())
    }
}

fn delivery_key(key: DeliveryKey<'_>) -> (String, String, String) {
    (
        key.order_id.to_owned(),
        key.event_id.to_owned(),
        key.recipient.to_owned(),
    )
}

impl MemoryStore {
    fn finish_delivery(
        &self,
        key: DeliveryKey<'_>,
        finished: DeliveryState,
    ) -> Result<(), StoreError> {
        let mut state = self.touching(key.order_id)?;
        let record = state
            .deliveries
            .get_mut(&delivery_key(key))
            .ok_or_else(|| anyhow!("finish delivery: no delivery record"))?;
        record.state = finished;
        Ok(())
    }
}

impl Deliveries for MemoryStore {
    async fn notification_context(
        &self,
        order_id: &str,
    ) -> Result<Option<NotificationContext>, StoreError> {
        let state = self.touching(order_id)?;
        Ok(state.orders.get(order_id).map(|item| NotificationContext {
            order: item.order.clone(),
            timeline: state.timeline(order_id),
            subscriptions: state.subscriptions_in(&order_pk(order_id)),
        }))
    }

    async fn lease_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<DeliveryLease, StoreError> {
        let mut state = self.touching(key.order_id)?;
        let record = state
            .deliveries
            .entry(delivery_key(key))
            .or_insert(DeliveryRecord {
                state: DeliveryState::Pending,
                attempts: 0,
                lease_until: String::new(),
            });
        match record.state {
            DeliveryState::Pending if record.lease_until <= timestamp(now) => {
                record.attempts += 1;
                record.lease_until = timestamp(now + lease);
                Ok(DeliveryLease::Acquired {
                    attempt: record.attempts,
                })
            }
            DeliveryState::Pending => Ok(DeliveryLease::HeldElsewhere),
            DeliveryState::Sent => Ok(DeliveryLease::AlreadySent),
            DeliveryState::Failed => Ok(DeliveryLease::GaveUp),
        }
    }

    async fn mark_delivery_sent(
        &self,
        key: DeliveryKey<'_>,
        _message_id: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish_delivery(key, DeliveryState::Sent)
    }

    async fn mark_delivery_failed(
        &self,
        key: DeliveryKey<'_>,
        _reason: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish_delivery(key, DeliveryState::Failed)
    }

    async fn release_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.touching(key.order_id)?;
        if let Some(record) = state.deliveries.get_mut(&delivery_key(key)) {
            if record.state == DeliveryState::Pending {
                record.lease_until = timestamp(now);
            }
        }
        Ok(())
    }
}

fn sync_map_key(key: &SyncKey) -> (String, String) {
    (key.order_id.clone(), sync_sk(key))
}

impl SyncRecords for MemoryStore {
    async fn lease_sync(
        &self,
        key: &SyncKey,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<SyncLease, StoreError> {
        let mut state = self.touching(&key.order_id)?;
        let now = millis(now);
        let map_key = sync_map_key(key);
        if let Some(record) = state.sync.get(&map_key) {
            if !record.leasable(now) {
                return Ok(if record.status == SyncStatus::Sent {
                    SyncLease::AlreadySent(record.clone())
                } else {
                    SyncLease::HeldElsewhere(record.clone())
                });
            }
        }
        let record = state.sync.entry(map_key).or_insert_with(|| SyncRecord {
            order_id: key.order_id.clone(),
            platform: key.platform,
            carrier: key.carrier.clone(),
            tracking_number: key.tracking_number.clone(),
            status: SyncStatus::Pending,
            attempts: 0,
            lease_until: now,
            created_at: now,
            updated_at: now,
            sent_at: None,
            remote_ref: None,
            last_error: None,
        });
        record.status = SyncStatus::Pending;
        record.attempts += 1;
        record.lease_until = millis(now + lease);
        record.updated_at = now;
        Ok(SyncLease::Acquired(record.clone()))
    }

    async fn mark_sync_sent(
        &self,
        key: &SyncKey,
        remote_ref: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.touching(&key.order_id)?;
        let now = millis(now);
        let record = state
            .sync
            .get_mut(&sync_map_key(key))
            .ok_or_else(|| anyhow!("mark sync record sent: no sync record"))?;
        record.status = SyncStatus::Sent;
        record.sent_at = Some(now);
        record.updated_at = now;
        record.lease_until = now;
        if let Some(remote) = remote_ref {
            record.remote_ref = Some(remote.to_owned());
        }
        record.last_error = None;
        Ok(())
    }

    async fn mark_sync_failed(
        &self,
        key: &SyncKey,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.touching(&key.order_id)?;
        let now = millis(now);
        if let Some(record) = state.sync.get_mut(&sync_map_key(key)) {
            if record.status != SyncStatus::Sent {
                record.status = SyncStatus::Failed;
                record.last_error = Some(truncate(error));
                record.updated_at = now;
                record.lease_until = now;
            }
        }
        Ok(())
    }

    async fn sync_record(&self, key: &SyncKey) -> Result<Option<SyncRecord>, StoreError> {
        Ok(self
            .touching(&key.order_id)?
            .sync
            .get(&sync_map_key(key))
            .cloned())
    }
}

impl PollCursors for MemoryStore {
    async fn poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
    ) -> Result<Option<PollCursor>, StoreError> {
        Ok(self
            .lock()
            .polls
            .get(&(store.to_owned(), merchant_id.to_owned()))
            .cloned())
    }

    async fn advance_poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
        read: Option<&PollCursor>,
        changed_after: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = (store.to_owned(), merchant_id.to_owned());
        let unchanged = match (state.polls.get(&key), read) {
            (None, None) => true,
            (Some(current), Some(read)) => current.version == read.version,
            _ => false,
        };
        if unchanged {
            state.polls.insert(
                key,
                PollCursor {
                    changed_after,
                    version: read.map_or(1, |r| r.version + 1),
                },
            );
        }
        Ok(unchanged)
    }
}

impl WebhookDeliveries for MemoryStore {
    async fn webhook_delivery(
        &self,
        key: &webhooks::DeliveryKey,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self.lock().webhooks.get(&key.pk()).cloned())
    }

    async fn record_webhook_delivery(
        &self,
        key: &webhooks::DeliveryKey,
        delivery: Delivery,
    ) -> Result<(), StoreError> {
        self.lock().webhooks.entry(key.pk()).or_insert(delivery);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::store_contract!(async { super::MemoryStore::new() });
}
