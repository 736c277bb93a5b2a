//! The rlogin proxy session (protocol 1; protocol.md §11, paper §7.4): `rlogin -l user@server proxy`
//! sends `\0clientuser\0user@server\0term\0`; the server gets `\0user\0user\0term\0` over an
//! anonymous connection (the client's user name never leaves), sent optimistically right behind
//! the standard structure; then bytes flow raw both ways, the server's `\0` acknowledgement first. Errors reach the client the way rlogind reports
//! them: a byte 1, one line of text, close. TCP urgent data is not carried.

use super::relay::Relay;
use super::{status_text, Action, Outbox, Session, UpstreamId};
use crate::wire::standard::{Host, Protocol, StandardStructure, Status};

/// The rlogin port of the destination server.
pub const RLOGIN_PORT: u16 = 513;
/// Longest client request (three short fields and four NULs).
const REQUEST_LIMIT: usize = 1024;
/// The first byte of an rlogin error reply (rcmd(3)).
const ERROR_BYTE: u8 = 1;
/// The one id this session opens.
const UPSTREAM: UpstreamId = 0;

/// A client request the proxy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RloginError {
    #[error("rlogin request longer than {REQUEST_LIMIT} bytes")]
    TooLong,
    #[error("rlogin request does not start with a NUL byte")]
    NoLeadingNul,
    #[error("rlogin request fields must be printable ASCII")]
    NotText,
    #[error("the server user must be user@server (rlogin -l user@server proxy)")]
    NoServer,
    #[error("bad server name {0:?}")]
    BadServer(String),
}

/// A parsed client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RloginRequest {
    pub user: String,
    pub server: Host,
    /// `terminal/speed`.
    pub terminal: String,
}

impl RloginRequest {
    /// Parse `\0clientuser\0user@server\0term\0` from the start of `buf`. `Ok(None)`: more bytes
    /// are needed. `Ok(Some((request, n)))`: the request took `n` bytes.
    pub fn parse(buf: &[u8]) -> Result<Option<(RloginRequest, usize)>, RloginError> {
        match buf.first() {
            None => return Ok(None),
            Some(0) => {}
            Some(_) => return Err(RloginError::NoLeadingNul),
        }
        let nuls: Vec<usize> = buf.iter().enumerate().filter(|(_, &b)| b == 0).map(|(i, _)| i).take(4).collect();
        let &[_, end_client_user, end_target, end_terminal] = nuls.as_slice() else {
            return if buf.len() > REQUEST_LIMIT { Err(RloginError::TooLong) } else { Ok(None) };
        };
        let used = end_terminal + 1;
        if used > REQUEST_LIMIT {
            return Err(RloginError::TooLong);
        }
        let client_user = &buf[1..end_client_user];
        let target = &buf[end_client_user + 1..end_target];
        let terminal = &buf[end_target + 1..end_terminal];
        let text = |f: &[u8]| f.iter().all(|b| b.is_ascii_graphic());
        if !text(client_user) || !text(target) || !text(terminal) {
            return Err(RloginError::NotText);
        }
        let target = String::from_utf8_lossy(target);
        let (user, server) = target.rsplit_once('@').ok_or(RloginError::NoServer)?;
        if user.is_empty() {
            return Err(RloginError::NoServer);
        }
        let server = Host::parse(server.as_bytes()).ok_or_else(|| RloginError::BadServer(server.to_string()))?;
        let terminal = String::from_utf8_lossy(terminal).into_owned();
        Ok(Some((RloginRequest { user: user.to_string(), server, terminal }, used)))
    }

    /// What the server gets: `\0user\0user\0term\0`.
    pub fn massaged(&self) -> Vec<u8> {
        format!("\0{user}\0{user}\0{}\0", self.terminal, user = self.user).into_bytes()
    }
}

#[derive(Debug)]
enum State {
    /// Reading the client's request.
    Request,
    /// Waiting for the status byte; the massaged request and what follows it went out already.
    Opening,
    Relay(Relay),
    Done,
}

/// One client connection of the rlogin proxy.
#[derive(Debug)]
pub struct RloginSession {
    port: u16,
    out: Outbox,
    input: Vec<u8>,
    state: State,
    client_eof: bool,
}

