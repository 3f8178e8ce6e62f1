//! What the fuzz targets (fuzz/, `./dev fuzz`) do with each input: every parser that takes
//! bytes from outside, with the properties its answer must have. Each function takes any
//! bytes and panics only on a broken property, so libFuzzer (nightly or `-s none`) and the
//! stable corpus replay (`corpus_replays` below, in `./dev test`) run the same code.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use tracking_aws::store::claims::decode_claims_cursor;
use tracking_aws::store::{decode_order_cursor, encode_cursor};
use tracking_domain::feed::Scan;
use tracking_domain::unsubscribe::UnsubscribeKey;

/// The key the unsubscribe target verifies with; the corpus holds a token it signed, so
/// the fuzzer starts from a real one.
pub const FUZZ_UNSUBSCRIBE_SECRET: &str = "fuzz-unsubscribe-key-0123456789abcdef";
const FUZZ_WEBHOOK_SECRET: &[u8] = b"fuzz-shopify-client-secret";

/// A carrier feed message (the SQS body scan-ingest reads).
pub fn carrier_feed(data: &[u8]) {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scan) = Scan::parse_body(body) {
        let number = scan.tracking_number.as_str();
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_alphanumeric()),
            "a parsed scan's tracking number is normalised: {number:?}"
        );
        assert!(
            scan.utc_offset_minutes.abs() < 24 * 60,
            "an offset is less than a day"
        );
    }
}

/// A spreadsheet upload (`POST /orders/import`): CSV or XLSX, sniffed from the bytes.
pub fn import_file(data: &[u8]) {
    if let Ok(rows) = orders_api::import::parse(data) {
        assert!(rows.len() <= orders_api::import::MAX_IMPORT_ROWS);
        let mut previous = 0;
        for row in rows {
            assert!(row.row > previous, "rows come in file order");
            previous = row.row;
            let _ = row.draft.parse();
        }
    }
}

/// A Shopify `orders/create` delivery: its signature check and its body.
pub fn shopify_webhook(data: &[u8]) {
    // The signature header is the first line; the body the rest.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let header = String::from_utf8_lossy(header);
    let _ = store_webhooks::signature::verify(FUZZ_WEBHOOK_SECRET, body, &header);
    if let Ok(order) = serde_json::from_slice::<store_webhooks::shopify_order::ShopifyOrder>(body) {
        let _ = order.into_draft().parse();
    }
}

/// A list cursor handed back by a client (`GET /orders`, `GET /claims`).
pub fn list_cursor(data: &[u8]) {
    let Ok(cursor) = std::str::from_utf8(data) else {
        return;
    };
    let partition = "MERCHANT#fuzz";
    if let Ok(key) = decode_order_cursor(cursor, partition) {
        assert!(
            key.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("ORDER#")),
            "a resumed order list starts at an order"
        );
        assert_eq!(reencoded(partition, &key, decode_order_cursor), key);
    }
    if let Ok(key) = decode_claims_cursor(cursor, partition) {
        assert_eq!(reencoded(partition, &key, decode_claims_cursor), key);
    }
}

type Decoder =
    fn(&str, &str) -> Result<HashMap<String, AttributeValue>, tracking_aws::store::ListError>;

fn reencoded(
    partition: &str,
    key: &HashMap<String, AttributeValue>,
    decode: Decoder,
) -> HashMap<String, AttributeValue> {
    let cursor = encode_cursor(partition, key.clone()).expect("a decoded key encodes");
    decode(&cursor, partition).expect("a cursor we encode decodes")
}

/// The token of an email's unsubscribe link (`GET`/`POST /unsubscribe?token=`).
pub fn unsubscribe_token(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let key = UnsubscribeKey::new(FUZZ_UNSUBSCRIBE_SECRET).expect("the fuzz key is long enough");
    if let Ok(unsubscribe) = key.verify(token) {
        // Only a token this key signed verifies; signing what it says gives it back.
        assert_eq!(key.verify(&key.sign(&unsubscribe)), Ok(unsubscribe));
    }
}

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// Every target by the name of its fuzz/fuzz_targets file and corpus folder.
pub const TARGETS: &[(&str, Target)] = &[
    ("carrier_feed", carrier_feed),
    ("import_file", import_file),
    ("shopify_webhook", shopify_webhook),
    ("list_cursor", list_cursor),
    ("unsubscribe_token", unsubscribe_token),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The saved corpus and every crash the fuzzer ever found, replayed on stable: what
    /// `./dev fuzz` learnt stays pinned in `./dev test`.
    #[test]
    fn corpus_replays() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        for (name, target) in TARGETS {
            let mut inputs = 0;
            for folder in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(folder).join(name)) else {
                    continue;
                };
                for entry in entries {
                    let path = entry.unwrap().path();
                    let data = std::fs::read(&path).unwrap();
                    let outcome = std::panic::catch_unwind(|| target(&data));
                    assert!(outcome.is_ok(), "{name} fails on {}", path.display());
                    inputs += 1;
                }
            }
            assert!(inputs > 0, "fuzz/corpus/{name} is empty");
        }
    }

    /// The seeds reach past the first refusal: a real token, real cursors, a signed body.
    #[test]
    fn the_corpus_starts_from_inputs_that_parse() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        let read = |path: &str| std::fs::read_to_string(corpus.join(path)).unwrap();
        let key = UnsubscribeKey::new(FUZZ_UNSUBSCRIBE_SECRET).unwrap();
        assert!(key.verify(&read("unsubscribe_token/signed")).is_ok());
        assert!(decode_order_cursor(&read("list_cursor/order-list"), "MERCHANT#fuzz").is_ok());
        assert!(decode_claims_cursor(&read("list_cursor/claim-list"), "MERCHANT#fuzz").is_ok());
        let signed = read("shopify_webhook/sample-signed");
        let (header, body) = signed.split_once('\n').unwrap();
        assert!(store_webhooks::signature::verify(
            FUZZ_WEBHOOK_SECRET,
            body.as_bytes(),
            header
        ));
        assert!(Scan::parse_body(&read("carrier_feed/sample-0")).is_ok());
        let csv = std::fs::read(corpus.join("import_file/sample.csv")).unwrap();
        assert!(!orders_api::import::parse(&csv).unwrap().is_empty());
    }

    #[test]
    fn every_target_has_a_fuzz_target_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
        for (name, _) in TARGETS {
            let source = std::fs::read_to_string(root.join(format!("{name}.rs")))
                .unwrap_or_else(|_| panic!("fuzz/fuzz_targets/{name}.rs is missing"));
            assert!(
                source.contains(&format!("fuzz::{name}(")),
                "{name}.rs runs another target"
            );
        }
    }
}
