//! How the reactor (or the in-memory network) drives the onion proxy: its [`Core`]
//! implementation, which routes each event to the uplink or to an application connection.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{info, warn};

use super::{App, AppState, OnionProxy};
use crate::config::allow::in_net;
use crate::event::{Action, Core, ListenerIdx, Now, SockId};
use crate::link::LinkLoss;
use crate::wire::Status;

impl Core for OnionProxy {
    fn accepted(&mut self, _now: Now, _l: ListenerIdx, peer: SocketAddr) -> Option<SockId> {
        let sock = self.ids.fresh();
        let app = App {
            state: AppState::Reading(Vec::new()),
            isolation: None,
            aci: None,
            route: Vec::new(),
            fwd: Vec::new(),
            back: Vec::new(),
            got_eof: false,
            sent_eof: false,
        };
        self.apps.insert(sock, app);
        if !self.cfg.allow_from.iter().any(|(n, b)| in_net(peer.ip(), *n, *b)) {
            warn!("application proxy {peer} not allowed by --allow-from");
            self.answer(sock, Status::Policy);
        }
        Some(sock)
    }

    fn connected(&mut self, now: Now, sock: SockId, result: io::Result<()>) {
        self.last_now = now;
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.connected(now, result, &mut self.rng, &mut self.actions);
            self.handle_uplink(now, ev);
        }
    }

    fn received(&mut self, now: Now, sock: SockId, data: &[u8]) {
        self.last_now = now;
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.received(now, data, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, ev);
        }
        let Some(app) = self.apps.get_mut(&sock) else { return };
        match &mut app.state {
            AppState::Reading(buf) => {
                buf.extend_from_slice(data);
                self.on_structure(now, sock);
            }
            AppState::Waiting { extra, .. } => extra.extend_from_slice(data),
            AppState::Opening | AppState::Open => self.send_data(now, sock, data),
        }
    }

    fn eof(&mut self, now: Now, sock: SockId) {
        self.last_now = now;
        if self.uplink.sock() == Some(sock) {
            let ev = self.uplink.lost(now, LinkLoss::ClosedByPeer, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, Some(ev));
        }
        let Some(app) = self.apps.get_mut(&sock) else { return };
        match app.state {
            AppState::Opening | AppState::Open if app.got_eof => self.close_app(sock, true),
            AppState::Opening | AppState::Open if !app.sent_eof => {
                app.sent_eof = true;
                self.send_data(now, sock, &[]);
            }
            AppState::Reading(_) | AppState::Waiting { .. } => self.close_app(sock, false),
            _ => {}
        }
    }

    fn failed(&mut self, now: Now, sock: SockId, error: io::Error) {
        self.last_now = now;
        if self.uplink.sock() == Some(sock) {
            warn!("uplink to {}: {error}", self.uplink.addr);
            let ev = self.uplink.lost(now, LinkLoss::SocketError, &mut self.actions, &mut self.rng);
            return self.handle_uplink(now, Some(ev));
        }
        self.close_app(sock, true);
    }

    fn write_buffered(&mut self, _now: Now, sock: SockId, bytes: usize) {
        use crate::link::backpressure::{HIGH_WATER, LOW_WATER};
        if self.uplink.sock() == Some(sock) {
            // Only on a change of state: every application is one action.
            let pause = if bytes >= HIGH_WATER && !self.apps_paused {
                true
            } else if bytes <= LOW_WATER && self.apps_paused {
                false
            } else {
                return;
            };
            self.apps_paused = pause;
            for &a in self.apps.keys() {
                self.actions.push_back(if pause {
                    Action::PauseRead { sock: a }
                } else {
                    Action::ResumeRead { sock: a }
                });
            }
        } else if self.apps.contains_key(&sock) {
            self.app_buffered(sock, bytes);
        }
    }

    fn resolved(&mut self, _now: Now, _request: u64, _result: io::Result<Vec<SocketAddr>>) {}

    fn tick(&mut self, now: Now) {
        self.last_now = now;
        if !self.started {
            self.started = true;
            info!(
                "onion proxy: uplink {}, {} hops, forward {} / backward {}",
                self.uplink.addr, self.cfg.hops, self.cfg.forw, self.cfg.back
            );
        }
        let ev = self.uplink.tick(now, &mut self.ids, &mut self.actions, &mut self.rng);
        self.handle_uplink(now, ev);
        let apps = &self.apps;
        self.waiting.retain(|s| matches!(apps.get(s).map(|a| &a.state), Some(AppState::Waiting { .. })));
        let expired: Vec<SockId> = self
            .waiting
            .iter()
            .copied()
            .filter(|s| {
                matches!(apps.get(s).map(|a| &a.state),
                    Some(AppState::Waiting { since, .. }) if now.mono >= *since + self.cfg.link_wait)
            })
            .collect();
        for s in expired {
            warn!("uplink not available in time; refusing connection");
            self.answer(s, Status::RouteFailed);
        }
        self.uplink.flush(&mut self.actions);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let waiting = self.waiting.iter().filter_map(|s| match self.apps.get(s).map(|a| &a.state) {
            Some(AppState::Waiting { since, .. }) => Some(*since + self.cfg.link_wait),
            _ => None,
        });
        self.uplink.poll_timeout().into_iter().chain(waiting).min()
    }

    fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            self.uplink.flush(&mut self.actions);
        }
        self.actions.pop_front()
    }

    fn status(&self, _now: Now) -> Option<String> {
        serde_json::to_string_pretty(&self.status_report()).ok()
    }

    fn shutdown(&mut self, _now: Now) {
        let socks: Vec<SockId> = self.apps.keys().copied().collect();
        for s in socks {
            self.close_app(s, true);
        }
        self.uplink.flush(&mut self.actions);
        if let Some(s) = self.uplink.sock() {
            self.actions.push_back(Action::Close { sock: s });
        }
    }
}
