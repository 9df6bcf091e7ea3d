//! The CSV reading layer, before any column means anything: which encoding
//! (UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252; detected or
//! set), which delimiter (`,` `;` tab; detected or set), and the physical
//! line each record starts on.
//!
//! Line numbers are counted here rather than taken from the csv crate, whose
//! `Position::line` lags on `\r\n`, stays at 1 in a CR-only file and does not
//! count blank lines (csv issue #395): the bytes the parser reads pass
//! through [`Lines`], which notes where every non-empty physical line starts,
//! and a record's line is the first non-empty line at or after its byte
//! position.
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

pub use crate::sources::format::{delimiter_name, parse_delimiter, Encoding};

/// What reading the whole file once (for its hash) found out.
#[derive(Debug, Clone)]
pub struct Scan {
    pub sha256: String,
    /// Leading byte-order mark, if any, and its length.
    pub bom: Option<(Encoding, usize)>,
    /// Well-formed multi-byte UTF-8 sequences seen.
    pub utf8_multibyte: u64,
    /// Bytes that are not part of well-formed UTF-8.
    pub utf8_invalid: u64,
    /// The first bytes (for the delimiter).
    pub head: Vec<u8>,
}

/// Hashes the file and checks, in the same pass, whether it is UTF-8.
pub fn scan(path: &Path) -> io::Result<Scan> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut utf8 = Utf8Check::default();
    let mut head = Vec::new();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if head.len() < 8192 {
            let take = (8192 - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        utf8.feed(&buf[..n]);
    }
    utf8.finish();
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        Some((Encoding::Utf8, 3))
    } else if head.starts_with(b"\xff\xfe") {
        Some((Encoding::Utf16Le, 2))
    } else if head.starts_with(b"\xfe\xff") {
        Some((Encoding::Utf16Be, 2))
    } else {
        None
    };
    Ok(Scan {
        sha256: hex::encode(hasher.finalize()),
        bom,
        utf8_multibyte: utf8.multibyte,
        utf8_invalid: utf8.invalid,
        head,
    })
}

/// A streaming UTF-8 validator that counts rather than stops.
#[derive(Default)]
struct Utf8Check {
    /// Continuation bytes still expected, and the sequence so far.
    need: u8,
    multibyte: u64,
    invalid: u64,
}

impl Utf8Check {
    /// Counts a chunk of the file: checked at once where it is well-formed
    /// (the usual case), byte by byte where it is not, or where a sequence
    /// runs over the chunk's ends.
    fn feed(&mut self, mut bytes: &[u8]) {
        // A sequence the previous chunk left open.
        while self.need > 0 && !bytes.is_empty() {
            self.feed_bytes(&bytes[..1]);
            bytes = &bytes[1..];
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => self.multibyte += lead_bytes(bytes),
            // Well-formed up to a sequence cut by the chunk's end.
            Err(e) if e.error_len().is_none() => {
                let (whole, cut) = bytes.split_at(e.valid_up_to());
                self.multibyte += lead_bytes(whole);
                self.feed_bytes(cut);
            }
            Err(_) => self.feed_bytes(bytes),
        }
    }

    /// The byte-by-byte count.
    fn feed_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.need > 0 {
                if b & 0xc0 == 0x80 {
                    self.need -= 1;
                    if self.need == 0 {
                        self.multibyte += 1;
                    }
                    continue;
                }
                self.invalid += 1;
                self.need = 0;
            }
            match b {
                0x00..=0x7f => {}
                0xc2..=0xdf => self.need = 1,
                0xe0..=0xef => self.need = 2,
                0xf0..=0xf4 => self.need = 3,
                _ => self.invalid += 1,
            }
        }
    }

    fn finish(&mut self) {
        if self.need > 0 {
            self.invalid += 1;
            self.need = 0;
        }
    }
}

/// The multi-byte sequences of well-formed UTF-8: one lead byte each.
fn lead_bytes(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b >= 0xc0).count() as u64
}

/// How a file is read: its encoding and delimiter, and whether they were
/// detected (the import summary says so).
#[derive(Debug, Clone)]
pub struct Format {
    pub encoding: Encoding,
    pub encoding_detected: bool,
    pub bom_len: usize,
    pub delimiter: u8,
    pub delimiter_detected: bool,
}

