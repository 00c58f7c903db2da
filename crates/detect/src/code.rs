//! Source-code detection: which regions of a text are code, how many lines, which language.
//!
//! Whether a line is code is decided from its shape (how it ends, operators, calls,
//! indentation, statement keywords) with a small penalty for sentence-like lines; regions are
//! runs of code lines allowing blank lines and single prose lines between. Markdown fences are
//! regions by declaration. The language is chosen afterwards from keyword and marker counts
//! over a bounded sample of the region (signatures in `policies/rules/languages.toml`).
//!
//! Cost: one pass over the bytes of each line (no allocation per line) plus a lookup per
//! identifier in the first 16 KiB of each region.

use crate::Error;
use aho_corasick::{AhoCorasick, MatchKind};
use leakguard_types::{Category, Finding, FindingDetail, Severity};
use serde::Deserialize;
use std::collections::HashMap;

const LANGUAGES: &str = include_str!("../../../policies/rules/languages.toml");
const SAMPLE: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    language: Vec<LanguageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageSpec {
    id: String,
    fences: Vec<String>,
    #[serde(default)]
    case_insensitive: bool,
    keywords: Vec<String>,
    markers: Vec<String>,
}

/// A code region found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRegion {
    pub start: usize,
    pub end: usize,
    pub lines: u32,
    pub code_lines: u32,
    pub language: Option<String>,
}

#[derive(Debug)]
pub(crate) struct CodeDetector {
    ids: Vec<String>,
    /// identifier -> languages it votes for.
    keywords: HashMap<Vec<u8>, Vec<u16>>,
    markers: AhoCorasick,
    marker_lang: Vec<u16>,
    fences: HashMap<String, u16>,
    min_lines: u32,
}

/// Words that start a statement in common languages; one at the start of a line is evidence.
const STATEMENT_STARTS: &[&[u8]] = &[
    b"if",
    b"for",
    b"while",
    b"return",
    b"def",
    b"fn",
    b"func",
    b"function",
    b"class",
    b"import",
    b"from",
    b"let",
    b"const",
    b"var",
    b"val",
    b"public",
    b"private",
    b"protected",
    b"static",
    b"int",
    b"void",
    b"char",
    b"package",
    b"module",
    b"SELECT",
    b"INSERT",
    b"UPDATE",
    b"DELETE",
    b"CREATE",
    b"echo",
    b"export",
    b"use",
    b"struct",
    b"impl",
    b"pub",
    b"elif",
    b"else",
    b"try",
    b"except",
    b"catch",
    b"switch",
    b"case",
    b"assign",
    b"always",
    b"wire",
    b"reg",
    b"input",
    b"output",
    b"entity",
    b"architecture",
    b"signal",
    b"begin",
    b"end",
    b"end;",
    b"namespace",
    b"using",
    b"template",
    b"typedef",
    b"guard",
    b"local",
    b"fi",
    b"done",
    b"do",
    b"then",
    b"async",
    b"await",
    b"throw",
    b"new",
    b"delete",
    b"defer",
    b"go",
    b"type",
    b"interface",
    b"enum",
    b"with",
    b"raise",
    b"yield",
    b"print",
    b"puts",
    b"require",
    b"include",
    b"foreach",
    b"unless",
    b"until",
];

/// Upper-case SQL clause words: at the start of a line they mark a SQL statement's lines,
/// which often carry no punctuation at all (`FROM wafers w`).
const SQL_CLAUSES: &[&[u8]] = &[
    b"SELECT",
    b"FROM",
    b"WHERE",
    b"JOIN",
    b"LEFT",
    b"RIGHT",
    b"INNER",
    b"OUTER",
    b"FULL",
    b"GROUP",
    b"ORDER",
    b"HAVING",
    b"VALUES",
    b"SET",
    b"UNION",
    b"LIMIT",
    b"INSERT",
    b"UPDATE",
    b"DELETE",
    b"CREATE",
    b"ALTER",
    b"DROP",
    b"AND",
    b"OR",
    b"ON",
    b"WITH",
    b"CASE",
    b"WHEN",
    b"ELSE",
    b"END",
    b"RETURNING",
    b"OFFSET",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Blank,
    Code,
    /// Some evidence (`package main`, a decorator, a comment): part of a region it borders,
    /// never the start of one.
    Weak,
    Other,
}

