use chrono::{Duration, TimeZone, Utc};
use local_stack::{read_response, ApiEvent, TestStack};
use serde_json::json;

use crate::*;

#[tokio::test]
async fn label_upload_records_depot_and_sets_completion_and_expiry() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    // 23:50 CST Tuesday: Completed at 06:00 CST Wednesday.
    let uploaded = Utc.with_ymd_and_hms(2026, 11, 25, 5, 50, 0).unwrap();
    let (status, body) =
        upload_label(&stack, &order_id, "ups", "1Z999AA10123456784", uploaded).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["completes_at"], "2026-11-25T12:00:00Z");
    assert_eq!(body["shipment_status"], "at_depot");
    assert_eq!(body["tracking_expires_at"], "2027-03-25T05:50:00Z");
    assert_eq!(body["first_scan_due_at"], "2026-11-26T06:00:00Z");

    let found = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.timeline.events().len(), 1);
    assert_eq!(found.timeline.events()[0].code, "LABEL_CREATED");
}

#[tokio::test]
async fn upload_just_after_midnight_ct_completes_the_day_after() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    // 00:30 CST Wednesday.
    let uploaded = Utc.with_ymd_and_hms(2026, 11, 25, 6, 30, 0).unwrap();
    let (_, body) = upload_label(&stack, &order_id, "ups", "1Z999AA10123456784", uploaded).await;
    assert_eq!(body["completes_at"], "2026-11-26T12:00:00Z");
}

#[tokio::test]
async fn same_upload_again_is_idempotent() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let (first_status, first) = upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    let items = stack.item_count().await;
    let (status, again) = upload_label(
        &stack,
        &order_id,
        "ups",
        "1z999aa1 0123456784",
        tuesday_morning() + Duration::hours(1),
    )
    .await;
    assert_eq!((first_status, status), (201, 200));
    assert_eq!(again["completes_at"], first["completes_at"]);
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn tracking_number_used_by_another_order_is_refused() {
    let stack = TestStack::new().await;
    let first = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let second = create_order(&stack, "merchant-acme", "1002", tuesday_morning()).await;
    upload_label(
        &stack,
        &first,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    let items = stack.item_count().await;
    let (status, body) = upload_label(
        &stack,
        &second,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "tracking_number_in_use");
    assert_eq!(stack.item_count().await, items);
    let order = stack.store().get_order(&second).await.unwrap().unwrap();
    assert!(order.order.shipments.is_empty());
}

#[tokio::test]
async fn a_second_different_label_on_the_same_order_is_a_second_package() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let (status, first) = upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = upload_label(
        &stack,
        &order_id,
        "fedex",
        "568838414941",
        tuesday_morning() + Duration::days(1),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(first["shipment_id"], second["shipment_id"]);
    assert_eq!(second["packages"], 2);
    // The order still completes from its first label.
    assert_eq!(second["completes_at"], first["completes_at"]);
    let stored = stack.store().get_order(&order_id).await.unwrap().unwrap();
    let numbers: Vec<_> = stored
        .order
        .shipments
        .iter()
        .map(|s| (s.shipment_id.as_str(), s.tracking_number.as_str()))
        .collect();
    assert_eq!(
        numbers,
        [
            (first["shipment_id"].as_str().unwrap(), "1Z999AA10123456784"),
            (second["shipment_id"].as_str().unwrap(), "568838414941")
        ]
    );
    let fedex = stack
        .store()
        .order_for_tracking("fedex", "568838414941")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fedex.order_id, order_id);
    assert_eq!(fedex.shipment_id.as_deref(), second["shipment_id"].as_str());
}

#[tokio::test]
async fn label_upload_needs_the_operations_role() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let items = stack.item_count().await;
    let event = ApiEvent::from_json(UPLOAD_LABEL)
        .role("merchant")
        .merchant("merchant-acme")
        .path_param("order_id", &order_id);
    let (status, body) = read_response(
        stack
            .label_upload()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 403, "{body}");
    let anonymous = ApiEvent::from_json(UPLOAD_LABEL)
        .without_authorizer()
        .path_param("order_id", &order_id);
    let (status, _) = read_response(
        stack
            .label_upload()
            .handle(anonymous.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 401);
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn invalid_labels_are_refused_with_the_field_and_write_nothing() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let items = stack.item_count().await;
    let cases = [
        (
            json!({"carrier": "pigeon", "service": "ground", "tracking_number": "1", "label_source": "jetpack"}),
            "carrier",
        ),
        (
            json!({"carrier": "ups", "service": "ground", "tracking_number": "1Z999AA10123456785", "label_source": "jetpack"}),
            "tracking_number",
        ),
        (
            json!({"carrier": "ups", "service": "", "tracking_number": "1Z999AA10123456784", "label_source": "jetpack"}),
            "service",
        ),
        (
            json!({"carrier": "ups", "service": "ground", "tracking_number": "1Z999AA10123456784", "label_source": "gift"}),
            "label_source",
        ),
    ];
    for (body, field) in cases {
        let event = ApiEvent::from_json(UPLOAD_LABEL)
            .path_param("order_id", &order_id)
            .body_json(&body);
        let (status, response) = read_response(
            stack
                .label_upload()
                .handle(event.request(), tuesday_morning())
                .await,
        );
        assert_eq!(status, 422, "{response}");
        assert_eq!(
            response["error"]["details"][0]["field"], field,
            "{response}"
        );
    }
    let missing = ApiEvent::from_json(UPLOAD_LABEL).path_param("order_id", "ord_missing");
    assert_eq!(
        read_response(
            stack
                .label_upload()
                .handle(missing.request(), tuesday_morning())
                .await
        )
        .0,
        404
    );
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn concurrent_different_labels_on_one_order_become_two_packages() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    let numbers = ["1Z999AA10123456784", "1ZWX0692YP40636269"];
    let uploads = numbers
        .iter()
        .map(|n| upload_label(&stack, &order_id, "ups", n, tuesday_morning()));
    let results = futures::future::join_all(uploads).await;
    assert!(results.iter().all(|(s, _)| *s == 201), "{results:?}");
    let order = stack
        .store()
        .order_with_timeline(&order_id)
        .await
        .unwrap()
        .unwrap();
    let mut ids: Vec<_> = order
        .order
        .shipments
        .iter()
        .map(|s| s.shipment_id.clone())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 2, "two packages, two ids: {ids:?}");
    for number in numbers {
        let target = stack
            .store()
            .order_for_tracking("ups", number)
            .await
            .unwrap()
            .unwrap();
        let package = order
            .order
            .shipments
            .iter()
            .find(|s| s.tracking_number == number)
            .unwrap();
        assert_eq!(target.shipment_id.as_ref(), Some(&package.shipment_id));
    }
    assert_eq!(order.timeline.events().len(), 2);
}
