//! Request bodies: read with a size cap, decoded (gzip, deflate, br, zstd) with a cap on the
//! decoded size and on the expansion ratio, so a 10 GB upload or a compression bomb ends in a
//! clear refusal, never in an exhausted laptop.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::io::Read;

/// Why a body could not be read for scanning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("the request body expands beyond the limit when decompressed ({limit} bytes or more than {ratio}x): a compression bomb is refused")]
    Bomb { limit: usize, ratio: usize },
    #[error("the request body is `{0}`-encoded, which Leakguard cannot inspect")]
    UnsupportedEncoding(String),
    #[error("the request body is not valid {encoding} data: {message}")]
    Corrupt { encoding: String, message: String },
    #[error("the client stopped sending the request body: {0}")]
    Read(String),
    #[error("the client sent nothing of the request body for {0} s; the request is dropped")]
    Stalled(u64),
    #[error("Leakguard is inspecting other large requests and has no memory left for this one within 30 s; send it again in a moment")]
    Busy,
}

/// Limits for one body.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Raw bytes as received.
    pub max_body: usize,
    /// Bytes after decoding.
    pub max_decoded: usize,
    /// Decoded size / encoded size.
    pub max_ratio: usize,
    /// How long a client may pause between chunks of a body the guard reads.
    pub idle: std::time::Duration,
    /// Memory all bodies being inspected at once may take (bodies count [`WEIGHT`] times
    /// their size: decoding, extraction and scanning copy them). Beyond it a large body waits
    /// for others to finish (up to 30 s, then a 503 that says why).
    pub in_flight: usize,
}

/// How many times its size a body being inspected costs in memory (raw, decoded, the
/// extracted text, the scanner's normalised copy, JSON values), measured on 28 MiB prompts.
pub const WEIGHT: usize = 8;
/// Bodies smaller than this are not counted against [`Limits::in_flight`]: they are cheap,
/// and the hot path stays free of the budget's lock.
pub const UNCOUNTED: usize = 1 << 20;
/// How long a large body may wait for memory.
const WAIT_FOR_MEMORY: std::time::Duration = std::time::Duration::from_secs(30);

/// The shared memory budget of bodies being inspected ([`Limits::in_flight`]), in KiB.
#[derive(Debug)]
pub struct Budget {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    kib: u32,
}

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        let kib = (bytes >> 10).clamp(
            1,
            tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize),
        ) as u32;
        Budget {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(kib as usize)),
            kib,
        }
    }
}

/// What one body holds of the budget; returned when dropped (with the memory handed back to
/// the system after a large one).
#[derive(Debug, Default)]
pub struct Reservation {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    bytes: usize,
    /// The budget's size in KiB (to tell when no large body is left).
    total_kib: usize,
}

impl Reservation {
    /// Grows the reservation to cover a body of `seen` bytes.
    async fn cover(&mut self, budget: &Budget, seen: usize) -> Result<(), BodyError> {
        let want_kib = (seen.saturating_mul(WEIGHT) >> 10).min(budget.kib as usize) as u32;
        let have_kib = self.permit.as_ref().map_or(0, |p| p.num_permits()) as u32;
        self.bytes = self.bytes.max(seen);
        if want_kib <= have_kib {
            return Ok(());
        }
        let more = tokio::time::timeout(
            WAIT_FOR_MEMORY,
            std::sync::Arc::clone(&budget.permits).acquire_many_owned(want_kib - have_kib),
        )
        .await
        .map_err(|_| BodyError::Busy)?
        .map_err(|_| BodyError::Busy)?;
        match self.permit.as_mut() {
            Some(p) => p.merge(more),
            None => self.permit = Some(more),
        }
        self.total_kib = budget.kib as usize;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let semaphore = std::sync::Arc::clone(permit.semaphore());
        drop(permit);
        // The last large body is done: hand what it used back to the system.
        if self.bytes >= 8 << 20 && semaphore.available_permits() == self.total_kib {
            give_back_memory();
        }
    }
}

