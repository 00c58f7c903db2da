"""Leakguard on a laptop, for real, in throw-away places only: a HOME, an XDG config dir (with
GLib's keyfile backend standing in for dconf, so `gsettings` and Chromium read the same GNOME
proxy settings a desktop has), NSS databases inside that HOME, a system root directory for the
trust anchors, browser policies and units (`--root`), and a copy of the JDK keystore.

  trust install -> doctor (curl, node, python, java, chromium: each fails before, passes after)
  proxy enable  -> headless Chromium with no proxy flags follows the GNOME setting to the guard
                   and the AWS key is blocked
  drift         -> the user switches the proxy off / the CA leaves the browser store:
                   protection_degraded within the check interval, protection_restored after;
                   with deployment.enforce the setting is put back by the guard
  service, browser policies, and every uninstall: nothing left of what install added.

Run by tests/deploy/run.sh (LG_BIN, LG_WORK, LG_UPSTREAM, LG_UPSTREAM_CA, LG_UPSTREAM_LOG).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from test_chromium import CHROMIUM_FLAGS, page_results  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, failures  # noqa: E402

AWS_KEY = "AKIAQYLPMN5HJNGY4F7A"
BIN = os.environ["LG_BIN"]
WORK = os.environ["LG_WORK"]
HOME = os.path.join(WORK, "home")
CONFIG = os.path.join(HOME, ".config")
ROOT = os.path.join(WORK, "root")
DATA = os.path.join(WORK, "data")
KEYSTORE = os.path.join(WORK, "java-cacerts")
POLICY = os.path.join(WORK, "policy.json")


def env(**extra):
    e = {
        "PATH": os.environ["PATH"],
        "HOME": HOME,
        "XDG_CONFIG_HOME": CONFIG,
        "GSETTINGS_BACKEND": "keyfile",
        "XDG_CURRENT_DESKTOP": "GNOME",
        "LEAKGUARD_DATA_DIR": DATA,
        "TMPDIR": WORK,
    }
    e.update(extra)
    return e


def lg(*args, check_rc=None):
    r = subprocess.run([os.path.join(BIN, "leakguard"), *args], capture_output=True, text=True, env=env(), timeout=600)
    if check_rc is not None and r.returncode != check_rc:
        print(r.stdout, r.stderr)
    return r


def at(*args):
    """A deployment command against the test guard and the throw-away root."""
    return lg(*args, "--listen", ADDR, "--root", ROOT, "--json")


def lines(r):
    return [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]


def gsettings(*args):
    return subprocess.run(["gsettings", *args], capture_output=True, text=True, env=env(), check=True).stdout.strip()


def events(verdict):
    r = lg("events", "export", "--data-dir", DATA, "--kind", "protection")
    return [e for e in (json.loads(l) for l in r.stdout.splitlines() if l.strip()) if e.get("verdict") == verdict]


def wait_until(cond, seconds=30.0):
    """Polls a condition (the guard checks every second here), up to a deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def snapshot():
    """Every file under HOME and ROOT with its hash (what the browser writes for itself is left
    out: its config dir and cache; NSS databases are compared by listing, below)."""
    out = {}
    for base in (HOME, ROOT):
        for d, dirs, files in os.walk(base):
            rel = os.path.relpath(d, HOME)
            if rel.startswith((".config/chromium", ".cache", ".pki")):
                continue
            if os.path.relpath(d, ROOT).startswith("proc"):
                continue  # the test's own stand-in for the network state
            for f in files:
                p = os.path.join(d, f)
                if p.endswith("glib-2.0/settings/keyfile"):
                    continue
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


def nss_certs():
    db = os.path.join(HOME, ".pki", "nssdb")
    if not os.path.exists(os.path.join(db, "cert9.db")):
        return None
    r = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], capture_output=True, text=True)
    return sorted(l for l in r.stdout.splitlines()[3:] if l.strip())


def start_guard(listen="127.0.0.1:0"):
    out = open(os.path.join(WORK, "guard.out"), "w")
    err = open(os.path.join(WORK, "guard.err"), "w")
    p = subprocess.Popen(
        [os.path.join(BIN, "leakguard"), "run", "--no-notify", "--listen", listen, "--data-dir", DATA,
         "--policy", POLICY, "--upstream-ca", os.environ["LG_UPSTREAM_CA"],
         "--resolve", f"chatgpt.com:443:{os.environ['LG_UPSTREAM']}"],
        stdout=out, stderr=err, env=env(),
    )
    ready = wait_until(lambda: "ready on" in open(os.path.join(WORK, "guard.out")).read(), 20)
    if not ready:
        print(open(os.path.join(WORK, "guard.err")).read())
        raise SystemExit("FAIL: the guard did not start")
    text = open(os.path.join(WORK, "guard.out")).read()
    return p, text.split("ready on ")[1].split()[0]


