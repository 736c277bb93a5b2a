//! The message after `DATA` (RFC 5321 §4.1.1.4, §4.5.2): relayed line by line with the header
//! filter of protocol.md §11, dot-stuffing left as is, and the end-of-data line found even across
//! chunk boundaries. Line endings are normalized to CRLF (a bare LF or CR ends a line), so the
//! proxy and the server always agree on where the message ends (no SMTP smuggling).

/// What happens to the header section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// No filter: headers pass unchanged.
    KeepAll,
    /// Delete every header line (the filter's default; paper §7.6).
    DeleteAll,
    /// Keep only fields that do not identify the sender (`--keep-headers`).
    KeepNonIdentifying,
}

/// Header field names kept under `--keep-headers`; prefixes end in `-`.
const NON_IDENTIFYING: &[&str] = &["subject", "date", "mime-", "content-"];
/// A header line longer than this is decided on what has been seen of it.
const HEADER_LINE_LIMIT: usize = 8192;

/// Where the relay is in the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// Nothing of the line seen yet.
    Start,
    /// The line so far is a single `.` (held back: it may be the end-of-data line).
    Dot,
    /// The line so far is `.` CR.
    DotCr,
    Mid,
    /// A CR ended some line content; LF may follow.
    Cr,
}

/// Relays one message to the server.
#[derive(Debug)]
pub struct MessageRelay {
    mode: HeaderMode,
    pos: Pos,
    in_headers: bool,
    /// The header line being read while its fate is unknown.
    line: Vec<u8>,
    /// Whether the current header line is kept, once known.
    keep_line: Option<bool>,
    /// Whether the current header field (for continuation lines) is kept.
    keep_field: bool,
    done: bool,
}

impl MessageRelay {
    pub fn new(mode: HeaderMode) -> Self {
        MessageRelay {
            mode,
            pos: Pos::Start,
            in_headers: mode != HeaderMode::KeepAll,
            line: Vec::new(),
            keep_line: None,
            keep_field: false,
            done: false,
        }
    }

