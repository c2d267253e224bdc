//! A connection's verdict: how it ended (outcome, Zeek's conn_state and history), who closed
//! first, each end's final state, and the counts.

use super::{ConnId, Endpoint, TcpState};
use crate::timestamp::Timestamp;
use compact_str::CompactString;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use smallvec::SmallVec;

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// FINs both ways, acknowledged.
    Closed,
    /// Ended by an RST after it was established.
    Reset,
    /// The SYN was answered by an RST: no listener.
    Refused,
    /// Ended by an RST during the handshake, or evicted from memory.
    Aborted,
    /// The handshake never completed and nothing ended it.
    Incomplete,
    /// Still open when the input ended.
    Open,
}

impl Outcome {
    /// Every outcome, for filters.
    pub const ALL: [Outcome; 6] = [
        Outcome::Closed,
        Outcome::Reset,
        Outcome::Refused,
        Outcome::Aborted,
        Outcome::Incomplete,
        Outcome::Open,
    ];
    /// The schema's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Closed => "closed",
            Outcome::Reset => "reset",
            Outcome::Refused => "refused",
            Outcome::Aborted => "aborted",
            Outcome::Incomplete => "incomplete",
            Outcome::Open => "open",
        }
    }
}

/// Who sent the first FIN (or RST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Initiator {
    /// The client.
    Client,
    /// The server.
    Server,
    /// Both, each before seeing the other's (crossed FINs).
    Both,
}

/// Final states, client first, as a JSON object.
#[derive(Debug, Clone)]
pub struct FinalStates(pub SmallVec<[(Endpoint, TcpState); 2]>);

impl Serialize for FinalStates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (ep, st) in &self.0 {
            m.serialize_entry(ep, st)?;
        }
        m.end()
    }
}

/// The verdict on one connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionEvent {
    /// Connection.
    pub conn: ConnId,
    /// Client (originator).
    pub client: Endpoint,
    /// Server (responder).
    pub server: Endpoint,
    /// First segment.
    pub start: Timestamp,
    /// Last segment.
    pub end: Timestamp,
    /// SYN to the ACK of the SYN-ACK, in ms (null without a whole handshake).
    pub handshake_rtt_ms: Option<f64>,
    /// Segments client→server, server→client.
    pub packets: [u64; 2],
    /// Payload bytes client→server, server→client.
    pub bytes: [u64; 2],
    /// Zeek's conn.log history.
    pub history: CompactString,
    /// Zeek's conn.log conn_state.
    pub conn_state: ConnState,
    /// How it ended.
    pub outcome: Outcome,
    /// Who closed first.
    pub close_initiator: Option<Initiator>,
    /// Each endpoint's state at the end.
    pub final_states: FinalStates,
    /// When the TIME_WAIT endpoint (if any) entered TIME_WAIT (renderers only).
    #[serde(skip)]
    pub time_wait_since: Option<Timestamp>,
    /// When the TIME_WAIT endpoint (if any) leaves TIME_WAIT (renderers only).
    #[serde(skip)]
    pub time_wait_until: Option<Timestamp>,
    /// Anomalies raised (renderers and filters only).
    #[serde(skip)]
    pub anomalies: u32,
    /// Retransmitted segments (renderers only).
    #[serde(skip)]
    pub retransmissions: u32,
    /// RST segments (renderers only).
    #[serde(skip)]
    pub resets: u32,
    /// Every state either endpoint entered, as `TcpState::bit`s (filters only).
    #[serde(skip)]
    pub states_entered: u16,
    /// The server's endpoint answered a SYN in this capture (so a refusal means its listener
    /// went away, or dropped the SYN from a full queue: renderers only).
    #[serde(skip)]
    pub server_listened: bool,
    /// Roles were guessed (no handshake captured).
    #[serde(skip)]
    pub roles_guessed: bool,
    /// Crossed SYNs between two sockets: both are active, neither listened (renderers only;
    /// `client` is then the first SYN's sender).
    #[serde(skip)]
    pub simultaneous_open: bool,
    /// Zeek's own endpoint records (`c$orig`, `c$resp`): the state, named as init-bare.zeek's
    /// `TCP_*` constants, and `size` (for comparison with Zeek's output only).
    #[serde(skip)]
    pub zeek_endpoints: [(&'static str, u64); 2],
}

impl ConnectionEvent {
    /// A connection from `client` to `server` still open at `t`, nothing counted yet: what a
    /// verdict says before there is one (the live view's open connections; tests).
    pub fn open_between(
        conn: ConnId,
        client: Endpoint,
        server: Endpoint,
        t: Timestamp,
    ) -> ConnectionEvent {
        ConnectionEvent {
            conn,
            client,
            server,
            start: t,
            end: t,
            handshake_rtt_ms: None,
            packets: [0; 2],
            bytes: [0; 2],
            history: CompactString::default(),
            conn_state: ConnState::OTH,
            outcome: Outcome::Open,
            close_initiator: None,
            final_states: FinalStates(SmallVec::new()),
            time_wait_since: None,
            time_wait_until: None,
            anomalies: 0,
            retransmissions: 0,
            resets: 0,
            states_entered: 0,
            server_listened: false,
            roles_guessed: false,
            simultaneous_open: false,
            zeek_endpoints: [("TCP_CLOSED", 0); 2],
        }
    }
}

/// Zeek's conn.log `conn_state`: how far each end got, in Zeek's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum ConnState {
    /// A SYN, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Established and ended normally.
    SF,
    /// The SYN was rejected.
    REJ,
    /// Established, the originator closed; nothing from the responder after.
    S2,
    /// Established, the responder closed; nothing from the originator after.
    S3,
    /// Established, the originator aborted (RST).
    RSTO,
    /// Established, the responder aborted.
    RSTR,
    /// The originator sent a SYN then an RST; no SYN,ACK.
    RSTOS0,
    /// The responder sent a SYN,ACK then an RST; no SYN from the originator.
    RSTRH,
    /// The originator sent a SYN then a FIN; no SYN,ACK ("half" open).
    SH,
    /// The responder sent a SYN,ACK then a FIN; no SYN from the originator.
    SHR,
    /// No SYN seen: mid-stream traffic.
    OTH,
}

impl ConnState {
    /// Zeek's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Verdicts a renderer is done with, handed back to the thread that made them
/// (`Renderer::take_spent`): in their boxes, because the tracker puts its next verdicts in them.
#[allow(clippy::vec_box)]
pub type SpentVerdicts = Vec<Box<ConnectionEvent>>;
