//! The exit funnel's state (protocol.md §9): for every connection that ends at this router, where
//! its exit stands (reading the standard structure, resolving, connecting, open), and which
//! destination sockets and name look-ups belong to which connection. The steps themselves
//! (policy, connect, relay, status byte) are in `exit.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::event::SockId;
use crate::wire::StandardStructure;

/// Where one connection's exit stands.
pub(super) enum ExitState {
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
    pub state: ExitState,
    pub structure: Option<StandardStructure>,
    pub addrs: Vec<SocketAddr>,
    pub attempts_left: u8,
    pub attempt: usize,
    /// Data for the destination that came before it was connected.
    pub early: Vec<u8>,
    /// The client sent end of stream (Length 0).
    pub got_eof: bool,
    /// We sent end of stream.
    pub sent_eof: bool,
}

impl Exit {
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

    /// The destination socket, once there is one.
    pub fn sock(&self) -> Option<SockId> {
        match self.state {
            ExitState::Connecting { sock } | ExitState::Open { sock } => Some(sock),
            _ => None,
        }
    }
}

/// Destination sockets and pending look-ups, each with its connection (`C`, the router's
/// connection id).
pub(super) struct ExitFunnel<C> {
    streams: HashMap<SockId, C>,
    resolving: HashMap<u64, C>,
}

impl<C> Default for ExitFunnel<C> {
    fn default() -> Self {
        ExitFunnel { streams: HashMap::new(), resolving: HashMap::new() }
    }
}

impl<C: Copy> ExitFunnel<C> {
    /// The connection a destination socket belongs to (`None`: the socket is a link).
    pub fn stream(&self, sock: SockId) -> Option<C> {
        self.streams.get(&sock).copied()
    }

    pub fn add_stream(&mut self, sock: SockId, conn: C) {
        self.streams.insert(sock, conn);
    }

    pub fn remove_stream(&mut self, sock: SockId) -> Option<C> {
        self.streams.remove(&sock)
    }

    /// Every destination socket, forgotten (shutdown), in a fixed order.
    pub fn take_streams(&mut self) -> Vec<SockId> {
        let mut socks: Vec<SockId> = self.streams.drain().map(|(s, _)| s).collect();
        socks.sort_unstable();
        socks
    }

    pub fn add_lookup(&mut self, request: u64, conn: C) {
        self.resolving.insert(request, conn);
    }

    pub fn take_lookup(&mut self, request: u64) -> Option<C> {
        self.resolving.remove(&request)
    }

    /// Forget the sockets and look-up of a connection's exit that ended.
    pub fn close(&mut self, exit: &Exit) -> Option<SockId> {
        match exit.state {
            ExitState::Open { sock } | ExitState::Connecting { sock } => self.streams.remove(&sock).map(|_| sock),
            ExitState::Resolving { request } => {
                self.resolving.remove(&request);
                None
            }
            ExitState::Reading(_) | ExitState::Retrying | ExitState::Resolved => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SockIds;

    #[test]
    fn closing_an_exit_forgets_its_socket_or_lookup() {
        let mut ids = SockIds::default();
        let (s, t) = (ids.fresh(), ids.fresh());
        let mut f: ExitFunnel<u32> = ExitFunnel::default();
        f.add_stream(s, 1);
        f.add_stream(t, 2);
        f.add_lookup(9, 3);
        let mut open = Exit::new();
        open.state = ExitState::Open { sock: s };
        assert_eq!(f.close(&open), Some(s), "the socket to close");
        assert_eq!((f.stream(s), f.stream(t)), (None, Some(2)));
        let mut resolving = Exit::new();
        resolving.state = ExitState::Resolving { request: 9 };
        assert_eq!(f.close(&resolving), None);
        assert_eq!(f.take_lookup(9), None, "the look-up's answer will be ignored");
        assert_eq!(f.close(&Exit::new()), None);
        assert_eq!(f.take_streams(), vec![t]);
        assert_eq!(f.stream(t), None);
    }
}