impl CodeDetector {
    pub(crate) fn new(min_lines: u32) -> Result<CodeDetector, Error> {
        let file: LanguageFile = toml::from_str(LANGUAGES).map_err(|e| Error::Pack {
            pack: "languages".into(),
            message: e.to_string(),
        })?;
        let mut keywords: HashMap<Vec<u8>, Vec<u16>> = HashMap::new();
        let mut markers = Vec::new();
        let mut marker_lang = Vec::new();
        let mut fences = HashMap::new();
        let mut ids = Vec::new();
        for (i, lang) in file.language.iter().enumerate() {
            let i = i as u16;
            ids.push(lang.id.clone());
            for k in &lang.keywords {
                let key = if lang.case_insensitive {
                    k.to_ascii_lowercase()
                } else {
                    k.clone()
                };
                keywords.entry(key.into_bytes()).or_default().push(i);
                if lang.case_insensitive {
                    keywords
                        .entry(k.to_ascii_uppercase().into_bytes())
                        .or_default()
                        .push(i);
                }
            }
            for m in &lang.markers {
                markers.push(m.clone());
                marker_lang.push(i);
            }
            for f in &lang.fences {
                fences.insert(f.clone(), i);
            }
        }
        let markers = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&markers)
            .map_err(|e| Error::Keywords(e.to_string()))?;
        Ok(CodeDetector {
            ids,
            keywords,
            markers,
            marker_lang,
            fences,
            min_lines,
        })
    }

    /// Findings for every code region of at least `min_lines` lines.
    pub(crate) fn findings(&self, hay: &[u8]) -> Vec<Finding> {
        self.regions(hay)
            .into_iter()
            .filter(|r| r.lines >= self.min_lines)
            .map(|r| {
                let lang = r.language.clone().unwrap_or_else(|| "unknown".into());
                Finding {
                    rule: "source-code".into(),
                    category: Category::SourceCode,
                    severity: Severity::Medium,
                    start: r.start,
                    end: r.end,
                    confidence: (0.5 + 0.5 * r.code_lines as f32 / r.lines.max(1) as f32).min(1.0),
                    preview: format!("{} lines of {lang}", r.lines),
                    detail: FindingDetail {
                        language: Some(lang),
                        lines: Some(r.lines),
                        ..FindingDetail::default()
                    },
                }
            })
            .collect()
    }

    /// Every code region, of any length.
    pub fn regions(&self, hay: &[u8]) -> Vec<CodeRegion> {
        let mut out = Vec::new();
        // Line table: (start, end) without the newline.
        let mut lines: Vec<(usize, usize)> = Vec::new();
        let mut s = 0;
        for nl in memchr::memchr_iter(b'\n', hay) {
            lines.push((s, nl));
            s = nl + 1;
        }
        if s < hay.len() {
            lines.push((s, hay.len()));
        }
        // Fast exit: prose with no code punctuation at all.
        if memchr::memchr3(b';', b'{', b'=', hay).is_none()
            && memchr::memchr3(b'(', b':', b'#', hay).is_none()
        {
            return out;
        }
        let mut i = 0;
        while i < lines.len() {
            let (ls, le) = lines[i];
            let line = trim(&hay[ls..le]);
            if let Some(info) = fence_open(line) {
                // A fenced block: everything up to the closing fence.
                let mut j = i + 1;
                while j < lines.len() && fence_open(trim(&hay[lines[j].0..lines[j].1])).is_none() {
                    j += 1;
                }
                let body = &lines[i + 1..j.min(lines.len())];
                let code_lines = body
                    .iter()
                    .filter(|(a, b)| classify(&hay[*a..*b]) == LineKind::Code)
                    .count() as u32;
                let nonblank = body
                    .iter()
                    .filter(|(a, b)| !trim(&hay[*a..*b]).is_empty())
                    .count() as u32;
                let declared = self.fences.get(&info.to_ascii_lowercase()).copied();
                let prose_fence = matches!(
                    info.to_ascii_lowercase().as_str(),
                    "text" | "txt" | "markdown" | "md" | "plain" | "json" | "yaml" | "csv"
                );
                if nonblank > 0
                    && !body.is_empty()
                    && !prose_fence
                    && (declared.is_some() || code_lines * 10 >= nonblank * 4)
                {
                    let start = body[0].0;
                    let end = body[body.len() - 1].1;
                    let language = declared
                        .map(|l| self.ids[l as usize].clone())
                        .or_else(|| self.language(&hay[start..end]));
                    out.push(CodeRegion {
                        start,
                        end,
                        lines: nonblank,
                        code_lines: code_lines.max(nonblank * u32::from(declared.is_some())),
                        language,
                    });
                }
                i = j + 1;
                continue;
            }
            if classify(line) != LineKind::Code {
                i += 1;
                continue;
            }
            // Grow a region from here, first taking in weak lines just above (`package main`,
            // `@Override`, a doc comment).
            let mut first = i;
            let mut k = i;
            while k > 0 && i - k < 4 {
                let prev = trim(&hay[lines[k - 1].0..lines[k - 1].1]);
                let free = out
                    .last()
                    .is_none_or(|r: &CodeRegion| r.end < lines[k - 1].0);
                match classify(prev) {
                    LineKind::Blank if free => k -= 1,
                    LineKind::Weak if free && fence_open(prev).is_none() => {
                        k -= 1;
                        first = k;
                    }
                    _ => break,
                }
            }
            let mut last = i;
            let mut code_lines = 1u32;
            let above = (first..i)
                .filter(|&k| !trim(&hay[lines[k].0..lines[k].1]).is_empty())
                .count() as u32;
            let mut nonblank = 1 + above;
            let mut weak_lines = above;
            let mut gap = 0;
            let mut j = i + 1;
            while j < lines.len() {
                let l = trim(&hay[lines[j].0..lines[j].1]);
                if fence_open(l).is_some() {
                    break;
                }
                match classify(l) {
                    LineKind::Blank => {}
                    LineKind::Code => {
                        code_lines += 1;
                        nonblank += 1 + gap;
                        gap = 0;
                        last = j;
                    }
                    LineKind::Weak => {
                        weak_lines += 1;
                        nonblank += 1 + gap;
                        gap = 0;
                        last = j;
                    }
                    LineKind::Other => {
                        // Closing lines like `end`, `)` or a lone identifier are part of code;
                        // two prose lines in a row end the region.
                        gap += 1;
                        if gap >= 2 {
                            break;
                        }
                    }
                }
                j += 1;
            }
            if code_lines >= 2 && (code_lines + weak_lines) * 10 >= nonblank * 6 {
                let start = lines[first].0;
                let end = lines[last].1;
                let language = self.language(&hay[start..end]);
                out.push(CodeRegion {
                    start,
                    end,
                    lines: (last - first + 1) as u32,
                    code_lines,
                    language,
                });
            }
            i = last + 1;
        }
        out
    }

    /// The most likely language of a code sample, by keyword and marker votes.
    pub fn language(&self, code: &[u8]) -> Option<String> {
        let sample = &code[..code.len().min(SAMPLE)];
        let mut votes = vec![0u32; self.ids.len()];
        let mut i = 0;
        while i < sample.len() {
            let b = sample[i];
            if b.is_ascii_alphabetic() || b == b'_' {
                let s = i;
                while i < sample.len() && (sample[i].is_ascii_alphanumeric() || sample[i] == b'_') {
                    i += 1;
                }
                if let Some(langs) = self.keywords.get(&sample[s..i]) {
                    for &l in langs {
                        votes[l as usize] += 1;
                    }
                }
            } else {
                i += 1;
            }
        }
        for m in self.markers.find_overlapping_iter(sample) {
            votes[self.marker_lang[m.pattern().as_usize()] as usize] += 3;
        }
        let (best, &score) = votes
            .iter()
            .enumerate()
            .max_by_key(|(i, v)| (**v, std::cmp::Reverse(*i)))?;
        (score >= 3).then(|| self.ids[best].clone())
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.trim_ascii()
}

