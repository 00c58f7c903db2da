// The desktop app: no console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's settings (memory): before GTK, WebKit or any thread starts.
    #[cfg(target_os = "linux")]
    leakguard_desktop::webkit_env::prepare();
    leakguard_desktop::run();
}
