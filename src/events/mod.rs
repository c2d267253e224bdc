//! The timeline: the events the tracker infers, in time order, as the JSON Lines schema
//! (docs/SCHEMA.md) names them. Plain data with `serde::Serialize`; no I/O, no clock.

use crate::segment::{PayloadPrefix, TcpFlags, TcpOptions};
use crate::timestamp::Timestamp;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

mod call;
mod call_note;
mod verdict;
pub use call::{CallEvent, CallName, CallResult, CallSource, Errno, Owner, Phase};
pub use call_note::CallNote;
use std::fmt;
use std::net::SocketAddr;
pub use verdict::{ConnState, ConnectionEvent, FinalStates, Initiator, Outcome, SpentVerdicts};

/// A connection id: unique in one run, assigned in order of first appearance.
pub type ConnId = u64;

/// The eleven RFC 9293 states, plus `Unknown` for an endpoint picked up mid-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// Not yet known: the connection was picked up mid-stream.
    Unknown,
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for the peer's SYN.
    SynSent,
    /// SYN received (and our SYN sent), waiting for its ACK.
    SynReceived,
    /// Open; data flows both ways.
    Established,
    /// FIN sent, not yet acknowledged.
    FinWait1,
    /// Our FIN acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// Peer's FIN received; waiting for the application to close.
    CloseWait,
    /// FINs crossed: both sent, ours not yet acknowledged.
    Closing,
    /// Our FIN (after the peer's) sent, waiting for its ACK.
    LastAck,
    /// Both FINs done; waiting out stray segments (Linux: 60 s).
    TimeWait,
}

impl TcpState {
    /// Every state, for filters and bitmasks.
    pub const ALL: [TcpState; 12] = [
        TcpState::Unknown,
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The schema's name: `SYN_SENT`, `FIN_WAIT_1`, …
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Unknown => "UNKNOWN",
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }

    /// Parse a schema name (case-insensitive; `-` and `_` alike).
    pub fn parse(s: &str) -> Option<TcpState> {
        let norm = s.to_ascii_uppercase().replace('-', "_");
        Self::ALL.into_iter().find(|st| st.name() == norm)
    }

    /// One bit per state.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TcpState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Which role an endpoint plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sent the first SYN (or guessed, for mid-stream connections).
    Client,
    /// Answered it.
    Server,
}

impl Role {
    /// `client` / `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

/// An endpoint `ip:port` (IPv6 as `[::1]:8888`), serialized as a string.
///
/// Held in 20 bytes (a `SocketAddr` takes 32, for an IPv6 flow label and scope that no
/// captured header or traced call gives): every event carries one or two, and events are
/// moved a few times each on their way out. Ordered as `SocketAddr` orders (IPv4 first, then
/// by address, then port). A scope written in an observed call's note (`[fe80::1%2]:80`, in a
/// pcapng comment) is dropped: the segments it belongs with carry none.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    v6: bool,
    /// IPv4's four bytes first (the rest zero), or IPv6's sixteen.
    ip: [u8; 16],
    port: u16,
}

impl Endpoint {
    /// `addr` (an IPv6 address's flow label and scope are not kept).
    pub const fn new(addr: SocketAddr) -> Endpoint {
        let mut ip = [0; 16];
        match addr {
            SocketAddr::V4(a) => {
                let o = a.ip().octets();
                ip[0] = o[0];
                ip[1] = o[1];
                ip[2] = o[2];
                ip[3] = o[3];
                Endpoint {
                    v6: false,
                    ip,
                    port: a.port(),
                }
            }
            SocketAddr::V6(a) => Endpoint {
                v6: true,
                ip: a.ip().octets(),
                port: a.port(),
            },
        }
    }

    /// The address.
    pub fn addr(self) -> SocketAddr {
        if self.v6 {
            SocketAddr::from((self.ip, self.port))
        } else {
            let [a, b, c, d, ..] = self.ip;
            SocketAddr::from(([a, b, c, d], self.port))
        }
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Endpoint {
        Endpoint::new(addr)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.addr()).finish()
    }
}

/// `a.b.c.d:port` in `buf`, without the formatting machinery (the common case).
fn v4_text<'b>(a: &std::net::SocketAddrV4, buf: &'b mut [u8; 21]) -> &'b str {
    let mut n = 0;
    let mut num = itoa::Buffer::new();
    for (i, octet) in a.ip().octets().iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let d = num.format(*octet).as_bytes();
        buf[n..n + d.len()].copy_from_slice(d);
        n += d.len();
    }
    buf[n] = b':';
    n += 1;
    let d = num.format(a.port()).as_bytes();
    buf[n..n + d.len()].copy_from_slice(d);
    n += d.len();
    std::str::from_utf8(&buf[..n]).expect("ASCII digits")
}

