//! The HTTP proxy session (protocol 2; protocol.md §11, paper §5.1 and §7.5): absolute-URI requests
//! become origin-form requests on anonymous connections, one per destination host:port and
//! reused while it lives; responses go back in request order, each head parsed and filtered;
//! `CONNECT` becomes a protocol-4 tunnel.
//!
//! Requests are read one at a time. A request is sent as soon as its destination has an idle
//! anonymous connection (or a new one is opened), so pipelined requests to different hosts are
//! in flight together; a request for a host whose connection is busy waits (and the client is
//! not read) until that connection's response is complete. Each anonymous connection carries
//! one exchange at a time, so a destination that closes after a response never loses a
//! pipelined request. Responses of later exchanges wait in their connection's bounded buffer.

use std::collections::VecDeque;

pub(crate) mod body;
mod dispatch;
mod exchange;
pub(crate) mod filter;
pub(crate) mod line_rules;
pub(crate) mod request;
pub(crate) mod response;
mod upstream;

#[cfg(test)]
mod tests;

use body::BodyRelay;
use exchange::Exchange;
use filter::FieldPolicy;
use request::ProxyRequest;
use upstream::Upstreams;

use super::relay::Relay;
use super::{Action, Outbox, Session, UpstreamId, BUFFER_LIMIT, HEAD_LIMIT};
use crate::wire::standard::Status;

pub use filter::GENERIC_USER_AGENT;
pub use request::RequestError;

/// Most requests read ahead of their responses.
const MAX_PIPELINE: usize = 16;

/// Settings of an HTTP proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The privacy filter of protocol.md §11 (`--no-filter` turns it off).
    pub filter: bool,
    /// How long a keep-alive client may stay silent between requests (`--idle-timeout`).
    pub idle_timeout: std::time::Duration,
}

/// The default time a keep-alive client may stay silent between requests.
pub const HTTP_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl HttpConfig {
    /// The defaults with the filter on or off.
    pub fn filtered(filter: bool) -> Self {
        HttpConfig { filter, idle_timeout: HTTP_IDLE_TIMEOUT }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig::filtered(true)
    }
}

/// What the client side is doing.
#[derive(Debug)]
enum ClientState {
    /// Reading request heads.
    Heads,
    /// Relaying a request body to `up` (discarded if that connection is gone).
    Body { up: UpstreamId, relay: BodyRelay, policy: FieldPolicy, keep_alive: bool },
    /// After `CONNECT`: bytes wait for the tunnel.
    Connect,
    /// No more requests are read.
    Done,
}

/// One client connection of the HTTP proxy.
#[derive(Debug)]
pub struct HttpSession {
    config: HttpConfig,
    out: Outbox,
    input: Vec<u8>,
    client: ClientState,
    client_eof: bool,
    /// `ShutdownClientWrite` sent; client bytes are discarded until its EOF.
    lingering: bool,
    /// A parsed request waiting for its destination's connection to become idle.
    held: Option<ProxyRequest>,
    exchanges: VecDeque<Exchange>,
    upstreams: Upstreams,
    /// An established `CONNECT` tunnel: the session is a raw relay from then on.
    tunnel: Option<Relay>,
}

impl HttpSession {
    pub fn new(config: HttpConfig) -> Self {
        HttpSession {
            config,
            out: Outbox::default(),
            input: Vec::new(),
            client: ClientState::Heads,
            client_eof: false,
            lingering: false,
            held: None,
            exchanges: VecDeque::new(),
            upstreams: Upstreams::default(),
            tunnel: None,
        }
    }

    /// Graceful end: everything queued goes out, then the write side closes; the client's
    /// remaining bytes are read and discarded until its EOF (so the kernel does not reset the
    /// connection over unread data), then `CloseClient`.
    fn finish_client(&mut self) {
        self.stop();
        if self.client_eof {
            self.out.push(Action::CloseClient);
        } else {
            self.lingering = true;
            self.out.push(Action::ShutdownClientWrite);
        }
    }

    /// Abrupt end (a response cannot be completed, or the client is gone).
    fn abort(&mut self) {
        self.stop();
        self.out.push(Action::CloseClient);
    }

