#!/usr/bin/env python3
"""Builds tests/accuracy/corpus.jsonl: the accuracy test set of issue 23 (personal data as
people write it, digits in any script, encodings, and hard look-alikes as negatives).

Nothing here is copied from the rules' own examples (policies/rules/*.toml). The shapes come
from public descriptions, named per class:

- dates of birth: how forms and letters write dates in English, German and Korean (CLDR's
  date patterns for en-US, en-GB, de-DE and ko-KR: "March 3, 1987", "3 March 1987",
  "03.04.1987", "3. März 1987", "1987년 3월 4일"), with labels as forms print them
  (HL7 FHIR's Patient.birthDate, schema.org's Person.birthDate, the German "Geburtsdatum",
  the Korean "생년월일");
- passports: ICAO Doc 9303 part 4 (document numbers up to 9 characters) and the issuers'
  public pages: US (9 digits; next-generation books a letter and 8 digits), UK (9 digits),
  Germany (9 characters from C F G H J K L M N P R T V W X Y Z and digits, first a letter),
  Korea (M and 8 digits; since 2021 a letter, 3 digits, a letter and 4 digits);
- IBANs: the SWIFT IBAN Registry (country lengths and BBAN layouts), check digits computed
  by ISO 7064 mod 97-10; printed in groups of four as banks print them;
- phone numbers: ITU-T E.164 and the national numbering plans (Ofcom, BNetzA, KCC, NANPA,
  ARCEP, MIC), written as people do: `+82 (0)10`, `0049`, brackets, dots, inside CSV/JSON;
- digits of other scripts: Unicode's decimal digits (general category Nd) from Python's
  unicodedata, and full-width forms;
- encodings: RFC 4648 base64 and base16, and HTML numeric character references (WHATWG);
- look-alikes: RFC 4122 UUIDs, Git object ids, semantic versions, ISO 8601 timestamps, SQL
  grants and row-level security written as database documentation shows them, connection
  URLs (RFC 3986 userinfo), prose that names functions.

Values are random (seeded), so every run writes the same file. Run it again after changing
it: `python3 tests/accuracy/make_corpus.py`; the evaluation is
`cargo run --release -p leakguard-detect --example accuracy_eval`.
"""

import base64
import json
import random
import string
import unicodedata
import zlib
from pathlib import Path

R = random.Random(20261206)
OUT = Path(__file__).with_name("corpus.jsonl")

FIRST_EN = ["James", "Mary", "Robert", "Patricia", "Michael", "Linda", "David", "Susan",
            "Olivia", "Noah", "Emma", "Liam", "Ava", "Ethan", "Sophia", "Lucas"]
LAST_EN = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Wilson", "Taylor", "Clarke", "Walker", "Wright", "Hughes"]
FIRST_DE = ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Paul", "Sophie", "Leon", "Mia"]
LAST_DE = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
           "Hoffmann", "Schäfer"]
NAME_KR = ["김민준", "이서연", "박지훈", "최수아", "정도윤", "강하은", "조예준", "윤지우", "장서준", "임하린"]

MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
             "September", "Oktober", "November", "Dezember"]

rows = []


def add(cls, text, expect, source):
    for e in expect:
        assert e["value"] in text, (e, text)
    rows.append({"class": cls, "source": source, "text": text, "expect": expect})


def name_en():
    return f"{R.choice(FIRST_EN)} {R.choice(LAST_EN)}"


def name_de():
    return f"{R.choice(FIRST_DE)} {R.choice(LAST_DE)}"


def date():
    return R.randint(1940, 2006), R.randint(1, 12), R.randint(1, 28)


def ordinal(d):
    return f"{d}{'th' if 11 <= d <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}"