impl RloginSession {
    /// A session that connects to port `port` of the server ([`RLOGIN_PORT`] but in testbeds).
    pub fn new(port: u16) -> Self {
        RloginSession { port, out: Outbox::default(), input: Vec::new(), state: State::Request, client_eof: false }
    }

    /// Report `text` the rlogin way and close.
    fn refuse(&mut self, text: &str) {
        log::debug!("rlogin proxy: {text}");
        if matches!(self.state, State::Opening | State::Relay(_)) {
            self.out.push(Action::CloseUpstream { id: UPSTREAM });
        }
        let mut reply = vec![ERROR_BYTE];
        reply.extend_from_slice(format!("ork rlogin-proxy: {text}\n").as_bytes());
        self.out.send_client(&reply);
        self.out.push(Action::CloseClient);
        self.state = State::Done;
    }
}

impl Session for RloginSession {
    fn client_data(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Request => {
                self.input.extend_from_slice(bytes);
                match RloginRequest::parse(&self.input) {
                    Ok(None) => {}
                    Ok(Some((request, n))) => {
                        let mut first = request.massaged();
                        first.extend_from_slice(&self.input[n..]);
                        self.input = Vec::new();
                        let structure = StandardStructure::new(Protocol::Rlogin, request.server.clone(), self.port);
                        self.out.push(Action::Open { id: UPSTREAM, structure });
                        self.out.send_upstream(UPSTREAM, &first);
                        self.state = State::Opening;
                    }
                    Err(e) => self.refuse(&e.to_string()),
                }
            }
            State::Opening => self.out.send_upstream(UPSTREAM, bytes),
            State::Relay(relay) => relay.client_data(&mut self.out, bytes),
            State::Done => {}
        }
    }

    fn client_eof(&mut self) {
        self.client_eof = true;
        match &mut self.state {
            State::Request => {
                self.out.push(Action::CloseClient);
                self.state = State::Done;
            }
            State::Relay(relay) => relay.client_eof(&mut self.out),
            State::Opening | State::Done => {}
        }
    }

    fn client_closed(&mut self) {
        match &mut self.state {
            State::Relay(relay) => relay.close(&mut self.out),
            State::Opening => {
                self.out.push(Action::CloseUpstream { id: UPSTREAM });
                self.out.push(Action::CloseClient);
            }
            State::Request | State::Done => self.out.push(Action::CloseClient),
        }
        self.state = State::Done;
    }

    fn upstream_status(&mut self, id: UpstreamId, status: Status) {
        if !matches!(self.state, State::Opening) || id != UPSTREAM {
            return;
        }
        if status != Status::Ok {
            return self.refuse(&status_text(status));
        }
        let mut relay = Relay::new(UPSTREAM);
        if self.client_eof {
            relay.client_eof(&mut self.out);
        }
        self.state = State::Relay(relay);
    }

    fn upstream_data(&mut self, id: UpstreamId, bytes: &[u8]) {
        if let State::Relay(relay) = &mut self.state {
            relay.upstream_data(&mut self.out, id, bytes);
        }
    }

    fn upstream_eof(&mut self, id: UpstreamId) {
        match &mut self.state {
            State::Relay(relay) => relay.upstream_eof(&mut self.out, id),
            State::Opening if id == UPSTREAM => self.refuse(&status_text(Status::RouteFailed)),
            _ => {}
        }
    }

    fn upstream_closed(&mut self, id: UpstreamId) {
        match &mut self.state {
            State::Relay(relay) => relay.upstream_closed(&mut self.out, id),
            State::Opening if id == UPSTREAM => self.refuse(&status_text(Status::RouteFailed)),
            _ => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    fn wants_client_data(&self) -> bool {
        match &self.state {
            State::Request => self.input.len() <= REQUEST_LIMIT,
            State::Opening => !self.client_eof,
            State::Relay(relay) => relay.wants_client_data(&self.out),
            State::Done => false,
        }
    }

    fn wants_upstream_data(&self, id: UpstreamId) -> bool {
        match &self.state {
            State::Relay(relay) => relay.wants_upstream_data(&self.out, id),
            _ => false,
        }
    }

    fn is_finished(&self) -> bool {
        self.out.finished()
    }

    fn refuse_client(&mut self) {
        self.refuse("permission denied: this address may not use the proxy");
    }
}