    fn stop(&mut self) {
        self.upstreams.release_all(&mut self.out);
        self.exchanges.clear();
        self.held = None;
        self.client = ClientState::Done;
        self.input.clear();
    }

    /// Run both sides until nothing changes, then end the client connection if it is done.
    fn pump(&mut self) {
        if self.tunnel.is_some() || self.out.client_closed() {
            return;
        }
        while self.drive_client() | self.drive_responses() {}
        let idle = self.exchanges.is_empty() && self.held.is_none();
        if self.client_eof && idle && !self.lingering && !self.out.client_closed() {
            if matches!(self.client, ClientState::Body { .. }) {
                self.abort();
            } else {
                self.finish_client();
            }
        }
    }
}

impl Session for HttpSession {
    fn client_data(&mut self, bytes: &[u8]) {
        if let Some(t) = &mut self.tunnel {
            return t.client_data(&mut self.out, bytes);
        }
        if self.lingering || self.client_eof || matches!(self.client, ClientState::Done) {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.pump();
    }

    fn client_eof(&mut self) {
        if let Some(t) = &mut self.tunnel {
            return t.client_eof(&mut self.out);
        }
        self.client_eof = true;
        if self.lingering {
            self.out.push(Action::CloseClient);
        }
        self.pump();
    }

    fn client_closed(&mut self) {
        match &mut self.tunnel {
            Some(t) => t.close(&mut self.out),
            None => self.abort(),
        }
    }

    fn upstream_status(&mut self, id: UpstreamId, status: Status) {
        self.upstreams.status(&mut self.out, id, status);
        self.pump();
    }

    fn upstream_data(&mut self, id: UpstreamId, bytes: &[u8]) {
        if let Some(t) = &mut self.tunnel {
            return t.upstream_data(&mut self.out, id, bytes);
        }
        let Some(up) = self.upstreams.get_mut(id) else {
            return;
        };
        if up.released || up.eof || up.status != Some(Status::Ok) {
            return;
        }
        up.inbuf.extend_from_slice(bytes);
        self.pump();
    }

    fn upstream_eof(&mut self, id: UpstreamId) {
        if let Some(t) = &mut self.tunnel {
            return t.upstream_eof(&mut self.out, id);
        }
        self.upstreams.ended(&mut self.out, id, false);
        self.pump();
    }

    fn upstream_closed(&mut self, id: UpstreamId) {
        if let Some(t) = &mut self.tunnel {
            return t.upstream_closed(&mut self.out, id);
        }
        self.upstreams.ended(&mut self.out, id, true);
        self.pump();
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    fn wants_client_data(&self) -> bool {
        if let Some(t) = &self.tunnel {
            return t.wants_client_data(&self.out);
        }
        if self.out.client_closed() || self.client_eof {
            return false;
        }
        if self.lingering {
            return true;
        }
        match &self.client {
            ClientState::Heads => {
                self.held.is_none() && self.exchanges.len() < MAX_PIPELINE && self.input.len() <= HEAD_LIMIT
            }
            // Body bytes go out as they come (optimistic data); the driver's backpressure bounds them.
            ClientState::Body { .. } => true,
            ClientState::Connect => self.input.len() < BUFFER_LIMIT,
            ClientState::Done => false,
        }
    }

    fn wants_upstream_data(&self, id: UpstreamId) -> bool {
        if let Some(t) = &self.tunnel {
            return t.wants_upstream_data(&self.out, id);
        }
        !self.out.client_closed()
            && self.upstreams.get(id).is_some_and(|u| !u.released && !u.eof && u.inbuf.len() < BUFFER_LIMIT)
    }

    fn is_finished(&self) -> bool {
        self.out.finished()
    }

    fn refuse_client(&mut self) {
        let text = "this address may not use the proxy (--allow-from)";
        self.out.send_client(&exchange::local_response(403, "Forbidden", text, true, 1));
        self.finish_client();
    }

    /// Between requests on a keep-alive connection, or lingering for the client's EOF.
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        let between = self.tunnel.is_none()
            && matches!(self.client, ClientState::Heads)
            && self.input.is_empty()
            && self.held.is_none()
            && self.exchanges.is_empty();
        (between || self.lingering).then_some(self.config.idle_timeout)
    }
}
