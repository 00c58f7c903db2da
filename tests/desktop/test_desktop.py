"""The real desktop app, driven through tauri-driver (WebDriver) under Xvfb.

Started by tests/desktop/run.sh, which runs a guard as a service (LG_ADDR, its CA in LG_CA)
with 100,000 earlier events in its record, and the test upstream behind it. Checks what an
employee does: the Overview renders with the record's counts; a prompt with a secret sent with
curl appears in the open Events view without a reload and the Overview's counts change; Try it
marks the findings; a `leakguard://events/ID` link given to a second launch opens that event;
the warn flow's "Allow once" lets curl's retry through; closing the window ends WebKit's web
process and keeps the app in the tray, whose "Open Leakguard" (or a link) makes the window
again. Prints the figures it measures: with the window open, closed, and started hidden.
"""

import json
import os
import socket
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

sys.path.insert(0, os.path.dirname(__file__))
from tray import Tray, Watcher, png_centre  # noqa: E402

ADDR = os.environ["LG_ADDR"]
CA = os.environ["LG_CA"]
APP = os.environ["LG_APP"]
WORK = os.environ["LG_WORK"]
SHOTS = os.environ.get("LG_SCREENSHOTS")
SECRET = "AKIAQYLPMN5HJNGY4F7A"
CODE = "int main(void) {\n  int x = read_sensor(3);\n  if (x > 10) {\n    alarm(x);\n  }\n  return 0;\n}"

failures = []
figures = {}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, every=0.01):
    """fn's first truthy answer, or None after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
        except (StaleElementReferenceException, WebDriverException, OSError):
            v = None
        if v:
            return v
        time.sleep(every)
    return None


def curl_prompt(text):
    """Sends a chat prompt through the guard; returns (HTTP status, body)."""
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
    out = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--proxy", f"http://{ADDR}", "--cacert", CA,
         "-H", "content-type: application/json", "-d", body, "https://api.openai.com/v1/chat/completions"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    answer, _, status = out.rpartition("\n")
    return int(status), answer


def painted_colours():
    """Distinct colours on the X display (xwd | xwdtopnm): a blank or black window has one or
    two, the Overview dozens (text, borders, tones). WebDriver's own screenshot does not tell,
    it is drawn by WebKit, not taken from the screen."""
    shot = subprocess.run("xwd -root -silent | xwdtopnm 2>/dev/null", shell=True, capture_output=True, timeout=30).stdout
    # P6 header: magic, width, height, maxval, then RGB bytes.
    fields, at = [], 0
    while len(fields) < 4:
        while shot[at:at + 1].isspace():
            at += 1
        end = at
        while not shot[end:end + 1].isspace():
            end += 1
        fields.append(shot[at:end])
        at = end
    pixels = shot[at + 1:]
    return len({pixels[i:i + 3] for i in range(0, len(pixels) - 2, 3 * 7)})


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def gl_driver_mapped(pid):
    """Whether Mesa's driver (or the libLLVM it links) is mapped in the process."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return any("_dri.so" in line or "libLLVM" in line for line in f)
    except OSError:
        return False


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return os.path.basename(f.read().split(b"\0")[0].decode(errors="replace"))


