"""Headless Chromium (Debian's package) through the guard: a page on chatgpt.com sends
ChatGPT-web-shaped prompts with fetch(), as the web app does.

Chromium trusts the device CA through --ignore-certificate-errors-spki-list with the CA's
SPKI hash (the CA is in the chain the guard presents), and reaches chatgpt.com only through
--proxy-server. Run by tests/e2e/run.sh (LG_ADDR, LG_DEVICE_CA, LG_WORK, LG_UPSTREAM_LOG).
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

AWS_KEY = "AKIAQYLPMN5HJNGY4F7A"


def spki_sha256(pem_path):
    der = subprocess.run(
        ["openssl", "x509", "-in", pem_path, "-pubkey", "-noout"], check=True, capture_output=True
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=der, check=True, capture_output=True
    ).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


# Headless, no background traffic (this machine's network is closed), the DOM when done.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=20000", "--dump-dom",
]


def page_results(cmd, env=None):
    """Runs Chromium on the e2e page; the page's three results (clean, secret, card), or None."""
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env).stdout
    marker = dom.find("RESULT ")
    if marker < 0:
        print("FAIL: the page did not finish:", dom[:2000])
        return None
    payload = dom[marker + len("RESULT "):]
    payload = payload[: payload.rfind("]") + 1]
    return json.loads(payload.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"'))


def main():
    chromium = shutil.which("chromium")
    if chromium is None:
        print("FAIL: chromium is not installed (scripts/setup.sh installs Debian's package)")
        return 1
    profile = tempfile.mkdtemp(prefix="lg-chromium-", dir=os.environ["LG_WORK"])
    cmd = [
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
        f"--proxy-server=http://{os.environ['LG_ADDR']}",
        f"--ignore-certificate-errors-spki-list={spki_sha256(os.environ['LG_DEVICE_CA'])}",
        "https://chatgpt.com/leakguard-e2e.html",
    ]
    results = page_results(cmd)
    if results is None:
        return 1
    clean, secret, card = results
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    check(clean["status"] == 200 and "data:" in clean["text"], "a clean prompt is answered with the SSE stream")
    check(secret["status"] == 403, "a prompt with an AWS key is refused with 403")
    detail = json.loads(secret["text"]).get("detail", "") if secret["status"] == 403 else ""
    check("aws-access-key-id" in detail, "the refusal's `detail` (shown by the ChatGPT page) names the rule")
    check(AWS_KEY not in secret["text"], "the refusal never repeats the secret")
    check(card["status"] == 200, "a prompt with a card number is answered (redacted)")
    with open(os.environ["LG_UPSTREAM_LOG"], encoding="utf-8") as f:
        seen = [json.loads(l) for l in f if l.strip()]
    convo = [s["body"] for s in seen if s["host"] == "chatgpt.com" and s["path"].endswith("/conversation")]
    check(any("pet turtle" in b for b in convo), "the upstream saw the clean prompt")
    check(not any(AWS_KEY in b for b in convo), "the upstream never saw the AWS key")
    check(any("[REDACTED:credit-card-number#1]" in b for b in convo), "the upstream saw the card placeholder")
    check(not any("4111 1111 1111 1111" in b for b in convo), "the upstream never saw the card number")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
