//! The record of everything Leakguard changed on this machine, written before each change, so
//! that undoing is exact: files it created are removed, files it changed get their previous
//! text back, settings their previous values, certificates it added are deleted by the name it
//! gave them.

use crate::tools::{self, read_opt, run, write_atomic};
use crate::{io, Context, Error, Line, Result, State};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which command a step belongs to (`trust`, `proxy`, `service` undo only their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Trust,
    Routing,
    Service,
}

/// One change to the machine, with what undoing it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A file Leakguard wrote; `previous` is the text that was there before (put back on undo),
    /// `None` when the file did not exist (removed on undo).
    File {
        path: PathBuf,
        previous: Option<String>,
        /// Mode to restore `previous` with.
        #[serde(default)]
        mode: Option<u32>,
        /// Directories made for it (removed on undo when empty), deepest first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dirs: Vec<PathBuf>,
    },
    /// A marked block in a text file (a shell profile); undo removes the block only (and the
    /// file, when Leakguard created it and nothing else was added since).
    Block {
        path: PathBuf,
        marker: String,
        #[serde(default)]
        created: bool,
    },
    /// A trust anchor file, and the command that rebuilds the system bundle after it is added
    /// or removed (`update-ca-certificates`, `update-ca-trust extract`).
    Anchor { path: PathBuf, refresh: Vec<String> },
    /// The CA in an NSS database (Chromium's `~/.pki/nssdb`, a Firefox profile); `created`
    /// when Leakguard made the database (removed on undo if nothing else is in it).
    Nss {
        db: PathBuf,
        nickname: String,
        #[serde(default)]
        created: bool,
    },
    /// The CA in a Java keystore.
    Keystore {
        keystore: PathBuf,
        alias: String,
        storepass: String,
    },
    /// A GSettings key and the value it had.
    Gsettings {
        schema: String,
        key: String,
        previous: String,
        /// The schema's default: when `previous` was it, undo resets the key (so the user's
        /// settings file is left as it was, without an explicit value).
        #[serde(default)]
        default: Option<String>,
    },
    /// A key in an INI file (KDE's `kioslaverc`) and the value it had.
    Ini {
        path: PathBuf,
        section: String,
        key: String,
        previous: Option<String>,
    },
    /// A symbolic link Leakguard made (a systemd `*.wants` entry); undo removes the link.
    Link { path: PathBuf },
    /// A command to run when undoing (after the steps recorded after it are undone), e.g.
    /// `systemctl --user disable --now leakguard.service`.
    Command { undo: Vec<String> },
    /// A macOS keychain certificate, by its SHA-1 (as `security delete-certificate -Z` wants).
    Keychain { keychain: PathBuf, sha1: String },
    /// A Windows certificate store entry, by thumbprint.
    WinStore { store: String, thumbprint: String },
    /// A Windows registry value and the value it had.
    Registry {
        key: String,
        name: String,
        previous: Option<String>,
    },
}

/// A step, its group, and the CA it was done for (to notice a rotated CA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub group: Group,
    pub step: Step,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