# ---------------------------------------------------------------- dates of birth
def dob_cases():
    src = "CLDR date patterns (en, de, ko); FHIR Patient.birthDate; form labels"
    for _ in range(14):
        y, m, d = date()
        n = name_en()
        forms = [
            (f"{n} was born {d} {MONTHS_EN[m-1]} {y} in Leeds and joined us in 2019.",
             f"{d} {MONTHS_EN[m-1]} {y}"),
            (f"Can you draft a birthday card for {n}? She was born on {MONTHS_EN[m-1]} {d}, {y}.",
             f"{MONTHS_EN[m-1]} {d}, {y}"),
            (f"Applicant: {n}\nDOB: {m:02d}/{d:02d}/{y}\nNationality: British",
             f"{m:02d}/{d:02d}/{y}"),
            (f"Name: {n}\nDate of Birth\n{d:02d}/{m:02d}/{y}\nAddress: see file",
             f"{d:02d}/{m:02d}/{y}"),
            (f"Patient {n}, date of birth {y}-{m:02d}-{d:02d}, presented with chest pain.",
             f"{y}-{m:02d}-{d:02d}"),
            (f"Please check this record: {n} (born {y}-{m:02d}-{d:02d}), employee since 2015.",
             f"{y}-{m:02d}-{d:02d}"),
            (f"employee_id,name,birth_date,team\n4471,{n},{y}-{m:02d}-{d:02d},Platform",
             f"{y}-{m:02d}-{d:02d}"),
            (json.dumps({"resourceType": "Patient", "name": [{"text": n}],
                         "birthDate": f"{y}-{m:02d}-{d:02d}"}),
             f"{y}-{m:02d}-{d:02d}"),
            (f"Her birthday is the {ordinal(d)} of {MONTHS_EN[m-1]} {y}; remind the team.",
             f"{ordinal(d)} of {MONTHS_EN[m-1]} {y}"),
            (f"D.O.B.: {d} {MONTHS_EN[m-1][:3]} {y}. Blood type O+.",
             f"{d} {MONTHS_EN[m-1][:3]} {y}"),
            (f"{n}, b. {MONTHS_EN[m-1][:3]} {d}, {y}, is our new hire in Austin.",
             f"{MONTHS_EN[m-1][:3]} {d}, {y}"),
            (f"Full name: {n}. Date of birth: {d}.{m}.{y}. Passport to follow.",
             f"{d}.{m}.{y}"),
        ]
        t, v = R.choice(forms)
        add("dob", t, [{"family": "dob", "value": v}], src)
    for _ in range(12):
        y, m, d = date()
        n = name_de()
        forms = [
            (f"Geburtsdatum: {d:02d}.{m:02d}.{y}\nName: {n}", f"{d:02d}.{m:02d}.{y}"),
            (f"{n}, geboren am {d}. {MONTHS_DE[m-1]} {y} in Köln, wohnhaft in Bonn.",
             f"{d}. {MONTHS_DE[m-1]} {y}"),
            (f"Herr {n} (geb. {d:02d}.{m:02d}.{y}) hat den Vertrag unterschrieben.",
             f"{d:02d}.{m:02d}.{y}"),
            (f"Personalbogen\nVorname/Nachname: {n}\nGeburtstag: {d}.{m}.{y}\nAbteilung: Vertrieb",
             f"{d}.{m}.{y}"),
            (f"Bitte die Daten prüfen: {n}, Geburtsdatum {y}-{m:02d}-{d:02d}, Steuerklasse 1.",
             f"{y}-{m:02d}-{d:02d}"),
        ]
        t, v = R.choice(forms)
        add("dob", t, [{"family": "dob", "value": v}], src)
    for _ in range(12):
        y, m, d = date()
        n = R.choice(NAME_KR)
        forms = [
            (f"생년월일 {y}년 {m}월 {d}일\n성명: {n}", f"{y}년 {m}월 {d}일"),
            (f"{n} 님은 {y}년 {m}월 {d}일생으로 서울에서 태어났습니다.", f"{y}년 {m}월 {d}일"),
            (f"성명: {n}\n생년월일: {y}.{m:02d}.{d:02d}\n소속: 개발팀", f"{y}.{m:02d}.{d:02d}"),
            (f"지원자 {n}, 출생일 {y}-{m:02d}-{d:02d}, 연락 바랍니다.", f"{y}-{m:02d}-{d:02d}"),
            (f"이 고객({n}, 생일 {y}/{m:02d}/{d:02d})의 주소 변경을 처리해 주세요.",
             f"{y}/{m:02d}/{d:02d}"),
        ]
        t, v = R.choice(forms)
        add("dob", t, [{"family": "dob", "value": v}], src)