NEW_DESTINATION = "api.newllm.test"


def write_policy(enforce, check_every_s=1, new_destination=False):
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "policies", "default.json")) as f:
        policy = json.load(f)
    policy["deployment"] = {"check_every_s": check_every_s, "enforce": enforce}
    if new_destination:
        policy["destinations"].append({"name": "in-house-llm", "hosts": [NEW_DESTINATION]})
    tmp = POLICY + ".tmp"
    with open(tmp, "w") as f:
        json.dump(policy, f)
    os.replace(tmp, POLICY)


def prepare():
    os.makedirs(CONFIG)
    for d in ("etc/ssl/certs", "usr/share/ca-certificates", "usr/local/share/ca-certificates",
              "etc/ca-certificates/update.d", "etc/chromium/policies", "etc/opt/chrome/policies"):
        os.makedirs(os.path.join(ROOT, d))
    # A system store like Debian's, with one of the machine's own roots in it.
    os.makedirs(os.path.join(ROOT, "usr/share/ca-certificates/mozilla"))
    shutil.copy(os.environ["LG_UPSTREAM_CA"], os.path.join(ROOT, "usr/share/ca-certificates/mozilla/Some_Root.crt"))
    with open(os.path.join(ROOT, "etc/ca-certificates.conf"), "w") as f:
        f.write("mozilla/Some_Root.crt\n")
    subprocess.run(["update-ca-certificates", *[a for flag, d in (
        ("--certsconf", "etc/ca-certificates.conf"), ("--certsdir", "usr/share/ca-certificates"),
        ("--localcertsdir", "usr/local/share/ca-certificates"), ("--etccertsdir", "etc/ssl/certs"),
        ("--hooksdir", "etc/ca-certificates/update.d")) for a in (flag, os.path.join(ROOT, d))]],
        check=True, capture_output=True)
    java = os.path.realpath(shutil.which("java"))
    shutil.copy(os.path.join(os.path.dirname(os.path.dirname(java)), "lib/security/cacerts"), KEYSTORE)
    # The network as the agent reads it under the root (routes): changed below to stand for a
    # new network.
    os.makedirs(os.path.join(ROOT, "proc/net"))
    with open(os.path.join(ROOT, "proc/net/route"), "w") as f:
        f.write("Iface\tDestination\tGateway\nwlan0\t00000000\t0101A8C0\n")
    # The user's own settings before Leakguard: a manual proxy, a profile with a line of theirs.
    gsettings("set", "org.gnome.system.proxy", "mode", "'manual'")
    with open(os.path.join(HOME, ".profile"), "w") as f:
        f.write("export MINE=1\n")
    write_policy(enforce=False)


CLIENTS = ["curl", "node", "python", "java", "chromium"]


def doctor_verdicts():
    r = at("doctor", *[a for c in CLIENTS for a in ("--client", c)])
    return {l["what"].split()[0]: l for l in lines(r) if l["what"].split()[0] in CLIENTS}, r.returncode


def main():
    global ADDR, GUARD
    prepare()
    GUARD, ADDR = start_guard()
    try:
        run_all()
    finally:
        GUARD.terminate()
        GUARD.wait(timeout=30)
    if failures:
        print(f"deploy: {len(failures)} check(s) failed")
        return 1
    return 0


