//! HTTP message bodies (RFC 9112 §6–7): Content-Length, chunked with trailers, and
//! read-until-close, relayed incrementally with the payload unchanged and the chunk framing
//! normalized (canonical size lines, no extensions, CRLF) so both sides agree on where it ends.

use super::filter::{field_name, write_field, Disposition, FieldPolicy};
use crate::proxy::HEAD_LIMIT;

/// Longest chunk-size line (size and extensions).
const CHUNK_LINE_LIMIT: usize = 4096;
/// Most hex digits of a chunk size that fit a `u64`.
const CHUNK_SIZE_DIGITS: usize = 16;

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (also `Content-Length: 0`).
    Empty,
    Length(u64),
    Chunked,
    /// The body ends when the connection does (responses only).
    UntilClose,
}

/// A body that cannot be delimited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("malformed chunk size line")]
    BadChunkSize,
    #[error("chunk size line longer than {CHUNK_LINE_LIMIT} bytes")]
    ChunkLineTooLong,
    #[error("chunk data not followed by CRLF")]
    BadChunkEnd,
    #[error("trailer section longer than {HEAD_LIMIT} bytes")]
    TrailersTooLarge,
    #[error("malformed trailer field")]
    BadTrailer,
    #[error("bare CR (not followed by LF) in a chunk line or trailer")]
    BareCr,
    #[error("folded trailer line (obs-fold)")]
    FoldedTrailer,
}

#[derive(Debug)]
enum State {
    Length(u64),
    SizeLine(Vec<u8>),
    Data(u64),
    DataEnd { seen_cr: bool },
    Trailer { line: Vec<u8> },
    UntilClose,
    Done,
}

/// Relays one body from one side to the other.
#[derive(Debug)]
pub struct BodyRelay {
    state: State,
    trailer_len: usize,
}

impl BodyRelay {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::SizeLine(Vec::new()),
            Framing::UntilClose => State::UntilClose,
        };
        BodyRelay { state, trailer_len: 0 }
    }

    /// The whole body has been relayed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The body ends only when the connection does.
    pub fn until_close(&self) -> bool {
        matches!(self.state, State::UntilClose)
    }

    /// Consume body bytes from `input`, appending what to forward to `out`; trailer fields go
    /// through `policy`. Returns the bytes consumed: all of `input` unless the body ended in it.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, policy: &FieldPolicy) -> Result<usize, BodyError> {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match &mut self.state {
                State::Done => break,
                State::UntilClose => {
                    out.extend_from_slice(rest);
                    used = input.len();
                }
                State::Length(left) | State::Data(left) => {
                    let n = rest.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out.extend_from_slice(&rest[..n]);
                    used += n;
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = match self.state {
                            State::Data(_) => State::DataEnd { seen_cr: false },
                            _ => State::Done,
                        };
                    }
                }
                State::DataEnd { seen_cr } => {
                    used += 1;
                    match rest[0] {
                        b'\r' if !*seen_cr => *seen_cr = true,
                        b'\n' => {
                            out.extend_from_slice(b"\r\n");
                            self.state = State::SizeLine(Vec::new());
                        }
                        _ => return Err(BodyError::BadChunkEnd),
                    }
                }
                State::SizeLine(line) => {
                    let (n, complete) = take_line(rest, line);
                    used += n;
                    if line.len() > CHUNK_LINE_LIMIT {
                        return Err(BodyError::ChunkLineTooLong);
                    }
                    if complete {
                        let size = parse_chunk_size(line)?;
                        out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
                        self.state = match size {
                            0 => State::Trailer { line: Vec::new() },
                            n => State::Data(n),
                        };
                    }
                }
                State::Trailer { line } => {
                    let (n, complete) = take_line(rest, line);
                    used += n;
                    self.trailer_len += n;
                    if self.trailer_len > HEAD_LIMIT {
                        return Err(BodyError::TrailersTooLarge);
                    }
                    if complete {
                        let done = trailer_line(line, out, policy)?;
                        line.clear();
                        if done {
                            self.state = State::Done;
                        }
                    }
                }
            }
        }
        Ok(used)
    }
}

/// Move bytes up to and including LF from `input` into `line` (without CR LF). Returns how many
/// bytes were taken and whether the line is complete.
fn take_line(input: &[u8], line: &mut Vec<u8>) -> (usize, bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            line.extend_from_slice(&input[..lf]);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            (lf + 1, true)
        }
        None => {
            line.extend_from_slice(input);
            (input.len(), false)
        }
    }
}

/// `value` without leading and trailing spaces and tabs.
pub fn trim(value: &[u8]) -> &[u8] {
    let ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &value[start..end.max(start)]
}

/// `1*HEXDIG [ BWS ";" ext ]`: the size, extensions ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, BodyError> {
    if line.contains(&b'\r') {
        return Err(BodyError::BareCr);
    }
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > CHUNK_SIZE_DIGITS {
        return Err(BodyError::BadChunkSize);
    }
    let after = &line[digits..];
    let after = &after[after.iter().take_while(|&&b| b == b' ' || b == b'\t').count()..];
    if !after.is_empty() && after[0] != b';' {
        return Err(BodyError::BadChunkSize);
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| BodyError::BadChunkSize)?;
    u64::from_str_radix(hex, 16).map_err(|_| BodyError::BadChunkSize)
}

