//! `ork mkonion`: build, peel and inspect onions by hand (protocol.md §5), reproducibly when asked,
//! so that onions can be cross-checked against other implementations and test vectors.

mod reply;
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Subcommand;
use ork::crypto::rsa_block::{load_private_key, load_public_key};
use ork::crypto::{CipherCode, RsaPrivateKey};
use ork::onion::{build, padding_len, peel_raw, Onion, OnionPlan, RouteHop, MAX_HOPS, ONION_LEN};
use ork::wire::layer::{LAYER_LEN, SEED_LEN};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::args::{parse_cipher, parse_duration, parse_hop, HopSpec};
use super::{emit, ConfigContext, ConfigError};
use report::LayerReport;

/// Build, peel and inspect onions by hand.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork mkonion build --hop 127.0.0.1:9001=r1.pub --hop 127.0.0.1:9002=r2.pub -o onion.bin
  ork mkonion peel --key r1.key onion.bin -o inner.bin
  ork mkonion show --key r1.key --key r2.key onion.bin --json
  ork mkonion reply --network network.txt --hops 3 --endpoint 10.0.0.5:9070 \\
      --state-dir reply-keys --count 10 -o replies.txt")]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    Build(BuildArgs),
    Peel(PeelArgs),
    Show(ShowArgs),
    Reply(reply::ReplyArgs),
}

/// Build a 240-byte onion for a route of 1 to 5 routers, entry first.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork mkonion build --hop 127.0.0.1:9001=r1.pub --hop 127.0.0.1:9002=r2.pub \\
      --hop 127.0.0.1:9003=r3.pub --forw rc4 --back rc4 --expires 5m -o onion.bin")]
