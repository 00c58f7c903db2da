//! Running the platform's own tools (`certutil`, `keytool`, `gsettings`, `systemctl`, ...) and
//! small text edits (marked blocks, INI keys), the same way everywhere in this crate.

use crate::{io, Context, Error, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The executable `name` on the context's `PATH`.
pub(crate) fn find(ctx: &Context, name: &str) -> Option<PathBuf> {
    let path = ctx.path.clone().or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            let plain = dir.join(name);
            let exe = dir.join(format!("{name}.exe"));
            [plain, exe]
        })
        .find(|p| p.is_file())
}

/// A command for `program` with the context's `PATH` and tool environment.
pub(crate) fn command(ctx: &Context, program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    if let Some(path) = &ctx.path {
        c.env("PATH", path);
    }
    for (k, v) in &ctx.tool_env {
        c.env(k, v);
    }
    c.stdin(Stdio::null());
    c
}

/// Runs `program args`; its stdout, or [`Error::Tool`] with its stderr.
pub(crate) fn run<I, S>(ctx: &Context, program: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let exe = find(ctx, program).unwrap_or_else(|| PathBuf::from(program));
    let out = command(ctx, &exe)
        .args(&args)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Missing {
                tool: program.to_string(),
                hint: format!(
                    "install it, or see docs/deployment.md for what `{program}` is needed for"
                ),
            },
            _ => Error::Io {
                path: exe.clone(),
                source: e,
            },
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let line = std::iter::once(program.to_string())
            .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if stderr.is_empty() {
            stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        stderr.truncate(400);
        Err(Error::Tool {
            command: line,
            status: out.status.to_string(),
            stderr,
        })
    }
}

/// `keytool OP... -keystore K -storepass P -alias A EXTRA...`.
pub(crate) fn keytool(
    ctx: &Context,
    op: &[&str],
    keystore: &Path,
    storepass: &str,
    alias: &str,
    extra: &[&str],
) -> Result<String> {
    let ks = keystore.display().to_string();
    let mut args: Vec<&str> = op.to_vec();
    args.extend(["-keystore", &ks, "-storepass", storepass, "-alias", alias]);
    args.extend(extra);
    run(ctx, "keytool", args)
}

/// Does the Java keystore hold `alias`?
pub(crate) fn keystore_has(ctx: &Context, keystore: &Path, storepass: &str, alias: &str) -> bool {
    keytool(ctx, &["-list"], keystore, storepass, alias, &[]).is_ok()
}

/// Deletes `alias` from a Java keystore when it is there.
pub(crate) fn keystore_delete(
    ctx: &Context,
    keystore: &Path,
    storepass: &str,
    alias: &str,
) -> Result<()> {
    if keystore_has(ctx, keystore, storepass, alias) {
        keytool(
            ctx,
            &["-delete", "-noprompt"],
            keystore,
            storepass,
            alias,
            &[],
        )?;
    }
    Ok(())
}

/// Writes `data` to `path` through a temporary file and a rename (never a half-written file),
/// creating the parent directories.
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let tmp = path.with_extension("leakguard-tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp).map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads a text file; `None` when it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Removes a file; absent is fine.
pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// The begin and end lines of a marked block.
fn markers(marker: &str) -> (String, String) {
    (
        format!("# >>> {marker} (added by Leakguard; `leakguard` removes it) >>>"),
        format!("# <<< {marker} <<<"),
    )
}

/// `text` with the marked block set to `body` (added at the end when absent).
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn with_block(text: &str, marker: &str, body: &str) -> String {
    let stripped = without_block(text, marker);
    let (begin, end) = markers(marker);
    let mut out = stripped;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&begin);
    out.push('\n');
    out.push_str(body.trim_end());
    out.push('\n');
    out.push_str(&end);
    out.push('\n');
    out
}

/// `text` without the marked block (and nothing else changed).
pub(crate) fn without_block(text: &str, marker: &str) -> String {
    let (begin, end) = markers(marker);
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !inside && bare == begin {
            inside = true;
            continue;
        }
        if inside {
            if bare == end {
                inside = false;
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Does `text` have the marked block?
#[cfg(test)]
fn has_block(text: &str, marker: &str) -> bool {
    let (begin, _) = markers(marker);
    text.lines().any(|l| l == begin)
}

/// The value of `key` in `[section]` of an INI text (KDE's `kioslaverc`).
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
pub(crate) fn ini_get(text: &str, section: &str, key: &str) -> Option<String> {
    let mut here = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            here = t == format!("[{section}]");
            continue;
        }
        if here {
            if let Some((k, v)) = t.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// An INI text with `key` in `[section]` set to `value` (`None` removes it), everything else
/// kept as it was.
pub(crate) fn ini_set(text: &str, section: &str, key: &str, value: Option<&str>) -> String {
    let header = format!("[{section}]");
    let mut out = Vec::new();
    let mut here = false;
    let mut seen_section = false;
    let mut done = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if here && !done {
                if let Some(v) = value {
                    out.push(format!("{key}={v}"));
                }
                done = true;
            }
            here = t == header;
            seen_section |= here;
            out.push(line.to_string());
            continue;
        }
        if here {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    if !done {
                        if let Some(v) = value {
                            out.push(format!("{key}={v}"));
                        }
                        done = true;
                    }
                    continue;
                }
            }
        }
        out.push(line.to_string());
    }
    if !done {
        if let Some(v) = value {
            if !seen_section {
                if out.last().is_some_and(|l| !l.trim().is_empty()) {
                    out.push(String::new());
                }
                out.push(header);
            }
            out.push(format!("{key}={v}"));
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_block_is_added_replaced_and_removed_leaving_the_rest_byte_for_byte() {
        let original = "export A=1\n# mine\n";
        let one = with_block(original, "leakguard", "X=1");
        assert!(has_block(&one, "leakguard"));
        let two = with_block(&one, "leakguard", "X=2");
        assert_eq!(two.matches("X=").count(), 1, "{two}");
        assert!(two.contains("X=2"));
        assert_eq!(without_block(&two, "leakguard"), original);
        // No trailing newline in the original: the block still starts on its own line.
        let bare = with_block("A=1", "m", "B");
        assert!(bare.starts_with("A=1\n# >>> m"));
    }

    #[test]
    fn ini_keys_are_set_and_removed_in_their_section_only() {
        let text = "[General]\nProxyType=0\n\n[Proxy Settings]\nProxyType=0\nNoProxyFor=\n";
        let set = ini_set(text, "Proxy Settings", "ProxyType", Some("2"));
        assert_eq!(
            ini_get(&set, "Proxy Settings", "ProxyType").as_deref(),
            Some("2")
        );
        assert_eq!(ini_get(&set, "General", "ProxyType").as_deref(), Some("0"));
        let added = ini_set(
            &set,
            "Proxy Settings",
            "Proxy Config Script",
            Some("http://x/p.pac"),
        );
        assert_eq!(
            ini_get(&added, "Proxy Settings", "Proxy Config Script").as_deref(),
            Some("http://x/p.pac")
        );
        let removed = ini_set(&added, "Proxy Settings", "Proxy Config Script", None);
        assert_eq!(
            ini_get(&removed, "Proxy Settings", "Proxy Config Script"),
            None
        );
        let fresh = ini_set("", "Proxy Settings", "ProxyType", Some("2"));
        assert_eq!(fresh, "[Proxy Settings]\nProxyType=2\n");
    }
}
