//! The reactor carrying out a core's actions: buffering sends, connecting, shutting down and
//! closing after a flush, pausing reads, resolving names; and writing what fits.

use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::Arc;

use log::debug;
use mio::Interest;

use super::connect::start_connect;
use super::reactor::{token, Reactor, Sock, READ_CHUNK};
use super::resolver::ResolverPool;
use crate::event::{Action, Core, Now, SockId};

impl<C: Core> Reactor<C> {
    pub(super) fn apply_actions(&mut self) {
        loop {
            while let Some(a) = self.core.poll_action() {
                self.apply(a);
            }
            let mut dirty = std::mem::take(&mut self.dirty);
            if dirty.is_empty() {
                return;
            }
            dirty.sort_unstable();
            dirty.dedup();
            for id in dirty {
                self.flush(id);
            }
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Send { sock, data } => {
                if let Some(s) = self.socks.get_mut(&sock) {
                    if s.out_pos == s.out.len() {
                        // Nothing unwritten: take the core's buffer as it is, no copy.
                        s.out = data;
                        s.out_pos = 0;
                    } else {
                        s.out.extend_from_slice(&data);
                    }
                    self.dirty.push(sock);
                }
            }
            Action::Connect { sock, addr, privileged } => match start_connect(addr, privileged) {
                Ok(mut stream) => {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self.poll.registry().register(&mut stream, token(sock), interest) {
                        self.core.connected(Now::system(), sock, Err(e));
                        return;
                    }
                    let s = Sock { stream: Some(stream), connecting: true, ..Sock::default() };
                    self.socks.insert(sock, s);
                }
                Err(e) => self.core.connected(Now::system(), sock, Err(e)),
            },
            Action::ShutdownWrite { sock } => {
                if let Some(s) = self.socks.get_mut(&sock) {
                    s.shutdown_after_flush = true;
                    self.dirty.push(sock);
                }
            }
            Action::Close { sock } => {
                if let Some(s) = self.socks.get_mut(&sock) {
                    s.close_after_flush = true;
                    s.read_paused = true;
                    self.dirty.push(sock);
                }
            }
            Action::Abort { sock } => self.drop_sock(sock),
            Action::PauseRead { sock } => {
                if let Some(s) = self.socks.get_mut(&sock) {
                    s.read_paused = true;
                }
            }
            Action::ResumeRead { sock } => {
                if let Some(s) = self.socks.get_mut(&sock) {
                    if !s.close_after_flush {
                        s.read_paused = false;
                        s.read_pending = true;
                        self.readable.push(sock);
                    }
                }
            }
            Action::Resolve { request, host, port } => {
                let (tx, waker) = (&self.resolver_tx, &self.waker);
                let pool = self.resolver.get_or_insert_with(|| ResolverPool::new(tx.clone(), Arc::clone(waker)));
                pool.submit(request, host, port);
            }
            Action::KeyLog { line } => {
                if let Some(f) = &mut self.config.key_log {
                    // One write per line, so that routers sharing a file never interleave.
                    if let Err(e) = f.write_all(format!("{line}\n").as_bytes()) {
                        log::warn!("cannot write the link key log: {e}");
                    }
                }
            }
        }
    }

    /// Write what fits; carry out a pending shutdown or close once the buffer is empty.
    pub(super) fn flush(&mut self, id: SockId) {
        let Some(s) = self.socks.get_mut(&id) else { return };
        if s.connecting {
            return;
        }
        let Some(stream) = s.stream.as_mut() else { return };
        while s.out_pos < s.out.len() {
            match stream.write(&s.out[s.out_pos..]) {
                Ok(0) => break,
                Ok(n) => s.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let close_requested = s.close_after_flush;
                    self.drop_sock(id);
                    if !close_requested {
                        self.core.failed(Now::system(), id, e);
                    }
                    return;
                }
            }
        }
        if s.out_pos == s.out.len() {
            s.out.clear();
            s.out_pos = 0;
            if s.close_after_flush {
                let _ = stream.shutdown(Shutdown::Write);
                self.drop_sock(id);
                return;
            }
            if s.shutdown_after_flush {
                s.shutdown_after_flush = false;
                if let Err(e) = stream.shutdown(Shutdown::Write) {
                    debug!("shutdown {id}: {e}");
                }
            }
        } else if s.out_pos > READ_CHUNK && s.out_pos * 2 > s.out.len() {
            s.out.drain(..s.out_pos);
            s.out_pos = 0;
        }
        let pending = s.pending();
        if pending != s.last_reported && !s.close_after_flush {
            s.last_reported = pending;
            self.core.write_buffered(Now::system(), id, pending);
        }
    }

    pub(super) fn drop_sock(&mut self, id: SockId) {
        if let Some(mut s) = self.socks.remove(&id) {
            if let Some(mut stream) = s.stream.take() {
                let _ = self.poll.registry().deregister(&mut stream);
            }
        }
    }
}
