//! Benchmark inputs, shared by the bench targets.
//!
//! - prose: business English without secrets (`prose.txt`), paragraphs rotated.
//! - code: real third-party code from the local cargo registry (Rust from `regex-syntax`, C
//!   from `zstd-sys`, both dependencies of this workspace, so present wherever it builds);
//!   falls back to this crate's own sources.
//! - mixed: what a prompt looks like: prose paragraphs, fenced code blocks of 30 lines, and a
//!   secret or an email address every few kilobytes.

// Each bench target uses part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const PROSE: &str = include_str!("prose.txt");

fn registry_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(home) = home else { return Vec::new() };
    let Ok(indexes) = std::fs::read_dir(home.join("registry/src")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for index in indexes.flatten() {
        if let Ok(crates) = std::fs::read_dir(index.path()) {
            out.extend(crates.flatten().map(|c| c.path()));
        }
    }
    out.sort();
    out
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

/// Real code, with a note of where it came from.
pub fn code_sources() -> (Vec<String>, &'static str) {
    let dirs = registry_dirs();
    let mut files = Vec::new();
    if let Some(d) = dirs.iter().find(|d| {
        d.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("regex-syntax-0.8"))
    }) {
        files_under(&d.join("src"), "rs", &mut files);
    }
    if let Some(d) = dirs.iter().find(|d| {
        d.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("zstd-sys-"))
    }) {
        files_under(&d.join("zstd/lib/compress"), "c", &mut files);
    }
    // Leave out the huge generated Unicode tables: they are data, not code.
    files.retain(|f| !f.to_string_lossy().contains("unicode_tables"));
    let texts: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    if texts.iter().map(String::len).sum::<usize>() > 256 << 10 {
        return (
            texts,
            "regex-syntax (Rust) and zstd (C) from the local cargo registry",
        );
    }
    let own = vec![
        include_str!("../src/engine.rs").to_string(),
        [
            include_str!("../src/code/mod.rs"),
            include_str!("../src/code/classify.rs"),
            include_str!("../src/code/lines.rs"),
            include_str!("../src/code/language.rs"),
        ]
        .concat(),
        include_str!("../src/normalize.rs").to_string(),
    ];
    (own, "this crate's own sources (cargo registry not found)")
}

/// Repeats `texts` in order until `size` bytes, cut at a line boundary.
pub fn repeat_to(texts: &[String], size: usize) -> String {
    let mut out = String::with_capacity(size + 65536);
    'outer: loop {
        for t in texts {
            for line in t.lines() {
                if out.len() + line.len() + 1 > size {
                    break 'outer;
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        if texts.is_empty() {
            break;
        }
    }
    out
}

pub fn prose(size: usize) -> String {
    let paragraphs: Vec<String> = PROSE
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("{}\n\n", p.trim()))
        .collect();
    let mut rotated = Vec::new();
    for i in 0..paragraphs.len() {
        rotated.push(paragraphs[(i * 4) % paragraphs.len()].clone());
    }
    repeat_to(&[rotated.concat()], size)
}

pub fn code(size: usize) -> String {
    repeat_to(&code_sources().0, size)
}

pub fn mixed(size: usize) -> String {
    let code = code_sources().0.concat();
    let code_lines: Vec<&str> = code.lines().collect();
    let paragraphs: Vec<&str> = PROSE
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .collect();
    let secrets = [
        "Here is my config, why does it fail?\naws_access_key_id = AKIAQYLPMN5HJNGY4F7A",
        "Please reply to jane.doe@acme-semi.com with the summary.",
        "The token is ghp_Zr3Fq7wKp2Lx9Ms4Tn6Bv8Cy1Dh5Jk2Wb9Lj and it stopped working.",
    ];
    let mut out = String::with_capacity(size + 8192);
    let mut i = 0usize;
    while out.len() < size {
        out.push_str(paragraphs[i % paragraphs.len()].trim());
        out.push_str("\n\n");
        if i % 2 == 1 {
            let start = (i * 997) % code_lines.len().saturating_sub(30).max(1);
            out.push_str("```\n");
            for l in code_lines.iter().skip(start).take(30) {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("```\n\n");
        }
        if i % 3 == 2 {
            out.push_str(secrets[(i / 3) % secrets.len()]);
            out.push_str("\n\n");
        }
        i += 1;
    }
    let mut cut = size.min(out.len());
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}
