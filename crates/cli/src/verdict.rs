//! The verdict the scanner reports until the policy engine lands: each finding maps to an
//! action by category and severity, and the strictest action wins.

use leakguard_types::{Action, Category, Finding, Severity};

/// The action one finding calls for.
pub fn action_for(f: &Finding) -> Action {
    use Severity::*;
    match (f.category, f.severity) {
        (_, Info) => Action::Audit,
        (Category::Secret | Category::Custom, Critical | High) => Action::Block,
        (Category::Secret | Category::Custom, Medium) => Action::Warn,
        (Category::Pii, Critical | High | Medium) => Action::Redact,
        (Category::SourceCode, _) => Action::Warn,
        (Category::Classified, Critical | High) => Action::Block,
        (Category::Classified, Medium) => Action::Warn,
        (_, Low) => Action::Audit,
    }
}

/// The strictest action over all findings (`allow` when there are none).
pub fn verdict<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Action {
    findings
        .into_iter()
        .map(action_for)
        .max()
        .unwrap_or(Action::Allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakguard_types::FindingDetail;

    fn f(category: Category, severity: Severity) -> Finding {
        Finding {
            rule: "r".into(),
            category,
            severity,
            start: 0,
            end: 1,
            confidence: 1.0,
            preview: "…".into(),
            detail: FindingDetail::default(),
        }
    }

    #[test]
    fn strictest_action_wins() {
        assert_eq!(verdict([]), Action::Allow);
        assert_eq!(verdict(&[f(Category::Pii, Severity::Low)]), Action::Audit);
        assert_eq!(
            verdict(&[
                f(Category::Pii, Severity::High),
                f(Category::SourceCode, Severity::Medium)
            ]),
            Action::Warn
        );
        assert_eq!(
            verdict(&[
                f(Category::Pii, Severity::High),
                f(Category::Secret, Severity::Critical)
            ]),
            Action::Block
        );
        assert_eq!(
            verdict(&[f(Category::Classified, Severity::Info)]),
            Action::Audit
        );
    }
}
