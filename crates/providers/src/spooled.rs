//! Uploads too large to hold in memory, read from the file they were spooled to: a raw upload
//! (the file itself) or a multipart body (its parts found by streaming through the file).
//! Documents are read member by member from disk ([`leakguard_documents::extract_reader`]);
//! other content is read in chunks. Every text found is a derived segment: a spooled body is
//! forwarded as it came or refused, never rewritten.

use crate::catalog::{BodyKind, Endpoint};
use crate::extract::{DocumentLimits, DocumentSeen, ExtractError, Extracted};
use crate::multipart;
use leakguard_documents as documents;
use memchr::memmem;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// A byte range of a file as a file of its own.
#[derive(Debug)]
struct Window<'f> {
    file: &'f File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let mut f = self.file;
        f.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = f.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let next = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = next.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// Reads a spooled body of `len` bytes. `in_memory`: largest document read whole (PDF and the
/// like). Bodies that are neither a raw upload nor multipart cannot be read from disk.
pub fn extract_spooled(
    endpoint: Option<&Endpoint>,
    path: &str,
    content_type: Option<&str>,
    file: &File,
    len: u64,
    limits: &DocumentLimits,
    in_memory: u64,
) -> Result<Extracted, ExtractError> {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let kind = match endpoint {
        Some(e) => e.body,
        None if ct.starts_with("multipart/") => BodyKind::Multipart,
        None if ct.contains("json") || ct.starts_with("text/") => {
            return Err(ExtractError::TooLargeToSpool)
        }
        None => BodyKind::Raw,
    };
    let mut out = Extracted::empty(endpoint, path);
    let io = |e: std::io::Error| ExtractError::Spool(e.to_string());
    match kind {
        BodyKind::Json => return Err(ExtractError::TooLargeToSpool),
        BodyKind::Raw => {
            let window = Window {
                file,
                start: 0,
                len,
                pos: 0,
            };
            read_file(&mut out, "upload", None, window, len, limits, in_memory)?;
        }
        BodyKind::Multipart => {
            let b = multipart::boundary_of(content_type)?;
            let parts = parts_in_file(file, len, &b).map_err(io)?;
            let parts = parts.ok_or(ExtractError::MalformedMultipart)?;
            for (index, p) in parts.iter().enumerate() {
                let label = multipart::label(p, index);
                if let Some(f) = &p.filename {
                    out.push_derived("multipart:filename".into(), f.clone());
                }
                let window = Window {
                    file,
                    start: p.start as u64,
                    len: (p.end - p.start) as u64,
                    pos: 0,
                };
                let plen = (p.end - p.start) as u64;
                read_file(
                    &mut out,
                    &label,
                    p.filename.as_deref(),
                    window,
                    plen,
                    limits,
                    in_memory,
                )?;
            }
        }
    }
    Ok(out)
}