def app_processes():
    """PIDs of this run's app and of the WebKit processes it started."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmd == APP or cmd.endswith("/WebKitWebProcess") or cmd.endswith("/WebKitNetworkProcess"):
            # Only this run's (its throw-away HOME), never another app on the machine.
            try:
                with open(f"/proc/{p}/environ", "rb") as f:
                    mine = f"HOME={os.environ['HOME']}".encode() in f.read().split(b"\0")
            except OSError:
                mine = False
            if mine:
                pids.append(int(p))
    return pids


def with_driver(scenario, env):
    """Runs scenario(port) against a tauri-driver whose app gets `env`."""
    port, native = free_port(), free_port()
    driver_log = open(os.path.join(WORK, f"tauri-driver-{port}.log"), "w")
    tauri_driver = subprocess.Popen(
        [os.environ["LG_TAURI_DRIVER"], "--port", str(port), "--native-port", str(native)],
        stdout=driver_log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        # Both tauri-driver and the WebKitWebDriver it starts must be listening.
        for p in (port, native):
            wait_until(lambda p=p: socket.create_connection(("127.0.0.1", p), timeout=0.2).close() or True, timeout=15)
        scenario(port)
    finally:
        # The driver, WebKit's driver and the app: closing the app's window leaves the app
        # (the tray stays), so the app is stopped here, with everything the driver started.
        stop(app_processes() + [tauri_driver.pid], group=tauri_driver.pid)
        tauri_driver.wait(timeout=10)


def stop(pids, group=None):
    """SIGTERM, then SIGKILL what is still there after 5 s."""
    import signal
    targets = [lambda sig, p=p: os.kill(p, sig) for p in pids]
    if group is not None:
        targets.append(lambda sig: os.killpg(group, sig))
    for t in targets:
        try:
            t(signal.SIGTERM)
        except OSError:
            pass
    alive = lambda: [p for p in pids if os.path.exists(f"/proc/{p}") and not open(f"/proc/{p}/stat").read().split()[2] == "Z"]
    if wait_until(lambda: not alive(), timeout=5) is None:
        for t in targets:
            try:
                t(signal.SIGKILL)
            except OSError:
                pass


WATCHER = None
# The dot's colours (src-tauri/src/tray.rs `look`).
GREEN, AMBER = (0x1E, 0x9D, 0x3C), (0xE0, 0x9A, 0x10)


def export_events(d):
    """Export JSONL: the system's save dialog (GTK's, a window of its own on the X display)
    asks where, and the test answers it as a user does (Escape once; then the path typed and
    Enter); the guard writes the filtered events there, masked."""
    def dialog():
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Export events$"],
                               capture_output=True, text=True).stdout.split()
        return found[0] if found else None

    def answer(*keys, then="Escape"):
        """Types `keys` into the save dialog once it is open, then `then` until it closes (a
        typed path may first have GTK's completion take the Enter); whether it closed."""
        window = wait_until(dialog, timeout=10)
        if not check(bool(window), "Export opens the system's save dialog"):
            return False
        subprocess.run(["xdotool", "windowfocus", window], check=True, timeout=10)
        if keys:
            subprocess.run(["xdotool", *keys], check=True, timeout=10)
        closed = False
        for _ in range(3):
            subprocess.run(["xdotool", "key", then], check=True, timeout=10)
            closed = bool(wait_until(lambda: dialog() is None, timeout=3))
            if closed:
                break
        return check(closed, f"the save dialog closes when answered ({then})")

    target = os.path.join(WORK, "exported", "events.jsonl")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    d.find_element(By.CSS_SELECTOR, "[data-testid=export-jsonl]").click()
    answer()
    d.find_element(By.CSS_SELECTOR, "[data-testid=export-jsonl]").click()
    answer("key", "ctrl+a", "type", "--delay", "2", target, then="Return")
    note = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=events-note]").text, timeout=30)
    check(bool(note) and note.startswith("Exported ") and note.endswith(target),
          f"the app says how many events went where ({note!r})")
    lines = open(target, encoding="utf-8").read().splitlines() if os.path.exists(target) else []
    check(len(lines) > 100 and all(json.loads(l).get("id") for l in lines[:50]),
          f"the chosen file holds the events as JSON lines ({len(lines)})")
    check(SECRET not in "\n".join(lines), "and never the raw key")
    check(not d.find_elements(By.CSS_SELECTOR, "section.events [role=alert]"), "no error after a cancelled and a completed export")


def main():
    global WATCHER
    # The desktop shell's half of the tray: the StatusNotifierWatcher the app registers with.
    WATCHER = Watcher()
    WATCHER.start()
    with_driver(run, dict(os.environ))
    # A laptop without the service: the app starts the guard itself.
    own = dict(os.environ)
    own["LEAKGUARD_DATA_DIR"] = os.path.join(WORK, "own-guard")
    own["LEAKGUARD_LISTEN"] = f"127.0.0.1:{free_port()}"
    own.pop("LEAKGUARD_NO_AUTOSTART", None)
    with_driver(lambda port: run_standalone(port, own), own)
    run_hidden(dict(os.environ))


