//! Documents built in memory with the zip writer (and lopdf for PDF), read back. The real
//! files made by python-docx, LibreOffice and friends are read in tests/documents.

use super::*;
use std::io::Write;

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn read_ok(bytes: &[u8], name: &str) -> Document {
    extract(bytes, Some(name), &Limits::default())
        .unwrap()
        .expect("a document")
}

fn all_text(d: &Document) -> String {
    d.pieces
        .iter()
        .map(|p| format!("[{}] {}", p.location, p.text))
        .collect()
}

const CT: &[u8] = b"<?xml version=\"1.0\"?><Types/>";

#[test]
fn docx_body_header_and_comments() {
    let body = br#"<w:document xmlns:w="x"><w:body>
        <w:p><w:r><w:t>Project </w:t></w:r><w:r><w:t xml:space="preserve">Falcon &amp; key</w:t></w:r></w:p>
        <w:p><w:r><w:t>AKIA</w:t></w:r><w:r><w:t>QYLPMN5HJNGY4F7A</w:t></w:r><w:r><w:tab/><w:t>end</w:t></w:r></w:p>
        </w:body></w:document>"#;
    let header = br#"<w:hdr xmlns:w="x"><w:p><w:r><w:t>CONFIDENTIAL</w:t></w:r></w:p></w:hdr>"#;
    let bytes = zip_of(&[
        ("[Content_Types].xml", CT),
        ("word/document.xml", body),
        ("word/header1.xml", header),
        ("word/media/image1.png", b"\x89PNG\r\n\x1a\n...."),
    ]);
    assert_eq!(sniff(&bytes, None), Some(Kind::Docx));
    let d = read_ok(&bytes, "plan.docx");
    assert_eq!(d.kind, Kind::Docx);
    assert_eq!(d.pieces[0].location, "body");
    assert_eq!(
        d.pieces[0].text,
        "Project Falcon & key\nAKIAQYLPMN5HJNGY4F7A\tend\n"
    );
    assert_eq!(d.pieces[1].location, "header");
    assert!(d.pieces[1].text.contains("CONFIDENTIAL"));
    assert_eq!(d.images, 1);
}

#[test]
fn xlsx_cells_have_their_names() {
    let wb = br#"<workbook xmlns:r="r"><sheets><sheet name="Payroll" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let rels = br#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>"#;
    let shared =
        br#"<sst><si><t>Name</t></si><si><t>Card</t></si><si><r><t>Ann </t></r><r><t>Lee</t></r></si></sst>"#;
    let sheet = br#"<worksheet><sheetData>
        <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
        <row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="inlineStr"><is><t>4111 1111 1111 1111</t></is></c><c r="C2"><v>42</v></c></row>
        </sheetData></worksheet>"#;
    let bytes = zip_of(&[
        ("[Content_Types].xml", CT),
        ("xl/workbook.xml", wb),
        ("xl/_rels/workbook.xml.rels", rels),
        ("xl/sharedStrings.xml", shared),
        ("xl/worksheets/sheet1.xml", sheet),
    ]);
    let d = read_ok(&bytes, "pay.xlsx");
    assert_eq!(d.kind, Kind::Xlsx);
    let p = &d.pieces[0];
    assert_eq!(p.location, "sheet Payroll");
    assert_eq!(p.text, "Name\tCard\nAnn Lee\t4111 1111 1111 1111\t42\n");
    let at = p.text.find("4111").unwrap();
    assert_eq!(p.locate(at + 3), "sheet Payroll, cell B2");
    assert_eq!(p.locate(0), "sheet Payroll, cell A1");
}

