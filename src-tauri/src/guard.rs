//! The guard the app talks to: the running service over its control channel, or, when none
//! answers, a guard this app starts in its own process (and says so in Health). Either way the
//! app holds one `dyn Control`; nothing here decides anything.

use leakguard_agent::control::Client;
use leakguard_agent::{Agent, Config, Control, Notices};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the app is connected to.
pub struct Guard {
    pub control: Arc<dyn Control>,
    /// The in-process guard, when the app started it (stopped when the app quits; a service
    /// is never stopped by the app).
    pub own: Mutex<Option<Agent>>,
    pub info: AppInfo,
}

/// How the app reached the guard (shown in Health).
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// The app started the guard itself: no service answered.
    pub started_guard: bool,
    pub data_dir: String,
    pub control: String,
}

/// Connects to the service on this user's data dir, or starts a guard in process.
/// `open` receives the `leakguard://` links of the in-process guard's notifications.
pub async fn connect_or_start(
    data_dir: PathBuf,
    open: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Guard, String> {
    if let Ok(client) = Client::for_data_dir(&data_dir) {
        let answered = tokio::time::timeout(Duration::from_secs(3), client.health()).await;
        if let Ok(Ok(health)) = answered {
            return Ok(Guard {
                control: Arc::new(client),
                own: Mutex::new(None),
                info: AppInfo {
                    started_guard: false,
                    data_dir: data_dir.display().to_string(),
                    control: health.control,
                },
            });
        }
    }
    let mut config = Config::new(data_dir.clone());
    if let Some(listen) = std::env::var("LEAKGUARD_LISTEN")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.listen = listen;
    }
    let agent = Agent::start(config, Notices::Desktop { open })
        .await
        .map_err(|e| format!("Leakguard could not start its guard ({}): {e}", e.code()))?;
    let info = AppInfo {
        started_guard: true,
        data_dir: data_dir.display().to_string(),
        control: agent.control_location(),
    };
    Ok(Guard {
        control: Arc::new(agent.clone()),
        own: Mutex::new(Some(agent)),
        info,
    })
}
