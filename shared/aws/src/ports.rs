//! What the functions ask of storage, one small trait per need, so each handler names
//! only what it uses and can run against the in-memory store ([`crate::memory`]) as well
//! as DynamoDB ([`crate::store::OrderStore`]). Both implement every trait, and one
//! contract suite ([`crate::contract`]) runs against both, so the fake keeps DynamoDB's
//! behaviour: conditional writes refused, versions checked, pages that resume where
//! they stopped.
//!
//! Every write is conditional on what its caller read or on the item's absence: a lost
//! race is [`StoreError::Contention`] (the caller re-reads and decides again, see
//! [`crate::store::optimistic`]), never a silent overwrite.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use tracking_domain::claims::{ClaimRecord, ClaimState};
use tracking_domain::email::EmailAddress;
use tracking_domain::label::{LabelChange, VoidChange};
use tracking_domain::nightly::Sweep;
use tracking_domain::order::Order;
use tracking_domain::subscriptions::Subscription;
use tracking_domain::sync::{SyncKey, SyncRecord};
use tracking_domain::timeline::TimelineEvent;

use crate::store::claims::{ClaimPage, ClaimQuery, OrderClaims};
use crate::store::nightly::HandOffKey;
use crate::store::polls::PollCursor;
use crate::store::subscriptions::{
    DeliveryKey, DeliveryLease, NotificationContext, SubscribeOutcome,
};
use crate::store::sync::SyncLease;
use crate::store::webhooks::{self, Delivery};
use crate::store::{
    CreateOutcome, EventWrite, LabelOutcome, ListError, ListQuery, OrderPage, OrderWithTimeline,
    StoreError, SweepCursor, SweepPage, TrackingRef, VersionedOrder,
};

