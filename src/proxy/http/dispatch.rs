//! The client side of an HTTP proxy session: reading request heads and bodies, and sending each
//! request on an idle anonymous connection to its destination (reused, or newly opened).

use super::body::{BodyRelay, Framing};
use super::exchange::{Exchange, Kind};
use super::filter::{Direction, FieldPolicy};
use super::request::{parse_request, ProxyRequest};
use super::{ClientState, HttpSession, MAX_PIPELINE};
use crate::wire::standard::Protocol;

/// Most anonymous connections one client connection holds open.
const MAX_UPSTREAMS: usize = 8;

impl HttpSession {
    /// Find or open the connection for `request` and send its head; `Err` gives the request
    /// back when it has to wait for a busy connection.
    fn dispatch(&mut self, request: ProxyRequest) -> Result<(), ProxyRequest> {
        let out = &mut self.out;
        if request.connect {
            let up = self.upstreams.open(out, request.host.clone(), request.port, Protocol::Tcp);
            self.exchanges.push_back(Exchange::new(Kind::Tunnel { up }, &request));
            self.client = ClientState::Connect;
            return Ok(());
        }
        let (up, reused) = match self.upstreams.find(&request.host, request.port) {
            Some((_, u)) if u.busy => return Err(request),
            Some((id, u)) => {
                u.busy = true;
                (id, u.used)
            }
            None => {
                if self.upstreams.open_count() >= MAX_UPSTREAMS {
                    match self.upstreams.idle() {
                        Some(id) => self.upstreams.release(out, id),
                        None => return Err(request),
                    }
                }
                (self.upstreams.open(out, request.host.clone(), request.port, Protocol::Http), false)
            }
        };
        self.upstreams.write(out, up, &request.head);
        // A reused connection may have been closed by the server just now: a request without a
        // body can then be sent again, once, on a fresh connection.
        let retry = (reused && request.framing == Framing::Empty).then(|| request.head.clone());
        let kind = Kind::Remote { up, head_method: request.head_method, body: None, retry };
        self.exchanges.push_back(Exchange::new(kind, &request));
        self.client = match request.framing {
            Framing::Empty if request.keep_alive => ClientState::Heads,
            Framing::Empty => ClientState::Done,
            framing => ClientState::Body {
                up,
                relay: BodyRelay::new(framing),
                policy: FieldPolicy::new(Direction::Request, self.config.filter, std::iter::empty()),
                keep_alive: request.keep_alive,
            },
        };
        Ok(())
    }

    /// Read request heads and bodies from the client's bytes; true if anything changed.
    pub(super) fn drive_client(&mut self) -> bool {
        match &mut self.client {
            ClientState::Done | ClientState::Connect => false,
            ClientState::Body { up, relay, policy, keep_alive } => {
                let mut body = Vec::new();
                match relay.feed(&self.input, &mut body, policy) {
                    Ok(n) => {
                        let done = relay.is_done();
                        self.upstreams.write(&mut self.out, *up, &body);
                        self.input.drain(..n);
                        if done {
                            self.client = if *keep_alive { ClientState::Heads } else { ClientState::Done };
                        }
                        n > 0 || done
                    }
                    Err(e) => {
                        log::debug!("http proxy: bad request body: {e}");
                        self.fail_last_exchange(&format!("bad request body: {e}"));
                        true
                    }
                }
            }
            ClientState::Heads => {
                if let Some(request) = self.held.take() {
                    let sent = self.dispatch(request).map_err(|request| self.held = Some(request));
                    return sent.is_ok();
                }
                if self.exchanges.len() >= MAX_PIPELINE || self.input.is_empty() {
                    return false;
                }
                match parse_request(&self.input, self.config.filter) {
                    Ok(None) => false,
                    Ok(Some((request, n))) => {
                        self.input.drain(..n);
                        if let Err(request) = self.dispatch(request) {
                            self.held = Some(request);
                        }
                        true
                    }
                    Err(e) => {
                        log::debug!("http proxy: refused request: {e}");
                        let (code, reason) = e.status();
                        self.exchanges.push_back(Exchange::local(code, reason, &e.to_string(), false, 1));
                        self.client = ClientState::Done;
                        self.input.clear();
                        true
                    }
                }
            }
        }
    }

    /// The request body being read is broken: its connection is dropped and the client gets a
    /// 400 (or, if the response has already begun, the client connection is cut).
    fn fail_last_exchange(&mut self, text: &str) {
        self.client = ClientState::Done;
        self.input.clear();
        let Some(last) = self.exchanges.pop_back() else {
            // Its response is already complete: nothing to answer, just end.
            return self.finish_client();
        };
        if let Kind::Remote { up, .. } | Kind::Tunnel { up } = last.kind {
            self.upstreams.unbusy(&mut self.out, up, false);
        }
        if last.started {
            self.abort();
        } else {
            self.exchanges.push_back(Exchange::local(400, "Bad Request", text, false, last.minor));
        }
    }
}