/// Hands freed heap back to the system (glibc keeps it otherwise: a guard that had inspected
/// twelve 28 MiB prompts kept 1.5 GB).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let trim = || {
            // SAFETY: malloc_trim only walks glibc's own arenas; it takes their locks itself.
            #[allow(unsafe_code)]
            unsafe {
                libc::malloc_trim(0);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(trim);
            }
            Err(_) => trim(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 32 << 20,
            max_decoded: 64 << 20,
            max_ratio: 200,
            idle: std::time::Duration::from_secs(60),
            in_flight: 512 << 20,
        }
    }
}

/// How much of an over-limit body is read and thrown away so that the refusal reaches the
/// client (closing with unread data makes the kernel reset the connection, and the client
/// would see "connection reset" instead of the reason). Beyond this the connection is closed.
pub fn drain_budget(limit: usize) -> usize {
    limit.saturating_mul(4).clamp(1 << 20, 256 << 20)
}

/// Reads a whole body, refusing once it passes `limit` bytes. A declared Content-Length over
/// the limit is refused without reading when it is beyond the drain budget.
pub async fn collect<B>(body: B, declared: Option<u64>, limit: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    collect_within(body, declared, limit, None, None)
        .await
        .map(|(b, _)| b)
}

/// [`collect`], giving up when the client pauses longer than `idle` between chunks (a
/// stalled upload must not hold a connection and its memory forever).
/// With a `budget`, a body over [`UNCOUNTED`] bytes reserves its share of memory as it
/// arrives (waiting for others to finish when there is none); the reservation comes back with
/// the body and is held until the request is done.
pub async fn collect_within<B>(
    body: B,
    declared: Option<u64>,
    limit: usize,
    idle: Option<std::time::Duration>,
    memory: Option<&Budget>,
) -> Result<(Bytes, Reservation), BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let budget = drain_budget(limit);
    if declared.is_some_and(|n| n > budget as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut reservation = Reservation::default();
    if let (Some(m), Some(n)) = (memory, declared) {
        let n = (n as usize).min(limit);
        if n > UNCOUNTED {
            reservation.cover(m, n).await?;
        }
    }
    let mut body = body;
    let mut buf = BytesMut::with_capacity(declared.map_or(8 << 10, |n| (n as usize).min(limit)));
    let mut seen = 0usize;
    // One timer for the whole body, moved on lazily: a frame only notes when it came (a
    // timer per frame cost more than the rest of reading a 100 KB body).
    let idle_for = idle.unwrap_or(std::time::Duration::from_secs(365 * 24 * 3600));
    let mut last = tokio::time::Instant::now();
    let timer = tokio::time::sleep_until(last + idle_for);
    tokio::pin!(timer);
    loop {
        let frame = tokio::select! {
            biased;
            f = body.frame() => f,
            () = &mut timer => {
                if last + idle_for > tokio::time::Instant::now() {
                    timer.as_mut().reset(last + idle_for);
                    continue;
                }
                return Err(BodyError::Stalled(idle_for.as_secs()));
            }
        };
        last = tokio::time::Instant::now();
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > limit {
                if seen > budget {
                    return Err(BodyError::TooLarge { limit });
                }
                buf.clear();
                continue;
            }
            if let Some(m) = memory.filter(|_| seen > UNCOUNTED) {
                reservation.cover(m, seen).await?;
            }
            if buf.is_empty() && body.is_end_stream() {
                return Ok((data, reservation));
            }
            buf.extend_from_slice(&data);
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok((buf.freeze(), reservation))
}

/// An upload written to disk because it is larger than the in-memory cap: a 0600 file in the
/// spool directory, unlinked as soon as it is created on Unix (so nothing is left behind even
/// if the guard is killed), read back through its handle.
#[derive(Debug)]
pub struct Spool {
    pub file: std::fs::File,
    pub len: u64,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
}

#[cfg(not(unix))]
impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Spool {
    fn create(dir: &std::path::Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let mut name = [0u8; 12];
        getrandom::getrandom(&mut name).map_err(|e| std::io::Error::other(e.to_string()))?;
        let path = dir.join(format!("upload-{}", crate::inspect::hex(&name)));
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        #[cfg(unix)]
        std::fs::remove_file(&path)?;
        Ok(Spool {
            file,
            len: 0,
            #[cfg(not(unix))]
            path,
        })
    }
}

/// Writes a body (at most `limit` bytes) to a new spool file in `dir`.
pub async fn spool_within<B>(
    body: B,
    limit: u64,
    idle: std::time::Duration,
    memory: &Budget,
    dir: &std::path::Path,
) -> Result<Spool, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    // Nothing is held in memory: the first bytes start the spool.
    match collect_or_spool(body, 0, limit, idle, memory, dir).await? {
        Collected::Spooled(s) => Ok(s),
        Collected::Memory(..) => Spool::create(dir)
            .map_err(|e| BodyError::Read(format!("cannot spool the upload to disk: {e}"))),
    }
}

