//! The response side of an HTTP proxy session: each request/response exchange in request order,
//! the destination's response read (interim heads, final head, body) and relayed to the client,
//! failures turned into 502s, and a `CONNECT` tunnel established in its turn.

use super::body::{BodyRelay, Framing};
use super::filter::FieldPolicy;
use super::request::ProxyRequest;
use super::response::parse_response;
use super::upstream::Upstream;
use super::HttpSession;
use crate::proxy::relay::Relay;
use crate::proxy::{status_text, UpstreamId as Id};
use crate::proxy::{Outbox, UpstreamId};
use crate::wire::standard::{Protocol, Status};

/// The body of a response being relayed.
#[derive(Debug)]
pub struct ResponseBody {
    relay: BodyRelay,
    policy: FieldPolicy,
    /// The destination keeps the connection after this response.
    reusable: bool,
    /// The client connection ends after this response.
    close_client: bool,
}

/// Where an exchange's response comes from.
#[derive(Debug)]
pub enum Kind {
    /// Made by the proxy (errors).
    Local { response: Vec<u8>, close: bool },
    /// From the destination over `up`; `body` is set once the final head is relayed; `retry`
    /// keeps a body-less request that may be sent once more on a fresh connection.
    Remote { up: UpstreamId, head_method: bool, body: Option<ResponseBody>, retry: Option<Vec<u8>> },
    /// A `CONNECT` tunnel waiting to be established.
    Tunnel { up: UpstreamId },
}

/// One request and its response, in the order the client sent them.
#[derive(Debug)]
pub struct Exchange {
    pub kind: Kind,
    /// The client wants its connection kept after this response.
    pub keep_alive: bool,
    /// `x` of the client's `HTTP/1.x`.
    pub minor: u8,
    /// Part of the final response has been sent to the client.
    pub started: bool,
}

impl Exchange {
    pub fn new(kind: Kind, request: &ProxyRequest) -> Self {
        Exchange { kind, keep_alive: request.keep_alive, minor: request.minor_version, started: false }
    }

    /// A response made by the proxy; `close` ends the client connection after it.
    pub fn local(code: u16, reason: &str, text: &str, keep_alive: bool, minor: u8) -> Self {
        let response = local_response(code, reason, text, !keep_alive, minor);
        Exchange { kind: Kind::Local { response, close: !keep_alive }, keep_alive, minor, started: false }
    }
}

/// What reading the destination's response did.
#[derive(Debug, PartialEq, Eq)]
pub enum RemoteStep {
    /// Nothing to do until more bytes (or the status) arrive.
    Wait,
    Progress,
    /// The response is complete.
    Complete {
        reusable: bool,
        close_client: bool,
    },
    /// No response at all on a reused connection: send `head` again on a fresh one.
    Retry {
        head: Vec<u8>,
    },
    /// No response can be relayed, and none has begun: answer 502 with `text`.
    Failed {
        text: String,
    },
    /// The response broke after it began: the client connection must be cut.
    Abort,
}

/// Relay as much of the response of `ex` (the oldest exchange) as `up` holds.
pub fn drive_remote(ex: &mut Exchange, up: &mut Upstream, out: &mut Outbox, filter: bool) -> RemoteStep {
    let Kind::Remote { head_method, body, retry, .. } = &mut ex.kind else {
        return RemoteStep::Wait;
    };
    match up.status {
        None => return RemoteStep::Wait,
        Some(Status::Ok) => {}
        Some(status) => return RemoteStep::Failed { text: status_text(status) },
    }
    let Some(body) = body else {
        return match parse_response(&up.inbuf, filter, *head_method) {
            Ok(Some((resp, n))) => {
                up.inbuf.drain(..n);
                if resp.is_interim() {
                    // 1xx heads go to HTTP/1.1 clients only (RFC 9110 §15.2).
                    if ex.minor >= 1 {
                        out.send_client(&resp.head);
                        out.send_client(b"\r\n");
                    }
                    return RemoteStep::Progress;
                }
                let close_client = !ex.keep_alive || resp.framing == Framing::UntilClose;
                let mut head = resp.head;
                if close_client {
                    head.extend_from_slice(b"Connection: close\r\n");
                } else if ex.minor == 0 {
                    head.extend_from_slice(b"Connection: keep-alive\r\n");
                }
                head.extend_from_slice(b"\r\n");
                out.send_client(&head);
                ex.started = true;
                let relay = BodyRelay::new(resp.framing);
                let reusable = resp.server_keep_alive;
                *body = Some(ResponseBody { relay, policy: resp.policy, reusable, close_client });
                RemoteStep::Progress
            }
            Ok(None) if up.eof => match retry.take() {
                Some(head) if up.inbuf.is_empty() => RemoteStep::Retry { head },
                _ => RemoteStep::Failed { text: "the destination closed the connection without a response".into() },
            },
            Ok(None) => RemoteStep::Wait,
            Err(e) => RemoteStep::Failed { text: format!("bad response from the destination: {e}") },
        };
    };
    let mut chunk = Vec::new();
    match body.relay.feed(&up.inbuf, &mut chunk, &body.policy) {
        Ok(n) => {
            up.inbuf.drain(..n);
            out.send_client(&chunk);
            if body.relay.is_done() {
                let reusable = body.reusable && up.inbuf.is_empty() && !up.eof;
                RemoteStep::Complete { reusable, close_client: body.close_client }
            } else if up.eof && body.relay.until_close() && !up.reset {
                RemoteStep::Complete { reusable: false, close_client: true }
            } else if up.eof {
                log::debug!("http proxy: response from {}:{} cut short", up.host, up.port);
                RemoteStep::Abort
            } else if n > 0 {
                RemoteStep::Progress
            } else {
                RemoteStep::Wait
            }
        }
        Err(e) => {
            log::debug!("http proxy: bad response body from {}:{}: {e}", up.host, up.port);
            RemoteStep::Abort
        }
    }
}