# ---------------------------------------------------------------- passports
def passport_cases():
    src = "ICAO Doc 9303 part 4; US, UK, DE (BSI alphabet), KR passport number formats"
    de_alpha = "CFGHJKLMNPRTVWXYZ"
    for _ in range(40):
        kind = R.choice(["us", "us2", "uk", "de", "kr", "kr2"])
        if kind == "us":
            v = "".join(R.choice(string.digits) for _ in range(9))
        elif kind == "us2":
            v = R.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(R.choice(string.digits) for _ in range(8))
        elif kind == "uk":
            v = str(R.randint(1, 9)) + "".join(R.choice(string.digits) for _ in range(8))
        elif kind == "de":
            v = R.choice("CFGHJK") + "".join(R.choice(de_alpha + string.digits) for _ in range(8))
        elif kind == "kr":
            v = R.choice("MSRO") + "".join(R.choice(string.digits) for _ in range(8))
        else:
            v = (R.choice("MS") + "".join(R.choice(string.digits) for _ in range(3))
                 + R.choice("ABCDEFGHJK") + "".join(R.choice(string.digits) for _ in range(4)))
        n = name_en()
        forms = [
            f"{n}'s passport number is {v}, issued in 2021.",
            f"Traveller: {n}\nPassport No.: {v}\nExpiry: 2031-05-01",
            f"Reisepassnummer: {v} (gültig bis 2030)",
            f"Passnummer {v}, ausgestellt in Berlin.",
            f"여권번호: {v}\n성명: {R.choice(NAME_KR)}",
            f"여권 번호는 {v} 입니다.",
            f"N° de passeport : {v}",
            f"guest,passport,nationality\n{n},{v},US",
            json.dumps({"traveler": n, "passportNumber": v, "country": "USA"}),
            f"Please book the flight for {n}. Passport\n{v}\nexp. 08/2030",
            f"Número de pasaporte: {v}",
        ]
        add("passport", R.choice(forms), [{"family": "passport", "value": v}], src)


# ---------------------------------------------------------------- IBANs
IBAN_LAYOUT = {  # SWIFT IBAN Registry: country, BBAN as (kind, length) parts
    "DE": [("n", 18)], "GB": [("a", 4), ("n", 14)], "FR": [("n", 10), ("c", 11), ("n", 2)],
    "ES": [("n", 20)], "IT": [("a", 1), ("n", 10), ("c", 12)], "NL": [("a", 4), ("n", 10)],
    "BE": [("n", 12)], "CH": [("n", 5), ("c", 12)], "AT": [("n", 16)], "PL": [("n", 24)],
    "SE": [("n", 20)], "NO": [("n", 11)], "DK": [("n", 14)], "IE": [("a", 4), ("n", 14)],
    "PT": [("n", 21)], "LU": [("n", 3), ("c", 13)], "FI": [("n", 14)], "MT": [("a", 4), ("n", 5), ("c", 18)],
}


def iban(cc):
    bban = ""
    for kind, n in IBAN_LAYOUT[cc]:
        pool = {"n": string.digits, "a": string.ascii_uppercase,
                "c": string.digits + string.ascii_uppercase}[kind]
        bban += "".join(R.choice(pool) for _ in range(n))
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    return f"{cc}{98 - int(num) % 97:02d}{bban}"


def grouped(s, sep=" "):
    return sep.join(s[i:i + 4] for i in range(0, len(s), 4))


