//! `leakguard service install|uninstall|status`: the guard starts at login (or boot) and is
//! restarted at once when it stops, so that protection never depends on a terminal or a window.
//!
//! - Linux: a systemd user unit (`~/.config/systemd/user/leakguard.service`, wanted by
//!   `default.target`), or with `--system` a system unit for machines without a desktop
//!   (`DynamicUser`, its own state directory, sandboxed). `Restart=always`, `RestartSec=1`.
//! - macOS: a LaunchAgent (`~/Library/LaunchAgents/com.leakguard.guard.plist`, `KeepAlive`).
//! - Windows: a per-user logon task that restarts the guard when it stops.

#[cfg(unix)]
use crate::manifest::put_file;
use crate::manifest::{Entry, Group, Manifest, Step};
use crate::tools::{find, run};
use crate::{Context, Line, Result, State};
use std::path::PathBuf;

/// How to install.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A system-wide unit (Linux, machines without a desktop session).
    pub system: bool,
}

/// The unit's name.
pub const UNIT: &str = "leakguard.service";

/// The command line the service runs.
fn exec_args(ctx: &Context, system: bool) -> Vec<String> {
    let mut args = vec![
        ctx.exe.display().to_string(),
        "service".into(),
        "run".into(),
        "--listen".into(),
        ctx.listen.to_string(),
    ];
    if !system {
        args.push("--data-dir".into());
        args.push(ctx.data_dir.display().to_string());
    }
    if let Some(p) = &ctx.policy {
        args.push("--policy".into());
        args.push(p.display().to_string());
    }
    args
}

/// systemd quoting: each argument double-quoted when it needs it.
fn systemd_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-:=@+,".contains(c))
            {
                a.clone()
            } else {
                format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The systemd unit.
pub fn systemd_unit(ctx: &Context, system: bool) -> String {
    let exec = systemd_line(&exec_args(ctx, system));
    let mut s = format!(
        "# Written by `leakguard service install`; `leakguard service uninstall` removes it.\n\
         [Unit]\n\
         Description=Leakguard: stops secrets and source code leaving in prompts to AI services\n\
         Documentation=file://{doc}\n\
         After=network.target\n\
         StartLimitIntervalSec=0\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         Restart=always\n\
         RestartSec=1\n",
        doc = ctx.sys("/usr/share/doc/leakguard/deployment.md").display(),
    );
    if system {
        s.push_str(
            "DynamicUser=yes\n\
             StateDirectory=leakguard\n\
             Environment=LEAKGUARD_DATA_DIR=/var/lib/leakguard\n\
             NoNewPrivileges=yes\n\
             ProtectSystem=strict\n\
             ProtectHome=yes\n\
             PrivateTmp=yes\n\
             PrivateDevices=yes\n\
             RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
        );
    } else {
        s.push_str("\n[Install]\nWantedBy=default.target\n");
    }
    s
}

/// Where the unit goes (Linux).
pub fn unit_path(ctx: &Context, system: bool) -> PathBuf {
    if system {
        ctx.sys("/etc/systemd/system").join(UNIT)
    } else {
        ctx.config_home.join("systemd/user").join(UNIT)
    }
}

#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn wants_link(ctx: &Context, system: bool) -> PathBuf {
    let unit = unit_path(ctx, system);
    let target = if system {
        "multi-user.target.wants"
    } else {
        "default.target.wants"
    };
    unit.parent().expect("unit dir").join(target).join(UNIT)
}

/// Is a systemd manager of this kind reachable (so the unit can be started now)?
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn manager_running(ctx: &Context, system: bool) -> bool {
    if !ctx.real_root() || find(ctx, "systemctl").is_none() {
        return false;
    }
    let args: &[&str] = if system {
        &["is-system-running"]
    } else {
        &["--user", "is-system-running"]
    };
    let out = crate::tools::command(ctx, "systemctl").args(args).output();
    // `is-system-running` exits non-zero for "degraded" too; any known state means a manager.
    out.is_ok_and(|o| {
        let s = String::from_utf8_lossy(&o.stdout);
        [
            "running",
            "degraded",
            "starting",
            "initializing",
            "maintenance",
        ]
        .iter()
        .any(|k| s.trim() == *k)
    })
}

