"""Headless Chromium (Debian's package) through the guard: a page on chatgpt.com sends
ChatGPT-web-shaped prompts with fetch(), as the web app does, and reads an answer streamed in
ChatGPT's delta encoding; a page on gemini.google.com sends Gemini-web-shaped forms (JSON in
JSON in a form field); and a prompt in the address (chatgpt.com/?q=...) gets the guard's page.

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


def dom_of(cmd, env=None):
    """The DOM Chromium dumps when the page is done."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env).stdout


def page_results(cmd, env=None):
    """Runs Chromium on an e2e page; the list of results the page wrote, or None."""
    dom = dom_of(cmd, env)
    marker = dom.find("RESULT ")
    if marker < 0:
        print("FAIL: the page did not finish:", dom[:2000])
        return None
    payload = dom[marker + len("RESULT "):]
    payload = payload[: payload.rfind("]") + 1]
    return json.loads(payload.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"'))


def chatgpt_answer(sse):
    """The answer's text in a ChatGPT web stream (delta encoding `v1`): every string `v`
    appended to the message's first part, with its pointer, bare, or inside a patch."""
    part, text, pointer = "/message/content/parts/0", "", ""
    for line in sse.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[len("data: "):])
        if not isinstance(event, dict):
            continue
        pointer = event.get("p", pointer)
        v = event.get("v")
        if isinstance(v, str) and pointer == part:
            text += v
        elif isinstance(v, list):
            text += "".join(op["v"] for op in v if op.get("p") == part and isinstance(op.get("v"), str))
    return text


def main():
    chromium = shutil.which("chromium")
    if chromium is None:
        print("FAIL: chromium is not installed (scripts/setup.sh installs Debian's package)")
        return 1
    profile = tempfile.mkdtemp(prefix="lg-chromium-", dir=os.environ["LG_WORK"])
    base = [
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
        f"--proxy-server=http://{os.environ['LG_ADDR']}",
        f"--ignore-certificate-errors-spki-list={spki_sha256(os.environ['LG_DEVICE_CA'])}",
    ]
    results = page_results([*base, "https://chatgpt.com/leakguard-e2e.html"])
    gemini = page_results([*base, "https://gemini.google.com/leakguard-e2e-gemini.html"])
    if results is None or gemini is None:
        return 1
    clean, secret, card, answered = results
    pasted, plain = gemini
    # A prompt in the address, as a link or a search shortcut opens it.
    address = dom_of([*base, f"https://chatgpt.com/?q=deploy%20with%20aws_access_key_id%20{AWS_KEY}"])
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
    # The answer streamed in ChatGPT's delta encoding reaches the page whole (the default
    # policy audits replies: run.sh checks the `reply` event that names the key).
    check(answered["status"] == 200 and chatgpt_answer(answered["text"]) == f"Use {AWS_KEY} for the deploy.",
          "an answer streamed in ChatGPT's delta encoding reaches the page as it was sent")
    # Gemini's web app: the key in pasted code, inside JSON inside JSON inside a form field.
    check(pasted["status"] == 403, f"a Gemini-web form with a key in pasted code is refused (got {pasted['status']})")
    check(AWS_KEY not in pasted["text"], "the refusal never repeats the secret")
    check(plain["status"] == 200, f"a clean Gemini-web form is answered (got {plain['status']})")
    # The address: the guard's page, shown by the browser, naming the rule and not the key.
    check("Blocked by Leakguard" in address, "a prompt in the address gets the guard's page in the browser")
    check("aws-access-key-id" in address and AWS_KEY not in address, "the page names the rule, never the key")
    with open(os.environ["LG_UPSTREAM_LOG"], encoding="utf-8") as f:
        seen = [json.loads(l) for l in f if l.strip()]
    convo = [s["body"] for s in seen if s["host"] == "chatgpt.com" and s["path"].endswith("/conversation")]
    check(any("pet turtle" in b for b in convo), "the upstream saw the clean prompt")
    check(not any(AWS_KEY in b for b in convo), "the upstream never saw the AWS key")
    check(any("[REDACTED:credit-card-number#1]" in b for b in convo), "the upstream saw the card placeholder")
    check(not any("4111 1111 1111 1111" in b for b in convo), "the upstream never saw the card number")
    streamed = [s for s in seen if s["host"] == "gemini.google.com" and "StreamGenerate" in s["path"]]
    check(len(streamed) == 1 and "turtle" in streamed[0]["body"], "the upstream saw the clean Gemini form only")
    web = [s for s in seen if s["host"] in ("chatgpt.com", "gemini.google.com")]
    check(not any(AWS_KEY in json.dumps(s) for s in web), "the upstream never saw the AWS key from the browser")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
