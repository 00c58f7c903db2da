//! `leakguard fingerprint build|inspect|terms`: index the organisation's repositories and
//! documents into a compact, one-way file of keyed fingerprints that laptops can check pasted
//! code and text against, and learn the organisation's own vocabulary (codenames, internal
//! hosts) as a salted-hash dictionary for review.

use anyhow::{Context, Result};
use clap::Subcommand;
use leakguard_detect::fingerprint::{FingerprintIndex, IndexBuilder, Params};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum FingerprintCommand {
    /// Index source trees and documents (respecting .gitignore; vendored, generated and binary
    /// files skipped). Code is fingerprinted as code and its comments as prose; documents
    /// (Markdown, text, HTML, DOCX, PPTX, XLSX, PDF, ODT/ODP, RTF, e-mail) as prose.
    Build {
        /// Label of the index; findings are reported as `fingerprint:<name>`.
        #[arg(long)]
        name: String,
        /// File holding the organisation's salt (first line). Or set LEAKGUARD_FINGERPRINT_SALT.
        #[arg(long)]
        salt_file: Option<PathBuf>,
        /// Where to write the index.
        #[arg(long)]
        out: PathBuf,
        /// Public code and documents whose fingerprints must never match (boilerplate, vendored
        /// libraries, published manuals); their words are also what the learned vocabulary is
        /// compared with (a term found there is not the organisation's own).
        #[arg(long = "reference")]
        references: Vec<PathBuf>,
        /// Least internal files a word must appear in to be learned as a term.
        #[arg(long, default_value_t = 3)]
        term_min_files: u32,
        /// Tokens per k-gram.
        #[arg(long, default_value_t = Params::default().k)]
        k: u16,
        /// Winnowing window.
        #[arg(long, default_value_t = Params::default().w)]
        w: u16,
        /// Source trees to index.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Print an index's label, parameters and counts.
    Inspect { file: PathBuf },
    /// List the vocabulary learned beside an index (INDEX.terms.json), by salted hash, and in
    /// clear where the review file written by `build` (INDEX.terms.tsv) is on this machine.
    Terms { file: PathBuf },
}

/// Document formats indexed as prose (besides the code extensions).
const DOC_EXTENSIONS: &[&str] = &[
    "md", "markdown", "txt", "text", "rst", "adoc", "org", "html", "htm", "docx", "pptx", "xlsx",
    "pdf", "odt", "odp", "ods", "rtf", "eml",
];

/// The text of a document file for indexing; `None` for other files.
fn document_text(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    if !DOC_EXTENSIONS.contains(&ext.as_str()) || std::fs::metadata(path).ok()?.len() > 64 << 20 {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let name = path.file_name().and_then(|n| n.to_str());
    if let Ok(Some(doc)) =
        leakguard_documents::extract(&bytes, name, &leakguard_documents::Limits::default())
    {
        let mut text = String::new();
        for p in doc.pieces {
            text.push_str(&p.text);
            text.push('\n');
        }
        return Some(text);
    }
    let text = String::from_utf8(bytes).ok()?;
    Some(if ext == "html" || ext == "htm" {
        html_text(&text)
    } else {
        text
    })
}

/// The visible text of an HTML page (a wiki export): scripts and styles dropped, tags turned
/// into spaces, the common entities decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        if lower[i..].starts_with("<script") || lower[i..].starts_with("<style") {
            let close = if lower[i..].starts_with("<script") {
                "</script>"
            } else {
                "</style>"
            };
            i = lower[i..]
                .find(close)
                .map_or(html.len(), |j| i + j + close.len());
            continue;
        }
        if html.as_bytes()[i] == b'<' {
            i = html[i..].find('>').map_or(html.len(), |j| i + j + 1);
            out.push(' ');
            continue;
        }
        let next = html[i..].find('<').map_or(html.len(), |j| i + j);
        out.push_str(&html[i..next]);
        i = next;
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Learns the organisation's own words: frequent in its files, absent from the reference.
#[derive(Default)]
struct Vocabulary {
    /// lowercased term -> (files it is in, times written capitalised or with digits, times seen).
    seen: std::collections::HashMap<String, (u32, u32, u32)>,
    reference: std::collections::HashSet<String>,
}

impl Vocabulary {
    /// The candidate words of one internal file's prose, and its host names.
    fn add(&mut self, text: &str) {
        let mut in_file = std::collections::HashSet::new();
        for (word, marked) in candidates(text) {
            let e = self.seen.entry(word.clone()).or_insert((0, 0, 0));
            if in_file.insert(word) {
                e.0 += 1;
            }
            e.1 += u32::from(marked);
            e.2 += 1;
        }
    }

    fn add_reference(&mut self, text: &str) {
        for (word, _) in candidates(text) {
            self.reference.insert(word);
        }
        for w in text.split(|c: char| !c.is_alphanumeric()) {
            if w.len() >= 3 {
                self.reference.insert(w.to_lowercase());
            }
        }
    }

    /// Terms in at least `min_files` files, never in the reference, written as a name (mostly
    /// capitalised, or with digits) or a host name: most frequent first, at most 500.
    fn terms(&self, min_files: u32) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .seen
            .iter()
            .filter(|(w, (files, marked, seen))| {
                *files >= min_files
                    && !self.reference.contains(*w)
                    && (w.contains('.') || *marked * 2 >= *seen)
            })
            .map(|(w, (files, _, _))| (w.clone(), *files))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(500);
        out
    }
}

