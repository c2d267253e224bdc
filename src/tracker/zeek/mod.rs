//! Zeek's conn.log view of a connection, emulated: the `history` letters and `conn_state`,
//! and the sequence-range model of Zeek's reassembler behind the content-gap letters.

pub mod history;
pub(crate) mod reassembly;