pub struct BuildArgs {
    /// A router of the route, entry first: HOST:PORT=PUBLIC-KEY (1 to 5 of them).
    #[arg(long = "hop", value_name = "HOST:PORT=PUBKEY", required = true, value_parser = parse_hop)]
    pub hops: Vec<HopSpec>,
    /// Forward cipher (ForwF) of every layer: identity, des-ofb, rc4, aes-128-ctr, chacha20.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub forw: CipherCode,
    /// Backward cipher (BackF) of every layer.
    #[arg(long, value_name = "CIPHER", default_value = "aes-128-ctr", value_parser = parse_cipher)]
    pub back: CipherCode,
    /// Lifetime: the onion expires this long from now.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub expires: Duration,
    /// Absolute expiration in seconds since the Unix epoch (instead of --expires).
    #[arg(long, value_name = "UNIX", conflicts_with = "expires")]
    pub expiration: Option<u32>,
    /// Key seed of one layer (32 hex digits); give one per hop, entry first.
    #[arg(long = "seed-hex", value_name = "HEX")]
    pub seeds: Vec<String>,
    /// Padding after the innermost layer (hex, 240 - 28*hops bytes).
    #[arg(long = "pad-hex", value_name = "HEX")]
    pub pad: Option<String>,
    /// Draw every random byte from a ChaCha20 generator seeded with SEED (tests only: the onion
    /// is predictable). The expiration still follows the clock unless --expiration is given.
    #[arg(long, value_name = "SEED")]
    pub deterministic: Option<u64>,
    /// Where to write the onion.
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Peel the outer layer with a router's private key: print it and write the inner onion.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork mkonion peel --key r1.key onion.bin -o inner.bin
  ork mkonion peel --key r2.key inner.bin --json")]
pub struct PeelArgs {
    /// The private key of the router this layer is for.
    #[arg(long, value_name = "PRIVKEY")]
    pub key: PathBuf,
    /// The 240-byte onion.
    #[arg(value_name = "ONION")]
    pub onion: PathBuf,
    /// Write the inner onion (re-padded to 240 bytes) here.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The 28 re-padding bytes in hex (default: random), to reproduce test vectors.
    #[arg(long = "repad-hex", value_name = "HEX")]
    pub repad: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Peel an expired onion without failing.
    #[arg(long)]
    pub no_time_check: bool,
}

/// Peel every layer with the routers' keys in route order and print each; writes nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ork mkonion show --key r1.key --key r2.key --key r3.key onion.bin --json")]
pub struct ShowArgs {
    /// Private keys of the route's routers, entry first (one per layer to reveal).
    #[arg(long = "key", value_name = "PRIVKEY", required = true)]
    pub keys: Vec<PathBuf>,
    /// The 240-byte onion.
    #[arg(value_name = "ONION")]
    pub onion: PathBuf,
    /// Print a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
    /// Do not fail on an expired onion.
    #[arg(long)]
    pub no_time_check: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Build(a) => run_build(a),
        Action::Peel(a) => run_peel(a),
        Action::Show(a) => run_show(a),
        Action::Reply(a) => reply::run_reply(a),
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Decode `hex` of exactly `len` bytes given to `flag`, as a configuration error otherwise.
fn decode_hex(flag: &str, hex: &str, len: usize) -> anyhow::Result<Vec<u8>> {
    let bytes = hex::decode(hex).map_err(|e| ConfigError::msg(format!("{flag} '{hex}': not hex: {e}")))?;
    if bytes.len() != len {
        return Err(ConfigError::msg(format!(
            "{flag}: {} bytes given, {len} needed ({} hex digits)",
            bytes.len(),
            2 * len
        )));
    }
    Ok(bytes)
}

fn run_build(a: BuildArgs) -> anyhow::Result<()> {
    let n = a.hops.len();
    if n > MAX_HOPS {
        return Err(ConfigError::msg(format!("{n} --hop given; a route has 1 to {MAX_HOPS} routers")));
    }
    let route = a
        .hops
        .iter()
        .map(|h| {
            let addr = h.addr.resolve_v4().map_err(|e| ConfigError::msg(format!("--hop {h}: {e}")))?;
            let key = load_public_key(&h.key).with_context(|| format!("--hop {h}")).config()?;
            Ok(RouteHop { addr, key })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let expiration = match a.expiration {
        Some(e) => e,
        None => u32::try_from(unix_now().saturating_add(a.expires.as_secs()))
            .map_err(|_| ConfigError::msg("--expires: the expiration does not fit in 32 bits"))?,
    };
    if a.forw == CipherCode::Identity || a.back == CipherCode::Identity {
        log::warn!("identity cipher chosen: cells of this connection travel in clear on every link");
    }
    let mut rng = match a.deterministic {
        Some(seed) => {
            log::warn!("--deterministic {seed}: every 'random' byte of this onion is predictable");
            ChaCha20Rng::seed_from_u64(seed)
        }
        None => ChaCha20Rng::from_entropy(),
    };
    let mut plan = OnionPlan::random(n, a.forw, a.back, expiration, &mut rng);
    if !a.seeds.is_empty() {
        if a.seeds.len() != n {
            return Err(ConfigError::msg(format!("{} --seed-hex given for {n} hops; give one per hop", a.seeds.len())));
        }
        for (slot, hex) in plan.seeds.iter_mut().zip(&a.seeds) {
            slot.copy_from_slice(&decode_hex("--seed-hex", hex, SEED_LEN)?);
        }
    }
    if let Some(hex) = &a.pad {
        plan.innermost_pad = decode_hex("--pad-hex", hex, padding_len(n))?;
    }
    let onion = build(&route, &plan).context("building the onion")?;
    std::fs::write(&a.out, onion).with_context(|| format!("{}: cannot write the onion", a.out.display()))?;
    let path: Vec<String> = route.iter().map(|h| h.addr.to_string()).collect();
    emit(format_args!(
        "wrote {}: {ONION_LEN}-byte onion, {n} hop{} ({}), forw {}, back {}, expires {}\n",
        a.out.display(),
        if n == 1 { "" } else { "s" },
        path.join(" -> "),
        a.forw,
        a.back,
        report::utc(expiration)
    ))
}

fn read_onion(path: &Path) -> anyhow::Result<Onion> {
    let bytes = ork::input_file::read(path, ork::input_file::ONION_FILE_MAX, "an onion file")
        .with_context(|| format!("{}: cannot read the onion", path.display()))
        .config()?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| ConfigError::msg(format!("{}: {len} bytes; an onion is exactly {ONION_LEN}", path.display())))
}

fn load_key(path: &Path) -> anyhow::Result<RsaPrivateKey> {
    load_private_key(path).context("--key").config()
}

/// Peel `onion` with `key`, explaining the likely cause of a failure.
fn peel_one(
    key: &RsaPrivateKey,
    key_path: &Path,
    onion: &Onion,
    what: &str,
    repad: &[u8; LAYER_LEN],
) -> anyhow::Result<ork::onion::Peeled> {
    peel_raw(key, onion, repad, &mut ChaCha20Rng::from_entropy()).with_context(|| {
        format!("cannot peel {what} with {}: wrong key, or not an onion for this router", key_path.display())
    })
}

/// The error for an expired onion, after it has been printed.
fn expired_error(expiration: u32) -> anyhow::Error {
    anyhow::anyhow!(
        "onion EXPIRED at {}; a router would refuse it (--no-time-check to peel it anyway)",
        report::utc(expiration)
    )
}

fn run_peel(a: PeelArgs) -> anyhow::Result<()> {
    let key = load_key(&a.key)?;
    let repad: [u8; LAYER_LEN] = match &a.repad {
        Some(hex) => {
            let mut r = [0u8; LAYER_LEN];
            r.copy_from_slice(&decode_hex("--repad-hex", hex, LAYER_LEN)?);
            r
        }
        None => rand::random(),
    };
    let onion = read_onion(&a.onion)?;
    let peeled = peel_one(&key, &a.key, &onion, &a.onion.display().to_string(), &repad)?;
    let now = unix_now();
    let mut rep = LayerReport::new(1, &peeled, now);
    let expired = rep.expired && !a.no_time_check;
    if let (Some(out), false) = (&a.out, expired) {
        std::fs::write(out, peeled.inner)
            .with_context(|| format!("{}: cannot write the inner onion", out.display()))?;
        rep.inner_onion = Some(out.display().to_string());
    }
    if a.json {
        emit(format_args!("{}\n", serde_json::to_string_pretty(&rep)?))?;
    } else {
        emit(rep.text(&format!("outer layer of {}", a.onion.display())))?;
    }
    if expired {
        return Err(expired_error(peeled.layer.expiration));
    }
    Ok(())
}

fn run_show(a: ShowArgs) -> anyhow::Result<()> {
    let keys = a.keys.iter().map(|p| load_key(p)).collect::<anyhow::Result<Vec<_>>>()?;
    let onion = read_onion(&a.onion)?;
    let mut reports = Vec::with_capacity(keys.len());
    // Print the layers revealed before any failure: they show where the route went wrong.
    let peeled_all = peel_all(&a, &keys, onion, &mut reports);
    if a.json {
        emit(format_args!("{}\n", serde_json::to_string_pretty(&reports)?))?;
    } else {
        emit(reports.iter().map(|r| r.text(&format!("layer {}", r.layer))).collect::<String>())?;
    }
    peeled_all?;
    match reports.iter().find(|r| r.expired) {
        Some(r) if !a.no_time_check => Err(expired_error(r.expiration)),
        _ => Ok(()),
    }
}

/// Peel successive layers with `keys` (entry first), pushing a report for each.
fn peel_all(
    a: &ShowArgs,
    keys: &[RsaPrivateKey],
    mut onion: Onion,
    reports: &mut Vec<LayerReport>,
) -> anyhow::Result<()> {
    let now = unix_now();
    for (i, (key, path)) in keys.iter().zip(&a.keys).enumerate() {
        if reports.last().is_some_and(|r| r.exit || r.endpoint.is_some()) {
            return Err(anyhow::anyhow!(
                "layer {i} is the exit layer, but {} more --key given (one key per hop, entry first)",
                keys.len() - i
            ));
        }
        let what = format!("layer {} of {}", i + 1, a.onion.display());
        let peeled = peel_one(key, path, &onion, &what, &rand::random())?;
        reports.push(LayerReport::new(i + 1, &peeled, now));
        onion = peeled.inner;
    }
    Ok(())
}
