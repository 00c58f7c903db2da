//! Accuracy of fingerprint matching on real code from the local cargo registry.
//!
//! - "company" code: `regex-automata` (Rust, ~68k lines);
//! - public reference corpus, excluded from the index: a fixed list of crates (`REFERENCE_CRATES`) but
//!   the company's own family (regex, regex-syntax, aho-corasick, memchr share copied code with
//!   it) and the held-out unrelated set;
//! - unrelated code: serde_json, clap_builder, toml_edit, syn, brotli, proptest, criterion
//!   (Rust) and zstd (C).
//!
//! Excerpts of 15-40 lines are pasted through the whole engine (code-region detection, then
//! lookup) in three forms: exact; reformatted (tokens re-flowed, comments stripped and added);
//! renamed (every identifier replaced consistently). Shared by `examples/fingerprint_eval.rs`
//! (prints the table) and `tests/fingerprint_accuracy.rs` (asserts the figures).
#![allow(dead_code)]

use leakguard_detect::fingerprint::{tokenize, FingerprintKey, IndexBuilder, Params};
use leakguard_detect::{Engine, EngineConfig, FingerprintSet};
use std::path::{Path, PathBuf};

pub const SALT: &[u8] = b"eval-salt-acme-2026";

pub fn registry_crate(prefix: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let mut found = Vec::new();
    for index in std::fs::read_dir(home.join("registry/src")).ok()?.flatten() {
        for c in std::fs::read_dir(index.path()).ok()?.flatten() {
            if c.file_name().to_string_lossy().starts_with(prefix) {
                found.push(c.path());
            }
        }
    }
    found.sort();
    found.pop()
}

pub fn sources(dir: &Path, exts: &[&str]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if p.is_dir() {
                if !["target", "tests", "benches", "examples", ".git"].contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|e| exts.contains(&e.to_string_lossy().as_ref()))
            {
                if let Ok(t) = std::fs::read_to_string(&p) {
                    // Generated files are skipped, as `leakguard fingerprint build` skips them.
                    let generated = leakguard_detect::fingerprint::looks_generated(t.as_bytes());
                    if t.len() < 400_000 && !generated {
                        out.push((p, t));
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug)]
pub struct Corpus {
    pub company: Vec<String>,
    pub reference: Vec<String>,
    pub unrelated: Vec<(String, String)>,
}

/// The public reference corpus is a fixed set of crates (the core's dependencies when the
/// figures were first measured), so the figures do not move when the workspace adds
/// dependencies or the registry holds other crates: more reference code excludes more
/// fingerprints and lowers recall.
const REFERENCE_CRATES: &[&str] = &[
    "adler2",
    "aho-corasick",
    "alloc-no-stdlib",
    "alloc-stdlib",
    "anes",
    "anstream",
    "anstyle",
    "anstyle-parse",
    "anstyle-query",
    "anstyle-wincon",
    "anyhow",
    "autocfg",
    "base64",
    "base64ct",
    "bit-set",
    "bit-vec",
    "bitflags",
    "block-buffer",
    "borsh",
    "borsh-derive",
    "brotli",
    "brotli-decompressor",
    "bstr",
    "bytes",
    "cast",
    "cc",
    "cfg-if",
    "cfg_aliases",
    "chacha20",
    "ciborium",
    "ciborium-io",
    "ciborium-ll",
    "clap",
    "clap_builder",
    "clap_derive",
    "clap_lex",
    "colorchoice",
    "const-oid",
    "core_detect",
    "cpufeatures",
    "crc32fast",
    "criterion",
    "criterion-plot",
    "crossbeam-deque",
    "crossbeam-epoch",
    "crossbeam-utils",
    "crunchy",
    "crypto-common",
    "curve25519-dalek",
    "curve25519-dalek-derive",
    "der",
    "digest",
    "dyn-clone",
    "ed25519",
    "ed25519-dalek",
    "either",
    "equivalent",
    "errno",
    "fastrand",
    "fiat-crypto",
    "find-msvc-tools",
    "flate2",
    "fnv",
    "generic-array",
    "getrandom",
    "globset",
    "half",
    "hashbrown",
    "heck",
    "hermit-abi",
    "ignore",
    "indexmap",
    "is-terminal",
    "is_terminal_polyfill",
    "itertools",
    "itoa",
    "jobserver",
    "libc",
    "linux-raw-sys",
    "log",
    "memchr",
    "miniz_oxide",
    "num-traits",
    "once_cell",
    "once_cell_polyfill",
    "oorandom",
    "pkcs8",
    "pkg-config",
    "proc-macro-crate",
    "proc-macro2",
    "proptest",
    "quick-error",
    "quote",
    "r-efi",
    "rand",
    "rand_core",
    "rand_xorshift",
    "ref-cast",
    "ref-cast-impl",
    "regex",
    "regex-automata",
    "regex-syntax",
    "rustc_version",
    "rustix",
    "rusty-fork",
    "same-file",
    "schemars",
    "schemars_derive",
    "semver",
    "serde",
    "serde_core",
    "serde_derive",
    "serde_derive_internals",
    "serde_json",
    "serde_path_to_error",
    "serde_spanned",
    "sha2",
    "shlex",
    "signature",
    "simd-adler32",
    "siphasher",
    "spki",
    "strsim",
    "subtle",
    "syn",
    "tempfile",
    "thiserror",
    "thiserror-impl",
    "tinytemplate",
    "tinyvec",
    "toml",
    "toml_datetime",
    "toml_edit",
    "toml_parser",
    "toml_write",
    "typenum",
    "unarray",
    "unicode-ident",
    "unicode-normalization",
    "utf8parse",
    "version_check",
    "wait-timeout",
    "walkdir",
    "wasi",
    "winapi-util",
    "windows-link",
    "windows-sys",
    "winnow",
    "zerocopy",
    "zerocopy-derive",
    "zeroize",
    "zlib-rs",
    "zmij",
    "zstd",
    "zstd-safe",
    "zstd-sys",
];

pub fn corpus() -> Option<Corpus> {
    let company = sources(&registry_crate("regex-automata-")?.join("src"), &["rs"])
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let mut reference = Vec::new();
    let held_out = [
        "regex-",
        "aho-corasick-",
        "memchr-",
        "serde_json-",
        "clap_builder-",
        "toml_edit-",
        "syn-",
        "brotli-",
        "proptest-",
        "criterion-",
        "zstd-sys-",
        "leakguard",
    ];
    let home = registry_crate("regex-automata-")?.parent()?.to_path_buf();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&home)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // `name-1.2.3` -> `name`
        let crate_name = name
            .rsplit_once('-')
            .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
            .map_or(name.as_str(), |(n, _)| n);
        if REFERENCE_CRATES.contains(&crate_name) && !held_out.iter().any(|h| name.starts_with(h)) {
            reference.extend(sources(&d, &["rs"]).into_iter().map(|(_, t)| t));
        }
    }
    let mut unrelated = Vec::new();
    for c in [
        "serde_json-",
        "clap_builder-",
        "toml_edit-0.22",
        "syn-2",
        "brotli-7",
        "proptest-",
        "criterion-0.5",
    ] {
        if let Some(dir) = registry_crate(c) {
            unrelated.extend(
                sources(&dir.join("src"), &["rs"])
                    .into_iter()
                    .map(|(_, t)| (c.trim_end_matches('-').to_string(), t)),
            );
        }
    }
    if let Some(z) = registry_crate("zstd-sys-") {
        unrelated.extend(
            sources(&z.join("zstd/lib"), &["c"])
                .into_iter()
                .map(|(_, t)| ("zstd (C)".to_string(), t)),
        );
    }
    Some(Corpus {
        company,
        reference,
        unrelated,
    })
}

