//! Byte-level tests of the HTTP proxy session: requests and responses fed as whole chunks and
//! byte by byte, pipelining across hosts, keep-alive filtering, bodies, errors and tunnels.

use proptest::prelude::*;

use super::{HttpConfig, HttpSession, GENERIC_USER_AGENT};
use crate::proxy::testutil::{event_strategy, run_events, Harness};
use crate::proxy::Session;
use crate::wire::standard::{Host, Protocol, Status};

fn proxy(filter: bool) -> Harness<HttpSession> {
    Harness::new(HttpSession::new(HttpConfig::filtered(filter)))
}

const BROWSER_GET: &str = "GET http://www.server.com/file.html?q=1#frag HTTP/1.1\r\n\
    Host: wrong.example\r\nReferer: http://www.server.com/index.html\r\nProxy-Connection: Keep-Alive\r\n\
    User-Agent: Mozilla/3.0 (X11; I; SunOS 5.4 sun4m)\r\nCookie: id=42\r\nFrom: joe@sender.com\r\n\
    Authorization: Basic am9lOng=\r\nAccept: image/gif\r\n\r\n";

const FILTERED_GET: &str = "GET /file.html?q=1 HTTP/1.1\r\nHost: www.server.com\r\n\
    User-Agent: Mozilla/5.0 (compatible)\r\nAccept: image/gif\r\n\r\n";

