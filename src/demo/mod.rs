//! The demo: the lesson's echo server and client, run on loopback while capturing. With
//! `capture/` and `app`, the only code that touches the OS.

pub mod calls;
pub mod kernel_check;
pub mod kernel_trace;
pub mod netns;
pub mod run;
pub mod scenarios;
pub mod sockets;
