//! Valid inputs each target's corpus starts from: real cells, the known-answer onions and STS
//! transcript, standard structures, an HTTP exchange, an SMTP dialogue, an rlogin session,
//! SOCKS4/4a/5 messages and sessions.
//! `tests/fuzz_corpus.rs` replays them on every `cargo test` and can write them out as corpus
//! files (`cargo test --test fuzz_corpus -- --ignored write_seeds`).

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::onion::ONION_LEN;
use crate::wire::cell::{Aci, Cell, Command};
use crate::wire::standard::{Host, Protocol, StandardStructure};

use super::keys::{link_vector, onion_vector};
use super::router_cells::op as router_op;
use super::session::op;

mod directory_reply;
pub use directory_reply::directory_authorities;
use directory_reply::{directory_seeds, reply_endpoint, reply_formats};

/// Seeds of target `name`, each with a short name.
pub fn seeds(name: &str) -> Vec<(String, Vec<u8>)> {
    let list: Vec<(&str, Vec<u8>)> = match name {
        "cell_link" => cell_link(),
        "onion_peel" => onion_peel(),
        "router_cells" => router_cells(),
        "standard_structure" => standard_structure(),
        "link_handshake" => link_handshake(),
        "http_head" => http_head(),
        "smtp" => smtp(),
        "rlogin" => rlogin(),
        "socks" => socks(),
        "descriptor" => directory_seeds().0,
        "network_document" => directory_seeds().1,
        "reply_formats" => reply_formats(),
        "reply_endpoint" => reply_endpoint(),
        _ => Vec::new(),
    };
    list.into_iter().map(|(n, v)| (format!("seed-{n}"), v)).collect()
}

fn hex_field(v: &serde_json::Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn sample_cells() -> Vec<Cell> {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    vec![
        Cell::with_data(Aci(1), Command::Create, &[7; 44], &mut rng).expect("cell"),
        Cell::with_data(Aci(1), Command::Data, b"hello", &mut rng).expect("cell"),
        Cell::padding(&mut rng),
        Cell::destroy(Aci(1), &mut rng),
    ]
}

fn cell_link() -> Vec<(&'static str, Vec<u8>)> {
    let cells = sample_cells();
    let mut plain = vec![0x80];
    cells.iter().for_each(|c| plain.extend_from_slice(&c.to_bytes()));
    let mut wire = vec![0x05];
    super::cell_link::sender().encode_all(&cells, &mut wire);
    let mut bad = wire.clone();
    bad.extend_from_slice(&[0xff; 48]);
    vec![("plain-cells", plain), ("wire-cells", wire), ("wire-then-garbage", bad)]
}

fn onion_peel() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let names = ["vector-5-hops", "vector-3-hops", "vector-1-hop"];
    for (onion, name) in onion_vector()["onions"].as_array().expect("onions").iter().zip(names) {
        let mut v = vec![0];
        v.extend_from_slice(&hex_field(&onion["onion_hex"]));
        assert_eq!(v.len(), 1 + ONION_LEN);
        v.extend_from_slice(&[0x70, 0xdc, 0x00, 0x00, 0x0e, 0x10, 0x70, 0xdc, 0x01, 0x00]);
        out.push((name, v));
    }
    let mut chosen = vec![1, 1, 0x21, 0x23, 0x29, 127, 0, 0, 1, 0x70, 0xdc, 0x2a, 0x80];
    chosen.extend((0..ONION_LEN as u8).map(|i| i.wrapping_mul(37)));
    out.push(("chosen-layer", chosen));
    out
}

