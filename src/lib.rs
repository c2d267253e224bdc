//! synfin: see TCP's handshake and teardown. Every segment, the RFC 9293 state of both
//! endpoints and the socket calls behind them, on one timeline.
//!
//! Data flows one way: `capture` (files, live) → `decode` → `tracker` → `timeline` →
//! `render`. Only `capture`, `echo` and `app` touch the OS.
#![warn(missing_docs)]

pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod echo;
pub mod filter;
pub mod filter_expr;
pub mod render;
pub mod segment;
pub mod timeline;
pub mod timestamp;
pub mod tracker;
