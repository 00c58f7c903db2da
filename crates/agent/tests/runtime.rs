//! The runtime as a library: the agent started in a scratch data dir with a real proxy on
//! 127.0.0.1, a real SQLite store and the control channel on a real Unix socket; requests sent
//! through the proxy over TCP. What `leakguard run` did in its own binary (hot reload, managed
//! over local, a rejected update keeping the last good policy, allow-once) is tested here
//! through the agent's surface, in process and over the channel.

use leakguard_agent::control::Client;
use leakguard_agent::policy::{Origin, Sources};
use leakguard_agent::{Agent, Config, Control, Notices, Protection, Subscribe};
use leakguard_testkit::ScratchDir;
use std::path::Path;
use std::time::{Duration, Instant};

const AWS_KEY: &str = "AKIAQYLPMN5HJNGY4F7A";

/// A policy that warns on secrets and lets a user pause for up to `pause` minutes.
fn policy(name: &str, pause: u32) -> String {
    format!(
        r#"{{"version":1,"name":"{name}",
  "destinations":[{{"name":"api","hosts":["api.openai.com"]}}],
  "actions":{{"categories":{{"secret":"warn"}}}},
  "controls":{{"pause_minutes":{pause}}}}}"#
    )
}

fn config(dir: &Path, sources: Sources) -> Config {
    let mut c = Config::new(dir.to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.sources = sources;
    c.reload_every = Duration::from_millis(50);
    // Upstream connections go to a closed port: every forwarded request ends in a 502, after
    // its decision is made and recorded.
    c.upstream.resolve = vec!["api.openai.com:80:127.0.0.1:9".into()];
    c
}

async fn start(dir: &Path, sources: Sources) -> Agent {
    Agent::start(config(dir, sources), Notices::Off)
        .await
        .expect("the agent starts")
}

/// The agent with `text` as its local policy (no managed one); returns the policy's path.
async fn start_local(dir: &Path, text: &str) -> (Agent, std::path::PathBuf) {
    let local = dir.join("policy.json");
    std::fs::write(&local, text).unwrap();
    let agent = start(
        dir,
        Sources {
            local: Some(local.clone()),
            ..Sources::default()
        },
    )
    .await;
    (agent, local)
}

/// POSTs `text` as a chat body through the guard; returns the status line and the body.
async fn send(agent: &Agent, text: &str) -> (String, String) {
    let body = leakguard_testkit::chat_body(&[text.to_string()]);
    send_raw(agent, "http://api.openai.com/v1/chat/completions", "", body).await
}

/// The events recorded so far (flushed first) and their outcomes, newest first.
async fn recorded(agent: &Agent, client: &Client) -> (leakguard_store::Page, Vec<String>) {
    agent.flush().unwrap();
    let page = client.events(Default::default()).await.unwrap();
    let outcomes = page
        .events
        .iter()
        .map(|e| e.event.outcome.as_str().to_string())
        .collect();
    (page, outcomes)
}

/// Exports every event to `path` over the control channel.
async fn export_all(
    client: &Client,
    format: leakguard_agent::ExportFormat,
    path: &str,
) -> Result<leakguard_agent::Exported, leakguard_agent::ControlError> {
    client
        .export(leakguard_agent::ExportRequest {
            filter: Default::default(),
            format,
            path: path.into(),
        })
        .await
}

async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_channel_serves_health_events_explain_and_allow_once() {
    let dir = ScratchDir::new("lg-rt-allow");
    let (agent, _) = start_local(&dir, &policy("mine", 0)).await;
    let client = Client::for_data_dir(&dir).expect("a client for the running guard");

    let h = client.health().await.unwrap();
    assert_eq!(h.protection, Protection::Protected, "{:?}", h.reasons);
    assert_eq!(h.listen, agent.addr().to_string());
    assert!(h.policy.starts_with("mine ("), "{}", h.policy);
    let p = client.policy_in_force().await.unwrap();
    assert_eq!(p.origin, Origin::Local);
    assert!(!p.read_only && !p.signature.required);
    assert_eq!(p.policy.name.as_deref(), Some("mine"));

    // Live events over the channel: the warned request arrives without asking for it.
    let mut live = client
        .subscribe(Subscribe {
            kinds: vec!["request".into(), "override".into()],
            ..Subscribe::default()
        })
        .await
        .unwrap();
    let (status, body) = send(&agent, &format!("my key is {AWS_KEY}")).await;
    assert!(status.contains(" 403 "), "{status}");
    assert!(!body.contains(AWS_KEY));
    let warned = tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("the warned event is pushed")
        .expect("the stream is open");
    assert_eq!(
        (warned.outcome.as_str(), warned.verdict.as_str()),
        ("warned", "warn")
    );
    let code = warned.override_code.clone().expect("a warn code");
    assert!(body.contains(&code), "the refusal names the code: {body}");

    // Allow once needs a reason and a known code; then the same prompt goes through once.
    let no_reason = client
        .allow_once(code.clone(), " ".into())
        .await
        .unwrap_err();
    assert_eq!(no_reason.code, "reason_required");
    let unknown = client
        .allow_once("000000000000".into(), "x".into())
        .await
        .unwrap_err();
    assert_eq!(unknown.code, "unknown_code");
    let allowed = client
        .allow_once(code.clone(), "test fixture key".into())
        .await
        .unwrap();
    assert_eq!(allowed.expires_in_s, 600);
    let (status, _) = send(&agent, &format!("my key is {AWS_KEY}")).await;
    assert!(
        status.contains(" 502 "),
        "forwarded to the (closed) upstream: {status}"
    );
    let mut outcomes = Vec::new();
    while outcomes.len() < 2 {
        let e = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("override and retry are pushed")
            .unwrap();
        outcomes.push(e.outcome);
    }
    assert_eq!(
        outcomes,
        ["overridden", "overridden"],
        "the grant, then the retry"
    );
    let (status, _) = send(&agent, &format!("my key is {AWS_KEY}")).await;
    assert!(status.contains(" 403 "), "a grant is used once: {status}");

    // The same engine and policy explain a text without sending or recording it.
    let x = client
        .explain(format!("é key {AWS_KEY}"), Some("api.openai.com".into()))
        .await
        .unwrap();
    assert_eq!(x.verdict, leakguard_types::Action::Warn);
    assert_eq!(x.group.as_deref(), Some("api"));
    let f = x
        .findings
        .iter()
        .find(|f| f.rule == "aws-access-key-id")
        .unwrap();
    assert_eq!((f.start, f.utf16_start), (7, 6), "byte and UTF-16 offsets");
    assert_eq!(f.by, "actions.categories.secret");
    assert!(!x.redacted.contains(AWS_KEY) && x.redacted.starts_with("é key [REDACTED:"));

    // Rules explained for people, with how to avoid them; unknown ids are left out.
    let rules = client
        .describe_rules(vec!["aws-access-key-id".into(), "no-such-rule".into()])
        .await
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].rule.as_str(), rules[0].category.as_str()),
        ("aws-access-key-id", "secret")
    );
    assert!(!rules[0].description.is_empty());
    assert!(
        rules[0].advice.contains("placeholder"),
        "{}",
        rules[0].advice
    );

    // Queries read what was recorded; export writes a private file.
    let (_, outcomes) = recorded(&agent, &client).await;
    assert_eq!(outcomes, ["warned", "overridden", "overridden", "warned"]);
    let one = client.event(warned.id.clone()).await.unwrap().unwrap();
    assert_eq!(one.event.override_code.as_deref(), Some(code.as_str()));
    let out = dir.join("export.csv");
    let n = export_all(
        &client,
        leakguard_agent::ExportFormat::Csv,
        &out.display().to_string(),
    )
    .await
    .unwrap();
    assert_eq!(n.events, 4);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(!csv.contains(AWS_KEY));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600);
    let relative = export_all(&client, leakguard_agent::ExportFormat::Jsonl, "out.jsonl")
        .await
        .unwrap_err();
    assert_eq!(relative.code, "export_path");

    // Only this user: the data dir, the socket and the token are private, and a wrong
    // token is refused.
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("control.sock")), 0o600);
    assert_eq!(mode(&dir.join("control.token")), 0o600);
    assert_eq!(mode(&dir.join("guard.addr")), 0o600);
    let real = std::fs::read_to_string(dir.join("control.token")).unwrap();
    std::fs::write(dir.join("control.token"), "0".repeat(48)).unwrap();
    let intruder = Client::for_data_dir(&dir).unwrap();
    std::fs::write(dir.join("control.token"), real).unwrap();
    assert_eq!(intruder.health().await.unwrap_err().code, "unauthorized");
    assert_eq!(
        intruder
            .allow_once(code, "let me".into())
            .await
            .unwrap_err()
            .code,
        "unauthorized"
    );

    agent.stop().await;
    assert!(
        !dir.join("control.sock").exists(),
        "the socket is removed at stop"
    );
    let gone = client.health().await.unwrap_err();
    assert_eq!(gone.code, "not_running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_keeps_the_last_good_policy_and_says_why_in_health() {
    let dir = ScratchDir::new("lg-rt-reload");
    let (agent, local) = start_local(&dir, &policy("first", 0)).await;
    // A broken update: refused, the first policy stays, health says degraded and why.
    std::fs::write(
        &local,
        r#"{"version":1,"actions":{"categories":{"secret":"blok"}}}"#,
    )
    .unwrap();
    let rejected = until("the rejection", async || {
        let p = agent.policy_in_force().await.unwrap();
        p.rejected.last().cloned()
    })
    .await;
    assert_eq!(rejected.code, "policy_invalid");
    assert!(rejected.message.contains("blok"), "{}", rejected.message);
    let p = agent.policy_in_force().await.unwrap();
    assert_eq!((p.policy.name.as_deref(), p.reloads), (Some("first"), 0));
    let h = agent.health().await.unwrap();
    assert_eq!(h.protection, Protection::Degraded);
    assert!(h.reasons[0].contains("rejected"), "{:?}", h.reasons);
    let (status, _) = send(&agent, &format!("key {AWS_KEY}")).await;
    assert!(
        status.contains(" 403 "),
        "still guarded by the first policy: {status}"
    );

    // A good update: in force, health back to protected, the swap recorded as an event.
    std::fs::write(&local, policy("second", 0)).unwrap();
    until("the reload", async || {
        let p = agent.policy_in_force().await.unwrap();
        (p.policy.name.as_deref() == Some("second")).then_some(())
    })
    .await;
    let h = agent.health().await.unwrap();
    assert_eq!(h.protection, Protection::Protected, "{:?}", h.reasons);
    assert!(h.policy.starts_with("second ("));
    agent.flush().unwrap();
    let page = agent
        .events(leakguard_store::Filter {
            kinds: vec!["policy".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let verdicts: Vec<&str> = page
        .events
        .iter()
        .map(|e| e.event.verdict.as_str())
        .collect();
    assert_eq!(verdicts, ["applied", "rejected"]);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_policy_outranks_the_local_one_and_is_read_only() {
    let dir = ScratchDir::new("lg-rt-managed");
    let managed = dir.join("managed.json");
    let local = dir.join("local.json");
    // Managed: secrets only audited; local: tightens them to block.
    std::fs::write(
        &managed,
        r#"{"version":1,"name":"corp","destinations":[{"name":"api","hosts":["api.openai.com"]}],"actions":{"categories":{"secret":"audit"}}}"#,
    )
    .unwrap();
    std::fs::write(
        &local,
        r#"{"version":1,"name":"mine","actions":{"categories":{"secret":"block"}}}"#,
    )
    .unwrap();
    let agent = start(
        &dir,
        Sources {
            managed: Some(managed),
            local: Some(local),
            ..Sources::default()
        },
    )
    .await;
    let p = agent.policy_in_force().await.unwrap();
    assert_eq!(p.origin, Origin::Managed);
    assert!(p.read_only);
    assert!(p.label.starts_with("managed: corp (") && p.label.contains(" + local: mine ("));
    let x = agent
        .explain(format!("key {AWS_KEY}"), Some("api.openai.com".into()))
        .await
        .unwrap();
    assert_eq!(x.verdict, leakguard_types::Action::Block);
    assert_eq!(x.by, "local policy: actions.categories.secret");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_pause_is_allowed_only_by_the_policy_recorded_and_ends() {
    let dir = ScratchDir::new("lg-rt-pause");
    let (agent, _) = start_local(&dir, &policy("strict", 0)).await;
    let refused = agent.pause(5, None).await.unwrap_err();
    assert_eq!(refused.code, "pause_not_allowed");
    agent.stop().await;

    let dir = ScratchDir::new("lg-rt-pause2");
    let (agent, _) = start_local(&dir, &policy("lenient", 10)).await;
    let client = Client::for_data_dir(&dir).unwrap();
    assert_eq!(
        client.pause(11, None).await.unwrap_err().code,
        "pause_too_long"
    );
    let state = client.pause(10, None).await.unwrap();
    assert_eq!(state.max_minutes, 10);
    assert!(state.paused_until.is_some());
    let h = client.health().await.unwrap();
    assert_eq!(h.protection, Protection::Paused);
    // While paused a secret is recorded, not stopped.
    let (status, _) = send(&agent, &format!("key {AWS_KEY}")).await;
    assert!(status.contains(" 502 "), "forwarded: {status}");
    assert_eq!(client.pause(0, None).await.unwrap().paused_until, None);
    let (status, _) = send(&agent, &format!("key {AWS_KEY}")).await;
    assert!(status.contains(" 403 "), "guarded again: {status}");
    agent.flush().unwrap();
    let page = client.events(Default::default()).await.unwrap();
    let seen: Vec<(String, String, String)> = page
        .events
        .iter()
        .rev()
        .map(|e| {
            (
                e.event.kind.to_string(),
                e.event.outcome.to_string(),
                e.event.decided_by.clone(),
            )
        })
        .collect();
    assert_eq!(seen[0].0, "pause");
    assert_eq!(seen[0].1, "paused");
    assert_eq!(
        (seen[1].1.as_str(), seen[1].2.as_str()),
        ("forwarded", "controls.pause_minutes (paused by the user)")
    );
    assert_eq!(
        (seen[2].0.as_str(), seen[2].1.as_str()),
        ("pause", "resumed")
    );
    assert_eq!(seen[3].1, "warned");
    agent.stop().await;
}

/// POSTs a JSON body to `target` with extra `headers` (each ending in CRLF); returns the
/// status line and the body.
async fn send_raw(agent: &Agent, target: &str, headers: &str, body: String) -> (String, String) {
    let (addr, target, headers) = (agent.addr(), target.to_string(), headers.to_string());
    tokio::task::spawn_blocking(move || {
        leakguard_testkit::post_through(addr, &target, &headers, &body)
    })
    .await
    .unwrap()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 20: the model string, the URL path and the User-Agent are sent as they are and were
/// recorded verbatim. A key planted in each is found (the request is held), and no file the
/// guard writes (the database and its WAL, exports) holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_the_model_path_and_user_agent_are_found_and_never_recorded() {
    let dir = ScratchDir::new("lg-rt-fields");
    let (agent, _) = start_local(&dir, &policy("mine", 0)).await;
    let clean = |model: &str| {
        serde_json::json!({"model": model, "messages": [{"role": "user", "content": "what is a monad?"}]})
            .to_string()
    };
    let url = "http://api.openai.com/v1/chat/completions";
    let held = [
        send_raw(&agent, url, "", clean(&format!("gpt-4o {AWS_KEY}")))
            .await
            .0,
        send_raw(
            &agent,
            &format!("http://api.openai.com/v1/chat/completions/{AWS_KEY}?k={AWS_KEY}"),
            "",
            clean("gpt-4o"),
        )
        .await
        .0,
        send_raw(
            &agent,
            url,
            &format!("User-Agent: my-tool/1.0 (key {AWS_KEY})\r\n"),
            clean("gpt-4o"),
        )
        .await
        .0,
    ];
    for status in &held {
        assert!(status.contains(" 403 "), "held: {status}");
    }
    // A clean request with the same shapes passes on (to the closed upstream: 502).
    let (passed, _) = send_raw(&agent, url, "User-Agent: my-tool/1.0\r\n", clean("gpt-4o")).await;
    assert!(passed.contains(" 502 "), "{passed}");

    let client = Client::for_data_dir(&dir).unwrap();
    let (page, outcomes) = recorded(&agent, &client).await;
    assert_eq!(
        outcomes.iter().filter(|o| **o == "warned").count(),
        3,
        "{outcomes:?}"
    );
    for e in &page.events {
        assert!(!e.event.path.contains('?'), "no query in {}", e.event.path);
    }
    let out = dir.join("all.jsonl");
    export_all(
        &client,
        leakguard_agent::ExportFormat::Jsonl,
        &out.display().to_string(),
    )
    .await
    .unwrap();
    let export = std::fs::read_to_string(&out).unwrap();
    assert!(
        export.contains("[REDACTED:aws-access-key-id"),
        "the finding is named: {export}"
    );
    agent.stop().await;
    let files = files_under(&dir);
    assert!(files.iter().any(|f| f.ends_with("events.db")));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(AWS_KEY),
            "{} holds the planted key",
            f.display()
        );
    }
}

/// Issue 20: a data dir the agent creates is 0700 from the start (the CA code used to make it
/// 0755 first); `guard.addr`, the keys, the token and the event files are 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_data_dir_and_everything_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = ScratchDir::new("lg-rt-private");
    let dir = scratch.join("new").join("data");
    let agent = start(&dir, Sources::default()).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("guard.addr")), 0o600);
    assert_eq!(mode(&dir.join("ca").join("leakguard-ca.key")), 0o600);
    // Nothing in it is writable by others; what is secret is the user's alone (the CA
    // certificate and its name list are public, and inside a 0700 dir anyway).
    for f in files_under(&dir) {
        assert_eq!(mode(&f) & 0o022, 0, "{} is writable by others", f.display());
        let public = f.extension().is_some_and(|e| e == "pem" || e == "txt");
        if !public {
            assert_eq!(mode(&f) & 0o077, 0, "{} is readable by others", f.display());
        }
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_alarm_report_carries_the_rule_sample_and_destination_for_the_summary() {
    let dir = ScratchDir::new("lg-rt-feedback");
    let (agent, _) = start_local(&dir, &policy("mine", 0)).await;
    let client = Client::for_data_dir(&dir).expect("a client for the running guard");
    let (status, _) = send(&agent, &format!("my key is {AWS_KEY}")).await;
    assert!(status.contains(" 403 "), "{status}");
    let (page, _) = recorded(&agent, &client).await;
    let stopped = page
        .events
        .iter()
        .find(|e| !e.event.rules.is_empty())
        .expect("the stopped request's event")
        .event
        .clone();
    client
        .report_false_positive(stopped.id.clone())
        .await
        .unwrap();
    agent.flush().unwrap();
    let reader = leakguard_store::Reader::open_in(&dir).unwrap();
    let rows = until("the report in the summary", async || {
        let rows = reader.false_positive_report(0).unwrap();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].rule, stopped.rules[0].rule);
    assert_eq!(rows[0].reports, 1);
    assert_eq!(rows[0].destinations, vec![stopped.host.clone()]);
    // The sample is the event's masked preview, never the key itself.
    let sample = rows[0].sample.clone().expect("a masked sample");
    assert_eq!(Some(&sample), stopped.previews.first());
    assert!(!sample.contains(AWS_KEY), "{sample}");
    assert!(
        rows[0].fired >= 1,
        "the rule fired in the request: {rows:?}"
    );
    agent.stop().await;
}

/// Issue 18: Health says whether each inspected destination group answers through the guard
/// (its routes and upstream roots): one reached through `--resolve` at a loopback TLS server,
/// one whose host leads to a closed port, each failure with what to do. An `allow` group is
/// not the guard's to reach and is not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_whether_each_destination_answers_through_the_guard() {
    let dir = ScratchDir::new("lg-rt-reach");
    let ca = leakguard_testkit::TestCa::new("reach upstream CA");
    let ca_pem = dir.join("upstream-ca.pem");
    ca.write_pem(&ca_pem);
    let up = leakguard_testkit::Upstream::start(&ca).await;
    let local = dir.join("policy.json");
    std::fs::write(
        &local,
        r#"{"version":1,"name":"reach","destinations":[
  {"name":"api","hosts":["*.openai.azure.com","api.openai.com"]},
  {"name":"closed","hosts":["chatgpt.com"]},
  {"name":"passed","hosts":["claude.ai"],"mode":"allow"}]}"#,
    )
    .unwrap();
    let mut c = config(
        &dir,
        Sources {
            local: Some(local),
            ..Sources::default()
        },
    );
    c.upstream.resolve = vec![
        format!("api.openai.com:443:{}", up.addr),
        "chatgpt.com:443:127.0.0.1:9".into(),
    ];
    c.upstream.ca = vec![ca_pem];
    let agent = Agent::start(c, Notices::Off)
        .await
        .expect("the agent starts");
    let reach = until("the first reachability check", async || {
        let h = agent.health().await.unwrap();
        (!h.destinations.is_empty()).then_some(h.destinations)
    })
    .await;
    let groups: Vec<(&str, &str, bool)> = reach
        .iter()
        .map(|r| (r.group.as_str(), r.host.as_str(), r.ok))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("api", "api.openai.com", true),
            ("closed", "chatgpt.com", false)
        ]
    );
    assert_eq!(reach[0].detail, "");
    assert!(
        reach[1]
            .detail
            .starts_with("cannot connect to chatgpt.com:443")
            && reach[1].detail.contains("check the network"),
        "{}",
        reach[1].detail
    );
    assert!(!reach[0].checked.is_empty());
    agent.stop().await;
}
