"""Real documents, made by the libraries people's tools use (python-docx, python-pptx, openpyxl,
reportlab, odfpy, the standard library's email and the `zip` tool), sent through the guard on
every upload path: the OpenAI SDK's files.create (multipart), an Anthropic SDK `document` block
(base64), Claude web's upload (multipart, curl) and ChatGPT's raw file upload (PUT, curl).
Each asserts what the client was told and what the upstream received. `leakguard scan` reads
the same files.

Run by tests/documents/run.sh, which starts the upstream and the guard and sets:
  LG_ADDR, LG_DEVICE_CA, LG_UPSTREAM_LOG, LG_WORK, LG_BIN, LG_GUARD_PID
"""

import base64
import email.message
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import unittest

import anthropic
import docx
import openai
import openpyxl
import pptx
from odf.opendocument import OpenDocumentText
from odf.text import P
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

AWS_KEY = "AKIAQYLPMN5HJNGY4F7A"
CARD = "4111 1111 1111 1111"
WORK = os.environ["LG_WORK"]
CA = os.environ["LG_DEVICE_CA"]
PROXY = "http://" + os.environ["LG_ADDR"]


def upstream_lines():
    path = os.environ["LG_UPSTREAM_LOG"]
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # The upstream appends as requests arrive: the last line may be half written.
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def sentinel(tag):
    """A clean request after a block: once the upstream logged it, everything sent before it
    was logged too (the log is in arrival order)."""
    marker = f"sentinel-{tag}-{time.monotonic_ns()}"
    curl(["-X", "POST", "https://api.openai.com/v1/chat/completions",
          "-H", "content-type: application/json",
          "--data", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": marker}]})])
    wait_for(lambda: any(marker in l["body"] for l in upstream_lines()), marker)


def curl(args, data=None):
    """curl through the guard, trusting only the device CA: (status, body)."""
    out = subprocess.run(
        ["curl", "-sS", "--proxy", PROXY, "--cacert", CA, "-o", "-", "-w", "\n%{http_code}"] + args,
        input=data, capture_output=True, check=True, timeout=60,
    )
    body, _, status = out.stdout.rpartition(b"\n")
    return int(status), body.decode("utf-8", "replace")


def path(name):
    return os.path.join(WORK, name)


# --- documents, made by real libraries ------------------------------------------------------

def make_docx(name, paragraphs):
    d = docx.Document()
    d.add_heading("Falcon programme: meeting notes", 1)
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(path(name))
    return path(name)


def make_pptx(name, slides, notes_on=None, notes=""):
    prs = pptx.Presentation()
    for i, text in enumerate(slides, 1):
        s = prs.slides.add_slide(prs.slide_layouts[1])
        s.shapes.title.text = f"Slide {i}"
        s.placeholders[1].text = text
        if i == notes_on:
            s.notes_slide.notes_text_frame.text = notes
    prs.save(path(name))
    return path(name)


def make_xlsx(name, rows, sheet="Payroll"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(r)
    wb.save(path(name))
    return path(name)


def make_pdf(name, pages):
    c = canvas.Canvas(path(name), pagesize=A4)
    for lines in pages:
        y = 800
        for line in lines:
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path(name)


def make_odt(name, paragraphs):
    d = OpenDocumentText()
    for p in paragraphs:
        d.text.addElement(P(text=p))
    d.save(path(name))
    return path(name)


def read(p):
    with open(p, "rb") as f:
        return f.read()


CODE = """import boto3

def upload_wafer_map(path):
    # production credentials, do not share
    s3 = boto3.client("s3", aws_access_key_id="%s",
                      aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
    with open(path, "rb") as f:
        s3.put_object(Bucket="fab-wafer-maps", Key=path, Body=f.read())
""" % AWS_KEY


class Uploads(unittest.TestCase):
    def openai_client(self):
        http = openai.DefaultHttpxClient(verify=CA, trust_env=True)
        return openai.OpenAI(api_key="sk-test-not-a-real-key", http_client=http, max_retries=0)

    def anthropic_client(self):
        http = anthropic.DefaultHttpxClient(verify=CA, trust_env=True)
        return anthropic.Anthropic(api_key="sk-ant-test-not-real", http_client=http, max_retries=0)

    def assert_never_upstream(self, needle_bytes_sha=None, text=AWS_KEY):
        lines = upstream_lines()
        self.assertFalse(any(text in l["body"] for l in lines), "the upstream never saw the secret")
        if needle_bytes_sha:
            self.assertFalse(any(l.get("sha256") == needle_bytes_sha for l in lines))

    def test_word_file_with_a_key_is_blocked_on_openai_files_create(self):
        p = make_docx("plan.docx", ["Agenda: yield review", f"Deploy key for the fab bucket: {AWS_KEY}"])
        with self.assertRaises(openai.PermissionDeniedError) as cm:
            self.openai_client().files.create(file=("plan.docx", read(p)), purpose="assistants")
        msg = str(cm.exception)
        self.assertIn("aws-access-key-id", msg)
        self.assertIn("plan.docx: body", msg)
        self.assertNotIn(AWS_KEY, msg)
        sentinel("docx")
        self.assert_never_upstream()

    def test_a_clean_word_file_goes_out(self):
        p = make_docx("clean.docx", ["Agenda: lunch options", "Nothing confidential here."])
        self.openai_client().files.create(file=("clean.docx", read(p)), purpose="assistants")
        wait_for(lambda: any(l["path"] == "/v1/files" and "clean.docx" in l["body"] for l in upstream_lines()),
                 "the clean upload upstream")

    def test_a_key_in_speaker_notes_is_blocked_on_claude_web_upload(self):
        p = make_pptx("deck.pptx", ["Roadmap", "Budget", "Hiring"], notes_on=2, notes=f"remember {AWS_KEY}")
        status, body = curl(["-X", "POST", "https://claude.ai/api/organizations/org-1/upload",
                             "-F", f"file=@{p};type=application/vnd.openxmlformats-officedocument.presentationml.presentation"])
        self.assertEqual(status, 403, body)
        self.assertIn("deck.pptx: notes", body)
        sentinel("pptx")
        self.assert_never_upstream()

    def test_a_card_in_a_sheet_is_blocked_on_chatgpt_raw_upload_with_its_cell(self):
        p = make_xlsx("pay.xlsx", [["Name", "Card"], ["Ann Lee", "n/a"], ["Bo Kim", CARD]])
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-abc123",
                             "-H", "content-type: application/octet-stream", "--data-binary", f"@{p}"])
        self.assertEqual(status, 403, body)
        self.assertIn("sheet Payroll, cell B3", body)
        self.assertIn("cannot be redacted", body)
        sentinel("xlsx")
        self.assert_never_upstream(hashlib.sha256(read(p)).hexdigest(), text=CARD)

    def test_a_clean_pdf_arrives_byte_for_byte_on_chatgpt_raw_upload(self):
        p = make_pdf("menu.pdf", [["Lunch menu", "Soup of the day"], ["Dessert", "Fruit"]])
        data = read(p)
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-menu",
                             "-H", "content-type: application/pdf", "--data-binary", f"@{p}"])
        self.assertEqual(status, 200, body)
        sha = hashlib.sha256(data).hexdigest()
        wait_for(lambda: any(l.get("sha256") == sha and l["len"] == len(data) for l in upstream_lines()),
                 "the PDF upstream, unchanged")

    def test_a_key_on_page_two_of_a_pdf_is_blocked_in_an_anthropic_document_block(self):
        p = make_pdf("runbook.pdf", [["Runbook", "Step 1: log in"], ["Step 2: credentials", f"aws key {AWS_KEY}"]])
        data = base64.standard_b64encode(read(p)).decode()
        with self.assertRaises(anthropic.PermissionDeniedError) as cm:
            self.anthropic_client().messages.create(
                model="claude-sonnet-4-5", max_tokens=100,
                messages=[{"role": "user", "content": [
                    {"type": "document", "title": "runbook.pdf",
                     "source": {"type": "base64", "media_type": "application/pdf", "data": data}},
                    {"type": "text", "text": "Summarise this runbook"}]}])
        msg = str(cm.exception)
        self.assertIn("runbook.pdf: page 2", msg)
        sentinel("pdf")
        self.assert_never_upstream()

    def test_an_opendocument_text_with_a_key_is_blocked(self):
        p = make_odt("memo.odt", ["Memo", f"The key is {AWS_KEY}"])
        with self.assertRaises(openai.PermissionDeniedError) as cm:
            self.openai_client().files.create(file=("memo.odt", read(p)), purpose="assistants")
        self.assertIn("memo.odt: body", str(cm.exception))
        sentinel("odt")
        self.assert_never_upstream()

    def test_a_zip_of_code_is_read_member_by_member(self):
        src = path("repo")
        os.makedirs(os.path.join(src, "tools"), exist_ok=True)
        with open(os.path.join(src, "tools", "upload.py"), "w") as f:
            f.write(CODE)
        with open(os.path.join(src, "README.md"), "w") as f:
            f.write("# wafer tools\n")
        z = path("repo.zip")
        subprocess.run(["zip", "-q", "-r", z, "repo"], cwd=WORK, check=True)
        status, body = curl(["-X", "POST", "https://api.openai.com/v1/files", "-F", "purpose=assistants",
                             "-F", f"file=@{z};type=application/zip"])
        self.assertEqual(status, 403, body)
        self.assertIn("repo.zip: repo/tools/upload.py", body)
        sentinel("zip")
        self.assert_never_upstream()

    def test_an_encrypted_zip_is_refused_as_unreadable(self):
        with open(path("notes.txt"), "w") as f:
            f.write("nothing to see\n")
        z = path("locked.zip")
        subprocess.run(["zip", "-q", "-j", "-P", "pw", z, path("notes.txt")], check=True)
        status, body = curl(["-X", "POST", "https://api.openai.com/v1/files", "-F", "purpose=assistants",
                             "-F", f"file=@{z};type=application/zip"])
        self.assertEqual(status, 403, body)
        self.assertIn("locked.zip could not be checked", body)
        self.assertIn("encrypted", body)

    def test_a_mail_with_an_attached_word_file(self):
        p = make_docx("attached.docx", [f"credentials {AWS_KEY}"])
        m = email.message.EmailMessage()
        m["From"], m["To"], m["Subject"] = "a@example.com", "b@example.com", "Falcon notes"
        m.set_content("See the attached notes.")
        m.add_attachment(read(p), maintype="application",
                         subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                         filename="attached.docx")
        eml = path("notes.eml")
        with open(eml, "wb") as f:
            f.write(bytes(m))
        status, body = curl(["-X", "POST", "https://claude.ai/api/organizations/org-1/upload",
                             "-F", f"file=@{eml};type=message/rfc822"])
        self.assertEqual(status, 403, body)
        self.assertIn("notes.eml: attachment attached.docx: body", body)

    def test_a_notebook_cell(self):
        nb = {"cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Analysis\n"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
             "source": ["import os\n", "x = 1\n"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 2, "outputs": [],
             "source": [f"key = '{AWS_KEY}'\n"]}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        p = path("analysis.ipynb")
        with open(p, "w") as f:
            json.dump(nb, f)
        status, body = curl(["-X", "POST", "https://claude.ai/api/organizations/org-1/upload",
                             "-F", f"file=@{p};type=application/x-ipynb+json"])
        self.assertEqual(status, 403, body)
        self.assertIn("aws-access-key-id", body)

    def test_a_zip_bomb_is_refused_and_the_guard_stays_up_within_memory(self):
        bomb = path("bomb.zip")
        # 1 GiB of zeros through the standard tool, stored as one member of about 1 MB.
        subprocess.run(f"head -c 1073741824 /dev/zero | zip -q '{bomb}' -", shell=True, check=True)
        self.assertLess(os.path.getsize(bomb), 4 << 20)
        status, body = curl(["-X", "POST", "https://api.openai.com/v1/files", "-F", "purpose=assistants",
                             "-F", f"file=@{bomb};type=application/zip"])
        self.assertEqual(status, 403, body)
        self.assertIn("compression bomb", body)
        sentinel("bomb")
        with open(f"/proc/{os.environ['LG_GUARD_PID']}/status") as f:
            hwm_kib = int(next(l for l in f if l.startswith("VmHWM:")).split()[1])
        print(f"documents: guard peak memory after the bomb: {hwm_kib // 1024} MiB", file=sys.stderr)
        self.assertLess(hwm_kib, 512 * 1024, "the guard's memory stayed under 512 MiB")


def make_big_pdf(name, secret_on_page_two=False):
    """A PDF of about 40 MB: a page of text and a page holding a 3,600 x 3,600 photo of noise
    (incompressible, as scanned pages and photos are), made by reportlab with Pillow."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    side = 3600
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    c = canvas.Canvas(path(name), pagesize=A4)
    c.drawString(72, 800, "Quarterly site photos")
    c.showPage()
    c.drawImage(ImageReader(img), 0, 0, width=595, height=842)
    if secret_on_page_two:
        c.drawString(72, 40, f"badge system key {AWS_KEY}")
    c.showPage()
    c.save()
    return path(name)


class CompanyContent(unittest.TestCase):
    """The guard runs with an index of this project's docs/ and crates/documents/src (run.sh),
    standing in for a company's wiki and repositories."""

    def paragraph(self, doc, start):
        with open(os.path.join(os.environ["LG_ROOT"], "docs", doc), encoding="utf-8") as f:
            for para in f.read().split("\n\n"):
                if para.startswith(start):
                    return " ".join(para.split())
        raise AssertionError(f"no paragraph starting {start!r} in {doc}")

    def test_meeting_notes_quoting_a_company_document_are_blocked(self):
        para = self.paragraph("documents.md", "Every read has a budget")
        # Rewritten as a meeting's action items: one bullet a sentence, no full stops.
        bullets = [s.strip().rstrip(".") for s in para.split(". ") if s.strip()]
        p = make_docx("minutes.docx", ["Minutes of the platform sync", "Actions:"] + bullets)
        status, body = curl(["-X", "POST", "https://claude.ai/api/organizations/org-1/upload",
                             "-F", f"file=@{p};type=application/vnd.openxmlformats-officedocument.wordprocessingml.document"])
        self.assertEqual(status, 403, body)
        self.assertIn("fingerprint:acme", body)
        self.assertIn("minutes.docx: body", body)

    def test_a_presentation_with_a_slide_of_company_code_is_blocked(self):
        with open(os.path.join(os.environ["LG_ROOT"], "crates", "documents", "src", "rtf.rs")) as f:
            code = f.read().splitlines()
        start = next(i for i, l in enumerate(code) if l.startswith("pub(crate) fn to_text"))
        excerpt = "\n".join(code[start:start + 30])
        p = make_pptx("review.pptx", ["Agenda", excerpt, "Questions"])
        with self.assertRaises(openai.PermissionDeniedError) as cm:
            Uploads.openai_client(self).files.create(file=("review.pptx", read(p)), purpose="assistants")
        msg = str(cm.exception)
        self.assertIn("fingerprint:acme", msg)
        self.assertIn("review.pptx: slide 2", msg)

    def test_an_unrelated_document_passes(self):
        p = make_docx("lunch.docx", ["The canteen serves soup on Mondays and curry on Fridays.",
                                     "Bring your own cup to the coffee corner, please."])
        status, body = curl(["-X", "POST", "https://claude.ai/api/organizations/org-1/upload",
                             "-F", f"file=@{p};type=application/octet-stream"])
        self.assertEqual(status, 200, body)


class LargeUploads(unittest.TestCase):
    def test_a_clean_40_mb_pdf_passes_on_the_raw_upload_and_through_files_create(self):
        p = make_big_pdf("photos.pdf")
        data = read(p)
        self.assertGreater(len(data), 38 << 20, "bigger than the 32 MiB in-memory cap")
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-photos",
                             "-H", "content-type: application/pdf", "--data-binary", f"@{p}"])
        self.assertEqual(status, 200, body)
        sha = hashlib.sha256(data).hexdigest()
        wait_for(lambda: any(l.get("sha256") == sha for l in upstream_lines()), "the 40 MB PDF upstream, unchanged",
                 timeout=30)
        http = openai.DefaultHttpxClient(verify=CA, trust_env=True, timeout=60)
        client = openai.OpenAI(api_key="sk-test-not-a-real-key", http_client=http, max_retries=0)
        client.files.create(file=("photos.pdf", data), purpose="assistants")
        wait_for(lambda: any(l["path"] == "/v1/files" and l["len"] > len(data) for l in upstream_lines()),
                 "the multipart upload upstream", timeout=30)

    def test_a_key_on_page_two_of_a_40_mb_pdf_is_blocked(self):
        p = make_big_pdf("photos-key.pdf", secret_on_page_two=True)
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-photos-key",
                             "-H", "content-type: application/pdf", "--data-binary", f"@{p}"])
        self.assertEqual(status, 403, body)
        self.assertIn("upload: page 2", body)
        sha = hashlib.sha256(read(p)).hexdigest()
        sentinel("bigpdf")
        self.assertFalse(any(l.get("sha256") == sha for l in upstream_lines()))

    def test_a_chunked_upload_without_a_declared_size_is_spooled_too(self):
        clean = make_big_pdf("chunked.pdf")
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-chunked",
                             "-H", "content-type: application/pdf", "-H", "Transfer-Encoding: chunked",
                             "--data-binary", f"@{clean}"])
        self.assertEqual(status, 200, body)
        sha = hashlib.sha256(read(clean)).hexdigest()
        wait_for(lambda: any(l.get("sha256") == sha for l in upstream_lines()), "the chunked PDF upstream",
                 timeout=30)
        keyed = make_big_pdf("chunked-key.pdf", secret_on_page_two=True)
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-chunked-key",
                             "-H", "content-type: application/pdf", "-H", "Transfer-Encoding: chunked",
                             "--data-binary", f"@{keyed}"])
        self.assertEqual(status, 403, body)
        self.assertIn("upload: page 2", body)

    def test_an_upload_over_the_policy_limit_is_refused_with_the_limit(self):
        # The guard of this test runs with documents.max_upload_bytes = 96 MiB (run.sh).
        big = path("huge.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(100 << 20))
        status, body = curl(["-X", "PUT", "https://files.oaiusercontent.com/file-huge",
                             "-H", "content-type: application/octet-stream", "--data-binary", f"@{big}"])
        self.assertEqual(status, 413, body)
        self.assertIn("100663296-byte limit", body)


class Conversation(unittest.TestCase):
    def send(self, conversation, text):
        body = {"action": "next", "conversation_id": conversation, "model": "gpt-4o",
                "messages": [{"author": {"role": "user"},
                              "content": {"content_type": "text", "parts": [text]}}]}
        return curl(["-X", "POST", "https://chatgpt.com/backend-api/conversation",
                     "-H", "content-type: application/json", "--data", json.dumps(body)])

    def test_eight_two_line_pieces_of_one_paste_are_caught_by_the_last(self):
        # Sixteen distinct lines of this repository's own Python, as a user would paste them.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "bench", "make_documents.py")) as f:
            src = f.read()
        lines = [l for l in src.splitlines() if len(l.strip()) > 12 and not l.lstrip().startswith("#")
                 and '"""' not in l][10:26]
        self.assertEqual(len(set(lines)), 16)
        statuses = []
        for i in range(8):
            status, body = self.send("conv-split-1", "\n".join(lines[2 * i:2 * i + 2]))
            statuses.append(status)
            if status != 200:
                self.assertEqual(status, 403, body)
                self.assertIn("source", body.lower(), body)
        self.assertEqual(statuses[0], 200, "the first piece alone passes")
        self.assertEqual(statuses[-1], 403, f"the last piece is held: {statuses}")


class Scan(unittest.TestCase):
    def scan(self, *files):
        r = subprocess.run([os.environ["LG_BIN"], "scan", *files], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def test_scan_names_the_place_in_each_document(self):
        sheet = make_xlsx("scan.xlsx", [["id", "secret"], ["1", AWS_KEY]], sheet="Keys")
        deck = make_pptx("scan.pptx", ["intro", f"key {AWS_KEY}"])
        code, out = self.scan(sheet, deck)
        self.assertEqual(code, 1, out)
        self.assertIn("scan.xlsx: sheet Keys, cell B2:2:3", out)
        self.assertIn("scan.pptx: slide 2:", out)
        self.assertNotIn(AWS_KEY, out)

    def test_scan_passes_a_clean_document_and_fails_an_unreadable_one(self):
        clean = make_docx("scan-clean.docx", ["nothing here"])
        self.assertEqual(self.scan(clean)[0], 0)
        with open(path("x.txt"), "w") as f:
            f.write("x")
        z = path("scan-locked.zip")
        subprocess.run(["zip", "-q", "-j", "-P", "pw", z, path("x.txt")], check=True)
        code, out = self.scan(z)
        self.assertEqual(code, 2, out)
        self.assertIn("encrypted", out)


if __name__ == "__main__":
    unittest.main(verbosity=1)
