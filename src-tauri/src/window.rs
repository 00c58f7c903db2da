//! The main window. It is made when it is first shown (not at a `--hidden` start at login) and
//! destroyed when the user closes it: WebKit's web process, most of the app's memory, runs
//! only while there is a window (its network process stays: WebKitGTK cannot end it). The app and its tray stay (`lib.rs` keeps the
//! app running when its last window closes); protection never depended on either. The window
//! state plugin puts a new window where the last one was.

use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder};

/// The window's label in tauri.conf.json.
pub const MAIN: &str = "main";

/// Shows the main window, making it first if there is none.
pub fn show(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN) {
        Some(w) => w,
        None => match create(app) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("leakguard-desktop: the window could not be opened: {e}");
                return;
            }
        },
    };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

/// The main window, if it is open.
pub fn get(app: &AppHandle) -> Option<WebviewWindow> {
    app.get_webview_window(MAIN)
}

fn create(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or_else(|| tauri::Error::WindowNotFound)?;
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    #[cfg(target_os = "linux")]
    {
        // One local page, no browsing: WebKit's smallest caches.
        let _ = window.with_webview(|wv| {
            use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
            if let Some(ctx) = wv.inner().web_context() {
                ctx.set_cache_model(CacheModel::DocumentViewer);
            }
        });
    }
    Ok(window)
}