impl Endpoint {
    /// The endpoint's text, as its `SocketAddr` writes it, made on the stack and handed to
    /// `f` (IPv4, the common case, without the formatting machinery).
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match &self.addr() {
            SocketAddr::V4(a) => f(v4_text(a, &mut [0; 21])),
            a @ SocketAddr::V6(_) => {
                // `[` 8 groups of at most 4 hex digits and 7 colons `]:` 5 digits: 49 bytes.
                let mut buf = [0u8; 64];
                let mut rest = &mut buf[..];
                let _ = std::io::Write::write_fmt(&mut rest, format_args!("{a}"));
                let n = 64 - rest.len();
                f(std::str::from_utf8(&buf[..n]).expect("an address is ASCII"))
            }
        }
    }

    /// Append the endpoint as `Display` writes it.
    pub fn push_to(&self, s: &mut String) {
        self.with_text(|t| s.push_str(t));
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_text(|t| s.serialize_str(t))
    }
}

impl fmt::Display for Endpoint {
    /// Padded as a whole when a width is asked, as `SocketAddr` pads itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_text(|t| f.pad(t))
    }
}

fn ser_flags<S: Serializer>(flags: &TcpFlags, s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(None)?;
    for name in flags.names() {
        seq.serialize_element(name)?;
    }
    seq.end()
}

fn ser_options<S: Serializer>(o: &TcpOptions, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(None)?;
    if let Some(v) = o.mss {
        m.serialize_entry("mss", &v)?;
    }
    if let Some(v) = o.wscale {
        m.serialize_entry("wscale", &v)?;
    }
    if o.sack_perm {
        m.serialize_entry("sack_perm", &true)?;
    }
    if let Some((a, b)) = o.ts {
        m.serialize_entry("ts", &[a, b])?;
    }
    m.end()
}

/// Which way a segment went, as the schema spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Dir {
    /// Client to server.
    #[serde(rename = "c2s")]
    C2s,
    /// Server to client.
    #[serde(rename = "s2c")]
    S2c,
}

/// A note on one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// Carries sequence space already sent.
    Retransmission,
    /// Starts beyond what was sent before (a segment is missing or late).
    OutOfOrder,
    /// The same segment captured twice.
    Duplicate,
    /// Arrived after its connection had ended.
    AfterClose,
    /// An RST that is not in the receiver's window (ignored).
    RstOutOfWindow,
}

impl Note {
    /// Every note, in the order a segment's are listed.
    pub const ALL: [Note; 5] = [
        Note::Retransmission,
        Note::OutOfOrder,
        Note::Duplicate,
        Note::AfterClose,
        Note::RstOutOfWindow,
    ];

    /// Its bit in `Notes`: its place in `ALL` (a test checks they agree).
    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The schema's name: `retransmission`, `out_of_order`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Note::Retransmission => "retransmission",
            Note::OutOfOrder => "out_of_order",
            Note::Duplicate => "duplicate",
            Note::AfterClose => "after_close",
            Note::RstOutOfWindow => "rst_out_of_window",
        }
    }
}

/// A segment's notes: a set, listed in `Note::ALL`'s order (a byte, not an allocation: every
/// segment carries one, and events are moved many times on their way out).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Notes(u8);

impl Notes {
    /// Add `n`.
    pub fn insert(&mut self, n: Note) {
        self.0 |= n.bit();
    }

    /// Is `n` among them?
    pub fn contains(self, n: Note) -> bool {
        self.0 & n.bit() != 0
    }

    /// None.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The set as a byte: bit `i` for `Note::ALL[i]`.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set a byte of `bits` stands for (bits past `Note::ALL` are dropped).
    pub fn from_bits(bits: u8) -> Notes {
        Notes(bits & ((1 << Note::ALL.len()) - 1))
    }

    /// The notes, in `Note::ALL`'s order.
    pub fn iter(self) -> impl Iterator<Item = Note> {
        Note::ALL.into_iter().filter(move |n| self.contains(*n))
    }
}

impl From<Note> for Notes {
    fn from(n: Note) -> Self {
        Notes(n.bit())
    }
}

