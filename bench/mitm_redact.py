"""The peer to beat: mitmproxy with a regex-redaction addon equivalent to a small DLP.

Used by `leakguard-proxybench --peer mitmproxy` (scripts/bench.sh). Every request body to
an LLM host is decoded as text, run through the regexes and rewritten when one matches; the
server connection goes to the test upstream named in LG_UPSTREAM (host:port), like the
guard's --resolve.
"""

import os
import re

from mitmproxy import http

LLM_HOSTS = ("api.openai.com", "api.anthropic.com", "chatgpt.com", "claude.ai")
PATTERNS = [
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bsk-(?:proj-|ant-api03-)?[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)\b(?:password|secret|api_key|token)\s*[:=]\s*\S{8,}"),
]


def server_connect(data):
    target = os.environ.get("LG_UPSTREAM")
    if target:
        host, port = target.rsplit(":", 1)
        data.server.address = (host, int(port))


def request(flow: http.HTTPFlow) -> None:
    if flow.request.pretty_host not in LLM_HOSTS or not flow.request.content:
        return
    text = flow.request.get_text(strict=False) or ""
    changed = text
    for p in PATTERNS:
        changed = p.sub("[REDACTED]", changed)
    if changed != text:
        flow.request.set_text(changed)
