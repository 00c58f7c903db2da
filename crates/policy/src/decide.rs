//! The decision: findings, the destination and the request's facts -> one [`Verdict`] that names
//! the policy entry that decided.

use crate::*;

/// Facts about a request that exceptions and decisions may use. Time is passed in.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub user: Option<String>,
    pub groups: Vec<String>,
    /// Days since 1970-01-01 (UTC), for exception expiry.
    pub today: u32,
    /// The user paused the guard (within `controls.pause_minutes`): findings are audited.
    pub paused: bool,
    /// The program that sent the request, `name (pid) /path/to/exe`, when known.
    pub process: Option<String>,
}

/// Why a finding got its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub rule: String,
    pub action: Action,
    /// The policy entry that decided, e.g. `actions.groups.consumer-chat.categories.source_code`.
    pub by: String,
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub action: Action,
    /// The entry that decided the request's action.
    pub by: String,
    /// The destination group, if the host is in one.
    pub group: Option<String>,
    pub findings: Vec<Decision>,
    /// Set when a rule that is not about content refuses the request (the kill switch, a
    /// tenant or an API rule): the refusal to answer with. `action` is then `block` and `by`
    /// names that rule; `findings` still say what the content alone called for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
}

/// What a request shows beyond its text, for the rules that are not about content: the
/// destination, and what the provider adapter extracted (model, output-token cap, tenant).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFacts<'a> {
    pub host: Option<&'a str>,
    pub model: Option<&'a str>,
    pub max_tokens: Option<u64>,
    /// `None`: the tenant is not known (a scan outside the proxy); no tenant rule applies.
    pub tenant: Option<&'a leakguard_types::TenantFacts>,
}

fn rule_key_matches(key: &str, rule: &str) -> bool {
    match key.strip_suffix('*') {
        Some(prefix) => rule.starts_with(prefix),
        None => key == rule,
    }
}

/// The most specific matching key of a rule map: an exact id beats the longest prefix.
fn lookup_rule<'a>(map: &'a BTreeMap<String, Action>, rule: &str) -> Option<(&'a str, Action)> {
    if let Some((k, a)) = map.get_key_value(rule) {
        return Some((k, *a));
    }
    map.iter()
        .filter(|(k, _)| rule_key_matches(k, rule))
        .max_by_key(|(k, _)| k.len())
        .map(|(k, a)| (k.as_str(), *a))
}

/// What a finding calls for when the policy says nothing about it, under a sensitivity preset.
pub fn preset_action(preset: Sensitivity, category: Category, severity: Severity) -> Action {
    use Severity::*;
    match preset {
        Sensitivity::Balanced => default_action(category, severity),
        Sensitivity::Strict => match (category, severity) {
            (_, Info) => Action::Audit,
            (Category::Pii, Low) => Action::Warn,
            _ => Action::Block,
        },
        Sensitivity::Permissive => match (category, severity) {
            (Category::Secret | Category::Custom, Critical | High) => Action::Block,
            _ => Action::Audit,
        },
    }
}

