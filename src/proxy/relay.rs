//! The raw two-way relay between a client and one anonymous connection, with TCP half-close:
//! what an HTTP `CONNECT` tunnel and an rlogin session become once set up.

use super::{Action, Outbox, UpstreamId};

/// Bytes flow unchanged both ways; each EOF half-closes the other side; when both sides have
/// ended (or either is reset) both connections close.
#[derive(Debug)]
pub struct Relay {
    up: UpstreamId,
    client_eof: bool,
    upstream_eof: bool,
}

impl Relay {
    pub fn new(up: UpstreamId) -> Self {
        Relay { up, client_eof: false, upstream_eof: false }
    }

    pub fn client_data(&mut self, out: &mut Outbox, bytes: &[u8]) {
        if !self.client_eof {
            out.send_upstream(self.up, bytes);
        }
    }

    pub fn client_eof(&mut self, out: &mut Outbox) {
        if self.client_eof {
            return;
        }
        self.client_eof = true;
        out.push(Action::ShutdownUpstreamWrite { id: self.up });
        if self.upstream_eof {
            self.close(out);
        }
    }

    pub fn upstream_data(&mut self, out: &mut Outbox, id: UpstreamId, bytes: &[u8]) {
        if id == self.up && !self.upstream_eof {
            out.send_client(bytes);
        }
    }

    pub fn upstream_eof(&mut self, out: &mut Outbox, id: UpstreamId) {
        if id != self.up || self.upstream_eof {
            return;
        }
        self.upstream_eof = true;
        out.push(Action::ShutdownClientWrite);
        if self.client_eof {
            self.close(out);
        }
    }

    /// The anonymous connection `id` was reset.
    pub fn upstream_closed(&mut self, out: &mut Outbox, id: UpstreamId) {
        if id == self.up {
            self.close(out);
        }
    }

    /// Close both connections (once).
    pub fn close(&mut self, out: &mut Outbox) {
        if !out.client_closed() {
            out.push(Action::CloseUpstream { id: self.up });
            out.push(Action::CloseClient);
        }
        self.client_eof = true;
        self.upstream_eof = true;
    }

    pub fn wants_client_data(&self, out: &Outbox) -> bool {
        !self.client_eof && !out.client_closed()
    }

    pub fn wants_upstream_data(&self, out: &Outbox, id: UpstreamId) -> bool {
        id == self.up && !self.upstream_eof && !out.client_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(out: &mut Outbox) -> Vec<Action> {
        std::iter::from_fn(|| out.pop()).collect()
    }

    #[test]
    fn half_closes_then_closes() {
        let mut out = Outbox::default();
        let mut relay = Relay::new(7);
        relay.client_data(&mut out, b"up");
        relay.upstream_data(&mut out, 7, b"down");
        relay.upstream_data(&mut out, 8, b"stray");
        relay.client_eof(&mut out);
        relay.client_data(&mut out, b"late");
        assert!(relay.wants_upstream_data(&out, 7));
        relay.upstream_eof(&mut out, 7);
        assert_eq!(
            drain(&mut out),
            vec![
                Action::ToUpstream { id: 7, data: b"up".to_vec() },
                Action::ToClient(b"down".to_vec()),
                Action::ShutdownUpstreamWrite { id: 7 },
                Action::ShutdownClientWrite,
                Action::CloseUpstream { id: 7 },
                Action::CloseClient,
            ]
        );
        assert!(out.finished());
        relay.upstream_closed(&mut out, 7);
        assert!(drain(&mut out).is_empty());
    }
}