def run_all():
    global GUARD
    # -- doctor before trust: every client is told, and told what to run.
    verdicts, rc = doctor_verdicts()
    check(sorted(verdicts) == sorted(CLIENTS), f"doctor probed every client present ({sorted(verdicts)})")
    check(rc == 1, "doctor exits 1 while clients do not trust the CA")
    for c in CLIENTS:
        v = verdicts.get(c, {})
        check(v.get("state") == "missing" and "does not trust the device CA" in v.get("detail", ""),
              f"before trust: {c} does not trust the CA ({v.get('detail', 'no line')})")
    check("sudo leakguard trust install --java" in verdicts.get("java", {}).get("detail", ""),
          "the java verdict says which command fixes it")

    before = snapshot()
    nss_before = nss_certs()

    # -- trust install: system (throw-away root), NSS, runtimes, Java (a keystore copy).
    r = at("trust", "install", "--java-keystore", KEYSTORE)
    got = {l["what"].split()[0]: l["state"] for l in lines(r)}
    check(r.returncode == 0 and all(s == "ok" for s in got.values()) and len(got) == 4,
          f"trust install: system, nss, runtimes, java all ok ({got})")
    ca = open(os.path.join(DATA, "ca", "leakguard-ca.pem")).read()
    body = "".join(l for l in ca.splitlines() if not l.startswith("-----"))
    bundle = open(os.path.join(ROOT, "etc/ssl/certs/ca-certificates.crt")).read().replace("\n", "")
    check(body in bundle, "update-ca-certificates put the CA in the root's system bundle")
    r = at("trust", "status", "--java-keystore", KEYSTORE)
    check(r.returncode == 0, "trust status: everything trusted")

    # -- doctor after trust: a real TLS request from each client reaches the guard's canary.
    verdicts, _ = doctor_verdicts()
    for c in CLIENTS:
        v = verdicts.get(c, {})
        check(v.get("state") == "ok", f"after trust: {c} trusts the CA and reaches the canary ({v.get('detail')})")

    # -- routing: the GNOME proxy setting, read by Chromium itself (no proxy flags).
    r = at("proxy", "enable")
    check(r.returncode == 0, "proxy enable")
    check(gsettings("get", "org.gnome.system.proxy", "mode") == "'auto'", "GNOME proxy mode is automatic")
    check(gsettings("get", "org.gnome.system.proxy", "autoconfig-url").startswith("'data:application/x-ns-proxy-autoconfig;base64,"),
          "the PAC is inline (no DIRECT when the guard is down)")
    profile = open(os.path.join(HOME, ".profile")).read()
    check(profile.startswith("export MINE=1\n") and "leakguard/proxy.env" in profile, "the shell profile loads the proxy environment")
    cmd = [shutil.which("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={os.path.join(WORK, 'chromium')}",
           "https://chatgpt.com/leakguard-e2e.html"]
    results = page_results(cmd, env=env())
    if check(results is not None, "Chromium loaded the page through the GNOME setting and the NSS trust"):
        clean, secret = results[0], results[1]
        check(clean["status"] == 200, "a clean prompt is answered")
        check(secret["status"] == 403 and AWS_KEY not in secret["text"], "the prompt with an AWS key is blocked")
    seen = open(os.environ["LG_UPSTREAM_LOG"]).read()
    check(AWS_KEY not in seen, "the upstream never saw the AWS key")

    # -- drift: the user switches the proxy off; then the CA leaves the browser store.
    gsettings("set", "org.gnome.system.proxy", "mode", "'none'")
    check(wait_until(lambda: any("gnome" in e.get("reason", "") for e in events("protection_degraded"))),
          "switching the proxy off is recorded as protection_degraded (gnome)")
    health = lg("status", "--data-dir", DATA)
    check("gnome" in health.stdout and "degraded" in health.stdout.lower(), "Health says degraded, and why")
    at("proxy", "enable")
    check(wait_until(lambda: len(events("protection_restored")) >= 1), "re-enabling is recorded as protection_restored")
    db = os.path.join(HOME, ".pki", "nssdb")
    subprocess.run(["certutil", "-D", "-d", f"sql:{db}", "-n", "leakguard-device-ca"], check=True)
    check(wait_until(lambda: any("nss" in e.get("reason", "") for e in events("protection_degraded"))),
          "the CA removed from the browser store is recorded as protection_degraded (nss)")
    at("trust", "install", "--nss")
    check(wait_until(lambda: len(events("protection_restored")) >= 2), "trusting it again is recorded as protection_restored")

    # -- enforce: the policy says put routing back.
    write_policy(enforce=True)
    gsettings("set", "org.gnome.system.proxy", "mode", "'none'")
    check(wait_until(lambda: gsettings("get", "org.gnome.system.proxy", "mode") == "'auto'"),
          "with deployment.enforce the guard puts the proxy setting back")

    # -- a policy adding a destination the CA does not cover: the guard replaces its CA and
    # trusts the new one wherever the old one was trusted (the system store under the root,
    # NSS, the runtimes' bundle, the Java keystore); every client still reaches the guard.
    old_body = body
    write_policy(enforce=True, new_destination=True)
    check(wait_until(lambda: events("ca_rotated")), "a policy adding a destination is recorded as ca_rotated")
    rotated = (events("ca_rotated") or [{}])[0].get("reason", "")
    check(NEW_DESTINATION in rotated and "now trusted in" in rotated and "still to do" not in rotated,
          f"the event names the destination and where the new CA is trusted ({rotated})")
    ca = open(os.path.join(DATA, "ca", "leakguard-ca.pem")).read()
    body = "".join(l for l in ca.splitlines() if not l.startswith("-----"))
    check(body != old_body, "the device CA was replaced")
    r = at("trust", "status", "--java-keystore", KEYSTORE)
    check(r.returncode == 0 and all(l["state"] in ("ok", "skipped") for l in lines(r)),
          f"every store trusts the new CA ({[(l['what'], l['state']) for l in lines(r)]})")
    verdicts, _ = doctor_verdicts()
    for c in CLIENTS:
        v = verdicts.get(c, {})
        check(v.get("state") == "ok", f"after the CA was replaced: {c} still reaches the canary ({v.get('detail')})")

    # -- a network change makes the guard check at once: restarted (same port) with an hourly
    # timer, while the user has the proxy off.
    GUARD.terminate()
    GUARD.wait(timeout=30)
    write_policy(enforce=False, check_every_s=3600)
    gsettings("set", "org.gnome.system.proxy", "mode", "'none'")
    degraded = len(events("protection_degraded"))
    GUARD, _ = start_guard(ADDR)
    check(wait_until(lambda: len(events("protection_degraded")) > degraded),
          "at start the guard checks and records the proxy that is off")
    at("proxy", "enable")
    restored = len(events("protection_restored"))
    with open(os.path.join(ROOT, "proc/net/route"), "a") as f:
        f.write("tun0\t0000000A\t00000000\n")
    check(wait_until(lambda: len(events("protection_restored")) > restored, 20),
          "a network change (a VPN's route) makes the guard check at once, not in an hour: protection_restored")

    # -- the service unit (no systemd manager here: written, enabled, verified by systemd).
    r = at("service", "install")
    unit = os.path.join(CONFIG, "systemd/user/leakguard.service")
    check(r.returncode == 0 and os.path.isfile(unit), "service install writes the user unit")
    check(os.path.islink(os.path.join(CONFIG, "systemd/user/default.target.wants/leakguard.service")), "and enables it at login")
    v = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    check(v.returncode == 0 and v.stderr.strip() == "", f"systemd-analyze verify accepts the unit ({v.stderr.strip()[:200]})")
    text = open(unit).read()
    check("Restart=always" in text and " service run " in text, "the unit restarts the guard and runs `service run`")

    # -- the managed browser policies, into the throw-away root.
    r = at("proxy", "enable", "--browsers")
    chromium_policy = os.path.join(ROOT, "etc/chromium/policies/managed/leakguard.json")
    if check(r.returncode == 0 and os.path.isfile(chromium_policy), "browser policies written"):
        pol = json.load(open(chromium_policy))
        check(pol["QuicAllowed"] is False and pol["ProxySettings"]["ProxyPacMandatory"] is True,
              "Chromium: QUIC off, PAC mandatory")
    firefox = json.load(open(os.path.join(ROOT, "etc/firefox/policies/policies.json")))
    check(firefox["policies"]["Preferences"]["network.http.http3.enable"]["Value"] is False, "Firefox: HTTP/3 off")

    # The guard stops before the undo (its checks, enforcing, would put routing back midway).
    GUARD.terminate()
    GUARD.wait(timeout=30)

    # -- undo everything: exactly what was there before comes back.
    for args in (("service", "uninstall"), ("proxy", "disable"), ("trust", "uninstall")):
        r = at(*args)
        check(r.returncode == 0 and all(l["state"] == "ok" for l in lines(r)), f"{' '.join(args)}: every step undone")
    check(gsettings("get", "org.gnome.system.proxy", "mode") == "'manual'", "the user's own proxy mode is back")
    check(open(os.path.join(HOME, ".profile")).read() == "export MINE=1\n", "the profile is byte for byte the user's again")
    after = snapshot()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    check(not added and not removed and not changed, f"nothing left behind (added {added}, removed {removed}, changed {changed})")
    system_bundle = open(os.path.join(ROOT, "etc/ssl/certs/ca-certificates.crt")).read().replace("\n", "")
    check(body not in system_bundle and old_body not in system_bundle,
          "the system bundle has neither the CA nor the one it replaced")
    check(nss_certs() == nss_before, "the NSS database lists what it did before")
    check(not os.path.exists(os.path.join(DATA, "deployment.json")), "the record of installed steps is empty and gone")
    ks = subprocess.run(["keytool", "-list", "-keystore", KEYSTORE, "-storepass", "changeit", "-alias", "leakguard-device-ca"],
                        capture_output=True, text=True)
    check(ks.returncode != 0, "the Java keystore no longer has the CA")


if __name__ == "__main__":
    sys.exit(main())