/// Handle one complete trailer line; returns true at the empty line that ends the body.
fn trailer_line(line: &[u8], out: &mut Vec<u8>, policy: &FieldPolicy) -> Result<bool, BodyError> {
    if line.is_empty() {
        out.extend_from_slice(b"\r\n");
        return Ok(true);
    }
    if line.contains(&b'\r') {
        return Err(BodyError::BareCr);
    }
    if line[0] == b' ' || line[0] == b'\t' {
        // obs-fold is refused (RFC 9112 §5.2): a folded trailer cannot be filtered as one field.
        return Err(BodyError::FoldedTrailer);
    }
    let name = field_name(line).ok_or(BodyError::BadTrailer)?;
    let value = trim(&line[name.len() + 1..]);
    if policy.disposition(name) == Disposition::Keep {
        write_field(out, name, value);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::super::filter::Direction;
    use super::*;
    use proptest::prelude::*;

    fn relay_all(framing: Framing, input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), BodyError> {
        let policy = FieldPolicy::new(Direction::Response, true, std::iter::empty());
        let mut relay = BodyRelay::new(framing);
        let (mut out, mut used) = (Vec::new(), 0);
        for chunk in input.chunks(step.max(1)) {
            let n = relay.feed(chunk, &mut out, &policy)?;
            used += n;
            if n < chunk.len() {
                break;
            }
        }
        Ok((out, used, relay.is_done()))
    }

    #[test]
    fn content_length_stops_at_the_end() {
        for step in [1, 3, 100] {
            let (out, used, done) = relay_all(Framing::Length(5), b"helloGET /", step).unwrap();
            assert_eq!((out.as_slice(), used, done), (&b"hello"[..], 5, true));
        }
        assert!(BodyRelay::new(Framing::Length(0)).is_done());
        assert!(BodyRelay::new(Framing::Empty).is_done());
    }

    #[test]
    fn chunked_with_extensions_and_filtered_trailers() {
        let body = b"5;name=x\r\nhello\r\nA \r\n0123456789\r\n0\r\nExpires: never\r\nSet-Cookie: id=1\r\n\r\nNEXT";
        for step in [1, 2, 7, 1000] {
            let (out, used, done) = relay_all(Framing::Chunked, body, step).unwrap();
            assert_eq!(String::from_utf8_lossy(&out), "5\r\nhello\r\na\r\n0123456789\r\n0\r\nExpires: never\r\n\r\n");
            assert_eq!(used, body.len() - 4);
            assert!(done);
        }
    }

    #[test]
    fn chunked_errors() {
        assert_eq!(relay_all(Framing::Chunked, b"zz\r\n", 1), Err(BodyError::BadChunkSize));
        assert_eq!(relay_all(Framing::Chunked, b"\r\n", 1), Err(BodyError::BadChunkSize));
        assert_eq!(relay_all(Framing::Chunked, b"11111111111111111\r\n", 4), Err(BodyError::BadChunkSize));
        assert_eq!(relay_all(Framing::Chunked, b"2\r\nabX", 1), Err(BodyError::BadChunkEnd));
        assert_eq!(relay_all(Framing::Chunked, b"0\r\nbad trailer\r\n", 1), Err(BodyError::BadTrailer));
        // A bare CR could end a line for the server and smuggle a field past the filter.
        assert_eq!(relay_all(Framing::Chunked, b"0\r\nX-T: v\rCookie: z\r\n\r\n", 1), Err(BodyError::BareCr));
        assert_eq!(relay_all(Framing::Chunked, b"5;x\ry\r\n", 2), Err(BodyError::BareCr));
        let folded = b"0\r\nExpires: never\r\n Cookie: z\r\n\r\n";
        assert_eq!(relay_all(Framing::Chunked, folded, 3), Err(BodyError::FoldedTrailer));
        let mut long = b"1;".to_vec();
        long.resize(CHUNK_LINE_LIMIT + 2, b'x');
        assert_eq!(relay_all(Framing::Chunked, &long, 1000), Err(BodyError::ChunkLineTooLong));
    }

    #[test]
    fn until_close_takes_everything() {
        let (out, used, done) = relay_all(Framing::UntilClose, b"abc", 1).unwrap();
        assert_eq!((out.as_slice(), used, done), (&b"abc"[..], 3, false));
    }

    proptest! {
        #[test]
        fn chunked_payload_round_trips(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..50), 0..8), step in 1usize..20) {
            let mut wire = Vec::new();
            for c in &chunks {
                wire.extend_from_slice(format!("{:X}\r\n", c.len()).as_bytes());
                wire.extend_from_slice(c);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let (out, used, done) = relay_all(Framing::Chunked, &wire, step).unwrap();
            prop_assert!(done);
            prop_assert_eq!(used, wire.len());
            prop_assert_eq!(out.to_ascii_lowercase(), wire.to_ascii_lowercase());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..40) {
            for framing in [Framing::Chunked, Framing::Length(17), Framing::UntilClose] {
                let _ = relay_all(framing, &bytes, step);
            }
        }
    }
}
