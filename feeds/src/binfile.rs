//! NASDAQ's binary file format: each message preceded by its length as a big-endian `u16`.
//!
//! - [`Frames`] iterates the frames of an in-memory buffer (usually a memory-mapped file) without
//!   copying.
//! - [`StreamFrames`] reads the same framing from any [`Read`] through one fixed-size buffer, so
//!   memory stays flat whatever the file size; [`GzFrames`] is the gzip form (concatenated gzip
//!   members are read as one stream).
//! - [`BinFile::open`] picks between them: gzip (recognised by its magic number, so the `.gz`
//!   name is customary but not required) is streamed, anything else is memory-mapped.
//!
//! A [`Frame`]'s `offset` is the byte offset of its length prefix in the (decompressed) file;
//! its `bytes` are the message without the prefix.
//!
//! **Zero length prefixes.** Some files in circulation carry a zero in every length prefix. By
//! default ([`LengthMode::Prefix`]) a zero prefix is an error ([`FramingError::ZeroLength`]).
//! With [`LengthMode::FromType`] the prefix is skipped and ignored, and the message length is
//! taken from its ITCH 5.0 type byte ([`crate::itch::message_len`]); an unknown type byte is
//! [`FramingError::UnknownType`].
//!
//! **After an error the framing is lost**: every reader here returns the error once and then
//! ends (`None`).
//!
//! **Memory maps.** A mapped file must not be truncated or modified by another process while it
//! is mapped; this module assumes read-only input files (see [`MappedFile`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// How the length of each frame is determined.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Hash)]
pub enum LengthMode {
    /// From the big-endian `u16` prefix; a zero prefix is [`FramingError::ZeroLength`].
    #[default]
    Prefix,
    /// Skip the 2-byte prefix (whatever it holds) and take the length from the ITCH 5.0 type
    /// byte that follows.
    FromType,
}

/// One framed message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Frame<'a> {
    /// Byte offset of the frame's length prefix in the (decompressed) file.
    pub offset: u64,
    /// The message, without its length prefix.
    pub bytes: &'a [u8],
}

/// The framing of a binary file is broken (or, when streaming, it could not be read).
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The file ends with a single byte where a length prefix should be.
    #[error("truncated length prefix at offset {offset} ({available} byte left)")]
    TruncatedPrefix {
        /// Offset of the partial prefix.
        offset: u64,
        /// Bytes left (1).
        available: usize,
    },
    /// The file ends inside a message.
    #[error("truncated message at offset {offset}: frame needs {needed} bytes, {available} left")]
    TruncatedMessage {
        /// Offset of the frame's length prefix.
        offset: u64,
        /// Bytes the frame needs, prefix included.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
    /// A zero length prefix (in [`LengthMode::Prefix`]).
    #[error(
        "zero length prefix at offset {offset} (the file may carry no lengths: read it with lengths taken from the message types)"
    )]
    ZeroLength {
        /// Offset of the prefix.
        offset: u64,
    },
    /// A type byte that is not an ITCH 5.0 message type (in [`LengthMode::FromType`]).
    #[error("unknown ITCH message type {ty:#04x} at offset {offset}")]
    UnknownType {
        /// Offset of the frame's length prefix.
        offset: u64,
        /// The type byte.
        ty: u8,
    },
    /// Reading (or decompressing) failed.
    #[error("read error at offset {offset}: {source}")]
    Io {
        /// Offset of the frame being read.
        offset: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl FramingError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            FramingError::TruncatedPrefix { offset, .. }
            | FramingError::TruncatedMessage { offset, .. }
            | FramingError::ZeroLength { offset }
            | FramingError::UnknownType { offset, .. }
            | FramingError::Io { offset, .. } => *offset,
        }
    }
}

/// Length of the frame starting at `avail[0]` (prefix included), when it can be told from the
/// bytes available; `Ok(None)` when more bytes are needed to tell.
#[inline]
fn frame_total(avail: &[u8], mode: LengthMode, offset: u64) -> Result<Option<usize>, FramingError> {
    match mode {
        LengthMode::Prefix => match avail {
            [a, b, ..] => match u16::from_be_bytes([*a, *b]) {
                0 => Err(FramingError::ZeroLength { offset }),
                n => Ok(Some(2 + usize::from(n))),
            },
            _ => Ok(None),
        },
        LengthMode::FromType => match avail.get(2) {
            Some(&ty) => match crate::itch::message_len(ty) {
                Some(n) => Ok(Some(2 + n)),
                None => Err(FramingError::UnknownType { offset, ty }),
            },
            None => Ok(None),
        },
    }
}