def iban_cases():
    src = "SWIFT IBAN Registry layouts; ISO 7064 mod 97-10"
    for _ in range(40):
        v = iban(R.choice(list(IBAN_LAYOUT)))
        shown = R.choice([v, grouped(v), grouped(v), grouped(v, "\u00a0"), grouped(v, "-")])
        n = name_en()
        forms = [
            f"Please wire the deposit to IBAN {shown} (account holder {n}).",
            f"Bankverbindung: {n}, IBAN: {shown}, BIC: COBADEFFXXX",
            f"vendor;iban;amount\nAcme GmbH;{shown};1200.00",
            json.dumps({"payee": n, "iban": shown, "currency": "EUR"}, ensure_ascii=False),
            f"Kontonummer (IBAN)\n{shown}\nVerwendungszweck: Rechnung 2024-117",
            f"Refund to {shown.lower()} please.",
            f"IBAN:{shown}",
        ]
        t = R.choice(forms)
        shown_in = shown.lower() if shown.lower() in t and shown not in t else shown
        add("iban", t, [{"family": "iban", "value": shown_in}], src)


# ---------------------------------------------------------------- phones
def digits(n):
    return "".join(R.choice(string.digits) for _ in range(n))


def phone_cases():
    src = "ITU-T E.164; Ofcom, BNetzA, KCC, NANPA, ARCEP numbering plans"
    for _ in range(50):
        kind = R.choice(["kr", "de", "uk", "us", "fr", "jp"])
        if kind == "kr":
            a, b = digits(4), digits(4)
            v = R.choice([f"+82 (0)10 {a} {b}", f"+82-10-{a}-{b}", f"010-{a}-{b}",
                          f"010 {a} {b}", f"+821{0}{a}{b}", f"(02) {digits(3)}-{b}"])
        elif kind == "de":
            v = R.choice([f"0049 151 {digits(8)}", f"+49 (0) 30 {digits(7)}", f"(030) {digits(7)}",
                          f"0171 {digits(7)}", f"+49 171 {digits(3)} {digits(4)}",
                          f"089/{digits(3)} {digits(2)} {digits(2)}"])
        elif kind == "uk":
            v = R.choice([f"+44 (0)20 7{digits(3)} {digits(4)}", f"0044 7700 {digits(6)}",
                          f"07{digits(3)} {digits(3)} {digits(3)}", f"(0161) {digits(3)} {digits(4)}"])
        elif kind == "us":
            a = str(R.randint(2, 9)) + digits(2)
            e = str(R.randint(2, 9)) + digits(2)
            v = R.choice([f"({a}) {e}-{digits(4)}", f"{a}-{e}-{digits(4)}", f"+1 {a} {e} {digits(4)}",
                          f"1-{a}-{e}-{digits(4)}", f"{a}.{e}.{digits(4)}"])
        elif kind == "fr":
            v = R.choice([f"06 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
                          f"+33 (0)6 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
                          f"0033 1 {digits(2)} {digits(2)} {digits(2)} {digits(2)}"])
        else:
            v = R.choice([f"090-{digits(4)}-{digits(4)}", f"+81 90 {digits(4)} {digits(4)}",
                          f"03-{digits(4)}-{digits(4)}"])
        n = name_en()
        forms = [
            f"You can reach {n} on {v} after 6pm.",
            f"Contact: {n}\nMobile: {v}",
            f"name,phone,city\n{n},{v},Seoul",
            json.dumps({"name": n, "phone": v}),
            f"연락처 {v} 로 전화 주세요.",
            f"Rückruf bitte unter {v}.",
            f"Call me at {v} tomorrow.",
            f"| {n} | {v} | sales |",
        ]
        add("phone", R.choice(forms), [{"family": "phone", "value": v}], src)


# ---------------------------------------------------------------- digits of other scripts
ND_ZEROS = sorted({ord(c) - unicodedata.decimal(c) for c in map(chr, range(0x110000))
                   if unicodedata.category(c) == "Nd"})


def luhn_card():
    body = "4" + digits(14)
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return body + str((10 - s % 10) % 10)


def ssn():
    return f"{R.randint(100, 665)}-{R.randint(10, 99)}-{R.randint(1000, 9999)}"


