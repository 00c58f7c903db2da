//! `leakguard scan`: files or stdin, streamed in bounded memory.
//!
//! Input is read in chunks of [`CHUNK`] bytes. Each chunk is scanned whole; findings that start
//! before the cut (a line boundary about [`OVERLAP`] bytes before the chunk's end) are reported
//! and the rest of the chunk is carried into the next one, so a value that straddles a chunk
//! border is seen whole as long as it is shorter than the overlap. Memory stays at about
//! `CHUNK + OVERLAP` whatever the input size.

use crate::batch;
use crate::output::{FindingSink, HumanSink, JsonSink};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use leakguard_detect::{Engine, RedactStyle};
use leakguard_policy::{Effective, RequestMeta};
use leakguard_types::Finding;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub const CHUNK: usize = 8 << 20;
pub const OVERLAP: usize = 64 << 10;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files to scan; `-` or nothing reads stdin.
    pub paths: Vec<PathBuf>,
    /// Policy file (default: the shipped balanced policy, policies/default.json).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Decide as if the text were sent to this host (its destination group's actions apply).
    #[arg(long)]
    pub destination: Option<String>,
    /// Print one JSON object: {"findings": [...], "verdict": "..."}.
    #[arg(long)]
    pub json: bool,
    /// Print the input with every finding replaced instead of the findings.
    #[arg(long)]
    pub redact: bool,
    /// How `--redact` replaces a finding.
    #[arg(long, value_enum, default_value_t = Style::Placeholder)]
    pub redact_style: Style,
    /// Read JSON lines {"id","text"} or {"id","data_b64","content_encoding"} from this file
    /// (`-` for stdin) and write one {"id","findings","verdict"} line per input. Needs --json.
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// With --redact: also replace source-code regions (by default only secrets, personal data
    /// and classified terms are replaced; whether code may leave is the policy's decision).
    #[arg(long)]
    pub redact_code: bool,
    /// Also scan files that look binary (they are skipped with a note by default).
    #[arg(long)]
    pub binary: bool,
    /// Print bytes scanned, time and peak memory to stderr at the end.
    #[arg(long)]
    pub stats: bool,
}

/// Peak resident memory of this process in KiB (Linux `VmHWM`), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print_stats(bytes: u64, started: std::time::Instant) {
    let secs = started.elapsed().as_secs_f64();
    let rss = peak_rss_kib().map_or_else(|| "unknown".to_string(), |k| format!("{} MiB", k / 1024));
    eprintln!(
        "scanned {bytes} bytes in {secs:.3} s ({:.1} MB/s); peak memory {rss}",
        bytes as f64 / secs.max(1e-9) / 1e6
    );
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Style {
    Placeholder,
    Mask,
    Hash,
}

impl From<Style> for RedactStyle {
    fn from(s: Style) -> Self {
        match s {
            Style::Placeholder => RedactStyle::Placeholder,
            Style::Mask => RedactStyle::Mask,
            Style::Hash => RedactStyle::Hash,
        }
    }
}