fn fence_open(line: &[u8]) -> Option<String> {
    let rest = line
        .strip_prefix(b"```")
        .or_else(|| line.strip_prefix(b"~~~"))?;
    let info = rest.trim_ascii();
    let word_end = info
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'{')
        .unwrap_or(info.len());
    Some(String::from_utf8_lossy(&info[..word_end]).into_owned())
}

/// Decides whether one (trimmed) line looks like code.
fn classify(t: &[u8]) -> LineKind {
    if t.is_empty() {
        return LineKind::Blank;
    }
    let last = t[t.len() - 1];
    let mut score: i32 = 0;
    match last {
        b';' | b'{' | b'}' => score += 3,
        b')' | b',' | b'(' | b'[' | b']' => score += 1,
        _ => {}
    }
    if matches!(
        t,
        b"}" | b"{"
            | b"};"
            | b"})"
            | b"});"
            | b"end"
            | b"fi"
            | b"done"
            | b"esac"
            | b"endmodule"
            | b"end;"
    ) {
        return LineKind::Code;
    }
    if t.starts_with(b"#include")
        || t.starts_with(b"#define")
        || t.starts_with(b"#pragma")
        || t.starts_with(b"#!/")
        || t.starts_with(b"#ifdef")
        || t.starts_with(b"#endif")
    {
        score += 4;
    }
    if t.starts_with(b"//")
        || t.starts_with(b"/*")
        || t.starts_with(b"*/")
        || t.starts_with(b"* ")
        || t.starts_with(b"--")
        || t.starts_with(b"# ")
        || t.starts_with(b"@")
    {
        score += 1;
    }
    let first_word_end = t
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b';'))
        .unwrap_or(t.len());
    let first_word = &t[..first_word_end];
    let starts_statement = STATEMENT_STARTS.contains(&first_word);
    if starts_statement {
        score += 2;
    }
    if SQL_CLAUSES.contains(&first_word) && first_word.len() < t.len() {
        score += 3;
    }
    if last == b':' && starts_statement {
        score += 2; // Python block header
    }
    let mut ops = 0;
    let mut calls = 0;
    let mut symbols = 0;
    let mut words = 1;
    let mut assign = false;
    for w in 0..t.len() {
        let b = t[w];
        if !(b.is_ascii_alphanumeric() || b == b' ' || b >= 0x80) {
            symbols += 1;
        }
        if b == b' ' {
            words += 1;
        }
        if w + 1 < t.len() {
            let pair = [b, t[w + 1]];
            if matches!(
                &pair,
                b"=="
                    | b"!="
                    | b"->"
                    | b"=>"
                    | b"::"
                    | b":="
                    | b"&&"
                    | b"||"
                    | b"+="
                    | b"-="
                    | b"<="
                    | b">="
                    | b"++"
                    | b"<<"
                    | b">>"
                    | b"//"
            ) {
                ops += 1;
            }
            if t[w + 1] == b'(' && (b.is_ascii_alphanumeric() || b == b'_') {
                calls += 1;
            }
        }
        if b == b'=' && w > 0 && w + 1 < t.len() && t[w - 1] == b' ' && t[w + 1] == b' ' {
            assign = true;
        }
    }
    score += 2 * ops.min(2) + calls.min(2) + i32::from(assign);
    let ratio = symbols as f32 / t.len() as f32;
    if ratio > 0.12 {
        score += 1;
    }
    // Sentences: many words, few symbols, ending like prose.
    if words >= 8 && matches!(last, b'.' | b'?' | b'!') && ratio < 0.06 {
        score -= 4;
    } else if words >= 6 && ratio < 0.03 {
        score -= 2;
    }
    match score {
        3.. => LineKind::Code,
        1..=2 => LineKind::Weak,
        _ => LineKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> CodeDetector {
        CodeDetector::new(3).unwrap()
    }

    #[test]
    fn finds_code_inside_prose_with_its_line_count() {
        let text = "Hi, can you fix this? It crashes on startup.\n\nint main(void) {\n    int x = read_sensor(3);\n    if (x > 10) {\n        printf(\"hot %d\\n\", x);\n    }\n    return 0;\n}\n\nThanks a lot for looking at it, it is urgent.";
        let regions = detector().regions(text.as_bytes());
        assert_eq!(regions.len(), 1, "{regions:?}");
        let r = &regions[0];
        assert_eq!(&text[r.start..r.start + 14], "int main(void)");
        assert_eq!(r.lines, 7);
        assert_eq!(r.language.as_deref(), Some("c"));
    }

    #[test]
    fn fenced_blocks_take_their_declared_language() {
        let text = "look:\n```python\nx = compute()\nprint(x)\n```\nok?";
        let regions = detector().regions(text.as_bytes());
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].language.as_deref(), Some("python"));
        assert_eq!(regions[0].lines, 2);
    }

    #[test]
    fn prose_is_not_code() {
        let text = "The meeting covered the roadmap (see the attached slides). We agreed on three points:\n\
            first, the launch moves to May; second, the budget stays the same; third, the team grows.\n\
            Please send comments by Friday. Thanks, and have a good weekend!\n\
            Note: the numbers in the deck are preliminary.";
        assert!(detector().regions(text.as_bytes()).is_empty());
    }

    #[test]
    fn each_language_sample_is_recognised() {
        let samples: &[(&str, &str)] = &[
            ("cpp", "#include <vector>\nnamespace acme {\ntemplate <typename T>\nclass Buffer {\npublic:\n  std::vector<T> data;\n  void push(const T& v) { data.push_back(v); }\n};\n}"),
            ("rust", "use std::io;\nfn main() -> Result<(), io::Error> {\n    let mut buf = String::new();\n    io::stdin().read_line(&mut buf)?;\n    println!(\"{}\", buf.trim());\n    Ok(())\n}"),
            ("go", "package main\nimport \"fmt\"\nfunc main() {\n\tv, err := load()\n\tif err != nil {\n\t\treturn\n\t}\n\tfmt.Println(v)\n}"),
            ("python", "import os\n\ndef load(path):\n    with open(path) as f:\n        data = f.read()\n    if not data:\n        return None\n    return data.split()\n"),
            ("java", "package com.acme;\nimport java.util.List;\npublic class Probe {\n    private final int id;\n    public static void main(String[] args) {\n        System.out.println(\"hi\");\n    }\n}"),
            ("kotlin", "package com.acme\nfun main() {\n    val items = listOf(1, 2, 3)\n    items.forEach { println(it) }\n    val name: String? = null\n    println(name?.length)\n}"),
            ("csharp", "using System;\nnamespace Acme {\n    public class Probe {\n        public int Id { get; set; }\n        public void Run() { Console.WriteLine(\"x\"); }\n    }\n}"),
            ("javascript", "const fs = require('fs');\nfunction load(p) {\n  const data = fs.readFileSync(p);\n  console.log(data.length);\n  return data === null ? [] : data;\n}\nmodule.exports = load;"),
            ("typescript", "interface Probe {\n  id: number;\n  name: string;\n}\nexport function show(p: Probe): string {\n  return `${p.id}: ${p.name}`;\n}"),
            ("swift", "import Foundation\nstruct Probe {\n    let id: Int\n    func describe() -> String {\n        guard id > 0 else { return \"none\" }\n        return \"probe \\(id)\"\n    }\n}"),
            ("shell", "#!/bin/bash\nset -euo pipefail\nfor f in *.log; do\n  if grep -q ERROR \"$f\"; then\n    echo \"$f has errors\"\n  fi\ndone"),
            ("sql", "SELECT w.id, w.lot, AVG(m.value) AS mean\nFROM wafers w\nLEFT JOIN measurements m ON m.wafer_id = w.id\nWHERE w.fab = 'F3' AND m.kind = 'cd';\n"),
            ("verilog", "module counter(input wire clk, input wire rst, output reg [7:0] q);\n  always @(posedge clk) begin\n    if (rst) q <= 8'h00;\n    else q <= q + 1'b1;\n  end\nendmodule"),
            ("vhdl", "library ieee;\nuse ieee.std_logic_1164.all;\nentity counter is\n  port (clk : in std_logic; q : out std_logic_vector(7 downto 0));\nend entity;\narchitecture rtl of counter is\nbegin\nend architecture;"),
            ("c", "#include <stdio.h>\nstatic int read_reg(volatile uint32_t *r) {\n    return (int)(*r & 0xff);\n}\nint main(void) {\n    printf(\"%d\\n\", read_reg(NULL));\n    return 0;\n}"),
        ];
        let d = detector();
        for (want, code) in samples {
            let regions = d.regions(code.as_bytes());
            assert_eq!(regions.len(), 1, "{want}: {regions:?}");
            assert_eq!(regions[0].language.as_deref(), Some(*want), "{want}");
            assert_eq!(
                regions[0].lines as usize,
                code.trim_end().lines().count(),
                "{want}: the region covers every line"
            );
        }
    }
}
