//! The `leakguard` binary as a user runs it: real processes, real files, stdin and exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn leakguard(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leakguard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("the binary finishes");
    writer.join().unwrap();
    out
}

/// The command failed with exit 2 and said `message` on stderr.
fn assert_refused(out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn rules(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

const PROMPT: &str = "Why does this crash?\naws_access_key_id = AKIAQYLPMN5HJNGY4F7A\ncard 4111 1111 1111 1111\n\
```cpp\n#include <vector>\nint Step(const Die& d) {\n    auto t = map_.Position(d);\n    if (!motion_.MoveTo(t)) {\n        return -1;\n    }\n    return 0;\n}\n```\n";

#[test]
fn finds_the_aws_key_the_card_and_the_cpp_code_in_a_prompt() {
    let out = leakguard(&["scan", "--json", "-"], PROMPT.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings give exit 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let found = rules(&v);
    for want in ["aws-access-key-id", "credit-card-number", "source-code"] {
        assert!(
            found.contains(&want.to_string()),
            "{want} missing from {found:?}"
        );
    }
    assert_eq!(v["verdict"], "block");
    let aws = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "aws-access-key-id")
        .unwrap();
    let (s, e) = (
        aws["start"].as_u64().unwrap() as usize,
        aws["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        &PROMPT[s..e],
        "AKIAQYLPMN5HJNGY4F7A",
        "offsets point into the original text"
    );
    assert_eq!(aws["preview"], "AKI…F7A");
    assert_eq!(
        (aws["line"].as_u64(), aws["column"].as_u64()),
        (Some(2), Some(21))
    );
    let code = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "source-code")
        .unwrap();
    assert_eq!(code["detail"]["language"], "cpp");
    assert_eq!(code["detail"]["lines"], 8);
    // The raw secret never appears in the output.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("AKIAQYLPMN5HJNGY4F7A"));
}

#[test]
fn clean_text_exits_zero_with_an_allow_verdict() {
    let out = leakguard(
        &["scan", "--json"],
        b"Please summarise the meeting notes from Tuesday.",
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    assert_eq!(v["verdict"], "allow");
}

#[test]
fn human_output_names_file_line_rule_and_masked_preview() {
    let dir = tempdir();
    let path = dir.join("prompt.txt");
    std::fs::write(
        &path,
        "line one\nkey: ghp_Zr3Fq7wKp2Lx9Ms4Tn6Bv8Cy1Dh5Jk3AQ3u1\n",
    )
    .unwrap();
    // Compute a checksum-valid token for the file instead of trusting a constant.
    let body = "Zr3Fq7wKp2Lx9Ms4Tn6Bv8Cy1Dh5Jk";
    let token = format!("ghp_{body}{}", base62_crc(body));
    std::fs::write(&path, format!("line one\nkey: {token}\n")).unwrap();
    let out = leakguard(&["scan", path.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("prompt.txt:2:6"), "{text}");
    assert!(text.contains("github-pat-token"), "{text}");
    assert!(text.contains("ghp_…"), "{text}");
    assert!(!text.contains(&token), "raw token printed: {text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict: block"));
}

#[test]
fn usage_and_io_errors_exit_two_with_a_clear_message() {
    let out = leakguard(&["scan", "/nonexistent/prompt.txt"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open /nonexistent/prompt.txt"));
    let out = leakguard(&["scan", "--no-such-flag"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = leakguard(&["scan", "--batch", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --json"));
}

#[test]
fn redact_replaces_values_and_keeps_the_rest() {
    let out = leakguard(&["scan", "--redact"], PROMPT.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("aws_access_key_id = [REDACTED:aws-access-key-id#1]"),
        "{text}"
    );
    assert!(text.contains("[REDACTED:credit-card-number#1]"), "{text}");
    assert!(!text.contains("AKIAQYLPMN5HJNGY4F7A") && !text.contains("4111 1111 1111 1111"));
    // Code stays unless asked for.
    assert!(text.contains("int Step(const Die& d) {"), "{text}");
    let out = leakguard(&["scan", "--redact", "--redact-code"], PROMPT.as_bytes());
    assert!(!String::from_utf8(out.stdout).unwrap().contains("int Step"));
}

#[test]
fn batch_mode_answers_each_line_and_survives_bad_ones() {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"prompt\":\"deploy with AKIAQYLPMN5HJNGY4F7A\"}")
        .unwrap();
    let gz_b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    // A compression bomb: 100 MiB of zeros gzipped to ~100 KiB.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb_b64 = base64::engine::general_purpose::STANDARD.encode(bomb.finish().unwrap());
    let input = format!(
        "{{\"id\":1,\"text\":\"clean text\"}}\n{{\"id\":\"b\",\"data_b64\":\"{gz_b64}\",\"content_encoding\":\"gzip\"}}\nnot json\n{{\"id\":4,\"data_b64\":\"{bomb_b64}\",\"content_encoding\":\"gzip\"}}\n{{\"id\":5,\"text\":\"mail jane.doe@acme-semi.com\"}}\n"
    );
    let out = leakguard(&["scan", "--json", "--batch", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2), "bad lines make the run exit 2");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "one answer per input line");
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["findings"].as_array().unwrap().len(), 0);
    assert_eq!(lines[1]["id"], "b");
    assert_eq!(lines[1]["findings"][0]["rule"], "aws-access-key-id");
    assert_eq!(lines[1]["verdict"], "block");
    assert!(lines[2]["error"]
        .as_str()
        .unwrap()
        .contains("not a JSON object"));
    assert!(
        lines[3]["error"]
            .as_str()
            .unwrap()
            .contains("compression bomb"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4]["findings"][0]["rule"], "email-address");
}

#[test]
fn binary_files_are_skipped_with_a_note_and_invalid_utf8_is_scanned() {
    let dir = tempdir();
    let bin = dir.join("blob.bin");
    std::fs::write(&bin, b"\x00\x01\x02AKIAQYLPMN5HJNGY4F7A\x00").unwrap();
    let out = leakguard(&["scan", bin.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("looks binary, skipped"));
    let out = leakguard(&["scan", "--binary", "--json", bin.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let bad = b"caf\xe9 \xff\xfe key AKIAQYLPMN5HJNGY4F7A end";
    let out = leakguard(&["scan", "--json"], bad);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        v["findings"][0]["start"], 12,
        "byte offset in the original, invalid bytes included"
    );
}

#[test]
fn large_input_streams_in_bounded_memory_and_keeps_offsets() {
    // 96 MiB of prose with a key every ~7 MiB, including right at the 8 MiB chunk borders.
    let para =
        "The review went well and the team agreed on the next steps for the launch in May.\n";
    let key = "aws_access_key_id = AKIAQYLPMN5HJNGY4F7A\n";
    let mut text = String::with_capacity(97 << 20);
    let mut expected = Vec::new();
    let mut next_key = (8 << 20) - 30;
    while text.len() < 96 << 20 {
        if text.len() >= next_key {
            expected.push(text.len() + 20);
            text.push_str(key);
            next_key += 7 << 20;
        } else {
            text.push_str(para);
        }
    }
    let dir = tempdir();
    let path = dir.join("big.txt");
    std::fs::write(&path, &text).unwrap();
    let out = leakguard(&["scan", "--json", "--stats", path.to_str().unwrap()], b"");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let starts: Vec<usize> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "aws-access-key-id")
        .map(|f| f["start"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        starts, expected,
        "every key found once, at its absolute offset"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak: u64 = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    assert!(
        peak < 80,
        "peak memory {peak} MiB for a 96 MiB input: not bounded"
    );
}

fn tempdir() -> leakguard_testkit::ScratchDir {
    leakguard_testkit::ScratchDir::new("leakguard-cli")
}

fn base62_crc(body: &str) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = A[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn fingerprint_index_built_and_used_through_scan() {
    let dir = tempdir();
    let repo = dir.join("repo/src");
    std::fs::create_dir_all(&repo).unwrap();
    // "Company code": real sources of this repository, copied into a tree with a .gitignore
    // and a vendored folder that must be skipped.
    let company = include_str!("../../detect/src/code/mod.rs");
    std::fs::write(repo.join("stage.rs"), company).unwrap();
    std::fs::create_dir_all(dir.join("repo/vendor")).unwrap();
    std::fs::write(
        dir.join("repo/vendor/lib.rs"),
        include_str!("../src/scan.rs"),
    )
    .unwrap();
    std::fs::write(dir.join("repo/.gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir_all(dir.join("repo/ignored")).unwrap();
    std::fs::write(
        dir.join("repo/ignored/x.rs"),
        include_str!("../src/batch.rs"),
    )
    .unwrap();
    std::fs::write(dir.join("salt"), "acme-salt-for-tests\n").unwrap();
    let index = dir.join("acme.lgfp");
    let out = leakguard(
        &[
            "fingerprint",
            "build",
            "--name",
            "acme-fw",
            "--salt-file",
            dir.join("salt").to_str().unwrap(),
            "--out",
            index.to_str().unwrap(),
            dir.join("repo").to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("indexed 1 code files"),
        "vendored and ignored files are skipped: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspect = leakguard(&["fingerprint", "inspect", index.to_str().unwrap()], b"");
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        text.contains("label:        acme-fw") && text.contains("x 8 bytes + "),
        "{text}"
    );
    // The index holds no source text.
    let bytes = std::fs::read(&index).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("fn classify"));

    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        r#"{"version":1,"rules":{"fingerprints":[{"index":"acme.lgfp","salt_file":"salt"}]}}"#,
    )
    .unwrap();
    let excerpt: String = company
        .lines()
        .skip(300)
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    let prompt = format!("Can you speed this up?\n\n{excerpt}\n\nThanks");
    let out = leakguard(
        &["scan", "--json", "--policy", policy.to_str().unwrap()],
        prompt.as_bytes(),
    );
    let v = json(&out);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "fingerprint:acme-fw")
        .unwrap_or_else(|| panic!("no fingerprint finding: {v}"));
    assert_eq!(f["category"], "classified");
    assert!(f["detail"]["matched_fraction"].as_f64().unwrap() > 0.5);
    // The salt may also sit in the policy itself; a wrong one is refused with a clear error.
    let inline = dir.join("inline.json");
    std::fs::write(&inline, r#"{"version":1,"rules":{"fingerprints":[{"index":"acme.lgfp","salt":"acme-salt-for-tests"}]}}"#).unwrap();
    let v = json(&leakguard(
        &["scan", "--json", "--policy", inline.to_str().unwrap()],
        prompt.as_bytes(),
    ));
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "fingerprint:acme-fw"));
    std::fs::write(&inline, r#"{"version":1,"rules":{"fingerprints":[{"index":"acme.lgfp","salt":"not-the-right-salt"}]}}"#).unwrap();
    let out = leakguard(
        &["scan", "--json", "--policy", inline.to_str().unwrap()],
        b"x",
    );
    assert_refused(&out, "salt does not match");
    // Unrelated code does not match.
    let other: String = include_str!("../src/scan.rs")
        .lines()
        .skip(100)
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    let v = json(&leakguard(
        &["scan", "--json", "--policy", policy.to_str().unwrap()],
        other.as_bytes(),
    ));
    assert!(!v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"].as_str().unwrap().starts_with("fingerprint:")));
    // A corrupt index is refused with a clear error.
    let mut broken = bytes.clone();
    let mid = broken.len() / 2;
    broken[mid] ^= 0xff;
    std::fs::write(&index, &broken).unwrap();
    let out = leakguard(
        &["scan", "--json", "--policy", policy.to_str().unwrap()],
        b"x",
    );
    assert_refused(&out, "checksum mismatch");
}

#[test]
fn policy_check_and_explain() {
    let dir = tempdir();
    let good = dir.join("good.json");
    std::fs::write(&good, include_str!("../../../policies/default.json")).unwrap();
    let out = leakguard(&["policy", "check", good.to_str().unwrap()], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("tests passed"));
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"version\": 1,\n  \"actions\": { \"categories\": { \"secret\": \"blok\" } }\n}\n",
    )
    .unwrap();
    let out = leakguard(&["policy", "check", bad.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json:3:") && err.contains("`blok` is not an action"),
        "{err}"
    );
    // A policy whose own test fails is refused.
    let failing = dir.join("failing.json");
    std::fs::write(
        &failing,
        r#"{"version":1,"tests":[{"text":"key AKIAQYLPMN5HJNGY4F7A","expect":"allow"}]}"#,
    )
    .unwrap();
    let out = leakguard(&["policy", "check", failing.to_str().unwrap()], b"");
    assert_refused(
        &out,
        "own test #0 (`tests[0]`, destination any) failed: expected allow",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("AKIAQYLPMN5HJNGY4F7A"),
        "the refusal never quotes the test's text: {said}"
    );
    // Explain names the deciding entry; the destination changes the decision.
    let card = "card 4111 1111 1111 1111";
    for (host, want) in [
        (
            "chatgpt.com",
            "verdict:     redact (by actions.categories.pii)",
        ),
        (
            "api.openai.com",
            "verdict:     audit (by actions.groups.enterprise-api.categories.pii)",
        ),
    ] {
        let out = leakguard(
            &["policy", "explain", "--text", card, "--destination", host],
            b"",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{host}: {text}");
    }
    // The schema printed is the one shipped.
    let out = leakguard(&["policy", "schema"], b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        include_str!("../../../policies/schema.json")
    );
}

#[test]
fn policy_signing_round_trip_and_refusals() {
    let dir = tempdir();
    let prefix = dir.join("it");
    let out = leakguard(
        &["policy", "keygen", "--out", prefix.to_str().unwrap()],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = dir.join("it.key");
    let public = dir.join("it.pub");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600,
            "the private key is 0600"
        );
    }
    let policy = dir.join("policy.json");
    std::fs::write(&policy, include_str!("../../../policies/default.json")).unwrap();
    let args = |cmd: &str| -> Output {
        leakguard(
            &[
                "policy",
                cmd,
                "--public-key",
                public.to_str().unwrap(),
                policy.to_str().unwrap(),
            ],
            b"",
        )
    };
    // Unsigned: refused when a key is pinned.
    let out = args("verify");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no signature"));
    let out = leakguard(
        &[
            "policy",
            "sign",
            "--key",
            key.to_str().unwrap(),
            policy.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(args("verify").status.code(), Some(0));
    assert_eq!(args("check").status.code(), Some(0));
    // Changed after signing: refused.
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text = text.replace("\"pii\": \"redact\"", "\"pii\": \"allow\"");
    std::fs::write(&policy, text).unwrap();
    let out = args("check");
    assert_refused(&out, "does not verify");
    // keygen never overwrites a key.
    let out = leakguard(
        &["policy", "keygen", "--out", prefix.to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn semiconductor_example_blocks_a_pasted_renamed_excerpt_of_its_own_code() {
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/examples/semiconductor.json"
    );
    let source = include_str!("../../../policies/examples/acme-src/wafer_stage.cpp");
    let excerpt: String = source
        .lines()
        .skip(38)
        .take(20)
        .collect::<Vec<_>>()
        .join("\n")
        .replace("target", "goal")
        .replace("die", "chip");
    let prompt = format!("can you make this faster?\n\n{excerpt}\n");
    let out = leakguard(
        &[
            "scan",
            "--json",
            "--policy",
            policy,
            "--destination",
            "api.openai.com",
        ],
        prompt.as_bytes(),
    );
    let v = json(&out);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "fingerprint:acme-fw"),
        "{v}"
    );
    assert_eq!(
        v["verdict"], "block",
        "fingerprint:* blocks even on the enterprise API"
    );
}

/// Company documents: a paragraph of one, reflowed into bullets, is recognised as document
/// text; the company's own words (a codename, an internal host), learned from its files and
/// absent from the public reference, catch new meeting notes that mention them.
#[test]
fn company_documents_and_their_vocabulary_are_learned_and_caught() {
    let dir = tempdir();
    let org = dir.join("org");
    std::fs::create_dir_all(org.join("notes")).unwrap();
    std::fs::create_dir_all(dir.join("public")).unwrap();
    let notes = [
        "Falcon weekly: the inspection line moves to bay four once the vibration survey is signed off. \
         Dana owns the survey and reports on yield.fab.internal every Friday before noon.",
        "Falcon risk review: the second reticle pod supplier missed two delivery windows in a row, \
         so purchasing will hold the order until the quality audit closes at the end of the month.",
        "Falcon budget: the pilot lots used eleven percent more resist than planned, which the \
         process team traces to the new coater recipe; see yield.fab.internal for the daily numbers.",
    ];
    for (i, n) in notes.iter().enumerate() {
        std::fs::write(org.join(format!("notes/week{i}.md")), n).unwrap();
    }
    // A Word file of the same organisation, read through the document reader.
    std::fs::write(
        org.join("notes/plan.docx"),
        leakguard_testkit::office::docx(&[
            "Falcon plan: the handover to manufacturing needs three signed reports from the \
             metrology group and a clean run of the full recipe on two consecutive shifts \
             (logged on yield.fab.internal).",
        ]),
    )
    .unwrap();
    std::fs::write(
        dir.join("public/reference.txt"),
        "The team met on Friday to review the budget, the supplier, the audit and the plan for \
         the month. Weekly reports, risk reviews, delivery windows and quality matter to every \
         manufacturing line.",
    )
    .unwrap();
    std::fs::write(dir.join("salt"), "acme-salt-for-tests\n").unwrap();
    let index = dir.join("acme.lgfp");
    let out = leakguard(
        &[
            "fingerprint",
            "build",
            "--name",
            "acme",
            "--salt-file",
            dir.join("salt").to_str().unwrap(),
            "--out",
            index.to_str().unwrap(),
            "--reference",
            dir.join("public").to_str().unwrap(),
            org.to_str().unwrap(),
        ],
        b"",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("and 4 documents"), "{err}");
    let terms = leakguard(&["fingerprint", "terms", index.to_str().unwrap()], b"");
    let listed = String::from_utf8_lossy(&terms.stdout);
    assert!(listed.contains("  falcon\n"), "{listed}");
    assert!(listed.contains("  yield.fab.internal\n"), "{listed}");
    assert!(
        !listed.contains("  friday\n"),
        "a common word is not a term: {listed}"
    );
    // The dictionary shipped with the policy holds hashes only.
    let dictionary = std::fs::read_to_string(dir.join("acme.lgfp.terms.json")).unwrap();
    assert!(!dictionary.to_lowercase().contains("falcon"));
    let policy = dir.join("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"version":1,"rules":{{"fingerprints":[{{"index":"acme.lgfp","salt_file":"salt"}}],"dictionaries":[{dictionary}]}}}}"#
        ),
    )
    .unwrap();
    let scan = |text: &str| -> Vec<serde_json::Value> {
        let v = json(&leakguard(
            &["scan", "--json", "--policy", policy.to_str().unwrap()],
            text.as_bytes(),
        ));
        v["findings"].as_array().unwrap().clone()
    };
    // A paragraph of the risk review, as bullet points in capitals, the codename left out.
    let bullets = "Summary for the vendor call:\n- THE SECOND RETICLE POD SUPPLIER MISSED TWO DELIVERY WINDOWS IN A ROW\n- SO PURCHASING WILL HOLD THE ORDER UNTIL THE QUALITY AUDIT CLOSES AT THE END OF THE MONTH\n";
    let found = scan(bullets);
    let doc = found
        .iter()
        .find(|f| f["rule"] == "fingerprint:acme")
        .unwrap_or_else(|| panic!("no document match: {found:?}"));
    assert_eq!(doc["detail"]["fingerprint"], "document");
    assert_eq!(doc["category"], "classified");
    // New notes, never indexed, that name the project and its host.
    let fresh = "Notes from today: Falcon slips a week; check yield.fab.internal tomorrow.";
    let found = scan(fresh);
    let rules: Vec<&str> = found.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(
        rules
            .iter()
            .filter(|r| **r == "dictionary:acme-terms")
            .count()
            >= 2,
        "{rules:?}"
    );
    // Unrelated prose matches nothing of the company's.
    let found = scan("The weekly report from the gardening club: tomatoes did well this month, and the audit of the shed closes on Friday.");
    assert!(
        !found.iter().any(|f| {
            let r = f["rule"].as_str().unwrap();
            r.starts_with("fingerprint:") || r.starts_with("dictionary:")
        }),
        "{found:?}"
    );
}
