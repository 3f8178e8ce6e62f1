use chrono::Duration;
use local_stack::TestStack;
use tracking_aws::store::LabelOutcome;
use tracking_domain::carriers::Carrier;
use tracking_domain::nightly::Sweep;

use crate::*;

#[tokio::test]
async fn order_for_a_carrier_tracking_number_is_one_get() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    stack.requests.reset();
    let found = stack
        .store()
        .order_for_tracking("ups", "1Z999AA10123456784")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.order_id, order_id);
    assert_eq!(found.merchant_id, "merchant-acme");
    assert_eq!(
        stack.requests.snapshot(),
        [("GetItem".to_owned(), 1)].into()
    );
    assert!(stack
        .store()
        .order_for_tracking("fedex", "1Z999AA10123456784")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn tracking_numbers_are_unique_per_carrier_not_across_carriers() {
    let stack = TestStack::new().await;
    let store = stack.store();
    let a = create_order(&stack, "m", "A", tuesday_morning()).await;
    let b = create_order(&stack, "m", "B", tuesday_morning()).await;
    let c = create_order(&stack, "m", "C", tuesday_morning()).await;
    // The same digits are a valid 22-digit number for both USPS and FedEx.
    let number = "9400111899223197428497";
    let attach = |order_id: String, carrier: Carrier| {
        let store = store.clone();
        async move {
            let read = store.get_order(&order_id).await.unwrap().unwrap();
            let label = label_upload::LabelRequest {
                carrier: Some(carrier.code().into()),
                service: Some("ground".into()),
                tracking_number: Some(number.into()),
                label_source: Some("jetpack".into()),
                shipment_id: None,
            }
            .parse()
            .unwrap()
            .label;
            let tracking_domain::label::LabelDecision::Attach(change) =
                tracking_domain::label::attach(&read.order, &label, None, tuesday_morning())
            else {
                panic!("a new order takes a label");
            };
            store.attach_label(&read, &change).await.unwrap()
        }
    };
    assert!(matches!(
        attach(a, Carrier::Usps).await,
        LabelOutcome::Attached(_)
    ));
    assert!(matches!(
        attach(b, Carrier::Usps).await,
        LabelOutcome::TrackingNumberInUse
    ));
    assert!(matches!(
        attach(c, Carrier::Fedex).await,
        LabelOutcome::Attached(_)
    ));
}

#[tokio::test]
async fn concurrent_writers_never_lose_an_update() {
    let stack = TestStack::new().await;
    let store = stack.store();
    let order_id = create_order(&stack, "m", "1", tuesday_morning()).await;
    upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    // Eight writers each set their own flag at once; optimistic locking must keep all eight.
    let writers = (0..8).map(|n| {
        let store = store.clone();
        let order_id = order_id.clone();
        async move {
            store
                .update_order(&order_id, |order| {
                    let mut order = order.clone();
                    order.details.customer.name.push_str(&format!(" w{n}"));
                    Some(order)
                })
                .await
                .unwrap()
        }
    });
    futures::future::join_all(writers).await;
    let order = store.get_order(&order_id).await.unwrap().unwrap();
    for n in 0..8 {
        assert!(
            order
                .order
                .details
                .customer
                .name
                .contains(&format!(" w{n}")),
            "lost writer {n}: {}",
            order.order.details.customer.name
        );
    }
    // Created at version 1, labeled at 2, then eight updates.
    assert_eq!(order.version, 10);
}

#[tokio::test]
async fn due_index_is_sparse_and_holds_only_labeled_processing_orders() {
    let stack = TestStack::new().await;
    let store = stack.store();
    for n in 0..20 {
        create_order(&stack, "m", &format!("unlabeled-{n}"), tuesday_morning()).await;
    }
    let due_order = create_order(&stack, "m", "labeled", tuesday_morning()).await;
    upload_label(
        &stack,
        &due_order,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    let completes_at = store
        .get_order(&due_order)
        .await
        .unwrap()
        .unwrap()
        .order
        .completes_at
        .unwrap();

    let before = store
        .sweep_page(
            Sweep::Completion,
            completes_at - Duration::seconds(1),
            100,
            None,
        )
        .await
        .unwrap();
    assert!(before.order_ids.is_empty());
    stack.requests.reset();
    let due = store
        .sweep_page(Sweep::Completion, completes_at, 100, None)
        .await
        .unwrap();
    assert_eq!(due.order_ids, std::slice::from_ref(&due_order));
    assert_eq!(stack.requests.snapshot(), [("Query".to_owned(), 1)].into());

    // The index holds one entry: the 20 unlabeled orders never entered it.
    let scanned = stack
        .client
        .scan()
        .table_name(&stack.table)
        .index_name("due")
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.count, 1);

    store
        .update_order(&due_order, |order| {
            let mut order = order.clone();
            order.status = tracking_domain::status::OrderStatus::Completed;
            Some(order)
        })
        .await
        .unwrap();
    let scanned = stack
        .client
        .scan()
        .table_name(&stack.table)
        .index_name("due")
        .send()
        .await
        .unwrap();
    assert_eq!(
        scanned.count, 0,
        "a completed order must leave the due index"
    );
}
