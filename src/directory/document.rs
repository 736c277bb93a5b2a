//! Network documents: an authority's vote and the consensus the authorities sign (one format,
//! docs/directory.md). The body lists the routers as their own signed descriptors and the links
//! both ends declare; one `signature FINGERPRINT HEX` line per authority follows the body.
//!
//! ```text
//! ork-network-document 1
//! kind consensus                (or vote)
//! period 29412580               (valid-after / interval)
//! valid-after 1764774800
//! fresh-until 1764774860
//! valid-until 1764774980
//! router-count 2
//! ork-router-descriptor 1       (each router's descriptor, verbatim, sorted by name)
//! ...
//! signature ...
//! link r1 r2                    (both ends declare it; sorted)
//! signature 1f0c... 8a77...     (authority fingerprint, PKCS#1 v1.5 SHA-256 over the body)
//! ```

use std::collections::BTreeSet;

use rsa::RsaPrivateKey;
use thiserror::Error;

use super::authorities::Authorities;
use super::descriptor::SignedDescriptor;
use super::sign::{self, Fingerprint};
use super::text::{check_text, number, Lines, ParseError};
use crate::config::network::{Network, RouterEntry};

/// First line of a network document.
pub const DOCUMENT_HEADER: &str = "ork-network-document 1";
/// Largest document accepted (and fetched).
pub const MAX_DOCUMENT_LEN: usize = 4 * 1024 * 1024;
/// Most routers a document may list.
pub const MAX_ROUTERS: usize = 2000;
/// Most signatures a document may carry.
pub const MAX_SIGNATURES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// One authority's view, signed by it alone.
    Vote,
    /// The routers a majority of votes agree on, signed by the authorities that computed it.
    Consensus,
}

impl DocumentKind {
    fn word(self) -> &'static str {
        match self {
            DocumentKind::Vote => "vote",
            DocumentKind::Consensus => "consensus",
        }
    }
}

/// The validity times of a document (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub period: u64,
    pub valid_after: u64,
    /// Clients fetch a newer document after this.
    pub fresh_until: u64,
    /// Clients refuse the document after this.
    pub valid_until: u64,
}

/// A parsed network document. Its body is canonical: encoding a parsed document gives back the
/// same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDocument {
    pub kind: DocumentKind,
    pub validity: Validity,
    /// Sorted by name; names and addresses unique.
    pub routers: Vec<SignedDescriptor>,
    /// Indices into `routers`, (lower, higher), sorted.
    pub links: Vec<(usize, usize)>,
    pub signatures: Vec<(Fingerprint, Vec<u8>)>,
    body: String,
}

/// Why a client or authority will not use a document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DocumentRefusal {
    #[error("not a consensus (a {0} document)")]
    NotConsensus(&'static str),
    #[error("signed by {have} of the {total} authorities, {need} needed")]
    NotMajority { have: usize, need: usize, total: usize },
    #[error("expired at {valid_until} (now {now})")]
    Expired { valid_until: u64, now: u64 },
    #[error("older than the document already held (valid-after {valid_after} < {held})")]
    Replayed { valid_after: u64, held: u64 },
}

/// The links both ends declare: pairs of indices into `routers` (sorted by name).
fn declared_links(routers: &[SignedDescriptor]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, a) in routers.iter().enumerate() {
        for (j, b) in routers.iter().enumerate().skip(i + 1) {
            if a.desc.neighbors.contains(&b.desc.addr) && b.desc.neighbors.contains(&a.desc.addr) {
                out.push((i, j));
            }
        }
    }
    out
}

