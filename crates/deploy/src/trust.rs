//! `leakguard trust install|uninstall|status`: the device CA trusted by everything that talks
//! to an LLM service from this machine.
//!
//! | target     | Linux                                             | macOS                                   | Windows                         |
//! |------------|---------------------------------------------------|-----------------------------------------|---------------------------------|
//! | `system`   | anchor + `update-ca-certificates` / `update-ca-trust` | `security add-trusted-cert` (System keychain) | `certutil -addstore Root`   |
//! | `nss`      | `certutil` into `~/.pki/nssdb` and Firefox profiles | Firefox profiles                      | Firefox profiles                |
//! | `runtimes` | a bundle + `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, ... in `environment.d` and the shell profile | the same in the shell profile | the same as user variables |
//! | `java`     | `keytool` into the JDK's `cacerts`                | the same                                | the same                        |

#[cfg(unix)]
use crate::manifest::put_block;
use crate::manifest::{put_file, Entry, Group, Manifest, Step};
use crate::tools::{find, keystore_delete, keytool, run};
#[cfg(all(unix, not(target_os = "macos")))]
use crate::tools::{keystore_has, read_opt};
use crate::{bundle_has, pem_body, pem_id, Context, Error, Line, Result, State, CA_NAME};
use std::path::{Path, PathBuf};

/// Where the CA can be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The operating system's store (needs administrator rights).
    System,
    /// The browsers' NSS databases (Chromium on Linux, Firefox everywhere).
    Nss,
    /// Environment variables for the runtimes that ignore the system store.
    Runtimes,
    /// The JDK's keystore.
    Java,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::System, Target::Nss, Target::Runtimes, Target::Java];

    pub fn name(self) -> &'static str {
        match self {
            Target::System => "system",
            Target::Nss => "nss",
            Target::Runtimes => "runtimes",
            Target::Java => "java",
        }
    }
}

/// What to install, and where Java's keystore is when not the JDK's own.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Empty: every target that applies to this machine and this user's rights.
    pub targets: Vec<Target>,
    /// A keystore other than the JDK's `cacerts`.
    pub java_keystore: Option<PathBuf>,
}

impl Options {
    fn explicit(&self, t: Target) -> bool {
        self.targets.contains(&t)
    }

    fn wants(&self, t: Target) -> bool {
        self.targets.is_empty() || self.explicit(t)
    }
}

/// The Java keystore password every JDK ships `cacerts` with.
const JAVA_STOREPASS: &str = "changeit";
/// The marker of the shell-profile block.
const PROFILE_MARKER: &str = "leakguard trust";

/// Installs the device CA where `opts` says; a line per place.
pub fn install(ctx: &Context, opts: &Options) -> Result<Vec<Line>> {
    let pem = ctx.ca_pem()?;
    let mut manifest = Manifest::load(ctx)?;
    let mut lines = Vec::new();
    if opts.wants(Target::System) {
        lines.push(or_line(
            "system",
            system_install(ctx, &mut manifest, &pem, opts.explicit(Target::System)),
        ));
    }
    if opts.wants(Target::Nss) {
        lines.extend(nss_install(ctx, &mut manifest, opts.explicit(Target::Nss))?);
    }
    if opts.wants(Target::Runtimes) {
        lines.push(or_line(
            "runtimes",
            runtimes_install(ctx, &mut manifest, &pem),
        ));
    }
    if opts.wants(Target::Java) {
        lines.push(or_line(
            "java",
            java_install(ctx, &mut manifest, opts, opts.explicit(Target::Java)),
        ));
    }
    Ok(lines)
}

/// Removes exactly what `install` added (and puts back what it replaced).
pub fn uninstall(ctx: &Context) -> Result<Vec<Line>> {
    Manifest::load(ctx)?.undo(ctx, Group::Trust)
}