/// One file (a raw upload or a multipart part): a document is read as one; anything else is
/// read in chunks as text (printable runs of binary), within the text bound.
fn read_file(
    out: &mut Extracted,
    label: &str,
    name: Option<&str>,
    mut window: Window<'_>,
    len: u64,
    limits: &DocumentLimits,
    in_memory: u64,
) -> Result<(), ExtractError> {
    let io = |e: std::io::Error| ExtractError::Spool(e.to_string());
    let file_name = name.map_or_else(|| label.to_string(), str::to_string);
    match documents::extract_reader(&mut window, len, name, limits, in_memory) {
        Ok(Some(doc)) => {
            out.push_document_pieces(label, file_name, doc);
            return Ok(());
        }
        Ok(None) => {}
        Err(e) => {
            out.documents.push(DocumentSeen {
                file: file_name,
                kind: "unknown",
                parts: 0,
                text_bytes: 0,
                unreadable: Some(e.to_string()),
            });
            return Ok(());
        }
    }
    window.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut head = [0u8; 64];
    let n = window.read(&mut head).map_err(io)?;
    if documents::is_image(&head[..n]) {
        out.images += 1;
    }
    out.binary_parts += 1;
    window.seek(SeekFrom::Start(0)).map_err(io)?;
    // Text, or the printable runs of binary, in chunks; a run cut at a chunk's end is
    // carried into the next.
    let mut kept = 0u64;
    let mut buf = vec![0u8; 8 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut chunk_no = 0;
    loop {
        let n = window.read(&mut buf).map_err(io)?;
        if n == 0 && carry.is_empty() {
            break;
        }
        let mut data = std::mem::take(&mut carry);
        data.extend_from_slice(&buf[..n]);
        if n > 0 {
            // Keep the tail after the last line break (or the last 4 KiB) for the next chunk.
            let cut = memchr::memrchr(b'\n', &data)
                .map(|i| i + 1)
                .unwrap_or_else(|| data.len().saturating_sub(4096));
            carry = data.split_off(cut);
        }
        let text = match std::str::from_utf8(&data) {
            Ok(t) => t.to_string(),
            Err(_) => crate::extract::printable_runs(&data),
        };
        kept += text.len() as u64;
        if kept > limits.max_text_bytes {
            out.documents.push(DocumentSeen {
                file: file_name,
                kind: "unknown",
                parts: 0,
                text_bytes: kept as usize,
                unreadable: Some(format!(
                    "it holds more than {} bytes of text, more than can be checked",
                    limits.max_text_bytes
                )),
            });
            return Ok(());
        }
        if !text.trim().is_empty() {
            chunk_no += 1;
            out.push_derived(format!("{label}(chunk {chunk_no})"), text);
        }
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// The parts of a multipart body in a file, found by streaming through it for the delimiters
/// (as [`multipart::parts`] does in memory). `Ok(None)`: not well-formed.
fn parts_in_file(
    file: &File,
    len: u64,
    boundary: &str,
) -> std::io::Result<Option<Vec<multipart::Part>>> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Ok(None);
    }
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    // Every "\r\n--boundary" in the file.
    let finder = memmem::Finder::new(next_delim.as_bytes());
    let mut found: Vec<u64> = Vec::new();
    let mut f = file;
    f.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut base = 0u64; // file offset of carry[0]
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut data = std::mem::take(&mut carry);
        data.extend_from_slice(&buf[..n]);
        for i in finder.find_iter(&data) {
            let at = base + i as u64;
            if found.last() != Some(&at) {
                found.push(at);
            }
        }
        let keep = next_delim.len().saturating_sub(1).min(data.len());
        carry = data[data.len() - keep..].to_vec();
        base += (data.len() - keep) as u64;
    }
    let read_at = |at: u64, max: usize| -> std::io::Result<Vec<u8>> {
        let mut f = file;
        f.seek(SeekFrom::Start(at))?;
        let mut v = Vec::new();
        f.take(max as u64).read_to_end(&mut v)?;
        Ok(v)
    };
    let head = read_at(0, 64 << 10)?;
    let Some(first) = memmem::find(&head, delim.as_bytes()) else {
        return Ok(None);
    };
    let mut pos = first as u64 + delim.len() as u64;
    let mut out = Vec::new();
    loop {
        let block = read_at(pos, 16 << 10)?;
        if block.starts_with(b"--") {
            return Ok(Some(out));
        }
        if !block.starts_with(b"\r\n") {
            return Ok(None);
        }
        let Some(head_len) = memmem::find(&block[2..], b"\r\n\r\n") else {
            return Ok(None);
        };
        let Ok(headers) = std::str::from_utf8(&block[2..2 + head_len]) else {
            return Ok(None);
        };
        let start = pos + 2 + head_len as u64 + 4;
        let Some(&end) = found.iter().find(|&&d| d >= start) else {
            return Ok(None);
        };
        if end > len {
            return Ok(None);
        }
        let mut part = multipart::Part {
            name: None,
            filename: None,
            content_type: None,
            start: start as usize,
            end: end as usize,
        };
        multipart::read_headers(headers, &mut part);
        out.push(part);
        pos = end + next_delim.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_in_a_file_across_read_chunks() {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        let start = body.len();
        // More than one read buffer of content, with the key near its end.
        body.extend(std::iter::repeat_n(b'a', (1 << 20) + 100));
        body.extend_from_slice(b"\nkey AKIAQYLPMN5HJNGY4F7A\n");
        let end = body.len();
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let path = std::env::temp_dir().join(format!("lg-spool-test-{}", std::process::id()));
        std::fs::write(&path, &body).unwrap();
        let file = File::open(&path).unwrap();
        let parts = parts_in_file(&file, body.len() as u64, "XyZ")
            .unwrap()
            .unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].filename.as_deref(), Some("big.txt"));
        assert_eq!((parts[1].start, parts[1].end), (start, end));
        let x = extract_spooled(
            None,
            "/v1/files",
            Some("multipart/form-data; boundary=XyZ"),
            &file,
            body.len() as u64,
            &DocumentLimits::default(),
            64 << 20,
        )
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(x
            .segments
            .iter()
            .any(|s| s.text.contains("AKIAQYLPMN5HJNGY4F7A")
                && s.location.starts_with("multipart:file(big.txt)")));
    }
}
