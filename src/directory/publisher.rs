//! A router's descriptor upload (`ork router --directory`): `POST /descriptor` to every
//! authority at start, then every publish interval (sooner after a failure), and at once when
//! the descriptor is replaced ([`Publisher::republish`], when the router's links or key change). It
//! runs beside the router's core in a [`Beside`](super::beside::Beside) wrapper, alone or inside
//! the router's [`Presence`](super::presence::Presence).

use std::time::{Duration, Instant};

use log::{info, warn};

use super::authorities::Authorities;
use super::beside::{Requests, Side, Tag};
use super::fetch::{Outcome, FETCH_TIMEOUT};
use crate::event::Now;

/// After a failed upload, the next try comes this soon (or at the interval, if shorter).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// The descriptor and when to upload it to each authority.
pub struct Publisher {
    auths: Authorities,
    descriptor: String,
    interval: Duration,
    /// Per authority: when to upload next (`None`: at the next tick).
    next: Vec<Option<Instant>>,
    /// Per authority: an upload is in flight (a replaced descriptor waits for its outcome).
    in_flight: Vec<bool>,
    /// Per authority: the descriptor was replaced while an upload was in flight.
    replaced: Vec<bool>,
}

impl Publisher {
    pub fn new(auths: Authorities, descriptor: String, interval: Duration) -> Publisher {
        let n = auths.list.len();
        Publisher {
            auths,
            descriptor,
            interval,
            next: vec![None; n],
            in_flight: vec![false; n],
            replaced: vec![false; n],
        }
    }

    /// The descriptor being uploaded.
    pub fn descriptor(&self) -> &str {
        &self.descriptor
    }

    /// Upload `descriptor` instead, to every authority now (after the upload in flight, if any).
    pub fn republish(&mut self, now: Now, descriptor: String) {
        self.descriptor = descriptor;
        self.next.iter_mut().for_each(|n| *n = Some(now.mono));
        self.replaced.iter_mut().zip(&self.in_flight).for_each(|(r, f)| *r = *f);
    }

    /// Start the uploads that are due.
    pub fn start_due(&mut self, now: Now, requests: &mut Requests) {
        for i in 0..self.auths.list.len() {
            if !self.in_flight[i] && self.next[i].map_or(true, |t| now.mono >= t) {
                let addr = self.auths.list[i].addr;
                requests.start(now, addr, "POST", "/descriptor", self.descriptor.as_bytes(), Tag::Upload(i));
                self.in_flight[i] = true;
                // The outcome (at the latest after the fetch timeout) sets the next time.
                self.next[i] = Some(now.mono + self.interval + FETCH_TIMEOUT);
            }
        }
    }

    /// An upload ended (outcomes of other requests are ignored).
    pub fn ended(&mut self, now: Now, (tag, addr, result): &Outcome<Tag>) {
        let Tag::Upload(i) = *tag else { return };
        let wait = match result {
            Ok(body) => {
                info!("descriptor uploaded to authority {addr}: {}", String::from_utf8_lossy(body).trim());
                self.interval
            }
            Err(e) => {
                warn!("descriptor upload to authority {addr} failed: {e}");
                self.interval.min(RETRY_AFTER_FAILURE)
            }
        };
        if let (Some(f), Some(n), Some(r)) = (self.in_flight.get_mut(i), self.next.get_mut(i), self.replaced.get_mut(i))
        {
            *f = false;
            // A descriptor replaced while this upload was in flight goes at once.
            *n = Some(if std::mem::take(r) { now.mono } else { now.mono + wait });
        }
    }

    /// The next upload (`None` entries are due at the next tick, which the driver gives anyway).
    pub fn due(&self) -> Option<Instant> {
        self.next.iter().zip(&self.in_flight).filter(|(_, f)| !**f).filter_map(|(n, _)| *n).min()
    }
}

impl<C> Side<C> for Publisher {
    fn outcome(&mut self, _inner: &mut C, now: Now, outcome: Outcome<Tag>, _requests: &mut Requests) {
        self.ended(now, &outcome)
    }
    fn tick(&mut self, _inner: &mut C, now: Now, requests: &mut Requests) {
        self.start_due(now, requests)
    }
    fn due(&self) -> Option<Instant> {
        Publisher::due(self)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::directory::document::tests::authorities;

    fn ok(i: usize) -> Outcome<Tag> {
        (Tag::Upload(i), "10.0.0.1:9030".parse().unwrap(), Ok(b"ok".to_vec()))
    }

    #[test]
    fn a_replaced_descriptor_goes_at_once_even_after_an_upload_in_flight() {
        let mut p = Publisher::new(authorities(1), "one".into(), Duration::from_secs(600));
        let mut reqs = Requests::for_tests();
        let t0 = Now::new(Instant::now(), 1000);
        p.start_due(t0, &mut reqs);
        assert_eq!(reqs.started(), 1, "first upload at once");
        p.republish(t0, "two".into());
        p.start_due(t0, &mut reqs);
        assert_eq!(reqs.started(), 1, "one upload in flight at a time");
        let t1 = t0.after(Duration::from_secs(1));
        p.ended(t1, &ok(0));
        assert_eq!(p.due(), Some(t1.mono), "the new descriptor is due at once");
        p.start_due(t1, &mut reqs);
        assert_eq!((reqs.started(), p.descriptor()), (2, "two"));
        let t2 = t1.after(Duration::from_secs(1));
        p.ended(t2, &ok(0));
        assert_eq!(p.due(), Some(t2.mono + Duration::from_secs(600)), "then every interval");
    }
}