/// What is installed, in the order it was done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The system root the steps were made under, when not `/` (an image or a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// The manifest in the context's data directory (empty when there is none).
    pub fn load(ctx: &Context) -> Result<Manifest> {
        let path = ctx.manifest_path();
        match read_opt(&path)? {
            None => Ok(Manifest::default()),
            Some(text) => serde_json::from_str(&text).map_err(|e| Error::Manifest {
                path,
                why: e.to_string(),
            }),
        }
    }

    fn save(&self, ctx: &Context) -> Result<()> {
        let path = ctx.manifest_path();
        if self.entries.is_empty() {
            return tools::remove(&path);
        }
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        write_atomic(&path, text.as_bytes(), 0o600)
    }

    /// Entries of one group.
    pub fn of(&self, group: Group) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.group == group)
    }

    /// Is this exact step recorded?
    pub fn has(&self, step: &Step) -> bool {
        self.entries.iter().any(|e| &e.step == step)
    }

    /// Records `entry` (saved at once, before the change is made: a crash in between leaves a
    /// record whose undo finds nothing to do, never a change without a record).
    pub(crate) fn record(&mut self, ctx: &Context, entry: Entry) -> Result<()> {
        if !ctx.real_root() {
            self.root = Some(ctx.root.clone());
        }
        self.entries.push(entry);
        self.save(ctx)
    }

    /// Drops the last entry (its change failed and was not made).
    pub(crate) fn forget_last(&mut self, ctx: &Context) -> Result<()> {
        self.entries.pop();
        self.save(ctx)
    }

    /// Undoes a group's steps, newest first. A step that cannot be undone stays recorded (and
    /// is reported), so a second run can finish the job.
    pub fn undo(&mut self, ctx: &Context, group: Group) -> Result<Vec<Line>> {
        let mut lines = Vec::new();
        let mut i = self.entries.len();
        while i > 0 {
            i -= 1;
            if self.entries[i].group != group {
                continue;
            }
            let step = self.entries[i].step.clone();
            match undo_step(ctx, &step) {
                Ok(what) => {
                    self.entries.remove(i);
                    // A file Leakguard created and still holds another of its blocks: that
                    // block's undo removes the file.
                    if let Step::Block {
                        path,
                        created: true,
                        ..
                    } = &step
                    {
                        for e in &mut self.entries {
                            if let Step::Block {
                                path: p, created, ..
                            } = &mut e.step
                            {
                                if p == path {
                                    *created = true;
                                }
                            }
                        }
                    }
                    self.save(ctx)?;
                    lines.push(Line::new(what, State::Ok, "removed"));
                }
                Err(e) => lines.push(Line::new(describe(&step), State::Failed, e.to_string())),
            }
        }
        Ok(lines)
    }
}

/// A short name of a step for reports.
pub(crate) fn describe(step: &Step) -> String {
    match step {
        Step::File { path, .. } | Step::Block { path, .. } | Step::Anchor { path, .. } => {
            path.display().to_string()
        }
        Step::Nss { db, .. } => format!("nss:{}", db.display()),
        Step::Keystore { keystore, .. } => format!("java keystore {}", keystore.display()),
        Step::Gsettings { schema, key, .. } => format!("gsettings {schema} {key}"),
        Step::Ini {
            path, section, key, ..
        } => format!("{} [{section}] {key}", path.display()),
        Step::Command { undo } => undo.join(" "),
        Step::Link { path } => path.display().to_string(),
        Step::Keychain { keychain, .. } => format!("keychain {}", keychain.display()),
        Step::WinStore { store, .. } => format!("certificate store {store}"),
        Step::Registry { key, name, .. } => format!("{key}\\{name}"),
    }
}

fn undo_step(ctx: &Context, step: &Step) -> Result<String> {
    match step {
        Step::File {
            path,
            previous,
            mode,
            dirs,
        } => {
            match previous {
                Some(text) => write_atomic(path, text.as_bytes(), mode.unwrap_or(0o644))?,
                None => tools::remove(path)?,
            }
            for d in dirs {
                // Only when empty: anything someone else put there since stays.
                let _ = std::fs::remove_dir(d);
            }
        }
        Step::Block {
            path,
            marker,
            created,
        } => {
            if let Some(text) = read_opt(path)? {
                let rest = tools::without_block(&text, marker);
                if *created && rest.trim().is_empty() {
                    tools::remove(path)?;
                } else if rest != text {
                    let mode = file_mode(path).unwrap_or(0o644);
                    write_atomic(path, rest.as_bytes(), mode)?;
                }
            }
        }
        Step::Anchor { path, refresh } => {
            tools::remove(path)?;
            if let Some((program, args)) = refresh.split_first() {
                let mut args = args.to_vec();
                if program == "update-ca-certificates" {
                    // Debian drops a removed local anchor's links only when rebuilding afresh.
                    args.push("--fresh".into());
                }
                run(ctx, program, &args)?;
            }
        }
        Step::Nss {
            db,
            nickname,
            created,
        } => {
            let db_arg = format!("sql:{}", db.display());
            if db.join("cert9.db").is_file() {
                // Several certificates may share the nickname after repeated installs: delete
                // until none is left.
                while run(ctx, "certutil", ["-L", "-d", &db_arg, "-n", nickname]).is_ok() {
                    run(ctx, "certutil", ["-D", "-d", &db_arg, "-n", nickname])?;
                }
                if *created && nss_empty(ctx, &db_arg) {
                    for f in ["cert9.db", "key4.db", "pkcs11.txt"] {
                        tools::remove(&db.join(f))?;
                    }
                    // The directory goes only if nothing else is in it.
                    let _ = std::fs::remove_dir(db);
                }
            }
        }
        Step::Keystore {
            keystore,
            alias,
            storepass,
        } => tools::keystore_delete(ctx, keystore, storepass, alias)?,
        Step::Gsettings {
            schema,
            key,
            previous,
            default,
        } => {
            if default.as_ref() == Some(previous) {
                run(ctx, "gsettings", ["reset", schema, key])?;
            } else {
                run(ctx, "gsettings", ["set", schema, key, previous])?;
            }
        }
        Step::Ini {
            path,
            section,
            key,
            previous,
        } => {
            let text = read_opt(path)?.unwrap_or_default();
            let next = tools::ini_set(&text, section, key, previous.as_deref());
            write_atomic(path, next.as_bytes(), file_mode(path).unwrap_or(0o644))?;
        }
        Step::Link { path } => {
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                tools::remove(path)?;
            }
        }
        Step::Command { undo } => {
            if let Some((program, args)) = undo.split_first() {
                run(ctx, program, args)?;
            }
        }
        Step::Keychain { keychain, sha1 } => {
            let kc = keychain.display().to_string();
            run(
                ctx,
                "security",
                ["delete-certificate", "-Z", sha1, "-t", &kc],
            )?;
        }
        Step::WinStore { store, thumbprint } => {
            run(ctx, "certutil", ["-delstore", store, thumbprint])?;
        }
        Step::Registry {
            key,
            name,
            previous,
        } => match previous {
            Some(v) => {
                run(
                    ctx,
                    "reg",
                    ["add", key, "/v", name, "/t", "REG_SZ", "/d", v, "/f"],
                )?;
            }
            None => {
                let _ = run(ctx, "reg", ["delete", key, "/v", name, "/f"]);
            }
        },
    }
    Ok(describe(step))
}