/// The error for a frame cut by the end of the input.
fn truncated(avail: usize, total: Option<usize>, mode: LengthMode, offset: u64) -> FramingError {
    match (total, avail) {
        (None, n) if n < 2 => FramingError::TruncatedPrefix {
            offset,
            available: n,
        },
        (None, n) => FramingError::TruncatedMessage {
            offset,
            needed: match mode {
                LengthMode::Prefix => 2,
                LengthMode::FromType => 3,
            },
            available: n,
        },
        (Some(needed), n) => FramingError::TruncatedMessage {
            offset,
            needed,
            available: n,
        },
    }
}

/// Reads the frame at `*pos` of `data` and advances `*pos` past it. `None` at the end.
/// On error `*pos` is left at the frame that failed.
#[inline]
pub(crate) fn frame_at<'a>(
    data: &'a [u8],
    pos: &mut usize,
    mode: LengthMode,
) -> Option<Result<Frame<'a>, FramingError>> {
    let avail = data.get(*pos..).unwrap_or(&[]);
    if avail.is_empty() {
        return None;
    }
    let offset = *pos as u64;
    let total = match frame_total(avail, mode, offset) {
        Ok(t) => t,
        Err(e) => return Some(Err(e)),
    };
    match total.and_then(|t| avail.get(2..t)) {
        Some(bytes) => {
            *pos += 2 + bytes.len();
            Some(Ok(Frame { offset, bytes }))
        }
        None => Some(Err(truncated(avail.len(), total, mode, offset))),
    }
}

/// Iterator over the frames of an in-memory binary file. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    mode: LengthMode,
    done: bool,
}

impl<'a> Frames<'a> {
    /// Frames of `data` with [`LengthMode::Prefix`].
    pub fn new(data: &'a [u8]) -> Self {
        Self::with_mode(data, LengthMode::Prefix)
    }

    /// Frames of `data` with the given length mode.
    pub fn with_mode(data: &'a [u8], mode: LengthMode) -> Self {
        Self {
            data,
            pos: 0,
            mode,
            done: false,
        }
    }

    /// Offset of the next frame.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FramingError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = frame_at(self.data, &mut self.pos, self.mode);
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// Size of [`StreamFrames`]' buffer: room for the largest frame (2 + 65,535 bytes) several
/// times over.
pub const STREAM_BUFFER_LEN: usize = 256 * 1024;

/// Streaming frame reader over any [`Read`], with one fixed-size buffer. Stops after the first
/// error.
#[derive(Debug)]
pub struct StreamFrames<R: Read> {
    reader: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    mode: LengthMode,
    eof: bool,
    done: bool,
}

/// Streaming frame reader over a gzip stream (concatenated members included).
pub type GzFrames<R> = StreamFrames<MultiGzDecoder<R>>;

impl<R: Read> StreamFrames<R> {
    /// Reads frames from `reader` (uncompressed).
    pub fn new(reader: R, mode: LengthMode) -> Self {
        Self {
            reader,
            buf: vec![0u8; STREAM_BUFFER_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
            offset: 0,
            mode,
            eof: false,
            done: false,
        }
    }

    /// Reads frames from the gzip stream `reader`.
    pub fn gzip(reader: R, mode: LengthMode) -> GzFrames<R> {
        StreamFrames::new(MultiGzDecoder::new(reader), mode)
    }

    /// Offset (in the decompressed stream) of the next frame.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Moves the unread bytes to the front and reads until the buffer holds more, or EOF.
    fn refill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            let Some(space) = self.buf.get_mut(self.end..) else {
                return Ok(());
            };
            if space.is_empty() {
                return Ok(());
            }
            match self.reader.read(space) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next frame; the borrow lasts until the next call. `None` at the end or after an
    /// error.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FramingError>> {
        if self.done {
            return None;
        }
        loop {
            let avail = self.buf.get(self.start..self.end).unwrap_or(&[]);
            let total = match frame_total(avail, self.mode, self.offset) {
                Ok(t) => t,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if let Some(t) = total {
                if avail.len() >= t {
                    let (s, offset) = (self.start, self.offset);
                    self.start += t;
                    self.offset += t as u64;
                    let bytes = self.buf.get(s + 2..s + t).unwrap_or(&[]);
                    return Some(Ok(Frame { offset, bytes }));
                }
            }
            if self.eof {
                self.done = true;
                if avail.is_empty() {
                    return None;
                }
                return Some(Err(truncated(avail.len(), total, self.mode, self.offset)));
            }
            if let Err(source) = self.refill() {
                self.done = true;
                return Some(Err(FramingError::Io {
                    offset: self.offset,
                    source,
                }));
            }
        }
    }
}

/// A read-only memory map of a whole file (empty files are not mapped).
#[derive(Debug)]
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `file` read-only.
    ///
    /// The file must not be truncated or written by anyone while the map lives: the process
    /// could crash (SIGBUS) or see the bytes change under it.
    pub fn map(file: &File) -> io::Result<Self> {
        if file.metadata()?.len() == 0 {
            return Ok(Self { map: None });
        }
        // SAFETY: the map is read-only and this crate never writes through it. `Mmap::map` is
        // unsafe because another process could modify or truncate the file while it is mapped;
        // ticklane only maps market-data files that are treated as immutable inputs (documented
        // on this function and in the module docs).
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(file) }?;
        Ok(Self { map: Some(map) })
    }

