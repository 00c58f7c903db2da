// Every command the UI may call is declared here, so that the capability file can allow them
// one by one (a command not listed in `capabilities/` cannot be invoked).
const COMMANDS: &[&str] = &[
    "app_info",
    "health",
    "events",
    "event",
    "stats",
    "usage",
    "export_events",
    "policy_in_force",
    "pause",
    "allow_once",
    "explain",
    "report_false_positive",
    "describe_rules",
    "pending_link",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("the Tauri build step (tauri.conf.json, capabilities, icons)");
}
