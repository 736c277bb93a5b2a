//! Which HTTP header fields cross the proxy: hop-by-hop and proxy fields are always removed
//! (RFC 9110 §7.6.1), identifying fields under the privacy filter of protocol.md §11 — extended for
//! today's browsers (User-Agent Client Hints, Chrome's X-Client-Data, the server's requests for
//! hints, the user's language); ork-http-proxy(1) lists every field and compares with Privoxy
//! and Tor Browser.

/// The one `User-Agent` every filtered request carries, so that clients look alike.
pub const GENERIC_USER_AGENT: &str = "Mozilla/5.0 (compatible)";
/// The one `Accept-Language` every filtered request carries (Tor Browser's value), so that the
/// user's language does not set them apart.
pub const FIXED_ACCEPT_LANGUAGE: &str = "en-US,en;q=0.5";

/// Fields that describe one connection, not the message; never forwarded.
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "te", "trailer", "upgrade"];
/// Prefix of the proxy fields (`Proxy-Connection`, `Proxy-Authorization`, ...); never forwarded.
const PROXY_PREFIX: &str = "proxy-";
/// Identifying request fields dropped by the privacy filter.
const PRIVATE_REQUEST: &[&str] = &[
    "cookie",
    "from",
    "referer",
    "authorization",
    "forwarded",
    "x-forwarded-for",
    "via",
    // Chrome's field-trial ID, sent to Google sites: identifies the installation.
    "x-client-data",
    // Legacy (unprefixed) client hints: device memory, pixel ratio, viewport, network quality.
    "device-memory",
    "dpr",
    "viewport-width",
    "width",
    "rtt",
    "downlink",
    "ect",
];
/// Prefix of the client hints (`Sec-CH-UA`, `Sec-CH-UA-Platform`, `Sec-CH-UA-Mobile`, ...): the
/// browser, its version, the operating system and the device, which the generic User-Agent is
/// meant to hide.
const CLIENT_HINT_PREFIX: &str = "sec-ch-";
/// Tracking response fields dropped by the privacy filter.
const PRIVATE_RESPONSE: &[&str] = &["set-cookie", "set-cookie2", "accept-ch", "critical-ch", "accept-ch-lifetime"];
/// Fields that frame the message; a `Connection` option cannot remove them.
const FRAMING: &[&str] = &["content-length", "transfer-encoding", "host"];

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// What happens to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Keep,
    Drop,
    /// Replace the value with this fixed one ([`GENERIC_USER_AGENT`], [`FIXED_ACCEPT_LANGUAGE`]).
    Replace(&'static str),
}

/// The field policy for one message: direction, filter switch and the message's own
/// `Connection` options (which name more hop-by-hop fields).
#[derive(Debug, Clone)]
pub struct FieldPolicy {
    direction: Direction,
    filter: bool,
    connection_options: Vec<String>,
}

impl FieldPolicy {
    /// A policy for a message whose fields are `fields` (name, value).
    pub fn new<'a>(
        direction: Direction,
        filter: bool,
        fields: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
    ) -> Self {
        let connection_options = list_values(fields, |name| {
            name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("proxy-connection")
        });
        FieldPolicy { direction, filter, connection_options }
    }

    /// What to do with the field `name`.
    pub fn disposition(&self, name: &str) -> Disposition {
        let lower = name.to_ascii_lowercase();
        let name = lower.as_str();
        if HOP_BY_HOP.contains(&name) || name.starts_with(PROXY_PREFIX) {
            return Disposition::Drop;
        }
        if !FRAMING.contains(&name) && self.connection_options.iter().any(|o| o == name) {
            return Disposition::Drop;
        }
        if !self.filter {
            return Disposition::Keep;
        }
        match self.direction {
            Direction::Request if name == "user-agent" => Disposition::Replace(GENERIC_USER_AGENT),
            Direction::Request if name == "accept-language" => Disposition::Replace(FIXED_ACCEPT_LANGUAGE),
            Direction::Request if PRIVATE_REQUEST.contains(&name) || name.starts_with(CLIENT_HINT_PREFIX) => {
                Disposition::Drop
            }
            Direction::Response if PRIVATE_RESPONSE.contains(&name) => Disposition::Drop,
            _ => Disposition::Keep,
        }
    }

    /// Whether the message's `Connection` (or `Proxy-Connection`) lists `option`.
    pub fn has_connection_option(&self, option: &str) -> bool {
        self.connection_options.iter().any(|o| o.eq_ignore_ascii_case(option))
    }

    /// Append `name: value` to `out` as this policy says (nothing if dropped).
    pub fn write_field(&self, out: &mut Vec<u8>, name: &str, value: &[u8]) {
        match self.disposition(name) {
            Disposition::Drop => {}
            Disposition::Keep => write_field(out, name, value),
            Disposition::Replace(fixed) => write_field(out, name, fixed.as_bytes()),
        }
    }
}

