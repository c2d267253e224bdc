//! The full-screen view's state: a pure struct fed by the tracker's events (and, where the
//! source has them, the frames), changed by keys ([`super::keys`]), drawn by
//! [`super::draw`]. No terminal, no clock: time is the capture's (or what the caller pushes
//! with [`Model::tick`]).

use super::conn::{ConnEntry, FRAME_SNAP};
use super::strip::{Counts, StateStrip};
use crate::events::{ConnId, Event, Meta, Role, TcpState};
use crate::filter_expr::{FilterError, FilterExpr, Resolver};
use crate::frame::Frame;
use crate::frame::OwnedFrame;
use crate::render::RenderOpts;
use crate::timestamp::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// How many evicted ids are remembered.
const GONE_KEPT: usize = 1 << 16;

/// Bounds on memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Ended connections kept in the list; past this the oldest ended leave it (counted).
    pub ended: usize,
    /// Frames waiting for their segment's event (a frame whose segment never comes, being
    /// no TCP or filtered out, is forgotten past this).
    pub pending_frames: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ended: 2000,
            pending_frames: 4096,
        }
    }
}

/// The list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Connection id: the order they began.
    Id,
    /// Latest activity, most recent last.
    Activity,
    /// The client's state, then the server's (RFC 9293's order).
    State,
    /// Outcome (open first).
    Outcome,
    /// Anomalies, most last.
    Anomalies,
    /// Client address.
    Endpoint,
}

impl SortKey {
    /// The next key, for the sort key.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Id => SortKey::Activity,
            SortKey::Activity => SortKey::State,
            SortKey::State => SortKey::Outcome,
            SortKey::Outcome => SortKey::Anomalies,
            SortKey::Anomalies => SortKey::Endpoint,
            SortKey::Endpoint => SortKey::Id,
        }
    }

    /// Its name on screen.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Activity => "activity",
            SortKey::State => "state",
            SortKey::Outcome => "outcome",
            SortKey::Anomalies => "anomalies",
            SortKey::Endpoint => "endpoint",
        }
    }
}

/// Which screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The connection list and the state strip.
    List,
    /// The selected connection's ladder.
    Ladder,
}

/// A line being typed at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A filter expression (tcpdump's words, as on the command line).
    Filter(String),
    /// Text to search the list for.
    Search(String),
    /// Which export: one key.
    Export,
}

/// The view's state.
#[derive(Debug, Clone)]
pub struct Model {
    /// What is watched (source and input), for the title and exports.
    pub meta: Meta,
    /// Renderer options for the ladder and exports (colour, payload, `--max-segments`).
    pub opts: RenderOpts,
    pub(crate) conns: BTreeMap<ConnId, ConnEntry>,
    /// Ended connections in the order they ended, for eviction.
    ended: VecDeque<ConnId>,
    /// Ended connections that left the list.
    pub evicted: u64,
    /// The ids of the latest that left.
    gone: BTreeSet<ConnId>,
    /// Connections seen.
    pub seen: u64,
    /// Each tracked socket's state (client, server), until both are closed.
    sockets: HashMap<ConnId, [TcpState; 2]>,
    /// Sockets per state, now.
    pub counts: Counts,
    /// Sockets per state over time.
    pub strip: StateStrip,
    /// The latest time: a capture's, or the caller's clock ([`Model::tick`]).
    pub now: Timestamp,
    /// Memory bounds.
    pub limits: Limits,
    frames: BTreeMap<u64, OwnedFrame>,
    /// Which screen.
    pub screen: Screen,
    /// Help shown over it.
    pub help: bool,
    /// The line being typed.
    pub prompt: Option<Prompt>,
    /// A one-line message (an export written, a filter's error).
    pub message: Option<String>,
    /// The list's order.
    pub sort: SortKey,
    /// Reversed.
    pub reverse: bool,
    /// The filter in force: its text and expression.
    pub filter: Option<(String, FilterExpr)>,
    /// The last search.
    pub search: Option<String>,
    /// Follow: the selection goes to the newest connection and the ladder to its end.
    /// Paused: both stay where they are while events come.
    pub follow: bool,
    /// The selected connection (when not following).
    pub selected: Option<ConnId>,
    /// The ladder's first line shown (when not following).
    pub ladder_top: usize,
    /// The screen's size, for paging.
    pub size: (u16, u16),
    /// The input has ended (replay read it all).
    pub finished: bool,
}

