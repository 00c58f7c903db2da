//! `leakguard proxy enable|disable|status` and `leakguard env`: LLM traffic routed to the guard.
//!
//! The desktop setting is a PAC **inline** (a `data:` URL holding the guard's own PAC file)
//! rather than the guard's PAC URL. Measured with Chromium here (docs/deployment.md): when a
//! PAC URL cannot be fetched, Chromium goes DIRECT for every host, so a stopped or restarting
//! guard would let prompts out unseen; `file://` PAC URLs are ignored the same way. An inline
//! PAC cannot be unreachable: with the guard down, an LLM host's `PROXY 127.0.0.1:8480` fails
//! and the request fails with it (fail closed), while every other host stays DIRECT.

use crate::manifest::{put_file, Entry, Group, Manifest, Step};
use crate::tools::{find, read_opt, run};
use crate::trust::shell_quote;
use crate::{Context, Error, Line, Result, State};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// What `enable` touches (empty: everything that applies here).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only the managed browser policies, machine-wide (needs administrator rights); the
    /// user's desktop setting and environment are left alone.
    pub browsers: bool,
    /// Only the environment (shells, SDKs, CLIs), not the desktop setting.
    pub env_only: bool,
    /// The PAC to use (computed from the policy while the guard is not running, e.g. by the
    /// package's post-install); `None`: fetched from the running guard.
    pub pac: Option<String>,
}

const PROFILE_MARKER: &str = "leakguard proxy";
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
const GNOME_SCHEMA: &str = "org.gnome.system.proxy";

/// The guard's PAC file, fetched from the running guard (it is the authority on which hosts
/// are LLM destinations).
pub fn fetch_pac(ctx: &Context) -> Result<String> {
    let (status, body) = http_get(ctx, "/proxy.pac").map_err(|e| {
        Error::Unsupported(format!(
            "the guard is not answering on {} ({e}): start it (`leakguard service install` or `leakguard run`) and run this again",
            ctx.listen
        ))
    })?;
    if status != 200 || !body.contains("FindProxyForURL") {
        return Err(Error::Unsupported(format!(
            "{} did not return a PAC file (HTTP {status}): is another program on that port?",
            ctx.pac_url()
        )));
    }
    Ok(body)
}

