//! The full-screen view (`watch --tui`, `replay --tui`, `demo --tui`), without the terminal:
//! a model fed by the tracker's events ([`model`], [`conn`], [`strip`]), changed by keys
//! ([`keys`]), drawn into a ratatui `Buffer` ([`draw`]) as a pure function of the model, and
//! the selected connection drawn by the existing renderers for export ([`export`]). Only
//! `app` touches the terminal and runs the event loop. No clock, no I/O here.

pub(crate) mod ansi;
pub mod conn;
pub mod draw;
pub mod export;
pub mod feed;
pub mod keys;
pub mod model;
pub mod strip;

pub use keys::{Command, ExportKind, Key};
pub use model::{Limits, Model};
