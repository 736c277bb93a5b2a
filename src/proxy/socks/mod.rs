//! The SOCKS proxy session (protocol.md §13; docs/socks.md): SOCKS5 (RFC 1928) CONNECT to IPv4, IPv6
//! and domain-name destinations, with or without RFC 1929 username/password; SOCKS4 and 4a; and
//! Tor's RESOLVE/RESOLVE_PTR commands. Names are never resolved here: a CONNECT becomes a
//! protocol-4 standard structure carrying the name, a RESOLVE a protocol-5 one, and the exit
//! funnel resolves. Credentials (and SOCKS4 user ids) are an isolation key, never sent anywhere:
//! the onion proxy gives different keys different routes. Bytes the client sends after its
//! request go out optimistically, right behind the structure; BIND and UDP ASSOCIATE are refused
//! with 0x07.

pub mod request;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

use log::{debug, info};

use request::{method, rep, AUTH_VERSION, SOCKS4, SOCKS5};
pub use request::{
    parse_auth, parse_greeting, parse_request5, parse_socks4, reply4, reply5, status_reply5, Command, Request,
    SocksError,
};

use super::relay::Relay;
use super::{Action, Outbox, Session, UpstreamId};
use crate::wire::isolation::IsolationKey;
use crate::wire::standard::{Protocol, StandardStructure, Status};

/// The one id a session opens.
const UPSTREAM: UpstreamId = 0;
/// Longest answer to a resolve (an IPv6 address in text is at most 45 bytes).
const ANSWER_LIMIT: usize = 64;
/// The answer to an HTTP request sent to the SOCKS port by mistake.
const NOT_HTTP: &[u8] = b"HTTP/1.0 501 Not Implemented\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n\
This is ork's SOCKS proxy, not an HTTP proxy: use ork http-proxy, or configure SOCKS5.\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V4,
    V5,
}

#[derive(Debug)]
enum State {
    /// The first message: a SOCKS5 greeting or a SOCKS4 request.
    Greeting,
    /// SOCKS5, username/password chosen: reading the RFC 1929 subnegotiation.
    Auth,
    /// SOCKS5: reading the request.
    Request,
    /// CONNECT sent; waiting for the status byte.
    Connecting(Version),
    /// RESOLVE sent; collecting the exit's answer (status, then the address, then the end).
    Resolving {
        version: Version,
        status: Option<Status>,
        answer: Vec<u8>,
    },
    Relay(Relay),
    Done,
}

/// One client connection of the SOCKS proxy.
#[derive(Debug)]
pub struct SocksSession {
    out: Outbox,
    input: Vec<u8>,
    state: State,
    isolation: Option<IsolationKey>,
    client_eof: bool,
}

impl Default for SocksSession {
    fn default() -> Self {
        SocksSession::new()
    }
}

impl SocksSession {
    pub fn new() -> Self {
        SocksSession {
            out: Outbox::default(),
            input: Vec::new(),
            state: State::Greeting,
            isolation: None,
            client_eof: false,
        }
    }

    /// Send `reply`, close, and log why (no destination in the log).
    fn fail(&mut self, reply: &[u8], why: &str) {
        info!("socks-proxy: request refused: {why}");
        if matches!(self.state, State::Connecting(_) | State::Resolving { .. } | State::Relay(_)) {
            self.out.push(Action::CloseUpstream { id: UPSTREAM });
        }
        self.out.send_client(reply);
        self.out.push(Action::CloseClient);
        self.state = State::Done;
        self.input = Vec::new();
    }

    /// The refusal of `version` for SOCKS5 reply code `code`.
    fn refusal(version: Version, code: u8) -> Vec<u8> {
        match version {
            Version::V5 => reply5(code, None),
            Version::V4 => reply4(false, None),
        }
    }

    /// Parse what the client has sent so far; act on every complete message.
    fn advance(&mut self) {
        loop {
            let progressed = match self.state {
                State::Greeting => self.on_greeting(),
                State::Auth => self.on_auth(),
                State::Request => self.on_request5(),
                _ => false,
            };
            if !progressed {
                return;
            }
        }
    }

