//! Application proxies (protocol.md §11, paper §5.1 and §7.4–7.6) as sans-IO session state machines.
//!
//! Each client connection of `http-proxy`, `smtp-proxy`, `rlogin-proxy` or `socks-proxy` is one
//! session object ([`HttpSession`], [`SmtpSession`], [`RloginSession`], [`SocksSession`]) that
//! implements [`Session`]: the reactor
//! feeds it events (`client_data`, `upstream_status`, ...) and then drains [`Session::poll_action`]
//! until it returns `None`, performing each [`Action`] in order. No session touches a socket or a
//! clock. Each session says how long it may stay idle in its current state
//! ([`Session::idle_timeout`]); the driver (`driver.rs`) measures the time since the session's
//! last event and closes the client when it runs out (`client_closed`).
//!
//! # Idle timeouts (defaults; configurable per proxy)
//! - **SMTP** (`--idle-timeout`, default 5 min): RFC 5321 §4.5.3.2's 5 minutes per command —
//!   a session with no event from the client or the server for that long is closed.
//! - **HTTP** (`--idle-timeout`, default 60 s): between requests on a keep-alive connection
//!   (nothing buffered, no response outstanding), and while lingering for the client's EOF after
//!   the proxy closed its write side. A request in progress is never timed out.
//! - **RLOGIN**: none while the anonymous connection is up (an idle login lives until one end
//!   closes it).
//!
//! # Contract with the reactor
//! - **Upstreams.** `Action::Open { id, structure }` asks for one anonymous connection: connect to
//!   the onion proxy, send `structure.to_bytes()`, read the status byte and report it with
//!   `upstream_status(id, status)` (report [`Status::RouteFailed`] if the onion proxy cannot be
//!   reached at all). If [`Session::isolation`] gives a key, its isolation prefix goes first.
//!   **Optimistic data** (protocol.md §7): a session may emit `ToUpstream` right after `Open`, before
//!   the status byte; the reactor sends those bytes right behind the structure. It emits none
//!   after a non-zero status. (The SMTP session does not: it must not talk before the server's
//!   greeting, which early-talker checks such as Postfix's postscreen punish.)
//!   Ids are never reused within a session. Every opened id is released by exactly one
//!   `CloseUpstream { id }`, even after `upstream_closed(id)` (the reactor must tolerate closing a
//!   socket that is already gone). Events for ids that are unknown or already released are
//!   ignored.
//! - **Closing.** `ShutdownClientWrite` / `ShutdownUpstreamWrite` half-close after flushing
//!   everything queued before them; `CloseClient` / `CloseUpstream` close after flushing. After
//!   `CloseClient` the session has released every upstream and [`Session::is_finished`] is true
//!   once it has been polled. The HTTP session ends gracefully: `ShutdownClientWrite`, then it
//!   keeps reading (and discarding) until the client's EOF before `CloseClient`, so the kernel
//!   does not reset the connection over unread bytes; the reactor's idle timeout bounds that.
//! - **Access control.** A client whose address `--allow-from` does not cover gets
//!   [`Session::refuse_client`] instead of any data: a refusal in the session's protocol, then
//!   close.
//! - **EOF vs reset.** `*_eof` reports a clean end of the peer's stream (read returned 0);
//!   `*_closed` reports a reset or socket error (no more bytes either way).
//! - **Backpressure.** Every session buffer is bounded. The reactor reads from the client only
//!   while [`Session::wants_client_data`] is true and from an upstream only while
//!   [`Session::wants_upstream_data`] is true, one read buffer at a time, so a buffer never
//!   exceeds its limit by more than one read. Independently, the reactor stops reading all of a
//!   session's upstreams while its client socket's outgoing buffer is full, and stops reading the
//!   client while an upstream socket's outgoing buffer is full.
//!
//! # Layout
//! `http/` (request parsing and rewriting, field filter, body framing, response parsing,
//! dispatch to anonymous connections, in-order responses), `smtp/` (commands, replies, message
//! relay with the header filter, replay to the server), `rlogin.rs`, `socks/` (SOCKS4/4a/5 with
//! Tor's RESOLVE extensions), and `relay.rs` (the raw two-way relay of `CONNECT` tunnels, rlogin
//! and SOCKS).

pub mod driver;
pub(crate) mod http;
mod relay;
mod rlogin;
pub(crate) mod smtp;
pub mod socks;

#[cfg(test)]
mod idle_tests;
#[cfg(test)]
mod rlogin_tests;
#[cfg(test)]
mod testutil;

use std::collections::VecDeque;

use crate::wire::isolation::IsolationKey;
use crate::wire::standard::{StandardStructure, Status};

