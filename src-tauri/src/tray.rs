//! The tray icon: its colour and tooltip (on Linux, the menu's first line: a StatusNotifierItem
//! has no tooltip) show the state (protected, paused with the time left, degraded with the
//! first reason, guard unreachable); its menu opens the app, pauses for the
//! minutes the policy allows, lists recent blocks and quits. Refreshed on every live event and
//! once a minute (for a pause's time left).

use crate::guard::Guard;
use crate::links;
use leakguard_agent::Protection;
use leakguard_store::Filter;
use tauri::image::Image;
use tauri::menu::{Menu, MenuBuilder, MenuItemBuilder, SubmenuBuilder};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

/// The tray's look for a state: (red, green, blue) of the dot and the tooltip.
pub fn look(state: Option<(Protection, &[String], Option<i64>)>, now_ms: i64) -> ([u8; 3], String) {
    match state {
        None => (
            [0x9a, 0xa4, 0xb0],
            "Leakguard: the guard is not reachable — open the app to see why".into(),
        ),
        Some((Protection::Protected, _, _)) => ([0x1e, 0x9d, 0x3c], "Leakguard: protected".into()),
        Some((Protection::Paused, _, until)) => {
            let left = until.map_or(0, |u| ((u - now_ms).max(0) + 59_999) / 60_000);
            (
                [0xe0, 0x9a, 0x10],
                format!("Leakguard: paused, {left} min left"),
            )
        }
        Some((Protection::Degraded, reasons, _)) => (
            [0xd0, 0x30, 0x30],
            format!(
                "Leakguard: not fully protected — {}",
                reasons
                    .first()
                    .map_or("open the app to see why", String::as_str)
            ),
        ),
    }
}

/// A 32×32 tray image: a filled dot of `rgb` with a white rim, transparent around it.
pub fn dot(rgb: [u8; 3]) -> Image<'static> {
    const N: usize = 32;
    let mut px = vec![0u8; N * N * 4];
    for y in 0..N {
        for x in 0..N {
            let (dx, dy) = (x as f32 - 15.5, y as f32 - 15.5);
            let d = (dx * dx + dy * dy).sqrt();
            let at = (y * N + x) * 4;
            if d <= 12.0 {
                px[at..at + 4].copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            } else if d <= 14.5 {
                px[at..at + 4].copy_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
    Image::new_owned(px, N as u32, N as u32)
}

fn menu(
    app: &AppHandle,
    state: &str,
    pause_max: u32,
    paused: bool,
    quit: Quit,
    recent: &[(String, String)],
) -> tauri::Result<Menu<Wry>> {
    // The state first, as a line that cannot be clicked: on Linux a StatusNotifierItem has no
    // tooltip, so this is where the words go (the dot's colour says the same).
    let mut b = MenuBuilder::new(app)
        .item(
            &MenuItemBuilder::with_id("state", state.trim_start_matches("Leakguard: "))
                .enabled(false)
                .build(app)?,
        )
        .separator()
        .item(&MenuItemBuilder::with_id("open", "Open Leakguard").build(app)?);
    if paused {
        b = b.item(&MenuItemBuilder::with_id("resume", "Resume protection").build(app)?);
    } else if pause_max > 0 {
        for m in [15u32, 30, 60].into_iter().filter(|m| *m <= pause_max) {
            b = b.item(
                &MenuItemBuilder::with_id(format!("pause:{m}"), format!("Pause for {m} minutes"))
                    .build(app)?,
            );
        }
        if ![15, 30, 60].contains(&pause_max) {
            b = b.item(
                &MenuItemBuilder::with_id(
                    format!("pause:{pause_max}"),
                    format!("Pause for {pause_max} minutes"),
                )
                .build(app)?,
            );
        }
    }
    let mut sub = SubmenuBuilder::new(app, "Recent blocks");
    if recent.is_empty() {
        sub = sub.item(
            &MenuItemBuilder::with_id("none", "None")
                .enabled(false)
                .build(app)?,
        );
    }
    for (id, label) in recent {
        sub = sub.item(&MenuItemBuilder::with_id(format!("event:{id}"), label).build(app)?);
    }
    b.item(&sub.build()?)
        .separator()
        .item(&quit_item(app, quit)?)
        .build()
}

/// Whether Quit stops protection, and whether the policy lets the user do that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quit {
    /// A service runs the guard: quitting the app leaves it running.
    LeavesService,
    /// The app runs the guard and the policy lets the user stop it.
    StopsGuard,
    /// The app runs the guard and the policy does not let the user stop it (`controls.quit`).
    NotAllowed,
}

fn quit_item(app: &AppHandle, quit: Quit) -> tauri::Result<tauri::menu::MenuItem<Wry>> {
    let (label, enabled) = match quit {
        Quit::LeavesService => ("Quit (protection continues: a service runs it)", true),
        Quit::StopsGuard => ("Quit and stop protection", true),
        Quit::NotAllowed => (
            "Quit: not allowed by your organisation (ask IT for an unlock code)",
            false,
        ),
    };
    MenuItemBuilder::with_id("quit", label)
        .enabled(enabled)
        .build(app)
}

/// Makes the tray icon.
pub fn build(app: &AppHandle) -> tauri::Result<TrayIcon> {
    let (rgb, tip) = look(None, 0);
    TrayIconBuilder::with_id("main")
        .icon(dot(rgb))
        .tooltip(&tip)
        .menu(&menu(app, &tip, 0, false, Quit::LeavesService, &[])?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "open" => crate::window::show(app),
        "quit" => quit(app),
        "resume" => pause(app, 0),
        _ => {
            if let Some(m) = id.strip_prefix("pause:").and_then(|m| m.parse().ok()) {
                pause(app, m);
            } else if let Some(ev) = id.strip_prefix("event:") {
                links::open(app, &format!("leakguard://events/{ev}"));
            }
        }
    }
}

/// Quit: a guard this app runs is stopped through the agent (which records it and refuses
/// where the policy does not allow it); a service is left running.
fn quit(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let guard = app.state::<Guard>();
        if !guard.info.started_guard {
            app.exit(0);
            return;
        }
        let control = guard.control.clone();
        if control.stop(None).await.is_ok() {
            app.exit(0);
        } else {
            // Refused (and recorded): the menu is redrawn with the reason.
            refresh(&app).await;
        }
    });
}

