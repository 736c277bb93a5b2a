//! Known-answer vectors for reply onions (tests/vectors/reply.json): every field — the tag
//! example, each reply onion built and peeled byte for byte (versions 0x02/0x03), the tag and
//! the endpoint leg's head, the users' line, the end-to-end layer and one forward body.

use std::net::SocketAddrV4;

use ork::crypto::rsa_block::{private_key_from_pem, public_key_from_pem};
use ork::crypto::{CipherCode, Engine, KeySet};
use ork::onion::{build_reply, peel_raw, peel_with, Onion, OnionPlan, PeelLimits, RouteHop};
use ork::reply::body::{unframe, RouteEngines};
use ork::reply::e2e::{EndToEnd, Side};
use ork::reply::line::ReplyLine;
use ork::reply::Tag;
use ork::wire::layer::LayerKind;
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn seed(v: &Value) -> [u8; 16] {
    hx(v).try_into().unwrap()
}

fn code(v: &Value) -> CipherCode {
    match v {
        Value::Number(n) => CipherCode::from_code(n.as_u64().unwrap() as u8).unwrap(),
        Value::String(s) => CipherCode::from_name(s).unwrap(),
        _ => panic!("bad code {v}"),
    }
}

#[test]
fn tag_examples() {
    let v = load("reply.json");
    let ex = v["tag_examples"].as_array().unwrap();
    assert!(!ex.is_empty());
    for e in ex {
        assert_eq!(Tag::from_seed(&seed(&e["seed_hex"])).to_hex(), e["tag_hex"].as_str().unwrap());
    }
}