fn entry(step: Step) -> Entry {
    Entry {
        group: Group::Service,
        step,
        ca: None,
    }
}

/// Installs and (where a service manager runs) starts the guard as a service.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn install(ctx: &Context, opts: &Options) -> Result<Vec<Line>> {
    let system = opts.system;
    if system && !ctx.admin() {
        return Err(crate::Error::NeedsAdmin {
            what: "a system unit".into(),
            again: "service install --system".into(),
        });
    }
    let mut m = Manifest::load(ctx)?;
    let unit = unit_path(ctx, system);
    put_file(
        ctx,
        &mut m,
        Group::Service,
        None,
        &unit,
        &systemd_unit(ctx, system),
        0o644,
    )?;
    let link = wants_link(ctx, system);
    let step = Step::Link { path: link.clone() };
    if !m.has(&step) {
        m.record(ctx, entry(step))?;
    }
    if std::fs::symlink_metadata(&link).is_err() {
        crate::manifest::ensure_dir(link.parent().expect("wants dir"))?;
        std::os::unix::fs::symlink(&unit, &link).map_err(crate::io(&link))?;
    }
    let mut lines = vec![Line::new(
        "unit",
        State::Ok,
        format!("{} (enabled: {})", unit.display(), link.display()),
    )];
    if manager_running(ctx, system) {
        let scope: &[&str] = if system { &[] } else { &["--user"] };
        let step = Step::Command {
            undo: ["systemctl"]
                .iter()
                .chain(scope)
                .chain(&["stop", UNIT])
                .map(|s| s.to_string())
                .collect(),
        };
        if !m.has(&step) {
            m.record(ctx, entry(step))?;
        }
        run(ctx, "systemctl", scope.iter().chain(&["daemon-reload"]))?;
        run(ctx, "systemctl", scope.iter().chain(&["restart", UNIT]))?;
        lines.push(Line::new(
            "started",
            State::Ok,
            "the guard runs now and at every login",
        ));
    } else {
        lines.push(Line::new(
            "started",
            State::Skipped,
            "no systemd user manager in this session: the guard starts at the next login",
        ));
    }
    Ok(lines)
}

#[cfg(target_os = "macos")]
pub fn plist_path(ctx: &Context) -> PathBuf {
    ctx.home
        .join("Library/LaunchAgents/com.leakguard.guard.plist")
}

/// The LaunchAgent.
pub fn launch_agent(ctx: &Context) -> String {
    let args: String = exec_args(ctx, false)
        .iter()
        .map(|a| format!("    <string>{}</string>\n", xml_escape(a)))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n\
         \x20 <key>Label</key><string>com.leakguard.guard</string>\n\
         \x20 <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n\
         \x20 <key>RunAtLoad</key><true/>\n\
         \x20 <key>KeepAlive</key><true/>\n\
         \x20 <key>ThrottleInterval</key><integer>1</integer>\n\
         \x20 <key>ProcessType</key><string>Interactive</string>\n\
         </dict>\n</plist>\n"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(target_os = "macos")]
pub fn install(ctx: &Context, _opts: &Options) -> Result<Vec<Line>> {
    let mut m = Manifest::load(ctx)?;
    let plist = plist_path(ctx);
    put_file(
        ctx,
        &mut m,
        Group::Service,
        None,
        &plist,
        &launch_agent(ctx),
        0o644,
    )?;
    let uid = run(ctx, "id", ["-u"])?.trim().to_string();
    let step = Step::Command {
        undo: vec![
            "launchctl".into(),
            "bootout".into(),
            format!("gui/{uid}/com.leakguard.guard"),
        ],
    };
    if !m.has(&step) {
        m.record(ctx, entry(step))?;
    }
    let _ = run(
        ctx,
        "launchctl",
        ["bootout", &format!("gui/{uid}/com.leakguard.guard")],
    );
    run(
        ctx,
        "launchctl",
        [
            "bootstrap",
            &format!("gui/{uid}"),
            &plist.display().to_string(),
        ],
    )?;
    Ok(vec![Line::new(
        "launch agent",
        State::Ok,
        plist.display().to_string(),
    )])
}

#[cfg(windows)]
pub fn install(ctx: &Context, _opts: &Options) -> Result<Vec<Line>> {
    let mut m = Manifest::load(ctx)?;
    let args = exec_args(ctx, false);
    let quoted: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| format!("'{}'", a.replace('\'', "''")))
        .collect();
    let script = format!(
        "$a = New-ScheduledTaskAction -Execute '{exe}' -Argument \"{args}\"; \
         $t = New-ScheduledTaskTrigger -AtLogOn -User $env:USERNAME; \
         $s = New-ScheduledTaskSettingsSet -RestartCount 9999 -RestartInterval (New-TimeSpan -Minutes 1) -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries; \
         Register-ScheduledTask -TaskName 'Leakguard' -Action $a -Trigger $t -Settings $s -Force | Out-Null; \
         Start-ScheduledTask -TaskName 'Leakguard'",
        exe = args[0].replace('\'', "''"),
        args = quoted.join(" ").replace('\'', "\"\""),
    );
    let step = Step::Command {
        undo: vec![
            "schtasks".into(),
            "/Delete".into(),
            "/TN".into(),
            "Leakguard".into(),
            "/F".into(),
        ],
    };
    if !m.has(&step) {
        m.record(ctx, entry(step))?;
    }
    run(
        ctx,
        "powershell",
        ["-NoProfile", "-NonInteractive", "-Command", &script],
    )?;
    Ok(vec![Line::new(
        "logon task",
        State::Ok,
        "Leakguard (restarts when it stops)",
    )])
}