/// Append one field line.
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The comma-separated elements of every field whose name matches, lowercased and trimmed.
pub fn list_values<'a>(
    fields: impl Iterator<Item = (&'a str, &'a [u8])>,
    matches: impl Fn(&str) -> bool,
) -> Vec<String> {
    fields
        .filter(|(name, _)| matches(name))
        .flat_map(|(_, value)| value.split(|&b| b == b','))
        .map(|v| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The field name of a header line (`Name: value`), if it has a valid token before the colon.
pub fn field_name(line: &[u8]) -> Option<&str> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok()?;
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    (!name.is_empty() && name.bytes().all(token)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(direction: Direction, filter: bool, fields: &[(&str, &[u8])]) -> FieldPolicy {
        FieldPolicy::new(direction, filter, fields.iter().copied())
    }

    #[test]
    fn hop_by_hop_and_proxy_fields_always_go() {
        let p = policy(Direction::Request, false, &[("Connection", b"close, X-Secret")]);
        for name in ["Connection", "keep-alive", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "x-secret"] {
            assert_eq!(p.disposition(name), Disposition::Drop, "{name}");
        }
        for name in ["Accept", "Cookie", "User-Agent", "Host", "Transfer-Encoding"] {
            assert_eq!(p.disposition(name), Disposition::Keep, "{name}");
        }
        assert!(p.has_connection_option("CLOSE"));
    }

    #[test]
    fn connection_cannot_remove_framing_fields() {
        let p = policy(Direction::Request, true, &[("Connection", b"Content-Length, transfer-encoding, Host")]);
        assert_eq!(p.disposition("Content-Length"), Disposition::Keep);
        assert_eq!(p.disposition("Transfer-Encoding"), Disposition::Keep);
        assert_eq!(p.disposition("host"), Disposition::Keep);
    }

    #[test]
    fn privacy_filter_by_direction() {
        let req = policy(Direction::Request, true, &[]);
        for name in ["Cookie", "FROM", "Referer", "Authorization", "Forwarded", "X-Forwarded-For", "Via"] {
            assert_eq!(req.disposition(name), Disposition::Drop, "{name}");
        }
        assert_eq!(req.disposition("User-Agent"), Disposition::Replace(GENERIC_USER_AGENT));
        assert_eq!(req.disposition("Accept-Language"), Disposition::Replace(FIXED_ACCEPT_LANGUAGE));
        for name in
            ["sec-ch-ua", "Sec-CH-UA-Platform", "sec-ch-ua-mobile", "Sec-CH-UA-Full-Version-List", "X-Client-Data"]
        {
            assert_eq!(req.disposition(name), Disposition::Drop, "{name}");
        }
        for name in ["Sec-Fetch-Mode", "Accept", "Accept-Encoding", "Upgrade-Insecure-Requests"] {
            assert_eq!(req.disposition(name), Disposition::Keep, "{name}");
        }
        assert_eq!(req.disposition("Set-Cookie"), Disposition::Keep);
        let resp = policy(Direction::Response, true, &[]);
        assert_eq!(resp.disposition("Set-Cookie"), Disposition::Drop);
        assert_eq!(resp.disposition("set-cookie2"), Disposition::Drop);
        assert_eq!(resp.disposition("Accept-CH"), Disposition::Drop);
        assert_eq!(resp.disposition("Critical-CH"), Disposition::Drop);
        assert_eq!(resp.disposition("Sec-CH-UA"), Disposition::Keep, "client hints are request fields");
        assert_eq!(policy(Direction::Request, false, &[]).disposition("sec-ch-ua"), Disposition::Keep);
        assert_eq!(resp.disposition("Content-Type"), Disposition::Keep);
    }

    #[test]
    fn field_names() {
        assert_eq!(field_name(b"Set-Cookie: a=b"), Some("Set-Cookie"));
        assert_eq!(field_name(b"Bad Name: x"), None);
        assert_eq!(field_name(b": x"), None);
        assert_eq!(field_name(b"no colon"), None);
    }
}
