//! The owner's record of one reply onion (kept in its state directory, mode 0600): every hop's
//! key seed and the function codes, the tag, the user seed and the expiration. After its one use
//! the record is rewritten without any key material, as a `used` marker kept until expiration.

use zeroize::Zeroize;

use super::Tag;
use crate::crypto::CipherCode;
use crate::wire::layer::SEED_LEN;

/// First line of every record file.
pub const MAGIC: &str = "ork-reply-record 1";
/// Ending of record file names (`TAG-HEX.reply`).
pub const FILE_SUFFIX: &str = ".reply";

/// What the owner's onion proxy needs to serve one reply onion.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    pub tag: Tag,
    pub expiration: u32,
    pub forw_f: CipherCode,
    pub back_f: CipherCode,
    /// One key seed per hop, h1 first.
    pub seeds: Vec<[u8; SEED_LEN]>,
    pub user_seed: [u8; SEED_LEN],
}

impl Drop for OwnerRecord {
    fn drop(&mut self) {
        self.seeds.iter_mut().for_each(|s| s.zeroize());
        self.user_seed.zeroize();
    }
}

impl std::fmt::Debug for OwnerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OwnerRecord({:?}, {} hops, expires {})", self.tag, self.seeds.len(), self.expiration)
    }
}

/// A record as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Live(OwnerRecord),
    /// Used once; its keys are gone.
    Used {
        tag: Tag,
        expiration: u32,
    },
}

impl Record {
    pub fn tag(&self) -> Tag {
        match self {
            Record::Live(r) => r.tag,
            Record::Used { tag, .. } => *tag,
        }
    }

    pub fn expiration(&self) -> u32 {
        match self {
            Record::Live(r) => r.expiration,
            Record::Used { expiration, .. } => *expiration,
        }
    }

    /// The file name the record is kept under.
    pub fn file_name(tag: &Tag) -> String {
        format!("{}{FILE_SUFFIX}", tag.to_hex())
    }

    pub fn to_text(&self) -> String {
        let mut s = format!("{MAGIC}\ntag {}\nexpiration {}\n", self.tag().to_hex(), self.expiration());
        match self {
            Record::Used { .. } => s.push_str("used\n"),
            Record::Live(r) => {
                s.push_str(&format!("functions {} {}\n", r.back_f.name(), r.forw_f.name()));
                let seeds: Vec<String> = r.seeds.iter().map(hex::encode).collect();
                s.push_str(&format!("seeds {}\n", seeds.join(" ")));
                s.push_str(&format!("user-seed {}\n", hex::encode(r.user_seed)));
            }
        }
        s
    }

    /// Parse a record file's text; the error names the line.
    pub fn parse(text: &str) -> Result<Record, String> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        match lines.next() {
            Some((_, MAGIC)) => {}
            _ => return Err(format!("line 1: expected `{MAGIC}`")),
        }
        let (mut tag, mut expiration, mut codes, mut seeds, mut user_seed, mut used) =
            (None, None, None, None, None, false);
        for (n, l) in lines {
            let (key, rest) = l.split_once(' ').unwrap_or((l, ""));
            let bad = |what: &str| format!("line {n}: bad {what}");
            match key {
                "tag" => tag = Some(Tag::from_hex(rest).ok_or_else(|| bad("tag"))?),
                "expiration" => expiration = Some(rest.parse::<u32>().map_err(|_| bad("expiration"))?),
                "functions" => {
                    let (b, f) = rest.split_once(' ').ok_or_else(|| bad("functions"))?;
                    let code = |s: &str| CipherCode::from_name(s).ok_or_else(|| bad("function code"));
                    codes = Some((code(b)?, code(f)?));
                }
                "seeds" => {
                    let v: Result<Vec<[u8; SEED_LEN]>, String> = rest
                        .split_ascii_whitespace()
                        .map(|h| {
                            let mut s = [0u8; SEED_LEN];
                            hex::decode_to_slice(h, &mut s).map_err(|_| bad("seed"))?;
                            Ok(s)
                        })
                        .collect();
                    let v = v?;
                    if v.is_empty() || v.len() > crate::onion::MAX_HOPS {
                        return Err(bad("seed count"));
                    }
                    seeds = Some(v);
                }
                "user-seed" => {
                    let mut s = [0u8; SEED_LEN];
                    hex::decode_to_slice(rest, &mut s).map_err(|_| bad("user seed"))?;
                    user_seed = Some(s);
                }
                "used" => used = true,
                "" => {}
                _ => return Err(format!("line {n}: unknown field `{key}`")),
            }
        }
        let tag = tag.ok_or("no tag line")?;
        let expiration = expiration.ok_or("no expiration line")?;
        if used {
            return Ok(Record::Used { tag, expiration });
        }
        let (back_f, forw_f) = codes.ok_or("no functions line")?;
        let seeds = seeds.ok_or("no seeds line")?;
        let user_seed = user_seed.ok_or("no user-seed line")?;
        if Tag::from_seed(&seeds[seeds.len() - 1]) != tag {
            return Err("tag does not match the last hop's seed".into());
        }
        Ok(Record::Live(OwnerRecord { tag, expiration, forw_f, back_f, seeds, user_seed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_and_used_round_trip() {
        let seeds = vec![[1u8; SEED_LEN], [2; SEED_LEN]];
        let r = Record::Live(OwnerRecord {
            tag: Tag::from_seed(&seeds[1]),
            expiration: 77,
            forw_f: CipherCode::Aes128Ctr,
            back_f: CipherCode::Rc4,
            seeds,
            user_seed: [3; SEED_LEN],
        });
        assert_eq!(Record::parse(&r.to_text()), Ok(r.clone()));
        let used = Record::Used { tag: r.tag(), expiration: 77 };
        let text = used.to_text();
        assert!(!text.contains("seed"));
        assert_eq!(Record::parse(&text), Ok(used));
        assert!(Record::parse(&r.to_text().replace("tag ", "tag 00")).is_err());
        assert!(Record::parse("nonsense").is_err());
        assert!(Record::parse(&r.to_text().replace(&hex::encode([1u8; SEED_LEN]), "zz")).is_err());
    }
}