    fn on_greeting(&mut self) -> bool {
        match self.input.first() {
            None => false,
            Some(&SOCKS4) => match parse_socks4(&self.input) {
                Ok(None) => false,
                Ok(Some((req, used))) => {
                    if !req.user.is_empty() {
                        self.isolation = Some(IsolationKey::from_credentials(&req.user, b""));
                    }
                    self.input.drain(..used);
                    self.start(Version::V4, req);
                    true
                }
                Err(e) => {
                    self.fail(&reply4(false, None), &format!("SOCKS4: {e}"));
                    false
                }
            },
            Some(b'G' | b'P' | b'H' | b'C' | b'D' | b'O') => {
                self.fail(NOT_HTTP, "an HTTP request on the SOCKS port");
                false
            }
            Some(_) => match parse_greeting(&self.input) {
                Ok(None) => false,
                Ok(Some((methods, used))) => {
                    self.input.drain(..used);
                    let chosen = if methods.contains(&method::USER_PASS) {
                        method::USER_PASS
                    } else if methods.contains(&method::NO_AUTH) {
                        method::NO_AUTH
                    } else {
                        let e = SocksError::NoAcceptableMethod(methods);
                        self.fail(&[SOCKS5, method::NONE_ACCEPTABLE], &e.to_string());
                        return false;
                    };
                    self.out.send_client(&[SOCKS5, chosen]);
                    self.state = if chosen == method::USER_PASS { State::Auth } else { State::Request };
                    true
                }
                Err(SocksError::NoMethods) => {
                    self.fail(&[SOCKS5, method::NONE_ACCEPTABLE], &SocksError::NoMethods.to_string());
                    false
                }
                Err(e) => {
                    // Not SOCKS at all: no reply we could give would be understood.
                    self.fail(&[], &e.to_string());
                    false
                }
            },
        }
    }

    fn on_auth(&mut self) -> bool {
        match parse_auth(&self.input) {
            Ok(None) => false,
            Ok(Some(((user, pass), used))) => {
                self.input.drain(..used);
                // Any credentials are accepted: they only choose the isolation group.
                self.isolation = Some(IsolationKey::from_credentials(&user, &pass));
                self.out.send_client(&[AUTH_VERSION, 0]);
                self.state = State::Request;
                true
            }
            Err(e) => {
                self.fail(&[AUTH_VERSION, 1], &e.to_string());
                false
            }
        }
    }

    fn on_request5(&mut self) -> bool {
        match parse_request5(&self.input) {
            Ok(None) => false,
            Ok(Some((req, used))) => {
                self.input.drain(..used);
                self.start(Version::V5, req);
                true
            }
            Err(e) => {
                self.fail(&reply5(e.reply5(), None), &format!("SOCKS5: {e}"));
                false
            }
        }
    }

    /// Open the anonymous connection for a complete request.
    fn start(&mut self, version: Version, req: Request) {
        debug!("socks-proxy: {:?} {}:{}", req.command, req.host, req.port);
        match req.command {
            Command::Connect => {
                let structure = StandardStructure::new(Protocol::Tcp, req.host, req.port);
                self.out.push(Action::Open { id: UPSTREAM, structure });
                // Optimistic data: what followed the request goes right behind the structure.
                let early = std::mem::take(&mut self.input);
                self.out.send_upstream(UPSTREAM, &early);
                self.state = State::Connecting(version);
            }
            Command::Resolve => {
                self.input = Vec::new();
                self.out.push(Action::Open { id: UPSTREAM, structure: StandardStructure::resolve(req.host) });
                self.state = State::Resolving { version, status: None, answer: Vec::new() };
            }
            // parse_* refuse it already; kept for completeness of the match.
            Command::ResolvePtr => {
                let e = SocksError::NoReverseLookup;
                self.fail(&Self::refusal(version, e.reply5()), &e.to_string());
            }
        }
    }

    /// The exit's answer to a resolve is complete (its end of stream came).
    fn finish_resolve(&mut self) {
        let State::Resolving { version, status, answer } = &self.state else { return };
        let version = *version;
        let text = String::from_utf8_lossy(answer);
        let ip = match status {
            Some(Status::Ok) => text.parse::<IpAddr>().ok(),
            _ => None,
        };
        let Some(ip) = ip else {
            return self
                .fail(&Self::refusal(version, rep::GENERAL_FAILURE), "resolve: no address in the exit's answer");
        };
        let reply = match (version, ip) {
            (Version::V5, ip) => reply5(rep::SUCCEEDED, Some(ip)),
            (Version::V4, IpAddr::V4(a)) => reply4(true, Some(a)),
            (Version::V4, IpAddr::V6(_)) => {
                return self.fail(&reply4(false, None), "SOCKS4 resolve: the answer is an IPv6 address");
            }
        };
        info!("socks-proxy: resolve answered");
        self.out.push(Action::CloseUpstream { id: UPSTREAM });
        self.out.send_client(&reply);
        self.out.push(Action::CloseClient);
        self.state = State::Done;
    }
}