/// What a finding calls for when the policy says nothing about it (the `balanced` preset).
pub fn default_action(category: Category, severity: Severity) -> Action {
    use Severity::*;
    match (category, severity) {
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

impl Policy {
    /// The decision for one whole request: its findings (content) and its facts (kill switch,
    /// tenant, API rules), as one verdict naming the entry that decided. A content `block`
    /// stands; otherwise a tenant or API rule that refuses the request decides it. Rate limits,
    /// which need state, are the guard's admit step after this.
    pub fn decide_request(
        &self,
        findings: &[Finding],
        request: &RequestFacts<'_>,
        meta: &RequestMeta,
    ) -> Verdict {
        let group = request.host.and_then(|h| self.group_of(h));
        let verdict = self.decide_in(findings, group, request.host, meta);
        self.stopped(verdict, group, request)
    }

    /// Applies the rules that are not about content to a content verdict.
    pub(crate) fn stopped(
        &self,
        mut verdict: Verdict,
        group: Option<&DestinationGroup>,
        request: &RequestFacts<'_>,
    ) -> Verdict {
        if verdict.action == Action::Block {
            return verdict;
        }
        let (Some(group), Some(host)) = (group, request.host) else {
            return verdict;
        };
        if let Some(stop) = self.group_stop(group, host, request) {
            verdict.action = Action::Block;
            verdict.by.clone_from(&stop.by);
            verdict.stop = Some(stop);
        }
        verdict
    }

    /// The decision about content alone (and the kill switch). Pure and allocation-light; see
    /// [`Actions`] for the order.
    pub fn decide(&self, findings: &[Finding], host: Option<&str>, meta: &RequestMeta) -> Verdict {
        let group = host.and_then(|h| self.group_of(h));
        self.decide_in(findings, group, host, meta)
    }

    pub(crate) fn decide_in(
        &self,
        findings: &[Finding],
        group: Option<&DestinationGroup>,
        host: Option<&str>,
        meta: &RequestMeta,
    ) -> Verdict {
        let group_name = group.map(|g| g.name.clone());
        match group.map(|g| g.mode) {
            Some(Mode::BlockAll) => {
                let name = group_name.clone().unwrap_or_default();
                let by = format!("destinations.{name}.mode = block_all");
                return Verdict {
                    action: Action::Block,
                    stop: Some(Stop {
                        status: 403,
                        code: "leakguard_kill_switch",
                        message: format!(
                            "Blocked by Leakguard: {} is switched off by your organisation's policy ({name}).",
                            host.unwrap_or_default()
                        ),
                        by: by.clone(),
                    }),
                    by,
                    group: group_name,
                    findings: Vec::new(),
                };
            }
            Some(Mode::Allow) => {
                return Verdict {
                    action: Action::Allow,
                    by: format!(
                        "destinations.{}.mode = allow",
                        group_name.clone().unwrap_or_default()
                    ),
                    group: group_name,
                    findings: Vec::new(),
                    stop: None,
                }
            }
            _ => {}
        }
        let ga = group_name.as_ref().and_then(|g| self.actions.groups.get(g));
        let mut decisions = Vec::with_capacity(findings.len());
        for f in findings {
            let (mut action, mut by) =
                if let Some((k, a)) = ga.and_then(|g| lookup_rule(&g.rules, &f.rule)) {
                    (
                        a,
                        format!(
                            "actions.groups.{}.rules.{k}",
                            group_name.as_deref().unwrap_or_default()
                        ),
                    )
                } else if let Some((k, a)) = lookup_rule(&self.actions.rules, &f.rule) {
                    (a, format!("actions.rules.{k}"))
                } else if let Some(a) = ga.and_then(|g| g.categories.get(&f.category)) {
                    (
                        *a,
                        format!(
                            "actions.groups.{}.categories.{}",
                            group_name.as_deref().unwrap_or_default(),
                            f.category
                        ),
                    )
                } else if let Some(a) = self.actions.categories.get(&f.category) {
                    (*a, format!("actions.categories.{}", f.category))
                } else {
                    (
                        preset_action(self.sensitivity, f.category, f.severity),
                        format!(
                            "{} default for {} {}",
                            self.sensitivity.name(),
                            f.severity,
                            f.category
                        ),
                    )
                };
            if action > Action::Audit {
                if let Some((i, e)) = self
                    .exceptions
                    .iter()
                    .enumerate()
                    .find(|(_, e)| self.exception_applies(e, f, group_name.as_deref(), meta))
                {
                    action = Action::Audit;
                    by = format!("exceptions[{i}] ({})", e.reason);
                }
            }
            if action > Action::Audit && meta.paused {
                action = Action::Audit;
                by = "controls.pause_minutes (paused by the user)".to_string();
            }
            decisions.push(Decision {
                rule: f.rule.clone(),
                action,
                by,
            });
        }
        let strictest = decisions.iter().max_by_key(|d| d.action);
        let (action, by) = strictest.map_or((Action::Allow, "no findings".to_string()), |d| {
            (d.action, d.by.clone())
        });
        Verdict {
            action,
            by,
            group: group_name,
            findings: decisions,
            stop: None,
        }
    }

    fn exception_applies(
        &self,
        e: &Exception,
        f: &Finding,
        group: Option<&str>,
        meta: &RequestMeta,
    ) -> bool {
        let unexpired = days_from_date(&e.expires).is_some_and(|d| meta.today <= d);
        let user = e.users.is_empty()
            || meta
                .user
                .as_ref()
                .is_some_and(|u| e.users.iter().any(|x| x.eq_ignore_ascii_case(u)));
        let groups = e.groups.is_empty() || meta.groups.iter().any(|g| e.groups.contains(g));
        let dest = e.destinations.is_empty()
            || group.is_some_and(|g| e.destinations.iter().any(|x| x == g));
        let rule = e.rules.is_empty() || e.rules.iter().any(|k| rule_key_matches(k, &f.rule));
        let process = e.processes.is_empty()
            || meta
                .process
                .as_deref()
                .is_some_and(|p| e.processes.iter().any(|x| process_named(x, p)));
        unexpired && user && groups && dest && rule && process
    }
}

/// Whether a `processes` entry names the program `process` (`name (pid) /path/to/exe`): an
/// entry with a path separator is the executable's path, exactly; any other the program's
/// name. Windows' paths and names (`C:\Program Files\x.exe`, `x.exe`) compare without case, as
/// Windows' file system does.
pub fn process_named(entry: &str, process: &str) -> bool {
    let exe = process.split_once(") ").map(|(_, exe)| exe);
    let windows = exe.is_some_and(|e| e.contains('\\'));
    let same = |a: &str, b: &str| {
        if windows {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    if entry.contains('/') || entry.contains('\\') {
        exe.is_some_and(|exe| same(exe, entry))
    } else {
        same(process.split_once(" (").map_or(process, |(n, _)| n), entry)
    }
}

#[cfg(test)]
mod process_tests {
    use super::process_named;

    #[test]
    fn a_process_is_named_by_its_path_or_its_name_on_either_system() {
        let linux = "python3 (42) /usr/bin/python3.11";
        assert!(process_named("python3", linux));
        assert!(process_named("/usr/bin/python3.11", linux));
        assert!(
            !process_named("Python3", linux),
            "Linux names keep their case"
        );
        assert!(!process_named("/usr/bin/python3", linux));
        assert!(!process_named("/home/u/python3.11", linux));
        let windows =
            r"Code.exe (7) C:\Users\ana\AppData\Local\Programs\Microsoft VS Code\Code.exe";
        assert!(
            process_named("code.exe", windows),
            "Windows names ignore case"
        );
        assert!(process_named(
            r"c:\users\ana\appdata\local\programs\microsoft vs code\code.exe",
            windows
        ));
        assert!(!process_named(r"C:\Program Files\Code.exe", windows));
        assert!(!process_named("code", windows));
        // A process whose path could not be read matches no path.
        assert!(!process_named("/usr/bin/python3.11", "python3 (42)"));
        assert!(process_named("python3", "python3 (42)"));
    }
}
