//! Router descriptors: the small text document a router signs with its own RSA key and uploads
//! to every authority (docs/directory.md has the format).
//!
//! ```text
//! ork-router-descriptor 1
//! name r1
//! address 10.0.0.1:9001
//! key 30819f30...               (SubjectPublicKeyInfo DER, hex)
//! published 1764755000          (Unix seconds)
//! ciphers 0 1 2 3 4
//! exit-policy reject proto=rlogin
//! exit-policy accept *:*
//! neighbor 10.0.0.2:9001        (one a line, any number)
//! signature 5a1f...             (PKCS#1 v1.5 SHA-256 over every byte above, hex)
//! ```

use std::net::SocketAddrV4;

use rsa::{RsaPrivateKey, RsaPublicKey};

use super::sign::{self, Fingerprint};
use super::text::{check_text, number, valid_name, Lines, ParseError};

/// First line of a descriptor.
pub const DESCRIPTOR_HEADER: &str = "ork-router-descriptor 1";
/// Largest descriptor accepted.
pub const MAX_DESCRIPTOR_LEN: usize = 16 * 1024;
/// Most neighbours and exit-policy lines a descriptor may list.
pub const MAX_LIST: usize = 64;
/// Longest exit-policy rule.
pub const MAX_RULE_LEN: usize = 200;

/// What a router says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub name: String,
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
    pub published: u64,
    pub ciphers: Vec<u8>,
    /// The exit policy, one rule a line in policy-file syntax (a summary: names are not
    /// resolved).
    pub exit_policy: Vec<String>,
    /// The routers it links to, by their identities.
    pub neighbors: Vec<SocketAddrV4>,
}

/// A descriptor with its exact signed text.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedDescriptor {
    pub desc: Descriptor,
    /// The whole text, signature line included, ending in `\n`.
    pub text: String,
}

impl Descriptor {
    /// The text the signature covers.
    fn body(&self) -> String {
        let mut s = format!("{DESCRIPTOR_HEADER}\nname {}\naddress {}\n", self.name, self.addr);
        s += &format!("key {}\npublished {}\n", sign::key_to_hex(&self.key), self.published);
        let ciphers: Vec<String> = self.ciphers.iter().map(u8::to_string).collect();
        s += &format!("ciphers {}\n", ciphers.join(" "));
        for rule in &self.exit_policy {
            s += &format!("exit-policy {rule}\n");
        }
        for n in &self.neighbors {
            s += &format!("neighbor {n}\n");
        }
        s
    }

    /// Sign with the router's key (which must be the one in `self.key`).
    pub fn sign(self, key: &RsaPrivateKey) -> Result<SignedDescriptor, ParseError> {
        let body = self.body();
        let sig = sign::sign(key, body.as_bytes()).ok_or(ParseError::BadSignature { name: self.name.clone() })?;
        let text = format!("{body}signature {}\n", hex::encode(sig));
        // Parse back what we wrote, so a descriptor we publish is one we would accept.
        SignedDescriptor::parse(text.as_bytes())
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.key)
    }
}

impl SignedDescriptor {
    /// Parse and verify a descriptor (its signature under the key it carries).
    pub fn parse(bytes: &[u8]) -> Result<SignedDescriptor, ParseError> {
        let text = check_text(bytes, MAX_DESCRIPTOR_LEN)?;
        if !text.ends_with('\n') {
            return Err(ParseError::Truncated("the final newline"));
        }
        let mut lines = Lines::new(text, 0);
        let d = SignedDescriptor::parse_lines(&mut lines)?;
        if let Some((no, k, _)) = lines.next_line() {
            return Err(ParseError::at(no, format!("unexpected {k:?} after the signature")));
        }
        Ok(d)
    }