/// A router script (see `router_cells.rs`).
fn router_cells() -> Vec<(&'static str, Vec<u8>)> {
    let onion = |link: u8, aci: u16, route: u8, codes: u8, offset: i16| {
        let mut v = vec![router_op::ONION, link];
        v.extend_from_slice(&aci.to_be_bytes());
        v.extend_from_slice(&[route, codes]);
        v.extend_from_slice(&offset.to_be_bytes());
        v.extend_from_slice(b"seed of onion");
        v.extend_from_slice(&[0, 0, aci as u8]);
        v
    };
    let data = |idx: u8, payload: &[u8]| {
        let mut v = vec![router_op::DATA, idx, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    };
    let structure = StandardStructure::new(Protocol::Tcp, Host::V4([127, 0, 0, 1].into()), 80).to_bytes();
    let named = StandardStructure::new(Protocol::Http, Host::Name("example.org".into()), 8080).to_bytes();

    // One hop: the exit connects, relays both ways, then the client destroys.
    let mut exit = vec![8];
    exit.extend(onion(0, 1, 0, 0x22, 60));
    exit.extend(data(0, &structure));
    exit.extend([router_op::TIME, 4, router_op::EXIT, 0, 0, 0]);
    exit.extend([router_op::EXIT, 0, 2, 5]);
    exit.extend_from_slice(b"hello");
    exit.extend(data(0, b"GET / HTTP/1.0\r\n\r\n"));
    exit.extend([router_op::TIME, 4, router_op::EXIT, 0, 3, 0, router_op::DESTROY, 0, router_op::TIME, 4]);
    exit.extend([router_op::STATUS]);

    // Two hops through the neighbour, a name to resolve, codes 1 and 3.
    let mut forward = vec![8 | 1];
    forward.extend(onion(0, 0x22, 2, 0x13, 120));
    forward.extend(data(0, &named));
    forward.extend([router_op::TIME, 10]);
    forward.extend(onion(0, 0x23, 3, 0x44, 30));
    forward.extend(onion(0, 0x24, 0, 0x00, -30));
    forward.extend([router_op::TIME, 210, router_op::LINK_END, 1, 0, router_op::TIME, 4]);

    // The vector onion (5 hops; its next hop is the neighbour) sent as raw CREATE cells, then
    // a replay of it, shutdown at the end.
    let mut vector = vec![64 | 8];
    let bytes = hex_field(&onion_vector()["onions"][0]["onion_hex"]);
    for aci in [5u16, 6] {
        for chunk in bytes.chunks(44) {
            let mut cell = vec![router_op::CELL, 0];
            cell.extend_from_slice(&aci.to_be_bytes());
            cell.push(Command::Create as u8);
            cell.push(chunk.len() as u8);
            cell.extend_from_slice(chunk);
            cell.resize(2 + 48, 0);
            vector.extend(cell);
        }
    }
    vector.extend([router_op::TIME, 4, router_op::BUFFERED, 1, 0, 1, 0, 0, router_op::RAW, 1, 3, 1, 2, 3]);
    vec![("exit", exit), ("two-hops", forward), ("vector-onion", vector)]
}

fn standard_structure() -> Vec<(&'static str, Vec<u8>)> {
    let s = |p, h: Host, port| StandardStructure::new(p, h, port).to_bytes();
    let mut with_data = s(Protocol::Http, Host::Name("www.example.org".into()), 80);
    with_data.extend_from_slice(b"GET / HTTP/1.1\r\n");
    vec![
        ("name", with_data),
        ("v4", s(Protocol::Tcp, Host::V4([192, 0, 2, 1].into()), 65535)),
        ("v6", s(Protocol::Smtp, Host::V6(std::net::Ipv6Addr::LOCALHOST), 25)),
        ("rlogin", s(Protocol::Rlogin, Host::Name("a-b_c.example.".into()), 513)),
        // A policy file with every rule form: bracketed IPv6 ranges, the IPv4-mapped block,
        // protocol keywords (the input also goes through the policy parser).
        (
            "policy",
            b"# exit policy\nreject [::ffff:0:0]/96:*\naccept [2001:db8::]/32:443 proto=reply\n\
              accept 10.0.0.0/8:513 proto=rlogin\naccept *:* proto=resolve\nreject 127.0.0.0/8:*\naccept *:80-443\n"
                .to_vec(),
        ),
    ]
}

fn link_handshake() -> Vec<(&'static str, Vec<u8>)> {
    let sts = &link_vector()["sts"];
    let msg1 = hex_field(&sts["msg1_hex"]);
    let msg2 = hex_field(&sts["msg2_hex"]);
    let msg3 = hex_field(&sts["msg3_hex"]);
    let mut cells = Vec::new();
    for c in sts["dialler_to_listener_cells"].as_array().expect("cells") {
        cells.extend(hex_field(&c["on_wire_hex"]));
    }
    let mut listener = vec![0];
    listener.extend([&msg1[..], &msg3, &cells].concat());
    let mut anonymous = vec![4];
    anonymous.extend_from_slice(&[0; 6]);
    anonymous.extend_from_slice(&msg1[6..]);
    anonymous.extend_from_slice(&[0xaa; 48]);
    let mut dialler = vec![1];
    dialler.extend_from_slice(&msg2);
    dialler.extend_from_slice(&[0x55; 48]);
    let mut anonymous_dialler = vec![2];
    anonymous_dialler.extend_from_slice(&msg2);
    vec![
        ("listener", listener),
        ("listener-anonymous", anonymous),
        ("dialler", dialler),
        ("dialler-anonymous", anonymous_dialler),
    ]
}

/// A session script (see `session.rs`).
#[derive(Default)]
struct Script(Vec<u8>);

impl Script {
    fn new(mode: u8) -> Self {
        Script(vec![mode])
    }

    fn client(mut self, bytes: &[u8]) -> Self {
        for chunk in bytes.chunks(usize::from(u16::MAX)) {
            self.0.push(op::CLIENT_LONG);
            self.0.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            self.0.extend_from_slice(chunk);
        }
        self
    }

    fn status(mut self, id: u8, status: u8) -> Self {
        self.0.extend_from_slice(&[op::STATUS, id, status]);
        self
    }

    fn upstream(mut self, id: u8, bytes: &[u8]) -> Self {
        for chunk in bytes.chunks(255) {
            self.0.extend_from_slice(&[op::UPSTREAM, id, chunk.len() as u8]);
            self.0.extend_from_slice(chunk);
        }
        self
    }

    fn upstream_eof(mut self, id: u8) -> Self {
        self.0.extend_from_slice(&[op::UPSTREAM_EOF, id]);
        self
    }

    fn upstream_reset(mut self, id: u8) -> Self {
        self.0.extend_from_slice(&[op::UPSTREAM_RESET, id]);
        self
    }

    fn client_eof(mut self) -> Self {
        self.0.push(op::CLIENT_EOF);
        self
    }
}

fn http_head() -> Vec<(&'static str, Vec<u8>)> {
    let request = b"GET http://www.Example.org:8080/a/b?c=d#frag HTTP/1.1\r\nHost: www.example.org\r\n\
User-Agent: curl/8.0\r\nCookie: id=1\r\nProxy-Connection: keep-alive\r\nConnection: x-secret\r\n\
X-Secret: 1\r\nAccept: */*\r\n\r\n";
    let post = b"POST http://[::1]/form HTTP/1.0\r\nContent-Length: 5\r\nReferer: http://a/\r\n\r\nhello";
    let connect = b"CONNECT www.example.org:443 HTTP/1.1\r\nHost: www.example.org:443\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\
Connection: keep-alive\r\nKeep-Alive: 5\r\nX-Ok: yes\r\n\r\n";
    let chunked = b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: a\r\nX-Drop: b\r\n obs-fold\r\n\r\n";
    let with = |mode: u8, bytes: &[u8]| [&[mode][..], bytes].concat();
    let mut body = vec![2, 2, 7];
    body.extend_from_slice(chunked);
    let mut length = vec![2 | 4, 1, 0, 0, 0, 5, 3];
    length.extend_from_slice(b"hello world");
    let session = Script::new(3 | 4)
        .client(request)
        .status(0, 0)
        .upstream(0, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: x=y\r\n\r\nhello")
        .client(post)
        .status(1, 0)
        .upstream(1, b"HTTP/1.0 204 No Content\r\n\r\n")
        .client_eof()
        .upstream_eof(0);
    let tunnel = Script::new(3)
        .client(connect)
        .status(0, 0)
        .client(b"\x16\x03\x01 tls bytes")
        .upstream(0, b"\x16\x03\x03 server")
        .upstream_eof(0)
        .client_eof();
    vec![
        ("request", with(4, request)),
        ("request-post", with(0, post)),
        ("request-connect", with(0, connect)),
        ("response", with(4, response)),
        ("response-head", with(1 | 8, b"HTTP/1.0 304 Not Modified\r\nContent-Length: 3\r\n\r\n")),
        ("body-chunked", body),
        ("body-length", length),
        ("session", session.0),
        ("session-connect", tunnel.0),
    ]
}

fn smtp() -> Vec<(&'static str, Vec<u8>)> {
    let commands = b"EHLO client.example\r\nMAIL FROM:<joe@sender.com> SIZE=10\r\n\
RCPT TO:<mary%recipient.com@onion.com> NOTIFY=NEVER\r\nrcpt to: u%[192.0.2.1]\r\nDATA\r\nVRFY x\r\nQUIT\r\n";
    let replies =
        b"220-recipient.com Sendmail ready\r\n220 at your service\r\n250-recipient.com\r\n250 8BITMIME\n354 go\r\n";
    let message = b"From: joe@sender.com\r\nSubject: hi\r\n\tfolded\r\nReceived: x\r\nMIME-Version: 1.0\r\n\r\n\
body line\r\n..dot-stuffed\r\n.\r\nQUIT\r\n";
    let with = |mode: u8, pattern: Option<u8>, bytes: &[u8]| {
        let mut v = vec![mode];
        v.extend(pattern);
        v.extend_from_slice(bytes);
        v
    };
    let dialogue = |mode: u8| {
        Script::new(mode)
            .client(b"EHLO client.example\r\nMAIL FROM:<joe@sender.com>\r\nRCPT TO:<mary%recipient.com@onion.com>\r\n")
            .status(0, 0)
            .upstream(0, b"220 recipient.com ESMTP\r\n")
            .upstream(0, b"250-recipient.com hello\r\n250 8BITMIME\r\n")
            .upstream(0, b"250 sender ok\r\n")
            .upstream(0, b"250 recipient ok\r\n")
            .client(b"DATA\r\n")
            .upstream(0, b"354 go ahead\r\n")
            .client(message)
            .upstream(0, b"250 queued\r\n")
            .upstream(0, b"221 bye\r\n")
            .client_eof()
            .0
    };
    vec![
        ("commands", with(0, None, commands)),
        ("replies", with(1, Some(3), replies)),
        ("message-keep-all", with(2, Some(5), message)),
        ("message-delete", with(2 | 4, Some(9), message)),
        ("message-keep-some", with(2 | 8, Some(1), message)),
        ("session", dialogue(3 | 4)),
        ("session-keep-headers", dialogue(3 | 8)),
    ]
}

fn rlogin() -> Vec<(&'static str, Vec<u8>)> {
    let request = b"\0joe\0mary@server.example\0xterm/38400\0";
    let session = Script::new(1)
        .client(request)
        .status(0, 0)
        .upstream(0, b"\0Last login: never\r\n$ ")
        .client(b"ls\r")
        .upstream(0, b"file\r\n$ ")
        .client_eof()
        .upstream_eof(0);
    let refused = Script::new(1).client(request).status(0, 6);
    let reset = Script::new(1).client(request).status(0, 0).client(b"x").upstream_reset(0);
    vec![
        ("request", [&[0][..], request, b"trailing"].concat()),
        ("session", session.0),
        ("session-refused", refused.0),
        ("session-reset", reset.0),
    ]
}

fn socks() -> Vec<(&'static str, Vec<u8>)> {
    let greeting: &[u8] = &[5, 2, 0, 2];
    let auth: &[u8] = b"\x01\x05alice\x06secret";
    let connect_name: &[u8] = b"\x05\x01\x00\x03\x0bexample.org\x00\x50";
    let connect_v6: &[u8] = &[5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80];
    let resolve: &[u8] = b"\x05\xf0\x00\x03\x0bexample.org\x00\x00";
    let socks4a: &[u8] = b"\x04\x01\x00\x50\x00\x00\x00\x01joe\x00example.org\x00";
    let socks4: &[u8] = &[4, 1, 0, 80, 127, 0, 0, 1, b'j', 0];
    let session = Script::new(4)
        .client(&[greeting, auth, connect_name, b"GET / HTTP/1.0\r\n\r\n"].concat())
        .status(0, 0)
        .upstream(0, b"HTTP/1.0 200 OK\r\n\r\nhello")
        .client_eof()
        .upstream_eof(0);
    let resolved = Script::new(4)
        .client(&[&[5, 1, 0][..], resolve].concat())
        .status(0, 0)
        .upstream(0, b"93.184.216.34")
        .upstream_eof(0);
    let refused = Script::new(4).client(socks4a).status(0, 6);
    vec![
        ("greeting", [&[0][..], greeting].concat()),
        ("auth", [&[1][..], auth].concat()),
        ("request-name", [&[2][..], connect_name].concat()),
        ("request-v6", [&[2][..], connect_v6].concat()),
        ("request-resolve", [&[2][..], resolve].concat()),
        ("socks4a", [&[3][..], socks4a].concat()),
        ("socks4", [&[3][..], socks4].concat()),
        ("session", session.0),
        ("session-resolve", resolved.0),
        ("session-refused", refused.0),
    ]
}
