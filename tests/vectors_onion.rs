//! Known-answer vectors of protocol.md §4, §5 and §6.3 (tests/vectors/, listed in protocol.md §16):
//! onions are built and peeled byte for byte, and DATA cells precrypted per function code.

use std::net::SocketAddrV4;

use ork::crypto::rsa_block::{private_key_from_pem, public_key_from_pem};
use ork::crypto::{CipherCode, Engine, KeySet};
use ork::onion::{build, peel_raw, Onion, OnionPlan, RouteHop};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn code(v: &Value) -> CipherCode {
    match v {
        Value::Number(n) => CipherCode::from_code(n.as_u64().unwrap() as u8).unwrap(),
        Value::String(s) => CipherCode::from_name(s).unwrap(),
        _ => panic!("bad code {v}"),
    }
}

#[test]
fn onions_build_and_peel_byte_for_byte() {
    let v = load("onions.json");
    let privs: Vec<_> = v["keys_pkcs8_pem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| private_key_from_pem(p.as_str().unwrap(), "vector").unwrap())
        .collect();
    let pubs: Vec<_> = v["public_spki_pem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| public_key_from_pem(p.as_str().unwrap(), "vector").unwrap())
        .collect();
    let onions = v["onions"].as_array().unwrap();
    assert_eq!(onions.len(), 3);
    let mut rng = rand::thread_rng();
    for o in onions {
        let route: Vec<RouteHop> = o["route"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, a)| RouteHop { addr: a.as_str().unwrap().parse::<SocketAddrV4>().unwrap(), key: pubs[i].clone() })
            .collect();
        let plan = OnionPlan {
            forw_f: code(&o["forw_f"]),
            back_f: code(&o["back_f"]),
            expiration: o["expiration"].as_u64().unwrap() as u32,
            seeds: o["seeds_hex"].as_array().unwrap().iter().map(|s| hx(s).try_into().unwrap()).collect(),
            innermost_pad: hx(&o["innermost_pad_hex"]),
        };
        let expected: Onion = hx(&o["onion_hex"]).try_into().unwrap();
        let built = build(&route, &plan).unwrap();
        assert_eq!(hex::encode(built), hex::encode(expected), "{} hops", route.len());

        let mut onion = expected;
        for hop in o["peeled"].as_array().unwrap() {
            let r = hop["router"].as_u64().unwrap() as usize;
            let repad: [u8; 28] = hx(&hop["repad_hex"]).try_into().unwrap();
            let p = peel_raw(&privs[r], &onion, &repad, &mut rng).unwrap();
            let l = &hop["layer"];
            assert_eq!(p.layer.back_f, code(&l["back_f"]));
            assert_eq!(p.layer.forw_f, code(&l["forw_f"]));
            assert_eq!(u64::from(p.layer.next_hop.port()), l["dest_port"].as_u64().unwrap());
            assert_eq!(p.layer.next_hop.ip().to_string(), l["dest_ip"].as_str().unwrap());
            assert_eq!(u64::from(p.layer.expiration), l["expiration"].as_u64().unwrap());
            assert_eq!(p.layer.seed.to_vec(), hx(&l["key_seed"]));
            assert_eq!(p.keys.key1.to_vec(), hx(&l["key1"]));
            assert_eq!(p.keys.key2.to_vec(), hx(&l["key2"]));
            assert_eq!(p.keys.key3.to_vec(), hx(&l["key3"]));
            assert_eq!(hex::encode(&p.inner[..212]), l_inner(hop));
            assert_eq!(&p.inner[212..], &repad);
            onion = p.inner;
        }
    }
}

fn l_inner(hop: &Value) -> String {
    hop["inner_before_repad_hex"].as_str().unwrap().to_string()
}

#[test]
fn data_cells_precrypt_per_function_code() {
    let v = load("data-cells.json");
    let sets = v["data_cells"].as_array().unwrap();
    assert_eq!(sets.len(), 5);
    for set in sets {
        let code = code(&set["function_code"]);
        let mut engines: Vec<Engine> = set["forward_key_seeds_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Engine::new(code, &KeySet::derive(&hx(s).try_into().unwrap()).key3))
            .collect();
        for cell in set["cells"].as_array().unwrap() {
            let mut body = hx(&cell["plain_len_payload_hex"]);
            assert_eq!(body.len(), 45);
            // The onion proxy precrypts with every hop's forward engine, exit's first, so
            // that each router's crypt peels one.
            for e in engines.iter_mut().rev() {
                e.apply(&mut body);
            }
            assert_eq!(hex::encode(&body), cell["precrypted_hex"].as_str().unwrap(), "{code}");
        }
    }
}