    /// Parse a descriptor starting at the current line, up to and including its signature.
    pub(crate) fn parse_lines(lines: &mut Lines<'_>) -> Result<SignedDescriptor, ParseError> {
        let start = lines.index();
        let (no, version) = lines.keyword("ork-router-descriptor")?;
        if version != "1" {
            return Err(ParseError::at(no, format!("unknown descriptor version {version:?}")));
        }
        let (no, name) = lines.keyword("name")?;
        if !valid_name(name) {
            return Err(ParseError::at(no, format!("bad router name {name:?} (1-32 of A-Z a-z 0-9 - _ .)")));
        }
        let (no, addr) = lines.keyword("address")?;
        let addr = parse_addr(no, addr)?;
        let (no, key) = lines.keyword("key")?;
        let key = sign::key_from_hex(key)
            .ok_or_else(|| ParseError::at(no, "key: not a 1024-bit RSA key (hex SubjectPublicKeyInfo DER)"))?;
        let (no, published) = lines.keyword("published")?;
        let published = number(no, "published", published)?;
        let (no, ciphers) = lines.keyword("ciphers")?;
        let ciphers = ciphers
            .split(' ')
            .map(|c| match c.parse::<u8>() {
                Ok(n) if n <= 4 && n.to_string() == c => Ok(n),
                _ => Err(ParseError::at(no, format!("ciphers: bad cipher code {c:?} (0-4)"))),
            })
            .collect::<Result<Vec<u8>, _>>()?;
        let mut desc =
            Descriptor { name: name.to_owned(), addr, key, published, ciphers, exit_policy: vec![], neighbors: vec![] };
        loop {
            let Some((keyword, rest)) = lines.peek() else { return Err(ParseError::Truncated("signature")) };
            let no = lines.line_no();
            match keyword {
                "exit-policy"
                    if desc.exit_policy.len() < MAX_LIST && rest.len() <= MAX_RULE_LEN && !rest.is_empty() =>
                {
                    desc.exit_policy.push(rest.to_owned())
                }
                "neighbor" if desc.neighbors.len() < MAX_LIST => {
                    let n = parse_addr(no, rest)?;
                    if desc.neighbors.contains(&n) || n == desc.addr {
                        return Err(ParseError::at(no, format!("neighbor {n} repeated or the router itself")));
                    }
                    desc.neighbors.push(n)
                }
                "signature" => break,
                "exit-policy" | "neighbor" => {
                    return Err(ParseError::at(no, format!("too many or too long {keyword} lines")))
                }
                other => return Err(ParseError::at(no, format!("unexpected {other:?} in a descriptor"))),
            }
            lines.next_line();
        }
        let body = lines.raw_since(start);
        let (no, sig) = lines.keyword("signature")?;
        let sig = hex::decode(sig).map_err(|_| ParseError::at(no, "signature: not hex"))?;
        if !sign::verify(&desc.key, body.as_bytes(), &sig) {
            return Err(ParseError::BadSignature { name: desc.name });
        }
        let text = lines.raw_since(start);
        Ok(SignedDescriptor { desc, text })
    }
}

/// `A.B.C.D:PORT`, port not 0, no host names (descriptors name addresses, never resolve).
pub(crate) fn parse_addr(line: usize, s: &str) -> Result<SocketAddrV4, ParseError> {
    match s.parse::<SocketAddrV4>() {
        Ok(a) if a.port() != 0 && !a.ip().is_unspecified() && a.to_string() == s => Ok(a),
        _ => Err(ParseError::at(line, format!("expected IPv4:PORT, got {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::sign::test_keys::key;

    pub(crate) fn sample(i: usize) -> Descriptor {
        Descriptor {
            name: format!("r{i}"),
            addr: SocketAddrV4::new([10, 0, 0, i as u8].into(), 9001),
            key: key(i).to_public_key(),
            published: 1_700_000_000,
            ciphers: vec![0, 1, 2, 3, 4],
            exit_policy: vec!["reject proto=rlogin".into(), "accept *:*".into()],
            neighbors: vec![SocketAddrV4::new([10, 0, 0, 99].into(), 9001)],
        }
    }

    #[test]
    fn round_trip_and_signature() {
        let s = sample(1).sign(&key(1)).unwrap();
        assert!(s.text.starts_with("ork-router-descriptor 1\nname r1\naddress 10.0.0.1:9001\nkey 30"));
        assert!(s.text.contains("\nexit-policy accept *:*\nneighbor 10.0.0.99:9001\nsignature "));
        assert_eq!(SignedDescriptor::parse(s.text.as_bytes()).unwrap(), s);
        assert_eq!(s.desc.fingerprint(), Fingerprint::of(&key(1).to_public_key()));
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        // Signed with key 2 while carrying key 1.
        let bad = sample(1).sign(&key(2)).unwrap_err();
        assert_eq!(bad, ParseError::BadSignature { name: "r1".into() });
        let s = sample(1).sign(&key(1)).unwrap();
        let tampered = s.text.replace("address 10.0.0.1:9001", "address 10.0.0.7:9001");
        assert_eq!(SignedDescriptor::parse(tampered.as_bytes()), Err(ParseError::BadSignature { name: "r1".into() }));
    }

    #[test]
    fn malformed_descriptors_are_refused_with_the_line() {
        let s = sample(1).sign(&key(1)).unwrap().text;
        let err = |t: &str| SignedDescriptor::parse(t.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err(&s.replace("name r1", "name r 1")),
            "line 2: bad router name \"r 1\" (1-32 of A-Z a-z 0-9 - _ .)"
        );
        assert!(err(&s.replace("address 10.0.0.1:9001", "address host:1")).starts_with("line 3: expected IPv4:PORT"));
        assert!(err(&s.replace("ciphers 0 1", "ciphers 9 1")).starts_with("line 6: ciphers: bad cipher code"));
        assert!(err(&s.replace("\nsignature", "\nbogus x\nsignature")).contains("unexpected \"bogus\""));
        assert!(err(&format!("{s}extra\n")).contains("after the signature"));
        let head: String = s.split_inclusive('\n').take(3).collect();
        assert_eq!(err(&head), "ends early: key");
        assert!(err(&s.replace("key 30", "key zz")).starts_with("line 4: key: not"));
        assert_eq!(
            err(&"x".repeat(MAX_DESCRIPTOR_LEN + 1)),
            format!("{} bytes, more than the {MAX_DESCRIPTOR_LEN} allowed", MAX_DESCRIPTOR_LEN + 1)
        );
    }
}