/// A small HTTP/1.0 GET to the guard's own endpoints (loopback, no TLS).
pub(crate) fn http_get(ctx: &Context, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect_timeout(&ctx.listen, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.take(4 << 20).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The PAC as a `data:` URL.
pub fn pac_data_url(pac: &str) -> String {
    format!(
        "data:application/x-ns-proxy-autoconfig;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pac.as_bytes())
    )
}

/// The variables that send CLIs, SDKs and coding assistants to the guard.
pub fn proxy_vars(ctx: &Context) -> Vec<(&'static str, String)> {
    let url = ctx.proxy_url();
    let no_proxy = "localhost,127.0.0.1,::1".to_string();
    vec![
        ("HTTPS_PROXY", url.clone()),
        ("https_proxy", url.clone()),
        ("HTTP_PROXY", url.clone()),
        ("http_proxy", url),
        ("NO_PROXY", no_proxy.clone()),
        ("no_proxy", no_proxy),
    ]
}

/// `leakguard env`: the lines a shell evaluates (`eval "$(leakguard env)"`).
pub fn env_script(ctx: &Context) -> String {
    let mut s = String::from(
        "# Leakguard: route CLIs, SDKs and coding assistants through the guard and trust its CA.\n",
    );
    for (k, v) in proxy_vars(ctx)
        .into_iter()
        .chain(crate::trust::runtime_vars(ctx))
    {
        s.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    s
}

/// The environment file read by shells (`~/.config/leakguard/proxy.env`).
pub fn proxy_env_file(ctx: &Context) -> PathBuf {
    ctx.config_home.join("leakguard").join("proxy.env")
}

#[cfg_attr(windows, allow(dead_code))]
fn entry(step: Step) -> Entry {
    Entry {
        group: Group::Routing,
        step,
        ca: None,
    }
}

/// Points this user's desktop and shells at the guard.
pub fn enable(ctx: &Context, opts: &Options) -> Result<Vec<Line>> {
    let mut m = Manifest::load(ctx)?;
    let mut lines = Vec::new();
    let pac = match (&opts.pac, opts.env_only) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => None,
        (None, false) => Some(fetch_pac(ctx)?),
    };
    if opts.browsers {
        lines.extend(browsers_enable(ctx, &mut m, pac.as_deref())?);
        return Ok(lines);
    }
    if let (Some(pac), false) = (&pac, opts.env_only) {
        lines.extend(desktop_enable(ctx, &mut m, pac)?);
    }
    lines.push(env_enable(ctx, &mut m)?);
    Ok(lines)
}

/// Undoes `enable` exactly (previous settings come back).
pub fn disable(ctx: &Context) -> Result<Vec<Line>> {
    Manifest::load(ctx)?.undo(ctx, Group::Routing)
}

fn env_enable(ctx: &Context, m: &mut Manifest) -> Result<Line> {
    let env = crate::trust::EnvFiles {
        group: Group::Routing,
        ca: None,
        file: proxy_env_file(ctx),
        environment_d: "61-leakguard-proxy.conf",
        marker: PROFILE_MARKER,
    };
    env.install(ctx, m, &proxy_vars(ctx))?;
    Ok(Line::new(
        "environment",
        State::Ok,
        format!(
            "HTTPS_PROXY={} for shells, SDKs and CLIs started from now on",
            ctx.proxy_url()
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// The desktop's proxy setting

/// Is GNOME's proxy schema there (gsettings installed and the schema known)?
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn gnome_available(ctx: &Context) -> bool {
    find(ctx, "gsettings").is_some()
        && run(ctx, "gsettings", ["list-keys", GNOME_SCHEMA])
            .is_ok_and(|k| k.contains("autoconfig-url"))
}

/// KDE's proxy settings file.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn kioslaverc(ctx: &Context) -> PathBuf {
    ctx.config_home.join("kioslaverc")
}

#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn kde_present(ctx: &Context) -> bool {
    let desktop = std::env::var("XDG_CURRENT_DESKTOP").unwrap_or_default();
    desktop.to_ascii_uppercase().contains("KDE")
        || kioslaverc(ctx).is_file()
        || find(ctx, "kwriteconfig5").is_some()
        || find(ctx, "kwriteconfig6").is_some()
}

/// GSettings values are GVariant text: a string is single-quoted.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn gvariant_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(all(unix, not(target_os = "macos")))]
fn desktop_enable(ctx: &Context, m: &mut Manifest, pac: &str) -> Result<Vec<Line>> {
    let url = pac_data_url(pac);
    let mut lines = Vec::new();
    if gnome_available(ctx) {
        for (key, value) in [
            ("autoconfig-url", gvariant_string(&url)),
            ("mode", "'auto'".to_string()),
        ] {
            let recorded = m.entries.iter().any(|e| {
                matches!(&e.step, Step::Gsettings { schema, key: k, .. } if schema == GNOME_SCHEMA && k == key)
            });
            if !recorded {
                let previous = run(ctx, "gsettings", ["get", GNOME_SCHEMA, key])?
                    .trim()
                    .to_string();
                // The schema's default, read through GLib's memory backend (no user values).
                let default = crate::tools::command(ctx, "gsettings")
                    .env("GSETTINGS_BACKEND", "memory")
                    .args(["get", GNOME_SCHEMA, key])
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
                m.record(
                    ctx,
                    entry(Step::Gsettings {
                        schema: GNOME_SCHEMA.into(),
                        key: key.into(),
                        previous,
                        default,
                    }),
                )?;
            }
            run(ctx, "gsettings", ["set", GNOME_SCHEMA, key, &value])?;
        }
        lines.push(Line::new(
            "gnome",
            State::Ok,
            "proxy mode automatic, with the guard's PAC inline",
        ));
    } else {
        lines.push(Line::new(
            "gnome",
            State::Skipped,
            "no GNOME proxy settings (gsettings) here",
        ));
    }
    if kde_present(ctx) {
        let path = kioslaverc(ctx);
        for (key, value) in [("Proxy Config Script", url.as_str()), ("ProxyType", "2")] {
            let recorded = m.entries.iter().any(
                |e| matches!(&e.step, Step::Ini { path: p, key: k, .. } if *p == path && k == key),
            );
            let text = read_opt(&path)?.unwrap_or_default();
            if !recorded {
                m.record(
                    ctx,
                    entry(Step::Ini {
                        path: path.clone(),
                        section: "Proxy Settings".into(),
                        key: key.into(),
                        previous: crate::tools::ini_get(&text, "Proxy Settings", key),
                    }),
                )?;
            }
            let next = crate::tools::ini_set(&text, "Proxy Settings", key, Some(value));
            crate::tools::write_atomic(&path, next.as_bytes(), 0o600)?;
        }
        lines.push(Line::new(
            "kde",
            State::Ok,
            format!("{}: automatic proxy, PAC inline", path.display()),
        ));
    }
    Ok(lines)
}

#[cfg(target_os = "macos")]
fn desktop_enable(ctx: &Context, m: &mut Manifest, _pac: &str) -> Result<Vec<Line>> {
    // CFNetwork takes http(s) PAC URLs only: the guard's; browsers get the inline PAC through
    // their managed policies (`--browsers`), so a stopped guard fails closed there.
    let url = ctx.pac_url();
    let services = run(ctx, "networksetup", ["-listallnetworkservices"])?;
    let mut lines = Vec::new();
    for service in services
        .lines()
        .skip(1)
        .filter(|s| !s.starts_with('*') && !s.trim().is_empty())
    {
        let before = run(ctx, "networksetup", ["-getautoproxyurl", service])?;
        let enabled = before.lines().any(|l| l.trim() == "Enabled: Yes");
        let old = before
            .lines()
            .find_map(|l| l.strip_prefix("URL: "))
            .unwrap_or("(null)")
            .trim()
            .to_string();
        let undo = if enabled {
            vec![
                "networksetup".into(),
                "-setautoproxyurl".into(),
                service.into(),
                old,
            ]
        } else {
            vec![
                "networksetup".into(),
                "-setautoproxystate".into(),
                service.into(),
                "off".into(),
            ]
        };
        let step = Step::Command { undo };
        if !m.has(&step) {
            m.record(ctx, entry(step))?;
        }
        run(ctx, "networksetup", ["-setautoproxyurl", service, &url])?;
        run(ctx, "networksetup", ["-setautoproxystate", service, "on"])?;
        lines.push(Line::new(
            format!("network service {service}"),
            State::Ok,
            format!("PAC {url}"),
        ));
    }
    Ok(lines)
}

#[cfg(windows)]
fn desktop_enable(ctx: &Context, m: &mut Manifest, _pac: &str) -> Result<Vec<Line>> {
    // WinINET's AutoConfigURL (per user; applies to LAN and, on current Windows, to VPN and
    // dial-up entries without their own). WinHTTP services: `netsh winhttp import proxy
    // source=ie` as administrator (docs/deployment.md).
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings";
    set_registry(ctx, m, Group::Routing, key, "AutoConfigURL", &ctx.pac_url())?;
    Ok(vec![Line::new(
        "wininet",
        State::Ok,
        format!("AutoConfigURL {}", ctx.pac_url()),
    )])
}

/// A user environment variable (Windows), recorded with its previous value.
#[cfg(windows)]
pub(crate) fn set_user_env(
    ctx: &Context,
    m: &mut Manifest,
    group: Group,
    name: &str,
    value: &str,
) -> Result<()> {
    set_registry(ctx, m, group, r"HKCU\Environment", name, value)
}

#[cfg(windows)]
fn set_registry(
    ctx: &Context,
    m: &mut Manifest,
    group: Group,
    key: &str,
    name: &str,
    value: &str,
) -> Result<()> {
    let recorded = m.entries.iter().any(
        |e| matches!(&e.step, Step::Registry { key: k, name: n, .. } if k == key && n == name),
    );
    if !recorded {
        let previous = run(ctx, "reg", ["query", key, "/v", name])
            .ok()
            .and_then(|out| {
                out.lines()
                    .find_map(|l| l.split_once("REG_SZ").map(|(_, v)| v.trim().to_string()))
            });
        m.record(
            ctx,
            Entry {
                group,
                step: Step::Registry {
                    key: key.into(),
                    name: name.into(),
                    previous,
                },
                ca: None,
            },
        )?;
    }
    run(
        ctx,
        "reg",
        ["add", key, "/v", name, "/t", "REG_SZ", "/d", value, "/f"],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Managed browser policies: TCP only (no QUIC), the PAC forced, no fallback to DIRECT.

/// Where each browser family reads managed policies, on this OS.
pub fn browser_policy_files(ctx: &Context) -> Vec<(&'static str, PathBuf)> {
    if cfg!(target_os = "macos") || cfg!(windows) {
        // macOS: configuration profiles (policies/mdm/jamf); Windows: Group Policy or the
        // registry (policies/mdm/intune). Not files.
        return Vec::new();
    }
    vec![
        (
            "chromium",
            ctx.sys("/etc/chromium/policies/managed/leakguard.json"),
        ),
        (
            "chrome",
            ctx.sys("/etc/opt/chrome/policies/managed/leakguard.json"),
        ),
        (
            "edge",
            ctx.sys("/etc/opt/edge/policies/managed/leakguard.json"),
        ),
        (
            "brave",
            ctx.sys("/etc/brave/policies/managed/leakguard.json"),
        ),
        ("firefox", ctx.sys("/etc/firefox/policies/policies.json")),
    ]
}

/// The Chromium-family policy: the inline PAC, mandatory (no DIRECT when it fails), no QUIC.
pub fn chromium_policy(pac: &str) -> serde_json::Value {
    serde_json::json!({
        "QuicAllowed": false,
        "ProxySettings": {
            "ProxyMode": "pac_script",
            "ProxyPacUrl": pac_data_url(pac),
            "ProxyPacMandatory": true
        }
    })
}

/// Firefox's policies: the guard's PAC, locked; no HTTP/3; no silent failover to DIRECT.
pub fn firefox_policies(ctx: &Context, existing: Option<&str>) -> serde_json::Value {
    let mut doc: serde_json::Value = existing
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    let policies = doc
        .as_object_mut()
        .map(|o| o.entry("policies").or_insert_with(|| serde_json::json!({})));
    if let Some(serde_json::Value::Object(p)) = policies {
        p.insert(
            "Proxy".into(),
            serde_json::json!({"Mode": "autoConfig", "AutoConfigURL": ctx.pac_url(), "Locked": true}),
        );
        let prefs = p
            .entry("Preferences")
            .or_insert_with(|| serde_json::json!({}));
        if let serde_json::Value::Object(prefs) = prefs {
            prefs.insert(
                "network.http.http3.enable".into(),
                serde_json::json!({"Value": false, "Status": "locked"}),
            );
            prefs.insert(
                "network.proxy.failover_direct".into(),
                serde_json::json!({"Value": false, "Status": "locked"}),
            );
        }
        let certs = p
            .entry("Certificates")
            .or_insert_with(|| serde_json::json!({}));
        if let serde_json::Value::Object(c) = certs {
            c.insert("ImportEnterpriseRoots".into(), serde_json::json!(true));
        }
    }
    doc
}

fn browsers_enable(ctx: &Context, m: &mut Manifest, pac: Option<&str>) -> Result<Vec<Line>> {
    if !ctx.admin() {
        return Err(Error::NeedsAdmin {
            what: "the managed browser policies".into(),
            again: "proxy enable --browsers".into(),
        });
    }
    let pac = match pac {
        Some(p) => p.to_string(),
        None => fetch_pac(ctx)?,
    };
    let mut lines = Vec::new();
    for (browser, path) in browser_policy_files(ctx) {
        let text = if browser == "firefox" {
            let existing = read_opt(&path)?;
            serde_json::to_string_pretty(&firefox_policies(ctx, existing.as_deref()))
        } else {
            serde_json::to_string_pretty(&chromium_policy(&pac))
        }
        .expect("policy serialises");
        put_file(ctx, m, Group::Routing, None, &path, &text, 0o644)?;
        lines.push(Line::new(
            format!("{browser} policy"),
            State::Ok,
            path.display().to_string(),
        ));
    }
    Ok(lines)
}

/// Are the browser policies in place (QUIC off, the PAC mandatory)? One line per browser
/// family whose policy directory's parent exists (the browser is installed) or whose file is
/// there.
pub fn browsers_status(ctx: &Context) -> Vec<Line> {
    let mut lines = Vec::new();
    for (browser, path) in browser_policy_files(ctx) {
        let installed = path
            .parent()
            .and_then(|p| p.parent())
            .is_some_and(|p| p.exists());
        let text = std::fs::read_to_string(&path).ok();
        let good = text.as_deref().is_some_and(|t| {
            let v: serde_json::Value = serde_json::from_str(t).unwrap_or_default();
            if browser == "firefox" {
                v["policies"]["Preferences"]["network.http.http3.enable"]["Value"] == false
            } else {
                v["QuicAllowed"] == false && v["ProxySettings"]["ProxyPacMandatory"] == true
            }
        });
        if good {
            lines.push(Line::new(
                format!("{browser} policy"),
                State::Ok,
                "QUIC off, PAC enforced",
            ));
        } else if installed || text.is_some() {
            lines.push(Line::new(
                format!("{browser} policy"),
                State::Missing,
                format!("{} lacks the Leakguard settings (QUIC can bypass the guard): run `sudo leakguard proxy enable --browsers`", path.display()),
            ));
        }
    }
    lines
}

/// Is routing in place: the desktop setting (with the current PAC), the environment, the
/// browser policies, and is the guard serving its PAC?
pub fn status(ctx: &Context) -> Vec<Line> {
    let mut lines = Vec::new();
    let pac = fetch_pac(ctx);
    match &pac {
        Ok(_) => lines.push(Line::new(
            "guard",
            State::Ok,
            format!("serving {}", ctx.pac_url()),
        )),
        Err(e) => lines.push(Line::new("guard", State::Failed, e.to_string())),
    }
    lines.extend(desktop_status(ctx, pac.as_deref().ok()));
    let env = std::fs::read_to_string(proxy_env_file(ctx)).unwrap_or_default();
    if env == crate::trust::env_lines(&proxy_vars(ctx)) {
        lines.push(Line::new(
            "environment",
            State::Ok,
            proxy_env_file(ctx).display().to_string(),
        ));
    } else {
        lines.push(Line::new(
            "environment",
            State::Missing,
            "shells and CLIs are not routed: run `leakguard proxy enable` (or `eval \"$(leakguard env)\"`)",
        ));
    }
    lines.extend(browsers_status(ctx));
    lines
}

#[cfg(all(unix, not(target_os = "macos")))]
fn desktop_status(ctx: &Context, pac: Option<&str>) -> Vec<Line> {
    let mut lines = Vec::new();
    let want = pac.map(pac_data_url);
    if gnome_available(ctx) {
        let mode = run(ctx, "gsettings", ["get", GNOME_SCHEMA, "mode"]).unwrap_or_default();
        let url =
            run(ctx, "gsettings", ["get", GNOME_SCHEMA, "autoconfig-url"]).unwrap_or_default();
        let url = url.trim().trim_matches('\'');
        lines.push(if mode.trim() != "'auto'" {
            Line::new("gnome", State::Missing, format!("proxy mode is {} (not automatic): run `leakguard proxy enable`", mode.trim()))
        } else if !url.starts_with("data:application/x-ns-proxy-autoconfig") {
            Line::new("gnome", State::Missing, "the automatic proxy does not use Leakguard's PAC: run `leakguard proxy enable`")
        } else if want.as_deref().is_some_and(|w| w != url) {
            Line::new("gnome", State::Missing, "the PAC in the settings is out of date (the policy's destinations or the port changed): run `leakguard proxy enable`")
        } else {
            Line::new("gnome", State::Ok, "automatic proxy with Leakguard's PAC")
        });
    }
    if kde_present(ctx) {
        let text = std::fs::read_to_string(kioslaverc(ctx)).unwrap_or_default();
        let ty = crate::tools::ini_get(&text, "Proxy Settings", "ProxyType");
        let url = crate::tools::ini_get(&text, "Proxy Settings", "Proxy Config Script");
        lines.push(
            if ty.as_deref() == Some("2") && url.is_some() && (want.is_none() || url == want) {
                Line::new("kde", State::Ok, "automatic proxy with Leakguard's PAC")
            } else {
                Line::new(
                    "kde",
                    State::Missing,
                    "KDE's proxy is not Leakguard's PAC: run `leakguard proxy enable`",
                )
            },
        );
    }
    lines
}

#[cfg(target_os = "macos")]
fn desktop_status(ctx: &Context, _pac: Option<&str>) -> Vec<Line> {
    let Ok(services) = run(ctx, "networksetup", ["-listallnetworkservices"]) else {
        return vec![Line::new(
            "networksetup",
            State::Failed,
            "cannot list network services",
        )];
    };
    services
        .lines()
        .skip(1)
        .filter(|s| !s.starts_with('*') && !s.trim().is_empty())
        .map(|service| {
            let out = run(ctx, "networksetup", ["-getautoproxyurl", service]).unwrap_or_default();
            let ok = out.contains(&ctx.pac_url()) && out.contains("Enabled: Yes");
            Line::new(
                format!("network service {service}"),
                if ok { State::Ok } else { State::Missing },
                if ok {
                    "Leakguard's PAC".to_string()
                } else {
                    "not Leakguard's PAC: run `leakguard proxy enable`".to_string()
                },
            )
        })
        .collect()
}

#[cfg(windows)]
fn desktop_status(ctx: &Context, _pac: Option<&str>) -> Vec<Line> {
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings";
    let out = run(ctx, "reg", ["query", key, "/v", "AutoConfigURL"]).unwrap_or_default();
    vec![if out.contains(&ctx.pac_url()) {
        Line::new("wininet", State::Ok, "Leakguard's PAC")
    } else {
        Line::new(
            "wininet",
            State::Missing,
            "not Leakguard's PAC: run `leakguard proxy enable`",
        )
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inline_pac_is_a_base64_data_url() {
        assert_eq!(
            pac_data_url("foob"),
            "data:application/x-ns-proxy-autoconfig;base64,Zm9vYg=="
        );
    }

    #[test]
    fn gvariant_strings_are_quoted_and_escaped() {
        assert_eq!(gvariant_string("a'b"), r"'a\'b'");
    }
}
