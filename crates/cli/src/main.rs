//! `leakguard`: the command line of Leakguard.
//!
//! `leakguard scan` finds secrets, personal data, source code and classified content in files
//! or stdin; `leakguard rules` lists and tests the detection rules; `leakguard dictionary hash`
//! prepares hashed codename dictionaries for a policy. Later issues add `run`, `ca`, `policy`
//! and `events` here.
//!
//! Exit codes: 0 nothing found, 1 findings, 2 usage or I/O error.

mod batch;
mod fingerprint;
mod output;
mod policy_file;
mod scan;
mod verdict;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "leakguard",
    version,
    about = "Stops secrets, personal data and proprietary code from leaving in prompts to LLM services."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files or stdin for secrets, personal data, source code and classified content.
    Scan(scan::ScanArgs),
    /// List or test the detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Build or inspect fingerprint indexes of the organisation's code.
    Fingerprint {
        #[command(subcommand)]
        command: fingerprint::FingerprintCommand,
    },
    /// Prepare organisation dictionaries for a policy.
    Dictionary {
        #[command(subcommand)]
        command: DictionaryCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// List every rule with its pack, category and severity.
    List {
        /// Policy whose `rules` section adds, removes or tunes rules.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run every rule's examples (including custom rules from a policy); exit 1 on a failure.
    Test {
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DictionaryCommand {
    /// Print the salted hashes of terms, for `rules.dictionaries[].hashed` in a policy, so the
    /// policy does not spell out the codenames.
    Hash {
        /// The organisation's salt (at least 8 characters); keep it with the policy.
        #[arg(long)]
        salt: String,
        /// Longest term in words (written into the output).
        #[arg(long, default_value_t = 3)]
        max_words: usize,
        /// The terms, e.g. project codenames.
        #[arg(required = true)]
        terms: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("leakguard: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Rules {
            command: RulesCommand::List { policy, json },
        } => {
            let engine = policy_file::engine(policy.as_deref())?;
            output::list_rules(&engine, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::Test { policy },
        } => {
            let engine = policy_file::engine(policy.as_deref())?;
            let failures = output::test_rules(&engine);
            Ok(if failures == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Fingerprint { command } => {
            fingerprint::run(command)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dictionary {
            command:
                DictionaryCommand::Hash {
                    salt,
                    max_words,
                    terms,
                },
        } => {
            anyhow::ensure!(salt.len() >= 8, "--salt must be at least 8 characters");
            let hashes: Vec<String> = terms
                .iter()
                .map(|t| leakguard_detect::hash_term(&salt, t))
                .collect();
            let snippet =
                serde_json::json!({ "salt": salt, "max_words": max_words, "hashes": hashes });
            println!("{}", serde_json::to_string_pretty(&snippet)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
