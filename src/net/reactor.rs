//! The one event loop. It owns the sockets, reads until `WouldBlock`, batches writes (many
//! cells per syscall), carries out a core's [`Action`]s and reports socket events back to it.
//! Every role runs this same loop with a different [`Core`].

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::event::{Core, Now, SockId};

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);
const LISTENER_BASE: usize = usize::MAX - 1024;
/// Bytes read from one socket per wake-up before others get their turn.
/// Pause before accepting again after `accept` failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How often the status file is rewritten.
const STATUS_EVERY: Duration = Duration::from_secs(1);
const READ_BUDGET: usize = 256 * 1024;
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// Settings of the loop.
#[derive(Debug)]
pub struct ReactorConfig {
    /// How long a clean shutdown may spend flushing.
    pub shutdown_grace: Duration,
    /// Where to write the core's status snapshot, once a second.
    pub status_file: Option<std::path::PathBuf>,
    /// Where [`crate::event::Action::KeyLog`] lines go (test only); dropped when `None`.
    pub key_log: Option<std::fs::File>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig { shutdown_grace: Duration::from_secs(2), status_file: None, key_log: None }
    }
}

#[derive(Default)]
pub(super) struct Sock {
    pub(super) stream: Option<TcpStream>,
    pub(super) connecting: bool,
    pub(super) out: Vec<u8>,
    pub(super) out_pos: usize,
    pub(super) shutdown_after_flush: bool,
    pub(super) close_after_flush: bool,
    pub(super) read_paused: bool,
    pub(super) read_done: bool,
    /// Readable data may be waiting (budget ran out or reading was paused).
    pub(super) read_pending: bool,
    pub(super) last_reported: usize,
}

impl Sock {
    pub(super) fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Marked readable, and reading is neither paused, finished nor waiting for a connect.
    pub(super) fn can_read(&self) -> bool {
        self.read_pending && !self.read_paused && !self.read_done && !self.connecting
    }
}

/// The reactor, generic over the core it drives.
pub struct Reactor<C: Core> {
    pub(super) poll: Poll,
    pub(super) core: C,
    pub(super) listeners: Vec<TcpListener>,
    pub(super) socks: HashMap<SockId, Sock>,
    pub(super) resolver_tx: mpsc::Sender<(u64, io::Result<Vec<SocketAddr>>)>,
    pub(super) resolver_rx: mpsc::Receiver<(u64, io::Result<Vec<SocketAddr>>)>,
    pub(super) waker: Arc<Waker>,
    /// Started at the first name lookup.
    pub(super) resolver: Option<super::resolver::ResolverPool>,
    pub(super) config: ReactorConfig,
    pub(super) buf: Vec<u8>,
    pub(super) dirty: Vec<SockId>,
    /// Sockets marked `read_pending` since they were last read (may repeat, or have been
    /// paused since): the loop looks at these, never at every socket, so idle connections
    /// cost nothing per wake-up.
    pub(super) readable: Vec<SockId>,
    accept_retry: Option<Instant>,
}

pub(super) fn token(sock: SockId) -> Token {
    Token(sock.0 as usize)
}

