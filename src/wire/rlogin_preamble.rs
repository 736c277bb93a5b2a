//! The rlogin preamble an exit funnel insists on before it connects from a privileged source
//! port: `\0user\0user\0terminal/speed\0` (rlogin(1), rcmd(3)), each field printable ASCII.

use thiserror::Error;

/// Longest field the exit accepts (user names and terminal types are far shorter).
pub const MAX_FIELD_LEN: usize = 255;
/// Longest preamble: a leading NUL and three fields, each followed by a NUL.
pub const MAX_PREAMBLE_LEN: usize = 1 + 3 * (MAX_FIELD_LEN + 1);

/// Why bytes are not an rlogin preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PreambleError {
    #[error("rlogin preamble does not start with a NUL byte")]
    NoLeadingNul,
    #[error("rlogin preamble field {0} is empty")]
    EmptyField(usize),
    #[error("rlogin preamble field {0} is longer than {MAX_FIELD_LEN} bytes")]
    TooLong(usize),
    #[error("rlogin preamble field {0} holds a byte that is not printable ASCII")]
    NotPrintable(usize),
    #[error("the server user and the client user differ")]
    UsersDiffer,
    #[error("the terminal field is not terminal/speed")]
    BadTerminal,
}

/// Check the preamble at the start of `buf`. `Ok(None)`: not complete yet (and no byte so far
/// is wrong). `Ok(Some(n))`: a well-formed preamble of `n` bytes.
pub fn check(buf: &[u8]) -> Result<Option<usize>, PreambleError> {
    match buf.first() {
        None => return Ok(None),
        Some(0) => {}
        Some(_) => return Err(PreambleError::NoLeadingNul),
    }
    let mut fields: [&[u8]; 3] = [&[]; 3];
    let mut start = 1;
    for (i, field) in fields.iter_mut().enumerate() {
        let rest = &buf[start.min(buf.len())..];
        let end = rest.iter().position(|&b| b == 0);
        let body = &rest[..end.unwrap_or(rest.len())];
        if body.len() > MAX_FIELD_LEN {
            return Err(PreambleError::TooLong(i + 1));
        }
        if !body.iter().all(u8::is_ascii_graphic) {
            return Err(PreambleError::NotPrintable(i + 1));
        }
        let Some(end) = end else { return Ok(None) };
        if body.is_empty() {
            return Err(PreambleError::EmptyField(i + 1));
        }
        *field = body;
        start += end + 1;
    }
    let [client_user, server_user, terminal] = fields;
    if client_user != server_user {
        return Err(PreambleError::UsersDiffer);
    }
    match terminal.iter().position(|&b| b == b'/') {
        Some(slash)
            if slash > 0 && slash + 1 < terminal.len() && terminal[slash + 1..].iter().all(u8::is_ascii_digit) => {}
        _ => return Err(PreambleError::BadTerminal),
    }
    Ok(Some(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_preambles_complete_at_their_last_nul() {
        let p = b"\0bob\0bob\0xterm/38400\0";
        assert_eq!(check(p), Ok(Some(p.len())));
        let mut more = p.to_vec();
        more.extend_from_slice(b"typed");
        assert_eq!(check(&more), Ok(Some(p.len())));
        for n in 0..p.len() {
            assert_eq!(check(&p[..n]), Ok(None), "prefix {n}");
        }
    }

    #[test]
    fn malformed_preambles_are_refused_as_soon_as_visible() {
        use PreambleError::*;
        assert_eq!(check(b"root\0"), Err(NoLeadingNul));
        assert_eq!(check(b"\0root\0root\0cat /etc/shadow\0"), Err(NotPrintable(3)));
        assert_eq!(check(b"\0root\0root\0x"), Ok(None));
        assert_eq!(check(b"\0\0"), Err(EmptyField(1)));
        assert_eq!(check(b"\0me\0root\0vt100/9600\0"), Err(UsersDiffer));
        for term in [&b"vt100"[..], b"/9600", b"vt100/", b"vt100/96x0"] {
            let mut p = b"\0bob\0bob\0".to_vec();
            p.extend_from_slice(term);
            p.push(0);
            assert_eq!(check(&p), Err(BadTerminal), "{}", String::from_utf8_lossy(term));
        }
        assert_eq!(check(&[vec![0], vec![b'a'; MAX_FIELD_LEN + 1]].concat()), Err(TooLong(1)));
        assert_eq!(check(b"\0a\x01"), Err(NotPrintable(1)));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_runs_past_the_limit(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..900)) {
            if let Ok(Some(n)) = check(&bytes) {
                proptest::prop_assert!(n <= MAX_PREAMBLE_LEN && n <= bytes.len());
            }
        }
    }
}
