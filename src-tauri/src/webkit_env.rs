//! WebKitGTK's settings for this app, made in `main` before GTK, WebKit or any thread starts.
//!
//! Memory (tests/desktop measures it): the app process draws nothing with OpenGL. It shows
//! the frames its web process renders and a tray icon. Left alone, both GTK (GLX, to choose a
//! visual) and WebKit's UI side (EGL, to offer the web process DMA-BUF buffers) open the
//! system's GL driver in it. Mesa's driver is one library linked to libLLVM, which costs
//! about 43 MB of RSS in every process that loads it, whether it draws or not. So the app
//! process opens no GL driver: `GDK_GL=disable` for GTK, and libglvnd (the EGL dispatcher)
//! is made to read an empty vendor list once, in this process only. With no EGL in the UI
//! process, WebKit sends the frames over shared memory. The web process, started later with
//! the normal environment, still renders with the machine's GL, GPU or software.
//!
//! A user's own setting of any of these variables wins. `LEAKGUARD_APP_GL=1` keeps the
//! driver in the app process (for comparing, or a driver that needs it).

use std::env;
use std::ffi::{c_char, c_void};

/// Set while libglvnd reads its vendor list: a file that does not exist, so no vendor.
const NO_VENDOR: &str = "/nonexistent/leakguard-app-process-uses-no-egl.json";
/// `EGL_EXTENSIONS`, for `eglQueryString(EGL_NO_DISPLAY, …)`: the call that makes libglvnd
/// load its vendors.
const EGL_EXTENSIONS: i32 = 0x3055;

/// Applies the settings. Call first thing in `main`, while the process has one thread.
pub fn prepare() {
    // Accelerated compositing keeps large backing stores for a page that has no 3D, video or
    // WebGL: without it the web process uses about 40% less memory.
    set_default("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    if env::var_os("LEAKGUARD_APP_GL").is_some_and(|v| v != "0")
        || env::var_os("__EGL_VENDOR_LIBRARY_FILENAMES").is_some()
        || env::var_os("__EGL_VENDOR_LIBRARY_DIRS").is_some()
    {
        return;
    }
    set_default("GDK_GL", "disable");
    env::set_var("__EGL_VENDOR_LIBRARY_FILENAMES", NO_VENDOR);
    load_egl_vendors();
    // Child processes (WebKit's web and network processes) get the normal list.
    env::remove_var("__EGL_VENDOR_LIBRARY_FILENAMES");
}

fn set_default(name: &str, value: &str) {
    if env::var_os(name).is_none() {
        env::set_var(name, value);
    }
}

/// Makes libglvnd read its vendor list now (it keeps it for the life of the process).
/// Without libEGL on the machine there is nothing to do: WebKit would not start either.
#[allow(unsafe_code)]
fn load_egl_vendors() {
    // SAFETY: libEGL.so.1 is libglvnd's dispatcher, which WebKitGTK links anyway (loading it
    // runs no code of ours); `eglQueryString` has this C signature in EGL 1.5, and with
    // EGL_NO_DISPLAY (null) and EGL_EXTENSIONS it only returns a static string, which is not
    // read. The library stays loaded (it is WebKit's too), so the vendor list it read stays.
    unsafe {
        let Ok(lib) = libloading::Library::new("libEGL.so.1") else {
            return;
        };
        type QueryString = unsafe extern "C" fn(*mut c_void, i32) -> *const c_char;
        if let Ok(query) = lib.get::<QueryString>(b"eglQueryString\0") {
            query(std::ptr::null_mut(), EGL_EXTENSIONS);
        }
        std::mem::forget(lib);
    }
}
