//! SMTP commands from the client (RFC 5321 §4.1), parsed strictly, and the `user%host@proxy`
//! recipient form of paper §7.6 rewritten to `user@host`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::standard::Host;

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 asks for 512; paths may be longer).
pub const LINE_LIMIT: usize = 4096;

/// A command the state machine understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain` or (`extended`) `EHLO domain`; `line` is the command as received.
    Helo {
        extended: bool,
        line: Vec<u8>,
    },
    /// `MAIL FROM:<path> [params]`; `line` is the command as received.
    Mail {
        line: Vec<u8>,
    },
    /// `RCPT TO:<user%host@proxy> [params]`.
    Rcpt(Recipient),
    Data,
    Rset,
    Noop,
    Quit,
    /// A known command the proxy does not offer (VRFY, EXPN, HELP, ...).
    NotImplemented,
}

/// A command the proxy refuses, with its reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("command not recognized")]
    Unknown,
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    #[error("recipient must be user%host@proxy")]
    NotRelayForm,
    #[error("bad destination host {0:?}")]
    BadHost(String),
}

impl CommandError {
    /// The reply line for the client.
    pub fn reply(&self) -> Vec<u8> {
        let (code, enhanced) = match self {
            CommandError::Unknown => (500, "5.5.2"),
            CommandError::Syntax(_) => (501, "5.5.4"),
            CommandError::NotRelayForm => (553, "5.1.3"),
            CommandError::BadHost(_) => (553, "5.1.2"),
        };
        reply(code, &format!("{enhanced} {self}"))
    }
}

/// The destination mailbox of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user: String,
    pub host: Host,
    /// ESMTP parameters after the path (possibly empty).
    pub params: String,
}

impl Recipient {
    /// `user@host`, with an address literal for an IP address.
    pub fn address(&self) -> String {
        match &self.host {
            Host::Name(name) => format!("{}@{name}", self.user),
            Host::V4(ip) => format!("{}@[{ip}]", self.user),
            Host::V6(ip) => format!("{}@[IPv6:{ip}]", self.user),
        }
    }
}

/// One reply line.
pub fn reply(code: u16, text: &str) -> Vec<u8> {
    format!("{code} {text}\r\n").into_bytes()
}

/// Parse one command line (without its line ending).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    if !line.iter().all(|&b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) {
        return Err(CommandError::Syntax("commands are printable ASCII"));
    }
    let text = String::from_utf8_lossy(line);
    let (verb, arg) = match text.split_once(' ') {
        Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
        None => (text.to_ascii_uppercase(), ""),
    };
    let no_arg = |command| {
        if arg.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::Syntax("no argument expected"))
        }
    };
    match verb.as_str() {
        "HELO" | "EHLO" if arg.is_empty() || arg.contains(' ') => Err(CommandError::Syntax("HELO/EHLO domain")),
        "HELO" | "EHLO" => Ok(Command::Helo { extended: verb == "EHLO", line: line.to_vec() }),
        "MAIL" => {
            split_path(arg, "FROM:").ok_or(CommandError::Syntax("MAIL FROM:<address>"))?;
            Ok(Command::Mail { line: line.to_vec() })
        }
        "RCPT" => {
            let (path, params) = split_path(arg, "TO:").ok_or(CommandError::Syntax("RCPT TO:<address>"))?;
            rewrite_recipient(path, params).map(Command::Rcpt)
        }
        "DATA" => no_arg(Command::Data),
        "RSET" => no_arg(Command::Rset),
        "QUIT" => no_arg(Command::Quit),
        "NOOP" => Ok(Command::Noop),
        "VRFY" | "EXPN" | "HELP" | "TURN" | "ETRN" | "BDAT" | "AUTH" | "STARTTLS" | "SEND" | "SOML" | "SAML" => {
            Ok(Command::NotImplemented)
        }
        _ => Err(CommandError::Unknown),
    }
}

/// `FROM:<path> params` / `TO: path`: the path (without brackets) and the parameters.
fn split_path<'a>(arg: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let (path, params) = match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>')?,
        // Older clients (paper §7.6: `MAIL From: joe@sender.com`) omit the brackets.
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    // The path is replayed inside `<...>`: no blanks and no brackets of its own.
    (!path.contains([' ', '\t', '<', '>'])).then_some((path, params.trim()))
}

