//! Domain rules of the order tracking timeline.
//!
//! Everything here is pure: no clock reads, no I/O. Callers pass "now" in, so every
//! rule can be replayed for any date and tested in microseconds.

pub mod calendar;
pub mod carriers;
pub mod claims;
pub mod connections;
pub mod email;
pub mod feed;
pub mod label;
pub mod nightly;
pub mod order;
pub mod shipment;
pub mod status;
pub mod subscriptions;
pub mod sync;
pub mod timeline;
pub mod unsubscribe;