impl NetworkDocument {
    /// A document of `routers` (sorted by name here; they must have unique names and addresses,
    /// as [`super::consensus`] ensures), unsigned.
    pub fn new(kind: DocumentKind, validity: Validity, mut routers: Vec<SignedDescriptor>) -> NetworkDocument {
        routers.sort_by(|a, b| a.desc.name.cmp(&b.desc.name));
        let links = declared_links(&routers);
        let v = validity;
        let mut body = format!("{DOCUMENT_HEADER}\nkind {}\nperiod {}\n", kind.word(), v.period);
        body +=
            &format!("valid-after {}\nfresh-until {}\nvalid-until {}\n", v.valid_after, v.fresh_until, v.valid_until);
        body += &format!("router-count {}\n", routers.len());
        for r in &routers {
            body += &r.text;
        }
        for &(i, j) in &links {
            body += &format!("link {} {}\n", routers[i].desc.name, routers[j].desc.name);
        }
        NetworkDocument { kind, validity, routers, links, signatures: Vec::new(), body }
    }

    /// The signed bytes.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Add our signature (replacing an earlier one by the same key).
    pub fn sign(&mut self, key: &RsaPrivateKey) -> bool {
        let Some(sig) = sign::sign(key, self.body.as_bytes()) else { return false };
        let fp = Fingerprint::of(&key.to_public_key());
        self.add_signature(fp, sig);
        true
    }

    /// Add a signature made elsewhere (checked by [`NetworkDocument::signers`], not here).
    pub fn add_signature(&mut self, fp: Fingerprint, sig: Vec<u8>) {
        self.signatures.retain(|(f, _)| *f != fp);
        self.signatures.push((fp, sig));
        self.signatures.sort();
    }

    /// The whole document: body, then one signature line per signer.
    pub fn to_text(&self) -> String {
        let mut s = self.body.clone();
        for (fp, sig) in &self.signatures {
            s += &format!("signature {fp} {}\n", hex::encode(sig));
        }
        s
    }

