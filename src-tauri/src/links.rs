//! `leakguard://` links (a notification's "View details" and "Allow once…", the tray, a second
//! launch): shown to the window, which routes them (ui/src/lib/links.ts).

use std::sync::Mutex;
use tauri::{AppHandle, Emitter, Manager};

/// A link that arrived before the window listened (the app was started by the link).
#[derive(Default)]
pub struct Pending(pub Mutex<Option<String>>);

/// Whether `arg` is one of our links (anything else on a command line is ignored).
pub fn is_link(arg: &str) -> bool {
    arg.len() <= 512 && arg.starts_with("leakguard://")
}

/// Shows the window and hands it the link.
pub fn open(app: &AppHandle, link: &str) {
    if !is_link(link) {
        return;
    }
    eprintln!("leakguard-desktop: opening {link}");
    crate::window::show(app);
    if let Some(p) = app.try_state::<Pending>() {
        *p.0.lock().expect("pending link") = Some(link.to_string());
    }
    let _ = app.emit("lg://link", link.to_string());
}

/// The link the window has not taken yet, once.
#[tauri::command]
pub fn pending_link(pending: tauri::State<'_, Pending>) -> Option<String> {
    pending.0.lock().expect("pending link").take()
}

#[cfg(test)]
mod tests {
    use super::is_link;

    #[test]
    fn only_our_scheme_is_a_link() {
        assert!(is_link("leakguard://events/0123abcd"));
        assert!(!is_link("--hidden"));
        assert!(!is_link("https://evil.example/leakguard://x"));
        assert!(!is_link(&format!("leakguard://{}", "a".repeat(600))));
    }
}
