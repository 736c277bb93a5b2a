//! ACI allocation on one link (protocol.md §2): each end owns one half of the ACI space and draws new
//! ACIs uniformly at random among the free ones of its half, so an ACI leaks nothing about how
//! many connections the link has carried.

use rand::{CryptoRng, Rng, RngCore};

use crate::wire::Aci;

/// Bytes of a link identity: IPv4 address ‖ port (protocol.md §3).
pub const IDENTITY_LEN: usize = 6;

/// The 6-byte identity (IPv4 ‖ port) as compared for ACI halves and link direction.
pub fn id_bytes(a: std::net::SocketAddrV4) -> [u8; IDENTITY_LEN] {
    let mut b = [0u8; IDENTITY_LEN];
    b[..4].copy_from_slice(&a.ip().octets());
    b[4..].copy_from_slice(&a.port().to_be_bytes());
    b
}
/// The most ACIs a half holds (the high half; the low half has one fewer, as ACI 0 is PADDING).
pub const MAX_HALF_SIZE: usize = 0x8000;
const WORD_BITS: usize = u64::BITS as usize;
const WORDS: usize = MAX_HALF_SIZE / WORD_BITS;
/// Rejection-sampling draws tried before falling back to an exact rank search.
const REJECTION_TRIES: usize = 8;

/// The half of the ACI space one end of a link allocates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Half {
    /// 0x0001..=0x7FFF: the end with the lower address (anonymous clients, 0.0.0.0:0, always).
    Low,
    /// 0x8000..=0xFFFF: the end with the higher address.
    High,
}

impl Half {
    /// The first ACI of the half.
    pub fn first(self) -> u16 {
        match self {
            Half::Low => 0x0001,
            Half::High => 0x8000,
        }
    }

    /// How many ACIs the half holds: 32767 (low) or 32768 (high).
    pub fn size(self) -> usize {
        match self {
            Half::Low => 0x7FFF,
            Half::High => 0x8000,
        }
    }

    /// Whether `aci` lies in this half (the ACIs this end may allocate).
    pub fn contains(self, aci: Aci) -> bool {
        self.index(aci).is_some()
    }

    fn index(self, aci: Aci) -> Option<usize> {
        let i = usize::from(aci.0.checked_sub(self.first())?);
        (i < self.size()).then_some(i)
    }
}

/// Which half the end with address `local` allocates on a link to `peer`: the higher 6-byte
/// identity (IPv4 ‖ port, compared as byte strings) takes [`Half::High`].
///
/// Equal identities cannot both be honoured; both ends then get [`Half::Low`] and the link layer
/// must refuse such a link (a router never links to itself).
pub fn half_for(local: [u8; IDENTITY_LEN], peer: [u8; IDENTITY_LEN]) -> Half {
    if local > peer {
        Half::High
    } else {
        Half::Low
    }
}

/// The ACIs one end of a link has in use, as a bitset over its half (4 KiB).
#[derive(Clone)]
pub struct AciAllocator {
    half: Half,
    used: Box<[u64; WORDS]>,
    in_use: usize,
}

impl std::fmt::Debug for AciAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AciAllocator").field("half", &self.half).field("in_use", &self.in_use).finish()
    }
}

impl AciAllocator {
    /// An allocator with every ACI of `half` free.
    pub fn new(half: Half) -> AciAllocator {
        AciAllocator { half, used: Box::new([0; WORDS]), in_use: 0 }
    }

    /// The half this allocator draws from.
    pub fn half(&self) -> Half {
        self.half
    }

    /// Draw an ACI uniformly at random among the free ones of the half and mark it used;
    /// `None` when every ACI of the half is in use.
    pub fn allocate(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> Option<Aci> {
        let size = self.half.size();
        let free = size - self.in_use;
        if free == 0 {
            return None;
        }
        // While the half is sparse a uniform draw over all of it is almost always free, and a
        // uniform draw conditioned on being free is uniform over the free ones. When it keeps
        // missing, pick the k-th free ACI for a uniform k: also uniform, and exact when full.
        let mut index = None;
        if free * 2 >= size {
            for _ in 0..REJECTION_TRIES {
                let i = rng.gen_range(0..size);
                if !self.bit(i) {
                    index = Some(i);
                    break;
                }
            }
        }
        let i = match index {
            Some(i) => i,
            None => self.nth_free(rng.gen_range(0..free))?,
        };
        self.set(i);
        Some(self.aci_at(i))
    }

    /// Free `aci` again (after its DESTROY handshake or when the link closes). Returns whether it
    /// was in use; ACIs of the other half are ignored.
    pub fn release(&mut self, aci: Aci) -> bool {
        match self.index(aci) {
            Some(i) if self.bit(i) => {
                self.used[i / WORD_BITS] &= !(1 << (i % WORD_BITS));
                self.in_use -= 1;
                true
            }
            _ => false,
        }
    }

    /// Mark `aci` used without drawing it. Returns whether it was newly marked; ACIs outside the
    /// half (including PADDING's ACI 0) are refused with `false`.
    pub fn mark_used(&mut self, aci: Aci) -> bool {
        match self.index(aci) {
            Some(i) if !self.bit(i) => {
                self.set(i);
                true
            }
            _ => false,
        }
    }

    /// Whether `aci` is in this end's half, i.e. the peer must never allocate it (protocol.md §6: a
    /// CREATE on such an ACI is answered with DESTROY).
    pub fn is_ours(&self, aci: Aci) -> bool {
        self.half.contains(aci)
    }

    /// Whether `aci` is currently allocated here.
    pub fn is_used(&self, aci: Aci) -> bool {
        self.index(aci).is_some_and(|i| self.bit(i))
    }

    /// How many ACIs are in use.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    fn index(&self, aci: Aci) -> Option<usize> {
        self.half.index(aci)
    }

