//! Building and peeling onions (protocol.md §5): fixed 240-byte onions for routes of 1..=5 hops,
//! ordinary and reply (protocol.md §15; the reply onion's own formats are in [`crate::reply`]).

use std::net::SocketAddrV4;

use rand::{CryptoRng, RngCore};
use thiserror::Error;

use crate::crypto::rsa_block::{decrypt_block, encrypt_block, RSA_BLOCK_LEN};
use crate::crypto::{CipherCode, Engine, KeyError, KeySet, RsaPrivateKey, RsaPublicKey};
use crate::wire::layer::{Layer, LayerError, LayerKind, LAYER_LEN, SEED_LEN};

/// Bytes of every onion on the wire: 128 + 4·28.
pub const ONION_LEN: usize = RSA_BLOCK_LEN + (MAX_HOPS - 1) * LAYER_LEN;
/// Longest route.
pub const MAX_HOPS: usize = 5;
/// Bytes of the inner onion a peel reveals, before re-padding.
pub const INNER_LEN: usize = ONION_LEN - LAYER_LEN;

/// A 240-byte onion.
pub type Onion = [u8; ONION_LEN];

/// The byte ranges of the CREATE cells that carry an onion: 44 × 5 + 20 (protocol.md §6).
pub fn create_chunks() -> impl Iterator<Item = std::ops::Range<usize>> {
    use crate::wire::PAYLOAD_LEN;
    (0..ONION_LEN).step_by(PAYLOAD_LEN).map(|s| s..(s + PAYLOAD_LEN).min(ONION_LEN))
}