impl FromIterator<Note> for Notes {
    fn from_iter<I: IntoIterator<Item = Note>>(it: I) -> Self {
        let mut s = Notes::default();
        for n in it {
            s.insert(n);
        }
        s
    }
}

impl fmt::Debug for Notes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Notes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for n in self.iter() {
            seq.serialize_element(&n)?;
        }
        seq.end()
    }
}

/// One TCP segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentEvent {
    /// 1-based frame number.
    pub frame: u64,
    /// Capture time.
    pub t: Timestamp,
    /// Connection.
    pub conn: ConnId,
    /// Sender.
    pub src: Endpoint,
    /// Receiver.
    pub dst: Endpoint,
    /// Direction.
    pub dir: Dir,
    /// Flags, in the schema's order.
    #[serde(serialize_with = "ser_flags")]
    pub flags: TcpFlags,
    /// Sequence number relative to the sender's ISN (raw if the SYN was not seen).
    pub seq: u32,
    /// Acknowledgment number relative to the receiver's ISN (raw if not seen).
    pub ack: u32,
    /// Raw sequence number.
    pub seq_raw: u32,
    /// Raw acknowledgment number.
    pub ack_raw: u32,
    /// Payload length.
    pub len: u32,
    /// Raw window.
    pub win: u16,
    /// TCP options.
    #[serde(
        serialize_with = "ser_options",
        skip_serializing_if = "TcpOptions::is_empty"
    )]
    pub options: TcpOptions,
    /// Notes (retransmission, …).
    #[serde(skip_serializing_if = "Notes::is_empty")]
    pub notes: Notes,
    /// The first payload bytes (renderers only; never in JSON).
    #[serde(skip)]
    pub payload: PayloadPrefix,
}

/// One endpoint state change.
#[derive(Debug, Clone, Serialize)]
pub struct StateEvent {
    /// When.
    pub t: Timestamp,
    /// Connection.
    pub conn: ConnId,
    /// Whose state.
    pub endpoint: Endpoint,
    /// Its role.
    pub role: Role,
    /// Before.
    pub from: TcpState,
    /// After.
    pub to: TcpState,
    /// The segment that caused it (absent for timer-driven changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// A TIME_WAIT→CLOSED change after the input ended.
    pub projected: bool,
    /// Inferred from packets (left out of JSON), or the kernel's own (`watch --kernel-check`).
    #[serde(skip_serializing_if = "StateSource::is_inferred")]
    pub source: StateSource,
}

/// Where a state change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateSource {
    /// Inferred from the packets.
    #[default]
    Inferred,
    /// The kernel's own (`sock:inet_sock_set_state`).
    Kernel,
}

impl StateSource {
    /// Inferred (the JSON leaves the field out).
    pub fn is_inferred(&self) -> bool {
        *self == StateSource::Inferred
    }
}

/// Kinds of anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// A retransmitted SYN, SYN-ACK, FIN or data.
    Retransmission,
    /// A sequence gap.
    OutOfOrder,
    /// Picked up mid-stream: no handshake captured.
    Midstream,
    /// An RST outside the receiver's window.
    RstOutOfWindow,
    /// A transition no rule allows.
    IllegalTransition,
    /// A frame cut before the end of its TCP header.
    TruncatedFrame,
    /// The same segment captured twice.
    Duplicate,
    /// Dropped from memory: more connections open at once than `--max-connections`.
    /// (An addition to the schema's list, for the bounded-memory guarantee.)
    Evicted,
}

impl AnomalyKind {
    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Retransmission => "retransmission",
            AnomalyKind::OutOfOrder => "out_of_order",
            AnomalyKind::Midstream => "midstream",
            AnomalyKind::RstOutOfWindow => "rst_out_of_window",
            AnomalyKind::IllegalTransition => "illegal_transition",
            AnomalyKind::TruncatedFrame => "truncated_frame",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::Evicted => "evicted",
        }
    }
}

/// Something a reader should notice.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyEvent {
    /// When.
    pub t: Timestamp,
    /// Connection.
    pub conn: ConnId,
    /// The segment concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// What kind.
    pub kind: AnomalyKind,
    /// A sentence for people.
    pub detail: String,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// A segment.
    Segment(SegmentEvent),
    /// A state change.
    State(StateEvent),
    /// A socket call.
    Call(CallEvent),
    /// An anomaly.
    Anomaly(AnomalyEvent),
    /// A connection's verdict (boxed: the largest event by far, and one a connection, so the
    /// many segment, state and call events stay small to move).
    Connection(Box<ConnectionEvent>),
}

