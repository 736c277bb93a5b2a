//! Wire formats of protocol.md §1, §5 and §7: cells, onion layers, the standard structure.

pub mod cell;
pub mod isolation;
pub mod layer;
pub mod reader;
pub mod rlogin_preamble;
pub mod standard;

pub use cell::{Aci, Cell, CellError, Command, CELL_LEN, PAYLOAD_LEN};
pub use layer::{Layer, LayerError, LAYER_LEN};
pub use reader::{Reader, Truncated};
pub use standard::{Protocol, StandardStructure, Status};
