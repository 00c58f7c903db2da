//! Public prose for the evaluations: the READMEs of the crates this workspace depends on
//! (Cargo.lock), read from Cargo's registry cache, and their paragraphs of prose.

use std::path::{Path, PathBuf};

/// (crate name, README text) for every crate of Cargo.lock found in the registry cache.
pub fn readmes(root: &Path) -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cargo"));
    let registries: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .expect("Cargo's registry cache (run a build first)")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    let mut out = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = \"") {
            name = Some(n.trim_end_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = \""), name.take()) {
            let dir = format!("{n}-{}", v.trim_end_matches('"'));
            for reg in &registries {
                if let Some(text) = ["README.md", "readme.md", "README.markdown", "README"]
                    .iter()
                    .find_map(|f| std::fs::read_to_string(reg.join(&dir).join(f)).ok())
                {
                    out.push((n.clone(), text));
                    break;
                }
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Paragraphs of prose (not code blocks, tables, headings or badges) of 40 words or more.
pub fn paragraphs(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    let mut current = String::new();
    let mut push = |p: &mut String| {
        if p.split_whitespace().count() >= 40 {
            out.push(p.trim().to_string());
        }
        p.clear();
    };
    for line in md.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            fence = !fence;
            push(&mut current);
            continue;
        }
        if fence
            || t.starts_with('|')
            || t.starts_with('#')
            || t.starts_with("[!")
            || t.starts_with("<")
        {
            push(&mut current);
            continue;
        }
        if t.is_empty() {
            push(&mut current);
        } else {
            current.push_str(t);
            current.push(' ');
        }
    }
    push(&mut current);
    out
}
