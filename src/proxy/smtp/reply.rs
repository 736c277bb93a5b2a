//! SMTP replies from the destination server (RFC 5321 §4.2), single- and multi-line, read
//! incrementally from a bounded buffer.

use crate::proxy::HEAD_LIMIT;

/// Longest reply line (RFC 5321 §4.5.3.1.5 asks for 512).
const REPLY_LINE_LIMIT: usize = 4096;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// All its lines, each ending in CRLF, ready to relay.
    pub lines: Vec<u8>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// The server broke the reply syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("malformed reply line from the server")]
    Malformed,
    #[error("reply line longer than {REPLY_LINE_LIMIT} bytes")]
    LineTooLong,
    #[error("reply longer than {HEAD_LIMIT} bytes")]
    TooLong,
    #[error("multi-line reply changes its code")]
    CodeChanged,
}

/// Accumulates server bytes and hands out complete replies.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
}

impl ReplyReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The next complete reply, if the buffer holds one.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        let mut pos = 0;
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let rest = &self.buf[pos..];
            let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                return match rest.len() {
                    n if n > REPLY_LINE_LIMIT => Err(ReplyError::LineTooLong),
                    _ if self.buf.len() > HEAD_LIMIT => Err(ReplyError::TooLong),
                    _ => Ok(None),
                };
            };
            let line = rest[..lf].strip_suffix(b"\r").unwrap_or(&rest[..lf]);
            pos += lf + 1;
            if line.len() > REPLY_LINE_LIMIT {
                return Err(ReplyError::LineTooLong);
            }
            if pos > HEAD_LIMIT {
                return Err(ReplyError::TooLong);
            }
            let (this_code, last) = parse_line(line)?;
            if code.is_some_and(|c| c != this_code) {
                return Err(ReplyError::CodeChanged);
            }
            code = Some(this_code);
            lines.extend_from_slice(line);
            lines.extend_from_slice(b"\r\n");
            if last {
                self.buf.drain(..pos);
                return Ok(Some(Reply { code: this_code, lines }));
            }
        }
    }
}

/// `ddd text`, `ddd-text` or `ddd`: the code and whether it is the reply's last line.
fn parse_line(line: &[u8]) -> Result<(u16, bool), ReplyError> {
    let digits = line.get(..3).ok_or(ReplyError::Malformed)?;
    let first_ok = (b'2'..=b'5').contains(&digits[0]);
    if !first_ok || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::Malformed);
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err(ReplyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn multi_line_replies_across_chunks() {
        let mut r = ReplyReader::default();
        let wire = b"220-recipient.com Sendmail 4.1/SMI-4.1 ready\r\n220 at Wed, 28 Aug 96\r\n250 ok\n354";
        for b in &wire[..wire.len() - 1] {
            r.push(std::slice::from_ref(b));
        }
        let first = r.next_reply().unwrap().unwrap();
        assert_eq!(first.code, 220);
        assert_eq!(first.lines, b"220-recipient.com Sendmail 4.1/SMI-4.1 ready\r\n220 at Wed, 28 Aug 96\r\n");
        assert_eq!(r.next_reply(), Ok(Some(Reply { code: 250, lines: b"250 ok\r\n".to_vec() })));
        assert_eq!(r.next_reply(), Ok(None));
        r.push(b"4\r\n");
        assert!(!r.next_reply().unwrap().unwrap().is_positive());
    }

    #[test]
    fn malformed_replies() {
        let next = |wire: &[u8]| {
            let mut r = ReplyReader::default();
            r.push(wire);
            r.next_reply()
        };
        assert_eq!(next(b"hello\r\n"), Err(ReplyError::Malformed));
        assert_eq!(next(b"25\r\n"), Err(ReplyError::Malformed));
        assert_eq!(next(b"250x\r\n"), Err(ReplyError::Malformed));
        assert_eq!(next(b"250-a\r\n251 b\r\n"), Err(ReplyError::CodeChanged));
        assert_eq!(next(&vec![b'2'; REPLY_LINE_LIMIT + 1]), Err(ReplyError::LineTooLong));
        assert_eq!(next(b"250\r\n").map(|r| r.map(|r| r.code)), Ok(Some(250)));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = ReplyReader::default();
            r.push(&bytes);
            while let Ok(Some(_)) = r.next_reply() {}
        }
    }
}
