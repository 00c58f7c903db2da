//! Every host an adapter knows is one the default policy inspects and the device CA may sign
//! for: an endpoint whose host no destination group names would never be decrypted, and one
//! outside the CA's name constraints could not be (issue 21).

use leakguard_policy::Policy;
use leakguard_providers::Catalog;

const DEFAULT_POLICY: &str = include_str!("../../../policies/default.json");

/// A concrete host for a pattern (`*.githubcopilot.com` → `x.githubcopilot.com`).
fn sample(pattern: &str) -> String {
    match pattern.strip_prefix("*.") {
        Some(rest) => format!("x.{rest}"),
        None => pattern.to_string(),
    }
}

#[test]
fn every_adapter_host_is_inspected_by_the_default_policy_and_covered_by_the_ca() {
    let policy = Policy::parse(DEFAULT_POLICY).expect("the default policy loads");
    let patterns: Vec<String> = policy
        .destinations
        .iter()
        .flat_map(|g| g.hosts.iter().cloned())
        .collect();
    let permitted = leakguard_proxy::ca::permitted_names(&patterns);
    let catalog = Catalog::builtin();
    let mut checked = 0;
    for e in catalog.endpoints() {
        for pattern in e.hosts() {
            let host = sample(pattern);
            let group = policy.group_of(&host);
            assert!(
                group.is_some(),
                "endpoint {}: host {host} is in no destination group of policies/default.json",
                e.id
            );
            assert!(
                permitted
                    .iter()
                    .any(|p| host == *p || host.ends_with(&format!(".{p}"))),
                "endpoint {}: host {host} is outside the device CA's name constraints {permitted:?}",
                e.id
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} hosts checked");
}