pub fn run(args: ScanArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    // The policy in force on this laptop: the managed one (if installed) tightened by the
    // given local file, exactly as the guard enforces it.
    let today = crate::today();
    let loaded = leakguard_agent::policy::load(
        &leakguard_agent::policy::Sources::discover(args.policy.clone()),
        today,
    )?;
    let engine = &loaded.engine;
    let decider = Decider {
        policy: &loaded.effective,
        destination: args.destination.clone(),
        meta: RequestMeta {
            today,
            ..RequestMeta::default()
        },
    };
    if let Some(source) = &args.batch {
        anyhow::ensure!(args.json, "--batch writes JSON lines: add --json");
        anyhow::ensure!(
            args.paths.is_empty(),
            "--batch reads its inputs from the batch file; give no paths"
        );
        return batch::run(engine, &decider, source);
    }
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.paths.clone()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.redact {
        for path in &paths {
            let mut reader = open(path)?;
            redact_stream(
                engine,
                &mut *reader,
                args.redact_style.into(),
                args.redact_code,
                &mut out,
            )
            .with_context(|| format!("cannot scan {}", path.display()))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut sink: Box<dyn FindingSink> = if args.json {
        Box::new(JsonSink::new(paths.len() > 1))
    } else {
        Box::new(HumanSink::new())
    };
    let mut total = 0usize;
    let mut action = leakguard_types::Action::Allow;
    let mut io_errors = 0;
    let mut scanned = 0u64;
    for path in &paths {
        let label = if path.as_os_str() == "-" {
            "-".to_string()
        } else {
            path.display().to_string()
        };
        // A document (PDF, Office, OpenDocument, RTF, e-mail, notebook, archive) is read as
        // one and its text scanned, each finding named by its place in the file.
        if path.as_os_str() != "-" && is_document(path) {
            let limits = leakguard_proxy::inspect::document_limits(&loaded.effective.managed);
            match scan_document(engine, path, &limits, |place, finding, line, col| {
                total += 1;
                action = action.max(decider.action_for(finding));
                sink.finding(&mut out, &format!("{label}: {place}"), finding, line, col)
            }) {
                Ok(bytes) => scanned += bytes,
                Err(e) => {
                    eprintln!("leakguard: {label}: {e:#}");
                    io_errors += 1;
                }
            }
            continue;
        }
        let mut reader = match open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("leakguard: {label}: {e:#}");
                io_errors += 1;
                continue;
            }
        };
        let mut counted = CountingReader {
            inner: &mut *reader,
            bytes: 0,
        };
        let result = scan_stream(engine, &mut counted, args.binary, |finding, line, col| {
            total += 1;
            action = action.max(decider.action_for(finding));
            sink.finding(&mut out, &label, finding, line, col)
        });
        scanned += counted.bytes;
        match result {
            Ok(StreamEnd::Done) => {}
            Ok(StreamEnd::SkippedBinary) => {
                eprintln!("leakguard: {label}: looks binary, skipped (scan it with --binary)")
            }
            Err(e) => {
                eprintln!("leakguard: {label}: {e:#}");
                io_errors += 1;
            }
        }
    }
    sink.finish(&mut out, action, total)?;
    out.flush()?;
    if args.stats {
        print_stats(scanned, started);
    }
    Ok(if io_errors > 0 {
        ExitCode::from(2)
    } else if total > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn open(path: &PathBuf) -> Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    anyhow::ensure!(
        !meta.is_dir(),
        "{} is a directory; give files (e.g. with `find ... -type f`)",
        path.display()
    );
    Ok(Box::new(std::fs::File::open(path).with_context(|| {
        format!("cannot open {}", path.display())
    })?))
}

/// Largest document read whole for scanning.
const MAX_DOCUMENT: u64 = 512 << 20;

/// Whether a file is a document to read as one (by its first bytes and name).
fn is_document(path: &std::path::Path) -> bool {
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let name = path.file_name().and_then(|n| n.to_str());
    leakguard_documents::sniff(&head[..n], name).is_some()
}

/// Reads a document and scans the text of each place in it; `on_finding` gets the place
/// (`page 2`, `sheet Payroll, cell B2`), the finding and its line and column within that place.
/// An unreadable document is an error (a check that cannot see a file must not pass it).
fn scan_document(
    engine: &Engine,
    path: &std::path::Path,
    limits: &leakguard_documents::Limits,
    mut on_finding: impl FnMut(&str, &Finding, u64, u64) -> Result<()>,
) -> Result<u64> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_DOCUMENT,
        "the document is larger than {} MiB and was not read",
        MAX_DOCUMENT >> 20
    );
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str());
    let doc = leakguard_documents::extract(&bytes, name, limits)
        .map_err(|e| anyhow::anyhow!("the document cannot be read: {e}"))?
        .ok_or_else(|| anyhow::anyhow!("not a document after all"))?;
    for p in &doc.pieces {
        for f in engine.scan(&p.text) {
            let before = &p.text[..f.start];
            let line = before.matches('\n').count() as u64 + 1;
            let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u64 + 1;
            on_finding(&p.locate(f.start), &f, line, col)?;
        }
    }
    if let Some((at, e)) = doc.problems.first() {
        anyhow::bail!("{at} in it cannot be read: {e}");
    }
    Ok(bytes.len() as u64)
}

/// Decides through the policy, for one destination.
pub struct Decider<'a> {
    pub policy: &'a Effective,
    pub destination: Option<String>,
    pub meta: RequestMeta,
}