fn pause(app: &AppHandle, minutes: u32) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let control = app.state::<Guard>().control.clone();
        // The guard records the pause as an event, which refreshes the tray.
        let _ = control.pause(minutes, None).await;
        refresh(&app).await;
    });
}

/// Reads the guard's state and redraws the tray.
pub async fn refresh(app: &AppHandle) {
    let Some(tray) = app.tray_by_id("main") else {
        return;
    };
    let control = app.state::<Guard>().control.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let health = control.health().await.ok();
    let (pause_max, quit_allowed) = match control.policy_in_force().await {
        Ok(p) => (
            p.policy.controls.pause_minutes,
            p.policy.controls.quit == leakguard_policy::Quit::Allow,
        ),
        Err(_) => (0, true),
    };
    let quit = match (app.state::<Guard>().info.started_guard, quit_allowed) {
        (false, _) => Quit::LeavesService,
        (true, true) => Quit::StopsGuard,
        (true, false) => Quit::NotAllowed,
    };
    let recent: Vec<(String, String)> = control
        .events(Filter {
            outcomes: vec!["blocked".into(), "warned".into()],
            limit: 5,
            ..Filter::default()
        })
        .await
        .map(|p| {
            p.events
                .into_iter()
                .map(|e| {
                    (
                        e.event.id.clone(),
                        e.event.headline().chars().take(70).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let until = health
        .as_ref()
        .and_then(|h| h.paused_until.as_deref())
        .and_then(parse_rfc3339_ms);
    let (rgb, tip) = look(
        health
            .as_ref()
            .map(|h| (h.protection, h.reasons.as_slice(), until)),
        now,
    );
    let paused = health
        .as_ref()
        .is_some_and(|h| h.protection == Protection::Paused);
    let _ = tray.set_icon(Some(dot(rgb)));
    let _ = tray.set_tooltip(Some(&tip));
    if let Ok(m) = menu(app, &tip, pause_max, paused, quit, &recent) {
        let _ = tray.set_menu(Some(m));
    }
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS(.mmm)Z`, the form the guard writes.
fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let days = {
        let (y, rest) = s.split_once('-')?;
        let (m, rest) = rest.split_once('-')?;
        let d = rest.get(..2)?;
        let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    };
    let time = s.get(11..)?.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(days * 86_400_000 + h * 3_600_000 + mi * 60_000 + (sec * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_says_the_state_and_the_time_left() {
        let now = parse_rfc3339_ms("2026-12-05T12:00:00.000Z").unwrap();
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.500Z"), Some(1500));
        let until = parse_rfc3339_ms("2026-12-05T12:14:30.000Z");
        let (c, tip) = look(Some((Protection::Paused, &[], until)), now);
        assert_eq!(tip, "Leakguard: paused, 15 min left");
        assert_eq!(c, [0xe0, 0x9a, 0x10]);
        let reasons = ["The device CA is not trusted".to_string()];
        let (_, tip) = look(Some((Protection::Degraded, &reasons, None)), now);
        assert!(tip.ends_with("The device CA is not trusted"), "{tip}");
        assert_eq!(
            look(Some((Protection::Protected, &[], None)), now).1,
            "Leakguard: protected"
        );
        assert!(look(None, now).1.contains("not reachable"));
    }

    #[test]
    fn the_dot_is_opaque_inside_and_clear_in_the_corners() {
        let img = dot([1, 2, 3]);
        let px = img.rgba();
        assert_eq!(
            &px[(16 * 32 + 16) * 4..(16 * 32 + 16) * 4 + 4],
            &[1, 2, 3, 255]
        );
        assert_eq!(px[3], 0, "corner is transparent");
    }
}
