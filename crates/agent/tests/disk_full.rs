//! The guard with a full disk, for real (issue 20): the process's file-size limit is lowered
//! so the kernel refuses every write that grows a file, the event database's and its spill
//! file's alike. Requests to AI services are then refused with a reason (the default,
//! `events.on_store_failure: block`) or pass with their events held in memory (`continue`);
//! health says why; when space returns, every held event is committed and traffic flows
//! again. One test in its own binary: the limit is per process.

use leakguard_agent::policy::Sources;
use leakguard_agent::{Agent, Config, Control, Notices, Protection};
use leakguard_testkit::ScratchDir;
use std::path::Path;
use std::time::{Duration, Instant};

fn policy(on_store_failure: &str) -> String {
    format!(
        r#"{{"version":1,"name":"disk",
  "destinations":[{{"name":"api","hosts":["api.openai.com"]}}],
  "events":{{"on_store_failure":"{on_store_failure}"}}}}"#
    )
}

async fn start(dir: &Path, text: &str) -> Agent {
    let local = dir.join("policy.json");
    std::fs::write(&local, text).unwrap();
    let mut c = Config::new(dir.to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.sources = Sources {
        local: Some(local),
        ..Sources::default()
    };
    // Forwarded requests go to a closed port: a 502 once decided and recorded.
    c.upstream.resolve = vec!["api.openai.com:80:127.0.0.1:9".into()];
    Agent::start(c, Notices::Off).await.unwrap()
}

/// A clean chat request through the guard; the status line and body.
async fn send(agent: &Agent) -> (String, String) {
    let addr = agent.addr();
    tokio::task::spawn_blocking(move || {
        let body = leakguard_testkit::chat_body(&["what is a monad?".to_string()]);
        leakguard_testkit::post_through(
            addr,
            "http://api.openai.com/v1/chat/completions",
            "",
            &body,
        )
    })
    .await
    .unwrap()
}

/// The outcomes of the request events in the store, newest first.
fn request_outcomes(dir: &Path) -> Vec<String> {
    let reader = leakguard_store::Reader::open_in(dir).unwrap();
    let page = reader
        .events(&leakguard_store::Filter {
            kinds: vec!["request".into()],
            ..Default::default()
        })
        .unwrap();
    page.events
        .iter()
        .map(|e| e.event.outcome.as_str().to_string())
        .collect()
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_disk_full_requests_are_refused_or_held_as_the_policy_says_and_nothing_is_lost() {
    // --- block (the default) ---
    let dir = ScratchDir::new("lg-disk-block");
    let agent = start(&dir, &policy("block")).await;
    assert!(
        send(&agent).await.0.contains(" 502 "),
        "forwarded while the disk has room"
    );
    leakguard_testkit::set_file_size_limit(Some(1));
    // The next request's event cannot be written: the request was already on its way.
    assert!(send(&agent).await.0.contains(" 502 "));
    until("the failure to show", || async {
        agent.health().await.unwrap().protection == Protection::Degraded
    })
    .await;
    let h = agent.health().await.unwrap();
    assert!(
        h.reasons
            .iter()
            .any(|r| r.contains("disk full") && r.contains("refused")),
        "{:?}",
        h.reasons
    );
    let (status, body) = send(&agent).await;
    assert!(
        status.contains(" 503 "),
        "refused while events cannot be kept: {status}"
    );
    assert!(
        body.contains("leakguard_store_failure") && body.contains("disk"),
        "{body}"
    );
    // Space returns: the recorder writes what it held by itself, and traffic flows again.
    leakguard_testkit::set_file_size_limit(None);
    until("protection to return", || async {
        agent.health().await.unwrap().protection == Protection::Protected
    })
    .await;
    assert!(send(&agent).await.0.contains(" 502 "));
    agent.flush().unwrap();
    let outcomes = request_outcomes(&dir);
    assert_eq!(
        outcomes,
        ["forwarded", "refused", "forwarded", "forwarded"],
        "every request is recorded, the held ones included"
    );
    agent.stop().await;

    // --- continue ---
    let dir = ScratchDir::new("lg-disk-continue");
    let agent = start(&dir, &policy("continue")).await;
    leakguard_testkit::set_file_size_limit(Some(1));
    assert!(send(&agent).await.0.contains(" 502 "));
    until("the failure to show", || async {
        agent.health().await.unwrap().protection == Protection::Degraded
    })
    .await;
    assert!(
        send(&agent).await.0.contains(" 502 "),
        "passes, held in memory"
    );
    let h = agent.health().await.unwrap();
    assert!(
        h.reasons.iter().any(|r| r.contains("wait in memory")),
        "{:?}",
        h.reasons
    );
    leakguard_testkit::set_file_size_limit(None);
    until("protection to return", || async {
        agent.health().await.unwrap().protection == Protection::Protected
    })
    .await;
    agent.flush().unwrap();
    assert_eq!(request_outcomes(&dir), ["forwarded", "forwarded"]);
    agent.stop().await;
}
