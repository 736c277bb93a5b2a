//! The 48-byte cell of protocol.md §1: ACI, command, and the 45-byte body (Length ‖ Payload).
//!
//! A DATA cell's body is crypted per connection, so in transit its Length byte is ciphertext;
//! the cell therefore carries the body as 45 opaque bytes and only the constructors and
//! [`Cell::data`] interpret it. A cell built here can never claim more than 44 payload bytes.

use rand::RngCore;
use thiserror::Error;

use super::reader::{Reader, Truncated};

/// Bytes in a cell on the wire.
pub const CELL_LEN: usize = 48;
/// Bytes of payload in a cell.
pub const PAYLOAD_LEN: usize = 44;
/// Length byte plus payload: the part a connection's engines crypt.
pub const BODY_LEN: usize = PAYLOAD_LEN + 1;

/// Named byte ranges of a cell.
pub mod field {
    use std::ops::Range;
    pub const ACI: Range<usize> = 0..2;
    pub const COMMAND: usize = 2;
    pub const LENGTH: usize = 3;
    pub const BODY: Range<usize> = 3..48;
    pub const PAYLOAD: Range<usize> = 4..48;
}

/// Anonymous connection identifier, unique per link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aci(pub u16);

impl Aci {
    /// ACI 0 is reserved for PADDING.
    pub const PADDING: Aci = Aci(0);
}

impl std::fmt::Display for Aci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// The four cell commands; anything else is a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    Padding = 0,
    Create = 1,
    Data = 2,
    Destroy = 3,
}

impl Command {
    /// Decode a command byte.
    pub fn from_byte(b: u8) -> Result<Command, CellError> {
        match b {
            0 => Ok(Command::Padding),
            1 => Ok(Command::Create),
            2 => Ok(Command::Data),
            3 => Ok(Command::Destroy),
            other => Err(CellError::UnknownCommand(other)),
        }
    }

    /// How many leading bytes of a cell with this command the link cipher crypts (protocol.md §1).
    pub fn link_crypt_len(self) -> usize {
        match self {
            Command::Data => 3,
            Command::Create => 4,
            Command::Padding | Command::Destroy => CELL_LEN,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::Padding => "PADDING",
            Command::Create => "CREATE",
            Command::Data => "DATA",
            Command::Destroy => "DESTROY",
        }
    }
}

/// Errors decoding or building a cell.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CellError {
    #[error("unknown cell command {0}")]
    UnknownCommand(u8),
    #[error("cell payload of {0} bytes exceeds {PAYLOAD_LEN}")]
    TooLong(usize),
    #[error(transparent)]
    Truncated(#[from] Truncated),
}

/// One cell.
#[derive(Clone, PartialEq, Eq)]
pub struct Cell {
    pub aci: Aci,
    pub command: Command,
    /// Length ‖ Payload (45 bytes), possibly crypted.
    pub body: [u8; BODY_LEN],
}

impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cell({} {} len={})", self.aci, self.command.name(), self.body[0])
    }
}

impl Cell {
    /// A cell whose payload is `data` (at most 44 bytes), the rest of the payload random.
    pub fn with_data(aci: Aci, command: Command, data: &[u8], rng: &mut impl RngCore) -> Result<Cell, CellError> {
        if data.len() > PAYLOAD_LEN {
            return Err(CellError::TooLong(data.len()));
        }
        let mut body = [0u8; BODY_LEN];
        body[0] = data.len() as u8;
        body[1..1 + data.len()].copy_from_slice(data);
        rng.fill_bytes(&mut body[1 + data.len()..]);
        Ok(Cell { aci, command, body })
    }

    /// A PADDING or DESTROY cell: random Length in 0..=44 and random payload (protocol.md §1).
    pub fn random_body(aci: Aci, command: Command, rng: &mut impl RngCore) -> Cell {
        let mut body = [0u8; BODY_LEN];
        rng.fill_bytes(&mut body[1..]);
        body[0] = (rng.next_u32() % (PAYLOAD_LEN as u32 + 1)) as u8;
        Cell { aci, command, body }
    }

    pub fn padding(rng: &mut impl RngCore) -> Cell {
        Cell::random_body(Aci::PADDING, Command::Padding, rng)
    }

    pub fn destroy(aci: Aci, rng: &mut impl RngCore) -> Cell {
        Cell::random_body(aci, Command::Destroy, rng)
    }

    /// The Length byte as it stands (ciphertext for a DATA cell in transit).
    pub fn length(&self) -> u8 {
        self.body[0]
    }

    /// The meaningful payload bytes, or `None` if Length exceeds 44.
    pub fn data(&self) -> Option<&[u8]> {
        let len = self.body[0] as usize;
        (len <= PAYLOAD_LEN).then(|| &self.body[1..1 + len])
    }

    /// Serialize to the 48 wire bytes (before link encryption).
    pub fn to_bytes(&self) -> [u8; CELL_LEN] {
        let mut out = [0u8; CELL_LEN];
        self.write_to(&mut out);
        out
    }

    /// Serialize into a 48-byte slot.
    pub fn write_to(&self, out: &mut [u8; CELL_LEN]) {
        out[field::ACI].copy_from_slice(&self.aci.0.to_be_bytes());
        out[field::COMMAND] = self.command as u8;
        out[field::BODY].copy_from_slice(&self.body);
    }

    /// Parse 48 plaintext bytes.
    pub fn from_bytes(bytes: &[u8; CELL_LEN]) -> Result<Cell, CellError> {
        Cell::parse(&mut Reader::new(bytes))
    }

    /// Parse one cell from a reader.
    pub fn parse(r: &mut Reader<'_>) -> Result<Cell, CellError> {
        let aci = Aci(r.u16()?);
        let command = Command::from_byte(r.u8()?)?;
        let body = r.array::<BODY_LEN>()?;
        Ok(Cell { aci, command, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn layout_matches_spec() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let c = Cell::with_data(Aci(0x1234), Command::Data, b"hi", &mut rng).unwrap();
        let b = c.to_bytes();
        assert_eq!(&b[..6], &[0x12, 0x34, 2, 2, b'h', b'i']);
        assert_eq!(c.data(), Some(&b"hi"[..]));
    }

    #[test]
    fn refuses_long_payload_and_unknown_command() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        assert_eq!(Cell::with_data(Aci(1), Command::Data, &[0; 45], &mut rng), Err(CellError::TooLong(45)));
        let mut b = [0u8; CELL_LEN];
        b[2] = 4;
        assert_eq!(Cell::from_bytes(&b), Err(CellError::UnknownCommand(4)));
    }

    #[test]
    fn random_lengths_stay_in_range() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for _ in 0..1000 {
            assert!(Cell::padding(&mut rng).length() as usize <= PAYLOAD_LEN);
        }
    }

    proptest! {
        #[test]
        fn decode_encode_round_trips(bytes in proptest::collection::vec(any::<u8>(), CELL_LEN)) {
            let arr: [u8; CELL_LEN] = bytes.clone().try_into().unwrap();
            match Cell::from_bytes(&arr) {
                Ok(c) => prop_assert_eq!(c.to_bytes(), arr),
                Err(e) => prop_assert_eq!(e, CellError::UnknownCommand(arr[2])),
            }
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Cell::parse(&mut Reader::new(&bytes));
        }
    }
}
