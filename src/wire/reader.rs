//! A bounds-checked big-endian reader over peer bytes: every read returns an error on short
//! input instead of panicking.

use thiserror::Error;

/// Input ended before the field being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("truncated input: needed {needed} more byte(s)")]
pub struct Truncated {
    pub needed: usize,
}

/// Cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Consume `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let left = self.remaining();
        if n > left {
            return Err(Truncated { needed: n - left });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consume exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// The unread rest, consuming it.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_reports_truncation() {
        let mut r = Reader::new(&[0x12, 0x34, 0, 0, 0, 7, 9]);
        assert_eq!(r.u16(), Ok(0x1234));
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.u16(), Err(Truncated { needed: 1 }));
        assert_eq!(r.u8(), Ok(9));
        assert_eq!(r.u8(), Err(Truncated { needed: 1 }));
    }
}
