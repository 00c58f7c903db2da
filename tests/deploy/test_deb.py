"""The guard's .deb (scripts/package-deb.sh), installed and purged with the real dpkg into a
throw-away root (`dpkg --root` with chrootless maintainer scripts, which see $DPKG_ROOT), never
on this machine: what it ships, what its post-install writes (the managed browser policies),
and that purging leaves the root exactly as it was.

Run by tests/deploy/run.sh (LG_WORK).
"""

import base64
import json
import os
import plistlib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, failures  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.environ["LG_WORK"]
ROOT = os.path.join(WORK, "dpkg-root")
HOME = os.path.join(WORK, "dpkg-home")


def listing():
    """Every path under the root with its kind and content hash, dpkg's own database aside."""
    out = {}
    for d, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(d, ROOT)
        if rel == "var/lib/dpkg" or rel.startswith("var/lib/dpkg/"):
            continue
        out[rel + "/"] = "dir"
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, ROOT)] = os.path.islink(p) or open(p, "rb").read()
    return out


def dpkg(*args):
    env = {"PATH": os.environ["PATH"], "HOME": HOME, "XDG_CONFIG_HOME": os.path.join(HOME, ".config")}
    return subprocess.run(
        ["dpkg", f"--root={ROOT}", "--force-script-chrootless", "--force-not-root", "--force-depends",
         f"--log={os.path.join(WORK, 'dpkg.log')}", *args],
        capture_output=True, text=True, env=env,
    )


def main():
    deb = subprocess.run([os.path.join(REPO, "scripts", "package-deb.sh")], capture_output=True, text=True, check=True).stdout.strip()
    contents = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/leakguard", "./usr/lib/systemd/user/leakguard.service",
                 "./usr/lib/systemd/user/default.target.wants/leakguard.service -> ../leakguard.service",
                 "./usr/share/doc/leakguard/deployment.md"):
        check(path in contents, f"the package ships {path.split(' ')[0]}")

    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc", "usr"):
        os.makedirs(os.path.join(ROOT, d))
    for f in ("status", "available"):
        open(os.path.join(ROOT, "var/lib/dpkg", f), "w").close()
    # A root is never empty: what other packages own stays whatever this one does.
    for f in ("usr/bin/other-tool", "usr/share/doc/other/copyright", "etc/hostname"):
        os.makedirs(os.path.dirname(os.path.join(ROOT, f)), exist_ok=True)
        with open(os.path.join(ROOT, f), "w") as fh:
            fh.write("not Leakguard's\n")
    os.makedirs(HOME)
    before = listing()

    r = dpkg("-i", deb)
    check(r.returncode == 0, f"dpkg -i into the throw-away root ({r.stderr.strip()[-300:]})")
    check(os.access(os.path.join(ROOT, "usr/bin/leakguard"), os.X_OK), "the guard is in /usr/bin")
    unit = open(os.path.join(ROOT, "usr/lib/systemd/user/leakguard.service")).read()
    check("ExecStartPre=-/usr/bin/leakguard setup" in unit and "ExecStart=/usr/bin/leakguard service run" in unit
          and "Restart=always" in unit, "the user unit sets the user up, runs the guard and restarts it")
    # systemd's own check, with the unit pointing at the binary inside the root.
    local = os.path.join(WORK, "leakguard.service")
    with open(local, "w") as f:
        f.write(unit.replace("/usr/bin/leakguard", os.path.join(ROOT, "usr/bin/leakguard")))
    v = subprocess.run(["systemd-analyze", "verify", local], capture_output=True, text=True)
    check(v.returncode == 0 and v.stderr.strip() == "", f"systemd-analyze verify accepts the packaged unit ({v.stderr.strip()[:200]})")

    policy_file = os.path.join(ROOT, "etc/chromium/policies/managed/leakguard.json")
    if check(os.path.isfile(policy_file), "the post-install wrote Chromium's managed policy"):
        pol = json.load(open(policy_file))
        url = pol["ProxySettings"]["ProxyPacUrl"]
        pac = base64.b64decode(url.split("base64,", 1)[1]).decode() if "base64," in url else ""
        check(pol["QuicAllowed"] is False and pol["ProxySettings"]["ProxyPacMandatory"] is True, "QUIC off, PAC mandatory")
        check("PROXY 127.0.0.1:8480" in pac and '"chatgpt.com"' in pac, "the inline PAC sends chatgpt.com to the guard")
    ff = os.path.join(ROOT, "etc/firefox/policies/policies.json")
    check(os.path.isfile(ff) and json.load(open(ff))["policies"]["Preferences"]["network.proxy.failover_direct"]["Value"] is False,
          "Firefox: no failover to direct")
    check(not os.listdir(HOME), "the package's scripts touched no user's home")

    r = dpkg("-P", "leakguard")
    check(r.returncode == 0, f"dpkg -P ({r.stderr.strip()[-300:]})")
    after = listing()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    check(not added and not removed and not changed,
          f"purge leaves the root as it was (added {added[:8]}, removed {removed[:8]}, changed {changed[:8]})")
    check_jamf_profile()
    return 1 if failures else 0


def check_jamf_profile():
    """The Jamf configuration profile is a well-formed property list with the payloads the
    roll-out depends on."""
    with open(os.path.join(REPO, "policies/mdm/jamf/leakguard.mobileconfig"), "rb") as f:
        profile = plistlib.load(f)
    payloads = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    uuids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in profile["PayloadContent"]]
    check(profile["PayloadType"] == "Configuration" and len(set(uuids)) == len(uuids), "Jamf profile: unique payload UUIDs")
    proxy = payloads.get("com.apple.proxy.http.global", {})
    check(proxy.get("ProxyType") == "Auto" and proxy.get("ProxyPACURL") == "http://127.0.0.1:8480/proxy.pac"
          and proxy.get("ProxyPACFallbackAllowed") is False, "Jamf profile: the guard's PAC with no fallback to direct")
    for browser in ("com.google.Chrome", "com.microsoft.Edge"):
        b = payloads.get(browser, {})
        check(b.get("QuicAllowed") is False and b.get("ProxySettings", {}).get("ProxyPacMandatory") is True,
              f"Jamf profile: {browser} without QUIC, PAC mandatory")
    ff = payloads.get("org.mozilla.firefox", {})
    check(ff.get("Preferences", {}).get("network.http.http3.enable", {}).get("Value") is False, "Jamf profile: Firefox without HTTP/3")


if __name__ == "__main__":
    sys.exit(main())
