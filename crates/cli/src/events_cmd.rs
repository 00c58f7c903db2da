//! `leakguard events`: what the guard recorded, from the event store in the data dir.

use crate::guard::default_data_dir;
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use leakguard_store::{csv_line, format_time, now_ms, parse_time, Filter, Reader, CSV_HEADER};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Recent events, newest first (one page; `--before` the printed cursor for the next).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Cursor: events older than this sequence number.
        #[arg(long)]
        before: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// One event, in full.
    Show {
        id: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Counts per hour or day, by outcome, category and destination; top rules and destinations.
    Stats {
        /// From (RFC 3339, or relative: 30m, 24h, 7d). Default: 7d.
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long, value_enum, default_value_t = BucketArg::Day)]
        bucket: BucketArg,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Every matching event, oldest first, as JSON lines or CSV.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write here instead of stdout (created 0600).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// SIEM targets: events waiting, delivered, dropped, last error.
    Targets {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// False-alarm reports per rule (from the app or a notification): reports, destinations,
    /// a masked sample and how often the rule fired, most reported first, to tune the rule
    /// that "fires every run".
    Feedback {
        /// From (RFC 3339, or relative: 30m, 24h, 7d). Default: 30d.
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The usage record: LLM requests per day, destination and client (shadow-AI view).
    Usage {
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BucketArg {
    Hour,
    Day,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// From (RFC 3339, or relative: 30m, 24h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Until (same forms).
    #[arg(long)]
    until: Option<String>,
    /// blocked, warned, redacted, forwarded, overridden, refused (repeatable).
    #[arg(long)]
    outcome: Vec<String>,
    /// Policy verdict: allow, audit, warn, redact, block (repeatable).
    #[arg(long)]
    verdict: Vec<String>,
    /// secret, pii, source_code, classified, custom (repeatable).
    #[arg(long)]
    category: Vec<String>,
    /// Destination host (repeatable).
    #[arg(long)]
    host: Vec<String>,
    /// request, websocket, reply, override, policy, pause, feedback, protection, coverage (repeatable).
    #[arg(long)]
    kind: Vec<String>,
    #[arg(long)]
    rule: Option<String>,
    /// Text in rule ids, previews, host, model, reasons.
    #[arg(long)]
    search: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            since_ms: self.since.as_deref().map(time_arg).transpose()?,
            until_ms: self.until.as_deref().map(time_arg).transpose()?,
            verdicts: self.verdict.clone(),
            outcomes: self.outcome.clone(),
            kinds: self.kind.clone(),
            categories: self.category.clone(),
            hosts: self.host.iter().map(|h| h.to_ascii_lowercase()).collect(),
            rule: self.rule.clone(),
            text: self.search.clone(),
            ..Filter::default()
        })
    }
}

/// RFC 3339, or `N` followed by `m`, `h` or `d` before now.
fn time_arg(s: &str) -> Result<i64> {
    if let Some(ms) = parse_time(s) {
        return Ok(ms);
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n.parse().ok().with_context(|| {
        format!("`{s}`: expected RFC 3339 (2026-11-21T09:00:00Z) or 30m, 24h, 7d")
    })?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => anyhow::bail!("`{s}`: expected RFC 3339 (2026-11-21T09:00:00Z) or 30m, 24h, 7d"),
    };
    Ok(now_ms() - n * unit_ms)
}

fn open(data_dir: Option<&PathBuf>) -> Result<Reader> {
    let dir = data_dir.cloned().unwrap_or_else(default_data_dir);
    Reader::open_in(&dir).with_context(|| {
        format!(
            "no event database in {} yet: events are recorded once `leakguard run` has seen traffic",
            dir.display()
        )
    })
}

