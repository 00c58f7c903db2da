//! The accuracy figures of fingerprint matching, asserted (the figures and their method are in
//! `benches/fingerprint_eval.rs` and docs/fingerprints.md). Uses real code from the local cargo
//! registry, which exists wherever this workspace was built.

#[path = "../benches/fingerprint_eval.rs"]
mod eval;

#[test]
fn recall_and_false_matches_meet_their_targets() {
    let report = eval::run(400).expect("the cargo registry holds this workspace's dependencies");
    let rate = |prefix: &str| {
        let (_, hit, total) = report
            .rows
            .iter()
            .find(|(n, _, _)| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix}"));
        assert!(*total >= 100, "{prefix}: only {total} samples");
        *hit as f64 / *total as f64
    };
    let exact = rate("recall, exact, excerpts with >= 15 code lines");
    let reformatted = rate("recall, reformatted, excerpts with >= 15 code lines");
    let renamed = rate("recall, renamed, excerpts with >= 15 code lines");
    let false_matches = rate("false matches, unrelated code");
    let false_boiler = rate("false matches, unrelated excerpts with shared header");
    assert!(exact >= 0.95, "exact recall {exact:.3}");
    assert!(reformatted >= 0.95, "reformatted recall {reformatted:.3}");
    assert!(renamed >= 0.85, "renamed recall {renamed:.3}");
    assert!(false_matches <= 0.005, "false matches {false_matches:.4}");
    assert!(
        false_boiler <= 0.005,
        "false matches with shared boilerplate {false_boiler:.4}"
    );
}
