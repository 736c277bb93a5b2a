//! What a key file that is not an RSA key holds (Ed25519, X25519, EC, DSA, an OpenSSH key), so
//! that the error says "an Ed25519 key, not an RSA key" rather than naming an unknown OID.

use rsa::pkcs8::der::pem;
use rsa::pkcs8::{ObjectIdentifier, PrivateKeyInfo, SubjectPublicKeyInfoRef};

/// rsaEncryption (PKCS #1).
const RSA: &str = "1.2.840.113549.1.1.1";

/// If `text` holds a key of another kind than RSA, what it is (`an Ed25519 key`); `None` when
/// it is RSA or not recognisable as a key at all.
pub fn non_rsa_key(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Some("an OpenSSH private key".into());
    }
    for (prefix, kind) in [("ssh-ed25519 ", "an OpenSSH Ed25519 public key"), ("ssh-rsa ", "an OpenSSH public key")] {
        if trimmed.starts_with(prefix) {
            return Some(kind.into());
        }
    }
    let begin = trimmed.find("-----BEGIN ")?;
    let (label, der) = pem::decode_vec(&trimmed.as_bytes()[begin..]).ok()?;
    let oid = match label {
        "PRIVATE KEY" => PrivateKeyInfo::try_from(der.as_slice()).ok()?.algorithm.oid,
        "PUBLIC KEY" => SubjectPublicKeyInfoRef::try_from(der.as_slice()).ok()?.algorithm.oid,
        "EC PRIVATE KEY" | "EC PARAMETERS" => return Some("an EC key".into()),
        "DSA PRIVATE KEY" => return Some("a DSA key".into()),
        "CERTIFICATE" => return Some("a certificate".into()),
        _ => return None,
    };
    kind_of(oid)
}

fn kind_of(oid: ObjectIdentifier) -> Option<String> {
    let name = match oid.to_string().as_str() {
        RSA => return None,
        "1.3.101.112" => "an Ed25519 key",
        "1.3.101.113" => "an Ed448 key",
        "1.3.101.110" => "an X25519 key",
        "1.3.101.111" => "an X448 key",
        "1.2.840.10045.2.1" => "an EC key",
        "1.2.840.10040.4.1" => "a DSA key",
        "1.2.840.113549.1.1.10" => "an RSA-PSS key",
        other => return Some(format!("a key of algorithm {other}")),
    };
    Some(name.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` of it (RFC 8410 §10.3).
    const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
";
    const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
";

    #[test]
    fn names_other_key_kinds() {
        assert_eq!(non_rsa_key(ED25519_PRIVATE).as_deref(), Some("an Ed25519 key"));
        assert_eq!(non_rsa_key(ED25519_PUBLIC).as_deref(), Some("an Ed25519 key"));
        assert_eq!(
            non_rsa_key("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n").as_deref(),
            Some("an OpenSSH private key")
        );
        assert_eq!(non_rsa_key("ssh-ed25519 AAAAC3Nz x@y\n").as_deref(), Some("an OpenSSH Ed25519 public key"));
        assert_eq!(non_rsa_key("hello"), None);
        assert_eq!(non_rsa_key(crate::config::test_keys::public_pem()), None, "RSA is RSA");
    }
}