/// Is the current CA trusted in each place? (Checks the stores themselves, not the record.)
pub fn status(ctx: &Context, opts: &Options) -> Result<Vec<Line>> {
    let pem = ctx.ca_pem()?;
    let manifest = Manifest::load(ctx)?;
    let mut lines = Vec::new();
    if opts.wants(Target::System) {
        lines.push(system_status(ctx, &pem));
    }
    if opts.wants(Target::Nss) {
        lines.extend(nss_status(ctx, &pem));
    }
    if opts.wants(Target::Runtimes) {
        lines.push(runtimes_status(ctx, &pem));
    }
    if opts.wants(Target::Java) {
        lines.push(java_status(ctx, &manifest, opts, &pem));
    }
    Ok(lines)
}

/// A result as a report line: `Ok(line)` as is, a missing right or tool as `skipped` (when the
/// target was not asked for by name) or `failed`.
fn or_line(what: &str, r: Result<Line>) -> Line {
    match r {
        Ok(line) => line,
        Err(e) => Line::new(what, State::Failed, e.to_string()),
    }
}

fn entry(pem: &str, step: Step) -> Entry {
    Entry {
        group: Group::Trust,
        step,
        ca: Some(pem_id(pem)),
    }
}

// ---------------------------------------------------------------------------------------------
// The system store

/// Where the anchor goes and what rebuilds the bundle, on this Linux.
#[cfg(all(unix, not(target_os = "macos")))]
fn linux_anchor(ctx: &Context) -> Option<(PathBuf, Vec<String>)> {
    if find(ctx, "update-ca-certificates").is_some() {
        let anchor = ctx.sys(&format!("/usr/local/share/ca-certificates/{CA_NAME}.crt"));
        let mut refresh = vec!["update-ca-certificates".to_string()];
        if !ctx.real_root() {
            // A throw-away root: every directory the tool uses is under it.
            for (flag, dir) in [
                ("--certsconf", "/etc/ca-certificates.conf"),
                ("--certsdir", "/usr/share/ca-certificates"),
                ("--localcertsdir", "/usr/local/share/ca-certificates"),
                ("--etccertsdir", "/etc/ssl/certs"),
                ("--hooksdir", "/etc/ca-certificates/update.d"),
            ] {
                refresh.push(flag.to_string());
                refresh.push(ctx.sys(dir).display().to_string());
            }
        }
        return Some((anchor, refresh));
    }
    if find(ctx, "update-ca-trust").is_some() {
        // Fedora/RHEL keep anchors in /etc/pki, Arch in /etc/ca-certificates/trust-source.
        let dir = if ctx.sys("/etc/pki/ca-trust").is_dir() {
            "/etc/pki/ca-trust/source/anchors"
        } else {
            "/etc/ca-certificates/trust-source/anchors"
        };
        let anchor = ctx.sys(&format!("{dir}/{CA_NAME}.pem"));
        return Some((anchor, vec!["update-ca-trust".into(), "extract".into()]));
    }
    None
}

/// The system's bundle of trusted roots (what OpenSSL-based clients read).
pub fn system_bundle(ctx: &Context) -> Option<PathBuf> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    ]
    .iter()
    .map(|p| ctx.sys(p))
    .find(|p| p.is_file())
}

#[cfg(all(unix, not(target_os = "macos")))]
fn system_install(ctx: &Context, m: &mut Manifest, pem: &str, explicit: bool) -> Result<Line> {
    let Some((anchor, refresh)) = linux_anchor(ctx) else {
        return Err(Error::Missing {
            tool: "update-ca-certificates".into(),
            hint: "install the `ca-certificates` package (or `p11-kit` on Fedora/Arch)".into(),
        });
    };
    if !ctx.admin() {
        return skipped_or_admin("the system trust store", "trust install --system", explicit);
    }
    let current = read_opt(&anchor)?;
    let step = Step::Anchor {
        path: anchor.clone(),
        refresh: refresh.clone(),
    };
    if current.as_deref() == Some(pem) && system_status(ctx, pem).state == State::Ok {
        return Ok(Line::new(
            "system",
            State::Ok,
            format!("already trusted ({})", anchor.display()),
        ));
    }
    if current.is_some() && !m.has(&step) {
        return Err(Error::Unsupported(format!(
            "{} exists and was not written by Leakguard; remove or rename it, then run this again",
            anchor.display()
        )));
    }
    if !m.has(&step) {
        m.record(ctx, entry(pem, step))?;
    }
    crate::tools::write_atomic(&anchor, pem.as_bytes(), 0o644)?;
    if let Some((program, args)) = refresh.split_first() {
        run(ctx, program, args)?;
    }
    // Debian's `jks-keystore` hook copies new anchors into the system Java keystore as
    // `debian:<name>.pem`, and a later removal does not take them out again: record it so
    // that uninstall does.
    let java = ctx.sys("/etc/ssl/certs/java/cacerts");
    let alias = format!("debian:{CA_NAME}.pem");
    if java.is_file() && find(ctx, "keytool").is_some() {
        let step = Step::Keystore {
            keystore: java.clone(),
            alias: alias.clone(),
            storepass: JAVA_STOREPASS.into(),
        };
        if keystore_has(ctx, &java, JAVA_STOREPASS, &alias) && !m.has(&step) {
            m.record(ctx, entry(pem, step))?;
        }
    }
    Ok(Line::new(
        "system",
        State::Ok,
        format!("trusted ({}, {})", anchor.display(), refresh[0]),
    ))
}

