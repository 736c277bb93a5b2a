//! `ork connect` pointed at something that is not an onion proxy: instead of "unknown status
//! byte 83", say what it answered and what it probably is (an SSH, HTTP, SMTP server...).

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// How long to wait for the rest of a stranger's greeting.
const MORE_WAIT: Duration = Duration::from_millis(500);
/// How much of it to show.
const SHOWN: usize = 40;

/// What a server whose answer starts with `start` probably is.
pub fn guess(start: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 6] = [
        (b"SSH-", "an SSH server"),
        (b"HTTP/", "an HTTP server"),
        (b"220", "an SMTP or FTP server"),
        (b"+OK", "a POP3 server"),
        (b"* OK", "an IMAP server"),
        (b"<", "an HTML or XML server"),
    ];
    KINDS.iter().find(|(prefix, _)| start.starts_with(prefix)).map(|(_, kind)| *kind)
}

/// The error for a peer at `proxy` whose first byte `first` is no status code: reads a little
/// more of its answer (briefly) to show it and guess what it is.
pub fn not_an_onion_proxy(proxy: &str, first: u8, stream: &mut TcpStream) -> String {
    let mut answer = vec![first];
    let mut more = [0u8; SHOWN];
    if stream.set_read_timeout(Some(MORE_WAIT)).is_ok() {
        if let Ok(n) = stream.read(&mut more) {
            answer.extend_from_slice(&more[..n]);
        }
    }
    describe(proxy, &answer)
}

/// The message for `answer` from `proxy`.
pub fn describe(proxy: &str, answer: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&answer[..answer.len().min(SHOWN)])
        .chars()
        .take_while(|c| *c != '\r' && *c != '\n')
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let what = guess(answer).map_or(String::new(), |k| format!(" (probably {k})"));
    format!(
        "{proxy} is not an onion proxy{what}: it answered {shown:?} where an onion proxy sends one status byte \
         (0-8); check --onion-proxy"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_common_servers() {
        let m = describe("127.0.0.1:22", b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n");
        assert_eq!(
            m,
            "127.0.0.1:22 is not an onion proxy (probably an SSH server): it answered \"SSH-2.0-OpenSSH_9.2p1 Debian\" \
             where an onion proxy sends one status byte (0-8); check --onion-proxy"
        );
        assert!(describe("h:80", b"HTTP/1.1 400 Bad Request\r\n").contains("an HTTP server"));
        assert!(!describe("h:1", b"\x7fjunk").contains("probably"));
    }
}
