//! Reply onions in the simulation: the owner's endpoint in front of the echo server, reply
//! onions and their records, and a user speaking protocol 6 (with the end-to-end layer) to the
//! onion proxy.

use std::net::{SocketAddr, SocketAddrV4};

use ork::client::onion_proxy::direct::DIRECT;
use ork::client::reply_endpoint::ReplyEndpoint;
use ork::crypto::CipherCode;
use ork::onion::{build_reply, OnionPlan, RouteHop};
use ork::reply::e2e::{EndToEnd, Side};
use ork::reply::line::ReplyLine;
use ork::reply::record::{OwnerRecord, Record};
use ork::reply::store::MemStore;
use ork::reply::Tag;
use ork::sim::SimNet;
use ork::wire::standard::Host;
use ork::wire::{Protocol, StandardStructure};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use super::{keys, router_addr, ECHO};

/// Where the owner's endpoint listens.
pub fn endpoint_addr() -> SocketAddrV4 {
    "127.0.0.1:9070".parse().unwrap()
}

/// A reply onion for `route` (router indices, h1 first) naming `endpoint`, with the owner's
/// record.
pub fn reply_onion(route: &[usize], endpoint: SocketAddrV4, expiration: u32, seed: u64) -> (ReplyLine, Record) {
    reply_onion_with(CipherCode::Aes128Ctr, route, endpoint, expiration, seed)
}

/// [`reply_onion`] with function code `code` in both directions of every layer.
pub fn reply_onion_with(
    code: CipherCode,
    route: &[usize],
    endpoint: SocketAddrV4,
    expiration: u32,
    seed: u64,
) -> (ReplyLine, Record) {
    let hops: Vec<RouteHop> =
        route.iter().map(|&i| RouteHop { addr: router_addr(i), key: keys()[i].to_public_key() }).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = OnionPlan::random(hops.len(), code, code, expiration, &mut rng);
    let onion = build_reply(&hops, &plan, endpoint).expect("reply onion");
    let mut user_seed = [0u8; 16];
    rng.fill_bytes(&mut user_seed);
    let tag = Tag::from_seed(&plan.seeds[hops.len() - 1]);
    let record =
        Record::Live(OwnerRecord { tag, expiration, forw_f: code, back_f: code, seeds: plan.seeds.clone(), user_seed });
    (ReplyLine { h1: hops[0].addr, onion, expiration, user_seed }, record)
}

/// Add the owner's endpoint (relaying to the echo server) holding `records`.
pub fn add_owner(net: &mut SimNet, records: Vec<Record>) -> usize {
    let mut store = MemStore::default();
    records.into_iter().for_each(|r| store.insert(r));
    let core = ReplyEndpoint::with_rng(ECHO.parse().unwrap(), store, StdRng::seed_from_u64(11));
    net.add(core, vec![SocketAddr::V4(endpoint_addr())])
}

pub fn owner(net: &SimNet, idx: usize) -> &ReplyEndpoint<MemStore> {
    net.node::<ReplyEndpoint<MemStore>>(idx)
}

/// A user of one reply line, connected to an onion proxy.
pub struct User {
    pub conn: usize,
    line: ReplyLine,
    up: EndToEnd,
}

impl User {
    /// Connect to the onion proxy at `proxy` and send the protocol-6 request (with `--direct`'s
    /// marker when `direct`), the onion and `data`.
    pub fn start(net: &mut SimNet, proxy: SocketAddr, line: &ReplyLine, direct: bool, data: &[u8]) -> User {
        let conn = net.client_connect(proxy).expect("onion proxy listening");
        let mut s = StandardStructure::new(Protocol::Reply, Host::V4(*line.h1.ip()), line.h1.port());
        if direct {
            s.retries = DIRECT;
        }
        let mut head = s.to_bytes();
        head.extend_from_slice(&line.onion);
        let mut user = User { conn, line: line.clone(), up: EndToEnd::new(&line.user_seed, Side::User) };
        net.server_send(conn, &head);
        user.send(net, data);
        user
    }

    pub fn send(&mut self, net: &mut SimNet, data: &[u8]) {
        let mut d = data.to_vec();
        self.up.seal(&mut d);
        net.server_send(self.conn, &d);
    }

    /// The status byte, if any.
    pub fn status(&self, net: &SimNet) -> Option<u8> {
        net.server_conns[self.conn].received.first().copied()
    }

    /// Everything received after the status byte, end-to-end layer removed.
    pub fn plain(&self, net: &SimNet) -> Vec<u8> {
        let got = &net.server_conns[self.conn].received;
        let mut d = got.get(1..).unwrap_or_default().to_vec();
        EndToEnd::new(&self.line.user_seed, Side::User).open(&mut d);
        d
    }
}
