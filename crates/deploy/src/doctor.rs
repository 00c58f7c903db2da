//! `leakguard doctor`: for each client actually installed, a real TLS connection through the
//! guard to the canary on an intercepted host (`https://<host>/.well-known/leakguard-canary`,
//! answered by the guard itself after it decrypted the connection, never forwarded), and a
//! verdict the user can act on.
//!
//! Clients run with the environment a new login shell would have: this process's, plus the
//! variables `leakguard trust install` wrote (when it did), with `HTTPS_PROXY` pointing at the
//! guard, the way coding assistants (Claude Code, Codex CLI, Copilot CLI) reach it too.

use crate::tools::{command, find};
use crate::{Context, Line, State};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The path the guard answers itself on intercepted hosts.
pub const CANARY_PATH: &str = "/.well-known/leakguard-canary";
/// What the canary's body contains.
pub const CANARY_MARK: &str = "\"leakguard\":\"canary\"";

/// One client to probe: its name, how to find its version, how to fetch the canary.
struct Probe {
    name: &'static str,
    /// The executable looked up on `PATH`.
    exe: &'static str,
    version: &'static [&'static str],
    /// What to run: `{exe}` `args...`; `{url}`, `{proxy}`, `{proxy_host}`, `{proxy_port}`,
    /// `{dir}` (a scratch directory) are replaced.
    args: &'static [&'static str],
    /// A script written to `{dir}/<name>` first, if any.
    script: Option<(&'static str, &'static str)>,
    /// The `trust install` target that fixes it.
    fix: &'static str,
    timeout: Duration,
}