/// A body read in memory, or spooled once it grew past the in-memory cap.
#[derive(Debug)]
pub enum Collected {
    Memory(Bytes, Reservation),
    Spooled(Spool),
}

/// Reads a body whose size is not declared (chunked): in memory up to `limit` (counted against
/// the memory budget like [`collect_within`]), then, if it grows past it, into a spool file in
/// `dir` (the bytes so far first), up to `spool_limit`.
pub async fn collect_or_spool<B>(
    body: B,
    limit: usize,
    spool_limit: u64,
    idle: std::time::Duration,
    memory: &Budget,
    dir: &std::path::Path,
) -> Result<Collected, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    use std::io::Write;
    let spool_err =
        |e: std::io::Error| BodyError::Read(format!("cannot spool the upload to disk: {e}"));
    let mut body = body;
    let mut buf = BytesMut::new();
    let mut reservation = Reservation::default();
    let mut spool: Option<Spool> = None;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Ok(f) => f,
            Err(_) => return Err(BodyError::Stalled(idle.as_secs())),
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match spool.as_mut() {
            Some(s) => {
                s.len += data.len() as u64;
                if s.len > spool_limit {
                    return Err(BodyError::TooLarge {
                        limit: usize::try_from(spool_limit).unwrap_or(usize::MAX),
                    });
                }
                s.file.write_all(&data).map_err(spool_err)?;
            }
            None if buf.len() + data.len() > limit => {
                let mut s = Spool::create(dir).map_err(spool_err)?;
                s.file.write_all(&buf).map_err(spool_err)?;
                s.file.write_all(&data).map_err(spool_err)?;
                s.len = (buf.len() + data.len()) as u64;
                buf = BytesMut::new();
                reservation = Reservation::default();
                spool = Some(s);
            }
            None => {
                buf.extend_from_slice(&data);
                if buf.len() > UNCOUNTED {
                    reservation.cover(memory, buf.len()).await?;
                }
            }
        }
    }
    Ok(match spool {
        Some(s) => Collected::Spooled(s),
        None => Collected::Memory(buf.freeze(), reservation),
    })
}

/// A body that streams a spooled upload from the start, in 256 KiB reads.
pub fn spool_body(spool: &Spool) -> std::io::Result<hudsucker::Body> {
    use std::io::{Seek, SeekFrom};
    let mut file = spool.file.try_clone()?;
    file.seek(SeekFrom::Start(0))?;
    let file = tokio::fs::File::from_std(file);
    let stream = futures_util::stream::try_unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = BytesMut::with_capacity(256 << 10);
        let n = f.read_buf(&mut buf).await?;
        Ok::<_, std::io::Error>((n > 0).then(|| (buf.freeze(), f)))
    });
    Ok(hudsucker::Body::from_stream(stream))
}

/// Reads and discards a body (up to the drain budget of `limit`), before a refusal.
pub async fn drain<B>(body: B, limit: usize)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let _ = collect(body, None, limit).await;
}

