//! Checksum and structure validators. A validator vetoes: a card number failing Luhn is not a
//! card. Each takes the matched value (the rule's secret group) as bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The validators a rule can name in its `validator` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// Payment card: Luhn, a known brand's IIN range and length, consistent separators.
    Card,
    /// Luhn alone.
    Luhn,
    /// US SSN: area not 000/666/9xx, group not 00, serial not 0000, not a famous sample.
    UsSsn,
    /// IBAN: per-country length and ISO 7064 mod-97.
    Iban,
    /// GitHub/npm tokens: CRC32 of the body, base62, in the last six characters.
    GithubCrc32,
    /// Korean resident registration number: date, gender digit, check digit.
    KrRrn,
    /// Korean RRN with a valid date and gender digit only (numbers issued since Oct 2020 carry
    /// no check digit; rules using this require context words).
    KrRrnDate,
    /// UK National Insurance number prefix rules (there is no checksum).
    UkNino,
    /// German Steuer-IdNr: ISO 7064 mod 11,10 and the digit-repetition rule.
    DeTaxId,
    /// French NIR: key = 97 - (number mod 97), Corsica 2A/2B handled.
    FrNir,
    /// Indian Aadhaar: Verhoeff check digit, first digit 2-9.
    InAadhaar,
    /// Brazilian CPF: two mod-11 check digits.
    BrCpf,
    /// Brazilian CNPJ: two mod-11 check digits.
    BrCnpj,
    /// Japanese My Number (individual): check digit.
    JpMyNumber,
    /// An IPv4 address in a private, shared or link-local range.
    Ipv4Internal,
    /// A routable public IPv4 address (not loopback, documentation or broadcast).
    Ipv4Public,
    /// A parseable IPv6 address that is not `::` or loopback.
    Ipv6,
    /// An email address whose domain has a letter TLD and is not an image-scale suffix.
    Email,
    /// A JWT whose header decodes to JSON with an `alg`.
    Jwt,
    /// E.164 phone number: a known country code and 8 to 15 digits.
    E164,
    /// North American number: area and exchange codes start 2-9, not 555-01xx.
    Nanp,
    /// A calendar date that exists.
    Date,
}

impl Validator {
    /// Parses a validator name from a rule file.
    pub fn from_name(name: &str) -> Option<Validator> {
        Some(match name {
            "card" => Validator::Card,
            "luhn" => Validator::Luhn,
            "us-ssn" => Validator::UsSsn,
            "iban" => Validator::Iban,
            "github-crc32" => Validator::GithubCrc32,
            "kr-rrn" => Validator::KrRrn,
            "kr-rrn-date" => Validator::KrRrnDate,
            "uk-nino" => Validator::UkNino,
            "de-tax-id" => Validator::DeTaxId,
            "fr-nir" => Validator::FrNir,
            "in-aadhaar" => Validator::InAadhaar,
            "br-cpf" => Validator::BrCpf,
            "br-cnpj" => Validator::BrCnpj,
            "jp-my-number" => Validator::JpMyNumber,
            "ipv4-internal" => Validator::Ipv4Internal,
            "ipv4-public" => Validator::Ipv4Public,
            "ipv6" => Validator::Ipv6,
            "email" => Validator::Email,
            "jwt" => Validator::Jwt,
            "e164" => Validator::E164,
            "nanp" => Validator::Nanp,
            "date" => Validator::Date,
            _ => return None,
        })
    }

    /// All names, for error messages.
    pub const NAMES: &'static str = "card, luhn, us-ssn, iban, github-crc32, kr-rrn, kr-rrn-date, \
        uk-nino, de-tax-id, fr-nir, in-aadhaar, br-cpf, br-cnpj, jp-my-number, ipv4-internal, \
        ipv4-public, ipv6, email, jwt, e164, nanp, date";

