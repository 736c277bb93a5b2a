//! The exit funnel built into every router (protocol.md §9): reads the standard structure from the
//! first DATA of a connection whose onion ended here, applies the exit policy, connects (with
//! retries), answers the status byte and relays, including TCP half-close (protocol.md §6). Protocol 5
//! (resolve) is answered in `exit/resolve.rs`.

mod resolve;

use std::io;
use std::net::{IpAddr, SocketAddr};

use log::{debug, info};

use super::core::{CircId, Next, Router};
use super::timers::Timer;
use crate::config::policy::RLOGIN_PORT;
use crate::event::{queue_send, Action, Now, SockId};
use crate::wire::rlogin_preamble::{self, MAX_PREAMBLE_LEN};
use crate::wire::standard::{Host, MAX_STANDARD_LEN};
use crate::wire::{Cell, Command, Protocol, StandardStructure, Status, PAYLOAD_LEN};

/// Bytes a client may send before the destination is connected.
const MAX_EARLY_BYTES: usize = 256 * 1024;

enum ExitState {
    Reading(Vec<u8>),
    Resolving {
        request: u64,
    },
    Connecting {
        sock: SockId,
    },
    Retrying,
    Open {
        sock: SockId,
    },
    /// A resolve was answered; waiting for the client's end of stream.
    Resolved,
}

/// The exit side of one connection.
pub(super) struct Exit {
    state: ExitState,
    structure: Option<StandardStructure>,
    addrs: Vec<SocketAddr>,
    attempts_left: u8,
    attempt: usize,
    /// Data for the destination that came before it was connected.
    early: Vec<u8>,
    /// The client sent end of stream (Length 0).
    got_eof: bool,
    /// We sent end of stream.
    sent_eof: bool,
}

impl Exit {
    /// The destination socket, once there is one.
    pub fn sock(&self) -> Option<SockId> {
        match self.state {
            ExitState::Connecting { sock } | ExitState::Open { sock } => Some(sock),
            _ => None,
        }
    }

    pub fn new() -> Exit {
        Exit {
            state: ExitState::Reading(Vec::new()),
            structure: None,
            addrs: Vec::new(),
            attempts_left: 0,
            attempt: 0,
            early: Vec::new(),
            got_eof: false,
            sent_eof: false,
        }
    }
}

impl Router {
    fn exit_mut(&mut self, id: CircId) -> Option<&mut Exit> {
        match self.circs.get_mut(&id).map(|c| &mut c.next) {
            Some(Next::Exit(e)) => Some(e),
            _ => None,
        }
    }