const NODE: &str = r#"
const http = require('http'), tls = require('tls');
const u = new URL(process.argv[2]), p = new URL(process.argv[3]);
const req = http.request({host: p.hostname, port: p.port, method: 'CONNECT', path: `${u.hostname}:443`});
req.on('connect', (res, socket) => {
  const s = tls.connect({socket, servername: u.hostname}, () => {
    s.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.hostname}\r\nConnection: close\r\n\r\n`);
  });
  let body = '';
  s.on('data', d => body += d);
  s.on('end', () => { process.stdout.write(body); process.exit(0); });
  s.on('error', e => { console.error(e.code || e.message); process.exit(e.code && /CERT|SELF_SIGNED|UNABLE_TO/.test(e.code) ? 60 : 1); });
});
req.on('error', e => { console.error(e.message); process.exit(1); });
req.end();
"#;

const PYTHON: &str = r#"
import ssl, sys, urllib.request
url, proxy = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy}))
try:
    print(opener.open(url, timeout=20).read().decode())
except Exception as e:
    reason = getattr(e, "reason", e)
    print(reason, file=sys.stderr)
    sys.exit(60 if isinstance(reason, ssl.SSLCertVerificationError) else 1)
"#;

const JAVA: &str = r#"
import java.net.*;
import java.io.*;
public class Canary {
    public static void main(String[] a) throws Exception {
        URL u = new URL(a[0]);
        Proxy p = new Proxy(Proxy.Type.HTTP, new InetSocketAddress(a[1], Integer.parseInt(a[2])));
        try {
            HttpURLConnection c = (HttpURLConnection) u.openConnection(p);
            try (InputStream in = c.getInputStream()) { System.out.print(new String(in.readAllBytes(), "UTF-8")); }
        } catch (javax.net.ssl.SSLHandshakeException e) {
            System.err.println(e.getMessage()); System.exit(60);
        }
    }
}
"#;

fn probes() -> Vec<Probe> {
    let long = Duration::from_secs(90);
    let short = Duration::from_secs(30);
    vec![
        Probe {
            name: "curl",
            exe: "curl",
            version: &["--version"],
            args: &["-sS", "--max-time", "20", "--proxy", "{proxy}", "{url}"],
            script: None,
            fix: "leakguard trust install --runtimes",
            timeout: short,
        },
        Probe {
            name: "node",
            exe: "node",
            version: &["--version"],
            args: &["{dir}/canary.js", "{url}", "{proxy}"],
            script: Some(("canary.js", NODE)),
            fix: "leakguard trust install --runtimes",
            timeout: short,
        },
        Probe {
            name: "python",
            exe: "python3",
            version: &["--version"],
            args: &["{dir}/canary.py", "{url}", "{proxy}"],
            script: Some(("canary.py", PYTHON)),
            fix: "leakguard trust install --runtimes",
            timeout: short,
        },
        Probe {
            name: "java",
            exe: "java",
            version: &["-version"],
            args: &["{dir}/Canary.java", "{url}", "{proxy_host}", "{proxy_port}"],
            script: Some(("Canary.java", JAVA)),
            fix: "sudo leakguard trust install --java",
            timeout: long,
        },
        chrome_probe("chromium", "chromium"),
        chrome_probe("chrome", "google-chrome"),
    ]
}

/// A Chromium-family browser: headless, its own throw-away profile, the DOM of the canary.
fn chrome_probe(name: &'static str, exe: &'static str) -> Probe {
    const ARGS: &[&str] = &[
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir={dir}/browser-profile",
        "--proxy-server={proxy}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        "{url}",
    ];
    Probe {
        name,
        exe,
        version: &["--version"],
        args: ARGS,
        script: None,
        fix: "leakguard trust install --nss",
        timeout: Duration::from_secs(90),
    }
}

/// The environment a new login shell would have: the trust variables when installed.
fn client_env(ctx: &Context) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    if crate::trust::trust_env_file(ctx).is_file() {
        env.extend(
            crate::trust::runtime_vars(ctx)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    env
}

/// Probes every installed client against the canary on `host`; `only` limits it to clients by
/// name (`node`, `java`, ...). A line per client found.
pub fn clients(ctx: &Context, host: &str, only: &[String]) -> Vec<Line> {
    let scratch = std::env::temp_dir().join(format!("leakguard-doctor-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let url = format!("https://{host}{CANARY_PATH}");
    let env = client_env(ctx);
    // Java reads the keystore `trust install --java-keystore` used when it is not the JDK's.
    let java_opts: Vec<String> = crate::Manifest::load(ctx)
        .ok()
        .and_then(|m| {
            m.entries.iter().find_map(|e| match &e.step {
                crate::Step::Keystore {
                    keystore,
                    alias,
                    storepass,
                } if alias == crate::CA_NAME => Some((keystore.clone(), storepass.clone())),
                _ => None,
            })
        })
        .filter(|(ks, _)| crate::trust::java_cacerts(ctx).as_ref() != Some(ks))
        .map(|(ks, pass)| {
            vec![
                format!("-Djavax.net.ssl.trustStore={}", ks.display()),
                format!("-Djavax.net.ssl.trustStorePassword={pass}"),
            ]
        })
        .unwrap_or_default();
    let mut lines = Vec::new();
    for p in probes() {
        if !only.is_empty() && !only.iter().any(|o| o == p.name) {
            continue;
        }
        let Some(exe) = find(ctx, p.exe) else {
            continue;
        };
        let pre: &[String] = if p.name == "java" { &java_opts } else { &[] };
        lines.push(probe(ctx, &p, &exe, pre, &url, &scratch, &env));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    lines
}

fn version(ctx: &Context, p: &Probe, exe: &Path) -> String {
    let out = command(ctx, exe).args(p.version).output();
    let text = out
        .map(|o| {
            let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.push_str(&String::from_utf8_lossy(&o.stderr));
            t
        })
        .unwrap_or_default();
    // "v20.20.2", "curl 7.88.1 (...)", "Python 3.11.2", "openjdk version \"17.0.15\"", "Chromium 120..."
    let v = text
        .split(|c: char| c.is_whitespace() || c == '"')
        .map(|w| w.trim_start_matches('v'))
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .unwrap_or("")
        .to_string();
    if v.is_empty() {
        p.name.to_string()
    } else {
        format!("{} {v}", p.name)
    }
}

fn probe(
    ctx: &Context,
    p: &Probe,
    exe: &Path,
    pre: &[String],
    url: &str,
    dir: &Path,
    env: &[(String, String)],
) -> Line {
    let what = version(ctx, p, exe);
    if let Some((file, text)) = p.script {
        if let Err(e) = std::fs::write(dir.join(file), text) {
            return Line::new(what, State::Failed, format!("cannot write the probe: {e}"));
        }
    }
    let fill = |a: &str| {
        a.replace("{url}", url)
            .replace("{proxy}", &ctx.proxy_url())
            .replace("{proxy_host}", &ctx.listen.ip().to_string())
            .replace("{proxy_port}", &ctx.listen.port().to_string())
            .replace("{dir}", &dir.display().to_string())
    };
    let mut cmd = command(ctx, exe);
    cmd.args(pre)
        .args(p.args.iter().map(|a| fill(a)))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("HTTPS_PROXY", ctx.proxy_url())
        .env("https_proxy", ctx.proxy_url())
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, stdout, stderr) = match run_bounded(cmd, p.timeout) {
        Ok(r) => r,
        Err(e) => return Line::new(what, State::Failed, e),
    };
    if stdout.contains(CANARY_MARK) {
        return Line::new(
            what,
            State::Ok,
            "trusts the device CA and reaches LLM services through the guard",
        );
    }
    let cert_problem = code == Some(60)
        || code == Some(77)
        || [
            "certificate",
            "CERT_",
            "SSLHandshake",
            "self-signed",
            "self signed",
            "PKIX",
            "ERR_CERT",
        ]
        .iter()
        .any(|k| stderr.contains(k) || stdout.contains(k));
    if cert_problem {
        Line::new(
            what,
            State::Missing,
            format!("does not trust the device CA — run `{}`", p.fix),
        )
    } else {
        let mut why = stderr
            .lines()
            .last()
            .unwrap_or("no canary in the answer")
            .to_string();
        why.truncate(200);
        Line::new(
            what,
            State::Failed,
            format!("could not reach the canary through the guard: {why}"),
        )
    }
}

/// Runs a command with a deadline; its exit code, stdout and stderr.
fn run_bounded(
    mut cmd: std::process::Command,
    timeout: Duration,
) -> Result<(Option<i32>, String, String), String> {
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    match status {
        None => Err(format!("no answer within {} s", timeout.as_secs())),
        Some(s) => Ok((s.code(), stdout, stderr)),
    }
}