    /// The end-of-data line has been relayed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Relay message bytes from `input` into `out`; returns the bytes consumed, all of `input`
    /// unless the message ended in it (what follows are commands again).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < input.len() && !self.done {
            let b = input[i];
            match self.pos {
                Pos::Start | Pos::Mid if b == b'\r' => self.pos = Pos::Cr,
                Pos::Start | Pos::Mid | Pos::Cr if b == b'\n' => self.end_line(out),
                Pos::Cr => {
                    // A bare CR ends the line; this byte starts the next one.
                    self.end_line(out);
                    continue;
                }
                Pos::Start if b == b'.' => self.pos = Pos::Dot,
                Pos::Dot if b == b'\r' => self.pos = Pos::DotCr,
                Pos::Dot if b == b'\n' => self.end_of_data(out),
                Pos::DotCr => {
                    // `.` CR then anything: with CR as a line end this is the end-of-data line,
                    // and the byte after it is not part of the message.
                    if b == b'\n' {
                        i += 1;
                    }
                    self.end_of_data(out);
                    return i;
                }
                Pos::Dot => {
                    self.content(b".", out);
                    self.pos = Pos::Mid;
                    continue;
                }
                Pos::Start | Pos::Mid => {
                    let run = input[i..].iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(input.len() - i);
                    self.content(&input[i..i + run], out);
                    self.pos = Pos::Mid;
                    i += run;
                    continue;
                }
            }
            i += 1;
        }
        i
    }

    fn end_of_data(&mut self, out: &mut Vec<u8>) {
        if self.in_headers && self.keep_line.is_none() {
            self.line.clear();
        }
        out.extend_from_slice(b".\r\n");
        self.done = true;
    }

    /// Bytes of the current line's content.
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if !self.in_headers {
            return out.extend_from_slice(bytes);
        }
        match self.keep_line {
            Some(true) => out.extend_from_slice(bytes),
            Some(false) => {}
            None => {
                self.line.extend_from_slice(bytes);
                if let Some(keep) = self.decide(false) {
                    self.keep_line = Some(keep);
                    if keep {
                        out.append(&mut self.line);
                    }
                    self.line.clear();
                }
            }
        }
    }

    /// The current line ended.
    fn end_line(&mut self, out: &mut Vec<u8>) {
        self.pos = Pos::Start;
        if !self.in_headers {
            return out.extend_from_slice(b"\r\n");
        }
        let keep = match self.keep_line.take() {
            Some(keep) => keep,
            None if self.line.is_empty() => {
                // The empty line: the body follows and passes unchanged.
                self.in_headers = false;
                return out.extend_from_slice(b"\r\n");
            }
            None => {
                let keep = self.decide(true).unwrap_or(false);
                if keep {
                    out.extend_from_slice(&self.line);
                }
                self.line.clear();
                keep
            }
        };
        if keep {
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Whether the header line held so far is kept, once that can be told (`complete`: the
    /// whole line is held).
    fn decide(&mut self, complete: bool) -> Option<bool> {
        let first = *self.line.first()?;
        if first == b' ' || first == b'\t' {
            return Some(self.keep_field);
        }
        let keep = match self.line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let name = String::from_utf8_lossy(&self.line[..colon]).to_ascii_lowercase();
                self.mode == HeaderMode::KeepNonIdentifying
                    && NON_IDENTIFYING.iter().any(|k| if k.ends_with('-') { name.starts_with(k) } else { name == *k })
            }
            None if complete || self.line.len() > HEADER_LINE_LIMIT => false,
            None => return None,
        };
        self.keep_field = keep;
        Some(keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn relay(mode: HeaderMode, input: &[u8], step: usize) -> (String, usize) {
        let mut m = MessageRelay::new(mode);
        let (mut out, mut used) = (Vec::new(), 0);
        for chunk in input.chunks(step) {
            let n = m.feed(chunk, &mut out);
            used += n;
            if m.is_done() {
                break;
            }
            assert_eq!(n, chunk.len());
        }
        (String::from_utf8_lossy(&out).into_owned(), used)
    }

    const MESSAGE: &str = "From: Joe <joe@sender.com>\r\nSubject: hello\r\nReceived: from sender.com\r\n\tby x\r\n\
        Content-Type: text/plain\r\nX-Mailer: mutt\r\n\r\nThis is a note\r\n..leading dot\r\nFrom: body line\r\n.\r\nQUIT\r\n";

    #[test]
    fn header_modes_at_every_split() {
        let cases = [
            (HeaderMode::KeepAll, &MESSAGE[..MESSAGE.len() - 6]),
            (HeaderMode::DeleteAll, "\r\nThis is a note\r\n..leading dot\r\nFrom: body line\r\n.\r\n"),
            (
                HeaderMode::KeepNonIdentifying,
                "Subject: hello\r\nContent-Type: text/plain\r\n\r\nThis is a note\r\n..leading dot\r\nFrom: body line\r\n.\r\n",
            ),
        ];
        for (mode, expected) in cases {
            for step in 1..=MESSAGE.len() {
                let (out, used) = relay(mode, MESSAGE.as_bytes(), step);
                assert_eq!((out.as_str(), used), (expected, MESSAGE.len() - 6), "{mode:?} step {step}");
            }
        }
    }

    #[test]
    fn end_of_data_forms() {
        assert_eq!(relay(HeaderMode::KeepAll, b".\r\n", 1), (".\r\n".into(), 3));
        assert_eq!(relay(HeaderMode::DeleteAll, b"A: b\r\n.\r\n", 1), (".\r\n".into(), 9));
        assert_eq!(relay(HeaderMode::KeepAll, b"x\n.\nQUIT", 2), ("x\r\n.\r\n".into(), 4));
        assert_eq!(relay(HeaderMode::KeepAll, b"x\r\n.\rQUIT", 3), ("x\r\n.\r\n".into(), 5));
        assert_eq!(relay(HeaderMode::KeepAll, b"a\rb\r\n. \r\n.x\r\n", 100), ("a\r\nb\r\n. \r\n.x\r\n".into(), 13));
    }

    #[test]
    fn long_header_lines_are_decided_early() {
        let mut long = b"Subject: ".to_vec();
        long.resize(20_000, b'x');
        long.extend_from_slice(b"\r\nX-Long: ");
        long.resize(40_000, b'y');
        long.extend_from_slice(b"\r\n\r\n.\r\n");
        let (out, _) = relay(HeaderMode::KeepNonIdentifying, &long, 1000);
        assert!(out.starts_with("Subject: xxx") && !out.contains('y') && out.ends_with("xx\r\n\r\n.\r\n"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_output_never_ends_early(
            bytes in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), any::<u8>()], 0..200),
            step in 1usize..10,
        ) {
            for mode in [HeaderMode::KeepAll, HeaderMode::DeleteAll, HeaderMode::KeepNonIdentifying] {
                let (out, used) = relay(mode, &bytes, step);
                prop_assert!(used <= bytes.len());
                // The only end-of-data line in the output is its very end.
                let body = out.strip_suffix("\r\n.\r\n").or(out.strip_suffix(".\r\n").filter(|b| b.is_empty())).unwrap_or(&out);
                prop_assert!(!format!("\r\n{body}").contains("\r\n.\r\n"), "{:?}", out);
            }
        }
    }
}