pub fn run(command: EventsCommand) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        EventsCommand::List {
            filter,
            limit,
            before,
            json,
        } => {
            let reader = open(filter.data_dir.as_ref())?;
            let mut f = filter.filter()?;
            f.limit = limit;
            f.before_seq = before;
            let page = reader.events(&f)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page)?)?;
            } else {
                for e in &page.events {
                    writeln!(
                        out,
                        "{:>7}  {}  {:<10}  {}",
                        e.seq,
                        e.event.time,
                        e.event.outcome,
                        e.event.headline()
                    )?;
                }
                match page.next {
                    Some(n) => writeln!(out, "-- more: --before {n}")?,
                    None => writeln!(out, "-- {} event(s)", page.events.len())?,
                }
            }
        }
        EventsCommand::Show { id, data_dir } => {
            let reader = open(data_dir.as_ref())?;
            let e = reader
                .get(&id)?
                .with_context(|| format!("no event with id {id}"))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
        }
        EventsCommand::Stats {
            since,
            bucket,
            json,
            data_dir,
        } => {
            let reader = open(data_dir.as_ref())?;
            let bucket_s = match bucket {
                BucketArg::Hour => 3600,
                BucketArg::Day => 86_400,
            };
            let stats = reader.stats(time_arg(&since)?, now_ms() + 1, bucket_s)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
            } else {
                writeln!(
                    out,
                    "{} events from {} to {}",
                    stats.total, stats.since, stats.until
                )?;
                for (k, v) in &stats.by_outcome {
                    writeln!(out, "  {k:<10} {v}")?;
                }
                writeln!(out, "top rules:")?;
                for (rule, cat, findings, events) in &stats.top_rules {
                    writeln!(
                        out,
                        "  {rule:<32} {cat:<12} {findings} findings in {events} events"
                    )?;
                }
                writeln!(out, "top destinations:")?;
                for (host, n, stopped) in &stats.top_destinations {
                    writeln!(out, "  {host:<32} {n} requests, {stopped} stopped")?;
                }
            }
        }
        EventsCommand::Export {
            filter,
            format,
            out: path,
        } => {
            let reader = open(filter.data_dir.as_ref())?;
            let f = filter.filter()?;
            let mut sink: Box<dyn Write> = match &path {
                Some(p) => Box::new(std::io::BufWriter::new(private_file(p)?)),
                None => Box::new(std::io::BufWriter::new(out)),
            };
            if matches!(format, Format::Csv) {
                writeln!(sink, "{CSV_HEADER}")?;
            }
            let n = reader.for_each(&f, |e| {
                match format {
                    Format::Jsonl => {
                        serde_json::to_writer(&mut sink, &e.event)?;
                        sink.write_all(b"\n")?;
                    }
                    Format::Csv => writeln!(sink, "{}", csv_line(&e.event))?,
                }
                Ok(())
            })?;
            sink.flush()?;
            drop(sink);
            if let Some(p) = path {
                eprintln!("exported {n} events to {}", p.display());
            }
        }
        EventsCommand::Targets { json, data_dir } => {
            let reader = open(data_dir.as_ref())?;
            let targets = reader.targets()?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&targets)?)?;
            } else if targets.is_empty() {
                writeln!(out, "no SIEM targets (policy: events.siem)")?;
            } else {
                for t in targets {
                    writeln!(
                        out,
                        "{}: {} waiting, {} delivered, {} dropped, last ok {}{}",
                        t.target,
                        t.pending,
                        t.delivered,
                        t.dropped,
                        t.last_ok.as_deref().unwrap_or("never"),
                        t.last_error
                            .map(|e| format!(", last error: {e}"))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
        EventsCommand::Feedback {
            since,
            json,
            data_dir,
        } => {
            let reader = open(data_dir.as_ref())?;
            let rows = reader.false_positive_report(time_arg(&since)?)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else if rows.is_empty() {
                writeln!(out, "no false-alarm reports since {since}")?;
            } else {
                for r in rows {
                    writeln!(
                        out,
                        "{:<32} {:>4} report(s) of {:>6} finding(s)  {}  e.g. {}",
                        r.rule,
                        r.reports,
                        r.fired,
                        r.destinations.join(", "),
                        r.sample.as_deref().unwrap_or("-")
                    )?;
                }
                writeln!(
                    out,
                    "tune a rule: `actions.rules.<rule>: \"audit\"`, `rules.disable`, or an exception (docs/policy.md)"
                )?;
            }
        }
        EventsCommand::Usage {
            since,
            json,
            data_dir,
        } => {
            let reader = open(data_dir.as_ref())?;
            let rows = reader.usage(&format_time(time_arg(&since)?)[..10])?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                for r in rows {
                    writeln!(
                        out,
                        "{}  {:<28} {:<18} {:>6} requests {:>9} bytes ~{} tokens ({} in, {} out reported), {} stopped, {} documents, {} images not scanned",
                        r.day,
                        r.host,
                        r.client,
                        r.requests,
                        r.bytes,
                        r.est_tokens,
                        r.input_tokens,
                        r.output_tokens,
                        r.blocked,
                        r.documents,
                        r.unscanned_images
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn private_file(p: &std::path::Path) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
        .with_context(|| format!("cannot write {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_absolute_or_relative() {
        assert_eq!(
            time_arg("2026-11-21T00:00:00Z").unwrap(),
            parse_time("2026-11-21T00:00:00Z").unwrap()
        );
        let day_ago = time_arg("1d").unwrap();
        assert!((now_ms() - day_ago - 86_400_000).abs() < 60_000);
        let err = time_arg("yesterday").unwrap_err().to_string();
        assert!(err.contains("7d"), "{err}");
    }
}
