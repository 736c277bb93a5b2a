//! Name lookups for the exit funnel off the reactor thread: a small pool of resolver threads
//! fed by a bounded queue. A lookup beyond the queue's limit, one no thread could be started
//! for, and one not answered within its time limit are answered at once with an error (the
//! exit answers status 3); a late answer is dropped.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use mio::Waker;

/// Resolver threads.
pub const RESOLVER_THREADS: usize = 4;
/// Lookups waiting for a thread before more are refused.
pub const RESOLVER_QUEUE: usize = 256;
/// Longest a lookup may take.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the watchdog looks for lookups past their time.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(250);

/// A lookup's answer: the request id and the addresses.
pub type Answer = (u64, io::Result<Vec<SocketAddr>>);

struct Job {
    request: u64,
    host: String,
    port: u16,
}

/// Answers each request exactly once, whoever comes first (worker, watchdog, refusal).
struct Shared {
    /// Requests not answered yet, with their deadlines.
    outstanding: Mutex<HashMap<u64, Instant>>,
    out: Mutex<mpsc::Sender<Answer>>,
    waker: Arc<Waker>,
}

impl Shared {
    fn answer(&self, request: u64, result: io::Result<Vec<SocketAddr>>) {
        let first = self.outstanding.lock().map(|mut o| o.remove(&request).is_some()).unwrap_or(false);
        if first {
            if let Ok(out) = self.out.lock() {
                let _ = out.send((request, result));
            }
            let _ = self.waker.wake();
        }
    }
}

/// The pool. Dropping it lets its threads end once their current lookup returns.
pub struct ResolverPool {
    shared: Arc<Shared>,
    queue: Option<SyncSender<Job>>,
    timeout: Duration,
}

impl ResolverPool {
    /// A pool answering into `out` and waking the reactor with `waker`.
    pub fn new(out: mpsc::Sender<Answer>, waker: Arc<Waker>) -> ResolverPool {
        ResolverPool::with_limits(out, waker, RESOLVER_THREADS, RESOLVER_QUEUE, LOOKUP_TIMEOUT)
    }

    pub fn with_limits(
        out: mpsc::Sender<Answer>,
        waker: Arc<Waker>,
        threads: usize,
        queue: usize,
        timeout: Duration,
    ) -> ResolverPool {
        let shared = Arc::new(Shared { outstanding: Mutex::new(HashMap::new()), out: Mutex::new(out), waker });
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let (shared, rx) = (Arc::clone(&shared), Arc::clone(&rx));
            match std::thread::Builder::new().name(format!("resolver-{i}")).spawn(move || work(&shared, &rx)) {
                Ok(_) => started += 1,
                Err(e) => log::warn!("cannot start resolver thread {i}: {e}"),
            }
        }
        let weak = Arc::downgrade(&shared);
        if let Err(e) = std::thread::Builder::new().name("resolver-watchdog".into()).spawn(move || watchdog(&weak)) {
            log::warn!("cannot start the resolver watchdog ({e}): lookups are not timed out");
        }
        let queue = if started == 0 {
            log::warn!("no resolver thread could be started: name lookups will fail");
            None
        } else {
            Some(tx)
        };
        ResolverPool { shared, queue, timeout }
    }

    /// Start looking `host` up; the answer comes through the pool's channel.
    pub fn submit(&self, request: u64, host: String, port: u16) {
        if let Ok(mut o) = self.shared.outstanding.lock() {
            o.insert(request, Instant::now() + self.timeout);
        }
        let refusal = match &self.queue {
            None => "no resolver thread",
            Some(q) => match q.try_send(Job { request, host, port }) {
                Ok(()) => return,
                Err(TrySendError::Full(_)) => "resolver queue full",
                Err(TrySendError::Disconnected(_)) => "resolver threads gone",
            },
        };
        log::info!("name lookup refused: {refusal}");
        self.shared.answer(request, Err(io::Error::new(io::ErrorKind::WouldBlock, refusal)));
    }
}

fn work(shared: &Shared, rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let expired = shared.outstanding.lock().map(|o| !o.contains_key(&job.request)).unwrap_or(true);
        if expired {
            continue; // timed out while queued: already answered
        }
        let result = (job.host.as_str(), job.port).to_socket_addrs().map(|it| it.collect());
        shared.answer(job.request, result);
    }
}

fn watchdog(shared: &Weak<Shared>) {
    loop {
        std::thread::sleep(WATCHDOG_PERIOD);
        let Some(shared) = shared.upgrade() else { return };
        let now = Instant::now();
        let late: Vec<u64> = match shared.outstanding.lock() {
            Ok(o) => o.iter().filter(|(_, &d)| d <= now).map(|(&r, _)| r).collect(),
            Err(_) => return,
        };
        for request in late {
            shared.answer(request, Err(io::Error::new(io::ErrorKind::TimedOut, "name lookup timed out")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Poll, Token};

    fn pool(threads: usize, queue: usize, timeout: Duration) -> (ResolverPool, Receiver<Answer>, Poll) {
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let (tx, rx) = mpsc::channel();
        (ResolverPool::with_limits(tx, waker, threads, queue, timeout), rx, poll)
    }

    #[test]
    fn literals_resolve_and_each_request_is_answered_once() {
        let (p, rx, _poll) = pool(2, 8, LOOKUP_TIMEOUT);
        for r in 0..5 {
            p.submit(r, "127.0.0.1".into(), 80);
        }
        let mut got: Vec<u64> = (0..5)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .map(|(r, a)| {
                assert_eq!(a.unwrap(), vec!["127.0.0.1:80".parse().unwrap()]);
                r
            })
            .collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err(), "no second answer");
    }

    #[test]
    fn a_full_queue_and_no_threads_refuse_at_once() {
        // No threads: every lookup is refused immediately.
        let (p, rx, _poll) = pool(0, 1, LOOKUP_TIMEOUT);
        p.submit(7, "localhost".into(), 1);
        let (r, a) = rx.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!((r, a.unwrap_err().kind()), (7, io::ErrorKind::WouldBlock));
    }

    #[test]
    fn queued_lookups_past_their_time_are_answered_by_the_watchdog() {
        // A zero timeout: the watchdog answers TimedOut (or the worker first, if it was quick);
        // either way exactly one answer.
        let (p, rx, _poll) = pool(1, 4, Duration::ZERO);
        p.submit(1, "127.0.0.1".into(), 1);
        let (r, _) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(r, 1);
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());
    }
}
