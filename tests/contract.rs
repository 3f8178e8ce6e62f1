//! The store contract ([`tracking_aws::contract`]) against DynamoDB on the local stack:
//! the same cases the in-memory store passes, each on a fresh table.

use local_stack::TestStack;

tracking_aws::store_contract!(async { TestStack::new().await.store() });