#[test]
fn pptx_slides_in_order_with_notes() {
    let slide = |t: &str| {
        format!(
            r#"<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let (s1, s2, s10) = (slide("one"), slide("two"), slide("ten"));
    let notes = slide("speaker notes");
    let bytes = zip_of(&[
        ("[Content_Types].xml", CT),
        ("ppt/presentation.xml", b"<p:presentation xmlns:p=\"p\"/>"),
        ("ppt/slides/slide10.xml", s10.as_bytes()),
        ("ppt/slides/slide2.xml", s2.as_bytes()),
        ("ppt/slides/slide1.xml", s1.as_bytes()),
        ("ppt/notesSlides/notesSlide1.xml", notes.as_bytes()),
    ]);
    let d = read_ok(&bytes, "deck.pptx");
    let locs: Vec<_> = d.pieces.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(locs, ["slide 1", "slide 2", "slide 10", "notes 1"]);
    assert_eq!(d.parts, 3);
    assert_eq!(d.pieces[2].text, "ten\n");
}

#[test]
fn opendocument_text_and_sheet() {
    let mimetype = b"application/vnd.oasis.opendocument.spreadsheet";
    let content = br#"<office:document-content xmlns:office="o" xmlns:table="t" xmlns:text="x"><office:body><office:spreadsheet>
        <table:table table:name="Keys"><table:table-row><table:table-cell><text:p>id</text:p></table:table-cell><table:table-cell><text:p>secret</text:p></table:table-cell></table:table-row>
        <table:table-row><table:table-cell><text:p>1</text:p></table:table-cell><table:table-cell><text:p>ghp_abc<text:s text:c="2"/>x</text:p></table:table-cell></table:table-row></table:table>
        </office:spreadsheet></office:body></office:document-content>"#;
    // The MIME type member first and stored, as ODF requires.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("mimetype", stored).unwrap();
    w.write_all(mimetype).unwrap();
    w.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(content).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert_eq!(sniff(&bytes, None), Some(Kind::Ods));
    let d = read_ok(&bytes, "keys.ods");
    let p = &d.pieces[0];
    assert_eq!(p.location, "sheet Keys");
    assert_eq!(p.text, "id\tsecret\n1\tghp_abc  x\n");
    assert_eq!(p.locate(p.text.find("ghp").unwrap()), "sheet Keys, cell B2");
}

#[test]
fn a_zip_of_code_and_documents_names_its_members() {
    let inner = zip_of(&[("notes.md", b"# Falcon\nship date")]);
    let bytes = zip_of(&[
        ("src/main.rs", b"fn main() {}\n"),
        ("bin/tool", b"\x7fELF\x00\x00\x01"),
        ("docs/inner.zip", &inner),
    ]);
    let d = read_ok(&bytes, "repo.zip");
    assert_eq!(d.kind, Kind::Zip);
    let locs: Vec<_> = d.pieces.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(locs, ["src/main.rs", "docs/inner.zip: notes.md"]);
    assert_eq!(d.parts, 3);
    assert!(d.problems.is_empty());
}

#[test]
fn a_zip_bomb_is_refused_within_its_bounds() {
    // 64 MiB of zeros deflate to about 64 KiB: a ratio of 1000.
    let zeros = vec![0u8; 64 << 20];
    let bytes = zip_of(&[("a.txt", &zeros)]);
    assert!(bytes.len() < 1 << 20, "{}", bytes.len());
    let err = extract(&bytes, Some("bomb.zip"), &Limits::default()).unwrap_err();
    assert!(matches!(err, DocError::Expands { .. }), "{err:?}");
    assert!(err.to_string().contains("compression bomb"));
}

#[test]
fn nesting_and_member_counts_are_bounded() {
    let mut bytes = zip_of(&[("deep.txt", b"deepest")]);
    for _ in 0..6 {
        bytes = zip_of(&[("next.zip", &bytes)]);
    }
    let d = read_ok(&bytes, "nest.zip");
    assert!(
        d.problems
            .iter()
            .any(|(_, e)| matches!(e, DocError::TooDeep { limit: 4 })),
        "{:?}",
        d.problems
    );
    assert!(d.pieces.is_empty());

    let many: Vec<(String, Vec<u8>)> = (0..30).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let limits = Limits {
        max_members: 20,
        ..Limits::default()
    };
    let err = extract(&zip_of(&refs), Some("many.zip"), &limits).unwrap_err();
    assert_eq!(err, DocError::TooManyMembers { limit: 20 });
}

#[test]
fn an_encrypted_member_is_a_problem_not_a_pass() {
    let mut bytes = zip_of(&[("secret.txt", b"hidden text")]);
    // Set the "encrypted" flag (bit 0 of the general purpose flags) in the local header
    // and the central directory, as a password-protected zip has it.
    for sig in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let at = bytes.windows(4).position(|w| w == sig).unwrap();
        let flag_at = if sig == b"PK\x03\x04" { at + 6 } else { at + 8 };
        bytes[flag_at] |= 1;
    }
    let d = read_ok(&bytes, "locked.zip");
    assert_eq!(d.problems.len(), 1, "{d:?}");
    assert_eq!(d.problems[0].1, DocError::Encrypted);
    assert!(d.pieces.is_empty());
}

#[test]
fn legacy_office_and_encrypted_ooxml_are_recognised_not_read() {
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend_from_slice(&[0; 504]);
    assert_eq!(
        extract(&ole, Some("budget.xls"), &Limits::default()).unwrap_err(),
        DocError::Unsupported("a legacy binary Office file")
    );
    assert_eq!(
        extract(&ole, Some("budget.xlsx"), &Limits::default()).unwrap_err(),
        DocError::Encrypted
    );
}

#[test]
fn a_notebook_gives_its_cells() {
    let nb = br##"{"cells":[{"cell_type":"markdown","source":["# Falcon\n","internal"]},
        {"cell_type":"code","source":"key = 'AKIAQYLPMN5HJNGY4F7A'\nprint(key)","outputs":[{"output_type":"stream","text":["AKIA...\n"]}]}],
        "nbformat":4,"nbformat_minor":5,"metadata":{}}"##;
    let d = read_ok(nb, "a.ipynb");
    assert_eq!(d.kind, Kind::Notebook);
    assert_eq!(d.pieces[1].location, "cell 2");
    assert_eq!(
        d.pieces[1].text,
        "key = 'AKIAQYLPMN5HJNGY4F7A'\nprint(key)\nAKIA...\n"
    );
}

