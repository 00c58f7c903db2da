//! Language voting accuracy on real code: 30-line excerpts of files in the local cargo
//! registry, labelled by file extension.
//! `cargo run --release -p leakguard-detect --example language_eval [EXCERPTS_PER_LANGUAGE]`.
use std::path::{Path, PathBuf};

const LANGS: &[(&str, &str)] = &[
    ("rs", "rust"),
    ("c", "c"),
    ("cpp", "cpp"),
    ("cc", "cpp"),
    ("py", "python"),
    ("js", "javascript"),
    ("ts", "typescript"),
    ("go", "go"),
    ("java", "java"),
    ("sh", "shell"),
    ("sql", "sql"),
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() && depth < 8 {
            walk(&p, out, depth + 1);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn main() {
    let per: usize = std::env::args()
        .nth(1)
        .map_or(200, |s| s.parse().expect("a number"));
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("HOME or CARGO_HOME");
    let mut files = Vec::new();
    walk(&home.join("registry/src"), &mut files, 0);
    let engine = leakguard_detect::Engine::new().expect("engine");
    println!("| language | excerpts | voted right | no vote | most often voted instead |");
    println!("| --- | --- | --- | --- | --- |");
    let (mut all, mut all_right) = (0, 0);
    for &(ext, want) in LANGS {
        let (mut n, mut right, mut none) = (0usize, 0usize, 0usize);
        let mut wrong: std::collections::BTreeMap<String, usize> = Default::default();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == ext))
        {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            for chunk in lines.chunks(30).filter(|c| c.len() == 30).take(3) {
                let excerpt = chunk.join("\n");
                match engine.code_language(&excerpt) {
                    Some(l) if l == want => right += 1,
                    Some(l) => *wrong.entry(l).or_insert(0usize) += 1,
                    None => none += 1,
                }
                n += 1;
            }
            if n >= per {
                break;
            }
        }
        if n > 0 {
            let mut confused: Vec<(usize, String)> =
                wrong.into_iter().map(|(l, c)| (c, l)).collect();
            confused.sort_by(|a, b| b.cmp(a));
            let confused: Vec<String> = confused
                .iter()
                .take(3)
                .map(|(c, l)| format!("{l} {c}"))
                .collect();
            println!(
                "| {want} ({ext}) | {n} | {:.1}% | {:.1}% | {} |",
                100.0 * right as f64 / n as f64,
                100.0 * none as f64 / n as f64,
                confused.join(", ")
            );
            all += n;
            all_right += right;
        }
    }
    println!(
        "all: {all} excerpts, {:.1}% voted right",
        100.0 * all_right as f64 / all.max(1) as f64
    );
}
