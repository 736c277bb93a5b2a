//! Line rules of RFC 9112 that the head parser leaves to the proxy: a bare CR (one not followed
//! by LF) is refused in any head or trailer section (§2.2: some recipients take it as a line
//! end, so it could smuggle a field past the filter), and obs-fold line folding in a response
//! (§5.2) is replaced by a space before any field is filtered or forwarded.

use std::borrow::Cow;

/// Whether `bytes` hold a CR that is not followed by LF.
pub fn has_bare_cr(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
}

/// A field value with every obs-fold (`[CR] LF 1*(SP / HTAB)`) replaced by one space; borrowed
/// when there is none.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' | b'\n' => {
                while i < value.len() && matches!(value[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                if !out.ends_with(b" ") {
                    out.push(b' ');
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_cr_is_found_wherever_it_is() {
        assert!(!has_bare_cr(b"A: b\r\nC: d\r\n\r\n"));
        assert!(!has_bare_cr(b"A: b\nC: d\n\n"));
        assert!(has_bare_cr(b"X-T: v\rCookie: z\r\n"));
        assert!(has_bare_cr(b"A: b\r"));
        assert!(has_bare_cr(b"\r\r\n"));
    }

    #[test]
    fn folds_become_one_space() {
        assert_eq!(unfold(b"plain value").as_ref(), b"plain value");
        assert!(matches!(unfold(b"plain"), Cow::Borrowed(_)));
        assert_eq!(unfold(b"first\r\n  second\r\n\tthird").as_ref(), b"first second third");
        assert_eq!(unfold(b"a \r\n b").as_ref(), b"a b");
        assert_eq!(unfold(b"a\n b").as_ref(), b"a b");
    }
}
