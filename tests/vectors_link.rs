//! Known-answer vectors of protocol.md §1 and §3.4 (tests/vectors/link.json, see protocol.md
//! §16): the STS transcript with fixed exponents, Z, both link keys, and the first
//! dialler→listener cells link-crypted after message 3.

use std::net::SocketAddrV4;
use std::sync::Arc;

use ork::crypto::rsa_block::private_key_from_pem;
use ork::crypto::RsaPublicKey;
use ork::link::dh::DhSecret;
use ork::link::{Dialler, Listener, PeerIdentity, DH_LEN};
use ork::wire::{Cell, CELL_LEN};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hx(v).try_into().unwrap()
}

#[test]
fn sts_transcript_and_first_cells_byte_for_byte() {
    let v = load("link.json");
    let keys: Vec<_> = v["keys_pkcs8_pem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Arc::new(private_key_from_pem(p.as_str().unwrap(), "link.json").unwrap()))
        .collect();
    let s = &v["sts"];
    let dialler: SocketAddrV4 = "127.0.0.1:9002".parse().unwrap();
    let listener: SocketAddrV4 = "127.0.0.1:9001".parse().unwrap();
    let (x, y) = (arr::<32>(&s["x_hex"]), arr::<32>(&s["y_hex"]));
    let mut rng = rand::thread_rng();

    // Z and the two DES keys, computed from either side.
    let gy: [u8; DH_LEN] = hx(&s["msg2_hex"])[..DH_LEN].try_into().unwrap();
    let gx: [u8; DH_LEN] = hx(&s["msg1_hex"])[6..].try_into().unwrap();
    for (secret, other) in [(DhSecret::from_exponent_bytes(&x), gy), (DhSecret::from_exponent_bytes(&y), gx)] {
        let z = secret.agree(&other).unwrap();
        assert_eq!(z.as_bytes().to_vec(), hx(&s["z_hex"]));
        let k = z.link_keys();
        assert_eq!(k.dialler_to_listener.to_vec(), hx(&s["k_dl_hex"]));
        assert_eq!(k.listener_to_dialler.to_vec(), hx(&s["k_ld_hex"]));
    }

    // Messages 1-3.
    let (mut d, msg1) =
        Dialler::with_exponent(Some((dialler, keys[0].clone())), listener, keys[1].to_public_key(), &x, &mut rng)
            .unwrap();
    assert_eq!(hex::encode(&msg1), s["msg1_hex"].as_str().unwrap(), "message 1");

    let mut l = Listener::with_exponent(keys[1].clone(), &y, &mut rng);
    let dialler_key = keys[0].to_public_key();
    let lookup = |a: SocketAddrV4| -> Option<RsaPublicKey> { (a == dialler).then(|| dialler_key.clone()) };
    let p = l.read(&msg1, &lookup).unwrap();
    assert_eq!(p.consumed, msg1.len());
    assert!(p.established.is_none());
    assert_eq!(hex::encode(&p.send), s["msg2_hex"].as_str().unwrap(), "message 2");

    let p = d.read(&p.send).unwrap();
    assert_eq!(hex::encode(&p.send), s["msg3_hex"].as_str().unwrap(), "message 3");
    let mut d_end = p.established.expect("dialler established");
    assert_eq!(d_end.peer, PeerIdentity::Router(listener));

    let p = l.read(&p.send, &lookup).unwrap();
    assert!(p.send.is_empty());
    let mut l_end = p.established.expect("listener established");
    assert_eq!(l_end.peer, PeerIdentity::Router(dialler));

    // The cells continue the dialler→listener keystream after message 3.
    let vectors = s["dialler_to_listener_cells"].as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    let mut wire = Vec::new();
    let mut plain = Vec::new();
    for c in vectors {
        let cell = Cell::from_bytes(&arr::<CELL_LEN>(&c["plain_hex"])).unwrap();
        let start = wire.len();
        d_end.codec.encode(&cell, &mut wire);
        assert_eq!(hex::encode(&wire[start..]), c["on_wire_hex"].as_str().unwrap(), "{cell:?}");
        plain.push(cell);
    }
    let mut got = Vec::new();
    for byte in wire.chunks(1) {
        l_end.codec.decode(byte, &mut got).unwrap();
    }
    assert_eq!(got, plain);
}
