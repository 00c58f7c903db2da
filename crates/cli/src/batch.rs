//! `leakguard scan --json --batch FILE`: many texts in one process, one JSON line in and one
//! out per text. Compressed bodies are decoded with a size cap, so a compression bomb is an
//! error for that line, not an outage.

use crate::scan::Decider;
use anyhow::{Context, Result};
use base64::Engine as _;
use leakguard_detect::Engine;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

/// Largest decoded text accepted from one batch line.
pub const MAX_DECODED: usize = 64 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    id: serde_json::Value,
    text: Option<String>,
    data_b64: Option<String>,
    content_encoding: Option<String>,
}

pub fn run(engine: &Engine, decider: &Decider<'_>, source: &Path) -> Result<ExitCode> {
    let reader: Box<dyn BufRead> = if source.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(source)
                .with_context(|| format!("cannot open {}", source.display()))?,
        ))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut any_findings, mut any_errors) = (false, false);
    for (n, line) in reader.lines().enumerate() {
        let line = line.context("cannot read the batch input")?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match handle(engine, &line) {
            Ok((id, findings)) => {
                any_findings |= !findings.is_empty();
                let v = decider.verdict(&findings).action;
                serde_json::json!({ "id": id, "findings": findings, "verdict": v })
            }
            Err((id, e)) => {
                any_errors = true;
                serde_json::json!({ "id": id, "error": format!("line {}: {e:#}", n + 1) })
            }
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(if any_errors {
        ExitCode::from(2)
    } else if any_findings {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

type LineResult = std::result::Result<
    (serde_json::Value, Vec<leakguard_types::Finding>),
    (serde_json::Value, anyhow::Error),
>;

fn handle(engine: &Engine, line: &str) -> LineResult {
    let input: Input = serde_json::from_str(line).map_err(|e| (serde_json::Value::Null, anyhow::anyhow!("not a JSON object {{\"id\",\"text\"}} or {{\"id\",\"data_b64\",\"content_encoding\"}}: {e}")))?;
    let id = input.id.clone();
    let findings = match (input.text, input.data_b64) {
        (Some(text), None) => engine.scan(&text),
        (None, Some(b64)) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| (id.clone(), anyhow::anyhow!("data_b64 is not base64: {e}")))?;
            let body = decode(
                &raw,
                input.content_encoding.as_deref().unwrap_or("identity"),
            )
            .map_err(|e| (id.clone(), e))?;
            engine.scan_bytes(&body)
        }
        _ => {
            return Err((
                id,
                anyhow::anyhow!("give exactly one of `text` or `data_b64`"),
            ))
        }
    };
    Ok((id, findings))
}

/// Decodes a body by its Content-Encoding (a list, as in HTTP) with the guard's own decoder, so
/// the CLI and the proxy accept and refuse the same bodies; at most [`MAX_DECODED`] bytes, with
/// no ratio limit (a file on disk is not a request).
pub fn decode(raw: &[u8], encoding: &str) -> Result<Vec<u8>> {
    let limits = leakguard_proxy::Limits {
        max_body: usize::MAX,
        max_decoded: MAX_DECODED,
        max_ratio: usize::MAX,
        ..leakguard_proxy::Limits::default()
    };
    let body = bytes::Bytes::copy_from_slice(raw);
    Ok(leakguard_proxy::body::decode(&body, Some(encoding), &limits)?.to_vec())
}