impl<C: Core> Reactor<C> {
    pub fn new(core: C, listeners: Vec<std::net::TcpListener>, config: ReactorConfig) -> io::Result<Self> {
        raise_fd_limit();
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut ls = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            l.set_nonblocking(true)?;
            let mut l = TcpListener::from_std(l);
            poll.registry().register(&mut l, Token(LISTENER_BASE + i), Interest::READABLE)?;
            ls.push(l);
        }
        let (resolver_tx, resolver_rx) = mpsc::channel();
        Ok(Reactor {
            poll,
            core,
            listeners: ls,
            socks: HashMap::new(),
            resolver_tx,
            resolver_rx,
            waker,
            resolver: None,
            config,
            buf: vec![0; READ_CHUNK],
            dirty: Vec::new(),
            readable: Vec::new(),
            accept_retry: None,
        })
    }

    pub fn core(&self) -> &C {
        &self.core
    }

    /// Run until SIGINT/SIGTERM, then shut the core down and flush for the grace period.
    pub fn run(mut self) -> io::Result<()> {
        let mut signals =
            signal_hook_mio::v1_0::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
        self.poll.registry().register(&mut signals, SIGNALS, Interest::READABLE)?;
        let mut events = Events::with_capacity(1024);
        let mut shutdown_deadline: Option<Instant> = None;
        let mut status_due = self.config.status_file.as_ref().map(|_| Instant::now());
        self.core.tick(Now::system());
        self.apply_actions();
        loop {
            let now = Instant::now();
            let mut timeout = self.core.poll_timeout().map(|t| t.saturating_duration_since(now));
            if let Some(due) = self.accept_retry {
                if due <= now {
                    self.accept_retry = None;
                    for i in 0..self.listeners.len() {
                        self.accept(i);
                    }
                    self.apply_actions();
                } else {
                    let d = due - now;
                    timeout = Some(timeout.map_or(d, |t| t.min(d)));
                }
            }
            if let Some(due) = status_due {
                let d = due.saturating_duration_since(now);
                timeout = Some(timeout.map_or(d, |t| t.min(d)));
            }
            if self.readable.iter().any(|id| self.socks.get(id).is_some_and(Sock::can_read)) {
                timeout = Some(Duration::ZERO);
            }
            if let Some(d) = shutdown_deadline {
                if now >= d || self.socks.values().all(|s| s.pending() == 0 || s.stream.is_none()) {
                    info!("shut down");
                    self.remove_status();
                    return Ok(());
                }
                let left = d - now;
                timeout = Some(timeout.map_or(left, |t| t.min(left)).min(Duration::from_millis(50)));
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => self.drain_resolver(),
                    SIGNALS => {
                        for sig in signals.pending() {
                            info!("signal {sig}: shutting down");
                        }
                        if shutdown_deadline.is_none() {
                            shutdown_deadline = Some(Instant::now() + self.config.shutdown_grace);
                            self.core.shutdown(Now::system());
                            for l in &mut self.listeners {
                                let _ = self.poll.registry().deregister(l);
                            }
                            self.listeners.clear();
                        }
                    }
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => {
                        let id = SockId(t as u64);
                        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                            self.on_writable(id);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            if let Some(s) = self.socks.get_mut(&id) {
                                s.read_pending = true;
                                self.readable.push(id);
                            }
                        }
                    }
                }
                self.apply_actions();
            }
            self.read_pending();
            self.core.tick(Now::system());
            self.apply_actions();
            if status_due.is_some_and(|t| Instant::now() >= t) {
                status_due = Some(Instant::now() + STATUS_EVERY);
                self.write_status();
            }
        }
    }

    /// Write the status snapshot atomically (temporary file, then rename).
    fn write_status(&self) {
        let now = Now::system();
        let (Some(path), Some(text)) = (&self.config.status_file, self.core.status(now)) else { return };
        if let Err(e) = super::status_file::write(path, &text, now.unix) {
            warn!("cannot write status file {}: {e}", path.display());
        }
    }

    /// Remove the status file at a clean shutdown: a file left behind means a router that died.
    fn remove_status(&self) {
        if let Some(path) = &self.config.status_file {
            if let Err(e) = super::status_file::remove(path) {
                warn!("cannot remove status file {}: {e}", path.display());
            }
        }
    }

    fn accept(&mut self, idx: usize) {
        loop {
            let Some(l) = self.listeners.get(idx) else { return };
            match l.accept() {
                Ok((mut stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let Some(id) = self.core.accepted(Now::system(), idx, peer) else { continue };
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(e) = self.poll.registry().register(&mut stream, token(id), interest) {
                        warn!("cannot register connection from {peer}: {e}");
                        self.core.failed(Now::system(), id, e);
                        continue;
                    }
                    let sock = Sock { stream: Some(stream), read_pending: true, ..Sock::default() };
                    self.socks.insert(id, sock);
                    self.readable.push(id);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // E.g. out of file descriptors: the connection stays in the backlog and no
                    // new readiness edge may come, so try again shortly.
                    warn!("accept failed: {e}; retrying in {ACCEPT_RETRY:?}");
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            }
        }
    }

    fn drain_resolver(&mut self) {
        while let Ok((req, result)) = self.resolver_rx.try_recv() {
            self.core.resolved(Now::system(), req, result);
        }
    }

    fn on_writable(&mut self, id: SockId) {
        let Some(s) = self.socks.get_mut(&id) else { return };
        if s.connecting {
            let Some(stream) = s.stream.as_ref() else { return };
            let result = match stream.take_error() {
                Ok(Some(e)) | Err(e) => Err(e),
                Ok(None) => match stream.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                    Err(e) => Err(e),
                },
            };
            s.connecting = false;
            let ok = result.is_ok();
            if ok {
                let _ = stream.set_nodelay(true);
                s.read_pending = true;
                self.readable.push(id);
            } else {
                self.drop_sock(id);
            }
            self.core.connected(Now::system(), id, result);
            if !ok {
                return;
            }
        }
        self.flush(id);
    }

    /// Read the sockets marked readable. One whose read budget ran out stays on the list for
    /// the next round; a paused one leaves it (resuming puts it back).
    fn read_pending(&mut self) {
        let mut ids = std::mem::take(&mut self.readable);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if !self.socks.get(&id).is_some_and(Sock::can_read) {
                continue;
            }
            self.read(id);
            self.apply_actions();
            if self.socks.get(&id).is_some_and(Sock::can_read) {
                self.readable.push(id);
            }
        }
    }

    fn read(&mut self, id: SockId) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(s) = self.socks.get_mut(&id) else { return };
            if s.read_paused || s.read_done {
                return;
            }
            let Some(stream) = s.stream.as_mut() else { return };
            if budget == 0 {
                return; // read_pending stays set: continue next round
            }
            match stream.read(&mut self.buf) {
                Ok(0) => {
                    s.read_done = true;
                    s.read_pending = false;
                    self.core.eof(Now::system(), id);
                    return;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.core.received(Now::system(), id, &self.buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    s.read_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.drop_sock(id);
                    self.core.failed(Now::system(), id, e);
                    return;
                }
            }
        }
    }
}

/// Raise the soft limit on open files to the hard limit: a router holds a socket per link and
/// per exit connection, and hostile clients should hit the handshake timeout, not EMFILE.
fn raise_fd_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                warn!("cannot raise the open-file limit: {}", io::Error::last_os_error());
            }
        }
    }
}