    /// Send bytes backward toward the onion proxy as DATA cells (Length 0 for end of stream).
    pub(super) fn exit_send_back(&mut self, now: Now, id: CircId, data: &[u8]) {
        let Some(c) = self.circs.get_mut(&id) else { return };
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

    fn exit_status(&mut self, now: Now, id: CircId, status: Status) {
        *self.stats.exit_status.entry(status as u8).or_default() += 1;
        self.exit_send_back(now, id, &[status as u8]);
        if status != Status::Ok {
            info!("exit refused a connection: {status}");
            self.destroy_circuit(now, id, None);
        }
    }

    /// A forward DATA cell (already crypted with the forward engine) reached the exit.
    pub(super) fn exit_forward(&mut self, now: Now, id: CircId, cell: &Cell) {
        let Some(data) = cell.data() else {
            info!("DATA Length {} > 44 at the exit: keystreams out of step; DESTROY", cell.length());
            self.destroy_circuit(now, id, None);
            return;
        };
        let Some(exit) = self.exit_mut(id) else { return };
        match &mut exit.state {
            ExitState::Reading(buf) => {
                if data.is_empty() {
                    self.destroy_circuit(now, id, None);
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
                    self.destroy_circuit(now, id, None);
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

    fn exit_start(&mut self, now: Now, id: CircId, s: StandardStructure) {
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
                self.resolving.insert(request, id);
                self.actions.push_back(Action::Resolve { request, host: name, port });
                return;
            }
        };
        self.exit_addresses(now, id, vec![SocketAddr::new(ip, port)]);
    }

    pub(super) fn exit_resolved(&mut self, now: Now, request: u64, result: io::Result<Vec<SocketAddr>>) {
        let Some(id) = self.resolving.remove(&request) else { return };
        match result {
            Ok(addrs) if !addrs.is_empty() => self.exit_addresses(now, id, addrs),
            Ok(_) | Err(_) => self.exit_status(now, id, Status::BadAddress),
        }
    }

    /// Apply the exit policy to the destination's addresses, then connect.
    fn exit_addresses(&mut self, now: Now, id: CircId, mut addrs: Vec<SocketAddr>) {
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

    fn exit_connect(&mut self, _now: Now, id: CircId) {
        let sock = self.ids.fresh();
        let Some(exit) = self.exit_mut(id) else { return };
        let addr = exit.addrs[exit.attempt % exit.addrs.len()];
        let privileged = exit.structure.as_ref().is_some_and(|s| s.protocol == Protocol::Rlogin);
        exit.state = ExitState::Connecting { sock };
        self.streams.insert(sock, id);
        debug!("exit connecting to {addr}");
        self.actions.push_back(Action::Connect { sock, addr, privileged });
    }

    pub(super) fn exit_connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        let Some(&id) = self.streams.get(&sock) else { return };
        if result.is_err() {
            self.streams.remove(&sock);
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
                    self.set_timer(at, Timer::ExitRetry(id));
                } else {
                    self.exit_status(now, id, Status::ConnectFailed);
                }
            }
        }
    }

    /// Fire due timers (exit connection retries, jittered DESTROYs).
    pub(super) fn run_timers(&mut self, now: Now) {
        while let Some(timer) = self.timers.pop_due(now.mono) {
            match timer {
                Timer::ExitRetry(id) => {
                    if matches!(self.exit_mut(id).map(|e| &e.state), Some(ExitState::Retrying)) {
                        self.exit_connect(now, id);
                    }
                }
                Timer::Destroy(link, aci) => {
                    // Not if a crossing DESTROY freed the ACI meanwhile (it may be reused).
                    if matches!(self.slots.get(&(link, aci)), Some(super::core::Slot::AwaitingAck)) {
                        self.emit_destroy(now, link, aci);
                    }
                }
                Timer::CreateTimeout(link, aci, began) => {
                    // The same reassembly (not a later one on a reused ACI) never completed.
                    if matches!(self.slots.get(&(link, aci)), Some(super::core::Slot::Creating { started, .. }) if *started == began)
                    {
                        self.refuse(now, link, aci, super::refusal::OnionRefusal::CreateTimeout);
                    }
                }
            }
        }
    }

    pub(super) fn exit_received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        if let Some(&id) = self.streams.get(&sock) {
            self.exit_send_back(now, id, data);
        }
    }

    /// The destination finished sending: Length 0, or DESTROY if the client already had.
    pub(super) fn exit_eof(&mut self, now: Now, sock: SockId) {
        let Some(&id) = self.streams.get(&sock) else { return };
        let Some(exit) = self.exit_mut(id) else { return };
        if exit.got_eof {
            self.destroy_circuit(now, id, None);
        } else if !exit.sent_eof {
            exit.sent_eof = true;
            self.exit_send_back(now, id, &[]);
        }
    }

    pub(super) fn exit_failed(&mut self, now: Now, sock: SockId, error: &io::Error) {
        let Some(&id) = self.streams.get(&sock) else { return };
        if matches!(self.exit_mut(id).map(|e| &e.state), Some(ExitState::Connecting { .. })) {
            self.exit_connected(now, sock, Err(io::Error::new(error.kind(), error.to_string())));
            return;
        }
        self.streams.remove(&sock);
        debug!("exit stream failed: {error}");
        self.destroy_circuit(now, id, None);
    }

    /// The connection ended: close the destination socket after what was written to it.
    pub(super) fn exit_close(&mut self, exit: &Exit) {
        match exit.state {
            ExitState::Open { sock } | ExitState::Connecting { sock } => {
                if self.streams.remove(&sock).is_some() {
                    self.actions.push_back(Action::Close { sock });
                }
            }
            ExitState::Resolving { request } => {
                self.resolving.remove(&request);
            }
            ExitState::Reading(_) | ExitState::Retrying | ExitState::Resolved => {}
        }
    }
}