#[derive(Debug, Error)]
pub enum OnionError {
    #[error("route has {0} hops; it must have 1..={MAX_HOPS}")]
    RouteLength(usize),
    #[error("{expected} key seeds needed, {got} given")]
    Seeds { expected: usize, got: usize },
    #[error("innermost padding must be {expected} bytes, {got} given")]
    Padding { expected: usize, got: usize },
    #[error("RSA: {0}")]
    Rsa(#[from] KeyError),
    #[error("bad layer: {0}")]
    Layer(#[from] LayerError),
    #[error("onion expired at {expiration} (now {now})")]
    Expired { expiration: u32, now: u64 },
    #[error("onion expires at {expiration}, beyond the allowed lifetime (now {now}, max {max_lifetime} s)")]
    TooFarAhead { expiration: u32, now: u64, max_lifetime: u64 },
    #[error("reply relay layer names 0.0.0.0:0 instead of a router")]
    ReplyRelayToExit,
    #[error("reply endpoint layer names {0}: port and address must both be non-zero")]
    ReplyEndpointZero(SocketAddrV4),
}

/// What a router accepts when it peels (protocol.md §5, §15).
#[derive(Debug, Clone, Copy)]
pub struct PeelLimits {
    /// Seconds an ordinary onion may expire ahead of now.
    pub max_lifetime: u64,
    /// Seconds a reply onion may expire ahead of now; `None` refuses reply layers like a bad
    /// version (`--no-reply-onions`).
    pub max_reply_lifetime: Option<u64>,
}

/// One hop of a route to build an onion for.
#[derive(Debug, Clone)]
pub struct RouteHop {
    /// The router's listening address.
    pub addr: SocketAddrV4,
    pub key: RsaPublicKey,
}

/// Everything that decides an onion's bytes, so builds are reproducible for vectors.
#[derive(Debug, Clone)]
pub struct OnionPlan {
    pub back_f: CipherCode,
    pub forw_f: CipherCode,
    pub expiration: u32,
    /// One key seed per hop, entry first.
    pub seeds: Vec<[u8; SEED_LEN]>,
    /// Random bytes after the innermost layer: `padding_len(hops)` of them.
    pub innermost_pad: Vec<u8>,
}

/// Padding after the innermost layer for a route of `hops`: 240 − 28(n−1) − 28.
pub fn padding_len(hops: usize) -> usize {
    ONION_LEN - LAYER_LEN * hops
}

impl OnionPlan {
    /// A plan with fresh random seeds and padding.
    pub fn random(
        hops: usize,
        forw_f: CipherCode,
        back_f: CipherCode,
        expiration: u32,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> OnionPlan {
        let seeds = (0..hops)
            .map(|_| {
                let mut s = [0u8; SEED_LEN];
                rng.fill_bytes(&mut s);
                s
            })
            .collect();
        let mut innermost_pad = vec![0u8; padding_len(hops.min(MAX_HOPS))];
        rng.fill_bytes(&mut innermost_pad);
        OnionPlan { back_f, forw_f, expiration, seeds, innermost_pad }
    }

    /// The layer for hop `i` of `route`.
    pub fn layer(&self, route: &[RouteHop], i: usize) -> Layer {
        Layer {
            kind: LayerKind::Ordinary,
            back_f: self.back_f,
            forw_f: self.forw_f,
            next_hop: route.get(i + 1).map_or(Layer::EXIT, |h| h.addr),
            expiration: self.expiration,
            seed: self.seeds[i],
        }
    }

    /// The layer for hop `i` of a reply onion's `route` whose last layer names `endpoint`.
    pub fn reply_layer(&self, route: &[RouteHop], i: usize, endpoint: SocketAddrV4) -> Layer {
        let last = i + 1 == route.len();
        Layer {
            kind: if last { LayerKind::ReplyEndpoint } else { LayerKind::ReplyRelay },
            next_hop: if last { endpoint } else { route[i + 1].addr },
            ..self.layer(route, i)
        }
    }

    /// Each hop's keys, entry first.
    pub fn key_sets(&self) -> Vec<KeySet> {
        self.seeds.iter().map(KeySet::derive).collect()
    }
}

/// Build the onion for `route` (entry first), innermost layer first.
pub fn build(route: &[RouteHop], plan: &OnionPlan) -> Result<Onion, OnionError> {
    build_layers(route, plan, |i| plan.layer(route, i))
}

/// Build a reply onion for `route` whose last layer names the owner's `endpoint` (§15).
pub fn build_reply(route: &[RouteHop], plan: &OnionPlan, endpoint: SocketAddrV4) -> Result<Onion, OnionError> {
    if endpoint.port() == 0 || endpoint.ip().is_unspecified() {
        return Err(OnionError::ReplyEndpointZero(endpoint));
    }
    build_layers(route, plan, |i| plan.reply_layer(route, i, endpoint))
}

fn build_layers(route: &[RouteHop], plan: &OnionPlan, layer: impl Fn(usize) -> Layer) -> Result<Onion, OnionError> {
    let n = route.len();
    if n == 0 || n > MAX_HOPS {
        return Err(OnionError::RouteLength(n));
    }
    if plan.seeds.len() != n {
        return Err(OnionError::Seeds { expected: n, got: plan.seeds.len() });
    }
    if plan.innermost_pad.len() != padding_len(n) {
        return Err(OnionError::Padding { expected: padding_len(n), got: plan.innermost_pad.len() });
    }
    // `inner` is onion_(i+1); the innermost block's "inner" is the padding.
    let mut inner: Vec<u8> = plan.innermost_pad.clone();
    for i in (0..n).rev() {
        let mut block = Vec::with_capacity(LAYER_LEN + inner.len());
        block.extend_from_slice(&layer(i).to_bytes());
        block.extend_from_slice(&inner);
        let mut head = [0u8; RSA_BLOCK_LEN];
        head.copy_from_slice(&block[..RSA_BLOCK_LEN]);
        let mut onion = encrypt_block(&route[i].key, &head)?.to_vec();
        let mut tail = block[RSA_BLOCK_LEN..].to_vec();
        Engine::des_ofb(&KeySet::derive(&plan.seeds[i]).key1_des()).apply(&mut tail);
        onion.extend_from_slice(&tail);
        inner = onion;
    }
    inner.try_into().map_err(|v: Vec<u8>| OnionError::Padding { expected: ONION_LEN, got: v.len() })
}

/// What one router learns by peeling.
pub struct Peeled {
    pub layer: Layer,
    pub keys: KeySet,
    /// The inner onion, re-padded to 240 bytes (meaningless at the exit).
    pub inner: Onion,
}

/// Peel without the freshness check: RSA-decrypt, parse the layer, decrypt the remainder and
/// re-pad with `repad`. Used by [`peel`] and by `ork mkonion` for inspection.
pub fn peel_raw(
    key: &RsaPrivateKey,
    onion: &Onion,
    repad: &[u8; LAYER_LEN],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Peeled, OnionError> {
    let mut head = [0u8; RSA_BLOCK_LEN];
    head.copy_from_slice(&onion[..RSA_BLOCK_LEN]);
    let block = decrypt_block(key, &head, rng)?;
    let layer = Layer::parse(&block)?;
    let keys = KeySet::derive(&layer.seed);
    let mut inner = [0u8; ONION_LEN];
    let head_rest = RSA_BLOCK_LEN - LAYER_LEN;
    inner[..head_rest].copy_from_slice(&block[LAYER_LEN..]);
    inner[head_rest..INNER_LEN].copy_from_slice(&onion[RSA_BLOCK_LEN..]);
    Engine::des_ofb(&keys.key1_des()).apply(&mut inner[head_rest..INNER_LEN]);
    inner[INNER_LEN..].copy_from_slice(repad);
    Ok(Peeled { layer, keys, inner })
}

/// Check the freshness rule: now ≤ expiration ≤ now + max_lifetime.
pub fn check_fresh(layer: &Layer, now: u64, max_lifetime: u64) -> Result<(), OnionError> {
    let exp = u64::from(layer.expiration);
    if exp < now {
        return Err(OnionError::Expired { expiration: layer.expiration, now });
    }
    if exp > now.saturating_add(max_lifetime) {
        return Err(OnionError::TooFarAhead { expiration: layer.expiration, now, max_lifetime });
    }
    Ok(())
}

/// Peel as a router that refuses reply onions does: see [`peel_with`].
pub fn peel(
    key: &RsaPrivateKey,
    onion: &Onion,
    now: u64,
    max_lifetime: u64,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Peeled, OnionError> {
    peel_with(key, onion, now, &PeelLimits { max_lifetime, max_reply_lifetime: None }, rng)
}

/// Peel as a router does: decrypt, check version, function codes, freshness (with the reply
/// lifetime for reply layers) and a reply layer's destination, re-pad with fresh random bytes.
/// The replay check is the caller's (it owns the cache).
pub fn peel_with(
    key: &RsaPrivateKey,
    onion: &Onion,
    now: u64,
    limits: &PeelLimits,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Peeled, OnionError> {
    let mut repad = [0u8; LAYER_LEN];
    rng.fill_bytes(&mut repad);
    let peeled = peel_raw(key, onion, &repad, rng)?;
    let layer = &peeled.layer;
    let max = match (layer.kind, limits.max_reply_lifetime) {
        (LayerKind::Ordinary, _) => limits.max_lifetime,
        (kind, None) => return Err(LayerError::BadVersion(kind.version()).into()),
        (_, Some(max)) => max,
    };
    check_reply_destination(layer)?;
    check_fresh(layer, now, max)?;
    Ok(peeled)
}

/// A reply relay layer must name a router, a reply endpoint layer a non-zero address and port.
pub fn check_reply_destination(layer: &Layer) -> Result<(), OnionError> {
    match layer.kind {
        LayerKind::Ordinary => Ok(()),
        LayerKind::ReplyRelay if layer.is_exit() => Err(OnionError::ReplyRelayToExit),
        LayerKind::ReplyRelay => Ok(()),
        LayerKind::ReplyEndpoint if layer.next_hop.port() == 0 || layer.next_hop.ip().is_unspecified() => {
            Err(OnionError::ReplyEndpointZero(layer.next_hop))
        }
        LayerKind::ReplyEndpoint => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rsa_block::generate;
    use rand::SeedableRng;

    #[test]
    fn padding_sizes_follow_the_spec() {
        assert_eq!(ONION_LEN, 240);
        assert_eq!(padding_len(5), 100);
        assert_eq!(padding_len(1), 212);
    }

    #[test]
    fn build_then_peel_each_route_length() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let keys: Vec<_> = (0..5).map(|_| generate(&mut rng).unwrap()).collect();
        for n in 1..=5 {
            let route: Vec<RouteHop> = (0..n)
                .map(|i| RouteHop {
                    addr: SocketAddrV4::new([127, 0, 0, 1].into(), 9001 + i as u16),
                    key: keys[i].to_public_key(),
                })
                .collect();
            let plan = OnionPlan::random(n, CipherCode::Rc4, CipherCode::DesOfb, 1000, &mut rng);
            let mut onion = build(&route, &plan).unwrap();
            for (i, key) in keys.iter().enumerate().take(n) {
                let p = peel(key, &onion, 900, 3600, &mut rng).unwrap();
                assert_eq!(p.layer, plan.layer(&route, i));
                assert_eq!(p.layer.is_exit(), i == n - 1);
                onion = p.inner;
            }
        }
    }

    #[test]
    fn freshness_window() {
        let l = Layer {
            kind: LayerKind::Ordinary,
            back_f: CipherCode::Rc4,
            forw_f: CipherCode::Rc4,
            next_hop: Layer::EXIT,
            expiration: 1000,
            seed: [0; 16],
        };
        assert!(check_fresh(&l, 1000, 0).is_ok());
        assert!(matches!(check_fresh(&l, 1001, 3600), Err(OnionError::Expired { .. })));
        assert!(matches!(check_fresh(&l, 10, 100), Err(OnionError::TooFarAhead { .. })));
    }
}