/// A complete response made by the proxy, with a one-line text body.
pub fn local_response(code: u16, reason: &str, text: &str, close: bool, minor: u8) -> Vec<u8> {
    let body = format!("ork http-proxy: {text}\n");
    let mut response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
        body.len()
    );
    if close {
        response.push_str("Connection: close\r\n");
    } else if minor == 0 {
        response.push_str("Connection: keep-alive\r\n");
    }
    response.push_str("\r\n");
    response.push_str(&body);
    response.into_bytes()
}

impl HttpSession {
    /// Send whatever responses are ready, in request order; true if anything changed.
    pub(super) fn drive_responses(&mut self) -> bool {
        let mut progress = false;
        while let Some(ex) = self.exchanges.front_mut() {
            let up = match &mut ex.kind {
                Kind::Local { response, close } => {
                    let close = *close;
                    self.out.send_client(response);
                    self.exchanges.pop_front();
                    if close {
                        self.finish_client();
                        return true;
                    }
                    progress = true;
                    continue;
                }
                Kind::Tunnel { up } => {
                    let up = *up;
                    match self.upstreams.get(up).map(|u| (u.status, u.released)) {
                        Some((None, false)) => return progress,
                        Some((Some(Status::Ok), false)) => {
                            self.establish_tunnel(up);
                            return true;
                        }
                        other => {
                            let status = other.and_then(|(s, _)| s).unwrap_or(Status::RouteFailed);
                            *ex = Exchange::local(502, "Bad Gateway", &status_text(status), false, 1);
                            self.upstreams.unbusy(&mut self.out, up, false);
                            progress = true;
                            continue;
                        }
                    }
                }
                Kind::Remote { up, .. } => *up,
            };
            let Some(upstream) = self.upstreams.get_mut(up) else {
                *ex = Exchange::local(502, "Bad Gateway", &status_text(Status::RouteFailed), ex.keep_alive, ex.minor);
                continue;
            };
            match drive_remote(ex, upstream, &mut self.out, self.config.filter) {
                RemoteStep::Wait => return progress,
                RemoteStep::Progress => {}
                RemoteStep::Complete { reusable, close_client } => {
                    self.exchanges.pop_front();
                    self.upstreams.unbusy(&mut self.out, up, reusable);
                    if close_client {
                        self.finish_client();
                        return true;
                    }
                }
                RemoteStep::Retry { head } => {
                    let (host, port) = (upstream.host.clone(), upstream.port);
                    self.upstreams.unbusy(&mut self.out, up, false);
                    let fresh = self.upstreams.open(&mut self.out, host, port, Protocol::Http);
                    self.upstreams.write(&mut self.out, fresh, &head);
                    if let Kind::Remote { up, .. } = &mut ex.kind {
                        *up = fresh;
                    }
                }
                RemoteStep::Failed { text } => {
                    log::debug!("http proxy: {}:{}: {text}", upstream.host, upstream.port);
                    *ex = Exchange::local(502, "Bad Gateway", &text, ex.keep_alive, ex.minor);
                    self.upstreams.unbusy(&mut self.out, up, false);
                }
                RemoteStep::Abort => {
                    self.abort();
                    return true;
                }
            }
            progress = true;
        }
        progress
    }

    fn establish_tunnel(&mut self, up: Id) {
        self.exchanges.clear();
        self.upstreams.release_all_but(&mut self.out, Some(up));
        self.out.send_client(b"HTTP/1.1 200 Connection established\r\n\r\n");
        let mut relay = Relay::new(up);
        relay.client_data(&mut self.out, &std::mem::take(&mut self.input));
        if let Some(u) = self.upstreams.get_mut(up) {
            let (buffered, eof) = (std::mem::take(&mut u.inbuf), u.eof);
            relay.upstream_data(&mut self.out, up, &buffered);
            if eof {
                relay.upstream_eof(&mut self.out, up);
            }
        }
        if self.client_eof {
            relay.client_eof(&mut self.out);
        }
        self.tunnel = Some(relay);
    }
}
