//! Unit tests of the STS handshake: two machines talking in memory, whole and byte by byte,
//! anonymous clients, and each way a handshake must fail.

use std::cell::Cell as Flag;
use std::sync::Arc;

use crypto_bigint::{Encoding, U1024};
use rand::SeedableRng;

use super::*;
use crate::link::dh::P;
use crate::wire::{Aci, Cell, Command};

const DIALLER: &str = "127.0.0.1:9002";

fn keys() -> Vec<Arc<RsaPrivateKey>> {
    crate::fuzzing::keys::vector_keys().to_vec()
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(42)
}

fn addr(s: &str) -> SocketAddrV4 {
    s.parse().expect("address")
}

/// Lookup that knows only the dialler's identity.
fn neighbours(key: &RsaPrivateKey) -> impl Fn(SocketAddrV4) -> Option<RsaPublicKey> + '_ {
    move |a| (a == addr(DIALLER)).then(|| key.to_public_key())
}

/// Feed `input` in pieces of `step` bytes; returns the completed result, the bytes sent and
/// the total consumed.
fn feed(
    mut read: impl FnMut(&[u8]) -> Result<Progress, HandshakeError>,
    input: &[u8],
    step: usize,
) -> Result<(Option<Established>, Vec<u8>, usize), HandshakeError> {
    let (mut sent, mut consumed) = (Vec::new(), 0);
    for chunk in input.chunks(step) {
        let p = read(chunk)?;
        sent.extend_from_slice(&p.send);
        consumed += p.consumed;
        if p.established.is_some() {
            return Ok((p.established, sent, consumed));
        }
        assert_eq!(p.consumed, chunk.len(), "consumes everything while incomplete");
    }
    Ok((None, sent, consumed))
}

/// Cells flow both ways through the two codecs.
fn assert_codecs_talk(a: &mut LinkCodec, b: &mut LinkCodec) {
    let mut r = rng();
    let cells = vec![
        Cell::with_data(Aci(7), Command::Create, b"onion", &mut r).expect("cell"),
        Cell::with_data(Aci(7), Command::Data, b"data", &mut r).expect("cell"),
        Cell::destroy(Aci(7), &mut r),
    ];
    for _ in 0..2 {
        one_way(a, b, &cells);
        one_way(b, a, &cells);
    }
}

fn one_way(tx: &mut LinkCodec, rx: &mut LinkCodec, cells: &[Cell]) {
    let mut wire = Vec::new();
    tx.encode_all(cells, &mut wire);
    let mut got = Vec::new();
    rx.decode(&wire, &mut got).expect("decode");
    assert_eq!(got, cells);
}

