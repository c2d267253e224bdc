//! Tracker tests on segments built in code, one banner per RFC 9293 state (as smoltcp groups
//! its tests), then connections picked up mid-stream, then property tests.

use super::*;
use crate::events::{Outcome, TcpState::*};
use crate::segment::TcpFlags;
use proptest::prelude::*;
use std::net::SocketAddr;

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";
const ISN_C: u32 = 1000;
const ISN_S: u32 = 5000;
const F: u16 = TcpFlags::FIN;
const SY: u16 = TcpFlags::SYN;
const R: u16 = TcpFlags::RST;
const A: u16 = TcpFlags::ACK;

#[track_caller]
fn seg(n: u64, from: &str, to: &str, flags: u16, seq: u32, ack: u32, len: u32) -> Segment {
    Segment {
        ts: Timestamp(1_000_000 * n as i64),
        frame: n,
        orig_len: 60,
        cap_len: 60,
        window: 1000,
        payload_len: len,
        ..Segment::header(
            from.parse().unwrap(),
            to.parse().unwrap(),
            TcpFlags(flags),
            seq,
            ack,
        )
    }
}

fn run(segs: &[Segment]) -> Vec<Event> {
    let mut t = Tracker::new(TrackerConfig::default());
    let mut out = Vec::new();
    for s in segs {
        t.handle_segment(s);
        while let Some(e) = t.poll_event() {
            out.push(e);
        }
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        out.push(e);
    }
    out
}

/// Each endpoint's (from, to) changes, in order, excluding projected ones.
fn path(events: &[Event], ep: &str) -> Vec<TcpState> {
    let ep: SocketAddr = ep.parse().unwrap();
    let mut v = Vec::new();
    for e in events {
        if let Event::State(s) = e {
            if s.endpoint.addr() == ep && !s.projected {
                if v.is_empty() {
                    v.push(s.from);
                }
                v.push(s.to);
            }
        }
    }
    v
}

fn verdicts(events: &[Event]) -> Vec<&crate::events::ConnectionEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(c) => Some(&**c),
            _ => None,
        })
        .collect()
}

fn handshake() -> Vec<Segment> {
    vec![
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(3, C, S, A, ISN_C + 1, ISN_S + 1, 0),
    ]
}

/// A half-close: the client's FIN, then server data it still takes, then the server's FIN.
fn half_close() -> Vec<Segment> {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 2, 5),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 6, 0),
        seg(8, S, C, F | A, ISN_S + 6, ISN_C + 2, 0),
        seg(9, C, S, A, ISN_C + 2, ISN_S + 7, 0),
    ]);
    s
}

/// A payload cut by the snaplen: on the wire, not in the file.
fn cut(mut s: Segment) -> Segment {
    s.payload_cut = true;
    s.orig_len = 54 + s.payload_len;
    s.cap_len = 54;
    s
}

fn truncated(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(a) if a.kind == AnomalyKind::TruncatedFrame => a.frame,
            _ => None,
        })
        .collect()
}

/// The history after the handshake and `then`.
fn history_after_handshake(then: &[Segment]) -> String {
    let mut s = handshake();
    s.extend_from_slice(then);
    verdicts(&run(&s))[0].history.to_string()
}

mod challenge;
mod closing;
mod delivery;
mod duplicates;
mod established;
mod handshake_edges;
mod identity;
mod loss;
mod midstream;

mod one_sided;
mod opening;
mod properties;
mod reorder;
mod time_wait;