def run_hidden(env):
    """Started at login (`--hidden`): the tray only; no window is made, so no WebKit process
    runs until the user opens it."""
    before = len(WATCHER.registered())
    log = open(os.path.join(WORK, "hidden-app.log"), "w")
    proc = subprocess.Popen([APP, "--hidden"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        item = wait_until(lambda: len(WATCHER.registered()) > before, timeout=20)
        check(bool(item), "started hidden, the app registers its tray item")
        others = [cmdline(p) for p in app_processes() if p != proc.pid]
        check(proc.poll() is None and not others, f"and runs no WebKit process while no window was opened ({others})")
        figures["app RSS started hidden at login (tray only, no window yet) (MB)"] = round(rss_kb(proc.pid) / 1024, 1)
        figures["app PSS started hidden at login (MB)"] = round(pss_kb(proc.pid) / 1024, 1)
    finally:
        stop([proc.pid])


def session(port):
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": APP})
    return webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=options)


def run_standalone(port, env):
    started = time.monotonic()
    d = session(port)
    try:
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-health]").click()
        guard = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=health-guard]").text, timeout=20)
        figures["cold start with the guard started in process, to Health (s)"] = round(time.monotonic() - started, 2)
        check(bool(guard) and "Started by this app" in guard, f"without a service the app starts the guard and says so ({guard!r})")
        host, port_s = env["LEAKGUARD_LISTEN"].split(":")
        served = wait_until(lambda: socket.create_connection((host, int(port_s)), timeout=0.2).close() or True, timeout=5)
        check(bool(served), f"the in-process guard's proxy listens on {env['LEAKGUARD_LISTEN']}")
        autostart = os.path.join(env["XDG_CONFIG_HOME"], "autostart")
        entries = os.listdir(autostart) if os.path.isdir(autostart) else []
        check(any(e.endswith(".desktop") for e in entries), f"autostart at login is set up in the throw-away HOME ({entries})")
        # Its tray's Quit says that quitting stops protection (the policy allows it here).
        items = WATCHER.registered()
        if check(bool(items), "the app that runs the guard has a tray item too"):
            tray = Tray(*items[-1])
            try:
                quit_entry = wait_until(lambda: [e for e in tray.menu() if e[1].startswith("Quit")], timeout=10)
                check(bool(quit_entry) and quit_entry[0][1] == "Quit and stop protection" and quit_entry[0][2],
                      f"its Quit stops protection, as the policy allows ({quit_entry})")
            finally:
                tray.close()
    finally:
        d.quit()