#[test]
fn a_mail_with_an_attachment() {
    let att = zip_of(&[("[Content_Types].xml", CT), ("word/document.xml", br#"<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>attached plan</w:t></w:r></w:p></w:body></w:document>"#)]);
    let b64 = {
        use std::fmt::Write as _;
        // base64 by hand is not needed: the test data is built with the standard alphabet.
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in att.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    s.push(table[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        let mut lines = String::new();
        for line in s.as_bytes().chunks(76) {
            writeln!(lines, "{}", std::str::from_utf8(line).unwrap()).unwrap();
        }
        lines
    };
    let mail = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: Falcon notes\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\nContent-Disposition: attachment; filename=plan.docx\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}--XX--\r\n"
    );
    let d = read_ok(mail.as_bytes(), "notes.eml");
    assert_eq!(d.kind, Kind::Eml);
    assert!(d.pieces[0].text.contains("Subject: Falcon notes"));
    assert!(d.pieces[0].text.contains("see attached"));
    assert_eq!(d.pieces[1].location, "attachment plan.docx: body");
    assert_eq!(d.pieces[1].text, "attached plan\n");
}

#[test]
fn a_gzipped_tar_of_code() {
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let data = b"password = \"hunter2hunter2\"\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "repo/config.py", &data[..]).unwrap();
        b.finish().unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_bytes).unwrap();
    let bytes = gz.finish().unwrap();
    let d = read_ok(&bytes, "repo.tar.gz");
    assert_eq!(d.kind, Kind::Gzip);
    assert_eq!(d.pieces.len(), 1);
    assert_eq!(d.pieces[0].location, "repo/config.py");
}

#[test]
fn a_pdf_gives_its_pages() {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Object, Stream};
    let mut pdf = lopdf::Document::with_version("1.5");
    let pages_id = pdf.new_object_id();
    let font_id = pdf.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = pdf.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for text in ["first page", "key AKIAQYLPMN5HJNGY4F7A here"] {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
                Operation::new("Tj", vec![Object::string_literal(text)]),
                Operation::new("ET", vec![]),
            ],
        };
        let mut stream = Stream::new(dictionary! {}, content.encode().unwrap());
        stream.compress().unwrap();
        let content_id = pdf.add_object(stream);
        let page_id = pdf.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    pdf.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => 2,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = pdf.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    pdf.trailer.set("Root", catalog_id);
    let mut bytes = Vec::new();
    pdf.save_to(&mut bytes).unwrap();
    assert_eq!(sniff(&bytes, None), Some(Kind::Pdf));
    let d = read_ok(&bytes, "x.pdf");
    assert_eq!(d.parts, 2);
    assert_eq!(d.pieces[1].location, "page 2");
    assert!(
        d.pieces[1].text.contains("AKIAQYLPMN5HJNGY4F7A"),
        "{}",
        all_text(&d)
    );
    // A damaged PDF is an error, not an empty pass.
    let cut = &bytes[..bytes.len() / 3];
    let broken = extract(cut, Some("x.pdf"), &Limits::default());
    assert!(
        matches!(broken, Err(DocError::Corrupt { .. }))
            || broken
                .as_ref()
                .is_ok_and(|d| d.as_ref().is_some_and(|d| !d.pieces.is_empty())),
        "{broken:?}"
    );
}

#[test]
fn images_and_plain_text_are_not_documents() {
    assert!(is_image(b"\x89PNG\r\n\x1a\n\0\0"));
    assert!(is_image(b"\xFF\xD8\xFF\xE0"));
    assert_eq!(sniff(b"just words", Some("a.txt")), None);
    assert!(extract(b"just words", Some("a.txt"), &Limits::default())
        .unwrap()
        .is_none());
}

#[test]
fn a_spooled_file_is_read_from_disk_member_by_member() {
    let bytes = zip_of(&[
        ("[Content_Types].xml", CT),
        (
            "word/document.xml",
            br#"<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>from disk</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ]);
    let path = std::env::temp_dir().join(format!("lg-doc-{}.docx", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let d = extract_reader(
        file,
        bytes.len() as u64,
        Some("a.docx"),
        &Limits::default(),
        0,
    )
    .unwrap()
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(d.kind, Kind::Docx);
    assert_eq!(d.pieces[0].text, "from disk\n");
    // A format read whole is refused above the in-memory bound, and plain text is not a
    // document.
    let pdf = b"%PDF-1.5\n...".to_vec();
    let err = extract_reader(
        std::io::Cursor::new(&pdf),
        pdf.len() as u64,
        None,
        &Limits::default(),
        4,
    )
    .unwrap_err();
    assert_eq!(err, DocError::TooLarge { limit: 4 });
    assert!(extract_reader(
        std::io::Cursor::new(b"plain"),
        5,
        None,
        &Limits::default(),
        4
    )
    .unwrap()
    .is_none());
}
