"""Makes the documents the document benchmarks read (scripts/bench-documents.sh): a 1 MB DOCX,
a 10 MB PDF, and about 1 MB each of XLSX, PPTX, ODT and a zip of this repository's Rust code,
with the libraries people's tools use. Text is public-domain-style filler, varied so it does
not compress to nothing. Usage: make_documents.py DIR REPO_ROOT"""

import os
import random
import sys
import zipfile

import docx
import openpyxl
import pptx
from odf.opendocument import OpenDocumentText
from odf.text import P
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

out, root = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
WORDS = ("the review went well and team agreed on next steps for launch in may budget plan "
         "meeting notes quarterly yield process wafer supplier schedule risk owner action item "
         "design customer feedback release testing security training hiring roadmap").split()


def sentence():
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."


d = docx.Document()
while True:
    for _ in range(2000):
        d.add_paragraph(" ".join(sentence() for _ in range(3)))
    d.save(os.path.join(out, "notes.docx"))
    if os.path.getsize(os.path.join(out, "notes.docx")) >= 1_000_000:
        break

c = canvas.Canvas(os.path.join(out, "report.pdf"), pagesize=A4)
pages = 0
while True:
    for _ in range(50):
        y = 800
        while y > 60:
            c.drawString(40, y, sentence()[:110])
            y -= 12
        c.showPage()
        pages += 1
    # reportlab writes the file on save: estimate from the pages (about 2.5 KB each).
    if pages * 2500 >= 10_000_000:
        break
c.save()

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Ledger"
for i in range(60000):
    ws.append([i, rng.choice(WORDS), rng.randint(1, 10**6), sentence()[:40]])
wb.save(os.path.join(out, "ledger.xlsx"))

prs = pptx.Presentation()
for i in range(400):
    s = prs.slides.add_slide(prs.slide_layouts[1])
    s.shapes.title.text = f"Slide {i + 1}"
    s.placeholders[1].text = "\n".join(sentence() for _ in range(6))
prs.save(os.path.join(out, "deck.pptx"))

odt = OpenDocumentText()
for _ in range(12000):
    odt.text.addElement(P(text=" ".join(sentence() for _ in range(3))))
odt.save(os.path.join(out, "memo.odt"))

with zipfile.ZipFile(os.path.join(out, "code.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for base, _, files in os.walk(os.path.join(root, "crates")):
        for f in sorted(files):
            if f.endswith(".rs"):
                p = os.path.join(base, f)
                z.write(p, os.path.relpath(p, root))

for f in sorted(os.listdir(out)):
    print(f"{f}\t{os.path.getsize(os.path.join(out, f))}")
