//! Directory harnesses: a router descriptor and a network document from arbitrary bytes. Rules:
//! parsing never panics, an accepted text re-encodes to exactly the same bytes (the formats are
//! canonical), and a document's majority check never panics either.

use crate::directory::document::NetworkDocument;
use crate::directory::SignedDescriptor;

use super::keys::NOW_UNIX;

/// `descriptor`: parse; if accepted, the text kept is the input.
pub fn descriptor(data: &[u8]) {
    if let Ok(d) = SignedDescriptor::parse(data) {
        assert_eq!(d.text.as_bytes(), data, "an accepted descriptor is kept verbatim");
    }
}

/// `network_document`: parse; if accepted, it re-encodes to the input and can be checked.
pub fn network_document(data: &[u8]) {
    if let Ok(doc) = NetworkDocument::parse(data) {
        assert_eq!(doc.to_text().as_bytes(), data, "documents are canonical");
        let auths = super::seeds::directory_authorities();
        let _ = doc.check(&auths, NOW_UNIX, None);
        let _ = doc.to_network();
    }
}