def rrn():
    y, m, d = date()
    body = f"{y % 100:02d}{m:02d}{d:02d}{R.choice('12')}{digits(5)}"
    w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    c = (11 - sum(int(a) * b for a, b in zip(body, w)) % 11) % 10
    return f"{body[:6]}-{body[6:]}{c}"


def in_script(s, zero):
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in s)


def digits_cases():
    src = "Unicode general category Nd (Python unicodedata); full-width forms"
    scripts = [z for z in ND_ZEROS if z != 0x30]
    named = {0x660: "Arabic-Indic", 0x6F0: "Extended Arabic-Indic", 0x966: "Devanagari",
             0xFF10: "full-width", 0x1D7CE: "mathematical bold", 0x1D7F6: "mathematical monospace",
             0xE50: "Thai", 0x9E6: "Bengali"}
    zeros = list(named) + R.sample(scripts, 8)
    for i in range(48):
        zero = zeros[i % len(zeros)]
        kind = R.choice(["card", "ssn", "rrn", "iban", "phone"])
        if kind == "card":
            plain = luhn_card()
            ctx = "my card number is {} exp 09/28"
            fam = "card"
        elif kind == "ssn":
            plain = ssn()
            ctx = "SSN: {}"
            fam = "ssn"
        elif kind == "rrn":
            plain = rrn()
            ctx = "주민등록번호 {}"
            fam = "rrn"
        elif kind == "iban":
            plain = iban("DE")
            ctx = "IBAN {}"
            fam = "iban"
        else:
            plain = f"+82 10 {digits(4)} {digits(4)}"
            ctx = "phone {}"
            fam = "phone"
        v = in_script(plain, zero)
        add("digits", ctx.format(v), [{"family": fam, "value": v}],
            f"{src}: {named.get(zero, unicodedata.name(chr(zero)).rsplit(' ', 2)[0])}")


