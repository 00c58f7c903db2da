//! `leakguard fingerprint build|inspect`: index the organisation's repositories into a compact,
//! one-way file of keyed fingerprints that laptops can check pasted code against.

use anyhow::{Context, Result};
use clap::Subcommand;
use leakguard_detect::fingerprint::{FingerprintIndex, IndexBuilder, Params};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum FingerprintCommand {
    /// Index source trees (respecting .gitignore; vendored, generated and binary files skipped).
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
        /// Public code whose fingerprints must never match (boilerplate, vendored libraries).
        #[arg(long = "reference")]
        references: Vec<PathBuf>,
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
            let mut skipped = 0usize;
            let mut bytes = 0u64;
            for f in source_files(&dirs) {
                match source_text(&f) {
                    Some(text) => {
                        bytes += text.len() as u64;
                        builder.add(&text);
                    }
                    None => skipped += 1,
                }
            }
            let mut reference_files = 0;
            for f in source_files(&references) {
                if let Some(text) = source_text(&f) {
                    builder.exclude_reference(&text);
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
                "indexed {} files ({} lines, {} MB; {} other files skipped) in {:.2} s = {:.0} lines/s; {} reference files excluded",
                index.files,
                index.lines,
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
                "source:       {} files, {} lines, {} tokens",
                index.files, index.lines, index.tokens
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
            let header = data.len() - 8 * index.len();
            println!("size:         {} bytes ({} fingerprints x 8 bytes + {header} bytes of header and checksum)", data.len(), index.len());
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