def run(port):
    started = time.monotonic()
    d = session(port)
    try:
        # 1. Cold start to a rendered Overview with the record's counts.
        blocked = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=count-blocked] .today"), timeout=20)
        if blocked is None:
            # Diagnose: load the bundle again as a new module, which reports the error the
            # first load swallowed.
            src = d.execute_script("return document.querySelector('script[type=module]').src")
            print("desktop: the window stayed empty; loading the bundle again says:", d.execute_async_script(
                "const done = arguments[arguments.length-1]; import(arguments[0] + '?again=1').then(() => done('no error'), e => done(String(e) + ' ' + (e.stack || '')));",
                src), file=sys.stderr)
            raise SystemExit("desktop: the Overview never rendered")
        counted = wait_until(lambda: blocked.text not in ("", "0") and blocked.text, timeout=20)
        figures["cold start to a rendered Overview (s)"] = round(time.monotonic() - started, 2)
        check(bool(counted), f"Overview shows today's blocked count from the record ({counted})")
        colours = painted_colours()
        check(colours > 20, f"the window is really painted on the X display ({colours} distinct colours)")
        protection = d.find_element(By.CSS_SELECTOR, "[data-testid=protection]").text
        check(protection != "" and protection != "Guard unreachable", f"the header shows the guard's state ({protection!r})")
        before = int(blocked.text.replace(",", ""))

        # 2. Events view open; a prompt with a secret appears without a reload.
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-events]").click()
        wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "[data-testid=event-row]"), timeout=10)
        rows = d.find_elements(By.CSS_SELECTOR, "[data-testid=event-row]")
        check(0 < len(rows) < 80, f"the Events list renders a window of rows, not all 100,000 ({len(rows)})")
        first_before = rows[0].get_attribute("data-id")
        sent = time.monotonic()
        status, answer = curl_prompt(f"deploy with {SECRET} please")
        check(status == 403 and "leakguard_blocked" in answer, f"curl's prompt with a key is blocked ({status})")
        new_id = wait_until(
            lambda: (lambda r: r.get_attribute("data-id") if r.get_attribute("data-id") != first_before else None)(
                d.find_element(By.CSS_SELECTOR, "[data-testid=event-row]")
            ),
            timeout=5,
            every=0.005,
        )
        seen = time.monotonic()
        check(bool(new_id), "the blocked prompt appears at the top of the open Events view without a reload")
        figures["request to event visible in the open Events view (ms)"] = round((seen - sent) * 1000)
        # Rendering a page of the list: scroll to the middle of what is loaded and time the frame.
        # Rendering a page of rows: jump to rows not rendered yet, let Svelte update the DOM, and
        # force the layout; the median of 20 jumps within what is loaded (no fetch).
        render_ms = d.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const list = document.querySelector('[data-testid=event-list]');
            const times = [];
            (async () => {
              for (let i = 0; i < 20; i++) {
                const t0 = performance.now();
                list.scrollTop = (i % 2 ? 0.1 : 0.5) * list.scrollHeight;
                list.dispatchEvent(new Event('scroll'));
                await Promise.resolve();
                await new Promise((r) => setTimeout(r, 0));
                list.getBoundingClientRect();
                void document.body.offsetHeight;
                times.push(performance.now() - t0);
              }
              times.sort((a, b) => a - b);
              done(times[10]);
            })();
            """
        )
        figures["Events view: render a page of rows after a scroll (ms, median of 20)"] = round(render_ms, 1)
        d.execute_script("document.querySelector('[data-testid=event-list]').scrollTop = 0")
        top = wait_until(lambda: d.find_element(By.CSS_SELECTOR, f"[data-id='{new_id}']"), timeout=5)
        top.click()
        headline = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=detail-headline]").text, timeout=5)
        check(headline and "aws-access-key-id" in headline and SECRET not in d.page_source,
              f"its details name the rule and never show the key ({headline!r})")
        advice = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=detail-advice]").get_attribute("textContent"), timeout=5)
        check(bool(advice) and "placeholder" in advice, f"and say what the rule is and how to avoid it ({(advice or '')[:80]!r})")
        export_events(d)

        # 3. The Overview's counts changed.
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-overview]").click()
        after = wait_until(
            lambda: (lambda t: int(t.replace(",", "")) if t and int(t.replace(",", "")) > before else None)(
                d.find_element(By.CSS_SELECTOR, "[data-testid=count-blocked] .today").text
            ),
            timeout=5,
        )
        check(after == before + 1, f"Overview's blocked count went from {before} to {after}")

        # 4. Try it marks the findings in place.
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-try]").click()
        d.find_element(By.CSS_SELECTOR, "[data-testid=try-text]").send_keys(f"connect with {SECRET} and mail jane.doe@acme-semi.com")
        d.find_element(By.CSS_SELECTOR, "[data-testid=try-check]").click()
        verdict = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=try-verdict]").text, timeout=5)
        marks = [m.text for m in d.find_elements(By.CSS_SELECTOR, "[data-testid=try-marked] mark")]
        check(verdict and "blocked" in verdict and SECRET in marks, f"Try it: {verdict!r}, marked {marks}")

        # 5. The warn flow: a held prompt, allowed once from the app, goes through on the retry.
        status, answer = curl_prompt(f"Why does this crash?\n\n{CODE}")
        check(status == 403 and "leakguard_warn" in answer, f"a prompt with source code is held ({status})")
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-events]").click()
        warned = wait_until(lambda: [r for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=event-row]")
                                     if "confirmation" in (r.get_attribute("textContent") or "")], timeout=5)
        check(bool(warned), "the held prompt is in the Events view")
        if warned:
            warned[0].click()
            wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=allow-once]"), timeout=5).click()
            d.find_element(By.CSS_SELECTOR, "[data-testid=warn-reason]").send_keys("test fixture, approved by the security team")
            d.find_element(By.CSS_SELECTOR, "[data-testid=warn-allow]").click()
            done = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=warn-done]").text, timeout=5)
            check(bool(done), f"Allow once is confirmed ({done!r})")
            status, _ = curl_prompt(f"Why does this crash?\n\n{CODE}")
            check(status == 200, f"the retry goes through once ({status})")
            d.find_element(By.CSS_SELECTOR, "[data-testid=warn-flow] button:not(.primary)").click()

        # 6. A leakguard:// link given to a second launch opens that event in this window.
        link = f"leakguard://events/{new_id}"
        d.find_element(By.CSS_SELECTOR, "[data-testid=nav-overview]").click()
        second = subprocess.run([APP, link], timeout=20, env=os.environ, capture_output=True, text=True)
        check(second.returncode == 0, f"a second launch hands its link over and exits ({second.returncode}: {second.stderr.strip()[-300:]})")
        opened = wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "[data-testid=detail-headline]"), timeout=10)
        check(bool(opened) and "aws-access-key-id" in opened[0].text, f"{link} opens that event")

        # 7. The tray as a desktop shell sees it (a StatusNotifierItem and its D-Bus menu): the
        # state as the first line and the dot's colour, the policy's pauses, the recent block;
        # pausing from the menu pauses the guard (the window's header follows), Resume undoes it.
        tray_checks(d)

        # 8. Memory with the 100,000-event record loaded.
        pids = app_processes()
        figures["app RSS, app + WebKit processes (MB)"] = round(sum(rss_kb(p) for p in pids) / 1024, 1)
        figures["app PSS, app + WebKit processes (MB, shared pages split)"] = round(sum(pss_kb(p) for p in pids) / 1024, 1)
        for p in pids:
            print(f"memory: {cmdline(p)}: RSS {rss_kb(p) // 1024} MB, PSS {pss_kb(p) // 1024} MB")
        # The app process opens no GL driver (src-tauri/src/webkit_env.rs); the web process
        # still renders with one.
        drivers = {cmdline(p): gl_driver_mapped(p) for p in pids}
        check(not drivers.get(os.path.basename(APP), True), f"the app process maps no GL driver ({drivers})")
        check(drivers.get("WebKitWebProcess", False), "the web process renders with the system's GL driver")

        if SHOTS:
            screenshots(d)

        # 9. Closing the window ends WebKit's processes; the app and its tray stay, and the
        # tray's "Open Leakguard" makes the window again.
        closed_window_checks(d, new_id)
    finally:
        try:
            d.quit()
        except WebDriverException:
            pass  # its window was closed and made again (step 9): nothing left to end


def close_window(title):
    """Asks the X window titled `title` to close, as a window manager's close button does
    (a WM_DELETE_WINDOW message); Xvfb runs no window manager. Whether it was found."""
    import ctypes
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"],
                           capture_output=True, text=True).stdout.split()
    if not found:
        return False

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(None)
    try:
        ev = XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = int(found[0])
        ev.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        ev.xclient.format = 32
        ev.xclient.l[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(dpy, int(found[0]), 0, 0, ctypes.byref(ev))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)
    return True


def closed_window_checks(d, event_id):
    web = lambda: [p for p in app_processes() if cmdline(p) == "WebKitWebProcess"]
    app = lambda: [p for p in app_processes() if cmdline(p) == os.path.basename(APP)]

    def close():
        check(close_window("Leakguard"), "the window is closed as a window manager closes it")
        return check(bool(wait_until(lambda: not web(), timeout=15)), "WebKit's web process exits with the window")

    def reopened():
        """The new window, once painted, as WebDriver's current window (it drives new ones too)."""
        if not wait_until(lambda: web() and painted_colours() > 20, timeout=20):
            return False
        d.switch_to.window(d.window_handles[-1])
        return True

    check(bool(web()) and bool(app()), "before: the app and its web process run")
    # The user's size and place for the window, which the next window takes.
    d.set_window_rect(x=60, y=40, width=1000, height=640)
    wanted = wait_until(lambda: (lambda r: r if (r["width"], r["height"]) == (1000, 640) else None)(d.get_window_rect()), timeout=5)
    check(bool(wanted), f"the window is resized to 1000 x 640 ({d.get_window_rect()})")
    close()
    check(bool(app()), "the app itself keeps running")
    check(painted_colours() <= 2, "nothing of the window is left on the screen")
    pids = app_processes()
    figures["app RSS with the window closed (tray only), all its processes (MB)"] = round(sum(rss_kb(p) for p in pids) / 1024, 1)
    figures["app PSS with the window closed (tray only) (MB)"] = round(sum(pss_kb(p) for p in pids) / 1024, 1)
    for p in pids:
        print(f"memory, window closed: {cmdline(p)}: RSS {rss_kb(p) // 1024} MB, PSS {pss_kb(p) // 1024} MB")
    items = WATCHER.registered()
    if not check(bool(items), "the tray item stays"):
        return
    tray = Tray(*items[-1])
    try:
        check(tray.click("Open Leakguard") is not None, "Open Leakguard is clicked in the tray")
    finally:
        tray.close()
    check(reopened(), "the window is made again, painted, with a web process")
    header = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=protection]").text, timeout=10)
    check(header == "Protected", f"and it is the app, connected to the guard ({header!r})")
    rect = d.get_window_rect()
    check((rect["x"], rect["y"], rect["width"], rect["height"]) == (60, 40, 1000, 640),
          f"where and as large as the closed one was ({rect})")

    # Closed again, a notification's link (here given to a second launch) makes the window
    # and opens that event in it.
    close()
    link = f"leakguard://events/{event_id}"
    second = subprocess.run([APP, link], timeout=20, env=os.environ, capture_output=True, text=True)
    check(second.returncode == 0, f"a second launch hands {link} over and exits ({second.returncode})")
    check(reopened(), "the link makes the window again")
    opened = wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=detail-headline]").text, timeout=10)
    check(bool(opened) and "aws-access-key-id" in opened, f"and opens that event in it ({opened!r})")


