//! Stand-ins the handler tests and the integration tests share.

pub mod fake_store;