impl Model {
    /// An empty view of `title`.
    pub fn new(meta: Meta, opts: RenderOpts, limits: Limits) -> Model {
        Model {
            meta,
            opts,
            conns: BTreeMap::new(),
            ended: VecDeque::new(),
            evicted: 0,
            gone: BTreeSet::new(),
            seen: 0,
            sockets: HashMap::new(),
            counts: [0; TcpState::ALL.len()],
            strip: StateStrip::default(),
            now: Timestamp(0),
            limits,
            frames: BTreeMap::new(),
            screen: Screen::List,
            help: false,
            prompt: None,
            message: None,
            sort: SortKey::Id,
            reverse: false,
            filter: None,
            search: None,
            follow: true,
            selected: None,
            ladder_top: 0,
            size: (80, 24),
            finished: false,
        }
    }

    /// A frame was captured: kept until its segment's event names it.
    pub fn handle_frame(&mut self, f: &Frame<'_>) {
        self.frames.insert(f.number, OwnedFrame::of(f, FRAME_SNAP));
        while self.frames.len() > self.limits.pending_frames {
            self.frames.pop_first();
        }
    }

    /// Time passes with no event (live): ages grow, the strip moves on.
    pub fn tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
            self.strip.observe(now, &self.counts);
        }
    }

    /// One event from the tracker.
    pub fn handle_event(&mut self, e: &Event) {
        let id = e.conn();
        if id == 0 {
            return; // a call on no connection (listen())
        }
        let t = e.t();
        let projected = matches!(e, Event::State(st) if st.projected);
        if !self.conns.contains_key(&id) && !self.gone.contains(&id) {
            self.seen += 1;
            self.conns.insert(id, ConnEntry::new(id, t));
        }
        // A TIME_WAIT end projected past the input's end is the ladder's, not the counts'.
        if let (Event::State(s), false) = (e, projected) {
            self.move_socket(id, s.role, s.to);
        }
        if let Some(c) = self.conns.get_mut(&id) {
            // A traced call names the process that holds that end (the first one told).
            if let (Event::Call(call), None) = (e, &c.owner) {
                if let Some(o) = &call.owner {
                    let mut o = o.clone();
                    o.tid = o.pid;
                    c.owner = Some(o.to_string());
                }
            }
            if let (Event::State(s), false) = (e, projected) {
                let i = usize::from(s.role == Role::Server);
                c.states[i] = s.to;
                // A socket connected to itself is both ends.
                if c.client.is_some() && c.client == c.server {
                    c.states[1 - i] = s.to;
                }
            }
            if let Event::Segment(s) = e {
                if let Some(f) = self.frames.remove(&s.frame) {
                    c.frames.push(f);
                }
            }
            let was_ended = c.ended();
            c.record(e);
            if !was_ended && c.ended() {
                self.ended.push_back(id);
                self.evict();
            }
        }
        if t > self.now && !projected {
            self.now = t;
        }
        self.strip.observe(self.now, &self.counts);
    }

    /// A socket changed state: the counts follow. A socket is counted from its first state
    /// change, in any state but CLOSED; a connection is forgotten here once neither of its
    /// sockets is counted.
    fn move_socket(&mut self, id: ConnId, role: Role, to: TcpState) {
        let counted = |s: TcpState| !matches!(s, TcpState::Unknown | TcpState::Closed);
        let i = usize::from(role == Role::Server);
        let s = self.sockets.entry(id).or_insert([TcpState::Unknown; 2]);
        if counted(s[i]) {
            let n = &mut self.counts[s[i] as usize];
            *n = n.saturating_sub(1);
        }
        s[i] = to;
        if counted(to) {
            self.counts[to as usize] += 1;
        }
        if !s.iter().any(|&x| counted(x)) {
            self.sockets.remove(&id);
        }
    }

    /// Past the limit, the oldest ended connections leave the list (not the selected one).
    fn evict(&mut self) {
        while self.ended.len() > self.limits.ended {
            let Some(id) = self.ended.pop_front() else {
                break;
            };
            if Some(id) == self.selected && !self.follow {
                self.ended.push_back(id);
                if self.ended.len() == 1 {
                    break;
                }
                continue;
            }
            self.conns.remove(&id);
            self.evicted += 1;
            // Remembered (boundedly) so that its late events (TIME_WAIT's end) do not list
            // it again.
            self.gone.insert(id);
            if self.gone.len() > GONE_KEPT {
                self.gone.pop_first();
            }
        }
    }

    /// Name the process that owns connection `id`'s local socket (the list's owner column
    /// appears once one is known). No source says owners yet.
    pub fn set_owner(&mut self, id: ConnId, owner: String) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.owner = Some(owner);
        }
    }

    /// Every connection in the list, filtered or not, by id.
    pub fn connections(&self) -> impl Iterator<Item = &ConnEntry> {
        self.conns.values()
    }

    /// The connections the list shows, in its order.
    pub fn visible(&self) -> Vec<&ConnEntry> {
        let mut v: Vec<&ConnEntry> = self
            .conns
            .values()
            .filter(|c| self.filter.as_ref().is_none_or(|(_, e)| c.matches(e)))
            .collect();
        let state_key = |c: &ConnEntry| (c.states[0], c.states[1]);
        match self.sort {
            SortKey::Id => {}
            SortKey::Activity => v.sort_by_key(|c| (c.last, c.id)),
            SortKey::State => v.sort_by_key(|c| (state_key(c), c.id)),
            SortKey::Outcome => v.sort_by_key(|c| (c.outcome().as_str(), c.id)),
            SortKey::Anomalies => v.sort_by_key(|c| (c.anomalies, c.id)),
            SortKey::Endpoint => v.sort_by_key(|c| (c.client, c.id)),
        }
        if self.reverse {
            v.reverse();
        }
        v
    }

    /// The selected connection among `visible`: the newest (last) when following, else the
    /// chosen one if it is still shown.
    pub fn selected_in(&self, visible: &[&ConnEntry]) -> Option<usize> {
        if self.follow {
            return visible.len().checked_sub(1);
        }
        let id = self.selected?;
        visible.iter().position(|c| c.id == id)
    }

    /// The selected connection.
    pub fn selected_conn(&self) -> Option<&ConnEntry> {
        let v = self.visible();
        self.selected_in(&v).map(|i| v[i])
    }

    /// Filter the list with tcpdump's words (empty: no filter), names resolved by `resolver`.
    pub fn apply_filter(&mut self, text: &str, resolver: &dyn Resolver) -> Result<(), FilterError> {
        if text.trim().is_empty() {
            self.filter = None;
            return Ok(());
        }
        let expr = crate::filter_expr::parse_with(text, resolver)?;
        self.filter = Some((text.to_string(), expr));
        Ok(())
    }

    /// A row's words, for search: id, endpoints, states, outcome.
    pub fn row_text(c: &ConnEntry) -> String {
        let ep = |e: Option<crate::events::Endpoint>| e.map_or("?".into(), |e| e.to_string());
        format!(
            "{} {} {} {} {} {}",
            c.id,
            ep(c.client),
            ep(c.server),
            c.states[0],
            c.states[1],
            c.outcome().as_str()
        )
    }

    /// Frames are at hand for a pcap export of the selected connection.
    pub fn pending_frames(&self) -> usize {
        self.frames.len()
    }
}