impl Format {
    /// `encoding Windows-1252 (detected), delimiter ';' (detected)`, or None
    /// for the plain case (UTF-8, comma).
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.encoding != Encoding::Utf8 {
            parts.push(format!(
                "read as {}{}",
                self.encoding.name(),
                if self.encoding_detected {
                    " (detected)"
                } else {
                    ""
                }
            ));
        }
        if self.delimiter != b',' {
            parts.push(format!(
                "delimiter {}{}",
                delimiter_name(self.delimiter),
                if self.delimiter_detected {
                    " (detected)"
                } else {
                    ""
                }
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Decides the encoding and delimiter from the scan and the configured ones.
/// An error is a file-level problem (the whole file cannot be read).
pub fn decide(
    scan: &Scan,
    encoding: Option<Encoding>,
    delimiter: Option<u8>,
) -> Result<Format, String> {
    let (encoding, encoding_detected, bom_len) = match (encoding, scan.bom) {
        // A BOM is what the file says about itself: it wins over a setting of
        // the same family, and contradicts any other.
        (_, Some((bom_enc, len))) => {
            if let Some(set) = encoding {
                let family = |e: Encoding| matches!(e, Encoding::Utf16Le | Encoding::Utf16Be);
                if set != bom_enc && !(family(set) && family(bom_enc)) {
                    return Err(format!(
                        "the file starts with a {} byte-order mark but encoding = \"{}\" is set (remove the setting or re-save the file)",
                        bom_enc.name(),
                        set.name()
                    ));
                }
            }
            (bom_enc, encoding.is_none(), len)
        }
        (Some(set), None) => (set, false, 0),
        (None, None) => {
            if scan.utf8_invalid == 0 {
                (Encoding::Utf8, true, 0)
            } else if scan.utf8_multibyte == 0 && !scan.head.contains(&0) {
                // Bytes above 127 that never form UTF-8: an 8-bit file, which
                // from a spreadsheet on Windows is Windows-1252.
                (Encoding::Windows1252, true, 0)
            } else {
                // Some UTF-8 and some not: a damaged UTF-8 file. Read it as
                // UTF-8 so that each bad cell is reported where it is.
                (Encoding::Utf8, true, 0)
            }
        }
    };
    let (delimiter, delimiter_detected) = match delimiter {
        Some(d) => (d, false),
        None => (sniff_delimiter(scan, encoding, bom_len), true),
    };
    Ok(Format {
        encoding,
        encoding_detected,
        bom_len,
        delimiter,
        delimiter_detected,
    })
}

/// The delimiter of the header line: the most frequent of `,` `;` tab outside
/// quotes (a comma on a tie or when there is none).
fn sniff_delimiter(scan: &Scan, encoding: Encoding, bom_len: usize) -> u8 {
    let text = match encoding.decoder() {
        None => String::from_utf8_lossy(&scan.head[bom_len.min(scan.head.len())..]).into_owned(),
        Some(_) => {
            let enc = match encoding {
                Encoding::Utf16Le => encoding_rs::UTF_16LE,
                Encoding::Utf16Be => encoding_rs::UTF_16BE,
                _ => encoding_rs::WINDOWS_1252,
            };
            let bytes = &scan.head[bom_len.min(scan.head.len())..];
            enc.decode_without_bom_handling(bytes).0.into_owned()
        }
    };
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for ch in text.chars() {
        match ch {
            '"' => quoted = !quoted,
            '\r' | '\n' if !quoted => break,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        [b',', b';', b'\t'][best]
    }
}

/// Where the non-empty physical lines start, in the bytes the parser reads.
#[derive(Debug, Default)]
struct LineIndex {
    /// (byte offset, line number) of each non-empty line not yet claimed.
    starts: VecDeque<(u64, u64)>,
    offset: u64,
    line: u64,
    at_line_start: bool,
    prev_cr: bool,
}

impl LineIndex {
    fn new() -> Self {
        LineIndex {
            line: 1,
            at_line_start: true,
            ..Default::default()
        }
    }

    /// Notes the line starts in the next bytes read: from one line end to
    /// the next in a jump (memchr), not byte by byte.
    fn feed(&mut self, bytes: &[u8]) {
        let base = self.offset;
        self.offset += bytes.len() as u64;
        let mut i = 0;
        if self.prev_cr && !bytes.is_empty() {
            self.prev_cr = false;
            if bytes[0] == b'\n' {
                i = 1; // the second half of \r\n
            }
        }
        while i < bytes.len() {
            match bytes[i] {
                b @ (b'\r' | b'\n') => {
                    self.line += 1;
                    self.at_line_start = true;
                    if b == b'\r' {
                        match bytes.get(i + 1) {
                            Some(b'\n') => i += 1,
                            Some(_) => {}
                            None => self.prev_cr = true,
                        }
                    }
                    i += 1;
                }
                _ => {
                    if self.at_line_start {
                        self.starts.push_back((base + i as u64, self.line));
                        self.at_line_start = false;
                    }
                    i = match memchr::memchr2(b'\r', b'\n', &bytes[i..]) {
                        Some(k) => i + k,
                        None => bytes.len(),
                    };
                }
            }
        }
    }

    /// The same, byte by byte (the tests' reference).
    #[cfg(test)]
    fn feed_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let at = self.offset;
            self.offset += 1;
            if self.prev_cr {
                self.prev_cr = false;
                if b == b'\n' {
                    continue; // the second half of \r\n
                }
            }
            match b {
                b'\r' | b'\n' => {
                    self.line += 1;
                    self.at_line_start = true;
                    self.prev_cr = b == b'\r';
                }
                _ => {
                    if self.at_line_start {
                        self.starts.push_back((at, self.line));
                        self.at_line_start = false;
                    }
                }
            }
        }
    }

    /// The line of a record that starts at or after byte `at` (the parser's
    /// position before it skipped blank lines).
    fn line_at(&mut self, at: u64) -> u64 {
        while let Some(&(start, line)) = self.starts.front() {
            if start >= at {
                return line;
            }
            self.starts.pop_front();
        }
        self.line
    }
}

/// The bytes of the file as UTF-8 (transcoded when needed, BOM removed), with
/// their line starts noted on the way through.
struct Decoded {
    inner: BufReader<File>,
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
    lines: LineIndex,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.decoder.is_none() {
            let n = self.inner.read(buf)?;
            self.lines.feed(&buf[..n]);
            return Ok(n);
        }
        while self.out_pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            self.raw.resize(1 << 16, 0);
            let n = self.inner.read(&mut self.raw)?;
            let last = n == 0;
            let decoder = self.decoder.as_mut().expect("decoder");
            let max = decoder
                .max_utf8_buffer_length(n)
                .unwrap_or(4 * n + 16)
                .max(16);
            self.out.clear();
            self.out.resize(max, 0);
            let (_, _read, written, _) =
                decoder.decode_to_utf8(&self.raw[..n], &mut self.out, last);
            self.out.truncate(written);
            self.out_pos = 0;
            self.lines.feed(&self.out);
            if last {
                self.eof = true;
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A CSV file opened for records with their physical line numbers (its own
/// line index travels inside the reader: a `Source` can move to the thread
/// that parses).
pub struct Source {
    reader: csv::Reader<Decoded>,
    pub format: Format,
}

/// A record could not be read: where, and why.
#[derive(Debug)]
pub struct ReadError {
    pub line: u64,
    pub error: csv::Error,
}

impl Source {
    pub fn open(path: &Path, format: Format) -> io::Result<Source> {
        let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
        let mut skip = vec![0u8; format.bom_len];
        file.read_exact(&mut skip)?;
        let decoded = Decoded {
            inner: file,
            decoder: format.encoding.decoder(),
            raw: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
            lines: LineIndex::new(),
        };
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(format.delimiter)
            .buffer_capacity(1 << 16)
            .from_reader(decoded);
        Ok(Source { reader, format })
    }

    /// The next record and its physical line; Ok(None) at the end.
    pub fn next(&mut self, record: &mut csv::ByteRecord) -> Result<Option<u64>, ReadError> {
        match self.reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let at = record.position().map(|p| p.byte()).unwrap_or(0);
                Ok(Some(self.reader.get_mut().lines.line_at(at)))
            }
            Err(error) => {
                let at = error.position().map(|p| p.byte());
                let lines = &mut self.reader.get_mut().lines;
                let line = match at {
                    Some(at) => lines.line_at(at),
                    None => lines.line,
                };
                Err(ReadError { line, error })
            }
        }
    }

    /// Bytes of the file read so far (for the progress bar).
    pub fn byte(&self) -> u64 {
        self.reader.position().byte()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(bytes: &[u8]) -> Vec<(u64, Vec<String>)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, bytes).unwrap();
        let s = scan(&path).unwrap();
        let format = decide(&s, None, None).unwrap();
        let mut src = Source::open(&path, format).unwrap();
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(line) = src.next(&mut rec).unwrap() {
            let fields = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((line, fields));
        }
        out
    }

    fn numbers(bytes: &[u8]) -> Vec<u64> {
        lines_of(bytes).into_iter().map(|(l, _)| l).collect()
    }

    fn counted(chunks: &[&[u8]], bytewise: bool) -> (u64, u64, u8) {
        let mut c = Utf8Check::default();
        for chunk in chunks {
            match bytewise {
                true => c.feed_bytes(chunk),
                false => c.feed(chunk),
            }
        }
        let open = c.need;
        c.finish();
        (c.multibyte, c.invalid, open)
    }

    proptest! {
        /// The chunk-at-once count is the byte-by-byte one, whatever the
        /// bytes (UTF-8 or not) and wherever the chunks are cut.
        #[test]
        fn utf8_counts_agree_with_the_bytewise_ones(
            text in prop::collection::vec(prop_oneof![
                any::<char>().prop_map(|c| c.to_string().into_bytes()),
                prop::collection::vec(any::<u8>(), 1..4),
            ], 0..40),
            cuts in prop::collection::vec(0usize..200, 0..6),
        ) {
            let bytes: Vec<u8> = text.concat();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                chunks.push(&bytes[at..c]);
                at = c;
            }
            prop_assert_eq!(counted(&chunks, false), counted(&chunks, true));
            prop_assert_eq!(counted(&chunks, false), counted(&[&bytes], true));
        }
    }

    fn line_starts(chunks: &[&[u8]], bytewise: bool) -> (Vec<(u64, u64)>, u64, bool) {
        let mut l = LineIndex::new();
        for chunk in chunks {
            match bytewise {
                true => l.feed_bytes(chunk),
                false => l.feed(chunk),
            }
        }
        (l.starts.into_iter().collect(), l.line, l.at_line_start)
    }

    proptest! {
        /// The line starts found by jumping between line ends are those
        /// found byte by byte, whatever the line ends (\n, \r\n, \r, blank
        /// lines) and wherever the reads are cut (a \r\n split too).
        #[test]
        fn line_starts_agree_with_the_bytewise_ones(
            text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'\r', b'\n']), 0..60),
            cuts in prop::collection::vec(0usize..60, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([text.len()]) {
                chunks.push(&text[at..c]);
                at = c;
            }
            prop_assert_eq!(line_starts(&chunks, false), line_starts(&chunks, true));
        }
    }

