//! A client's proxy request (absolute-URI form or `CONNECT`), parsed with `httparse` and
//! rewritten into what the destination gets: origin-form target, its own `Host`, and the fields
//! [`FieldPolicy`] lets through (paper §5.1, §7.5; protocol.md §11).

use super::body::Framing;
use super::filter::{list_values, Direction, FieldPolicy};
use crate::proxy::HEAD_LIMIT;
use crate::wire::standard::Host;

/// Most header fields in one message head.
pub const MAX_FIELDS: usize = 128;
/// The port of an `http://` URI without one.
pub const HTTP_PORT: u16 = 80;
/// Longest piece of a bad target quoted back in an error.
const QUOTE_LIMIT: usize = 80;

/// A request the proxy refuses, with the status code it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("malformed request head: {0}")]
    Malformed(httparse::Error),
    #[error("request head larger than {HEAD_LIMIT} bytes")]
    HeadTooLarge,
    #[error("more than {MAX_FIELDS} header fields")]
    TooManyFields,
    #[error("request target {0:?} is not an absolute http:// URI (is the client configured to use a proxy?)")]
    BadTarget(String),
    #[error("scheme {0:?} is not supported: only http://, and https:// through CONNECT")]
    UnsupportedScheme(String),
    #[error("bad Content-Length")]
    BadContentLength,
    #[error("both Content-Length and Transfer-Encoding")]
    AmbiguousFraming,
    #[error("transfer coding other than chunked last")]
    UnsupportedTransferCoding,
    #[error("bare CR (not followed by LF) in the request head")]
    BareCr,
}

impl RequestError {
    /// The HTTP status code and reason phrase of the answer.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyFields => (431, "Request Header Fields Too Large"),
            RequestError::UnsupportedScheme(_) | RequestError::UnsupportedTransferCoding => (501, "Not Implemented"),
            _ => (400, "Bad Request"),
        }
    }
}

/// A parsed and rewritten request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// Destination host and port.
    pub host: Host,
    pub port: u16,
    /// `CONNECT`: a protocol-4 tunnel; `head` is empty.
    pub connect: bool,
    /// `HEAD`: the response has no body whatever its fields say.
    pub head_method: bool,
    /// The head to send to the destination.
    pub head: Vec<u8>,
    /// How the request body is delimited.
    pub framing: Framing,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// `x` of the client's `HTTP/1.x`.
    pub minor_version: u8,
}

/// Parse one request head from the start of `buf`. `Ok(None)`: more bytes are needed.
/// `Ok(Some((request, n)))`: the head took `n` bytes; the body (if any) follows.
pub fn parse_request(buf: &[u8], filter: bool) -> Result<Option<(ProxyRequest, usize)>, RequestError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > HEAD_LIMIT => return Err(RequestError::HeadTooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyFields),
        Err(e) => return Err(RequestError::Malformed(e)),
    };
    if used > HEAD_LIMIT {
        return Err(RequestError::HeadTooLarge);
    }
    if super::line_rules::has_bare_cr(&buf[..used]) {
        return Err(RequestError::BareCr);
    }
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version) else {
        return Err(RequestError::Malformed(httparse::Error::Token));
    };
    let fields = || req.headers.iter().map(|f| (f.name, f.value));
    let policy = FieldPolicy::new(Direction::Request, filter, fields());
    let keep_alive = match minor_version {
        0 => policy.has_connection_option("keep-alive"),
        _ => !policy.has_connection_option("close"),
    };
    if method == "CONNECT" {
        let (host, port) = parse_authority(target, None)?;
        let request = ProxyRequest {
            host,
            port,
            connect: true,
            head_method: false,
            head: Vec::new(),
            framing: Framing::Empty,
            keep_alive: false,
            minor_version,
        };
        return Ok(Some((request, used)));
    }
    let (authority, path) = split_absolute_uri(target)?;
    let (host, port) = parse_authority(authority, Some(HTTP_PORT))?;
    // Both Content-Length and Transfer-Encoding on a request is refused (request smuggling).
    let framing = message_framing(fields(), false).map_err(|e| match e {
        FramingError::BadLength => RequestError::BadContentLength,
        FramingError::Ambiguous => RequestError::AmbiguousFraming,
        FramingError::NotChunked => RequestError::UnsupportedTransferCoding,
    })?;
    let mut head = format!("{method} {path} HTTP/1.{minor_version}\r\nHost: {host}").into_bytes();
    if port != HTTP_PORT {
        head.extend_from_slice(format!(":{port}").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    for (name, value) in fields().filter(|(name, _)| !name.eq_ignore_ascii_case("host")) {
        policy.write_field(&mut head, name, value);
    }
    if minor_version == 0 {
        // HTTP/1.0 servers close after each response unless asked; anonymous connections are
        // expensive to build.
        head.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let head_method = method == "HEAD";
    let request = ProxyRequest { host, port, connect: false, head_method, head, framing, keep_alive, minor_version };
    Ok(Some((request, used)))
}

fn quote(s: &str) -> String {
    s.chars().take(QUOTE_LIMIT).collect()
}

/// `http://authority/path?query#fragment` → (`authority`, `/path?query`).
fn split_absolute_uri(target: &str) -> Result<(&str, String), RequestError> {
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(RequestError::BadTarget(quote(target)));
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(RequestError::BadTarget(quote(target)));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(RequestError::UnsupportedScheme(quote(scheme)));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let path = match path.as_bytes().first() {
        Some(b'/') => path.to_string(),
        _ => format!("/{path}"),
    };
    Ok((authority, path))
}

/// `[userinfo@]host[:port]`; the user information is dropped (it never leaves the proxy).
fn parse_authority(authority: &str, default_port: Option<u16>) -> Result<(Host, u16), RequestError> {
    let bad = || RequestError::BadTarget(quote(authority));
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match hostport.find(']') {
        Some(close) if hostport.starts_with('[') => {
            let (host, rest) = hostport.split_at(close + 1);
            match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if rest.is_empty() => (host, None),
                None => return Err(bad()),
            }
        }
        _ => match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let port = match port {
        Some(p) if !p.is_empty() => parse_port(p).ok_or_else(bad)?,
        _ => default_port.ok_or_else(bad)?,
    };
    let host = match Host::parse(host.as_bytes()).ok_or_else(bad)? {
        Host::Name(name) => Host::Name(name.to_ascii_lowercase()),
        other => other,
    };
    Ok((host, port))
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&p| p != 0)
}

/// Why a message's body cannot be delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    BadLength,
    Ambiguous,
    NotChunked,
}