/// `user%host@proxy` (the `@proxy` part optional) → user `user` at `host`; the last `%` splits.
fn rewrite_recipient(path: &str, params: &str) -> Result<Recipient, CommandError> {
    let local = path.rsplit_once('@').map_or(path, |(local, _proxy)| local);
    let (user, host) = local.rsplit_once('%').ok_or(CommandError::NotRelayForm)?;
    if user.is_empty() {
        return Err(CommandError::NotRelayForm);
    }
    let host = parse_mail_host(host).ok_or_else(|| CommandError::BadHost(host.to_string()))?;
    Ok(Recipient { user: user.to_string(), host, params: params.to_string() })
}

/// A domain or an address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
fn parse_mail_host(s: &str) -> Option<Host> {
    if let Some(literal) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        if let Some(v6) = literal.get(..5).filter(|p| p.eq_ignore_ascii_case("IPv6:")).and(literal.get(5..)) {
            return v6.parse::<Ipv6Addr>().ok().map(Host::V6);
        }
        return literal.parse::<Ipv4Addr>().ok().map(Host::V4);
    }
    match Host::parse(s.as_bytes())? {
        Host::Name(name) => Some(Host::Name(name.to_ascii_lowercase())),
        Host::V4(ip) => Some(Host::V4(ip)),
        Host::V6(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(line: &str) -> Result<String, CommandError> {
        match parse_command(line.as_bytes())? {
            Command::Rcpt(r) => Ok(format!("{} {}", r.address(), r.params)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn recipients_are_rewritten() {
        assert_eq!(rcpt("RCPT TO:<mary%recipient.com@onion.com>"), Ok("mary@recipient.com ".into()));
        assert_eq!(rcpt("rcpt to: mary%Recipient.COM@onion.com"), Ok("mary@recipient.com ".into()));
        assert_eq!(rcpt("RCPT TO:<a%b%c.example@p> NOTIFY=NEVER"), Ok("a%b@c.example NOTIFY=NEVER".into()));
        assert_eq!(rcpt("RCPT TO:<u%[192.0.2.1]@p>"), Ok("u@[192.0.2.1] ".into()));
        assert_eq!(rcpt("RCPT TO:<u%[IPv6:::1]@p>"), Ok("u@[IPv6:::1] ".into()));
        assert_eq!(rcpt("RCPT TO:<u%h>"), Ok("u@h ".into()));
        assert_eq!(rcpt("RCPT TO:<mary@recipient.com>"), Err(CommandError::NotRelayForm));
        assert_eq!(rcpt("RCPT TO:<%h@p>"), Err(CommandError::NotRelayForm));
        assert_eq!(rcpt("RCPT TO:<u%bad..host@p>"), Err(CommandError::BadHost("bad..host".into())));
        assert!(matches!(rcpt("RCPT FROM:<u%h@p>"), Err(CommandError::Syntax(_))));
        // Found by fuzzing: without brackets the path ran to the next space, brackets included,
        // and came back as 'RCPT TO:<u%[192.0<mary@recipient.com>'.
        assert!(matches!(rcpt("rcpt to: u%[192.0<mary%recipient.com@onion.com>"), Err(CommandError::Syntax(_))));
        assert!(matches!(rcpt("RCPT TO:<a<b%host>"), Err(CommandError::Syntax(_))));
        assert!(matches!(rcpt("RCPT TO:<a\tb%host>"), Err(CommandError::Syntax(_))));
    }

    #[test]
    fn commands() {
        assert!(matches!(parse_command(b"ehlo client.example"), Ok(Command::Helo { extended: true, .. })));
        assert!(matches!(parse_command(b"HELO"), Err(CommandError::Syntax(_))));
        assert!(matches!(parse_command(b"MAIL FROM:<>"), Ok(Command::Mail { .. })));
        assert!(matches!(parse_command(b"MAIL From: joe@sender.com"), Ok(Command::Mail { .. })));
        assert!(matches!(parse_command(b"MAIL TO:<x>"), Err(CommandError::Syntax(_))));
        assert_eq!(parse_command(b"data"), Ok(Command::Data));
        assert!(matches!(parse_command(b"DATA now"), Err(CommandError::Syntax(_))));
        assert_eq!(parse_command(b"NOOP anything"), Ok(Command::Noop));
        assert_eq!(parse_command(b"VRFY joe"), Ok(Command::NotImplemented));
        assert_eq!(parse_command(b"FOO"), Err(CommandError::Unknown));
        assert!(matches!(parse_command(b"HELO \x00"), Err(CommandError::Syntax(_))));
        assert_eq!(CommandError::Unknown.reply(), b"500 5.5.2 command not recognized\r\n");
    }
}