    /// True when `value` passes.
    pub fn check(self, value: &[u8]) -> bool {
        match self {
            Validator::Card => card(value),
            Validator::Luhn => luhn(&digits(value)),
            Validator::UsSsn => us_ssn(&digits(value)),
            Validator::Iban => iban(value),
            Validator::GithubCrc32 => github_crc32(value),
            Validator::KrRrn => kr_rrn(&digits(value), true),
            Validator::KrRrnDate => kr_rrn(&digits(value), false),
            Validator::UkNino => uk_nino(value),
            Validator::DeTaxId => de_tax_id(&digits(value)),
            Validator::FrNir => fr_nir(value),
            Validator::InAadhaar => in_aadhaar(&digits(value)),
            Validator::BrCpf => br_cpf(&digits(value)),
            Validator::BrCnpj => br_cnpj(&digits(value)),
            Validator::JpMyNumber => jp_my_number(&digits(value)),
            Validator::Ipv4Internal => ipv4(value).is_some_and(ipv4_is_internal),
            Validator::Ipv4Public => ipv4(value).is_some_and(ipv4_is_public),
            Validator::Ipv6 => ipv6(value),
            Validator::Email => email(value),
            Validator::Jwt => jwt(value),
            Validator::E164 => e164(&digits(value)),
            Validator::Nanp => nanp(&digits(value)),
            Validator::Date => date(value),
        }
    }
}