    /// Parse a document; every embedded descriptor is verified with its own key. Authority
    /// signatures are parsed, not checked: see [`NetworkDocument::signers`].
    pub fn parse(bytes: &[u8]) -> Result<NetworkDocument, ParseError> {
        let text = check_text(bytes, MAX_DOCUMENT_LEN)?;
        let mut lines = Lines::new(text, 0);
        let (no, version) = lines.keyword("ork-network-document")?;
        if version != "1" {
            return Err(ParseError::at(no, format!("unknown document version {version:?}")));
        }
        let (no, kind) = lines.keyword("kind")?;
        let kind = match kind {
            "vote" => DocumentKind::Vote,
            "consensus" => DocumentKind::Consensus,
            other => return Err(ParseError::at(no, format!("unknown kind {other:?}"))),
        };
        let mut num = |keyword: &'static str| -> Result<(usize, u64), ParseError> {
            let (no, v) = lines.keyword(keyword)?;
            Ok((no, number(no, keyword, v)?))
        };
        let (_, period) = num("period")?;
        let (_, valid_after) = num("valid-after")?;
        let (_, fresh_until) = num("fresh-until")?;
        let (no, valid_until) = num("valid-until")?;
        if !(valid_after < fresh_until && fresh_until <= valid_until) {
            return Err(ParseError::at(no, "times out of order (valid-after < fresh-until <= valid-until)"));
        }
        let (no, count) = num("router-count")?;
        if count > MAX_ROUTERS as u64 {
            return Err(ParseError::at(no, format!("router-count {count} over {MAX_ROUTERS}")));
        }
        let mut routers: Vec<SignedDescriptor> = Vec::new();
        let mut names = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        for _ in 0..count {
            let no = lines.line_no();
            let r = SignedDescriptor::parse_lines(&mut lines)?;
            if routers.last().is_some_and(|last| last.desc.name >= r.desc.name) {
                return Err(ParseError::at(no, format!("router {} out of order or repeated", r.desc.name)));
            }
            if !names.insert(r.desc.name.clone()) || !addrs.insert(r.desc.addr) {
                return Err(ParseError::at(no, format!("router {} repeats a name or address", r.desc.name)));
            }
            routers.push(r);
        }
        let validity = Validity { period, valid_after, fresh_until, valid_until };
        let mut doc = NetworkDocument::new(kind, validity, routers);
        for &(i, j) in &doc.links {
            let (no, rest) = lines.keyword("link")?;
            let want = format!("{} {}", doc.routers[i].desc.name, doc.routers[j].desc.name);
            if rest != want {
                return Err(ParseError::at(
                    no,
                    format!("link {rest}: expected link {want} (the links both ends declare)"),
                ));
            }
        }
        while let Some((no, keyword, rest)) = lines.next_line() {
            if keyword != "signature" {
                return Err(ParseError::at(
                    no,
                    format!("unexpected {keyword:?} (links and signatures end a document)"),
                ));
            }
            let parsed =
                rest.split_once(' ').and_then(|(f, s)| Some((Fingerprint::from_hex(f)?, hex::decode(s).ok()?)));
            let Some((fp, sig)) = parsed else {
                return Err(ParseError::at(no, "expected signature FINGERPRINT HEX"));
            };
            if doc.signatures.iter().any(|(f, _)| *f == fp) || doc.signatures.len() >= MAX_SIGNATURES {
                return Err(ParseError::at(no, format!("signature by {fp} repeated, or too many signatures")));
            }
            doc.signatures.push((fp, sig));
        }
        doc.signatures.sort();
        if doc.to_text() != text {
            return Err(ParseError::at(1, "not in canonical form (number or hex spelling, signature order)"));
        }
        Ok(doc)
    }

    /// The listed authorities whose signatures verify.
    pub fn signers(&self, auths: &Authorities) -> Vec<Fingerprint> {
        let ok = |(fp, sig): &&(Fingerprint, Vec<u8>)| {
            auths.by_fingerprint(fp).is_some_and(|a| sign::verify(&a.key, self.body.as_bytes(), sig))
        };
        self.signatures.iter().filter(ok).map(|(fp, _)| *fp).collect()
    }

    /// Whether a client may use this document at `now`: a consensus, signed by a majority of
    /// `auths`, not expired, and not older than the one it holds (`held_valid_after`).
    pub fn check(&self, auths: &Authorities, now: u64, held_valid_after: Option<u64>) -> Result<(), DocumentRefusal> {
        if self.kind != DocumentKind::Consensus {
            return Err(DocumentRefusal::NotConsensus(self.kind.word()));
        }
        let have = self.signers(auths).len();
        let (need, total) = (auths.majority(), auths.list.len());
        if have < need {
            return Err(DocumentRefusal::NotMajority { have, need, total });
        }
        if now >= self.validity.valid_until {
            return Err(DocumentRefusal::Expired { valid_until: self.validity.valid_until, now });
        }
        if let Some(held) = held_valid_after.filter(|&h| self.validity.valid_after < h) {
            return Err(DocumentRefusal::Replayed { valid_after: self.validity.valid_after, held });
        }
        Ok(())
    }

    /// The onion proxy's network model (`config::Network`) of this document.
    pub fn to_network(&self) -> Network {
        let routers = self
            .routers
            .iter()
            .map(|r| RouterEntry {
                name: r.desc.name.clone(),
                addr: r.desc.addr,
                key: r.desc.key.clone(),
                key_path: format!("(directory: {})", r.desc.fingerprint()).into(),
            })
            .collect();
        Network { routers, links: self.links.clone() }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::SocketAddrV4;

    use super::*;
    use crate::directory::descriptor::Descriptor;
    use crate::directory::sign::test_keys::key;

    /// Router `i` at 10.0.0.i:9001 linked to the routers `links` name.
    pub fn router(i: usize, links: &[usize], published: u64) -> SignedDescriptor {
        let addr = |i: usize| SocketAddrV4::new([10, 0, (i / 200) as u8, (i % 200 + 1) as u8].into(), 9001);
        Descriptor {
            name: format!("r{i:02}"),
            addr: addr(i),
            key: key(i).to_public_key(),
            published,
            ciphers: vec![0, 1, 2, 3, 4],
            exit_policy: vec!["accept *:*".into()],
            neighbors: links.iter().map(|&j| addr(j)).collect(),
        }
        .sign(&key(i))
        .unwrap()
    }

    pub fn validity() -> Validity {
        Validity { period: 10, valid_after: 100, fresh_until: 110, valid_until: 130 }
    }

    pub fn authorities(n: usize) -> Authorities {
        let list = (0..n)
            .map(|i| {
                let k = key(50 + i).to_public_key();
                crate::directory::AuthorityEntry {
                    addr: SocketAddrV4::new([127, 0, 0, 1].into(), 9030 + i as u16),
                    fingerprint: Fingerprint::of(&k),
                    key: k,
                    key_path: "k".into(),
                }
            })
            .collect();
        Authorities { list }
    }

    #[test]
    fn round_trip_links_and_network_model() {
        let routers = vec![router(2, &[1, 3], 5), router(1, &[2], 5), router(3, &[1], 5)];
        let mut doc = NetworkDocument::new(DocumentKind::Consensus, validity(), routers);
        assert!(doc.sign(&key(50)));
        let text = doc.to_text();
        assert!(text.contains("\nlink r01 r02\nsignature "), "{text}");
        assert!(!text.contains("link r02 r03"), "r3 does not declare r2");
        let back = NetworkDocument::parse(text.as_bytes()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.to_text(), text);
        let net = back.to_network();
        assert_eq!(net.routers.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["r01", "r02", "r03"]);
        assert_eq!(net.neighbors(0), vec![1]);
    }

    #[test]
    fn majority_expiry_and_replay() {
        let auths = authorities(3);
        let mut doc = NetworkDocument::new(DocumentKind::Consensus, validity(), vec![router(1, &[], 5)]);
        doc.sign(&key(50));
        assert_eq!(doc.check(&auths, 120, None), Err(DocumentRefusal::NotMajority { have: 1, need: 2, total: 3 }));
        doc.add_signature(Fingerprint::of(&key(51).to_public_key()), vec![0; 128]);
        assert!(doc.check(&auths, 120, None).is_err(), "a bad signature does not count");
        doc.sign(&key(52));
        doc.sign(&key(7)); // not an authority
        assert_eq!(doc.signers(&auths).len(), 2);
        assert_eq!(doc.check(&auths, 120, None), Ok(()));
        assert_eq!(doc.check(&auths, 130, None), Err(DocumentRefusal::Expired { valid_until: 130, now: 130 }));
        assert_eq!(doc.check(&auths, 120, Some(101)), Err(DocumentRefusal::Replayed { valid_after: 100, held: 101 }));
        let mut vote = NetworkDocument::new(DocumentKind::Vote, validity(), vec![]);
        vote.sign(&key(50));
        assert_eq!(vote.check(&auths, 120, None), Err(DocumentRefusal::NotConsensus("vote")));
    }

    #[test]
    fn malformed_documents_are_refused() {
        let mut doc =
            NetworkDocument::new(DocumentKind::Consensus, validity(), vec![router(1, &[2], 5), router(2, &[1], 5)]);
        doc.sign(&key(50));
        let text = doc.to_text();
        let err = |t: String| NetworkDocument::parse(t.as_bytes()).unwrap_err().to_string();
        assert!(err(text.replace("link r01 r02", "link r02 r01")).contains("expected link r01 r02"));
        assert!(err(text.replace("router-count 2", "router-count 3")).contains("expected \"ork-router-descriptor\""));
        assert!(err(text.replace("fresh-until 110", "fresh-until 99")).contains("times out of order"));
        assert!(err(text.replace("kind consensus", "kind poll")).contains("unknown kind"));
        assert!(err(text.replace("name r02", "name r00")).contains("signature does not verify"));
        let dup = text.lines().last().unwrap().to_owned();
        assert!(err(format!("{text}{dup}\n")).contains("repeated"));
        assert!(err(format!("{text}link r01 r02\n")).contains("unexpected \"link\""));
    }
}