# ---------------------------------------------------------------- encodings
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def b62(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def secrets():
    body = "".join(R.choice(string.ascii_letters + string.digits) for _ in range(30))
    gh = "ghp_" + body + b62(zlib.crc32(body.encode()), 6)
    aws = "AKIA" + "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    stripe = "sk_live_" + "".join(R.choice(string.ascii_letters + string.digits) for _ in range(24))
    slack = f"xoxb-{digits(12)}-{digits(12)}-" + "".join(
        R.choice(string.ascii_letters + string.digits) for _ in range(24))
    ant = "sk-ant-api03-" + "".join(R.choice(string.ascii_letters + string.digits + "_-")
                                    for _ in range(93)) + "AA"
    return [gh, aws, stripe, slack, ant]


def encoded_cases():
    src = "RFC 4648 base64/base16; WHATWG numeric character references"
    for _ in range(8):
        for s in secrets():
            b64 = base64.b64encode(s.encode()).decode()
            add("encoded", b64, [{"family": "secret", "value": b64}], src + ": bare base64")
            b64u = base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
            add("encoded", f"token={b64u}" if R.random() < 0.5 else f"here it is: {b64u}",
                [{"family": "secret", "value": b64u}], src + ": base64url")
            ent = "".join(f"&#{ord(c)};" if R.random() < 0.5 else c for c in s[:6]) + s[6:]
            add("encoded", f"<p>key: {ent}</p>", [{"family": "secret", "value": ent}],
                src + ": decimal references")
            hx = "".join(f"&#x{ord(c):x};" for c in s)
            add("encoded", f"<code>{hx}</code>", [{"family": "secret", "value": hx}],
                src + ": hex references")
            h = s.encode().hex()
            add("encoded", f"hex dump of the config value: {h}", [{"family": "secret", "value": h}],
                src + ": base16")


# ---------------------------------------------------------------- negatives: look-alikes
SQL = [
    "CREATE POLICY tenant_isolation ON orders USING (tenant_id = current_setting('app.tenant')::uuid);",
    "ALTER TABLE accounts ADD COLUMN access_level TEXT NOT NULL DEFAULT 'RESTRICTED';",
    "SELECT id, name FROM documents WHERE classification = 'RESTRICTED' AND owner_id = $1;",
    "UPDATE files SET visibility = 'RESTRICTED' WHERE created_at < now() - interval '30 days';",
    "GRANT SELECT ON payroll TO hr_readers;",
    "REVOKE ALL ON SCHEMA audit FROM PUBLIC;",
    "CASE WHEN level > 3 THEN 'RESTRICTED' ELSE 'OPEN' END AS access",
    "ON DELETE RESTRICT ON UPDATE CASCADE",
    "INSERT INTO levels (code, label) VALUES (1, 'PUBLIC'), (2, 'INTERNAL'), (3, 'RESTRICTED');",
    "enum Access { PUBLIC, INTERNAL, RESTRICTED, CONFIDENTIAL }",
    "if doc.level == Level.RESTRICTED: raise PermissionError('not allowed')",
    "const ACCESS = { RESTRICTED: 3, CONFIDENTIAL: 4 } as const;",
]

PROSE_CODE = [
    "To read a file you call open() and then read(); remember that close() is handled by the "
    "with statement, so you rarely need it yourself.",
    "The parser exposes parse() and parse_str(). Most users want parse_str(), which takes a "
    "string slice and returns a Result with a helpful error.",
    "When the queue is full, push() blocks until pop() frees a slot; try_push() returns at once "
    "instead. The bounded variant is usually what you want in a server.",
    "We replaced setTimeout() with requestAnimationFrame() in the renderer and the scrolling "
    "got noticeably smoother on older laptops.",
    "Calling init() twice is harmless: the second call returns the same handle. shutdown() "
    "flushes the buffers and joins the worker thread.",
    "Use git log --oneline to see the history and git show HEAD to see the last change; both "
    "are read-only and safe to run in any clone.",
]


# Paragraphs written a line at a time (a chat message, a commit body) that end lines with `;`.
PROSE_LINES = [
    ["We use parse() for input;", "format() renders the result;", "and validate() checks the schema;"],
    ["First call connect() with the host;", "then send() the request to the server;",
     "and close() it when you are done;"],
    ["The fix moves retry() into the client;", "it also makes backoff() wait longer;",
     "we removed sleep() from the tests;"],
    ["To reset it, run clear() on the cache;", "after that, warm() fills it again;",
     "this is what the nightly job does;"],
]


def hex_str(n):
    return "".join(R.choice("0123456789abcdef") for _ in range(n))


def negative_cases():
    src = "look-alikes: RFC 4122, Git object ids, ISO 8601, SemVer, RFC 3986 userinfo, SQL docs"
    for _ in range(40):
        u = f"{hex_str(8)}-{hex_str(4)}-4{hex_str(3)}-a{hex_str(3)}-{hex_str(12)}"
        add("negative", f"request_id={u} status=200 took 34ms", [], src + ": UUID")
    for _ in range(30):
        add("negative", f"order ORD-{digits(4)}-{digits(4)}-{digits(4)} shipped on "
            f"2024-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}", [], src + ": order id")
    for _ in range(30):
        add("negative", f"Message-ID: <{digits(14)}.{digits(8)}@mail.gmail.com>"
            .replace("@mail.gmail.com", ".mail"), [], src + ": message id")
    for _ in range(30):
        add("negative", f"commit {hex_str(40)}\nDate: 2025-0{R.randint(1, 9)}-1{R.randint(0, 9)}T"
            f"{R.randint(10, 23)}:{R.randint(10, 59)}:00Z\n\n    fix flaky test", [], src + ": git")
    for _ in range(30):
        add("negative", f"Upgraded tokio from 1.{R.randint(20, 45)}.{R.randint(0, 9)} to "
            f"1.{R.randint(46, 48)}.{R.randint(0, 9)}; build {digits(10)} passed.", [], src + ": versions")
    for _ in range(30):
        add("negative", f"Released {R.randint(2019, 2026)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
            f", next review on {R.randint(1, 28)}.{R.randint(1, 12)}.{R.randint(2025, 2027)}.",
            [], src + ": dates that are not birth dates")
    for _ in range(30):
        code = "".join(R.choice(string.ascii_letters + string.digits) for _ in range(R.randint(6, 10)))
        add("negative", R.choice([
            f"Booking reference: {code}\nPassenger count: 2",
            f"Verification code: {code}",
            f"Coupon: {code} (10% off)",
            f"Form field 'captcha' = {code}",
            f"Boarding pass: {code}{code[:3]}",
            f"bypass: {code}{code[:4]}",
            f"compass_id = {code}{code[:2]}",
            f"Passenger: {code}{code[:5]}",
        ]), [], src + ": short codes in forms")
    for s in SQL:
        for _ in range(3):
            add("negative", s, [], src + ": SQL and code with level names")
    for p in PROSE_CODE:
        add("negative", p, [], src + ": prose naming functions")
    for lines in PROSE_LINES:
        add("negative", "\n".join(lines), [], src + ": prose lines naming functions")
    for _ in range(30):
        user = R.choice(["app", "svc_reports", "admin", "deploy"])
        pw = "".join(R.choice(string.ascii_letters + string.digits) for _ in range(14))
        host = R.choice(["db.internal", "pg-prod-1.corp.local", "10.0.3.7", "mongo.svc.cluster.local"])
        scheme = R.choice(["postgres", "mysql", "mongodb", "redis"])
        url = f"{scheme}://{user}:{pw}@{host}:5432/app"
        # The password is a secret (expected), an internal address is classified (expected);
        # the e-mail rule must not fire on `pw@host`.
        expect = [{"family": "secret", "value": pw}]
        if host[0].isdigit():
            expect.append({"family": "classified", "value": host})
        add("connection-url", f"DATABASE_URL={url}", expect, src + ": connection URL")
    for _ in range(20):
        add("negative", f"The build took {R.randint(2, 9)}m{R.randint(10, 59)}s on runner "
            f"{digits(9)}; artefact sha256:{hex_str(64)}.", [], src + ": build log")
    for _ in range(20):
        add("negative", f"{hex_str(32)}  dist/leakguard-{R.randint(0, 3)}.{R.randint(0, 9)}.tar.gz",
            [], src + ": checksums")


# ---------------------------------------------------------------- dates beside names
def dob_by_name_cases():
    """ISO 8601 dates right after a name, with no label: lists of people as HR and travel
    spreadsheets paste them (schema.org Person name + birthDate columns without a header).
    Negatives: names beside recent dates and names after words of authorship."""
    src = "ISO 8601 dates beside schema.org Person names (lists without labels)"
    for _ in range(16):
        y, m, d = date()
        n = R.choice([name_en, name_de])()
        v = f"{y}-{m:02d}-{d:02d}"
        forms = [
            f"Badge requests for the Leeds visit:\n{n} {v}\nplease print them by Friday",
            f"Can you sort these by age? {n}, {v}; the others follow.",
            f"Insurance list — {n} ({v}), Platform team",
            f"{n}\t{v}\tBerlin",
        ]
        add("dob", R.choice(forms), [{"family": "dob", "value": v}], src)
    for _ in range(16):
        n = R.choice([name_en, name_de])()
        recent = f"{R.randint(2015, 2026)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
        old = f"{R.randint(1995, 2009)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
        add("negative", R.choice([
            f"Minutes taken by {n} {recent}, circulated to the team.",
            f"{n} {recent}: approved the rollout plan.",
            f"Design doc, reviewed by {n} {old}, still current?",
            f"Last updated by {n} on {recent}",
            f"Author: {n} {old}T10:15:00Z",
        ]), [], src + ": names beside dates that are not births")


dob_cases()
passport_cases()
iban_cases()
phone_cases()
digits_cases()
encoded_cases()
negative_cases()
dob_by_name_cases()
with OUT.open("w", encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(rows)} samples -> {OUT.name}")