#[cfg(all(unix, not(target_os = "macos")))]
fn system_status(ctx: &Context, pem: &str) -> Line {
    let Some(bundle) = system_bundle(ctx) else {
        return Line::new("system", State::Failed, "no system CA bundle found");
    };
    let text = std::fs::read_to_string(&bundle).unwrap_or_default();
    if bundle_has(&text, &pem_body(pem)) {
        Line::new("system", State::Ok, format!("in {}", bundle.display()))
    } else {
        Line::new(
            "system",
            State::Missing,
            format!(
                "not in {}: run `sudo leakguard trust install --system`",
                bundle.display()
            ),
        )
    }
}

#[cfg(target_os = "macos")]
fn system_install(ctx: &Context, m: &mut Manifest, pem: &str, explicit: bool) -> Result<Line> {
    if !ctx.admin() {
        return skipped_or_admin("the System keychain", "trust install --system", explicit);
    }
    let keychain = PathBuf::from("/Library/Keychains/System.keychain");
    let cert = ctx.ca_cert();
    let sha1 = run(
        ctx,
        "openssl",
        [
            "x509",
            "-noout",
            "-fingerprint",
            "-sha1",
            "-in",
            &cert.display().to_string(),
        ],
    )?
    .rsplit('=')
    .next()
    .unwrap_or_default()
    .trim()
    .replace(':', "");
    let step = Step::Keychain {
        keychain: keychain.clone(),
        sha1,
    };
    if !m.has(&step) {
        m.record(ctx, entry(pem, step))?;
    }
    run(
        ctx,
        "security",
        [
            "add-trusted-cert",
            "-d",
            "-r",
            "trustRoot",
            "-k",
            &keychain.display().to_string(),
            &cert.display().to_string(),
        ],
    )?;
    Ok(Line::new(
        "system",
        State::Ok,
        "trusted in the System keychain",
    ))
}

#[cfg(target_os = "macos")]
fn system_status(ctx: &Context, _pem: &str) -> Line {
    let cert = ctx.ca_cert().display().to_string();
    match run(ctx, "security", ["verify-cert", "-c", &cert]) {
        Ok(_) => Line::new("system", State::Ok, "trusted by the System keychain"),
        Err(_) => Line::new(
            "system",
            State::Missing,
            "not trusted: run `sudo leakguard trust install --system`",
        ),
    }
}

#[cfg(windows)]
fn system_install(ctx: &Context, m: &mut Manifest, pem: &str, explicit: bool) -> Result<Line> {
    if !ctx.admin() {
        return skipped_or_admin(
            "the machine's Root store",
            "trust install --system",
            explicit,
        );
    }
    let cert = ctx.ca_cert().display().to_string();
    let dump = run(ctx, "certutil", ["-dump", &cert])?;
    let thumbprint = dump
        .lines()
        .find_map(|l| l.trim().strip_prefix("Cert Hash(sha1):"))
        .unwrap_or_default()
        .trim()
        .replace(' ', "");
    let step = Step::WinStore {
        store: "Root".into(),
        thumbprint,
    };
    if !m.has(&step) {
        m.record(ctx, entry(pem, step))?;
    }
    run(ctx, "certutil", ["-addstore", "-f", "Root", &cert])?;
    Ok(Line::new(
        "system",
        State::Ok,
        "trusted in the machine's Root store",
    ))
}