def tray_checks(d):
    items = wait_until(WATCHER.registered, timeout=10)
    if not check(bool(items), f"the app registers a tray item with the desktop's watcher ({items})"):
        return
    tray = Tray(*items[-1])
    try:
        def state():
            entries = tray.menu()
            return entries[0] if entries else (0, "", True)

        first = wait_until(lambda: state()[1].startswith("protected") and state(), timeout=10)
        check(bool(first) and not first[2], f"the tray menu's first line is the state, not clickable ({state()})")
        labels = [label for _, label, _ in tray.menu()]
        for want in ("Open Leakguard", "Pause for 15 minutes", "Pause for 30 minutes", "Recent blocks",
                     "Quit (protection continues: a service runs it)"):
            check(want in labels, f"the tray menu has {want!r}")
        check(not any(l.startswith("Pause for 60") for l in labels), "no pause longer than the policy's 30 minutes")
        check(any("aws-access-key-id" in l or "AWS" in l for l in labels), f"the recent blocks list the AWS key ({labels})")
        icon = tray.props()["IconName"]
        check(png_centre(icon) == GREEN, f"the dot is green while protected ({png_centre(icon)})")

        check(tray.click("Pause for 15 minutes") is not None, "Pause for 15 minutes is clicked in the tray")
        paused = wait_until(lambda: state()[1].startswith("paused, 1") and state()[1], timeout=10)
        check(bool(paused), f"the tray says paused with the minutes left ({state()[1]!r})")
        check("Resume protection" in [l for _, l, _ in tray.menu()], "the menu offers Resume")
        check(png_centre(tray.props()["IconName"]) == AMBER, "the dot turns amber")
        header = wait_until(lambda: "aused" in d.find_element(By.CSS_SELECTOR, "[data-testid=protection]").text
                            and d.find_element(By.CSS_SELECTOR, "[data-testid=protection]").text, timeout=10)
        check(bool(header), f"the window's header follows the pause from the tray ({header!r})")
        tray.click("Resume protection")
        back = wait_until(lambda: state()[1].startswith("protected"), timeout=10)
        check(bool(back) and png_centre(tray.props()["IconName"]) == GREEN, "Resume from the tray: protected and green again")
    finally:
        tray.close()