/// Words of four or more letters (lowercased, with whether this occurrence was capitalised or
/// held digits) and host names (`build.fab.internal`) of a text.
fn candidates(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_')) {
        let raw = raw.trim_matches(|c: char| c == '.' || c == '-' || c == '_');
        if raw.len() < 4 || raw.chars().all(|c| c.is_numeric() || c == '.') {
            continue;
        }
        let dots = raw.matches('.').count();
        if dots >= 2
            && raw.split('.').all(|l| !l.is_empty())
            && raw.chars().any(char::is_alphabetic)
        {
            out.push((raw.to_ascii_lowercase(), true));
            continue;
        }
        for w in raw.split(|c: char| !c.is_alphanumeric()) {
            if w.chars().count() < 4 || !w.chars().any(char::is_alphabetic) {
                continue;
            }
            let marked = w.chars().next().is_some_and(char::is_uppercase)
                || w.chars().any(|c| c.is_numeric());
            out.push((w.to_lowercase(), marked));
        }
    }
    out
}

/// The salt of the learned vocabulary's hashed dictionary: derived from the fingerprint salt,
/// so rebuilding gives the same hashes.
fn terms_salt(salt: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(b"leakguard-terms\0")
        .chain_update(salt)
        .finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A dictionary name from an index label (lowercase letters, digits and dashes).
fn dictionary_name(label: &str) -> String {
    let mut n: String = label
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    n.push_str("-terms");
    n
}

/// Writes a file readable by its owner only (the clear-text vocabulary is for the admin).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
}

/// `INDEX.terms.json` and `INDEX.terms.tsv` beside an index file.
fn terms_paths(index: &Path) -> (PathBuf, PathBuf) {
    let base = index.as_os_str().to_os_string();
    let mut json = base.clone();
    json.push(".terms.json");
    let mut tsv = base;
    tsv.push(".terms.tsv");
    (PathBuf::from(json), PathBuf::from(tsv))
}

/// File extensions of the languages the code detector knows (and a few more).
const EXTENSIONS: &[&str] = &[
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "cs", "java", "kt", "kts", "go", "rs", "py",
    "js", "jsx", "mjs", "cjs", "ts", "tsx", "swift", "sh", "bash", "zsh", "sql", "v", "sv", "svh",
    "vh", "vhd", "vhdl", "m", "mm", "scala", "rb", "php", "lua", "pl",
];
/// Directories of third-party or generated code.
const SKIP_DIRS: &[&str] = &[
    "vendor",
    "third_party",
    "third-party",
    "thirdparty",
    "node_modules",
    "target",
    "build",
    "dist",
    "external",
    "deps",
    ".git",
    "generated",
    "__pycache__",
];
const MAX_FILE: u64 = 4 << 20;

