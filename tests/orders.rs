use chrono::Duration;
use local_stack::{read_response, unique_merchant, ApiEvent, TestStack};
use serde_json::json;

use crate::*;

#[tokio::test]
async fn create_order_starts_received_and_processing() {
    let stack = TestStack::new().await;
    let event = ApiEvent::from_json(CREATE_ORDER);
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["order_number"], "1001");
    assert_eq!(body["status"], "Processing");
    assert_eq!(body["shipment_status"], "received");
    assert!(body["order_id"].as_str().unwrap().starts_with("ord_"));
}

#[tokio::test]
async fn retried_create_returns_the_same_order_and_writes_nothing_more() {
    let stack = TestStack::new().await;
    let api = stack.orders_api();
    let event = ApiEvent::from_json(CREATE_ORDER);
    let (_, first) = read_response(api.handle(event.request(), tuesday_morning()).await);
    let items = stack.item_count().await;
    let (status, again) = read_response(
        api.handle(event.request(), tuesday_morning() + Duration::minutes(5))
            .await,
    );
    assert_eq!(status, 200);
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(again["created_at"], first["created_at"]);
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn same_order_number_with_another_body_is_a_conflict() {
    let stack = TestStack::new().await;
    let api = stack.orders_api();
    api.handle(
        ApiEvent::from_json(CREATE_ORDER).request(),
        tuesday_morning(),
    )
    .await;
    let mut body = order_body("1001");
    body["customer"]["name"] = "Someone Else".into();
    let event = ApiEvent::from_json(CREATE_ORDER).body_json(&body);
    let (status, body) = read_response(api.handle(event.request(), tuesday_morning()).await);
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "order_number_taken");
}

#[tokio::test]
async fn same_order_number_for_two_merchants_is_two_orders() {
    let stack = TestStack::new().await;
    let a = create_order(&stack, "merchant-a", "1001", tuesday_morning()).await;
    let b = create_order(&stack, "merchant-b", "1001", tuesday_morning()).await;
    assert_ne!(a, b);
}

