//! The users' reply line, `REPLY h1-IP:h1-PORT HEX-ONION EXPIRATION HEX-USER-SEED`, and the
//! file of such lines, where a used line is kept with a `# used ` prefix.

use std::net::SocketAddrV4;

use thiserror::Error;

use crate::onion::{Onion, ONION_LEN};
use crate::wire::layer::SEED_LEN;

/// The first word of a reply line.
pub const KEYWORD: &str = "REPLY";
/// What marks a line of the users' file as used.
pub const USED_PREFIX: &str = "# used ";

/// One reply onion as handed to a user.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyLine {
    /// The reply route's entry router.
    pub h1: SocketAddrV4,
    pub onion: Onion,
    /// Seconds since the Unix epoch.
    pub expiration: u32,
    /// Keys the end-to-end layer.
    pub user_seed: [u8; SEED_LEN],
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("expected `{KEYWORD} h1-IP:PORT HEX-ONION EXPIRATION HEX-USER-SEED` (5 fields), found {0} field(s)")]
    Fields(usize),
    #[error("first field is not `{KEYWORD}`")]
    Keyword,
    #[error("bad h1 address `{0}` (IPv4:PORT)")]
    H1(String),
    #[error("onion is not {ONION_LEN} bytes of hex")]
    Onion,
    #[error("bad expiration `{0}` (decimal Unix seconds)")]
    Expiration(String),
    #[error("user seed is not {SEED_LEN} bytes of hex")]
    UserSeed,
}

impl ReplyLine {
    pub fn parse(line: &str) -> Result<ReplyLine, LineError> {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() != 5 {
            return Err(LineError::Fields(f.len()));
        }
        if f[0] != KEYWORD {
            return Err(LineError::Keyword);
        }
        let h1: SocketAddrV4 = f[1].parse().map_err(|_| LineError::H1(f[1].into()))?;
        let mut onion = [0u8; ONION_LEN];
        hex::decode_to_slice(f[2], &mut onion).map_err(|_| LineError::Onion)?;
        let expiration = f[3].parse().map_err(|_| LineError::Expiration(f[3].into()))?;
        let mut user_seed = [0u8; SEED_LEN];
        hex::decode_to_slice(f[4], &mut user_seed).map_err(|_| LineError::UserSeed)?;
        Ok(ReplyLine { h1, onion, expiration, user_seed })
    }
}

impl std::fmt::Display for ReplyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{KEYWORD} {} {} {} {}",
            self.h1,
            hex::encode(self.onion),
            self.expiration,
            hex::encode(self.user_seed)
        )
    }
}

impl std::fmt::Debug for ReplyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyLine(h1 {}, expires {})", self.h1, self.expiration)
    }
}

/// The first unused line of a users' file, taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// 1-based.
    pub line_no: usize,
    pub line: ReplyLine,
    /// The file's new text, with that line marked used.
    pub marked: String,
}

/// A users' file line that is not a reply line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line_no}: {error}")]
pub struct FileError {
    pub line_no: usize,
    pub error: LineError,
}

/// Take the first unused reply line of a users' file. Blank lines and other `#` lines are
/// skipped; `None` when every reply line is used.
pub fn take_first_unused(text: &str) -> Result<Option<Taken>, FileError> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let line = ReplyLine::parse(t).map_err(|error| FileError { line_no: i + 1, error })?;
        let mut out = String::with_capacity(text.len() + USED_PREFIX.len());
        for (j, other) in lines.iter().enumerate() {
            if j == i {
                out.push_str(USED_PREFIX);
            }
            out.push_str(other);
            out.push('\n');
        }
        return Ok(Some(Taken { line_no: i + 1, line, marked: out }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(b: u8) -> ReplyLine {
        ReplyLine {
            h1: "127.0.0.1:9001".parse().unwrap(),
            onion: [b; ONION_LEN],
            expiration: 1893456000,
            user_seed: [b; SEED_LEN],
        }
    }

    #[test]
    fn round_trip_and_errors() {
        let l = sample(0xab);
        let s = l.to_string();
        assert!(s.starts_with("REPLY 127.0.0.1:9001 abab"));
        assert_eq!(ReplyLine::parse(&s), Ok(l));
        assert_eq!(ReplyLine::parse("REPLY x"), Err(LineError::Fields(2)));
        assert_eq!(ReplyLine::parse(&s.replace("REPLY", "RE")), Err(LineError::Keyword));
        assert_eq!(ReplyLine::parse(&s.replace("127.0.0.1:9001", "h:1")), Err(LineError::H1("h:1".into())));
        assert_eq!(ReplyLine::parse(&s.replacen("abab", "zz", 1)), Err(LineError::Onion));
        assert_eq!(ReplyLine::parse(&s.replace("1893456000", "-1")), Err(LineError::Expiration("-1".into())));
    }

    #[test]
    fn takes_lines_in_order_and_marks_them() {
        let text = format!("# comment\n{}\n\n{}\n", sample(1), sample(2));
        let t = take_first_unused(&text).unwrap().unwrap();
        assert_eq!((t.line_no, &t.line), (2, &sample(1)));
        assert!(t.marked.lines().nth(1).unwrap().starts_with("# used REPLY"));
        let t = take_first_unused(&t.marked).unwrap().unwrap();
        assert_eq!((t.line_no, &t.line), (4, &sample(2)));
        assert_eq!(take_first_unused(&t.marked).unwrap(), None);
        assert_eq!(take_first_unused("garbage\n").unwrap_err().line_no, 1);
    }
}