const COOKIE_RESPONSE: &str = "HTTP/1.1 200 OK\r\nSet-Cookie: track=1\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn get_is_rewritten_filtered_and_answered() {
    for trickle in [false, true] {
        let mut h = proxy(true);
        if trickle {
            h.client_trickles(BROWSER_GET.as_bytes());
        } else {
            h.client_sends(BROWSER_GET.as_bytes());
        }
        let id = h.last_opened();
        let s = h.peer(id).structure.clone().unwrap();
        assert_eq!((s.protocol, s.host, s.port), (Protocol::Http, Host::Name("www.server.com".into()), 80));
        assert_eq!(h.take_upstream(id), FILTERED_GET, "optimistic: sent before the status byte");
        h.status(id, Status::Ok);
        assert_eq!(h.take_upstream(id), "");
        if trickle {
            h.upstream_trickles(id, COOKIE_RESPONSE.as_bytes());
        } else {
            h.upstream_sends(id, COOKIE_RESPONSE.as_bytes());
        }
        assert_eq!(h.take_client(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        assert!(!h.peer(id).closed && !h.client_write_shut, "keep-alive on both sides");
    }
    assert!(FILTERED_GET.contains(GENERIC_USER_AGENT));
}

#[test]
fn filter_applies_to_every_request_of_a_keep_alive_connection() {
    for filter in [true, false] {
        let mut h = proxy(filter);
        h.client_sends(b"GET http://a.example/1 HTTP/1.1\r\nAccept: */*\r\n\r\n");
        let id = h.last_opened();
        h.status(id, Status::Ok);
        h.take_upstream(id);
        h.upstream_sends(id, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1");
        h.take_client();
        h.client_sends(b"GET http://a.example/2 HTTP/1.1\r\nCookie: id=1\r\nUser-Agent: me\r\nVia: x\r\n\r\n");
        assert_eq!(h.opened.len(), 1, "the anonymous connection is reused");
        let second = h.take_upstream(id);
        assert_eq!(second.contains("Cookie"), !filter, "{second}");
        assert_eq!(second.contains("Via: x"), !filter, "{second}");
        assert_eq!(second.contains(GENERIC_USER_AGENT), filter, "{second}");
        h.upstream_sends(id, COOKIE_RESPONSE.as_bytes());
        assert_eq!(h.take_client().contains("Set-Cookie"), !filter);
    }
}

#[test]
fn pipelined_requests_to_two_hosts_answer_in_order() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/ HTTP/1.1\r\n\r\nGET http://b.example:8080/x HTTP/1.1\r\n\r\n");
    let (a, b) = (h.opened[0], h.opened[1]);
    assert_eq!(h.peer(b).structure.as_ref().unwrap().port, 8080);
    h.status(b, Status::Ok);
    h.status(a, Status::Ok);
    assert_eq!(h.take_upstream(b), "GET /x HTTP/1.1\r\nHost: b.example:8080\r\n\r\n");
    assert_eq!(h.take_upstream(a), "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    h.upstream_sends(b, b"HTTP/1.1 200 OK\r\nSet-Cookie: b=1\r\nContent-Length: 1\r\n\r\nB");
    assert_eq!(h.take_client(), "", "b waits for a");
    h.upstream_trickles(a, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n");
    assert_eq!(
        h.take_client(),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB"
    );
}

#[test]
fn same_host_requests_wait_for_the_connection() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/1 HTTP/1.1\r\n\r\nGET http://a.example/2 HTTP/1.1\r\n\r\n");
    let a = h.last_opened();
    h.status(a, Status::Ok);
    assert_eq!(h.take_upstream(a), "GET /1 HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert!(!h.session.wants_client_data(), "a request is held");
    h.upstream_sends(a, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.take_upstream(a), "GET /2 HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(h.opened.len(), 1);
}

#[test]
fn read_until_close_response_ends_the_client_connection() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let first = h.last_opened();
    h.status(first, Status::Ok);
    h.upstream_sends(first, b"HTTP/1.0 200 OK\r\n\r\nbody until close");
    h.upstream_eof(first);
    assert_eq!(h.take_client(), "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nbody until close");
    assert!(h.peer(first).closed && h.client_write_shut);
    h.client_eof();
    assert!(h.session.is_finished());
}

#[test]
fn http10_keep_alive_and_reuse_with_retry() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let first = h.last_opened();
    h.status(first, Status::Ok);
    h.upstream_sends(first, b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(h.take_client(), "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    h.client_sends(b"GET http://a.example/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(h.opened.len(), 1);
    h.upstream_eof(first); // the server timed out the idle connection just as we reused it
    let second = h.last_opened();
    assert_ne!(first, second);
    h.status(second, Status::Ok);
    assert_eq!(h.take_upstream(second), "GET /2 HTTP/1.0\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n");
    h.upstream_sends(second, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert!(
        h.take_client().ends_with("Connection: keep-alive\r\n\r\nok"),
        "the response is framed: the client keeps its connection"
    );
    assert!(h.peer(second).closed, "the HTTP/1.0 server did not keep alive");
}

#[test]
fn chunked_request_body_is_relayed_and_filtered_trailers() {
    let mut h = proxy(true);
    let post = "POST http://a.example/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                4\r\nWiki\r\n5\r\npedia\r\n0\r\nCookie: x\r\nX-Sum: 9\r\n\r\n";
    h.client_trickles(post.as_bytes());
    let a = h.last_opened();
    h.status(a, Status::Ok);
    assert_eq!(
        h.take_upstream(a),
        "POST /up HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n\
         4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Sum: 9\r\n\r\n"
    );
}

#[test]
fn content_length_body_then_next_request() {
    let mut h = proxy(true);
    h.client_sends(b"POST http://a.example/ HTTP/1.1\r\nContent-Length: 7\r\n\r\nabc");
    let a = h.last_opened();
    h.client_sends(b"defgGET http://b.example/ HTTP/1.1\r\n\r\n");
    h.status(a, Status::Ok);
    assert_eq!(h.take_upstream(a), "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 7\r\n\r\nabcdefg");
    assert_eq!(h.opened.len(), 2);
}

#[test]
fn head_interim_and_bodiless_responses() {
    let mut h = proxy(true);
    h.client_sends(b"HEAD http://a.example/ HTTP/1.1\r\n\r\n");
    let a = h.last_opened();
    h.status(a, Status::Ok);
    h.upstream_sends(a, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    assert_eq!(h.take_client(), "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    h.client_sends(b"PUT http://a.example/ HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
    h.upstream_sends(a, b"HTTP/1.1 100 Continue\r\nSet-Cookie: no\r\n\r\n");
    assert_eq!(h.take_client(), "HTTP/1.1 100 Continue\r\n\r\n");
    h.client_sends(b"x");
    h.upstream_sends(a, b"HTTP/1.1 204 No Content\r\n\r\n");
    h.client_sends(b"GET http://a.example/ HTTP/1.1\r\n\r\n");
    h.upstream_sends(a, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
    assert_eq!(
        h.take_client(),
        "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"
    );
    assert_eq!(h.opened.len(), 1);
}

#[test]
fn bad_status_gives_502_naming_the_cause_and_keeps_the_connection() {
    let mut h = proxy(true);
    h.client_sends(b"POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\n\r\nab");
    let a = h.last_opened();
    h.status(a, Status::Policy);
    assert!(h.peer(a).closed);
    let reply = h.take_client();
    assert!(reply.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{reply}");
    assert!(reply.contains(Status::Policy.meaning()), "{reply}");
    h.client_sends(b"cGET http://b.example/ HTTP/1.1\r\n\r\n");
    assert_eq!(h.opened.len(), 2, "the body was discarded and the next request read");
}

#[test]
fn refused_requests() {
    let cases: [(&[u8], &str); 6] = [
        (b"GET /local HTTP/1.1\r\n\r\n", "400"),
        (b"GET ftp://a.example/f HTTP/1.1\r\n\r\n", "501"),
        (b"GET https://a.example/ HTTP/1.1\r\n\r\n", "501"),
        (b"GET http://a..b/ HTTP/1.1\r\n\r\n", "400"),
        (b"\x01\x02garbage\r\n\r\n", "400"),
        (b"POST http://a.example/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
    ];
    for (request, code) in cases {
        let mut h = proxy(true);
        h.client_sends(request);
        let reply = h.take_client();
        assert!(reply.starts_with(&format!("HTTP/1.1 {code} ")), "{reply}");
        assert!(reply.contains("Connection: close"));
        assert!(h.opened.is_empty() && h.client_write_shut);
    }
    let mut h = proxy(true);
    let mut big = b"GET http://a.example/ HTTP/1.1\r\nX: ".to_vec();
    big.resize(crate::proxy::HEAD_LIMIT + 10, b'a');
    h.client_sends(&big);
    assert!(h.take_client().starts_with("HTTP/1.1 431 "));
}

#[test]
fn connect_tunnels_raw_bytes() {
    let mut h = proxy(true);
    h.client_sends(b"CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n\r\n\x16\x03early");
    let t = h.last_opened();
    let s = h.peer(t).structure.clone().unwrap();
    assert_eq!((s.protocol, s.port), (Protocol::Tcp, 443));
    h.status(t, Status::Ok);
    assert_eq!(h.take_client(), "HTTP/1.1 200 Connection established\r\n\r\n");
    assert_eq!(h.take_upstream(t), "\x16\x03early");
    h.client_sends(b"Cookie: not parsed");
    h.upstream_sends(t, b"Set-Cookie: raw");
    assert_eq!((h.take_upstream(t), h.take_client()), ("Cookie: not parsed".into(), "Set-Cookie: raw".into()));
    h.client_eof();
    assert!(h.peer(t).write_shut);
    h.upstream_eof(t);
    assert!(h.client_closed && h.peer(t).closed);
}

/// Found by fuzzing (`fuzz/regressions/http_head/close-client-with-upstream-open`): a CONNECT
/// after a keep-alive GET left the GET's idle anonymous connection open for good.
#[test]
fn connect_after_keep_alive_releases_the_idle_connection() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://www.example.org/ HTTP/1.1\r\n\r\n");
    let get = h.last_opened();
    h.status(get, Status::Ok);
    h.upstream_sends(get, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert!(!h.peer(get).closed, "kept alive for the next request");
    h.client_sends(b"CONNECT www.example.org:443 HTTP/1.1\r\n\r\n");
    let t = h.last_opened();
    assert_ne!(t, get);
    h.status(t, Status::Ok);
    assert!(h.peer(get).closed, "the tunnel takes the client connection: the idle one is released");
    h.client_eof();
    h.upstream_eof(t);
    assert!(h.client_closed && h.peer(t).closed);
}

#[test]
fn connect_failure_is_502() {
    let mut h = proxy(true);
    h.client_sends(b"CONNECT secure.example:443 HTTP/1.1\r\n\r\n");
    h.status(h.last_opened(), Status::ConnectFailed);
    assert!(h.take_client().starts_with("HTTP/1.1 502 "));
    assert!(h.client_write_shut);
}

#[test]
fn broken_responses() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/ HTTP/1.1\r\n\r\n");
    let a = h.last_opened();
    h.status(a, Status::Ok);
    h.upstream_sends(a, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
    h.upstream_eof(a);
    assert!(h.client_closed, "a cut response cuts the client connection");

    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/ HTTP/1.1\r\n\r\n");
    let a = h.last_opened();
    h.status(a, Status::Ok);
    h.upstream_sends(a, b"NOT HTTP\r\n\r\n");
    assert!(h.take_client().starts_with("HTTP/1.1 502 "));
    assert!(h.peer(a).closed && !h.client_write_shut);
}

#[test]
fn backpressure_on_later_responses() {
    let mut h = proxy(true);
    h.client_sends(b"GET http://a.example/ HTTP/1.1\r\n\r\nGET http://b.example/ HTTP/1.1\r\n\r\n");
    let (a, b) = (h.opened[0], h.opened[1]);
    h.status(a, Status::Ok);
    h.status(b, Status::Ok);
    assert!(h.session.wants_upstream_data(b));
    h.upstream_sends(b, &vec![b'x'; crate::proxy::BUFFER_LIMIT]);
    assert!(!h.session.wants_upstream_data(b) && h.session.wants_upstream_data(a));
    h.upstream_sends(a, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(h.take_client().starts_with("HTTP/1.1 200 OK\r\n"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_events_never_panic(events in proptest::collection::vec(event_strategy(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            Just(b"GET http://a.example/ HTTP/1.1\r\n\r\n".to_vec()),
            Just(b"POST http://b.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec()),
            Just(b"CONNECT c.example:443 HTTP/1.1\r\n\r\n".to_vec()),
        ]), 0..40), filter: bool) {
        run_events(HttpSession::new(HttpConfig::filtered(filter)), events);
    }
}