/// The framing fields say: `Transfer-Encoding` (chunked last, else `UntilClose` for a response),
/// `Content-Length` (all values equal), or nothing (`Empty` for a request, `UntilClose` for a
/// response). A response with both uses `Transfer-Encoding`; a request with both is refused.
pub fn message_framing<'a>(
    fields: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
    response: bool,
) -> Result<Framing, FramingError> {
    let codings = list_values(fields.clone(), |n| n.eq_ignore_ascii_case("transfer-encoding"));
    let lengths = list_values(fields.clone(), |n| n.eq_ignore_ascii_case("content-length"));
    let has_te = fields.clone().any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    let has_cl = fields.clone().any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if has_te {
        if has_cl && !response {
            return Err(FramingError::Ambiguous);
        }
        return match codings.last().map(String::as_str) {
            Some("chunked") => Ok(Framing::Chunked),
            _ if response => Ok(Framing::UntilClose),
            _ => Err(FramingError::NotChunked),
        };
    }
    if has_cl {
        let first = lengths.first().ok_or(FramingError::BadLength)?;
        let valid = !first.is_empty() && first.len() <= 19 && first.bytes().all(|b| b.is_ascii_digit());
        if !valid || lengths.iter().any(|l| l != first) {
            return Err(FramingError::BadLength);
        }
        let n: u64 = first.parse().map_err(|_| FramingError::BadLength)?;
        return Ok(if n == 0 { Framing::Empty } else { Framing::Length(n) });
    }
    Ok(if response { Framing::UntilClose } else { Framing::Empty })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_cr_and_folds_are_refused() {
        for raw in [
            &b"GET http://a/ HTTP/1.1\r\nX-T: v\rCookie: z\r\n\r\n"[..],
            b"GET http://a/ HTTP/1.1\r\nX-T: v\r\n Cookie: z\r\n\r\n",
            b"GET http://a/\r HTTP/1.1\r\n\r\n",
        ] {
            let r = parse_request(raw, true);
            assert!(matches!(r, Err(RequestError::BareCr | RequestError::Malformed(_))), "{r:?}");
        }
    }

    fn target(t: &str) -> Result<(Host, u16, String), RequestError> {
        let raw = format!("GET {t} HTTP/1.1\r\n\r\n");
        let (r, _) = parse_request(raw.as_bytes(), true)?.ok_or(RequestError::HeadTooLarge)?;
        let head = String::from_utf8_lossy(&r.head).into_owned();
        Ok((r.host, r.port, head.lines().take(2).collect::<Vec<_>>().join("|")))
    }

    #[test]
    fn targets() {
        let name = |n: &str| Host::Name(n.into());
        assert_eq!(target("http://A.Example"), Ok((name("a.example"), 80, "GET / HTTP/1.1|Host: a.example".into())));
        assert_eq!(
            target("HTTP://joe:pw@a.example:8080?q"),
            Ok((name("a.example"), 8080, "GET /?q HTTP/1.1|Host: a.example:8080".into()))
        );
        let v6 = Host::V6(std::net::Ipv6Addr::LOCALHOST);
        assert_eq!(target("http://[::1]:81/x"), Ok((v6, 81, "GET /x HTTP/1.1|Host: [::1]:81".into())));
        assert!(matches!(target("http://a.example:0/"), Err(RequestError::BadTarget(_))));
        assert!(matches!(target("http://a.example:99999/"), Err(RequestError::BadTarget(_))));
        assert!(matches!(target("*"), Err(RequestError::BadTarget(_))));
        assert!(matches!(target("gopher://a/"), Err(RequestError::UnsupportedScheme(s)) if s == "gopher"));
    }

    #[test]
    fn keep_alive_and_framing() {
        let parse = |raw: &str| parse_request(raw.as_bytes(), false).map(|r| r.map(|(r, _)| (r.keep_alive, r.framing)));
        assert_eq!(parse("GET http://a/ HTTP/1.1\r\n\r\n"), Ok(Some((true, Framing::Empty))));
        assert_eq!(parse("GET http://a/ HTTP/1.1\r\nConnection: close\r\n\r\n"), Ok(Some((false, Framing::Empty))));
        assert_eq!(parse("GET http://a/ HTTP/1.0\r\n\r\n"), Ok(Some((false, Framing::Empty))));
        assert_eq!(
            parse("POST http://a/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\nContent-Length: 3\r\n\r\n"),
            Ok(Some((true, Framing::Length(3))))
        );
        assert_eq!(
            parse("POST http://a/ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n"),
            Err(RequestError::BadContentLength)
        );
        assert_eq!(
            parse("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(RequestError::UnsupportedTransferCoding)
        );
        assert_eq!(parse("GET http://a/ HTTP/1.1\r\nAccept: x\r\n"), Ok(None));
    }
}