/// Decodes `raw` by its Content-Encoding (a list, applied in order). Identity returns `raw`.
pub fn decode(
    raw: &Bytes,
    content_encoding: Option<&str>,
    limits: &Limits,
) -> Result<Bytes, BodyError> {
    let Some(ce) = content_encoding else {
        return Ok(raw.clone());
    };
    let mut data = raw.clone();
    let cap = limits
        .max_decoded
        .min(raw.len().saturating_mul(limits.max_ratio).max(64 << 10));
    // Encodings are listed in the order they were applied: undo them from the last.
    for enc in ce.split(',').map(|e| e.trim().to_ascii_lowercase()).rev() {
        let reader: Box<dyn Read + '_> = match enc.as_str() {
            "" | "identity" => continue,
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&data[..])),
            "deflate" => {
                // RFC 9110 deflate is zlib-wrapped; some clients send raw deflate.
                if data.len() >= 2
                    && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
                    && data[0] & 0x0f == 8
                {
                    Box::new(flate2::read::ZlibDecoder::new(&data[..]))
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(&data[..]))
                }
            }
            "br" => Box::new(brotli::Decompressor::new(&data[..], 64 << 10)),
            "zstd" => Box::new(zstd::stream::read::Decoder::new(&data[..]).map_err(|e| {
                BodyError::Corrupt {
                    encoding: enc.clone(),
                    message: e.to_string(),
                }
            })?),
            other => return Err(BodyError::UnsupportedEncoding(other.to_string())),
        };
        let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(cap));
        let n = reader
            .take(cap as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| BodyError::Corrupt {
                encoding: enc.clone(),
                message: e.to_string(),
            })?;
        if n > cap {
            return Err(BodyError::Bomb {
                limit: limits.max_decoded,
                ratio: limits.max_ratio,
            });
        }
        data = Bytes::from(out);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn every_supported_encoding_round_trips() {
        let text = b"the prompt text, repeated; the prompt text, repeated".repeat(10);
        let l = Limits::default();
        assert_eq!(decode(&gzip(&text), Some("gzip"), &l).unwrap(), &text[..]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(
            decode(&Bytes::from(z.finish().unwrap()), Some("deflate"), &l).unwrap(),
            &text[..]
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&text).unwrap();
        assert_eq!(
            decode(&Bytes::from(d.finish().unwrap()), Some("deflate"), &l).unwrap(),
            &text[..]
        );
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(&text)
            .unwrap();
        assert_eq!(decode(&Bytes::from(br), Some("br"), &l).unwrap(), &text[..]);
        let zs = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(
            decode(&Bytes::from(zs), Some("zstd"), &l).unwrap(),
            &text[..]
        );
        let double = gzip(&zstd::encode_all(&text[..], 3).unwrap());
        assert_eq!(decode(&double, Some("zstd, gzip"), &l).unwrap(), &text[..]);
    }

    #[test]
    fn bombs_corrupt_data_and_unknown_encodings_are_refused() {
        let l = Limits {
            max_body: 1 << 20,
            max_decoded: 8 << 20,
            max_ratio: 100,
            ..Limits::default()
        };
        let bomb = gzip(&vec![b'a'; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        assert!(matches!(
            decode(&bomb, Some("gzip"), &l),
            Err(BodyError::Bomb { .. })
        ));
        assert!(matches!(
            decode(&Bytes::from_static(b"not gzip"), Some("gzip"), &l),
            Err(BodyError::Corrupt { .. })
        ));
        assert_eq!(
            decode(&Bytes::from_static(b"x"), Some("compress"), &l),
            Err(BodyError::UnsupportedEncoding("compress".into()))
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_while_reading() {
        let body = http_body_util::Full::new(Bytes::from(vec![0u8; 2000]));
        assert_eq!(
            collect(body.clone(), None, 1000).await,
            Err(BodyError::TooLarge { limit: 1000 })
        );
        assert_eq!(
            collect(body.clone(), Some(2000), 1000).await,
            Err(BodyError::TooLarge { limit: 1000 })
        );
        assert_eq!(collect(body, None, 4000).await.unwrap().len(), 2000);
    }
}