#[tokio::test]
async fn request_without_jwt_claims_is_401() {
    let stack = TestStack::new().await;
    let event = ApiEvent::from_json(CREATE_ORDER).without_authorizer();
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn another_merchants_order_is_404_exactly_like_a_missing_one() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-a", "1001", tuesday_morning()).await;
    let api = stack.orders_api();
    let foreign = ApiEvent::from_json(GET_ORDER)
        .merchant("merchant-b")
        .path_param("order_id", &order_id);
    let missing = ApiEvent::from_json(GET_ORDER)
        .merchant("merchant-b")
        .path_param("order_id", "ord_missing");
    let (foreign_status, foreign_body) =
        read_response(api.handle(foreign.request(), tuesday_morning()).await);
    let (missing_status, missing_body) =
        read_response(api.handle(missing.request(), tuesday_morning()).await);
    assert_eq!((foreign_status, missing_status), (404, 404));
    assert_eq!(foreign_body, missing_body);
    let own = ApiEvent::from_json(GET_ORDER)
        .merchant("merchant-a")
        .path_param("order_id", &order_id);
    assert_eq!(
        read_response(api.handle(own.request(), tuesday_morning()).await).0,
        200
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_code_and_message_and_writes_nothing() {
    let stack = TestStack::new().await;
    let api = stack.orders_api();
    let mut invalid_email = order_body("1");
    invalid_email["customer"]["email"] = "not an email".into();
    let mut oversized_field = order_body("2");
    oversized_field["order_number"] = "9".repeat(65).into();
    let cases = [
        (
            ApiEvent::from_json(CREATE_ORDER).body_text("{\"order_number\": "),
            400,
            "malformed_json",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER).body_text(""),
            400,
            "missing_body",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER).body_json(&json!({"order_number": ["x"]})),
            422,
            "validation_failed",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER).body_json(&json!({})),
            422,
            "validation_failed",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER).body_json(&invalid_email),
            422,
            "validation_failed",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER).body_json(&oversized_field),
            422,
            "validation_failed",
        ),
        (
            ApiEvent::from_json(CREATE_ORDER)
                .body_text(&format!("{{\"pad\": \"{}\"}}", "x".repeat(70_000))),
            413,
            "payload_too_large",
        ),
        (
            ApiEvent::from_json(LIST_ORDERS).query(&[("limit", "0")]),
            400,
            "invalid_limit",
        ),
        (
            ApiEvent::from_json(LIST_ORDERS).query(&[("status", "Shipped")]),
            400,
            "invalid_status",
        ),
        (
            ApiEvent::from_json(LIST_ORDERS).query(&[("shipment_status", "lost")]),
            400,
            "invalid_shipment_status",
        ),
        (
            ApiEvent::from_json(LIST_ORDERS).query(&[("cursor", "garbage")]),
            400,
            "invalid_cursor",
        ),
    ];
    for (event, expected_status, expected_code) in cases {
        let (status, body) = read_response(api.handle(event.request(), tuesday_morning()).await);
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(body["error"]["code"], expected_code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 10),
            "{body}"
        );
    }
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn validation_error_names_every_bad_field() {
    let stack = TestStack::new().await;
    let mut body = order_body("1");
    body["customer"]["email"] = "nope".into();
    body["ship_to"]["country"] = "USA".into();
    let event = ApiEvent::from_json(CREATE_ORDER).body_json(&body);
    let (_, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    let fields: Vec<_> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer.email", "ship_to.country"]);
}

#[tokio::test]
async fn csv_import_creates_valid_rows_and_reports_invalid_ones_by_row_number() {
    let stack = TestStack::new().await;
    let api = stack.orders_api();
    let event = ApiEvent::from_json(IMPORT_ORDERS);
    let (status, body) = read_response(api.handle(event.request(), tuesday_morning()).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["created"].as_u64(), body["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows[2]["row"], 4);
    assert_eq!(rows[2]["result"], "error");
    let failed_fields: Vec<_> = rows[2]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed_fields,
        ["customer.name", "customer.email", "ship_to.line1"]
    );

    let items = stack.item_count().await;
    let (_, again) = read_response(
        api.handle(event.request(), tuesday_morning() + Duration::hours(1))
            .await,
    );
    assert_eq!(
        (again["created"].as_u64(), again["already_existed"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        stack.item_count().await,
        items,
        "re-uploading the same file created something"
    );
}

#[tokio::test]
async fn xlsx_import_reads_the_first_sheet_with_numbers_as_typed() {
    let stack = TestStack::new().await;
    let xlsx = include_bytes!("fixtures/orders.xlsx");
    let event = ApiEvent::from_json(IMPORT_ORDERS).body_binary(xlsx);
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["created"], 2, "{body}");
    assert_eq!(body["rows"][0]["order_number"], "3001");
    assert_eq!(body["rows"][1]["row"], 3);
}

#[tokio::test]
async fn five_thousand_row_import_is_handled_in_one_request() {
    let stack = TestStack::new().await;
    let mut csv = String::from("order_number,customer_name,customer_email,ship_to_line1,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country\n");
    for n in 0..5_000 {
        csv.push_str(&format!(
            "B{n:05},Customer {n},c{n}@example.com,{n} Elm St,Chicago,IL,60601,US\n"
        ));
    }
    let event = ApiEvent::from_json(IMPORT_ORDERS).body_text(&csv);
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 200);
    assert_eq!(body["created"], 5_000);
    assert_eq!(body["rows"].as_array().unwrap().len(), 5_000);
    assert_eq!(stack.requests.get("PutItem"), 5_000);
}

/// A workbook with one sheet, built in memory: `dimension` is the used range the sheet
/// declares, `rows` its `<row>` elements.
fn workbook(dimension: Option<&str>, rows: &str) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let rels = |target: &str, kind: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/></Relationships>"#
        )
    };
    let dimension = dimension
        .map(|d| format!(r#"<dimension ref="{d}"/>"#))
        .unwrap_or_default();
    let parts = [
        ("_rels/.rels", rels("xl/workbook.xml", "officeDocument")),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
        ("xl/_rels/workbook.xml.rels", rels("worksheets/sheet1.xml", "worksheet")),
        ("xl/worksheets/sheet1.xml", format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{rows}</sheetData></worksheet>"#)),
    ];
    for (name, body) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sheet_row(row: usize, values: &[&str]) -> String {
    let cells: String = values
        .iter()
        .zip('A'..)
        .map(|(value, column)| {
            format!(r#"<c r="{column}{row}" t="inlineStr"><is><t>{value}</t></is></c>"#)
        })
        .collect();
    format!(r#"<row r="{row}">{cells}</row>"#)
}

const SHEET_HEADER: [&str; 6] = [
    "order_number",
    "customer_name",
    "customer_email",
    "ship_to_line1",
    "ship_to_city",
    "ship_to_country",
];

fn sheet_order(row: usize) -> String {
    sheet_row(
        row,
        &[
            &format!("H{row}"),
            "Ada",
            &format!("c{row}@example.com"),
            "1 Main St",
            "Austin",
            "US",
        ],
    )
}

#[tokio::test]
async fn sheet_declaring_16384_by_10001_cells_is_refused_with_422_and_writes_nothing() {
    let stack = TestStack::new().await;
    // A valid order in row 2, and one value at the sheet's far corner (XFD10001).
    let rows = format!(
        r#"{}{}<row r="10001"><c r="XFD10001" t="inlineStr"><is><t>x</t></is></c></row>"#,
        sheet_row(1, &SHEET_HEADER),
        sheet_order(2)
    );
    let items = stack.item_count().await;
    for (dimension, declared) in [(Some("A1:XFD10001"), true), (None, false)] {
        let xlsx = workbook(dimension, &rows);
        assert!(xlsx.len() < 2048, "{} bytes", xlsx.len());
        stack.requests.reset();
        let event = ApiEvent::from_json(IMPORT_ORDERS).body_binary(&xlsx);
        let (status, body) = read_response(
            stack
                .orders_api()
                .handle(event.request(), tuesday_morning())
                .await,
        );
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "too_many_columns", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("column BL"), "{message}");
        assert_eq!(message.contains("used range"), declared, "{message}");
        assert_eq!(body["error"]["details"]["max_columns"], 64);
        assert_eq!(stack.requests.total(), 0, "a refused file reaches no table");
    }
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn sheet_with_more_orders_than_the_limit_is_refused_whole_even_when_it_declares_fewer() {
    let stack = TestStack::new().await;
    let mut rows = sheet_row(1, &SHEET_HEADER);
    for row in 2..=10_002 {
        rows.push_str(&sheet_order(row));
    }
    let items = stack.item_count().await;
    stack.requests.reset();
    let event = ApiEvent::from_json(IMPORT_ORDERS).body_binary(&workbook(Some("A1:F2"), &rows));
    let (status, body) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "too_many_rows");
    assert_eq!(body["error"]["details"]["max_rows"], 10_000);
    assert_eq!(stack.requests.total(), 0);
    assert_eq!(stack.item_count().await, items);
}

#[tokio::test]
async fn list_is_newest_first_filtered_and_paged_by_cursor_with_one_query_per_page() {
    let stack = TestStack::new().await;
    let merchant = unique_merchant("lister");
    for n in 0..5 {
        create_order(
            &stack,
            &merchant,
            &format!("L{n}"),
            tuesday_morning() + Duration::minutes(n),
        )
        .await;
    }
    let labeled = create_order(
        &stack,
        &merchant,
        "L-labeled",
        tuesday_morning() + Duration::minutes(10),
    )
    .await;
    upload_label(
        &stack,
        &labeled,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning() + Duration::minutes(11),
    )
    .await;
    create_order(&stack, "someone-else", "X1", tuesday_morning()).await;
    let api = stack.orders_api();

    stack.requests.reset();
    let first = ApiEvent::from_json(LIST_ORDERS)
        .merchant(&merchant)
        .query(&[("limit", "4")]);
    let (status, page) = read_response(api.handle(first.request(), tuesday_morning()).await);
    assert_eq!(status, 200, "{page}");
    assert_eq!(stack.requests.snapshot(), [("Query".to_owned(), 1)].into());
    let numbers: Vec<_> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ["L-labeled", "L4", "L3", "L2"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let second = ApiEvent::from_json(LIST_ORDERS)
        .merchant(&merchant)
        .query(&[("limit", "4"), ("cursor", &cursor)]);
    let (_, page) = read_response(api.handle(second.request(), tuesday_morning()).await);
    let numbers: Vec<_> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers, ["L1", "L0"]);

    let stolen = ApiEvent::from_json(LIST_ORDERS)
        .merchant("someone-else")
        .query(&[("limit", "4"), ("cursor", &cursor)]);
    let (status, body) = read_response(api.handle(stolen.request(), tuesday_morning()).await);
    assert_eq!(
        status, 400,
        "another merchant's cursor was accepted: {body}"
    );

    let depot = ApiEvent::from_json(LIST_ORDERS)
        .merchant(&merchant)
        .query(&[("shipment_status", "at_depot")]);
    let (_, page) = read_response(api.handle(depot.request(), tuesday_morning()).await);
    assert_eq!(page["orders"].as_array().unwrap().len(), 1);
    assert_eq!(page["orders"][0]["order_id"], labeled.as_str());

    let processing_received = ApiEvent::from_json(LIST_ORDERS)
        .merchant(&merchant)
        .query(&[("status", "Processing"), ("shipment_status", "received")]);
    let (_, page) = read_response(
        api.handle(processing_received.request(), tuesday_morning())
            .await,
    );
    assert_eq!(page["orders"].as_array().unwrap().len(), 5);
    assert_eq!(stack.requests.get("Scan"), 0);
}

#[tokio::test]
async fn search_finds_an_order_by_order_number_or_tracking_number() {
    let stack = TestStack::new().await;
    let merchant = unique_merchant("searcher");
    let order_id = create_order(&stack, &merchant, "A-1001", tuesday_morning()).await;
    create_order(&stack, &merchant, "A-1002", tuesday_morning()).await;
    upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning(),
    )
    .await;
    let api = stack.orders_api();
    for term in [
        "A-1001",
        "#a1001",
        "1Z999AA10123456784",
        "1z 999 aa1 0123 4567 84",
    ] {
        let event = ApiEvent::from_json(SEARCH_ORDERS)
            .merchant(&merchant)
            .query(&[("q", term)]);
        let (status, body) = read_response(api.handle(event.request(), tuesday_morning()).await);
        assert_eq!(status, 200);
        let ids: Vec<_> = body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [order_id.as_str()], "search for {term:?}");
    }
    let other = ApiEvent::from_json(SEARCH_ORDERS)
        .merchant("someone-else")
        .query(&[("q", "1Z999AA10123456784")]);
    let (_, body) = read_response(api.handle(other.request(), tuesday_morning()).await);
    assert_eq!(body["orders"], json!([]));
    assert_eq!(stack.requests.get("Scan"), 0);
}

#[tokio::test]
async fn order_details_show_breakdown_and_timeline_from_one_query() {
    let stack = TestStack::new().await;
    let order_id = create_order(&stack, "merchant-acme", "1001", tuesday_morning()).await;
    upload_label(
        &stack,
        &order_id,
        "ups",
        "1Z999AA10123456784",
        tuesday_morning() + Duration::hours(2),
    )
    .await;
    stack.requests.reset();
    let event = ApiEvent::from_json(GET_ORDER).path_param("order_id", &order_id);
    let (status, details) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning() + Duration::hours(3))
            .await,
    );
    assert_eq!(status, 200, "{details}");
    assert_eq!(stack.requests.snapshot(), [("Query".to_owned(), 1)].into());

    assert_eq!(details["status"], "Processing");
    assert_eq!(details["completes_at"], "2026-11-25T12:00:00Z");
    assert_eq!(details["shipment_status"], "at_depot");
    assert_eq!(details["shipment_status_label"], "At Depot");
    assert_eq!(details["store_sync"]["automatic"], false);
    let shipment = &details["shipment"];
    assert_eq!(shipment["carrier"], "ups");
    assert_eq!(shipment["tracking_number"], "1Z999AA10123456784");
    assert!(shipment["tracking_url"]
        .as_str()
        .unwrap()
        .contains("1Z999AA10123456784"));
    assert_eq!(shipment["tracking_expires_at"], "2027-03-24T18:00:00Z");
    assert_eq!(shipment["tracking_expired"], false);
    assert_eq!(shipment["handoff"], serde_json::Value::Null);
    assert_eq!(
        shipment["claim_windows"]["lost_in_transit"]["state"],
        "not_yet_open"
    );

    let timeline = details["timeline"].as_array().unwrap();
    let codes: Vec<_> = timeline
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ORDER_RECEIVED", "LABEL_CREATED"]);
    assert_eq!(timeline[1]["occurred_at"], "2026-11-24T18:00:00Z");
    assert_eq!(timeline[1]["local_time"], "2026-11-24T12:00:00-06:00");
    assert_eq!(timeline[1]["utc_offset"], "-06:00");
    assert_eq!(timeline[1]["status_label"], "At Depot");
}

#[tokio::test]
async fn shopify_order_details_say_tracking_syncs_and_manual_say_share_it() {
    let stack = TestStack::new().await;
    let mut body = order_body("S-1");
    body["source"] = "shopify".into();
    body["external_order_id"] = "gid://shopify/Order/5531".into();
    let event = ApiEvent::from_json(CREATE_ORDER).body_json(&body);
    let (_, created) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    let event = ApiEvent::from_json(GET_ORDER)
        .path_param("order_id", created["order_id"].as_str().unwrap());
    let (_, details) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(details["store_sync"]["automatic"], true);
    assert!(details["store_sync"]["message"]
        .as_str()
        .unwrap()
        .contains("Shopify"));
}

/// The function as deployed serves the committed document, and it is the one the types
/// say (`./dev openapi` regenerates it).
#[tokio::test]
async fn the_deployed_function_serves_the_api_document_the_types_say() {
    let stack = TestStack::new().await;
    let event = ApiEvent::from_json(include_str!("../events/orders-api/get-api-document.json"));
    let (status, document) = read_response(
        stack
            .orders_api()
            .handle(event.request(), tuesday_morning())
            .await,
    );
    assert_eq!(status, 200);
    assert_eq!(document, local_stack::openapi::document());
}