/// Does an NSS database hold no certificate and no key?
fn nss_empty(ctx: &Context, db_arg: &str) -> bool {
    let certs = run(ctx, "certutil", ["-L", "-d", db_arg]).unwrap_or_else(|_| "?".into());
    // The listing is two header lines ("Certificate Nickname ... Trust Attributes" and
    // "SSL,S/MIME,JAR/XPI") and one line per certificate.
    let listed = certs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains("Trust Attributes") && !l.contains("SSL,S/MIME,JAR/XPI"))
        .count();
    // `certutil -K` fails when there is no key.
    listed == 0 && run(ctx, "certutil", ["-K", "-d", db_arg]).is_err()
}

/// A file's permission bits (Unix), to keep them when rewriting it.
pub(crate) fn file_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes a file as a recorded step: the previous text (if any) is kept for undo. Nothing is
/// recorded or written when the file already has exactly this text and was written by an
/// earlier recorded step.
pub(crate) fn put_file(
    ctx: &Context,
    manifest: &mut Manifest,
    group: Group,
    ca: Option<String>,
    path: &Path,
    text: &str,
    mode: u32,
) -> Result<()> {
    let current = read_opt(path)?;
    let ours = manifest
        .entries
        .iter()
        .any(|e| matches!(&e.step, Step::File { path: p, .. } if p == path));
    if ours {
        if current.as_deref() != Some(text) {
            write_atomic(path, text.as_bytes(), mode)?;
        }
        return Ok(());
    }
    let mode_before = file_mode(path);
    let dirs: Vec<PathBuf> = path
        .ancestors()
        .skip(1)
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    manifest.record(
        ctx,
        Entry {
            group,
            step: Step::File {
                path: path.to_path_buf(),
                previous: current,
                mode: mode_before,
                dirs,
            },
            ca,
        },
    )?;
    if let Err(e) = write_atomic(path, text.as_bytes(), mode) {
        manifest.forget_last(ctx)?;
        return Err(e);
    }
    Ok(())
}

/// Adds a marked block to a text file as a recorded step (once).
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn put_block(
    ctx: &Context,
    manifest: &mut Manifest,
    group: Group,
    path: &Path,
    marker: &str,
    body: &str,
) -> Result<()> {
    let recorded = manifest.entries.iter().any(
        |e| matches!(&e.step, Step::Block { path: p, marker: m, .. } if p == path && m == marker),
    );
    if !recorded {
        let step = Step::Block {
            path: path.to_path_buf(),
            marker: marker.to_string(),
            created: !path.exists(),
        };
        manifest.record(
            ctx,
            Entry {
                group,
                step,
                ca: None,
            },
        )?;
    }
    let text = read_opt(path)?.unwrap_or_default();
    let next = tools::with_block(&text, marker, body);
    if next != text {
        let mode = file_mode(path).unwrap_or(0o644);
        write_atomic(path, next.as_bytes(), mode)?;
    }
    Ok(())
}