def screenshots(d):
    """Every view, light and dark, as the X display shows the window (xwd, cropped to it)."""
    os.makedirs(SHOTS, exist_ok=True)
    rect = d.get_window_rect()
    for theme in ("light", "dark"):
        current = d.execute_script("return document.documentElement.dataset.theme")
        if current != theme:
            d.find_element(By.CSS_SELECTOR, "[data-testid=theme]").click()
        for view in ("overview", "events", "policy", "health", "try"):
            d.find_element(By.CSS_SELECTOR, f"[data-testid=nav-{view}]").click()
            if view == "events":
                rows = wait_until(lambda: d.find_elements(By.CSS_SELECTOR, "[data-testid=event-row]"), timeout=5)
                if rows:
                    rows[0].click()
            if view == "try":
                box = d.find_element(By.CSS_SELECTOR, "[data-testid=try-text]")
                box.clear()
                box.send_keys(f"Deploy with key {SECRET} and tell jane.doe@acme-semi.com")
                d.find_element(By.CSS_SELECTOR, "[data-testid=try-check]").click()
                wait_until(lambda: d.find_element(By.CSS_SELECTOR, "[data-testid=try-verdict]").text, timeout=5)
            time.sleep(0.3)  # let the charts and fonts settle before the picture (not a test wait)
            out = os.path.join(SHOTS, f"{view}-{theme}.png")
            subprocess.run(
                f"xwd -root -silent | xwdtopnm 2>/dev/null | pnmcut -left {max(0, rect['x'])} -top {max(0, rect['y'])} "
                f"-width {rect['width']} -height {rect['height']} | pnmtopng > '{out}'",
                shell=True, check=True, timeout=30,
            )


if __name__ == "__main__":
    main()
    for k, v in figures.items():
        print(f"figure: {k}: {v}")
    if failures:
        print(f"{len(failures)} desktop check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("desktop: all checks passed")
