//! A reply onion used directly (protocol.md §15, `ork connect --reply-onion FILE --direct`): when
//! h1 is this onion proxy's entry router, the application sends a protocol-6 structure whose
//! retry count is [`DIRECT`], followed by the 240 onion bytes; the onion proxy sends the onion
//! as the CREATE cells of a new connection on its uplink, answers status 0 itself (there is no
//! exit to answer) and frames the bodies with no per-hop crypting (the owner does all of it;
//! the end-to-end layer is the application's). h1 not the entry router: status 3.

use std::net::SocketAddrV4;

use log::{debug, info};

use super::{AppState, OnionProxy};
use crate::event::{Now, SockId};
use crate::onion::{create_chunks, Onion, ONION_LEN};
use crate::wire::standard::Host;
use crate::wire::{Cell, Command, Protocol, StandardStructure, Status};

/// The retry count that asks for direct use of a reply onion (an exit never retries for
/// protocol 6, so the byte is free).
pub const DIRECT: u8 = 0xff;

/// Whether a structure asks for direct use of a reply onion.
pub fn is_direct(s: &StandardStructure) -> bool {
    s.protocol == Protocol::Reply && s.retries == DIRECT
}

/// What [`OnionProxy::direct_check`] decided.
pub(super) enum DirectCheck {
    /// Not a direct request: go on as usual.
    NotDirect,
    /// The onion bytes are not all here yet.
    Incomplete,
    /// Refused with this status.
    Refused(Status),
    Ready,
}

/// Check a direct request once its structure is parsed (`extra` = what followed it), for an
/// onion proxy whose entry router is `entry`.
pub(super) fn direct_check(entry: SocketAddrV4, s: &StandardStructure, extra: &[u8]) -> DirectCheck {
    if !is_direct(s) {
        return DirectCheck::NotDirect;
    }
    if extra.len() < ONION_LEN {
        return DirectCheck::Incomplete;
    }
    match s.host {
        Host::V4(ip) if ip == *entry.ip() && s.port == entry.port() => DirectCheck::Ready,
        _ => {
            info!("direct reply onion refused: its h1 is not this onion proxy's entry router (status 3)");
            DirectCheck::Refused(Status::BadAddress)
        }
    }
}

impl OnionProxy {
    /// Open the connection of a direct request waiting for the uplink.
    pub(super) fn open_direct(&mut self, now: Now, sock: SockId) {
        let Some(app) = self.apps.get_mut(&sock) else { return };
        let AppState::Waiting { extra, .. } = &mut app.state else { return };
        let rest = extra.split_off(ONION_LEN);
        let Ok(onion) = <Onion>::try_from(extra.as_slice()) else { return };
        let Some(aci) = self.uplink.allocate_aci(&mut self.rng) else {
            return self.answer(sock, Status::RouteFailed);
        };
        let Some(app) = self.apps.get_mut(&sock) else { return };
        app.fwd.clear();
        app.back.clear();
        app.aci = Some(aci);
        app.state = AppState::Open;
        self.opened += 1;
        debug!("direct reply connection on ACI {aci}");
        info!("anonymous connection {} opened (reply onion, direct)", self.opened);
        self.by_aci.insert(aci, sock);
        for r in create_chunks() {
            if let Ok(cell) = Cell::with_data(aci, Command::Create, &onion[r], &mut self.rng) {
                self.uplink.send(&cell, now);
            }
        }
        self.answer(sock, Status::Ok);
        if !rest.is_empty() {
            self.send_data(now, sock, &rest);
        }
    }
}