/// The decimal digits of `value`, as numbers 0..=9.
fn digits(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

pub(crate) fn luhn(d: &[u8]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(d: &[u8], n: usize) -> u32 {
    d.iter()
        .take(n)
        .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
}

fn card(value: &[u8]) -> bool {
    // Separators must be consistent: all spaces, all dashes, or none.
    let has_space = value.contains(&b' ');
    let has_dash = value.contains(&b'-');
    if has_space && has_dash {
        return false;
    }
    let d = digits(value);
    if d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let len = d.len();
    let p1 = prefix_num(&d, 1);
    let p2 = prefix_num(&d, 2);
    let p3 = prefix_num(&d, 3);
    let p4 = prefix_num(&d, 4);
    let p6 = prefix_num(&d, 6);
    let brand_ok = match () {
        // Visa
        _ if p1 == 4 => matches!(len, 13 | 16 | 19),
        // Mastercard
        _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => len == 16,
        // American Express
        _ if p2 == 34 || p2 == 37 => len == 15,
        // Discover
        _ if p4 == 6011
            || (644..=649).contains(&p3)
            || p2 == 65
            || (622126..=622925).contains(&p6) =>
        {
            (16..=19).contains(&len)
        }
        // JCB
        _ if (3528..=3589).contains(&p4) => (16..=19).contains(&len),
        // Diners Club
        _ if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => {
            (14..=19).contains(&len)
        }
        // UnionPay
        _ if p2 == 62 || p2 == 81 => (16..=19).contains(&len),
        // Maestro
        _ if matches!(
            p4,
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        ) =>
        {
            (12..=19).contains(&len)
        }
        // Mir
        _ if (2200..=2204).contains(&p4) => (16..=19).contains(&len),
        // RuPay
        _ if p2 == 60 || p3 == 508 || p3 == 652 || p3 == 353 || p3 == 356 => len == 16,
        // Verve, Troy, others are rare in prompts; unknown IINs are not cards.
        _ => false,
    };
    brand_ok && luhn(&d)
}

fn us_ssn(d: &[u8]) -> bool {
    if d.len() != 9 {
        return false;
    }
    let area = prefix_num(d, 3);
    let group = prefix_num(&d[3..], 2);
    let serial = prefix_num(&d[5..], 4);
    let whole = prefix_num(d, 9);
    // 078-05-1120 (the Woolworth wallet card) and 219-09-9999 (an advertisement) were printed
    // everywhere; 123-45-6789 is the sample in every form.
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !matches!(whole, 78_051_120 | 219_099_999 | 123_456_789)
}

/// IBAN lengths per country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

fn iban(value: &[u8]) -> bool {
    let s: Vec<u8> = value
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && **b != b'-')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if s.len() < 15
        || !s[..2].iter().all(u8::is_ascii_uppercase)
        || !s[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| cc.as_bytes() == &s[..2]) else {
        return false;
    };
    if s.len() != len || !s.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem = 0u32;
    for &b in s[4..].iter().chain(&s[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base62 (`0-9A-Za-z`), left-padded with `0` to six characters.
pub(crate) fn base62_6(mut n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm (`npm_`) tokens end in the CRC32 of
/// the body between the prefix and the last six characters, in base62.
fn github_crc32(value: &[u8]) -> bool {
    let Some(us) = value.iter().position(|&b| b == b'_') else {
        return false;
    };
    let rest = &value[us + 1..];
    if rest.len() < 7 {
        return false;
    }
    let (body, check) = rest.split_at(rest.len() - 6);
    base62_6(crc32fast::hash(body)) == check
}

fn kr_rrn(d: &[u8], with_check_digit: bool) -> bool {
    if d.len() != 13 {
        return false;
    }
    let yy = prefix_num(d, 2);
    let mm = prefix_num(&d[2..], 2);
    let dd = prefix_num(&d[4..], 2);
    let century = match d[6] {
        1 | 2 | 5 | 6 => 1900,
        3 | 4 | 7 | 8 => 2000,
        9 | 0 => 1800,
        _ => return false,
    };
    if !valid_ymd(century + yy, mm, dd) {
        return false;
    }
    if !with_check_digit {
        return true;
    }
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d[..12].iter().zip(W).map(|(&x, w)| u32::from(x) * w).sum();
    (11 - sum % 11) % 10 == u32::from(d[12])
}

fn valid_ymd(y: u32, m: u32, d: u32) -> bool {
    if !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let max = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= max
}

fn uk_nino(value: &[u8]) -> bool {
    let s: Vec<u8> = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if s.len() != 9 || !s[2..8].iter().all(u8::is_ascii_digit) || !matches!(s[8], b'A'..=b'D') {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    if b"DFIQUV".contains(&a) || b"DFIQUVO".contains(&b) {
        return false;
    }
    !matches!(
        &s[..2],
        b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
    )
}

fn de_tax_id(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    // In the first ten digits exactly one digit appears twice or three times, and some digit
    // is missing.
    let mut counts = [0u8; 10];
    for &x in &d[..10] {
        counts[x as usize] += 1;
    }
    let repeated = counts.iter().filter(|&&c| c >= 2).count();
    if repeated != 1 || counts.iter().any(|&c| c > 3) {
        return false;
    }
    // ISO 7064 MOD 11,10.
    let mut product = 10u32;
    for &x in &d[..10] {
        let mut sum = (u32::from(x) + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(d[10])
}

fn fr_nir(value: &[u8]) -> bool {
    let s: Vec<u8> = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if s.len() != 15 || !matches!(s[0], b'1' | b'2' | b'7' | b'8') {
        return false;
    }
    // Corsica: department 2A counts as 19, 2B as 18, for the key.
    let mut body = s[..13].to_vec();
    let mut adjust: u64 = 0;
    if &body[5..7] == b"2A" {
        body[5] = b'1';
        body[6] = b'9';
        adjust = 0;
    } else if &body[5..7] == b"2B" {
        body[5] = b'1';
        body[6] = b'8';
        adjust = 0;
    }
    if !body.iter().all(u8::is_ascii_digit) || !s[13..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = prefix_num(&digits(&body[3..5]), 2);
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return false;
    }
    let n: u64 = body
        .iter()
        .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'))
        - adjust;
    let key = u64::from(prefix_num(&digits(&s[13..]), 2));
    97 - n % 97 == key
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

pub(crate) fn verhoeff(d: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, &x) in d.iter().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][x as usize] as usize];
    }
    c == 0
}

fn in_aadhaar(d: &[u8]) -> bool {
    d.len() == 12 && d[0] >= 2 && !d.iter().all(|&x| x == d[0]) && verhoeff(d)
}

fn br_cpf(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, &x)| u32::from(x) * (n as u32 + 1 - i as u32))
            .sum();
        let r = (sum * 10) % 11;
        if r == 10 {
            0
        } else {
            r
        }
    };
    check(9) == u32::from(d[9]) && check(10) == u32::from(d[10])
}

fn br_cnpj(d: &[u8]) -> bool {
    if d.len() != 14 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    const W1: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    const W2: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
    let dv = |w: &[u32]| {
        let sum: u32 = d.iter().zip(w).map(|(&x, &w)| u32::from(x) * w).sum();
        let r = sum % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    dv(&W1) == u32::from(d[12]) && dv(&W2) == u32::from(d[13])
}

fn jp_my_number(d: &[u8]) -> bool {
    if d.len() != 12 || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    // Check digit over the first 11 digits, weights 6..2,7..2 from the right-hand side.
    let sum: u32 = (1..=11)
        .map(|n| {
            let p = u32::from(d[11 - n]);
            let q = if n <= 6 { n as u32 + 1 } else { n as u32 - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    check == u32::from(d[11])
}

fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn ipv4_is_internal(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private() || ip.is_link_local() || (o[0] == 100 && (64..=127).contains(&o[1]))
}

fn ipv4_is_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ipv4_is_internal(ip)
        || ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || o[0] >= 240)
}

fn ipv6(value: &[u8]) -> bool {
    let Some(ip) = std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
    else {
        return false;
    };
    !ip.is_unspecified()
        && !ip.is_loopback()
        && ip.segments().iter().filter(|&&s| s != 0).count() >= 2
}

fn email(value: &[u8]) -> bool {
    let Some(at) = value.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let domain = &value[at + 1..];
    let Some(dot) = domain.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let tld = &domain[dot + 1..];
    let lower: Vec<u8> = tld.iter().map(u8::to_ascii_lowercase).collect();
    // `icon@2x.png`, `logo@3x.jpg`: asset names, not addresses.
    let is_asset = domain.first().is_some_and(u8::is_ascii_digit)
        && matches!(
            lower.as_slice(),
            b"png" | b"jpg" | b"jpeg" | b"gif" | b"svg" | b"webp"
        );
    tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) && !is_asset && at > 0
}

fn jwt(value: &[u8]) -> bool {
    use base64::Engine as _;
    let header = value.split(|&b| b == b'.').next().unwrap_or_default();
    let Ok(decoded) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_ascii_end())
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    text.trim_start().starts_with('{') && (text.contains("\"alg\"") || text.contains("\"typ\""))
}

/// Country calling codes (ITU E.164), as digit prefixes.
const CALLING_CODES: &[u32] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 248, 249, 250, 251, 252, 253, 254,
    255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299,
    350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378,
    380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506, 507,
    508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676, 677,
    678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 850, 852, 853, 855, 856,
    880, 886, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975, 976, 977,
    992, 993, 994, 995, 996, 998,
];

fn e164(d: &[u8]) -> bool {
    // `0049 …`: the international prefix written as 00.
    let d = d.strip_prefix(&[0, 0][..]).unwrap_or(d);
    (8..=15).contains(&d.len())
        && d[0] != 0
        && (1..=3).any(|n| CALLING_CODES.contains(&prefix_num(d, n)))
}

fn nanp(d: &[u8]) -> bool {
    let d = if d.len() == 11 && d[0] == 1 {
        &d[1..]
    } else {
        d
    };
    if d.len() != 10 || d[0] < 2 || d[3] < 2 {
        return false;
    }
    // 555-0100..0199 are reserved for fiction; N11 codes are services.
    let fiction = prefix_num(&d[3..], 3) == 555 && d[6] == 0 && d[7] == 1;
    let n11 = d[1] == 1 && d[2] == 1;
    !fiction && !n11
}

/// A calendar date written as people write it: `1987-03-04`, `04.03.1987`, `03/24/1987`,
/// `4 March 1987`, `March 4, 1987`, `4th of March 1987`, `4. März 1987`, `1987년 3월 4일`.
/// Numbers are the digit runs; a word that names a month (English or German) is the month;
/// other words (`of`, `th`, `년`) are ignored.
fn date(value: &[u8]) -> bool {
    let mut numbers: Vec<u32> = Vec::new();
    let mut month: Option<u32> = None;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b.is_ascii_digit() {
            let s = i;
            while i < value.len() && value[i].is_ascii_digit() {
                i += 1;
            }
            if i - s > 4 {
                return false;
            }
            numbers.push(prefix_num(&digits(&value[s..i]), i - s));
        } else if b.is_ascii_alphabetic() || b >= 0x80 {
            let s = i;
            while i < value.len() && (value[i].is_ascii_alphabetic() || value[i] >= 0x80) {
                i += 1;
            }
            if let Some(m) = month_number(&value[s..i]) {
                if month.replace(m).is_some() {
                    return false;
                }
            }
        } else {
            i += 1;
        }
    }
    match (month, numbers.as_slice()) {
        (Some(m), [a, b]) if *b >= 1900 => valid_ymd(*b, m, *a),
        (Some(m), [a, b]) if *a >= 1900 => valid_ymd(*a, m, *b),
        (None, [y, m, d]) if *y >= 1900 => valid_ymd(*y, *m, *d),
        (None, [a, b, y]) if *y >= 1900 => valid_ymd(*y, *b, *a) || valid_ymd(*y, *a, *b),
        _ => false,
    }
}

