//! `leakguard`: the command line of Leakguard.
//!
//! `leakguard scan` finds secrets, personal data, source code and classified content in files
//! or stdin; `leakguard rules` lists and tests the detection rules; `leakguard dictionary hash`
//! prepares hashed codename dictionaries for a policy; `leakguard run` starts the guard (the
//! local proxy), `leakguard ca` manages its device CA and `leakguard allow` lets a warned prompt
//! through once, `leakguard events` shows and exports what it recorded.
//!
//! Exit codes: 0 nothing found, 1 findings, 2 usage or I/O error.

mod batch;
mod deploy_cmd;
mod events_cmd;
mod fingerprint;
mod guard;
mod output;
mod scan;
mod signing;

use anyhow::Result;
use clap::{Parser, Subcommand};
use leakguard_agent::policy;
use leakguard_types::Clock;
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
    /// Run the guard: the local proxy that inspects prompts to LLM services.
    Run(guard::RunArgs),
    /// The guard as a service (what the installers register): `service run`.
    Service {
        #[command(subcommand)]
        command: guard::ServiceCommand,
    },
    /// Is the running guard protecting this device? (asks it over its control channel)
    Status(guard::StatusArgs),
    /// Pause protection for N minutes where the policy allows it (0 resumes), or with an
    /// unlock code from IT.
    Pause(guard::PauseArgs),
    /// Stop the running guard, where the policy allows it or with an unlock code from IT.
    Stop(guard::StopArgs),
    /// Trust the device CA on this machine (system store, browsers, runtimes, Java), or check it.
    Trust {
        #[command(subcommand)]
        command: deploy_cmd::TrustCommand,
    },
    /// Route LLM traffic to the guard (desktop proxy settings, environment, browser policies).
    Proxy {
        #[command(subcommand)]
        command: deploy_cmd::ProxyCommand,
    },
    /// Set this user up in one step: the device CA, trusted (browsers, runtimes; the system
    /// store and Java too as administrator), and LLM traffic routed to the guard. `--undo`
    /// reverses it.
    Setup(deploy_cmd::SetupArgs),
    /// Print the environment for shells, SDKs and coding assistants: `eval "$(leakguard env)"`.
    Env(deploy_cmd::EnvArgs),
    /// Check this machine end to end: service, trust, routing, and a real TLS request through the
    /// guard from every client installed (curl, node, python, java, chromium).
    Doctor(deploy_cmd::DoctorArgs),
    /// Create, show or rotate the device CA.
    Ca {
        #[command(subcommand)]
        command: guard::CaCommand,
    },
    /// Allow a warned prompt once (the code is in the warning).
    Allow(guard::AllowArgs),
    /// What the guard recorded: list, show, stats, export, SIEM targets, usage.
    Events {
        #[command(subcommand)]
        command: events_cmd::EventsCommand,
    },
    /// Scan files or stdin for secrets, personal data, source code and classified content.
    Scan(scan::ScanArgs),
    /// List or test the detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Check, explain or print the schema of a policy file.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
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
enum PolicyCommand {
    /// Validate policy files: JSON path, line, column and a hint for every error; the
    /// policy's own tests must pass. Exit 0 when all are good, 2 otherwise.
    Check {
        /// Pinned public key: each policy must carry a valid POLICY.sig.
        #[arg(long)]
        public_key: Option<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show the decision for a text: each finding's action and the policy entry that decided.
    Explain {
        /// Local policy file (default: the shipped default). A managed policy installed on
        /// this machine outranks it, as in `leakguard run`.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The text (default: stdin).
        #[arg(long)]
        text: Option<String>,
        /// The host it would be sent to.
        #[arg(long)]
        destination: Option<String>,
    },
    /// Print the policy's JSON Schema (policies/schema.json).
    Schema,
    /// Make a signing key pair: PREFIX.key (private, mode 0600; keep it off the laptops) and
    /// PREFIX.pub (pin it on every laptop at install time).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a policy file: writes POLICY.sig next to it.
    Sign {
        #[arg(long)]
        key: PathBuf,
        policy: PathBuf,
    },
    /// Make a one-time unlock code for one device (the helpdesk's answer to a user whose
    /// policy does not let them stop or pause Leakguard): signed with the private key whose
    /// public half is the policy's `controls.unlock_key`; the user runs `leakguard stop --code`
    /// or `leakguard pause --code`.
    UnlockCode {
        /// The private key (`policy keygen`'s `.key`; keep a separate pair for unlock codes).
        #[arg(long)]
        key: PathBuf,
        /// The device's name, as its events and `leakguard status` show it.
        #[arg(long)]
        device: String,
        /// The code lets the user stop the guard.
        #[arg(
            long,
            conflicts_with = "pause_minutes",
            required_unless_present = "pause_minutes"
        )]
        stop: bool,
        /// The code lets the user pause for this many minutes.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        pause_minutes: Option<u16>,
        /// Minutes the user has to use the code.
        #[arg(long, default_value_t = 60)]
        valid_minutes: u32,
    },
    /// Verify POLICY.sig against a public key. Exit 0 when it verifies, 2 otherwise.
    Verify {
        #[arg(long)]
        public_key: PathBuf,
        policy: PathBuf,
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

/// Today as days since 1970-01-01 (UTC), for exception expiry and the policies' own tests.
pub fn today() -> u32 {
    leakguard_types::SystemClock.today()
}

/// A request allocates many small short-lived buffers on two worker threads at once, which
/// jemalloc serves with less CPU than glibc's malloc (6 % less per request, docs/proxy.md).
#[cfg(unix)]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        Command::Run(args) => guard::run(args, guard::Front::Terminal).map(|()| ExitCode::SUCCESS),
        Command::Service {
            command: guard::ServiceCommand::Run(args),
        } => guard::run(args, guard::Front::Service).map(|()| ExitCode::SUCCESS),
        Command::Service {
            command: guard::ServiceCommand::Install(args),
        } => deploy_cmd::service_install(args),
        Command::Service {
            command: guard::ServiceCommand::Uninstall(args),
        } => deploy_cmd::service_uninstall(args),
        Command::Service {
            command: guard::ServiceCommand::Status(args),
        } => deploy_cmd::service_status(args),
        Command::Trust { command } => deploy_cmd::trust(command),
        Command::Proxy { command } => deploy_cmd::proxy(command),
        Command::Env(args) => deploy_cmd::env(args),
        Command::Setup(args) => deploy_cmd::setup(args),
        Command::Doctor(args) => deploy_cmd::doctor(args),
        Command::Status(args) => guard::status(args).map(|()| ExitCode::SUCCESS),
        Command::Pause(args) => guard::pause(args).map(|()| ExitCode::SUCCESS),
        Command::Stop(args) => guard::stop(args).map(|()| ExitCode::SUCCESS),
        Command::Ca { command } => guard::ca(command).map(|()| ExitCode::SUCCESS),
        Command::Allow(args) => guard::allow(args).map(|()| ExitCode::SUCCESS),
        Command::Events { command } => events_cmd::run(command).map(|()| ExitCode::SUCCESS),
        Command::Rules {
            command: RulesCommand::List { policy, json },
        } => {
            let engine = policy::files::with_engine(policy.as_deref(), today())?.1;
            output::list_rules(&engine, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::Test { policy },
        } => {
            let engine = policy::files::with_engine(policy.as_deref(), today())?.1;
            let failures = output::test_rules(&engine);
            Ok(if failures == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Policy {
            command: PolicyCommand::Check { public_key, files },
        } => {
            let mut bad = 0;
            for f in &files {
                if let Some(key) = &public_key {
                    if let Err(e) = signing::verify_file(f, key) {
                        bad += 1;
                        eprintln!("{e:#}");
                        continue;
                    }
                    if let Err(e) = policy::files::require_covered(f) {
                        bad += 1;
                        eprintln!("{e}");
                        continue;
                    }
                }
                match policy::files::with_engine(Some(f), today()) {
                    Ok((p, _)) => println!(
                        "{}: ok ({} destination groups, {} tests passed)",
                        f.display(),
                        p.destinations.len(),
                        p.tests.len()
                    ),
                    Err(e) => {
                        bad += 1;
                        eprintln!("{e:#}");
                    }
                }
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Policy {
            command:
                PolicyCommand::Explain {
                    policy,
                    text,
                    destination,
                },
        } => {
            // The policy in force on this laptop: the managed one (if installed) tightened by
            // the given local file, exactly as `leakguard run` would enforce it.
            let loaded = policy::load(&policy::Sources::discover(policy.clone()), today())?;
            let text = match text {
                Some(t) => t,
                None => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                    s
                }
            };
            let findings = loaded.engine.scan(&text);
            let v = loaded.effective.decide(
                &findings,
                destination.as_deref(),
                &leakguard_policy::RequestMeta {
                    today: today(),
                    ..Default::default()
                },
            );
            println!("policy:      {}", loaded.label);
            println!(
                "destination: {} (group: {})",
                destination.as_deref().unwrap_or("(none)"),
                v.group.as_deref().unwrap_or("none")
            );
            for (f, d) in findings.iter().zip(&v.findings) {
                println!(
                    "  {:<32} {:<8} {:<8} by {}",
                    f.rule,
                    f.preview,
                    d.action.as_str(),
                    d.by
                );
            }
            println!("verdict:     {} (by {})", v.action, v.by);
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            command: PolicyCommand::Keygen { out },
        } => {
            signing::keygen(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            command:
                PolicyCommand::UnlockCode {
                    key,
                    device,
                    stop,
                    pause_minutes,
                    valid_minutes,
                },
        } => {
            let action = match (stop, pause_minutes) {
                (true, _) | (false, None) => leakguard_policy::unlock::UnlockAction::Stop,
                (false, Some(minutes)) => leakguard_policy::unlock::UnlockAction::Pause { minutes },
            };
            println!(
                "{}",
                signing::unlock_code(&key, &device, action, valid_minutes)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            command: PolicyCommand::Sign { key, policy },
        } => {
            signing::sign_file(&policy, &key)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            command: PolicyCommand::Verify { public_key, policy },
        } => match signing::verify_file(&policy, &public_key) {
            Ok(()) => {
                println!("{}: signature ok", policy.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Policy {
            command: PolicyCommand::Schema,
        } => {
            print!("{}", leakguard_policy::Policy::schema_json());
            Ok(ExitCode::SUCCESS)
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