/// Stops and removes exactly what `install` added.
pub fn uninstall(ctx: &Context) -> Result<Vec<Line>> {
    Manifest::load(ctx)?.undo(ctx, Group::Service)
}

/// Is the service installed, current, and is the guard answering?
pub fn status(ctx: &Context) -> Vec<Line> {
    let mut lines = Vec::new();
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let mut any = false;
        for system in [false, true] {
            let path = unit_path(ctx, system);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            any = true;
            let enabled = std::fs::symlink_metadata(wants_link(ctx, system)).is_ok();
            lines.push(if text != systemd_unit(ctx, system) {
                Line::new("unit", State::Missing, format!("{} differs from what this version installs: run `leakguard service install`", path.display()))
            } else if !enabled {
                Line::new("unit", State::Missing, format!("{} is not enabled at login: run `leakguard service install`", path.display()))
            } else {
                Line::new("unit", State::Ok, format!("{} (enabled)", path.display()))
            });
        }
        if !any {
            lines.push(Line::new(
                "unit",
                State::Missing,
                "not installed: run `leakguard service install`",
            ));
        }
    }
    match crate::routing::http_get(ctx, "/leakguard/health") {
        Ok((200, _)) => lines.push(Line::new(
            "guard",
            State::Ok,
            format!("answering on {}", ctx.listen),
        )),
        Ok((code, _)) => lines.push(Line::new(
            "guard",
            State::Failed,
            format!(
                "{} answered HTTP {code}: is another program on that port?",
                ctx.listen
            ),
        )),
        Err(e) => lines.push(Line::new(
            "guard",
            State::Missing,
            format!("not answering on {} ({e})", ctx.listen),
        )),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_with_spaces_are_quoted_for_systemd() {
        let line = systemd_line(&[
            "/opt/my apps/leakguard".into(),
            "service".into(),
            "run".into(),
        ]);
        assert_eq!(line, "\"/opt/my apps/leakguard\" service run");
    }

    #[test]
    fn the_launch_agent_keeps_the_guard_alive_and_escapes_its_arguments() {
        let mut ctx = Context::from_env(
            PathBuf::from("/tmp/a&b"),
            crate::DEFAULT_LISTEN.parse().unwrap(),
        );
        ctx.exe = PathBuf::from("/Applications/Leakguard.app/Contents/MacOS/leakguard");
        let plist = launch_agent(&ctx);
        assert!(plist.contains("<key>KeepAlive</key><true/>"));
        assert!(plist.contains("<string>/tmp/a&amp;b</string>"));
        assert!(plist.contains("<string>service</string>"));
    }
}