impl Session for SocksSession {
    fn client_data(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Greeting | State::Auth | State::Request => {
                self.input.extend_from_slice(bytes);
                self.advance();
            }
            State::Connecting(_) => self.out.send_upstream(UPSTREAM, bytes),
            State::Relay(relay) => relay.client_data(&mut self.out, bytes),
            State::Resolving { .. } | State::Done => {}
        }
    }

    fn client_eof(&mut self) {
        self.client_eof = true;
        match &mut self.state {
            State::Greeting | State::Auth | State::Request => {
                if !self.input.is_empty() {
                    info!("socks-proxy: client ended in the middle of a message ({} bytes)", self.input.len());
                }
                self.out.push(Action::CloseClient);
                self.state = State::Done;
            }
            State::Relay(relay) => relay.client_eof(&mut self.out),
            State::Connecting(_) | State::Resolving { .. } | State::Done => {}
        }
    }

    fn client_closed(&mut self) {
        match &mut self.state {
            State::Relay(relay) => relay.close(&mut self.out),
            State::Connecting(_) | State::Resolving { .. } => {
                self.out.push(Action::CloseUpstream { id: UPSTREAM });
                self.out.push(Action::CloseClient);
            }
            State::Greeting | State::Auth | State::Request | State::Done => self.out.push(Action::CloseClient),
        }
        self.state = State::Done;
    }

    fn upstream_status(&mut self, id: UpstreamId, status: Status) {
        if id != UPSTREAM {
            return;
        }
        match &mut self.state {
            State::Connecting(version) => {
                let version = *version;
                if status != Status::Ok {
                    return self.fail(&Self::refusal(version, status_reply5(status)), &status.to_string());
                }
                self.out.send_client(&match version {
                    Version::V5 => reply5(rep::SUCCEEDED, None),
                    Version::V4 => reply4(true, None),
                });
                let mut relay = Relay::new(UPSTREAM);
                if self.client_eof {
                    relay.client_eof(&mut self.out);
                }
                self.state = State::Relay(relay);
            }
            State::Resolving { version, status: got, .. } => {
                let version = *version;
                if status != Status::Ok {
                    return self.fail(&Self::refusal(version, status_reply5(status)), &format!("resolve: {status}"));
                }
                *got = Some(status);
            }
            _ => {}
        }
    }

    fn upstream_data(&mut self, id: UpstreamId, bytes: &[u8]) {
        match &mut self.state {
            State::Relay(relay) => relay.upstream_data(&mut self.out, id, bytes),
            State::Resolving { version, answer, .. } if id == UPSTREAM => {
                let version = *version;
                answer.extend_from_slice(bytes);
                if answer.len() > ANSWER_LIMIT {
                    self.fail(&Self::refusal(version, rep::GENERAL_FAILURE), "resolve: overlong answer from the exit");
                }
            }
            _ => {}
        }
    }

    fn upstream_eof(&mut self, id: UpstreamId) {
        match &mut self.state {
            State::Relay(relay) => relay.upstream_eof(&mut self.out, id),
            State::Resolving { .. } if id == UPSTREAM => self.finish_resolve(),
            State::Connecting(v) if id == UPSTREAM => {
                let v = *v;
                self.fail(&Self::refusal(v, rep::GENERAL_FAILURE), "anonymous connection closed before its status");
            }
            _ => {}
        }
    }

    fn upstream_closed(&mut self, id: UpstreamId) {
        match &mut self.state {
            State::Relay(relay) => relay.upstream_closed(&mut self.out, id),
            // An exit that answered may DESTROY right after the address (the client had ended).
            State::Resolving { .. } if id == UPSTREAM => self.finish_resolve(),
            State::Connecting(v) if id == UPSTREAM => {
                let v = *v;
                self.fail(&Self::refusal(v, rep::GENERAL_FAILURE), "anonymous connection reset before its status");
            }
            _ => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    fn wants_client_data(&self) -> bool {
        match &self.state {
            // Every message is bounded (at most 520 bytes); a parse error ends the session.
            State::Greeting | State::Auth | State::Request => true,
            State::Connecting(_) => !self.client_eof,
            State::Relay(relay) => relay.wants_client_data(&self.out),
            State::Resolving { .. } | State::Done => false,
        }
    }

    fn wants_upstream_data(&self, id: UpstreamId) -> bool {
        match &self.state {
            State::Relay(relay) => relay.wants_upstream_data(&self.out, id),
            State::Resolving { .. } => id == UPSTREAM,
            _ => false,
        }
    }

    fn is_finished(&self) -> bool {
        self.out.finished()
    }

    fn refuse_client(&mut self) {
        // Nothing read yet, so the version is unknown: close, as Tor does.
        self.fail(&[], "client address not in --allow-from");
    }

    fn isolation(&self) -> Option<IsolationKey> {
        self.isolation
    }
}