pub fn engine(c: &Corpus) -> (Engine, usize, usize) {
    engine_with(c, 8, 0.2)
}

pub fn engine_with(c: &Corpus, min_matches: usize, min_fraction: f32) -> (Engine, usize, usize) {
    let mut b = IndexBuilder::new("acme-regex", SALT, Params::default()).unwrap();
    let mut lines = 0;
    for f in &c.company {
        b.add(f.as_bytes());
        lines += f.lines().count();
    }
    for r in &c.reference {
        b.exclude_reference(r.as_bytes());
    }
    let index = b.finish(0);
    let n = index.len();
    let mut set = FingerprintSet::new(index, FingerprintKey::new(SALT).unwrap());
    set.min_matches = min_matches;
    set.min_fraction = min_fraction;
    (
        Engine::with_config(EngineConfig {
            fingerprints: vec![set],
            ..EngineConfig::default()
        })
        .unwrap(),
        lines,
        n,
    )
}

#[derive(Debug)]
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Excerpts of 15-40 lines, and how many of their lines hold code: lines on which a token of
/// the whole file starts (so lines inside a block comment or a docstring are not code, which a
/// line-by-line look would get wrong).
pub fn excerpts(files: &[String], count: usize, seed: u64) -> Vec<(String, usize)> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut guard = 0;
    let code_lines_of: Vec<Vec<bool>> = files
        .iter()
        .map(|f| {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', f.as_bytes()).map(|p| p + 1))
                .collect();
            let mut code = vec![false; starts.len()];
            for t in tokenize(f.as_bytes()) {
                let line = starts.partition_point(|&s| s <= t.start as usize) - 1;
                code[line] = true;
            }
            code
        })
        .collect();
    while out.len() < count && guard < count * 50 {
        guard += 1;
        let fi = rng.below(files.len());
        let f = &files[fi];
        let lines: Vec<&str> = f.lines().collect();
        if lines.len() < 40 {
            continue;
        }
        let len = 15 + rng.below(26);
        let start = rng.below(lines.len() - len);
        let text = lines[start..start + len].join("\n");
        let code_lines = code_lines_of[fi][start..start + len]
            .iter()
            .filter(|&&c| c)
            .count();
        out.push((text, code_lines));
    }
    out
}

