//! Leakguard's desktop app: a tray and a window over the guard's control surface
//! (`leakguard_agent::Control`). It connects to the guard that runs as a service, or starts
//! one in process when none answers; protection never depends on the window being open
//! (closing it keeps the tray) and quitting never stops a service-run guard.
//!
//! Live events are pushed to the window (`lg://event`) from the guard's subscription; the tray
//! is redrawn on each. `leakguard://` links arrive by the deep-link plugin, a second launch
//! (single instance) or the in-process guard's notifications, and are handed to the window.

mod commands;
mod guard;
mod links;
mod tray;
#[cfg(target_os = "linux")]
pub mod webkit_env;
mod window;

use leakguard_agent::Subscribe;
use std::sync::Arc;
use tauri::{Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;

/// Runs the app until the user quits it.
pub fn run() {
    let app = tauri::Builder::default()
        // A second launch (or a link opened while running) goes to this instance.
        .plugin(tauri_plugin_single_instance::init(
            |app, argv, _cwd| match argv.iter().find(|a| links::is_link(a)) {
                Some(link) => links::open(app, link),
                None => window::show(app),
            },
        ))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--hidden"]),
        ))
        .manage(links::Pending::default())
        .setup(|app| {
            let handle = app.handle().clone();
            let data_dir = leakguard_agent::default_data_dir();
            let for_links = handle.clone();
            let open: Arc<dyn Fn(&str) + Send + Sync> =
                Arc::new(move |link: &str| links::open(&for_links, link));
            let guard = tauri::async_runtime::block_on(guard::connect_or_start(data_dir, open))?;
            let started_guard = guard.info.started_guard;
            // A guard this app runs that a user stopped (`leakguard stop`, as the policy
            // allows or with an unlock code): the app goes with it.
            let own = guard.own.lock().expect("own guard").clone();
            if let Some(agent) = own {
                let for_stop = handle.clone();
                tauri::async_runtime::spawn(async move {
                    agent.stop_requested().await;
                    for_stop.exit(0);
                });
            }
            app.manage(guard);
            // The window first, so its page loads while the rest is set up. Started at login
            // (`--hidden`): the tray only, the window when it is asked for.
            if !std::env::args().any(|a| a == "--hidden") {
                window::show(&handle);
            }

            // Autostart at login only when no service protects this user.
            if started_guard && std::env::var_os("LEAKGUARD_NO_AUTOSTART").is_none() {
                use tauri_plugin_autostart::ManagerExt;
                let _ = app.autolaunch().enable();
            }
            // Links: the one the app was started with, and those that come later.
            if let Some(link) = std::env::args().find(|a| links::is_link(a)) {
                links::open(&handle, &link);
            }
            let for_urls = handle.clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    links::open(&for_urls, url.as_str());
                }
            });
            #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
            {
                // Installed packages register the scheme; a build run from the tree does it here.
                let _ = app.deep_link().register_all();
            }
            tray::build(&handle)?;
            spawn_live_events(handle.clone());
            spawn_tray_clock(handle);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window destroys it (WebKit's processes exit with it); the app and
            // its tray stay (`RunEvent::ExitRequested` below). Where it was is kept now, not
            // only when the app quits.
            if let WindowEvent::Destroyed = event {
                use tauri_plugin_window_state::{AppHandleExt, StateFlags};
                let app = window.app_handle();
                let _ = app.save_window_state(StateFlags::all());
                // A link the closed window was given is not opened again by the next one.
                if let Some(p) = app.try_state::<links::Pending>() {
                    p.0.lock().expect("pending link").take();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::health,
            commands::events,
            commands::event,
            commands::stats,
            commands::usage,
            commands::export_events,
            commands::policy_in_force,
            commands::pause,
            commands::allow_once,
            commands::explain,
            commands::report_false_positive,
            commands::describe_rules,
            links::pending_link,
        ])
        .build(tauri::generate_context!())
        .expect("the app's configuration is valid (tauri.conf.json)");
    app.run(|app, event| {
        // The last window closed (no exit code): the app stays in the tray. Quit from the
        // tray, a stopped in-process guard or the system's logout still exit (with a code).
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = &event
        {
            api.prevent_exit();
        }
        if let RunEvent::Exit = event {
            // A guard this app started stops with it; a service is left running.
            let own = app
                .state::<guard::Guard>()
                .own
                .lock()
                .expect("own guard")
                .take();
            if let Some(agent) = own {
                tauri::async_runtime::block_on(agent.stop());
            }
        }
    });
}

/// Pushes every recorded event to the window and redraws the tray; reconnects when the
/// guard's stream ends (a service restarting).
fn spawn_live_events(app: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            let control = app.state::<guard::Guard>().control.clone();
            tray::refresh(&app).await;
            if let Ok(mut sub) = control.subscribe(Subscribe::default()).await {
                while let Some(event) = sub.next().await {
                    let _ = app.emit("lg://event", &event);
                    tray::refresh(&app).await;
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

/// Redraws the tray once a minute, for a pause's time left.
fn spawn_tray_clock(app: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            tray::refresh(&app).await;
        }
    });
}
