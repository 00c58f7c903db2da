//! How findings are printed: a table for people, one JSON object for programs.

use anyhow::Result;
use leakguard_detect::Engine;
use leakguard_types::{Action, Finding};
use serde::Serialize;
use std::io::{IsTerminal, Write};

pub trait FindingSink {
    fn finding(
        &mut self,
        out: &mut dyn Write,
        path: &str,
        f: &Finding,
        line: u64,
        col: u64,
    ) -> Result<()>;
    fn finish(&mut self, out: &mut dyn Write, verdict: Action, total: usize) -> Result<()>;
}

/// `path:line:col  rule  [category/severity]  preview`, coloured on a terminal.
pub struct HumanSink {
    colour: bool,
}

impl HumanSink {
    pub fn new() -> HumanSink {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        HumanSink { colour }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

impl FindingSink for HumanSink {
    fn finding(
        &mut self,
        out: &mut dyn Write,
        path: &str,
        f: &Finding,
        line: u64,
        col: u64,
    ) -> Result<()> {
        let sev_colour = match f.severity {
            leakguard_types::Severity::Critical | leakguard_types::Severity::High => "1;31",
            leakguard_types::Severity::Medium => "33",
            _ => "36",
        };
        let mut extra = String::new();
        if let Some(via) = &f.detail.decoded_from {
            extra.push_str(&format!(" (hidden: {via})"));
        }
        writeln!(
            out,
            "{}:{line}:{col}  {}  [{}/{}]  {}{extra}",
            self.paint("1", path),
            self.paint(sev_colour, &f.rule),
            f.category,
            f.severity,
            f.preview,
        )?;
        Ok(())
    }

    fn finish(&mut self, _out: &mut dyn Write, verdict: Action, total: usize) -> Result<()> {
        let summary = match total {
            0 => "no findings".to_string(),
            1 => "1 finding".to_string(),
            n => format!("{n} findings"),
        };
        eprintln!("{summary}; verdict: {verdict}");
        Ok(())
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    line: u64,
    column: u64,
    #[serde(flatten)]
    finding: &'a Finding,
}

/// `{"findings":[...],"verdict":"..."}`, written as findings arrive (bounded memory).
pub struct JsonSink {
    with_path: bool,
    count: usize,
}

impl JsonSink {
    pub fn new(with_path: bool) -> JsonSink {
        JsonSink {
            with_path,
            count: 0,
        }
    }
}

impl FindingSink for JsonSink {
    fn finding(
        &mut self,
        out: &mut dyn Write,
        path: &str,
        f: &Finding,
        line: u64,
        col: u64,
    ) -> Result<()> {
        out.write_all(if self.count == 0 {
            b"{\"findings\":["
        } else {
            b","
        })?;
        self.count += 1;
        let jf = JsonFinding {
            path: self.with_path.then_some(path),
            line,
            column: col,
            finding: f,
        };
        serde_json::to_writer(&mut *out, &jf)?;
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, verdict: Action, _total: usize) -> Result<()> {
        if self.count == 0 {
            out.write_all(b"{\"findings\":[")?;
        }
        writeln!(out, "],\"verdict\":\"{verdict}\"}}")?;
        Ok(())
    }
}

pub fn list_rules(engine: &Engine, json: bool) -> Result<()> {
    let rules: Vec<_> = engine.rules().collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &rules)?;
        writeln!(out)?;
        return Ok(());
    }
    for r in &rules {
        writeln!(
            out,
            "{:<44} {:<17} {:<11} {:<8} {}",
            r.id,
            r.pack,
            r.category.as_str(),
            r.severity.as_str(),
            r.description
        )?;
    }
    let secrets = rules
        .iter()
        .filter(|r| r.category == leakguard_types::Category::Secret)
        .count();
    eprintln!(
        "{} rules ({} credential types), {} prefilter keywords",
        rules.len(),
        secrets,
        engine.keyword_count()
    );
    Ok(())
}

/// Runs every rule's examples; prints failures; returns how many failed.
pub fn test_rules(engine: &Engine) -> usize {
    let mut failures = 0;
    let mut total = 0;
    for (pack, spec) in engine.rule_specs() {
        for ex in &spec.examples.matches {
            total += 1;
            if !engine.scan(ex).iter().any(|f| f.rule == spec.id) {
                failures += 1;
                println!("FAIL {pack}/{}: did not match {ex:?}", spec.id);
            }
        }
        for ex in &spec.examples.no_match {
            total += 1;
            if engine.scan(ex).iter().any(|f| f.rule == spec.id) {
                failures += 1;
                println!("FAIL {pack}/{}: matched {ex:?}", spec.id);
            }
        }
    }
    println!("{} passed, {} failed", total - failures, failures);
    failures
}