pub use http::{HttpConfig, HttpSession, RequestError, GENERIC_USER_AGENT};
pub use rlogin::{RloginError, RloginRequest, RloginSession, RLOGIN_PORT};
pub use smtp::{CommandError, SmtpConfig, SmtpSession, SMTP_PORT};
pub use socks::{SocksError, SocksSession};

/// Names one anonymous connection of a session.
pub type UpstreamId = u32;

/// Longest message head (HTTP request/response head, SMTP reply) a session buffers.
pub const HEAD_LIMIT: usize = 64 * 1024;
/// Most bytes a session holds for one direction before it stops asking for more.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// What a session asks the reactor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write bytes to the client.
    ToClient(Vec<u8>),
    /// Open an anonymous connection: connect to the onion proxy, send `structure.to_bytes()`,
    /// read the status byte and report it with [`Session::upstream_status`].
    Open { id: UpstreamId, structure: StandardStructure },
    /// Write bytes to an open anonymous connection.
    ToUpstream { id: UpstreamId, data: Vec<u8> },
    /// Half-close an anonymous connection after writing everything queued for it.
    ShutdownUpstreamWrite { id: UpstreamId },
    /// Close an anonymous connection after writing everything queued for it.
    CloseUpstream { id: UpstreamId },
    /// Half-close the client connection after writing everything queued for it.
    ShutdownClientWrite,
    /// Close the client connection after writing everything queued for it; the session is over.
    CloseClient,
}

/// One client connection of an application proxy, driven by the reactor.
pub trait Session {
    /// Bytes read from the client.
    fn client_data(&mut self, bytes: &[u8]);
    /// The client half-closed its connection.
    fn client_eof(&mut self);
    /// The client connection was reset or failed.
    fn client_closed(&mut self);
    /// The status byte of an anonymous connection (protocol.md §7).
    fn upstream_status(&mut self, id: UpstreamId, status: Status);
    /// Bytes read from an anonymous connection.
    fn upstream_data(&mut self, id: UpstreamId, bytes: &[u8]);
    /// An anonymous connection half-closed (no more bytes from the destination).
    fn upstream_eof(&mut self, id: UpstreamId);
    /// An anonymous connection was reset or failed.
    fn upstream_closed(&mut self, id: UpstreamId);
    /// The next action to perform, in order.
    fn poll_action(&mut self) -> Option<Action>;
    /// Whether the reactor should read from the client now.
    fn wants_client_data(&self) -> bool;
    /// Whether the reactor should read from this anonymous connection now.
    fn wants_upstream_data(&self, id: UpstreamId) -> bool;
    /// `CloseClient` has been emitted and polled: drop the session.
    fn is_finished(&self) -> bool;
    /// The client is not allowed (`--allow-from`): refuse it in the session's protocol and
    /// close. Called instead of any other event, right after the session is made.
    fn refuse_client(&mut self);
    /// The isolation key of this client's anonymous connections, if it asked for one.
    fn isolation(&self) -> Option<IsolationKey> {
        None
    }
    /// How long the session may go without any event in its current state before the driver
    /// closes its client; `None` for no limit.
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The queue of actions of a session; consecutive writes to the same peer are merged.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: VecDeque<Action>,
    client_write_shut: bool,
    client_closed: bool,
}

impl Outbox {
    pub(crate) fn send_client(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.client_write_shut {
            return;
        }
        if let Some(Action::ToClient(last)) = self.queue.back_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.queue.push_back(Action::ToClient(bytes.to_vec()));
        }
    }

    pub(crate) fn send_upstream(&mut self, id: UpstreamId, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(Action::ToUpstream { id: last_id, data }) = self.queue.back_mut() {
            if *last_id == id {
                data.extend_from_slice(bytes);
                return;
            }
        }
        self.queue.push_back(Action::ToUpstream { id, data: bytes.to_vec() });
    }

    pub(crate) fn push(&mut self, action: Action) {
        match action {
            Action::ToClient(bytes) => return self.send_client(&bytes),
            Action::ShutdownClientWrite if self.client_write_shut => return,
            Action::ShutdownClientWrite => self.client_write_shut = true,
            Action::CloseClient if self.client_closed => return,
            Action::CloseClient => {
                self.client_write_shut = true;
                self.client_closed = true;
            }
            _ => {}
        }
        self.queue.push_back(action);
    }

    pub(crate) fn pop(&mut self) -> Option<Action> {
        self.queue.pop_front()
    }

    /// `CloseClient` has been queued.
    pub(crate) fn client_closed(&self) -> bool {
        self.client_closed
    }

    /// `CloseClient` has been queued and everything has been polled.
    pub(crate) fn finished(&self) -> bool {
        self.client_closed && self.queue.is_empty()
    }
}

/// The text a proxy gives a client for a non-zero status byte.
pub(crate) fn status_text(status: Status) -> String {
    format!("anonymous connection failed: {} (status {})", status.meaning(), status as u8)
}