/// Makes sure a directory exists (for tools that want one).
pub(crate) fn ensure_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> Context {
        let mut c = Context::from_env(dir.join("data"), crate::DEFAULT_LISTEN.parse().unwrap());
        c.home = dir.join("home");
        c.config_home = dir.join("home/.config");
        c.root = dir.join("root");
        c
    }

    #[test]
    fn undo_puts_back_a_changed_file_byte_for_byte_and_removes_a_created_one() {
        let t = tempfile::tempdir().unwrap();
        let c = ctx(t.path());
        let mut m = Manifest::load(&c).unwrap();
        let existing = t.path().join("home/existing.conf");
        write_atomic(&existing, b"mine\n", 0o640).unwrap();
        let fresh = t.path().join("home/new/leakguard.conf");
        put_file(&c, &mut m, Group::Routing, None, &existing, "ours\n", 0o644).unwrap();
        put_file(&c, &mut m, Group::Routing, None, &fresh, "ours\n", 0o644).unwrap();
        // Written again: still one record each, the first previous text kept.
        put_file(
            &c,
            &mut m,
            Group::Routing,
            None,
            &existing,
            "ours 2\n",
            0o644,
        )
        .unwrap();
        assert_eq!(m.entries.len(), 2);
        assert_eq!(
            Manifest::load(&c).unwrap(),
            m,
            "each step is saved as it is made"
        );
        let lines = m.undo(&c, Group::Routing).unwrap();
        assert!(lines.iter().all(|l| l.state == State::Ok), "{lines:?}");
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "mine\n");
        // Modes exist on Unix only (the Windows build of this test runs under Wine).
        #[cfg(unix)]
        assert_eq!(file_mode(&existing), Some(0o640));
        assert!(!fresh.exists());
        assert!(!c.manifest_path().exists(), "an empty record is removed");
    }

    #[test]
    fn a_profile_leakguard_created_goes_with_its_last_block_whichever_group_undoes_last() {
        let t = tempfile::tempdir().unwrap();
        let c = ctx(t.path());
        let mut m = Manifest::load(&c).unwrap();
        let profile = t.path().join("home/.profile");
        put_block(&c, &mut m, Group::Trust, &profile, "leakguard trust", "A=1").unwrap();
        put_block(
            &c,
            &mut m,
            Group::Routing,
            &profile,
            "leakguard proxy",
            "B=1",
        )
        .unwrap();
        m.undo(&c, Group::Trust).unwrap();
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(text.contains("B=1") && !text.contains("A=1"), "{text}");
        m.undo(&c, Group::Routing).unwrap();
        assert!(
            !profile.exists(),
            "the file Leakguard created is gone with its last block"
        );
    }

    #[test]
    fn a_block_in_the_users_own_file_leaves_their_lines_as_they_were() {
        let t = tempfile::tempdir().unwrap();
        let c = ctx(t.path());
        let mut m = Manifest::load(&c).unwrap();
        let profile = t.path().join("home/.profile");
        write_atomic(&profile, b"export MINE=1", 0o600).unwrap();
        put_block(&c, &mut m, Group::Trust, &profile, "leakguard trust", "A=1").unwrap();
        m.undo(&c, Group::Trust).unwrap();
        // Their lines stay (a missing final newline is added: the block started on its own line).
        assert_eq!(
            std::fs::read_to_string(&profile).unwrap(),
            "export MINE=1\n"
        );
        #[cfg(unix)]
        assert_eq!(file_mode(&profile), Some(0o600));
    }

    #[test]
    fn an_unreadable_record_is_an_error_not_an_empty_one() {
        let t = tempfile::tempdir().unwrap();
        let c = ctx(t.path());
        write_atomic(&c.manifest_path(), b"{not json", 0o600).unwrap();
        assert!(matches!(Manifest::load(&c), Err(Error::Manifest { .. })));
    }
}
