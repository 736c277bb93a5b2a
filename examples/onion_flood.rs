//! Benchmark helper for scripts/bench.sh (not a user tool): the onion rate of one real router
//! under a flood of CREATEs, and the RSA bound it is compared with.
//!
//! ```text
//! onion_flood rsa KEY SECONDS
//!     raw RSA private operations per second on one 128-byte block with KEY, through
//!     `rsa_block::decrypt_block` (CRT and blinding, the router's own code path)
//! onion_flood flood HOST:PORT PUBKEY SECONDS [WINDOW]
//!     key a link to the router as an anonymous client, then keep WINDOW (default 64) one-hop
//!     onions in flight: 6 CREATE cells, then a DESTROY, on each ACI; the router's answering
//!     DESTROY (acknowledgement, or refusal) says it has handled the onion
//! ```
//! Each prints one line `key value` per figure, for the driver to parse.

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ork::crypto::rsa_block::{decrypt_block, encrypt_block, load_private_key, load_public_key, RSA_BLOCK_LEN};
use ork::crypto::{CipherCode, RsaPublicKey};
use ork::link::{Dialler, LinkCodec};
use ork::onion::{build, Onion, OnionPlan, RouteHop};
use ork::router::create_chunks;
use ork::wire::{Aci, Cell, Command};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// ACIs an anonymous client may use: the low half of protocol.md §2.
const ACIS: u32 = 0x7fff;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["rsa", key, secs] => rsa_rate(Path::new(key), secs.parse()?),
        ["flood", addr, key, secs] => flood(addr.parse()?, Path::new(key), secs.parse()?, 64),
        ["flood", addr, key, secs, window] => flood(addr.parse()?, Path::new(key), secs.parse()?, window.parse()?),
        _ => bail!("usage: onion_flood rsa KEY SECONDS | onion_flood flood HOST:PORT PUBKEY SECONDS [WINDOW]"),
    }
}

fn rsa_rate(key: &Path, secs: f64) -> anyhow::Result<()> {
    let key = load_private_key(key)?;
    let mut rng = StdRng::from_entropy();
    let mut block = [0x5au8; RSA_BLOCK_LEN];
    block[0] = 0x01;
    let c = encrypt_block(&key.to_public_key(), &block)?;
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < secs {
        decrypt_block(&key, &c, &mut rng)?;
        n += 1;
    }
    println!("rsa_private_per_s {:.1}", n as f64 / start.elapsed().as_secs_f64());
    Ok(())
}

fn onions(addr: SocketAddrV4, key: &RsaPublicKey, n: usize, rng: &mut StdRng) -> anyhow::Result<Vec<Onion>> {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let hop = [RouteHop { addr, key: key.clone() }];
    (0..n)
        .map(|_| {
            let plan = OnionPlan::random(1, CipherCode::Rc4, CipherCode::Rc4, unix as u32 + 900, rng);
            Ok(build(&hop, &plan)?)
        })
        .collect()
}

fn flood(addr: SocketAddrV4, key: &Path, secs: f64, window: u64) -> anyhow::Result<()> {
    let key = load_public_key(key)?;
    let mut rng = StdRng::from_entropy();
    // Enough onions for the run at up to 4000/s; building is not timed.
    let pool = onions(addr, &key, (secs * 4000.0) as usize + 1000, &mut rng)?;
    let mut stream = TcpStream::connect(addr).with_context(|| format!("cannot reach {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut hs, msg1) = Dialler::new(None, addr, key, &mut rng)?;
    stream.write_all(&msg1)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut inbuf = Vec::new();
    let mut codec: LinkCodec = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            bail!("{addr} closed during the handshake");
        }
        inbuf.extend_from_slice(&buf[..n]);
        let p = hs.read(&inbuf)?;
        inbuf.drain(..p.consumed);
        if let Some(est) = p.established {
            break est.codec;
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;

    let (mut sent, mut answered) = (0u64, 0u64);
    let (mut cells, mut wire, mut got) = (Vec::new(), Vec::new(), Vec::new());
    let mut first: Option<(Instant, u64)> = None;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    codec.decode(&inbuf, &mut got)?;
    while Instant::now() < deadline {
        while sent - answered < window && (sent as usize) < pool.len() {
            let aci = Aci((sent % u64::from(ACIS)) as u16 + 1);
            cells.clear();
            for r in create_chunks() {
                cells.push(Cell::with_data(aci, Command::Create, &pool[sent as usize][r], &mut rng)?);
            }
            cells.push(Cell::destroy(aci, &mut rng));
            codec.encode_all(&cells, &mut wire);
            sent += 1;
        }
        stream.write_all(&wire)?;
        wire.clear();
        if answered == sent {
            break; // the pool ran out
        }
        let n = stream.read(&mut buf).context("waiting for the router's DESTROYs")?;
        if n == 0 {
            bail!("{addr} closed the link");
        }
        codec.decode(&buf[..n], &mut got)?;
        answered += got.drain(..).filter(|c| c.command == Command::Destroy).count() as u64;
        if first.is_none() && answered > 0 {
            first = Some((Instant::now(), answered));
        }
    }
    let Some((t0, n0)) = first else { bail!("the router answered no onion") };
    let rate = (answered - n0) as f64 / t0.elapsed().as_secs_f64();
    println!("onions_answered {answered}");
    println!("onions_per_s {rate:.1}");
    if sent as usize >= pool.len() {
        eprintln!("warning: the pool of {} onions ran out before the time was up", pool.len());
    }
    Ok(())
}
