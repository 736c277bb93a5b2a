//! The line syntax shared by descriptors and network documents: `keyword arguments` lines
//! separated by `\n`, printable ASCII only, and the error every parser returns. Parsers built
//! on it never panic and never index peer text directly.

use thiserror::Error;

/// Why a descriptor or document text was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("{len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("not printable ASCII text (byte {offset})")]
    NotText { offset: usize },
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("ends early: {0}")]
    Truncated(&'static str),
    #[error("router {name}: its signature does not verify with the key it carries")]
    BadSignature { name: String },
}

impl ParseError {
    pub(crate) fn at(line: usize, problem: impl Into<String>) -> ParseError {
        ParseError::Line { line, problem: problem.into() }
    }
}

/// Check size and character set: printable ASCII, spaces and `\n` only.
pub(crate) fn check_text(bytes: &[u8], max: usize) -> Result<&str, ParseError> {
    if bytes.len() > max {
        return Err(ParseError::TooLarge { len: bytes.len(), max });
    }
    if let Some(offset) = bytes.iter().position(|&b| !(b == b'\n' || (0x20..0x7f).contains(&b))) {
        return Err(ParseError::NotText { offset });
    }
    std::str::from_utf8(bytes).map_err(|e| ParseError::NotText { offset: e.valid_up_to() })
}

/// A cursor over the lines of a text, counting from 1.
pub(crate) struct Lines<'a> {
    lines: Vec<&'a str>,
    pos: usize,
    /// Line number of `lines[0]` minus one (for embedded texts).
    base: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str, base: usize) -> Lines<'a> {
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last() == Some(&"") {
            lines.pop();
        }
        Lines { lines, pos: 0, base }
    }

    /// The number of the line `next` returns next.
    pub fn line_no(&self) -> usize {
        self.base + self.pos + 1
    }

    /// The next line, split into its keyword and the rest.
    pub fn peek(&self) -> Option<(&'a str, &'a str)> {
        let line = self.lines.get(self.pos)?;
        Some(line.split_once(' ').unwrap_or((line, "")))
    }

    pub fn next_line(&mut self) -> Option<(usize, &'a str, &'a str)> {
        let (k, rest) = self.peek()?;
        let no = self.line_no();
        self.pos += 1;
        Some((no, k, rest))
    }

    /// The next line, which must start with `keyword`; returns its number and arguments.
    pub fn keyword(&mut self, keyword: &'static str) -> Result<(usize, &'a str), ParseError> {
        match self.next_line() {
            Some((no, k, rest)) if k == keyword => Ok((no, rest)),
            Some((no, k, _)) => Err(ParseError::at(no, format!("expected {keyword:?}, found {k:?}"))),
            None => Err(ParseError::Truncated(keyword)),
        }
    }

    /// The raw lines from `start` (an index) to the current position, joined with `\n` and a
    /// trailing `\n`.
    pub fn raw_since(&self, start: usize) -> String {
        let mut s = self.lines.get(start..self.pos).unwrap_or_default().join("\n");
        s.push('\n');
        s
    }

    /// The current index (for [`Lines::raw_since`]).
    pub fn index(&self) -> usize {
        self.pos
    }
}

/// Parse a decimal number, digits only.
pub(crate) fn number(line: usize, what: &str, s: &str) -> Result<u64, ParseError> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::at(line, format!("{what}: expected a number, got {s:?}")));
    }
    s.parse().map_err(|_| ParseError::at(line, format!("{what}: expected a number, got {s:?}")))
}

/// A router name: 1 to 32 of `A-Z a-z 0-9 - _ .`.
pub fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks_and_lines() {
        assert!(check_text(b"a b\nc\n", 10).is_ok());
        assert_eq!(check_text(b"a\tb", 10), Err(ParseError::NotText { offset: 1 }));
        assert_eq!(check_text(b"abc", 2), Err(ParseError::TooLarge { len: 3, max: 2 }));
        let mut l = Lines::new("one 1\ntwo 2 3\n", 0);
        assert_eq!(l.keyword("one"), Ok((1, "1")));
        assert!(l.keyword("three").unwrap_err().to_string().starts_with("line 2: expected \"three\""));
        assert_eq!(l.keyword("x"), Err(ParseError::Truncated("x")));
        assert_eq!(number(1, "n", "12"), Ok(12));
        assert!(number(1, "n", "+1").is_err() && number(1, "n", "").is_err());
        assert!(number(1, "n", "99999999999999999999").is_err());
        assert!(valid_name("r1.a-b_c") && !valid_name("") && !valid_name("a b") && !valid_name(&"x".repeat(33)));
    }
}