    /// Opens and maps the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::map(&File::open(path)?)
    }

    /// The file's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Returns true when `head` starts with the gzip magic number.
pub(crate) fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1F, 0x8B])
}

/// Reads up to 4 leading bytes of `file` and rewinds it.
pub(crate) fn sniff(file: &mut File) -> io::Result<([u8; 4], usize)> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok((head, n))
}

#[derive(Debug)]
enum BinInner {
    Mapped {
        map: MappedFile,
        pos: usize,
        done: bool,
    },
    Gz(Box<GzFrames<File>>),
}

/// A NASDAQ binary file opened for reading: memory-mapped, or streamed when gzip-compressed.
#[derive(Debug)]
pub struct BinFile {
    inner: BinInner,
    mode: LengthMode,
}

impl BinFile {
    /// Opens `path` with [`LengthMode::Prefix`].
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with(path, LengthMode::Prefix)
    }

    /// Opens `path` with the given length mode.
    pub fn open_with(path: impl AsRef<Path>, mode: LengthMode) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let (head, n) = sniff(&mut file)?;
        let inner = if is_gzip(&head[..n]) {
            BinInner::Gz(Box::new(StreamFrames::gzip(file, mode)))
        } else {
            BinInner::Mapped {
                map: MappedFile::map(&file)?,
                pos: 0,
                done: false,
            }
        };
        Ok(Self { inner, mode })
    }

    /// True when the file is streamed through gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self.inner, BinInner::Gz(_))
    }

    /// The whole mapped file (`None` for gzip).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.inner {
            BinInner::Mapped { map, .. } => Some(map.as_bytes()),
            BinInner::Gz(_) => None,
        }
    }

    /// A fresh zero-copy iterator over every frame of a mapped file (`None` for gzip). It is
    /// independent of [`BinFile::next_frame`]'s position.
    pub fn frames(&self) -> Option<Frames<'_>> {
        self.as_bytes().map(|b| Frames::with_mode(b, self.mode))
    }

    /// The next frame, whichever way the file is read. `None` at the end or after an error.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FramingError>> {
        match &mut self.inner {
            BinInner::Mapped { map, pos, done } => {
                if *done {
                    return None;
                }
                let r = frame_at(map.as_bytes(), pos, self.mode);
                if !matches!(r, Some(Ok(_))) {
                    *done = true;
                }
                r
            }
            BinInner::Gz(g) => g.next_frame(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_framing_errors() {
        let data = [0, 1, b'x', 0, 2, b'y'];
        let mut f = Frames::new(&data);
        assert_eq!(f.next().unwrap().unwrap().bytes, b"x");
        match f.next() {
            Some(Err(FramingError::TruncatedMessage {
                offset: 3,
                needed: 4,
                available: 3,
            })) => {}
            other => panic!("{other:?}"),
        }
        assert!(f.next().is_none());
        let mut f = Frames::new(&[0, 1, b'x', 7]);
        f.next();
        assert!(matches!(
            f.next(),
            Some(Err(FramingError::TruncatedPrefix {
                offset: 3,
                available: 1
            }))
        ));
        let mut f = Frames::new(&[0, 0, 1]);
        assert!(matches!(
            f.next(),
            Some(Err(FramingError::ZeroLength { offset: 0 }))
        ));
        assert!(f.next().is_none());
    }

    #[test]
    fn stream_matches_slice_with_tiny_reads() {
        // A reader that returns one byte at a time exercises every refill path.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((b, rest)), Some(slot)) => {
                        *slot = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let mut data = Vec::new();
        for i in 0..300u16 {
            let len = (i * 37) % 700 + 1;
            data.extend_from_slice(&len.to_be_bytes());
            data.extend((0..len).map(|k| (k ^ i) as u8));
        }
        data.push(9); // a cut prefix at the end
        let expect: Vec<_> = Frames::new(&data).collect();
        let mut s = StreamFrames::new(OneByte(&data), LengthMode::Prefix);
        let mut n = 0;
        while let Some(r) = s.next_frame() {
            match (&r, &expect[n]) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("mismatch at {n}: {r:?} vs {:?}", expect[n]),
            }
            n += 1;
        }
        assert_eq!(n, expect.len());
        assert_eq!(n, 301);
    }
}
