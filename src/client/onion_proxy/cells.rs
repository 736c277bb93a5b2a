//! Cells arriving on the onion proxy's uplink (protocol.md §6, §8): the exit funnel's status
//! byte, backward DATA postcrypted and relayed to the application, and DESTROY.

use log::warn;

use super::{AppState, OnionProxy};
use crate::event::{queue_send, Action, Now};
use crate::link::DestroyIn;
use crate::wire::{Cell, Command, Status};

impl OnionProxy {
    pub(super) fn on_cells(&mut self, now: Now) {
        let mut cells = std::mem::take(&mut self.uplink.cells);
        for cell in cells.drain(..) {
            self.on_cell(now, cell);
        }
        self.uplink.cells = cells;
    }

    fn on_cell(&mut self, now: Now, mut cell: Cell) {
        let aci = cell.aci;
        match cell.command {
            Command::Padding => {}
            Command::Create => {
                warn!("CREATE from the network on ACI {aci}; DESTROY");
                match self.by_aci.get(&aci) {
                    Some(&sock) => self.close_app(sock, true),
                    None => self.send_destroy(aci),
                }
            }
            Command::Destroy => {
                let live = self.by_aci.contains_key(&aci);
                if self.uplink.destroy_received(aci, live, now, &mut self.rng) != DestroyIn::Ended {
                    return;
                }
                if let Some(sock) = self.by_aci.remove(&aci) {
                    if let Some(app) = self.apps.get_mut(&sock) {
                        app.aci = None;
                        if matches!(app.state, AppState::Opening) {
                            if let Some(k) = app.isolation {
                                self.routes.forget(k);
                            }
                            self.answer(sock, Status::RouteFailed);
                        }
                    }
                    self.close_app(sock, false);
                }
            }
            Command::Data => {
                let Some(&sock) = self.by_aci.get(&aci) else { return };
                let Some(app) = self.apps.get_mut(&sock) else { return };
                for e in app.back.iter_mut() {
                    e.apply(&mut cell.body);
                }
                let Some(data) = cell.data() else {
                    warn!("DATA Length > 44 after postcryption: keystreams out of step; DESTROY");
                    return self.close_app(sock, true);
                };
                match app.state {
                    AppState::Opening => {
                        let status = data.first().and_then(|b| Status::from_byte(*b));
                        let status = match (data.len(), status) {
                            (1, Some(s)) => s,
                            _ => Status::RouteFailed,
                        };
                        if status == Status::Ok {
                            app.state = AppState::Open;
                        } else if let (Status::RouteFailed, Some(k)) = (status, app.isolation) {
                            self.routes.forget(k);
                        }
                        self.answer(sock, status);
                    }
                    AppState::Open if data.is_empty() => {
                        app.got_eof = true;
                        self.actions.push_back(Action::ShutdownWrite { sock });
                    }
                    AppState::Open => queue_send(&mut self.actions, sock, data),
                    _ => {}
                }
            }
        }
    }
}