/// The month an English or German month name (or its abbreviation) stands for.
fn month_number(word: &[u8]) -> Option<u32> {
    let w = String::from_utf8_lossy(word).to_lowercase();
    let w = w.trim_end_matches('.');
    const NAMES: [&[&str]; 12] = [
        &["jan", "january", "januar", "jän", "jänner"],
        &["feb", "february", "februar"],
        &["mar", "march", "mär", "märz", "mrz"],
        &["apr", "april"],
        &["may", "mai"],
        &["jun", "june", "juni"],
        &["jul", "july", "juli"],
        &["aug", "august"],
        &["sep", "sept", "september"],
        &["oct", "october", "okt", "oktober"],
        &["nov", "november"],
        &["dec", "december", "dez", "dezember"],
    ];
    NAMES
        .iter()
        .position(|names| names.contains(&w))
        .map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Validator, cases: &[(&str, bool)]) {
        for (value, want) in cases {
            assert_eq!(v.check(value.as_bytes()), *want, "{v:?}({value:?})");
        }
    }

    #[test]
    fn cards() {
        t(
            Validator::Card,
            &[
                ("4111 1111 1111 1111", true),
                ("4111-1111-1111-1111", true),
                ("4111111111111112", false),    // Luhn fails
                ("4111 1111-1111 1111", false), // mixed separators
                ("5555555555554444", true),     // Mastercard
                ("2223003122003222", true),     // Mastercard 2-series
                ("378282246310005", true),      // Amex
                ("37828224631000", false),      // Amex too short
                ("6011111111111117", true),     // Discover
                ("3530111333300000", true),     // JCB
                ("30569309025904", true),       // Diners
                ("6200000000000005", true),     // UnionPay
                ("1234567812345670", false),    // passes Luhn, no brand
                ("0000000000000000", false),
            ],
        );
    }

    #[test]
    fn ssn() {
        t(
            Validator::UsSsn,
            &[
                ("536-22-1234", true),
                ("000-12-3456", false),
                ("666-12-3456", false),
                ("912-12-3456", false),
                ("536-00-1234", false),
                ("536-22-0000", false),
                ("078-05-1120", false),
                ("123-45-6789", false),
            ],
        );
    }

    #[test]
    fn ibans() {
        t(
            Validator::Iban,
            &[
                ("DE89 3704 0044 0532 0130 00", true),
                ("DE89370400440532013000", true),
                ("DE89370400440532013001", false),
                ("GB82WEST12345698765432", true),
                ("GB82WEST1234569876543", false), // wrong length
                ("FR1420041010050500013M02606", true),
                ("XX89370400440532013000", false),
            ],
        );
    }

    #[test]
    fn github_tokens() {
        let body = "Zr3Fq7wKp2Lx9Ms4Tn6Bv8Cy1Dh5Jk";
        let check = base62_6(crc32fast::hash(body.as_bytes()));
        let good = format!("ghp_{body}{}", std::str::from_utf8(&check).unwrap());
        assert_eq!(good.len(), 40);
        assert!(Validator::GithubCrc32.check(good.as_bytes()));
        let mut bad = good.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(!Validator::GithubCrc32.check(&bad));
        // A public test vector: 31 zeros carry the checksum 4WZ4EQ.
        assert!(Validator::GithubCrc32.check(b"npm_00000000000000000000000000000004WZ4EQ"));
        assert!(!Validator::GithubCrc32.check(b"npm_00000000000000000000000000000004WZAEQ"));
    }

    #[test]
    fn national_ids() {
        t(
            Validator::KrRrn,
            &[
                ("900101-1234568", true),
                ("900101-1234567", false),
                ("901301-1234568", false),
            ],
        );
        t(
            Validator::KrRrnDate,
            &[("010315-3123456", true), ("011315-3123456", false)],
        );
        t(
            Validator::UkNino,
            &[
                ("AB 12 34 56 C", true),
                ("AB123456C", true),
                ("GB123456C", false),
                ("DA123456C", false),
                ("AB123456E", false),
            ],
        );
        t(
            Validator::DeTaxId,
            &[
                ("65929970489", true),
                ("65929970488", false),
                ("01234567891", false),
            ],
        );
        t(
            Validator::FrNir,
            &[("2 55 08 14 168 025 38", true), ("255081416802539", false)],
        );
        t(
            Validator::InAadhaar,
            &[
                ("2341 2341 2346", true),
                ("2341 2341 2345", false),
                ("1341 2341 2346", false),
            ],
        );
        t(
            Validator::BrCpf,
            &[
                ("529.982.247-25", true),
                ("529.982.247-26", false),
                ("111.111.111-11", false),
            ],
        );
        t(
            Validator::BrCnpj,
            &[("11.222.333/0001-81", true), ("11.222.333/0001-82", false)],
        );
        t(
            Validator::JpMyNumber,
            &[("1234 5678 9018", true), ("1234 5678 9019", false)],
        );
    }

    #[test]
    fn network_and_contact() {
        t(
            Validator::Ipv4Internal,
            &[
                ("10.1.2.3", true),
                ("192.168.0.1", true),
                ("172.20.1.1", true),
                ("8.8.8.8", false),
                ("256.1.1.1", false),
            ],
        );
        t(
            Validator::Ipv4Public,
            &[
                ("8.8.8.8", true),
                ("10.1.2.3", false),
                ("127.0.0.1", false),
                ("192.0.2.10", false),
            ],
        );
        t(
            Validator::Ipv6,
            &[
                ("2001:db8:85a3::8a2e:370:7334", true),
                ("::1", false),
                ("fe80::1ff:fe23:4567:890a", true),
                ("12:34", false),
            ],
        );
        t(
            Validator::Email,
            &[
                ("jane.doe@acme-corp.com", true),
                ("icon@2x.png", false),
                ("a@b.c1", false),
            ],
        );
        t(
            Validator::E164,
            &[
                ("+82 10 1234 5678", true),
                ("+44 20 7946 0958", true),
                ("+0 12345678", false),
                ("+1 234", false),
            ],
        );
        t(
            Validator::Nanp,
            &[
                ("(415) 555-2671", true),
                ("415-555-0123", false),
                ("115-555-2671", false),
                ("411-555-2671", false),
            ],
        );
        t(
            Validator::Date,
            &[
                ("1985-04-12", true),
                ("12/04/1985", true),
                ("1985-02-30", false),
                ("12 Apr 1985", true),
            ],
        );
        t(
            Validator::Jwt,
            &[
                ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", true),
                ("eyJub3RqdXN0IjoxfQ.e30.x", false),
            ],
        );
    }

    #[test]
    fn verhoeff_and_luhn_reject_single_digit_errors() {
        let good = [2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 6];
        assert!(verhoeff(&good));
        for i in 0..good.len() {
            let mut bad = good;
            bad[i] = (bad[i] + 1) % 10;
            assert!(!verhoeff(&bad), "digit {i}");
        }
        assert!(luhn(&[4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 2, 4, 2]));
    }
}
