//! Seeds of the directory targets (`descriptor`, `network_document`) and the reply targets
//! (`reply_formats`, `reply_endpoint`): documents signed with the vector keys, a users' line,
//! key records, endpoint sessions.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The vectors' keys 3 and 4 as a directory of two authorities (for `network_document`).
pub fn directory_authorities() -> crate::directory::Authorities {
    let list = crate::fuzzing::keys::vector_keys()[3..5]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let key = k.to_public_key();
            crate::directory::AuthorityEntry {
                addr: crate::fuzzing::keys::local(9030 + i as u16),
                fingerprint: crate::directory::Fingerprint::of(&key),
                key,
                key_path: "vector".into(),
            }
        })
        .collect();
    crate::directory::Authorities { list }
}

type Seeds = Vec<(&'static str, Vec<u8>)>;

/// Two descriptors (vector keys 0 and 1, linked) and a consensus of them signed by both
/// authorities of [`directory_authorities`].
pub(super) fn directory_seeds() -> (Seeds, Seeds) {
    use crate::directory::document::{DocumentKind, Validity};
    let keys = crate::fuzzing::keys::vector_keys();
    let descs: Vec<crate::directory::SignedDescriptor> = (0..2)
        .map(|i| {
            crate::directory::Descriptor {
                name: format!("r{}", i + 1),
                addr: crate::fuzzing::keys::local(9001 + i as u16),
                key: keys[i].to_public_key(),
                published: crate::fuzzing::keys::NOW_UNIX - 60,
                ciphers: vec![0, 1, 2, 3, 4],
                exit_policy: vec!["reject proto=rlogin".into(), "accept *:*".into()],
                neighbors: vec![crate::fuzzing::keys::local(9002 - i as u16)],
            }
            .sign(&keys[i])
            .expect("seed descriptor")
        })
        .collect();
    let now = crate::fuzzing::keys::NOW_UNIX;
    let validity = Validity { period: now / 60, valid_after: now - 30, fresh_until: now + 30, valid_until: now + 150 };
    let mut doc = crate::directory::NetworkDocument::new(DocumentKind::Consensus, validity, descs.clone());
    doc.sign(&keys[3]);
    doc.sign(&keys[4]);
    let d = vec![("r1", descs[0].text.clone().into_bytes()), ("r2", descs[1].text.clone().into_bytes())];
    (d, vec![("consensus", doc.to_text().into_bytes())])
}
pub(super) fn reply_formats() -> Vec<(&'static str, Vec<u8>)> {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/reply.json")).expect("reply vectors");
    let line = v["reply_onions"][0]["reply_line"].as_str().expect("a reply line").to_string();
    let with = |b: u8, t: &[u8]| [&[b][..], t].concat();
    let record = "ork-reply-record 1\ntag 53b8e19336652eacbf01c4ebc53593a03bfda408\nexpiration 1893456000\n\
                  functions aes-128-ctr aes-128-ctr\nseeds 00000000000000000000000000000000\n\
                  user-seed 8446ed514b66998abd4700904deedda7\n";
    let mut body = vec![18u8];
    body.extend_from_slice(&[0x5a; 44]);
    vec![
        ("line", with(0, line.as_bytes())),
        ("file", with(1, format!("# users' file\n{line}\n\n{line}\n").as_bytes())),
        ("record", with(2, record.as_bytes())),
        (
            "used-record",
            with(2, b"ork-reply-record 1\ntag 53b8e19336652eacbf01c4ebc53593a03bfda408\nexpiration 1\nused\n"),
        ),
        ("body", with(3, &body)),
    ]
}

pub(super) fn reply_endpoint() -> Vec<(&'static str, Vec<u8>)> {
    use crate::reply::body::{frame, RouteEngines};
    // A leg, the live head, two bodies crypted for the record's one-hop route, the service up,
    // its answer and EOF, the user's end of stream.
    let mut engines =
        RouteEngines::new(&[[0; 16]], crate::crypto::CipherCode::Aes128Ctr, crate::crypto::CipherCode::Aes128Ctr);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut body = |d: &[u8]| {
        let mut b = frame(d, &mut rng);
        engines.seal_backward(&mut b); // any crypting: the harness only needs 45-byte bodies
        b.to_vec()
    };
    let mut ok = vec![0u8, 2, 0];
    for b in [body(b"GET / HTTP/1.0\r\n\r\n"), body(b"")] {
        ok.extend_from_slice(&[1, 0, b.len() as u8]);
        ok.extend_from_slice(&b);
    }
    ok.extend_from_slice(&[3, 0, 0, 3, 0, 2, 5, b'h', b'e', b'l', b'l', b'o', 3, 0, 3, 6, 11, 6, 15]);
    let used = [&[0u8, 1, 0, 21, 1][..], &crate::reply::Tag::from_seed(&[1; 16]).0].concat();
    vec![("live", ok), ("used", used), ("garbage", vec![0, 1, 0, 4, 9, 9, 9, 9, 6, 15])]
}