    fn aci_at(&self, i: usize) -> Aci {
        // i < size, and first + size - 1 <= 0xFFFF.
        Aci(self.half.first() + i as u16)
    }

    fn bit(&self, i: usize) -> bool {
        self.used[i / WORD_BITS] & (1 << (i % WORD_BITS)) != 0
    }

    fn set(&mut self, i: usize) {
        self.used[i / WORD_BITS] |= 1 << (i % WORD_BITS);
        self.in_use += 1;
    }

    /// The index of the `k`-th (0-based) free ACI.
    fn nth_free(&self, mut k: usize) -> Option<usize> {
        for (w, &word) in self.used.iter().enumerate() {
            let base = w * WORD_BITS;
            let valid = self.half.size().saturating_sub(base).min(WORD_BITS);
            let mask = if valid == WORD_BITS { u64::MAX } else { (1u64 << valid) - 1 };
            let mut free = !word & mask;
            let count = free.count_ones() as usize;
            if k >= count {
                k -= count;
                continue;
            }
            for _ in 0..k {
                free &= free - 1; // clear the lowest free bit
            }
            return Some(base + free.trailing_zeros() as usize);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn higher_identity_takes_high_half() {
        let a = [127, 0, 0, 1, 0x23, 0x29]; // 127.0.0.1:9001
        let b = [127, 0, 0, 1, 0x23, 0x2a]; // 127.0.0.1:9002
        assert_eq!(half_for(b, a), Half::High);
        assert_eq!(half_for(a, b), Half::Low);
        assert_eq!(half_for([0; 6], a), Half::Low); // anonymous client
        assert_eq!(half_for([10, 0, 0, 1, 0, 1], [9, 255, 255, 255, 255, 255]), Half::High);
    }

    #[test]
    fn halves_cover_the_right_acis() {
        let low = AciAllocator::new(Half::Low);
        let high = AciAllocator::new(Half::High);
        assert!(!low.is_ours(Aci(0)) && !high.is_ours(Aci(0)));
        assert!(low.is_ours(Aci(1)) && low.is_ours(Aci(0x7FFF)) && !low.is_ours(Aci(0x8000)));
        assert!(high.is_ours(Aci(0x8000)) && high.is_ours(Aci(0xFFFF)) && !high.is_ours(Aci(5)));
    }

    #[test]
    fn exhausts_every_aci_of_the_half_exactly_once() {
        for half in [Half::Low, Half::High] {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let mut a = AciAllocator::new(half);
            let mut seen = vec![false; half.size()];
            for n in 0..half.size() {
                let aci = a.allocate(&mut rng).unwrap();
                assert!(a.is_ours(aci) && a.is_used(aci));
                let i = usize::from(aci.0 - half.first());
                assert!(!seen[i], "{aci} allocated twice");
                seen[i] = true;
                assert_eq!(a.in_use(), n + 1);
            }
            let size = if half == Half::Low { 0x7FFF } else { 0x8000 };
            assert_eq!(a.in_use(), size);
            assert_eq!(a.allocate(&mut rng), None);
            assert!(a.release(Aci(half.first() + 77)));
            assert!(!a.release(Aci(half.first() + 77)));
            assert_eq!(a.allocate(&mut rng), Some(Aci(half.first() + 77)));
        }
    }

    #[test]
    fn mark_used_and_release_respect_the_half() {
        let mut a = AciAllocator::new(Half::High);
        assert!(a.mark_used(Aci(0x9000)));
        assert!(!a.mark_used(Aci(0x9000)));
        assert!(!a.mark_used(Aci(0x0001)) && !a.mark_used(Aci(0)));
        assert!(a.mark_used(Aci(0xFFFF)) && a.release(Aci(0xFFFF)));
        assert!(!a.release(Aci(0x0001)));
        assert_eq!(a.in_use(), 1);
        assert!(a.release(Aci(0x9000)));
        assert_eq!(a.in_use(), 0);
    }

    #[test]
    fn draws_are_uniform_when_nearly_full() {
        // Leave 4 ACIs free so the fallback path runs; each should come up ~1/4 of the time.
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut a = AciAllocator::new(Half::Low);
        let free = [Aci(3), Aci(4000), Aci(20000), Aci(0x7FFF)];
        for v in 1..=0x7FFF {
            if !free.contains(&Aci(v)) {
                a.mark_used(Aci(v));
            }
        }
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            let aci = a.allocate(&mut rng).unwrap();
            counts[free.iter().position(|&f| f == aci).unwrap()] += 1;
            a.release(aci);
        }
        assert!(counts.iter().all(|&c| (850..1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn draws_are_spread_when_sparse() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut a = AciAllocator::new(Half::High);
        let acis: Vec<Aci> = (0..64).map(|_| a.allocate(&mut rng).unwrap()).collect();
        // A counter would give 0x8000, 0x8001, ...; random draws land all over the half.
        assert!(acis.iter().any(|x| x.0 > 0xC000) && acis.iter().any(|x| x.0 < 0xC000));
        assert_eq!(a.in_use(), 64);
    }
}
