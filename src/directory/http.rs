//! The little HTTP/1.1 the directory speaks, sans-IO: one request per connection
//! (`Connection: close`), `Content-Length` bodies, bounded sizes. Requests are parsed with
//! `httparse`; nothing here touches a socket.

use thiserror::Error;

/// Largest request head.
pub const MAX_HEAD: usize = 8 * 1024;
/// Largest request body (a descriptor).
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HttpError {
    #[error("malformed HTTP: {0}")]
    Malformed(String),
    #[error("too large")]
    TooLarge,
    #[error("HTTP status {0}")]
    Status(u16, Vec<u8>),
    #[error("connection closed before the whole message arrived")]
    Truncated,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<usize>, HttpError> {
    let Some(h) = headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length")) else { return Ok(None) };
    let v = std::str::from_utf8(h.value)
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    v.and_then(|v| v.parse().ok()).map(Some).ok_or_else(|| HttpError::Malformed("bad Content-Length".into()))
}

/// Parse a request from the bytes received so far: `Ok(None)` while incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<Request>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(HttpError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    };
    let len = content_length(req.headers)?.unwrap_or(0);
    if len > MAX_REQUEST_BODY {
        return Err(HttpError::TooLarge);
    }
    let Some(body) = buf.get(head_len..head_len + len) else { return Ok(None) };
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return Err(HttpError::Malformed("no method or path".into()));
    };
    Ok(Some(Request { method: method.to_owned(), path: path.to_owned(), body: body.to_vec() }))
}

/// A complete response.
pub fn response(status: u16, reason: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A complete request to `host` (for the `Host` header).
pub fn request(method: &str, host: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ork\r\nConnection: close\r\n");
    if method == "POST" {
        head += &format!("Content-Type: text/plain\r\nContent-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Parse a whole response (the server closed the connection): the body of a 200, else
/// [`HttpError::Status`] with the body.
pub fn parse_response(buf: &[u8], max_body: usize) -> Result<Vec<u8>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(HttpError::Truncated),
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    };
    let rest = buf.get(head_len..).unwrap_or_default();
    let body = match content_length(resp.headers)? {
        Some(n) if n > max_body => return Err(HttpError::TooLarge),
        Some(n) => rest.get(..n).ok_or(HttpError::Truncated)?,
        None => rest,
    };
    if body.len() > max_body {
        return Err(HttpError::TooLarge);
    }
    match resp.code {
        Some(200) => Ok(body.to_vec()),
        Some(code) => Err(HttpError::Status(code, body.to_vec())),
        None => Err(HttpError::Malformed("no status".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses() {
        let r = request("POST", "a:1", "/descriptor", b"xyz");
        assert_eq!(parse_request(&r[..r.len() - 1]), Ok(None));
        assert_eq!(
            parse_request(&r).unwrap().unwrap(),
            Request { method: "POST".into(), path: "/descriptor".into(), body: b"xyz".to_vec() }
        );
        assert_eq!(parse_request(b"GET /network HTTP/1.1\r\n\r\n").unwrap().unwrap().path, "/network");
        assert!(parse_request(b"GET /x HTTP/1.1\r\nContent-Length: 999999\r\n\r\n").is_err());
        assert!(parse_request(&[b'a'; MAX_HEAD + 1]).is_err());
        assert_eq!(parse_response(&response(200, "OK", b"doc"), 10), Ok(b"doc".to_vec()));
        assert_eq!(parse_response(&response(404, "Not Found", b"no"), 10), Err(HttpError::Status(404, b"no".to_vec())));
        assert_eq!(parse_response(&response(200, "OK", b"doc")[..5], 10), Err(HttpError::Truncated));
        assert_eq!(parse_response(&response(200, "OK", b"toolong"), 3), Err(HttpError::TooLarge));
    }
}
