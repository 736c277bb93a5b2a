//! The exit funnel's steps (protocol.md §9), its state being in `exit_funnel.rs`: reads the standard structure from the
//! first DATA of a connection whose onion ended here, applies the exit policy, connects (with
//! retries), answers the status byte and relays, including TCP half-close (protocol.md §6). Protocol 5
//! (resolve) is answered in `exit/resolve.rs`.

mod resolve;

use std::io;
use std::net::{IpAddr, SocketAddr};

use log::{debug, info};

use super::conn_table::ConnId;
use super::core::Router;
use super::exit_funnel::{Exit, ExitState};
use super::timers::Timer;
use crate::config::policy::RLOGIN_PORT;
use crate::event::{queue_send, Action, Now, SockId};
use crate::wire::rlogin_preamble::{self, MAX_PREAMBLE_LEN};
use crate::wire::standard::{Host, MAX_STANDARD_LEN};
use crate::wire::{Cell, Command, Protocol, StandardStructure, Status, PAYLOAD_LEN};

/// Bytes a client may send before the destination is connected.
const MAX_EARLY_BYTES: usize = 256 * 1024;

impl Router {
    fn exit_mut(&mut self, id: ConnId) -> Option<&mut Exit> {
        self.conns.exit_mut(id)
    }

    /// Send bytes backward toward the onion proxy as DATA cells (Length 0 for end of stream).
    pub(super) fn exit_send_back(&mut self, now: Now, id: ConnId, data: &[u8]) {
        let Some(c) = self.conns.get_mut(id) else { return };
        let (link, aci) = c.prev;
        let mut cells = Vec::with_capacity(data.len() / PAYLOAD_LEN + 1);
        let chunks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(PAYLOAD_LEN).collect() };
        for chunk in chunks {
            if let Ok(mut cell) = Cell::with_data(aci, Command::Data, chunk, &mut self.rng) {
                c.back.apply(&mut cell.body);
                cells.push(cell);
            }
        }
        for cell in cells {
            self.queue_cell(now, link, cell);
        }
    }

    fn exit_status(&mut self, now: Now, id: ConnId, status: Status) {
        *self.stats.exit_status.entry(status as u8).or_default() += 1;
        self.exit_send_back(now, id, &[status as u8]);
        if status != Status::Ok {
            info!("exit refused a connection: {status}");
            self.destroy_connection(now, id, None);
        }
    }

    /// A forward DATA cell (already crypted with the forward engine) reached the exit.
    pub(super) fn exit_forward(&mut self, now: Now, id: ConnId, cell: &Cell) {
        let Some(data) = cell.data() else {
            info!("DATA Length {} > 44 at the exit: keystreams out of step; DESTROY", cell.length());
            self.destroy_connection(now, id, None);
            return;
        };
        let Some(exit) = self.exit_mut(id) else { return };
        match &mut exit.state {
            ExitState::Reading(buf) => {
                if data.is_empty() {
                    self.destroy_connection(now, id, None);
                    return;
                }
                buf.extend_from_slice(data);
                match StandardStructure::parse(buf) {
                    Ok(None) => {
                        if buf.len() > MAX_STANDARD_LEN {
                            self.exit_status(now, id, Status::BadAddress);
                        }
                    }
                    Err(status) => self.exit_status(now, id, status),
                    Ok(Some((s, used))) => {
                        // RLOGIN gets a privileged source port: only to port 513, and only
                        // after a well-formed preamble (the policy then needs an explicit rule).
                        if s.protocol == Protocol::Rlogin && s.port != RLOGIN_PORT {
                            info!("exit: protocol 1 to port {} refused: only {RLOGIN_PORT}", s.port);
                            return self.exit_status(now, id, Status::Policy);
                        }
                        if s.protocol == Protocol::Rlogin {
                            match rlogin_preamble::check(&buf[used..]) {
                                Ok(Some(_)) => {}
                                Ok(None) if buf.len() <= MAX_STANDARD_LEN + MAX_PREAMBLE_LEN => return,
                                verdict => {
                                    let why = verdict.err().map_or("too long".to_string(), |e| e.to_string());
                                    info!("exit: protocol 1 refused, rlogin preamble: {why}");
                                    return self.exit_status(now, id, Status::BadProtocol);
                                }
                            }
                        }
                        exit.early = buf[used..].to_vec();
                        self.exit_start(now, id, s);
                    }
                }
            }
            ExitState::Resolved => {
                // Bytes after a resolve are ignored; the client's end of stream finishes it.
                if data.is_empty() {
                    self.destroy_connection(now, id, None);
                }
            }
            ExitState::Open { sock } => {
                let sock = *sock;
                if data.is_empty() {
                    exit.got_eof = true;
                    self.actions.push_back(Action::ShutdownWrite { sock });
                } else {
                    queue_send(&mut self.actions, sock, data);
                }
            }
            _ => {
                if data.is_empty() {
                    exit.got_eof = true;
                } else if exit.early.len() + data.len() > MAX_EARLY_BYTES {
                    self.exit_status(now, id, Status::ConnectFailed);
                } else {
                    exit.early.extend_from_slice(data);
                }
            }
        }
    }

    fn exit_start(&mut self, now: Now, id: ConnId, s: StandardStructure) {
        let port = s.port;
        let host = s.host.clone();
        let Some(exit) = self.exit_mut(id) else { return };
        exit.attempts_left = s.retries;
        exit.structure = Some(s);
        let ip = match host {
            Host::V4(a) => IpAddr::V4(a),
            Host::V6(a) => IpAddr::V6(a),
            Host::Name(name) => {
                let request = id.0;
                exit.state = ExitState::Resolving { request };
                self.exits.add_lookup(request, id);
                self.actions.push_back(Action::Resolve { request, host: name, port });
                return;
            }
        };
        self.exit_addresses(now, id, vec![SocketAddr::new(ip, port)]);
    }

    pub(super) fn exit_resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>) {
        let Some(id) = self.exits.take_lookup(request) else { return };
        match result {
            Ok(addrs) if !addrs.is_empty() => self.exit_addresses(now, id, addrs),
            Ok(_) | Err(_) => self.exit_status(now, id, Status::BadAddress),
        }
    }

    /// Apply the exit policy to the destination's addresses, then connect.
    fn exit_addresses(&mut self, now: Now, id: ConnId, mut addrs: Vec<SocketAddr>) {
        let Some(proto) = self.exit_mut(id).and_then(|e| e.structure.as_ref()).map(|s| s.protocol) else {
            return;
        };
        if proto == Protocol::Resolve {
            return self.resolve_answer(now, id, &addrs);
        }
        addrs.retain(|a| self.cfg.exit_policy.allows_exit(a.ip(), a.port(), proto));
        addrs.sort_by_key(|a| !a.is_ipv4());
        if addrs.is_empty() {
            self.exit_status(now, id, Status::Policy);
            return;
        }
        let Some(exit) = self.exit_mut(id) else { return };
        exit.addrs = addrs;
        self.exit_connect(now, id);
    }

    /// An exit's retry timer ran out: connect again if it is still waiting for that.
    pub(super) fn exit_retry(&mut self, now: Now, id: ConnId) {
        if matches!(self.exit_mut(id).map(|e| &e.state), Some(ExitState::Retrying)) {
            self.exit_connect(now, id);
        }
    }

    fn exit_connect(&mut self, _now: Now, id: ConnId) {
        let sock = self.ids.fresh();
        let Some(exit) = self.exit_mut(id) else { return };
        let addr = exit.addrs[exit.attempt % exit.addrs.len()];
        let privileged = exit.structure.as_ref().is_some_and(|s| s.protocol == Protocol::Rlogin);
        exit.state = ExitState::Connecting { sock };
        self.exits.add_stream(sock, id);
        debug!("exit connecting to {addr}");
        self.actions.push_back(Action::Connect { sock, addr, privileged });
    }

    pub(super) fn exit_connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        let Some(id) = self.exits.stream(sock) else { return };
        if result.is_err() {
            self.exits.remove_stream(sock);
        }
        let Some(exit) = self.exit_mut(id) else { return };
        match result {
            Ok(()) => {
                exit.state = ExitState::Open { sock };
                let early = std::mem::take(&mut exit.early);
                let got_eof = exit.got_eof;
                self.stats.exits_opened += 1;
                self.exit_status(now, id, Status::Ok);
                if !early.is_empty() {
                    self.actions.push_back(Action::Send { sock, data: early });
                }
                if got_eof {
                    self.actions.push_back(Action::ShutdownWrite { sock });
                }
            }
            Err(e) => {
                debug!("exit connect failed: {e}");
                if exit.attempts_left > 0 {
                    exit.attempts_left -= 1;
                    exit.attempt += 1;
                    exit.state = ExitState::Retrying;
                    let at = now.mono + self.cfg.timeouts.exit_retry;
                    self.timers.set(at, Timer::ExitRetry(id));
                } else {
                    self.exit_status(now, id, Status::ConnectFailed);
                }
            }
        }
    }

    pub(super) fn exit_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if let Some(id) = self.exits.stream(sock) {
            self.exit_send_back(now, id, data);
        }
    }

    /// The destination finished sending: Length 0, or DESTROY if the client already had.
    pub(super) fn exit_eof(&mut self, now: Now, sock: SockId) {
        let Some(id) = self.exits.stream(sock) else { return };
        let Some(exit) = self.exit_mut(id) else { return };
        if exit.got_eof {
            self.destroy_connection(now, id, None);
        } else if !exit.sent_eof {
            exit.sent_eof = true;
            self.exit_send_back(now, id, &[]);
        }
    }

    pub(super) fn exit_failed(&mut self, now: Now, sock: SockId, error: &io::Error) {
        let Some(id) = self.exits.stream(sock) else { return };
        if matches!(self.exit_mut(id).map(|e| &e.state), Some(ExitState::Connecting { .. })) {
            self.exit_connected(now, sock, Err(io::Error::new(error.kind(), error.to_string())));
            return;
        }
        self.exits.remove_stream(sock);
        debug!("exit stream failed: {error}");
        self.destroy_connection(now, id, None);
    }
}
