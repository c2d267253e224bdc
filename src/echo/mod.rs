//! The demo: the lesson's echo server and client, run on loopback while capturing.

pub mod demo;