impl Event {
    /// The event's time (a connection's: its end).
    pub fn t(&self) -> Timestamp {
        match self {
            Event::Segment(e) => e.t,
            Event::State(e) => e.t,
            Event::Call(e) => e.t,
            Event::Anomaly(e) => e.t,
            Event::Connection(e) => e.end,
        }
    }

    /// The connection it belongs to.
    pub fn conn(&self) -> ConnId {
        match self {
            Event::Segment(e) => e.conn,
            Event::State(e) => e.conn,
            Event::Call(e) => e.conn,
            Event::Anomaly(e) => e.conn,
            Event::Connection(e) => e.conn,
        }
    }
}

/// The first JSON line: what produced the stream.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Schema version.
    pub schema: u32,
    /// `synfin`.
    pub tool: &'static str,
    /// The crate version.
    pub version: &'static str,
    /// `replay`, `watch` or `demo`.
    pub source: &'static str,
    /// The file(s) or interface.
    pub input: String,
    /// The link type name.
    pub linktype: String,
}

impl Meta {
    /// This build of synfin (schema 1) reading `input` from `source`.
    pub fn synfin(source: &'static str, input: String, linktype: String) -> Meta {
        Meta {
            schema: 1,
            tool: "synfin",
            version: env!("CARGO_PKG_VERSION"),
            source,
            input,
            linktype,
        }
    }
}

/// The last JSON line: totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Frames read.
    pub frames: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Connections seen.
    pub connections: u64,
    /// Frames that gave no TCP segment.
    pub skipped_frames: u64,
    /// Problems met (damaged records, kernel drops), one sentence each.
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An endpoint writes itself, plain or padded, exactly as its socket address does.
        #[test]
        fn endpoints_write_as_socket_addresses(
            ip in any::<[u8; 4]>(),
            ip6 in any::<[u16; 8]>(),
            port in any::<u16>(),
            v6 in any::<bool>(),
        ) {
            let a = if v6 {
                SocketAddr::from((std::net::Ipv6Addr::from(ip6), port))
            } else {
                SocketAddr::from((ip, port))
            };
            let e = Endpoint::new(a);
            let mut pushed = String::from("x");
            e.push_to(&mut pushed);
            prop_assert_eq!(pushed, format!("x{a}"));
            prop_assert_eq!(e.to_string(), a.to_string());
            prop_assert_eq!(format!("{e:>30}|{e:<24}|{e:^28}"), format!("{a:>30}|{a:<24}|{a:^28}"));
            prop_assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{a}\""));
        }

        /// An endpoint is its address again, and endpoints compare as their addresses do
        /// (maps and sorts keyed by endpoint keep the order they had as socket addresses).
        #[test]
        fn endpoints_hold_and_order_as_socket_addresses(
            ips in any::<[[u8; 16]; 2]>(),
            same_ip in any::<bool>(),
            ports in any::<[u16; 2]>(),
            v6 in any::<[bool; 2]>(),
        ) {
            let addr = |i: usize| {
                let ip = if same_ip { ips[0] } else { ips[i] };
                if v6[i] {
                    SocketAddr::from((ip, ports[i]))
                } else {
                    SocketAddr::from(([ip[0], ip[1], ip[2], ip[3]], ports[i]))
                }
            };
            let (a, b) = (addr(0), addr(1));
            let (ea, eb) = (Endpoint::new(a), Endpoint::new(b));
            prop_assert_eq!(ea.addr(), a);
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
            prop_assert_eq!(ea == eb, a == b);
            prop_assert_eq!(format!("{ea:?}"), format!("Endpoint({a:?})"));
        }
    }

    /// `Notes` lists in `Note::ALL`'s order by each note's bit: the two orders must agree, and
    /// every note must be in `ALL` (one left out would vanish from the output).
    #[test]
    fn every_note_is_in_all_at_its_own_place() {
        for (i, n) in Note::ALL.iter().enumerate() {
            assert_eq!(*n as usize, i);
            match n {
                Note::Retransmission
                | Note::OutOfOrder
                | Note::Duplicate
                | Note::AfterClose
                | Note::RstOutOfWindow => {}
            }
        }
        let all: Notes = Note::ALL.into_iter().rev().collect();
        assert_eq!(all.iter().collect::<Vec<_>>(), Note::ALL);
    }
}