#[cfg(windows)]
fn system_status(ctx: &Context, _pem: &str) -> Line {
    let cert = ctx.ca_cert().display().to_string();
    match run(ctx, "certutil", ["-verify", &cert]) {
        Ok(_) => Line::new("system", State::Ok, "trusted by the Root store"),
        Err(_) => Line::new(
            "system",
            State::Missing,
            "not trusted: run `leakguard trust install --system` as administrator",
        ),
    }
}

/// Without rights: skipped when installing "everything that applies", an error when the target
/// was asked for by name.
fn skipped_or_admin(what: &str, again: &str, explicit: bool) -> Result<Line> {
    if explicit {
        Err(Error::NeedsAdmin {
            what: what.into(),
            again: again.into(),
        })
    } else {
        Ok(Line::new(
            "system",
            State::Skipped,
            format!("{what} needs administrator rights: run `sudo leakguard {again}` (the installer does)"),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// NSS databases (browsers)

/// The NSS databases of this user: Chromium's (Linux) and every Firefox profile's, with
/// whether each exists yet.
pub fn nss_databases(ctx: &Context) -> Vec<(PathBuf, &'static str)> {
    let mut dbs = Vec::new();
    if cfg!(all(unix, not(target_os = "macos"))) {
        dbs.push((ctx.home.join(".pki/nssdb"), "chromium"));
    }
    let firefox_roots = [
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
        "Library/Application Support/Firefox/Profiles",
        "AppData/Roaming/Mozilla/Firefox/Profiles",
    ];
    for root in firefox_roots {
        let Ok(entries) = std::fs::read_dir(ctx.home.join(root)) else {
            continue;
        };
        let mut profiles: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("cert9.db").is_file())
            .collect();
        profiles.sort();
        dbs.extend(profiles.into_iter().map(|p| (p, "firefox")));
    }
    dbs
}

/// Is a Chromium-family browser installed (so its NSS database is worth creating)?
fn chromium_present(ctx: &Context) -> bool {
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
        "microsoft-edge",
        "brave-browser",
    ]
    .iter()
    .any(|b| find(ctx, b).is_some())
}

fn nss_install(ctx: &Context, m: &mut Manifest, explicit: bool) -> Result<Vec<Line>> {
    let dbs = nss_databases(ctx);
    if find(ctx, "certutil").is_none() || cfg!(windows) {
        let detail = "`certutil` (NSS tools) is not installed: install `libnss3-tools` (Debian), `nss-tools` (Fedora) or `nss` (Homebrew)";
        let state = if explicit {
            State::Failed
        } else {
            State::Skipped
        };
        return Ok(vec![Line::new("nss", state, detail)]);
    }
    let cert = ctx.ca_cert().display().to_string();
    let pem = ctx.ca_pem()?;
    let mut lines = Vec::new();
    for (db, browser) in dbs {
        let what = format!("nss:{} ({browser})", db.display());
        let created = !db.join("cert9.db").is_file();
        if created && !(explicit || chromium_present(ctx)) {
            lines.push(Line::new(
                what,
                State::Skipped,
                "no Chromium-family browser installed",
            ));
            continue;
        }
        let step = Step::Nss {
            db: db.clone(),
            nickname: CA_NAME.into(),
            created,
        };
        let recorded = m
            .entries
            .iter()
            .any(|e| matches!(&e.step, Step::Nss { db: d, .. } if *d == db));
        let result = (|| -> Result<()> {
            if !recorded {
                m.record(ctx, entry(&pem, step))?;
            }
            let db_arg = format!("sql:{}", db.display());
            if created {
                crate::manifest::ensure_dir(&db)?;
                run(ctx, "certutil", ["-N", "-d", &db_arg, "--empty-password"])?;
            }
            // A certificate of an earlier CA under the same nickname goes first.
            while run(ctx, "certutil", ["-L", "-d", &db_arg, "-n", CA_NAME]).is_ok() {
                run(ctx, "certutil", ["-D", "-d", &db_arg, "-n", CA_NAME])?;
            }
            run(
                ctx,
                "certutil",
                ["-A", "-d", &db_arg, "-n", CA_NAME, "-t", "C,,", "-i", &cert],
            )?;
            Ok(())
        })();
        lines.push(match result {
            Ok(()) => Line::new(what, State::Ok, "trusted for TLS servers"),
            Err(e) => Line::new(what, State::Failed, e.to_string()),
        });
    }
    if lines.is_empty() {
        lines.push(Line::new(
            "nss",
            State::Skipped,
            "no browser NSS database on this account",
        ));
    }
    Ok(lines)
}

fn nss_status(ctx: &Context, pem: &str) -> Vec<Line> {
    let body = pem_body(pem);
    let mut lines = Vec::new();
    for (db, browser) in nss_databases(ctx) {
        let what = format!("nss:{} ({browser})", db.display());
        if !db.join("cert9.db").is_file() {
            let state = if chromium_present(ctx) {
                State::Missing
            } else {
                State::Skipped
            };
            lines.push(Line::new(
                what,
                state,
                "no database yet: run `leakguard trust install --nss`",
            ));
            continue;
        }
        let db_arg = format!("sql:{}", db.display());
        let line = match run(ctx, "certutil", ["-L", "-d", &db_arg, "-n", CA_NAME, "-a"]) {
            Ok(out) if bundle_has(&out, &body) => Line::new(what, State::Ok, "trusted"),
            Ok(_) => Line::new(
                what,
                State::Missing,
                "an older device CA is trusted: run `leakguard trust install --nss`",
            ),
            Err(Error::Missing { .. }) => Line::new(
                what,
                State::Failed,
                "`certutil` is not installed (libnss3-tools)",
            ),
            Err(_) => Line::new(
                what,
                State::Missing,
                "not trusted: run `leakguard trust install --nss`",
            ),
        };
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Runtimes that ignore the system store

/// The bundle the runtimes are pointed at: the system's roots plus the device CA (variables
/// such as `SSL_CERT_FILE` replace the roots, so the bundle must hold both).
pub fn runtime_bundle(ctx: &Context) -> PathBuf {
    ctx.data_dir.join("ca").join("trust-bundle.pem")
}

/// The variables that make the runtimes trust the device CA, as `(name, value)`.
pub fn runtime_vars(ctx: &Context) -> Vec<(&'static str, String)> {
    let ca = ctx.ca_cert().display().to_string();
    let bundle = runtime_bundle(ctx).display().to_string();
    vec![
        // Node.js and Electron apps (Claude Code, Codex CLI, Copilot CLI, VS Code extensions).
        ("NODE_EXTRA_CA_CERTS", ca),
        // Node 22.15+/23.8+: also read the system store (where `--system` put the CA).
        ("NODE_USE_SYSTEM_CA", "1".into()),
        // Python: the ssl module (OpenSSL), requests, httpx (the OpenAI/Anthropic SDKs), pip.
        ("SSL_CERT_FILE", bundle.clone()),
        ("REQUESTS_CA_BUNDLE", bundle.clone()),
        ("PIP_CERT", bundle.clone()),
        // curl, git, the AWS SDKs and CLI, Deno, gRPC (Gemini CLI).
        ("CURL_CA_BUNDLE", bundle.clone()),
        ("GIT_SSL_CAINFO", bundle.clone()),
        ("AWS_CA_BUNDLE", bundle.clone()),
        ("DENO_CERT", bundle.clone()),
        ("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", bundle),
    ]
}

/// Variables for every program the user starts from now on: a `KEY=VALUE` file shells load
/// (a marked block in each profile sources it), the same file in `environment.d` for
/// graphical sessions (Linux), user variables (Windows).
pub(crate) struct EnvFiles {
    pub group: Group,
    pub ca: Option<String>,
    pub file: PathBuf,
    /// The file's name in `~/.config/environment.d`.
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
    pub environment_d: &'static str,
    /// The profile block's marker.
    #[cfg_attr(windows, allow(dead_code))]
    pub marker: &'static str,
}

impl EnvFiles {
    pub(crate) fn install(
        &self,
        ctx: &Context,
        m: &mut Manifest,
        vars: &[(&str, String)],
    ) -> Result<()> {
        let text = env_lines(vars);
        put_file(
            ctx,
            m,
            self.group,
            self.ca.clone(),
            &self.file,
            &text,
            0o644,
        )?;
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            let d = ctx
                .config_home
                .join("environment.d")
                .join(self.environment_d);
            put_file(ctx, m, self.group, self.ca.clone(), &d, &text, 0o644)?;
        }
        #[cfg(unix)]
        for profile in profiles(ctx) {
            put_block(
                ctx,
                m,
                self.group,
                &profile,
                self.marker,
                &source_line(&self.file),
            )?;
        }
        #[cfg(windows)]
        for (k, v) in vars {
            crate::routing::set_user_env(ctx, m, self.group, k, v)?;
        }
        Ok(())
    }
}

/// `KEY=VALUE` lines (environment.d, and shells through `set -a`).
pub(crate) fn env_lines(vars: &[(&str, String)]) -> String {
    let mut s = String::from("# Written by Leakguard (`leakguard trust uninstall` removes it).\n");
    for (k, v) in vars {
        s.push_str(&format!("{k}={}\n", shell_quote(v)));
    }
    s
}

/// A value quoted for POSIX shells and environment.d (single quotes).
pub(crate) fn shell_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:,@+=".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// The environment file read by shells (`~/.config/leakguard/trust.env`).
pub fn trust_env_file(ctx: &Context) -> PathBuf {
    ctx.config_home.join("leakguard").join("trust.env")
}

/// The shell profiles that get a line sourcing Leakguard's environment files.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn profiles(ctx: &Context) -> Vec<PathBuf> {
    let mut files = vec![ctx.home.join(".profile")];
    for f in [".bashrc", ".zshenv"] {
        let p = ctx.home.join(f);
        if p.is_file() {
            files.push(p);
        }
    }
    files
}

/// The shell line that loads an environment file.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn source_line(file: &Path) -> String {
    let f = shell_quote(&file.display().to_string());
    format!("[ -r {f} ] && {{ set -a; . {f}; set +a; }}")
}

fn runtimes_install(ctx: &Context, m: &mut Manifest, pem: &str) -> Result<Line> {
    let mut bundle = match system_bundle(ctx) {
        Some(p) => std::fs::read_to_string(&p).map_err(crate::io(&p))?,
        None => String::new(),
    };
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str("# Leakguard device CA\n");
    bundle.push_str(pem);
    let ca = Some(pem_id(pem));
    put_file(
        ctx,
        m,
        Group::Trust,
        ca.clone(),
        &runtime_bundle(ctx),
        &bundle,
        0o644,
    )?;
    let env = EnvFiles {
        group: Group::Trust,
        ca,
        file: trust_env_file(ctx),
        environment_d: "60-leakguard-trust.conf",
        marker: PROFILE_MARKER,
    };
    env.install(ctx, m, &runtime_vars(ctx))?;
    Ok(Line::new(
        "runtimes",
        State::Ok,
        format!(
            "Node, Python, curl, git, AWS, Deno and gRPC clients started from now on trust the CA ({})",
            trust_env_file(ctx).display()
        ),
    ))
}

fn runtimes_status(ctx: &Context, pem: &str) -> Line {
    let bundle = std::fs::read_to_string(runtime_bundle(ctx)).unwrap_or_default();
    if !bundle_has(&bundle, &pem_body(pem)) {
        return Line::new(
            "runtimes",
            State::Missing,
            "the runtimes' CA bundle lacks the current device CA: run `leakguard trust install --runtimes`",
        );
    }
    let env = std::fs::read_to_string(trust_env_file(ctx)).unwrap_or_default();
    let want = env_lines(&runtime_vars(ctx));
    if env != want {
        return Line::new(
            "runtimes",
            State::Missing,
            format!(
                "{} is missing or changed: run `leakguard trust install --runtimes`",
                trust_env_file(ctx).display()
            ),
        );
    }
    Line::new(
        "runtimes",
        State::Ok,
        format!("variables in {}", trust_env_file(ctx).display()),
    )
}

// ---------------------------------------------------------------------------------------------
// Java

/// The JDK's `cacerts`, from the `java` on `PATH` (`$JAVA_HOME` first).
pub fn java_cacerts(ctx: &Context) -> Option<PathBuf> {
    let home = match std::env::var_os("JAVA_HOME") {
        Some(h) => PathBuf::from(h),
        None => {
            let java = std::fs::canonicalize(find(ctx, "java")?).ok()?;
            java.parent()?.parent()?.to_path_buf()
        }
    };
    let cacerts = home.join("lib/security/cacerts");
    cacerts.exists().then_some(cacerts)
}

fn java_keystore(ctx: &Context, m: &Manifest, opts: &Options) -> Option<PathBuf> {
    opts.java_keystore
        .clone()
        .or_else(|| {
            // The keystore an earlier install used.
            m.of(Group::Trust).find_map(|e| match &e.step {
                Step::Keystore {
                    keystore, alias, ..
                } if alias == CA_NAME => Some(keystore.clone()),
                _ => None,
            })
        })
        .or_else(|| java_cacerts(ctx))
}

fn java_install(ctx: &Context, m: &mut Manifest, opts: &Options, explicit: bool) -> Result<Line> {
    if find(ctx, "keytool").is_none() {
        let state = if explicit {
            State::Failed
        } else {
            State::Skipped
        };
        return Ok(Line::new("java", state, "no JDK (`keytool`) found"));
    }
    if !ctx.real_root() && opts.java_keystore.is_none() {
        // The JDK's own keystore is outside a throw-away root: never touched from one.
        return Ok(Line::new(
            "java",
            State::Skipped,
            "under --root, name the keystore with --java-keystore",
        ));
    }
    let Some(keystore) = java_keystore(ctx, m, opts) else {
        return Ok(Line::new("java", State::Skipped, "no JDK keystore found"));
    };
    let writable = std::fs::OpenOptions::new()
        .append(true)
        .open(&keystore)
        .is_ok();
    if !writable {
        return skipped_or_admin(
            &format!("the JDK keystore {}", keystore.display()),
            "trust install --java",
            explicit,
        )
        .map(|l| Line {
            what: "java".into(),
            ..l
        });
    }
    let pem = ctx.ca_pem()?;
    let step = Step::Keystore {
        keystore: keystore.clone(),
        alias: CA_NAME.into(),
        storepass: JAVA_STOREPASS.into(),
    };
    if !m.has(&step) {
        m.record(ctx, entry(&pem, step))?;
    }
    let cert = ctx.ca_cert().display().to_string();
    keystore_delete(ctx, &keystore, JAVA_STOREPASS, CA_NAME)?;
    keytool(
        ctx,
        &["-importcert", "-noprompt", "-trustcacerts"],
        &keystore,
        JAVA_STOREPASS,
        CA_NAME,
        &["-file", &cert],
    )?;
    Ok(Line::new(
        "java",
        State::Ok,
        format!("trusted in {}", keystore.display()),
    ))
}

fn java_status(ctx: &Context, m: &Manifest, opts: &Options, pem: &str) -> Line {
    if find(ctx, "keytool").is_none() {
        return Line::new("java", State::Skipped, "no JDK found");
    }
    let Some(keystore) = java_keystore(ctx, m, opts) else {
        return Line::new("java", State::Skipped, "no JDK keystore found");
    };
    let ks = keystore.display().to_string();
    match keytool(
        ctx,
        &["-exportcert", "-rfc"],
        &keystore,
        JAVA_STOREPASS,
        CA_NAME,
        &[],
    ) {
        Ok(out) if bundle_has(&out, &pem_body(pem)) => {
            Line::new("java", State::Ok, format!("trusted in {ks}"))
        }
        Ok(_) => Line::new(
            "java",
            State::Missing,
            format!("an older device CA is in {ks}: run `leakguard trust install --java`"),
        ),
        Err(_) => Line::new(
            "java",
            State::Missing,
            format!("not in {ks}: run `sudo leakguard trust install --java`"),
        ),
    }
}