#[test]
fn router_handshake_whole_and_byte_by_byte() {
    let k = keys();
    for step in [1, 7, 100, 1000] {
        let mut r = rng();
        let local = Some((addr(DIALLER), k[0].clone()));
        let (mut d, msg1) = Dialler::new(local, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
        assert_eq!(msg1.len(), MSG1_LEN);
        assert_eq!(&msg1[..IDENTITY_LEN], &[127, 0, 0, 1, 0x23, 0x2a]);
        let mut l = Listener::new(k[1].clone(), &mut r);
        let lookup = neighbours(&k[0]);

        let (done, msg2, _) = feed(|b| l.read(b, &lookup), &msg1, step).unwrap();
        assert!(done.is_none());
        assert_eq!(msg2.len(), MSG2_LEN);
        assert!(matches!(l.incomplete(), HandshakeError::Incomplete { message: 3, have: 0, .. }));

        let (done, msg3, used) = feed(|b| d.read(b), &msg2, step).unwrap();
        let mut dialler_end = done.expect("dialler established");
        assert_eq!((used, msg3.len()), (MSG2_LEN, MSG3_LEN));
        assert_eq!(dialler_end.peer, PeerIdentity::Router(addr("127.0.0.1:9001")));
        assert_eq!(d.read(&[0]).unwrap_err(), HandshakeError::Over);

        // Message 3 followed by a cell in the same input: the listener takes only message 3.
        let mut input = msg3.clone();
        let cell = Cell::with_data(Aci(1), Command::Data, b"after", &mut r).unwrap();
        dialler_end.codec.encode(&cell, &mut input);
        let (done, sent, used) = feed(|b| l.read(b, &lookup), &input, step).unwrap();
        let mut listener_end = done.expect("listener established");
        assert!(sent.is_empty());
        assert_eq!(used, MSG3_LEN);
        assert_eq!(listener_end.peer, PeerIdentity::Router(addr(DIALLER)));
        let mut got = Vec::new();
        listener_end.codec.decode(&input[MSG3_LEN..], &mut got).unwrap();
        assert_eq!(got, vec![cell]);
        assert_codecs_talk(&mut dialler_end.codec, &mut listener_end.codec);
    }
}

#[test]
fn anonymous_client_sends_no_message_3_and_needs_no_lookup() {
    let k = keys();
    let mut r = rng();
    let (mut d, msg1) = Dialler::new(None, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
    assert_eq!(&msg1[..IDENTITY_LEN], &[0; IDENTITY_LEN]);
    let mut l = Listener::new(k[1].clone(), &mut r);
    let called = Flag::new(false);
    let lookup = |_| {
        called.set(true);
        None
    };
    let mut input = msg1.clone();
    input.extend_from_slice(&[0xaa; 10]); // not the handshake's
    let p = l.read(&input, &lookup).unwrap();
    assert!(!called.get());
    assert_eq!(p.consumed, MSG1_LEN);
    let mut listener_end = p.established.expect("anonymous established after message 1");
    assert_eq!(listener_end.peer, PeerIdentity::Anonymous);

    let (done, msg3, _) = feed(|b| d.read(b), &p.send, 1).unwrap();
    assert!(msg3.is_empty());
    let mut dialler_end = done.expect("established");
    assert_codecs_talk(&mut dialler_end.codec, &mut listener_end.codec);
}

#[test]
fn wrong_listener_key_is_a_bad_signature() {
    let k = keys();
    let mut r = rng();
    let (mut d, msg1) = Dialler::new(None, addr("127.0.0.1:9001"), k[2].to_public_key(), &mut r).unwrap();
    let mut l = Listener::new(k[1].clone(), &mut r);
    let p = l.read(&msg1, &|_| None).unwrap();
    assert_eq!(
        d.read(&p.send).unwrap_err(),
        HandshakeError::BadSignature { message: 2, signer: addr("127.0.0.1:9001") }
    );
}

#[test]
fn wrong_or_tampered_dialler_signature_is_refused() {
    let k = keys();
    for tamper in [false, true] {
        let mut r = rng();
        let local = Some((addr(DIALLER), k[0].clone()));
        let (mut d, msg1) = Dialler::new(local, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
        let mut l = Listener::new(k[1].clone(), &mut r);
        // Untampered: the neighbours file lists the wrong key for the dialler.
        let listed = if tamper { k[0].clone() } else { k[3].clone() };
        let lookup = neighbours(&listed);
        let msg2 = l.read(&msg1, &lookup).unwrap().send;
        let mut msg3 = d.read(&msg2).unwrap().send;
        if tamper {
            msg3[MSG3_LEN - 1] ^= 1;
        }
        let err = l.read(&msg3, &lookup).unwrap_err();
        assert_eq!(err, HandshakeError::BadSignature { message: 3, signer: addr(DIALLER) });
        assert_eq!(l.read(&[], &lookup).unwrap_err(), HandshakeError::Over);
    }
}

#[test]
fn tampered_message_2_is_refused() {
    let k = keys();
    let mut r = rng();
    let (mut d, msg1) = Dialler::new(None, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
    let mut msg2 = Listener::new(k[1].clone(), &mut r).read(&msg1, &|_| None).unwrap().send;
    msg2[DH_LEN + 5] ^= 0x10;
    assert!(matches!(d.read(&msg2), Err(HandshakeError::BadSignature { message: 2, .. })));
}

#[test]
fn unknown_identity_is_refused() {
    let k = keys();
    let mut r = rng();
    let stranger = addr("10.0.0.9:9005");
    let (_, msg1) =
        Dialler::new(Some((stranger, k[0].clone())), addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
    let mut l = Listener::new(k[1].clone(), &mut r);
    assert_eq!(l.read(&msg1, &neighbours(&k[0])).unwrap_err(), HandshakeError::UnknownIdentity(stranger));
}

#[test]
fn reserved_identity_cannot_dial_as_router() {
    let k = keys();
    let local = Some((addr("0.0.0.0:0"), k[0].clone()));
    let err = Dialler::new(local, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut rng()).unwrap_err();
    assert_eq!(err, HandshakeError::ReservedIdentity);
}

fn bad_values() -> Vec<[u8; DH_LEN]> {
    let one = U1024::ONE;
    vec![
        [0; DH_LEN],
        one.to_be_bytes(),
        P.wrapping_sub(&one).to_be_bytes(),
        P.to_be_bytes(),
        P.wrapping_add(&one).to_be_bytes(),
        [0xff; DH_LEN],
    ]
}

#[test]
fn out_of_range_dh_values_are_refused_both_ways() {
    let k = keys();
    for bad in bad_values() {
        let mut r = rng();
        // Listener side: a bad g^x in message 1 (anonymous, so no key is needed first).
        let mut msg1 = vec![0; IDENTITY_LEN];
        msg1.extend_from_slice(&bad);
        let mut l = Listener::new(k[1].clone(), &mut r);
        let err = l.read(&msg1, &|_| None).unwrap_err();
        assert_eq!(err, HandshakeError::BadDhValue { message: 1, source: BadPublicValue });

        // Dialler side: a bad g^y in message 2.
        let (mut d, _) = Dialler::new(None, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
        let mut msg2 = bad.to_vec();
        msg2.extend_from_slice(&[0; SIG_LEN]);
        let err = d.read(&msg2).unwrap_err();
        assert_eq!(err, HandshakeError::BadDhValue { message: 2, source: BadPublicValue });
    }
}

#[test]
fn incomplete_says_where_it_stopped() {
    let k = keys();
    let mut r = rng();
    let (mut d, msg1) = Dialler::new(None, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r).unwrap();
    assert_eq!(d.incomplete(), HandshakeError::Incomplete { message: 2, have: 0, need: MSG2_LEN });
    let _ = d.read(&[1, 2, 3]).unwrap();
    assert_eq!(d.incomplete(), HandshakeError::Incomplete { message: 2, have: 3, need: MSG2_LEN });
    let _ = d.read(&[0; MSG2_LEN]).unwrap_err();
    assert_eq!(d.incomplete(), HandshakeError::Over);
    let mut l = Listener::new(k[1].clone(), &mut r);
    let _ = l.read(&msg1[..100], &|_| None).unwrap();
    assert_eq!(l.incomplete(), HandshakeError::Incomplete { message: 1, have: 100, need: MSG1_LEN });
}

#[test]
fn identity_bytes_round_trip() {
    let a = PeerIdentity::Router(addr("192.168.1.2:65535"));
    assert_eq!(a.to_bytes(), [192, 168, 1, 2, 0xff, 0xff]);
    assert_eq!(PeerIdentity::from_bytes(&a.to_bytes()), a);
    assert_eq!(PeerIdentity::from_bytes(&[0; IDENTITY_LEN]), PeerIdentity::Anonymous);
    // Only exactly 0.0.0.0:0 is anonymous.
    assert!(matches!(PeerIdentity::from_bytes(&[0, 0, 0, 0, 0, 1]), PeerIdentity::Router(_)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary peer bytes, in arbitrary pieces, give errors or progress, never a panic.
    #[test]
    fn read_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        anonymous in proptest::prelude::any::<bool>(),
        step in 1usize..300,
    ) {
        let k = keys();
        let mut r = rng();
        let mut bytes = bytes;
        if anonymous && bytes.len() >= IDENTITY_LEN {
            bytes[..IDENTITY_LEN].fill(0);
        }
        let mut l = Listener::new(k[1].clone(), &mut r);
        let lookup = |_| Some(k[0].to_public_key());
        let _ = feed(|b| l.read(b, &lookup), &bytes, step);
        let (mut d, _) = Dialler::new(None, addr("127.0.0.1:9001"), k[1].to_public_key(), &mut r)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let _ = feed(|b| d.read(b), &bytes, step);
    }
}
