//! The demo: the lesson's echo server and client, run on loopback while capturing. With
//! `capture/` and `app`, the only code that touches the OS.

pub(crate) mod calls;
pub(crate) mod forged;
pub(crate) mod kernel_trace;
pub(crate) mod netns;
pub mod run;
pub(crate) mod scenarios;
pub(crate) mod sockets;
