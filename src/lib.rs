//! synfin: see TCP's handshake and teardown. Every segment, the RFC 9293 state of both
//! endpoints and the socket calls behind them, on one timeline.
//!
//! Data flows one way: `capture` (files, live) → `decode` → `tracker` → `events` →
//! `render`, wired by `pipeline`; `app` and `demo` only assemble it. Only `capture`, `demo`,
//! `pipeline` and `app` touch the OS. See ARCHITECTURE.md.
#![warn(missing_docs)]

pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod demo;
pub mod events;
pub mod filter;
pub mod filter_expr;
pub mod frame;
pub mod kernel;
pub mod pipeline;
pub mod render;
pub mod segment;
pub mod text;
pub mod timestamp;
pub mod tracker;
pub mod tui;
