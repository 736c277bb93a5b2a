//! The consensus rule: from the votes of one period, the routers a majority of *all* listed
//! authorities vote for. Deterministic: the same votes give the same document, byte for byte,
//! at every authority, so their signatures combine.
//!
//! 1. A router (named by its key's fingerprint) is in if at least ⌊n/2⌋+1 of the n listed
//!    authorities' votes list it (an authority that sent no vote counts as not listing it).
//! 2. Its entry is the descriptor with the latest `published` among those votes (ties: the
//!    smallest text) — every one of them carries the router's own signature, so a lying
//!    authority can at most pick an older genuine descriptor, which loses.
//! 3. Routers that share a name or an address with another included router are all left out.
//! 4. Links are those both ends' descriptors declare.

use std::collections::{BTreeMap, BTreeSet};

use super::descriptor::SignedDescriptor;
use super::document::{DocumentKind, NetworkDocument, Validity};
use super::sign::Fingerprint;

/// Compute the consensus of `votes` (each authority's vote, at most one each, all of the same
/// period) for a directory of `total` authorities.
pub fn compute(votes: &[&NetworkDocument], total: usize, validity: Validity) -> NetworkDocument {
    let majority = total / 2 + 1;
    // Per router: the votes (by index) listing it and the descriptors they carry. A vote that
    // lists one key twice (under two names) still counts once.
    let mut seen: BTreeMap<Fingerprint, (BTreeSet<usize>, Vec<&SignedDescriptor>)> = BTreeMap::new();
    for (vi, vote) in votes.iter().enumerate() {
        for r in &vote.routers {
            let e = seen.entry(r.desc.fingerprint()).or_default();
            e.0.insert(vi);
            e.1.push(r);
        }
    }
    let mut chosen: Vec<&SignedDescriptor> = seen
        .into_values()
        .filter(|(voters, _)| voters.len() >= majority)
        .filter_map(|(_, v)| {
            v.into_iter().max_by(|a, b| a.desc.published.cmp(&b.desc.published).then(b.text.cmp(&a.text)))
        })
        .collect();
    let clash = |a: &SignedDescriptor, b: &SignedDescriptor| a.desc.name == b.desc.name || a.desc.addr == b.desc.addr;
    let keep: Vec<bool> = chosen
        .iter()
        .enumerate()
        .map(|(i, a)| !chosen.iter().enumerate().any(|(j, b)| i != j && clash(a, b)))
        .collect();
    let mut k = keep.iter();
    chosen.retain(|_| *k.next().unwrap_or(&false));
    NetworkDocument::new(DocumentKind::Consensus, validity, chosen.into_iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::document::tests::{router, validity};

    fn vote(routers: Vec<SignedDescriptor>) -> NetworkDocument {
        NetworkDocument::new(DocumentKind::Vote, validity(), routers)
    }

    #[test]
    fn majority_of_all_authorities_and_latest_descriptor() {
        let a = vote(vec![router(1, &[2], 5), router(2, &[1], 5), router(3, &[], 5)]);
        let b = vote(vec![router(1, &[2], 6), router(2, &[1], 5)]);
        let c = vote(vec![router(4, &[], 5)]);
        let doc = compute(&[&a, &b, &c], 3, validity());
        let names: Vec<_> = doc.routers.iter().map(|r| r.desc.name.as_str()).collect();
        assert_eq!(names, ["r01", "r02"]);
        assert_eq!(doc.routers[0].desc.published, 6);
        assert_eq!(doc.links, vec![(0, 1)]);
        // Order of votes does not matter; two votes of three listed are still a majority.
        assert_eq!(compute(&[&b, &a], 3, validity()), doc);
        // One vote of three is not.
        assert!(compute(&[&a], 3, validity()).routers.is_empty());
    }

    #[test]
    fn clashing_names_or_addresses_are_left_out() {
        let mut imposter = router(7, &[], 5).desc;
        imposter.name = "r01".into();
        let imposter = imposter.sign(&crate::directory::sign::test_keys::key(7)).unwrap();
        let a = vote(vec![router(1, &[], 5), imposter.clone(), router(2, &[], 5)]);
        let doc = compute(&[&a, &a.clone()], 3, validity());
        let names: Vec<_> = doc.routers.iter().map(|r| r.desc.name.as_str()).collect();
        assert_eq!(names, ["r02"]);
    }
}