/// Whether a file is worth indexing, and its text.
fn source_text(path: &Path) -> Option<Vec<u8>> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    if !EXTENSIONS.contains(&ext.as_str())
        || name.ends_with(".min.js")
        || name.ends_with(".pb.go")
        || name.ends_with("_pb2.py")
        || name.ends_with(".generated.cs")
    {
        return None;
    }
    if path
        .components()
        .any(|c| SKIP_DIRS.contains(&c.as_os_str().to_string_lossy().as_ref()))
    {
        return None;
    }
    if std::fs::metadata(path).ok()?.len() > MAX_FILE {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return None;
    }
    if leakguard_detect::fingerprint::looks_generated(&bytes) {
        return None;
    }
    Some(bytes)
}

/// Every source file under `dirs`, respecting .gitignore.
pub fn source_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        let walker = ignore::WalkBuilder::new(dir)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .require_git(false)
            .build();
        for entry in walker.flatten() {
            if entry.file_type().is_some_and(|t| t.is_file()) {
                files.push(entry.into_path());
            }
        }
    }
    files.sort();
    files
}

pub fn run(cmd: FingerprintCommand) -> Result<()> {
    match cmd {
        FingerprintCommand::Build {
            name,
            salt_file,
            out,
            references,
            term_min_files,
            k,
            w,
            dirs,
        } => {
            let salt = leakguard_agent::policy::files::read_salt(salt_file.as_deref())?;
            for d in dirs.iter().chain(&references) {
                anyhow::ensure!(d.is_dir(), "{} is not a directory", d.display());
            }
            let started = Instant::now();
            let mut builder = IndexBuilder::new(&name, &salt, Params { k, w })?;
            let mut vocabulary = Vocabulary::default();
            let mut skipped = 0usize;
            let mut bytes = 0u64;
            for f in source_files(&dirs) {
                if let Some(text) = source_text(&f) {
                    bytes += text.len() as u64;
                    builder.add(&text);
                    vocabulary.add(&leakguard_detect::fingerprint::prose_of_code(&text));
                } else if let Some(text) = document_text(&f) {
                    bytes += text.len() as u64;
                    builder.add_document(&text);
                    vocabulary.add(&text);
                } else {
                    skipped += 1;
                }
            }
            let mut reference_files = 0;
            for f in source_files(&references) {
                if let Some(text) = source_text(&f) {
                    builder.exclude_reference(&text);
                    vocabulary.add_reference(&String::from_utf8_lossy(&text));
                    reference_files += 1;
                } else if let Some(text) = document_text(&f) {
                    builder.exclude_reference_document(&text);
                    vocabulary.add_reference(&text);
                    reference_files += 1;
                }
            }
            let created = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let index = builder.finish(created);
            let secs = started.elapsed().as_secs_f64();
            let data = index.to_bytes();
            let tmp = out.with_extension("tmp");
            std::fs::write(&tmp, &data)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "indexed {} code files and {} documents ({} lines of code, {} words of prose, {} MB; {} other files skipped) in {:.2} s = {:.0} lines/s; {} reference files excluded",
                index.files,
                index.documents,
                index.lines,
                index.words,
                bytes / 1_000_000,
                skipped,
                secs,
                index.lines as f64 / secs.max(1e-9),
                reference_files
            );
            eprintln!(
                "{}: {} fingerprints, {} bytes ({:.1} bytes per 1k lines); dropped {} boilerplate and {} reference fingerprints",
                out.display(),
                index.len(),
                data.len(),
                data.len() as f64 * 1000.0 / index.lines.max(1) as f64,
                index.dropped_common,
                index.dropped_reference
            );
            // The learned vocabulary: a hashed dictionary for the policy (reviewed first), and
            // the clear text for the admin only.
            let (json_path, tsv_path) = terms_paths(&out);
            if references.is_empty() {
                eprintln!("no --reference given: no vocabulary learned (it needs public text to tell the organisation's own words from common ones)");
            } else {
                let terms = vocabulary.terms(term_min_files);
                let tsalt = terms_salt(&salt);
                let hashes: Vec<String> = terms
                    .iter()
                    .map(|(t, _)| leakguard_detect::hash_term(&tsalt, t))
                    .collect();
                let max_words = terms
                    .iter()
                    .map(|(t, _)| leakguard_detect::normalise_term(t).split(' ').count())
                    .max()
                    .unwrap_or(1)
                    .clamp(1, 6);
                let entry = serde_json::json!({
                    "name": dictionary_name(&name),
                    "category": "classified",
                    "severity": "medium",
                    "hashed": {"salt": tsalt, "hashes": hashes, "max_words": max_words},
                });
                std::fs::write(&json_path, serde_json::to_string_pretty(&entry)? + "\n")
                    .with_context(|| format!("cannot write {}", json_path.display()))?;
                let mut review = String::from("hash\tfiles\tterm\n");
                for ((t, files), h) in terms.iter().zip(&hashes) {
                    review.push_str(&format!("{h}\t{files}\t{t}\n"));
                }
                write_private(&tsv_path, review.as_bytes())?;
                eprintln!(
                    "learned {} terms: {} (a dictionary for the policy's rules.dictionaries, after review) and {} (clear text, for the admin only; never deploy it)",
                    terms.len(),
                    json_path.display(),
                    tsv_path.display()
                );
            }
            // For the policy entry: its signature then covers this exact index.
            println!("index_sha256: {}", sha256_hex(&data));
            Ok(())
        }
        FingerprintCommand::Inspect { file } => {
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let index =
                FingerprintIndex::from_bytes(&data).with_context(|| file.display().to_string())?;
            println!("label:        {}", index.label);
            println!("created:      {} (unix seconds)", index.created);
            println!(
                "parameters:   k = {} tokens, w = {} (any shared run of {} tokens is found)",
                index.params.k,
                index.params.w,
                index.params.k + index.params.w - 1
            );
            println!(
                "source:       {} files, {} lines, {} tokens; {} documents, {} words",
                index.files, index.lines, index.tokens, index.documents, index.words
            );
            println!(
                "prose:        {} fingerprints (k = {} words, w = {})",
                index.prose_len(),
                leakguard_detect::fingerprint::PROSE_PARAMS.k,
                leakguard_detect::fingerprint::PROSE_PARAMS.w
            );
            println!(
                "fingerprints: {} ({} dropped as boilerplate, {} as reference code)",
                index.len(),
                index.dropped_common,
                index.dropped_reference
            );
            println!(
                "sha256:       {} (the policy's `index_sha256`)",
                sha256_hex(&data)
            );
            let header = data.len() - 8 * (index.len() + index.prose_len());
            println!("size:         {} bytes ({} fingerprints x 8 bytes + {header} bytes of header and checksum)", data.len(), index.len() + index.prose_len());
            Ok(())
        }
        FingerprintCommand::Terms { file } => {
            let (json_path, tsv_path) = terms_paths(&file);
            let entry: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).with_context(|| {
                    format!(
                        "cannot read {} (build the index with --reference to learn terms)",
                        json_path.display()
                    )
                })?)
                .with_context(|| json_path.display().to_string())?;
            let clear: std::collections::HashMap<String, (String, String)> =
                std::fs::read_to_string(&tsv_path)
                    .map(|t| {
                        t.lines()
                            .skip(1)
                            .filter_map(|l| {
                                let mut f = l.splitn(3, '\t');
                                Some((f.next()?.into(), (f.next()?.into(), f.next()?.into())))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            let hashes = entry["hashed"]["hashes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            println!(
                "dictionary `{}`: {} terms{}",
                entry["name"].as_str().unwrap_or("?"),
                hashes.len(),
                if clear.is_empty() {
                    " (clear text not on this machine)"
                } else {
                    ""
                }
            );
            for h in hashes.iter().filter_map(|h| h.as_str()) {
                match clear.get(h) {
                    Some((files, term)) => println!("{h}  {files:>5} files  {term}"),
                    None => println!("{h}"),
                }
            }
            Ok(())
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