    #[test]
    fn utf8_counts() {
        assert_eq!(counted(&["café €".as_bytes()], false), (2, 0, 0));
        // A sequence cut between chunks, and one never finished.
        let e = "é".as_bytes();
        assert_eq!(
            counted(&[b"a", &e[..1], &e[1..], b"b\xe2\x82"], false),
            (1, 1, 1)
        );
        assert_eq!(counted(&[b"caf\xe9 \x80"], false), (0, 2, 0));
    }

    #[test]
    fn physical_lines_for_every_line_ending() {
        assert_eq!(numbers(b"a,b\n1,2\n3,4\n"), [1, 2, 3]);
        assert_eq!(numbers(b"a,b\r\n1,2\r\n3,4\r\n"), [1, 2, 3]);
        assert_eq!(numbers(b"a,b\r1,2\r3,4"), [1, 2, 3]);
        assert_eq!(numbers(b"a,b\n\n1,2\n\n\n3,4\n"), [1, 3, 6]);
        assert_eq!(numbers(b"a,b\r\n\r\n1,2\r\n\r\n3,4"), [1, 3, 5]);
        // A quoted field over two lines: the next record is on line 4.
        assert_eq!(numbers(b"a,b\r\n1,\"x\r\ny\"\r\n3,4\r\n"), [1, 2, 4]);
    }

