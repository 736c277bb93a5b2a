//! A destination's response head, parsed with `httparse`: its body framing (RFC 9112 §6.3,
//! including HEAD, 1xx, 204 and 304) and the head rewritten for the client through
//! [`FieldPolicy`] (hop-by-hop fields, `Set-Cookie` under the privacy filter).

use super::body::Framing;
use super::filter::{Direction, FieldPolicy};
use super::request::{message_framing, FramingError, MAX_FIELDS};
use crate::proxy::HEAD_LIMIT;

use super::line_rules;
use std::borrow::Cow;

/// A response the proxy cannot relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    #[error("response head larger than {HEAD_LIMIT} bytes")]
    HeadTooLarge,
    #[error("more than {MAX_FIELDS} header fields in the response")]
    TooManyFields,
    #[error("bad Content-Length in the response")]
    BadContentLength,
    #[error("unexpected 101 Switching Protocols (the proxy never asks for an upgrade)")]
    SwitchingProtocols,
    /// Three digits below 100 (`034`): not a status code, and the rewritten status line would
    /// carry only two digits.
    #[error("status code {0:03} is below 100")]
    BadStatusCode(u16),
    #[error("bare CR (not followed by LF) in the response head")]
    BareCr,
}

/// A parsed and rewritten response head.
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub code: u16,
    pub framing: Framing,
    /// The destination keeps its connection open after this response.
    pub server_keep_alive: bool,
    /// Status line and the fields that pass, without the empty line that ends the head.
    pub head: Vec<u8>,
    /// The policy for this response's trailer fields.
    pub policy: FieldPolicy,
}

impl ProxyResponse {
    /// An interim (1xx) response; the final one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.code)
    }
}