#[test]
fn reply_onions_every_field() {
    let v = load("reply.json");
    let keys = load("onions.json");
    let pem = |k: &str, i: usize| keys[k][i].as_str().unwrap().to_string();
    let privs: Vec<_> = (0..5).map(|i| private_key_from_pem(&pem("keys_pkcs8_pem", i), "vector").unwrap()).collect();
    let pubs: Vec<_> = (0..5).map(|i| public_key_from_pem(&pem("public_spki_pem", i), "vector").unwrap()).collect();
    let onions = v["reply_onions"].as_array().unwrap();
    assert_eq!(onions.len(), 2);
    let mut rng = rand::thread_rng();
    for o in onions {
        let n = o["hops"].as_u64().unwrap() as usize;
        let route: Vec<RouteHop> = o["route"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, a)| RouteHop { addr: a.as_str().unwrap().parse::<SocketAddrV4>().unwrap(), key: pubs[i].clone() })
            .collect();
        assert_eq!(route.len(), n);
        let endpoint: SocketAddrV4 = o["endpoint"].as_str().unwrap().parse().unwrap();
        let seeds: Vec<[u8; 16]> = o["seeds_hex"].as_array().unwrap().iter().map(seed).collect();
        let plan = OnionPlan {
            forw_f: code(&o["forw_f"]),
            back_f: code(&o["back_f"]),
            expiration: o["expiration"].as_u64().unwrap() as u32,
            seeds: seeds.clone(),
            innermost_pad: hx(&o["innermost_pad_hex"]),
        };
        let expected: Onion = hx(&o["onion_hex"]).try_into().unwrap();
        assert_eq!(hex::encode(build_reply(&route, &plan, endpoint).unwrap()), hex::encode(expected), "{n} hops");

        // Each hop peels: the layer, its keys, the inner onion and the re-padding.
        let mut onion = expected;
        let peeled = o["peeled"].as_array().unwrap();
        assert_eq!(peeled.len(), n);
        for (i, hop) in peeled.iter().enumerate() {
            let r = hop["router"].as_u64().unwrap() as usize;
            let repad: [u8; 28] = hx(&hop["repad_hex"]).try_into().unwrap();
            let p = peel_raw(&privs[r], &onion, &repad, &mut rng).unwrap();
            let l = &hop["layer"];
            assert_eq!(l["zero_bit"].as_u64(), Some(0));
            assert_eq!(u64::from(p.layer.kind.version()), l["version"].as_u64().unwrap());
            let kind = if i + 1 == n { LayerKind::ReplyEndpoint } else { LayerKind::ReplyRelay };
            assert_eq!(p.layer.kind, kind);
            assert_eq!(p.layer.to_bytes()[0], kind.version());
            assert_eq!(p.layer.back_f, code(&l["back_f"]));
            assert_eq!(p.layer.forw_f, code(&l["forw_f"]));
            assert_eq!(u64::from(p.layer.next_hop.port()), l["dest_port"].as_u64().unwrap());
            assert_eq!(p.layer.next_hop.ip().to_string(), l["dest_ip"].as_str().unwrap());
            assert_eq!(u64::from(p.layer.expiration), l["expiration"].as_u64().unwrap());
            assert_eq!(p.layer.seed, seed(&l["key_seed"]));
            assert_eq!(p.keys.key1.to_vec(), hx(&l["key1"]));
            assert_eq!(p.keys.key2.to_vec(), hx(&l["key2"]));
            assert_eq!(p.keys.key3.to_vec(), hx(&l["key3"]));
            assert_eq!(hex::encode(&p.inner[..212]), hop["inner_before_repad_hex"].as_str().unwrap());
            assert_eq!(&p.inner[212..], &repad);
            // A router peels it with the reply lifetime, and refuses it under --no-reply-onions.
            let exp = u64::from(p.layer.expiration);
            let on = PeelLimits { max_lifetime: 3600, max_reply_lifetime: Some(86_400) };
            assert!(peel_with(&privs[r], &onion, exp - 3600, &on, &mut rng).is_ok());
            assert!(peel_with(&privs[r], &onion, exp - 86_401, &on, &mut rng).is_err());
            let off = PeelLimits { max_reply_lifetime: None, ..on };
            assert!(peel_with(&privs[r], &onion, exp - 3600, &off, &mut rng).is_err());
            onion = p.inner;
        }

        // The tag and the endpoint leg's head.
        let tag = Tag::from_seed(&seeds[n - 1]);
        assert_eq!(tag.to_hex(), o["tag_hex"].as_str().unwrap());
        assert_eq!(hex::encode(tag.leg_head()), o["endpoint_leg_head_hex"].as_str().unwrap());

        // The users' line.
        let user_seed = seed(&o["user_seed_hex"]);
        let line = ReplyLine { h1: route[0].addr, onion: expected, expiration: plan.expiration, user_seed };
        assert_eq!(line.to_string(), o["reply_line"].as_str().unwrap());
        assert_eq!(ReplyLine::parse(o["reply_line"].as_str().unwrap()).unwrap(), line);

        // The end-to-end layer, both directions, at both ends.
        let e = &o["e2e"];
        let (mut user, mut owner) = (EndToEnd::new(&user_seed, Side::User), EndToEnd::new(&user_seed, Side::Owner));
        let mut up = hx(&e["user_to_owner_plain_hex"]);
        user.seal(&mut up);
        assert_eq!(hex::encode(&up), e["user_to_owner_crypted_hex"].as_str().unwrap());
        owner.open(&mut up);
        assert_eq!(up, hx(&e["user_to_owner_plain_hex"]));
        let mut down = hx(&e["owner_to_user_plain_hex"]);
        owner.seal(&mut down);
        assert_eq!(hex::encode(&down), e["owner_to_user_crypted_hex"].as_str().unwrap());
        user.open(&mut down);
        assert_eq!(down, hx(&e["owner_to_user_plain_hex"]));

        // One forward body: framed by the user, crypted by each hop's key3 engine on the way to
        // the endpoint, and opened by the owner with all n forward engines.
        let fb = &o["first_forward_body"];
        let from_user: [u8; 45] = hx(&fb["from_user_hex"]).try_into().unwrap();
        assert_eq!(unframe(&from_user).unwrap(), &hx(&e["user_to_owner_crypted_hex"])[..]);
        let mut body = from_user;
        for s in &seeds {
            Engine::new(plan.forw_f, &KeySet::derive(s).key3).apply(&mut body);
        }
        assert_eq!(hex::encode(body), fb["at_endpoint_hex"].as_str().unwrap());
        RouteEngines::new(&seeds, plan.forw_f, plan.back_f).open_forward(&mut body);
        assert_eq!(body, from_user);
    }
}
