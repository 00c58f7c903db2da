//! The UI's commands: deserialise, one call into the guard, the error as `{code, message}`.
//! No SQL, no rules, no policy logic here.

use crate::guard::{AppInfo, Guard};
use leakguard_agent::{
    Allowed, ControlError, Explanation, ExportFormat, ExportRequest, Exported, Health, PauseState,
    PolicyInForce, RuleDescription, StatsQuery,
};
use leakguard_store::{Filter, Page, Stats, StoredEvent, UsageRow};
use serde::Deserialize;
use tauri::{AppHandle, State};

type Answer<T> = Result<T, ControlError>;

#[tauri::command]
pub fn app_info(guard: State<'_, Guard>) -> AppInfo {
    guard.info.clone()
}

#[tauri::command]
pub async fn health(guard: State<'_, Guard>) -> Answer<Health> {
    guard.control.health().await
}

#[tauri::command]
pub async fn events(guard: State<'_, Guard>, filter: Filter) -> Answer<Page> {
    guard.control.events(filter).await
}

#[tauri::command]
pub async fn event(guard: State<'_, Guard>, id: String) -> Answer<Option<StoredEvent>> {
    guard.control.event(id).await
}

#[tauri::command]
pub async fn stats(guard: State<'_, Guard>, query: StatsQuery) -> Answer<Stats> {
    guard.control.stats(query).await
}

#[tauri::command]
pub async fn usage(guard: State<'_, Guard>, since_day: String) -> Answer<Vec<UsageRow>> {
    guard.control.usage(since_day).await
}

/// What the Events view's Export buttons send: the filter and the format. Where the file goes
/// is the user's choice in the system's save dialog, never the page's.
#[derive(Debug, Deserialize)]
pub struct ExportAsk {
    filter: Filter,
    format: ExportFormat,
}

/// Asks where to save with the system's save dialog, then has the guard write the events
/// there. `None`: the user cancelled.
#[tauri::command]
pub async fn export_events(
    app: AppHandle,
    guard: State<'_, Guard>,
    request: ExportAsk,
) -> Answer<Option<Exported>> {
    use tauri_plugin_dialog::DialogExt;
    let (ext, kind) = match request.format {
        ExportFormat::Jsonl => ("jsonl", "JSON lines"),
        ExportFormat::Csv => ("csv", "CSV"),
    };
    let mut dialog = app
        .dialog()
        .file()
        .set_title("Export events")
        .set_file_name(format!("leakguard-events.{ext}"))
        .add_filter(kind, &[ext]);
    if let Some(window) = crate::window::get(&app) {
        dialog = dialog.set_parent(&window);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.save_file(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path = picked.into_path().map_err(|e| {
        ControlError::new(
            "export_path",
            format!("The save dialog gave no file path ({e}); choose a local folder."),
        )
    })?;
    guard
        .control
        .export(ExportRequest {
            filter: request.filter,
            format: request.format,
            path: path.to_string_lossy().into_owned(),
        })
        .await
        .map(Some)
}

#[tauri::command]
pub async fn policy_in_force(guard: State<'_, Guard>) -> Answer<PolicyInForce> {
    guard.control.policy_in_force().await
}

#[tauri::command]
pub async fn pause(guard: State<'_, Guard>, minutes: u32) -> Answer<PauseState> {
    guard.control.pause(minutes, None).await
}

#[tauri::command]
pub async fn allow_once(guard: State<'_, Guard>, code: String, reason: String) -> Answer<Allowed> {
    guard.control.allow_once(code, reason).await
}

#[tauri::command]
pub async fn explain(
    guard: State<'_, Guard>,
    text: String,
    destination: Option<String>,
) -> Answer<Explanation> {
    guard.control.explain(text, destination).await
}

#[tauri::command]
pub async fn report_false_positive(guard: State<'_, Guard>, event_id: String) -> Answer<()> {
    guard.control.report_false_positive(event_id).await
}

#[tauri::command]
pub async fn describe_rules(
    guard: State<'_, Guard>,
    ids: Vec<String>,
) -> Answer<Vec<RuleDescription>> {
    guard.control.describe_rules(ids).await
}