/// Parse one response head from the start of `buf`; `head_method` says the request was HEAD.
/// `Ok(None)`: more bytes are needed. `Ok(Some((response, n)))`: the head took `n` bytes.
pub fn parse_response(
    buf: &[u8],
    filter: bool,
    head_method: bool,
) -> Result<Option<(ProxyResponse, usize)>, ResponseError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut resp = httparse::Response::new(&mut fields);
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .parse_response(&mut resp, buf);
    let used = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > HEAD_LIMIT => return Err(ResponseError::HeadTooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyFields),
        Err(e) => return Err(ResponseError::Malformed(e)),
    };
    if used > HEAD_LIMIT {
        return Err(ResponseError::HeadTooLarge);
    }
    if line_rules::has_bare_cr(&buf[..used]) {
        return Err(ResponseError::BareCr);
    }
    let (Some(minor), Some(code)) = (resp.version, resp.code) else {
        return Err(ResponseError::Malformed(httparse::Error::Status));
    };
    if code < 100 {
        return Err(ResponseError::BadStatusCode(code));
    }
    if code == 101 {
        return Err(ResponseError::SwitchingProtocols);
    }
    // Folded lines (obs-fold) are unfolded before anything looks at a value (RFC 9112 §5.2).
    let unfolded: Vec<(&str, Cow<[u8]>)> = resp.headers.iter().map(|f| (f.name, line_rules::unfold(f.value))).collect();
    let fields = || unfolded.iter().map(|(n, v)| (*n, v.as_ref()));
    let policy = FieldPolicy::new(Direction::Response, filter, fields());
    let no_body = head_method || (100..200).contains(&code) || code == 204 || code == 304;
    let framing = match message_framing(fields(), true) {
        _ if no_body => Framing::Empty,
        Ok(framing) => framing,
        Err(FramingError::BadLength | FramingError::Ambiguous | FramingError::NotChunked) => {
            return Err(ResponseError::BadContentLength)
        }
    };
    let server_keep_alive = framing != Framing::UntilClose
        && match minor {
            0 => policy.has_connection_option("keep-alive"),
            _ => !policy.has_connection_option("close"),
        };
    let reason = resp.reason.unwrap_or_default();
    let mut head = format!("HTTP/1.{minor} {code} {reason}\r\n").into_bytes();
    // With Transfer-Encoding present, Content-Length is wrong by definition: do not pass it on.
    let chunked_or_coded = fields().any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    for (name, value) in fields() {
        if chunked_or_coded && !no_body && name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        policy.write_field(&mut head, name, value);
    }
    Ok(Some((ProxyResponse { code, framing, server_keep_alive, head, policy }, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, head_method: bool) -> (ProxyResponse, usize) {
        parse_response(raw.as_bytes(), true, head_method).unwrap().unwrap()
    }

    #[test]
    fn framing_rules() {
        let cases = [
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, Framing::Length(5), true),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, Framing::Empty, true),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, Framing::Chunked, true),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, Framing::UntilClose, false),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::UntilClose, false),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::Empty, true),
            ("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, Framing::Empty, true),
            ("HTTP/1.1 100 Continue\r\n\r\n", false, Framing::Empty, true),
            ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, Framing::Empty, false),
            ("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, Framing::Length(1), false),
            ("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n", false, Framing::Length(1), true),
        ];
        for (raw, head_method, framing, keep) in cases {
            let (resp, used) = parse(raw, head_method);
            assert_eq!((resp.framing, resp.server_keep_alive, used), (framing, keep, raw.len()), "{raw}");
        }
    }

    #[test]
    fn head_is_rewritten_and_filtered() {
        let raw = "HTTP/1.1 200 Fine\r\nSet-Cookie: id=1\r\nConnection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nX-Ok: yes\r\n\r\n";
        let (resp, _) = parse(raw, false);
        assert_eq!(
            String::from_utf8_lossy(&resp.head),
            "HTTP/1.1 200 Fine\r\nTransfer-Encoding: chunked\r\nX-Ok: yes\r\n"
        );
        let (resp, _) = parse_response(raw.as_bytes(), false, false).unwrap().unwrap();
        assert!(String::from_utf8_lossy(&resp.head).contains("Set-Cookie: id=1\r\n"));
    }

    #[test]
    fn errors() {
        let err = |raw: &[u8]| parse_response(raw, true, false).err();
        assert_eq!(err(b"HTTP/1.1 101 Switching\r\n\r\n"), Some(ResponseError::SwitchingProtocols));
        assert_eq!(err(b"HTTP/1.0 034 Odd\r\n\r\n"), Some(ResponseError::BadStatusCode(34)));
        assert_eq!(err(b"HTTP/1.0 000 \r\n\r\n"), Some(ResponseError::BadStatusCode(0)));
        assert_eq!(err(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"), Some(ResponseError::BadContentLength));
        assert_eq!(err(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), Some(ResponseError::BadContentLength));
        assert!(matches!(err(b"SMTP/1.1 200 OK\r\n\r\n"), Some(ResponseError::Malformed(_))));
        assert!(matches!(parse_response(b"HTTP/1.1 200 OK\r\nA: b\r\n", true, false), Ok(None)));
        let mut big = b"HTTP/1.1 200 OK\r\nA: ".to_vec();
        big.resize(HEAD_LIMIT + 1, b'a');
        assert_eq!(err(&big), Some(ResponseError::HeadTooLarge));
    }

    #[test]
    fn bare_cr_is_refused_and_folds_are_unfolded_before_filtering() {
        let bare =
            parse_response(b"HTTP/1.1 200 OK\r\nX-T: v\rSet-Cookie: z\r\nContent-Length: 0\r\n\r\n", true, false);
        assert!(matches!(bare, Err(ResponseError::BareCr) | Err(ResponseError::Malformed(_))), "{bare:?}");
        let raw =
            "HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\nSet-Cookie: a=1;\r\n\tb=2\r\nContent-Length: 0\r\n\r\n";
        let (resp, _) = parse(raw, false);
        let head = String::from_utf8_lossy(&resp.head);
        assert_eq!(head, "HTTP/1.1 200 OK\r\nX-Long: first second\r\nContent-Length: 0\r\n", "{head}");
        // A folded Connection field still names its hop-by-hop options.
        let raw = "HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n x-secret\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n";
        let (resp, _) = parse(raw, false);
        assert!(!String::from_utf8_lossy(&resp.head).contains("X-Secret"), "{}", String::from_utf8_lossy(&resp.head));
    }
}