/// What a formatter or a person does: comments stripped, every line re-indented (tabs), one
/// space around every token, blank lines dropped, a comment line added every 10 lines.
pub fn reformat(code: &str) -> String {
    let toks = tokenize(code.as_bytes());
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', code.as_bytes()).map(|p| p + 1))
        .collect();
    let mut lines: Vec<Vec<&str>> = vec![Vec::new(); starts.len()];
    for t in &toks {
        let line = starts.partition_point(|&s| s <= t.start as usize) - 1;
        lines[line].push(&code[t.start as usize..t.end as usize]);
    }
    let mut out = String::new();
    for (i, l) in lines.iter().filter(|l| !l.is_empty()).enumerate() {
        out.push_str(&"\t".repeat(i % 3));
        out.push_str(&l.join(" "));
        out.push('\n');
        if i % 10 == 9 {
            out.push_str("// reviewed\n");
        }
    }
    out
}

/// An extreme layout change: tokens re-flowed eight to a line, ignoring the original lines.
pub fn reflow(code: &str) -> String {
    let toks = tokenize(code.as_bytes());
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        out.push_str(&code[t.start as usize..t.end as usize]);
        out.push(if i % 8 == 7 { '\n' } else { ' ' });
    }
    out
}

/// Every identifier replaced consistently (`state` -> `id17`), layout kept.
pub fn rename(code: &str) -> String {
    let toks = tokenize(code.as_bytes());
    let mut names: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = String::new();
    let mut pos = 0;
    for t in toks {
        let (s, e) = (t.start as usize, t.end as usize);
        out.push_str(&code[pos..s]);
        let word = &code[s..e];
        let is_ident = word
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && tokenize(format!("zz {word}").as_bytes())
                .last()
                .map(|x| x.code)
                == tokenize(b"zz qq").last().map(|x| x.code);
        if is_ident {
            let n = names.len();
            let id = *names.entry(word.to_string()).or_insert(n);
            out.push_str(&format!("id{id}"));
        } else {
            out.push_str(word);
        }
        pos = e;
    }
    out.push_str(&code[pos..]);
    out
}

pub fn matched(engine: &Engine, text: &str) -> bool {
    engine
        .scan(text)
        .iter()
        .any(|f| f.rule.starts_with("fingerprint:"))
}

#[derive(Debug)]
pub struct Report {
    pub lines: usize,
    pub fingerprints: usize,
    pub rows: Vec<(String, usize, usize)>,
}

pub fn run(samples: usize) -> Option<Report> {
    let c = corpus()?;
    let (engine, lines, fingerprints) = engine(&c);
    let all = excerpts(&c.company, samples, 0x5eed);
    let dense: Vec<&(String, usize)> = all.iter().filter(|(_, code)| *code >= 15).collect();
    let mut rows = Vec::new();
    for (name, f) in [
        ("exact", (|s: &str| s.to_string()) as fn(&str) -> String),
        ("reformatted", reformat),
        ("renamed", rename),
        ("renamed + reformatted", |s: &str| reformat(&rename(s))),
        ("re-flowed 8 tokens a line", reflow),
    ] {
        let hits_all = all.iter().filter(|(t, _)| matched(&engine, &f(t))).count();
        rows.push((
            format!("recall, {name}, all 15-40 line excerpts"),
            hits_all,
            all.len(),
        ));
        let hits_dense = dense
            .iter()
            .filter(|(t, _)| matched(&engine, &f(t)))
            .count();
        rows.push((
            format!("recall, {name}, excerpts with >= 15 code lines"),
            hits_dense,
            dense.len(),
        ));
    }
    let unrelated_files: Vec<String> = c.unrelated.iter().map(|(_, t)| t.clone()).collect();
    let others = excerpts(&unrelated_files, samples * 2, 0xbad5eed);
    let fp = others.iter().filter(|(t, _)| matched(&engine, t)).count();
    rows.push((
        "false matches, unrelated code (Rust + C) excerpts".to_string(),
        fp,
        others.len(),
    ));
    // Unrelated code that shares a licence header and boilerplate imports with the company's.
    let header = "// Copyright the authors. Licensed under the Apache License, Version 2.0 or the MIT license.\nuse core::fmt::Debug;\nuse alloc::{boxed::Box, string::String, sync::Arc, vec, vec::Vec};\nuse crate::util::primitives::{PatternID, StateID};\n";
    let fp_boiler = others
        .iter()
        .filter(|(t, _)| matched(&engine, &format!("{header}{t}")))
        .count();
    rows.push((
        "false matches, unrelated excerpts with shared header + imports".to_string(),
        fp_boiler,
        others.len(),
    ));
    Some(Report {
        lines,
        fingerprints,
        rows,
    })
}