/// Orders themselves: created once, read with their version, written at the version read.
pub trait Orders: Send + Sync {
    /// Creates an order unless its id exists: the same request again is
    /// [`CreateOutcome::AlreadyExists`], another body under the id a
    /// [`CreateOutcome::Conflict`]. Nothing is overwritten.
    fn create_order(
        &self,
        order: Order,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// The order and its version, read consistently.
    fn get_order(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<VersionedOrder>, StoreError>> + Send;

    /// Writes `order` if it is still at `expected` (then at `expected + 1`);
    /// [`StoreError::Contention`] if it moved.
    fn put_order_at_version(
        &self,
        order: &Order,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of a merchant's orders, newest first, filtered by status and shipment
    /// status. A cursor is bound to the list it came from; any other is
    /// [`ListError::InvalidCursor`].
    fn list_orders(
        &self,
        merchant_id: &str,
        query: &ListQuery,
    ) -> impl Future<Output = Result<OrderPage, ListError>> + Send;

    /// A merchant's orders whose order number, tracking number or hand-off number is
    /// `term` (matched loosely, see [`crate::store::normalize_lookup_term`]), newest first.
    fn search_orders(
        &self,
        merchant_id: &str,
        term: &str,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
}

/// Timelines: events are written once by their id, alone or with the order change they
/// announce.
pub trait Timelines: Send + Sync {
    /// The order with its version and every event on its timeline.
    fn order_with_timeline(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<OrderWithTimeline>, StoreError>> + Send;

    /// Adds an event unless one with its id is there; `false` for a duplicate.
    fn put_event(
        &self,
        order_id: &str,
        event: TimelineEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The order (at `expected`) and a new event, both or neither. The order having moved
    /// is [`StoreError::Contention`]; the event already there while the order has not is
    /// [`EventWrite::EventExists`], and nothing is written.
    fn put_order_with_event(
        &self,
        order: &Order,
        expected: u64,
        event: TimelineEvent,
    ) -> impl Future<Output = Result<EventWrite, StoreError>> + Send;
}

/// Tracking numbers: unique per carrier, each pointing at its order.
pub trait TrackingNumbers: Send + Sync {
    /// The order a carrier's tracking number belongs to.
    fn order_for_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
    ) -> impl Future<Output = Result<Option<TrackingRef>, StoreError>> + Send;

    /// Points a (hand-off) number at `target`. Again for the same order is a no-op
    /// (`true`); another order holding it is `false` and changes nothing.
    fn claim_tracking(
        &self,
        carrier_code: &str,
        tracking_number: &str,
        target: &TrackingRef,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims the label's number for its package, writes the order at the version read,
    /// adds the label event and releases the number a relabel gave up, all or nothing.
    /// A number held by any package is [`LabelOutcome::TrackingNumberInUse`]; the order
    /// having moved (or the event being there) is [`StoreError::Contention`].
    fn attach_label(
        &self,
        read: &VersionedOrder,
        change: &LabelChange,
    ) -> impl Future<Output = Result<LabelOutcome, StoreError>> + Send;

    /// Writes the order with the package voided at the version read, adds the void's
    /// event and releases the package's number, all or nothing; the order having moved
    /// (or the event being there) is [`StoreError::Contention`].
    fn void_label(
        &self,
        read: &VersionedOrder,
        change: &VoidChange,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The nightly sweeps' lists ([`Sweep::position_of`]).
pub trait SweepLists: Send + Sync {
    /// Ids of the orders whose position on `sweep`'s list is at or before `up_to`, oldest
    /// first, `limit` at most, from where `start` left off.
    fn sweep_page(
        &self,
        sweep: Sweep,
        up_to: DateTime<Utc>,
        limit: i32,
        start: Option<SweepCursor>,
    ) -> impl Future<Output = Result<SweepPage, StoreError>> + Send;
}

/// Records of the nightly run's hand-offs to its continuation, so a retried invocation
/// does not hand the same rest of the night on twice.
pub trait HandOffs: Send + Sync {
    /// Takes the hand-off for `token` when there is none, when a sender's lease ran out,
    /// when it was released, or when the record is older than `replay_horizon`.
    fn lease_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        lease: Duration,
        replay_horizon: Duration,
        next: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks the hand-off sent, if `token` still holds it.
    fn hand_off_sent(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        next: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Gives the hand-off back, if `token` still holds it.
    fn release_hand_off(
        &self,
        key: &HandOffKey,
        token: &str,
        now: DateTime<Utc>,
        next: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Parcel claims, kept with their order.
pub trait Claims: Send + Sync {
    /// The order, its timeline and its claims (newest first).
    fn order_with_claims(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<OrderClaims>, StoreError>> + Send;

    /// Files a claim with its timeline event, if the order is still at `order_version`, no
    /// claim has its id and no claim of its type is open; otherwise
    /// [`StoreError::Contention`] and nothing is written.
    fn file_claim(
        &self,
        order_version: u64,
        claim: &ClaimRecord,
        event: TimelineEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes `moved` (a claim one step on) if it is still in `from`, with the step's
    /// event, freeing its package's open-claim guard once decided. A claim that moved
    /// since it was read is [`StoreError::Contention`].
    fn move_claim(
        &self,
        moved: &ClaimRecord,
        from: ClaimState,
        event: TimelineEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of a merchant's claims, newest first, filtered by state.
    fn list_claims(
        &self,
        merchant_id: &str,
        query: &ClaimQuery,
    ) -> impl Future<Output = Result<ClaimPage, ListError>> + Send;
}

/// Who is told about an order: one subscription per mailbox and scope.
pub trait Subscriptions: Send + Sync {
    /// Subscribes once per canonical mailbox; again is [`SubscribeOutcome::AlreadySubscribed`].
    fn subscribe(
        &self,
        subscription: Subscription,
    ) -> impl Future<Output = Result<SubscribeOutcome, StoreError>> + Send;

    fn order_subscriptions(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    fn merchant_subscriptions(
        &self,
        merchant_id: &str,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;

    /// `false` when there was nothing to remove.
    fn remove_order_subscription(
        &self,
        order_id: &str,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `false` when there was nothing to remove.
    fn remove_merchant_subscription(
        &self,
        merchant_id: &str,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Emails sent about timeline events: at most one per event and mailbox.
pub trait Deliveries: Send + Sync {
    /// The order, its timeline and its own subscribers.
    fn notification_context(
        &self,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<NotificationContext>, StoreError>> + Send;

    fn lease_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<DeliveryLease, StoreError>> + Send;

    fn mark_delivery_sent(
        &self,
        key: DeliveryKey<'_>,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn mark_delivery_failed(
        &self,
        key: DeliveryKey<'_>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a lease without a verdict, so the next attempt may take it at once.
    fn release_delivery(
        &self,
        key: DeliveryKey<'_>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Tracking pushed to merchants' stores ([`tracking_domain::sync`]).
pub trait SyncRecords: Send + Sync {
    /// Leases a push for one attempt if [`SyncRecord::leasable`] (or new).
    fn lease_sync(
        &self,
        key: &SyncKey,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<SyncLease, StoreError>> + Send;

    fn mark_sync_sent(
        &self,
        key: &SyncKey,
        remote_ref: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a failed attempt and releases the lease; never overwrites `sent`.
    fn mark_sync_failed(
        &self,
        key: &SyncKey,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn sync_record(
        &self,
        key: &SyncKey,
    ) -> impl Future<Output = Result<Option<SyncRecord>, StoreError>> + Send;
}

/// Where polling a store for changed orders has got to, per store and merchant.
pub trait PollCursors: Send + Sync {
    fn poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
    ) -> impl Future<Output = Result<Option<PollCursor>, StoreError>> + Send;

    /// Moves the cursor on if it is still as `read` (absent for `None`); `false` if
    /// another poll moved it first.
    fn advance_poll_cursor(
        &self,
        store: &str,
        merchant_id: &str,
        read: Option<&PollCursor>,
        changed_after: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Store webhooks already processed, so a redelivered one changes nothing.
pub trait WebhookDeliveries: Send + Sync {
    fn webhook_delivery(
        &self,
        key: &webhooks::DeliveryKey,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    fn record_webhook_delivery(
        &self,
        key: &webhooks::DeliveryKey,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