    #[test]
    fn encodings_are_detected() {
        // UTF-16LE with BOM, semicolons (Excel "Unicode text" is tabs).
        let text = "id\tname\r\n1\tcafé\r\n";
        let mut bytes = vec![0xff, 0xfe];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let rows = lines_of(&bytes);
        assert_eq!(rows[1], (2, vec!["1".to_string(), "café".to_string()]));
        // Windows-1252 without BOM.
        let rows = lines_of(b"id;name\n1;caf\xe9 \x80\n");
        assert_eq!(rows[1].1, ["1", "café €"]);
        // UTF-8 with BOM: the BOM is not part of the first header.
        let rows = lines_of("\u{feff}id,name\n1,café\n".as_bytes());
        assert_eq!(rows[0].1, ["id", "name"]);
        assert_eq!(rows[1].1, ["1", "café"]);
    }

    #[test]
    fn delimiters_are_detected_outside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        for (text, want) in [
            ("a,b,c\n", b','),
            ("a;b;c\n", b';'),
            ("a\tb\tc\n", b'\t'),
            ("\"a;x\",\"b;y\",c;d\n", b','),
            ("single\n", b','),
        ] {
            std::fs::write(&p, text).unwrap();
            let f = decide(&scan(&p).unwrap(), None, None).unwrap();
            assert_eq!(f.delimiter, want, "{text}");
        }
    }

    #[test]
    fn a_bom_contradicting_the_setting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, b"\xff\xfea\x00").unwrap();
        let err = decide(&scan(&p).unwrap(), Some(Encoding::Utf8), None).unwrap_err();
        assert_eq!(err, "the file starts with a UTF-16LE byte-order mark but encoding = \"UTF-8\" is set (remove the setting or re-save the file)");
    }
}
