//! The samples in `events/` are what AWS sends each function; they must all parse and
//! each must be used by a test, so a sample can never drift from what the code accepts.

use std::path::{Path, PathBuf};

fn files(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, extension, found);
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
}

#[test]
fn every_event_sample_parses_and_is_used_by_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut samples = Vec::new();
    files(&root.join("events"), "json", &mut samples);
    let mut sources = Vec::new();
    files(&root.join("tests"), "rs", &mut sources);
    let test_code: String = sources
        .iter()
        .filter(|p| !p.ends_with("events.rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        samples.len() >= 10,
        "events/ holds {} samples",
        samples.len()
    );
    for sample in samples {
        let text = std::fs::read_to_string(&sample).unwrap();
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", sample.display()));
        let relative = sample
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        assert!(
            test_code.contains(relative.as_str()),
            "{relative} is not used by any test"
        );
    }
}
