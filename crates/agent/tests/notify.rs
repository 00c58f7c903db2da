//! Desktop notifications through a real notification daemon: Xvfb, a private D-Bus session
//! bus, dunst as org.freedesktop.Notifications, and dbus-monitor recording every Notify call.
//! One blocked prompt gives one notification naming what, where and which rule; a burst gives
//! one summary, not twenty toasts; the "Report false positive" button calls back.
//! (One test in this file: it sets the process's DBUS_SESSION_BUS_ADDRESS.)

use leakguard_agent::notify::{Desktop, NoticeAction, Notifier, RuleNames};
use leakguard_policy::Notifications;
use leakguard_types::{Event, RuleCount};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_string()
}

/// The id the daemon gave the first notification: the `uint32` of its reply to the first
/// Notify call, matched by destination and serial in dbus-monitor's output.
fn notification_id(monitor: &str) -> Option<u32> {
    let lines: Vec<&str> = monitor.lines().collect();
    let call = lines
        .iter()
        .find(|l| l.starts_with("method call") && l.ends_with("member=Notify"))?;
    let field = |line: &str, key: &str| -> Option<String> {
        let rest = &line[line.find(key)? + key.len()..];
        Some(rest.split([' ', ';']).next()?.to_string())
    };
    let (sender, serial) = (field(call, "sender=")?, field(call, "serial=")?);
    let reply = lines.iter().position(|l| {
        l.starts_with("method return")
            && field(l, "destination=").as_deref() == Some(sender.as_str())
            && field(l, "reply_serial=").as_deref() == Some(serial.as_str())
    })?;
    lines
        .get(reply + 1)?
        .trim()
        .strip_prefix("uint32 ")?
        .parse()
        .ok()
}

fn blocked(i: u32, host: &str) -> Arc<Event> {
    Arc::new(Event {
        id: format!("evt-{i}"),
        kind: leakguard_types::EventKind::Request,
        host: host.into(),
        verdict: leakguard_types::EventVerdict::Block,
        outcome: leakguard_types::Outcome::Blocked,
        rules: vec![RuleCount {
            rule: "aws-secret-access-key".into(),
            category: "secret".into(),
            action: "block".into(),
            count: 1,
        }],
        ..Event::default()
    })
}

#[test]
fn blocks_show_one_line_bursts_coalesce_and_buttons_call_back() {
    let mut kids = Kill(Vec::new());
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            "1024x768x24",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb runs (scripts/setup.sh installs xvfb)");
    let display = format!(":{}", first_line(&mut xvfb));
    kids.0.push(xvfb);
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("dbus-daemon runs");
    let address = first_line(&mut bus);
    kids.0.push(bus);
    assert!(address.starts_with("unix:"), "{address}");

    let dunst = Command::new("dunst")
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dunst runs (scripts/setup.sh installs dunst)");
    kids.0.push(dunst);
    let mut monitor = Command::new("dbus-monitor")
        .args([
            "--address",
            &address,
            "interface='org.freedesktop.Notifications',member='Notify'",
            "type='method_return'",
            "type='signal',interface='org.freedesktop.Notifications'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor runs");
    let seen = Arc::new(Mutex::new(String::new()));
    {
        let out = monitor.stdout.take().unwrap();
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut s = seen.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
    }
    kids.0.push(monitor);
    wait_until(
        "dunst to own org.freedesktop.Notifications",
        Duration::from_secs(20),
        || {
            let out = Command::new("dbus-send")
                .args([
                    &format!("--bus={address}"),
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.Notifications",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).contains("boolean true")
        },
    );
    // notify-rust connects to the session bus named here.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);

    let names: RuleNames = Arc::new(|id: &str| {
        (id == "aws-secret-access-key").then(|| "AWS secret access key (in context)".to_string())
    });
    let clicked: Arc<Mutex<Vec<NoticeAction>>> = Arc::default();
    let on_action = {
        let clicked = Arc::clone(&clicked);
        Arc::new(move |a: NoticeAction| clicked.lock().unwrap().push(a))
    };
    let settings = Notifications {
        coalesce_seconds: 2,
        ..Notifications::default()
    };
    let notifier = Notifier::start(&settings, names, Desktop::new(on_action)).unwrap();
    let tx = notifier.sender();
    let calls = || {
        seen.lock()
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("method call") && l.ends_with("member=Notify"))
            .count()
    };

    tx.send(blocked(1, "chatgpt.com")).unwrap();
    wait_until("the block notification", Duration::from_secs(20), || {
        seen.lock().unwrap().contains(
            "string \"Blocked: AWS secret access key in a prompt to chatgpt.com — rule aws-secret-access-key\"",
        )
    });
    assert_eq!(calls(), 1);
    {
        let s = seen.lock().unwrap();
        assert!(s.contains("string \"Leakguard\""), "app name");
        assert!(
            s.contains("string \"report-false-positive\""),
            "buttons offered:\n{s}"
        );
        assert!(s.contains("string \"Nothing was sent.\""));
    }

    // "Report false positive" on that notification (its id is in dunst's reply, which reaches
    // the monitor a moment after the call it answers).
    wait_until(
        "dunst's reply with the notification id",
        Duration::from_secs(20),
        || notification_id(&seen.lock().unwrap()).is_some(),
    );
    let id = notification_id(&seen.lock().unwrap()).expect("dunst answered Notify with an id");
    // The notifier subscribes to the signal just after showing; until it has, a click is
    // missed, so the click is repeated until the callback reports it.
    let mut clicks = 0;
    wait_until("the button's callback", Duration::from_secs(20), || {
        clicks += 1;
        let status = Command::new("dbus-send")
            .args([
                &format!("--bus={address}"),
                "--type=signal",
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications.ActionInvoked",
                &format!("uint32:{id}"),
                "string:report-false-positive",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        clicked
            .lock()
            .unwrap()
            .contains(&NoticeAction::ReportFalsePositive {
                event_id: "evt-1".into(),
            })
    });
    // A click that lands after the subscription gives exactly one callback; one sent before it
    // gives none. (A slow callback can let the loop send another click that is answered too.)
    let callbacks = clicked.lock().unwrap().len();
    assert!(
        (1..=clicks).contains(&callbacks),
        "{callbacks} callbacks for {clicks} clicks"
    );

    // A burst within the window: no toast per event, one summary when the window closes.
    for i in 2..22 {
        tx.send(blocked(
            i,
            if i % 2 == 0 {
                "claude.ai"
            } else {
                "chatgpt.com"
            },
        ))
        .unwrap();
    }
    wait_until("the burst summary", Duration::from_secs(20), || {
        seen.lock()
            .unwrap()
            .contains("string \"Leakguard: 20 more prompts in the last 2 s (20 blocked)\"")
    });
    assert_eq!(
        calls(),
        2,
        "one notice, then one summary:\n{}",
        seen.lock().unwrap()
    );
    assert!(seen
        .lock()
        .unwrap()
        .contains("string \"chatgpt.com ×10, claude.ai ×10 — rules: aws-secret-access-key\""));
    drop(tx);
    drop(notifier);
}