impl Decider<'_> {
    /// The action the policy gives one finding.
    pub fn action_for(&self, f: &Finding) -> leakguard_types::Action {
        self.policy
            .decide(
                std::slice::from_ref(f),
                self.destination.as_deref(),
                &self.meta,
            )
            .action
    }

    /// The verdict for a whole text's findings.
    pub fn verdict(&self, findings: &[Finding]) -> leakguard_policy::Verdict {
        self.policy
            .decide(findings, self.destination.as_deref(), &self.meta)
    }
}

/// Counts the bytes read through it.
struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    bytes: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

pub enum StreamEnd {
    Done,
    SkippedBinary,
}

/// Fills `buf` from `reader` up to `want` bytes; returns false at end of input.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let start = buf.len();
        buf.resize(want, 0);
        match reader.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(false);
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(true)
}

/// Where to cut a full chunk: the last newline in the overlap zone, else a char boundary.
fn cut_point(buf: &[u8]) -> usize {
    let zone_start = buf.len().saturating_sub(OVERLAP);
    let target = zone_start + OVERLAP / 2;
    match memchr_last_newline(&buf[zone_start..target.min(buf.len())]) {
        Some(i) => zone_start + i + 1,
        None => {
            let mut c = zone_start;
            while c > 0 && (buf[c] as i8) < -0x40 {
                c -= 1;
            }
            c
        }
    }
}

fn memchr_last_newline(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&x| x == b'\n')
}

/// Scans a stream chunk by chunk, calling `on_finding` with absolute offsets and line/column.
pub fn scan_stream(
    engine: &Engine,
    reader: &mut dyn Read,
    binary: bool,
    mut on_finding: impl FnMut(&Finding, u64, u64) -> Result<()>,
) -> Result<StreamEnd> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + OVERLAP);
    let mut base: u64 = 0;
    let mut line_base: u64 = 1; // line number at buf[0]
    let mut first = true;
    loop {
        let more = fill(reader, &mut buf, CHUNK)?;
        if first {
            first = false;
            let head = &buf[..buf.len().min(8192)];
            if !binary && head.contains(&0) {
                return Ok(StreamEnd::SkippedBinary);
            }
        }
        let cut = if more { cut_point(&buf) } else { buf.len() };
        let mut findings = engine.scan_bytes(&buf);
        findings.retain(|f| f.start < cut);
        let mut commit = cut;
        for f in &findings {
            commit = commit.max(f.end.min(buf.len()));
        }
        // Line and column of each finding, counting newlines once.
        let mut line = line_base;
        let mut line_start = 0usize;
        let mut counted = 0usize;
        for f in &mut findings {
            for i in memchr::memchr_iter(b'\n', &buf[counted..f.start]) {
                line += 1;
                line_start = counted + i + 1;
            }
            counted = f.start;
            let col = String::from_utf8_lossy(&buf[line_start..f.start])
                .chars()
                .count() as u64
                + 1;
            let mut absolute = f.clone();
            absolute.start += base as usize;
            absolute.end += base as usize;
            on_finding(&absolute, line, col)?;
        }
        if !more {
            return Ok(StreamEnd::Done);
        }
        line_base += memchr::memchr_iter(b'\n', &buf[..commit]).count() as u64;
        base += commit as u64;
        buf.drain(..commit);
    }
}

/// Writes the stream with every finding replaced, chunk by chunk.
fn redact_stream(
    engine: &Engine,
    reader: &mut dyn Read,
    style: RedactStyle,
    code: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + OVERLAP);
    loop {
        let more = fill(reader, &mut buf, CHUNK)?;
        let cut = if more { cut_point(&buf) } else { buf.len() };
        let text = String::from_utf8_lossy(&buf);
        let findings: Vec<Finding> = engine
            .scan(&text)
            .into_iter()
            .filter(|f| f.start < cut.min(text.len()))
            .filter(|f| code || f.category != leakguard_types::Category::SourceCode)
            .collect();
        let mut commit = cut.min(text.len());
        for f in &findings {
            commit = commit.max(f.end);
        }
        while !text.is_char_boundary(commit) {
            commit += 1;
        }
        let red = leakguard_detect::redact(&text[..commit], &findings, style);
        out.write_all(red.text.as_bytes())?;
        if !more {
            return Ok(());
        }
        // Lossy text and bytes agree in length when the chunk is valid UTF-8; otherwise carry
        // nothing and continue from the bytes not yet written.
        let consumed = if text.len() == buf.len() {
            commit
        } else {
            buf.len()
        };
        buf.drain(..consumed);
    }
}
