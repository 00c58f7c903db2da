//! Golden tests: real-shaped request bodies of every endpoint, the segments they must yield, and
//! the body a redaction must produce (`tests/golden/requests.json`).

use leakguard_providers::{extract, rewrite, Catalog};
use serde_json::Value;

#[test]
fn every_golden_request_yields_its_segments_and_rewrites_exactly() {
    let catalog = Catalog::builtin();
    let cases: Value = serde_json::from_str(include_str!("golden/requests.json")).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let host = c["host"].as_str().unwrap();
        let path = c["path"].as_str().unwrap();
        let endpoint = catalog.classify(host, c["method"].as_str().unwrap(), path);
        let body = c["body"].as_str().unwrap().as_bytes();
        let x = extract(endpoint, path, c["content_type"].as_str(), body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &c["expect"];
        assert_eq!(
            x.endpoint,
            expect["endpoint"].as_str().unwrap(),
            "{name}: endpoint"
        );
        assert_eq!(
            x.model.as_deref(),
            expect["model"].as_str(),
            "{name}: model"
        );
        assert_eq!(
            x.max_tokens,
            expect["max_tokens"].as_u64(),
            "{name}: max_tokens"
        );
        assert_eq!(
            x.binary_parts as u64,
            expect["binary_parts"].as_u64().unwrap(),
            "{name}: binary parts"
        );
        // The listed fields' text, in order; the unlisted fields (read too) where the case
        // names them.
        let got: Vec<(String, String)> = x
            .segments
            .iter()
            .filter(|s| !s.unlisted)
            .map(|s| (s.location.clone(), s.text.clone()))
            .collect();
        if let Some(unlisted) = expect.get("unlisted") {
            let got: Vec<(String, String)> = x
                .segments
                .iter()
                .filter(|s| s.unlisted)
                .map(|s| (s.location.clone(), s.text.clone()))
                .collect();
            assert_eq!(got, located(unlisted), "{name}: unlisted fields");
        }
        assert_eq!(
            x.coverage_gap.clone().unwrap_or_default(),
            expect
                .get("coverage_gap")
                .and_then(Value::as_array)
                .map(|a| a
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect::<Vec<String>>())
                .unwrap_or_default(),
            "{name}: coverage gap"
        );
        assert_eq!(got, located(&expect["segments"]), "{name}: segments");

        // No replacement: the body comes back byte for byte (JSON included, key order kept).
        assert_eq!(
            rewrite(&x, body, &[]).unwrap(),
            body,
            "{name}: identity rewrite"
        );
        if let Some(redact) = c["redact"].as_array() {
            let reps: Vec<(usize, String)> = redact
                .iter()
                .map(|r| {
                    (
                        r["segment"].as_u64().unwrap() as usize,
                        r["text"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let after = rewrite(&x, body, &reps).unwrap();
            assert_eq!(
                String::from_utf8(after).unwrap(),
                c["body_after"].as_str().unwrap(),
                "{name}: redacted body"
            );
        }
    }
}

/// `[{"location", "text"}]` as pairs.
fn located(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["location"].as_str().unwrap().into(),
                s["text"].as_str().unwrap().into(),
            )
        })
        .collect()
}
