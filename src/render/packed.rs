//! A connection's events packed into bytes while it is open, for the renderers that draw whole
//! connections (the ladder, the timeline, Mermaid, SVG, filtered JSON Lines).
//!
//! A busy capture has thousands of connections open at once, and a grouped format holds every
//! event of each until its verdict: as `Event`s (168 bytes each) that was most of the ladder's
//! memory and much of the tracking thread's copying. Packed, an event takes ~10–40 bytes: the
//! connection id is the group's, times and frame numbers are differences from the event
//! before, endpoints are places in a small table of the group's, a raw sequence number is its
//! side's ISN offset (written again only when it changes), numbers are varints. The packing is
//! lossless (proptested: any event comes back equal); an event it has no short form for (an
//! anomaly's sentence, a call with its owner) is kept whole beside the bytes. Events are
//! unpacked once, where the connection is drawn (on a drawing thread for a file).

use crate::events::{
    CallEvent, CallName, CallResult, CallSource, ConnId, Dir, Endpoint, Errno, Event, Notes, Phase,
    Role, SegmentEvent, StateEvent, StateSource, TcpState,
};
use crate::segment::{PayloadPrefix, TcpFlags, TcpOptions};
use crate::timestamp::Timestamp;
use integer_encoding::VarInt;
use smallvec::SmallVec;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Bytes of room a connection's first events get (a scan's many one-segment connections would
/// each hold more otherwise).
const FIRST_ROOM: usize = 64;

// The first byte of a packed event: its kind.
const SEGMENT: u8 = 0;
const STATE: u8 = 1;
const CALL: u8 = 2;
/// Kept whole: the next of `whole`.
const WHOLE: u8 = 3;

// A segment's second byte.
const S2C: u8 = 1;
const SEQ_OFF_NEW: u8 = 2;
const ACK_OFF_NEW: u8 = 4;
const HAS_OPTIONS: u8 = 8;
const HAS_NOTES: u8 = 16;
const HAS_PAYLOAD: u8 = 32;

// A segment's options byte.
const MSS: u8 = 1;
const WSCALE: u8 = 2;
const SACK_PERM: u8 = 4;
const TS: u8 = 8;

// A state change's second byte (its first: from | to << 4).
const SERVER: u8 = 1;
const PROJECTED: u8 = 2;
const KERNEL: u8 = 4;
const HAS_FRAME: u8 = 8;

// A call's second byte: the call (3 bits), then these.
const RETURN: u8 = 8;
const INFERRED: u8 = 16;
const HAS_RESULT: u8 = 32;

/// The running values both packing and unpacking keep, so each event is written as what
/// changed since the one before.
#[derive(Debug, Clone, Default)]
struct Context {
    t: i64,
    frame: u64,
    /// The endpoints met so far, by first appearance (a connection's two held in place).
    endpoints: SmallVec<[Endpoint; 2]>,
    /// Per direction (c2s, s2c): raw minus relative sequence and acknowledgment numbers.
    seq_off: [u32; 2],
    ack_off: [u32; 2],
    /// Per direction: the last timestamps option.
    ts: [(u32, u32); 2],
}

/// One connection's events, packed, in the order they came.
#[derive(Debug, Clone, Default)]
pub struct PackedEvents {
    conn: ConnId,
    bytes: Vec<u8>,
    /// Events without a short form, in order.
    whole: Vec<Event>,
    count: usize,
    /// The last event's time.
    last_t: Timestamp,
    /// An event came with an earlier time than the one before it.
    unsorted: bool,
    packer: Context,
}

impl PackedEvents {
    /// Add `e` (of one connection: the first event's) after the others.
    pub fn push(&mut self, e: Event) {
        if !self.pack(&e) {
            self.note(&e);
            self.bytes.push(WHOLE);
            self.whole.push(e);
        }
    }

    /// Add `e` after the others if it has a short form (read where it lies, not copied);
    /// false, and nothing added, if it must be kept whole ([`PackedEvents::push`]).
    pub fn pack(&mut self, e: &Event) -> bool {
        let fits = (self.count == 0 || e.conn() == self.conn)
            && match e {
                Event::Segment(_) | Event::State(_) => true,
                Event::Call(c) => c.owner.is_none() && packs_result(c.result),
                _ => false,
            };
        if !fits {
            return false;
        }
        self.note(e);
        let (out, cx) = (&mut self.bytes, &mut self.packer);
        match e {
            Event::Segment(s) => {
                out.push(SEGMENT);
                pack_segment(out, cx, s);
            }
            Event::State(s) => {
                out.push(STATE);
                pack_state(out, cx, s);
            }
            Event::Call(c) => {
                out.push(CALL);
                pack_call(out, cx, c);
            }
            _ => unreachable!("only the kinds above fit"),
        }
        true
    }

    /// Count `e` in: the connection (the first event's), the order of times.
    fn note(&mut self, e: &Event) {
        if self.count == 0 {
            self.conn = e.conn();
            self.bytes.reserve_exact(FIRST_ROOM);
        } else if e.t() < self.last_t {
            self.unsorted = true;
        }
        self.last_t = e.t();
        self.count += 1;
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.count
    }

    /// None yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Is every event's time at least the one's before it?
    pub fn is_sorted(&self) -> bool {
        !self.unsorted
    }

    /// The events, unpacked, in the order they came, leaving none (the bytes' room stays, to
    /// be freed with this where it was made).
    pub fn unpack(&mut self) -> Vec<Event> {
        let mut v = Vec::with_capacity(self.count);
        let mut cx = Context::default();
        let mut whole = std::mem::take(&mut self.whole).into_iter();
        let mut r = Reader {
            bytes: &self.bytes,
            pos: 0,
        };
        while r.pos < r.bytes.len() {
            let e = match r.u8() {
                SEGMENT => Event::Segment(unpack_segment(&mut r, &mut cx, self.conn)),
                STATE => Event::State(unpack_state(&mut r, &mut cx, self.conn)),
                CALL => Event::Call(unpack_call(&mut r, &mut cx, self.conn)),
                _ => whole.next().expect("a whole event for each mark"),
            };
            v.push(e);
        }
        // Empty and ready to be filled again; nothing freed here (on a drawing thread, freeing
        // what the tracking thread allocated contends for its allocator's lock) but an
        // endpoint table grown past two entries (rare).
        self.bytes.clear();
        self.packer = Context::default();
        self.count = 0;
        self.last_t = Timestamp::default();
        self.unsorted = false;
        v
    }
}

/// The bits whose conditions hold, in one byte.
fn flags(bits: &[(bool, u8)]) -> u8 {
    bits.iter()
        .filter(|(on, _)| *on)
        .fold(0, |all, (_, bit)| all | bit)
}

fn put<V: VarInt>(out: &mut Vec<u8>, v: V) {
    let mut buf = [0u8; 10];
    let n = v.encode_var(&mut buf);
    // All ten bytes, then the unused ones taken back: a copy of a known length is two moves,
    // where one of `n` bytes is a call to memcpy (a tenth of the tracking thread's time).
    out.extend_from_slice(&buf);
    out.truncate(out.len() - (10 - n));
}

/// Time and frame as differences from the event before.
fn put_t(out: &mut Vec<u8>, cx: &mut Context, t: Timestamp) {
    put(out, t.0.wrapping_sub(cx.t));
    cx.t = t.0;
}

fn put_frame(out: &mut Vec<u8>, cx: &mut Context, frame: u64) {
    put(out, frame.wrapping_sub(cx.frame) as i64);
    cx.frame = frame;
}

/// An endpoint as its place in the table; a new one's place is the table's length, then the
/// endpoint itself.
fn put_endpoint(out: &mut Vec<u8>, cx: &mut Context, ep: Endpoint) {
    if let Some(i) = cx.endpoints.iter().position(|x| *x == ep) {
        put(out, i);
        return;
    }
    put(out, cx.endpoints.len());
    cx.endpoints.push(ep);
    match ep.addr() {
        SocketAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
        }
        SocketAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
        }
    }
}

fn pack_segment(out: &mut Vec<u8>, cx: &mut Context, s: &SegmentEvent) {
    let d = usize::from(s.dir == Dir::S2c);
    let seq_off = s.seq_raw.wrapping_sub(s.seq);
    let ack_off = s.ack_raw.wrapping_sub(s.ack);
    let bits = flags(&[
        (d == 1, S2C),
        (seq_off != cx.seq_off[d], SEQ_OFF_NEW),
        (ack_off != cx.ack_off[d], ACK_OFF_NEW),
        (!s.options.is_empty(), HAS_OPTIONS),
        (!s.notes.is_empty(), HAS_NOTES),
        (!s.payload.as_bytes().is_empty(), HAS_PAYLOAD),
    ]);
    out.push(bits);
    put_t(out, cx, s.t);
    put_frame(out, cx, s.frame);
    put_endpoint(out, cx, s.src);
    put_endpoint(out, cx, s.dst);
    put(out, s.flags.0);
    put(out, s.seq);
    put(out, s.ack);
    if bits & SEQ_OFF_NEW != 0 {
        out.extend_from_slice(&seq_off.to_le_bytes());
        cx.seq_off[d] = seq_off;
    }
    if bits & ACK_OFF_NEW != 0 {
        out.extend_from_slice(&ack_off.to_le_bytes());
        cx.ack_off[d] = ack_off;
    }
    put(out, s.len);
    put(out, s.win);
    if bits & HAS_OPTIONS != 0 {
        let o = &s.options;
        out.push(flags(&[
            (o.mss.is_some(), MSS),
            (o.wscale.is_some(), WSCALE),
            (o.sack_perm, SACK_PERM),
            (o.ts.is_some(), TS),
        ]));
        if let Some(v) = o.mss {
            put(out, v);
        }
        if let Some(v) = o.wscale {
            out.push(v);
        }
        if let Some((a, b)) = o.ts {
            let (pa, pb) = cx.ts[d];
            put(out, a.wrapping_sub(pa) as i32);
            put(out, b.wrapping_sub(pb) as i32);
            cx.ts[d] = (a, b);
        }
    }
    if bits & HAS_NOTES != 0 {
        out.push(s.notes.bits());
    }
    if bits & HAS_PAYLOAD != 0 {
        let p = s.payload.as_bytes();
        out.push(p.len() as u8);
        out.extend_from_slice(p);
    }
}

fn pack_state(out: &mut Vec<u8>, cx: &mut Context, s: &StateEvent) {
    out.push(s.from as u8 | (s.to as u8) << 4);
    out.push(flags(&[
        (s.role == Role::Server, SERVER),
        (s.projected, PROJECTED),
        (s.source == StateSource::Kernel, KERNEL),
        (s.frame.is_some(), HAS_FRAME),
    ]));
    put_t(out, cx, s.t);
    put_endpoint(out, cx, s.endpoint);
    if let Some(f) = s.frame {
        put_frame(out, cx, f);
    }
}

/// The results a call's short form holds: all but bind+listen's (never on a connection).
fn packs_result(r: Option<CallResult>) -> bool {
    !matches!(r, Some(CallResult::Listening { .. }))
}

fn pack_call(out: &mut Vec<u8>, cx: &mut Context, c: &CallEvent) {
    let call = CallName::ALL
        .iter()
        .position(|n| *n == c.call)
        .expect("every call is in ALL") as u8;
    out.push(
        call | flags(&[
            (c.phase == Phase::Return, RETURN),
            (c.source == CallSource::Inferred, INFERRED),
            (c.result.is_some(), HAS_RESULT),
        ]),
    );
    put_t(out, cx, c.t);
    put_endpoint(out, cx, c.endpoint);
    let Some(r) = c.result else { return };
    let (tag, value) = match r {
        CallResult::Ok => (0, 0),
        CallResult::OkShutWr => (1, 0),
        CallResult::OkShutRd => (2, 0),
        CallResult::OkShutRdWr => (3, 0),
        CallResult::Bytes(n) => (4, n),
        CallResult::Errno(e) => (5, u64::from(e.0 as u32)),
        CallResult::FinSent => (6, 0),
        CallResult::ShutWrSent => (7, 0),
        CallResult::RstSent => (8, 0),
        CallResult::Killed => (9, 0),
        CallResult::Listening { .. } => unreachable!("kept whole"),
    };
    out.push(tag);
    if matches!(tag, 4 | 5) {
        put(out, value);
    }
}

/// Reads what the packing wrote (its own bytes: a mismatch is a bug, and panics).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        self.pos += 1;
        self.bytes[self.pos - 1]
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let a = self.bytes[self.pos..self.pos + N]
            .try_into()
            .expect("N bytes");
        self.pos += N;
        a
    }

    fn var<V: VarInt>(&mut self) -> V {
        let (v, n) = V::decode_var(&self.bytes[self.pos..]).expect("a packed varint");
        self.pos += n;
        v
    }

    fn t(&mut self, cx: &mut Context) -> Timestamp {
        cx.t = cx.t.wrapping_add(self.var::<i64>());
        Timestamp(cx.t)
    }

    fn frame(&mut self, cx: &mut Context) -> u64 {
        cx.frame = cx.frame.wrapping_add(self.var::<i64>() as u64);
        cx.frame
    }

    fn endpoint(&mut self, cx: &mut Context) -> Endpoint {
        let i: usize = self.var();
        if let Some(ep) = cx.endpoints.get(i) {
            return *ep;
        }
        let addr = match self.u8() {
            4 => {
                let ip = Ipv4Addr::from(self.take::<4>());
                SocketAddr::V4(SocketAddrV4::new(ip, u16::from_le_bytes(self.take())))
            }
            _ => {
                let ip = Ipv6Addr::from(self.take::<16>());
                let port = u16::from_le_bytes(self.take());
                SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))
            }
        };
        let ep = Endpoint::new(addr);
        cx.endpoints.push(ep);
        ep
    }
}

fn unpack_segment(r: &mut Reader, cx: &mut Context, conn: ConnId) -> SegmentEvent {
    let bits = r.u8();
    let d = usize::from(bits & S2C != 0);
    let t = r.t(cx);
    let frame = r.frame(cx);
    let src = r.endpoint(cx);
    let dst = r.endpoint(cx);
    let flags = TcpFlags(r.var());
    let seq: u32 = r.var();
    let ack: u32 = r.var();
    if bits & SEQ_OFF_NEW != 0 {
        cx.seq_off[d] = u32::from_le_bytes(r.take());
    }
    if bits & ACK_OFF_NEW != 0 {
        cx.ack_off[d] = u32::from_le_bytes(r.take());
    }
    let len = r.var();
    let win = r.var();
    let mut options = TcpOptions::default();
    if bits & HAS_OPTIONS != 0 {
        let which = r.u8();
        if which & MSS != 0 {
            options.mss = Some(r.var());
        }
        if which & WSCALE != 0 {
            options.wscale = Some(r.u8());
        }
        options.sack_perm = which & SACK_PERM != 0;
        if which & TS != 0 {
            let (pa, pb) = cx.ts[d];
            let a = pa.wrapping_add(r.var::<i32>() as u32);
            let b = pb.wrapping_add(r.var::<i32>() as u32);
            cx.ts[d] = (a, b);
            options.ts = Some((a, b));
        }
    }
    let notes = if bits & HAS_NOTES != 0 {
        Notes::from_bits(r.u8())
    } else {
        Notes::default()
    };
    let payload = if bits & HAS_PAYLOAD != 0 {
        let n = usize::from(r.u8());
        let p = PayloadPrefix::new(&r.bytes[r.pos..r.pos + n]);
        r.pos += n;
        p
    } else {
        PayloadPrefix::default()
    };
    SegmentEvent {
        frame,
        t,
        conn,
        src,
        dst,
        dir: if d == 1 { Dir::S2c } else { Dir::C2s },
        flags,
        seq,
        ack,
        seq_raw: seq.wrapping_add(cx.seq_off[d]),
        ack_raw: ack.wrapping_add(cx.ack_off[d]),
        len,
        win,
        options,
        notes,
        payload,
    }
}

fn unpack_state(r: &mut Reader, cx: &mut Context, conn: ConnId) -> StateEvent {
    let states = r.u8();
    let bits = r.u8();
    let t = r.t(cx);
    let endpoint = r.endpoint(cx);
    let frame = (bits & HAS_FRAME != 0).then(|| r.frame(cx));
    StateEvent {
        t,
        conn,
        endpoint,
        role: if bits & SERVER != 0 {
            Role::Server
        } else {
            Role::Client
        },
        from: TcpState::ALL[usize::from(states & 15)],
        to: TcpState::ALL[usize::from(states >> 4)],
        frame,
        projected: bits & PROJECTED != 0,
        source: if bits & KERNEL != 0 {
            StateSource::Kernel
        } else {
            StateSource::Inferred
        },
    }
}

fn unpack_call(r: &mut Reader, cx: &mut Context, conn: ConnId) -> CallEvent {
    let bits = r.u8();
    let t = r.t(cx);
    let endpoint = r.endpoint(cx);
    let result = (bits & HAS_RESULT != 0).then(|| match r.u8() {
        0 => CallResult::Ok,
        1 => CallResult::OkShutWr,
        2 => CallResult::OkShutRd,
        3 => CallResult::OkShutRdWr,
        4 => CallResult::Bytes(r.var()),
        5 => CallResult::Errno(Errno(r.var::<u64>() as u32 as i32)),
        6 => CallResult::FinSent,
        7 => CallResult::ShutWrSent,
        8 => CallResult::RstSent,
        _ => CallResult::Killed,
    });
    CallEvent {
        t,
        conn,
        endpoint,
        call: CallName::ALL[usize::from(bits & 7)],
        phase: if bits & RETURN != 0 {
            Phase::Return
        } else {
            Phase::Enter
        },
        result,
        source: if bits & INFERRED != 0 {
            CallSource::Inferred
        } else {
            CallSource::Observed
        },
        owner: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyEvent, AnomalyKind, Owner};
    use proptest::prelude::*;

    fn endpoint() -> impl Strategy<Value = Endpoint> {
        // A few of each kind, so that events share endpoints as a connection's do.
        prop_oneof![
            (0u8..3, 0u16..3)
                .prop_map(|(a, p)| { Endpoint::new(SocketAddr::from(([127, 0, 0, a], 8000 + p))) }),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, port)| Endpoint::new(SocketAddr::from((ip, port)))),
            any::<([u8; 4], u16)>().prop_map(|(ip, p)| Endpoint::new(SocketAddr::from((ip, p)))),
        ]
    }

    /// Times and frames near each other (as a connection's are) or anywhere.
    fn t() -> impl Strategy<Value = Timestamp> {
        prop_oneof![0i64..5_000_000, any::<i64>()].prop_map(Timestamp)
    }

    fn frame() -> impl Strategy<Value = u64> {
        prop_oneof![1u64..200, any::<u64>()]
    }

    fn options() -> impl Strategy<Value = TcpOptions> {
        (
            any::<Option<u16>>(),
            any::<Option<u8>>(),
            any::<bool>(),
            prop_oneof![Just(None), any::<(u32, u32)>().prop_map(Some)],
        )
            .prop_map(|(mss, wscale, sack_perm, ts)| TcpOptions {
                mss,
                wscale,
                sack_perm,
                ts,
            })
    }

    fn segment() -> impl Strategy<Value = Event> {
        (
            (
                frame(),
                t(),
                endpoint(),
                endpoint(),
                any::<bool>(),
                0u16..512,
            ),
            (
                0u32..4,
                any::<u32>(),
                any::<u32>(),
                prop_oneof![0u32..3, any::<u32>()],
            ),
            (any::<u32>(), any::<u16>(), options(), any::<u8>()),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(
                |((frame, t, src, dst, s2c, flags), (seq, ack, seq_raw, len), rest, payload)| {
                    let (ack_raw, win, options, notes) = rest;
                    Event::Segment(SegmentEvent {
                        frame,
                        t,
                        conn: 7,
                        src,
                        dst,
                        dir: if s2c { Dir::S2c } else { Dir::C2s },
                        flags: TcpFlags(flags),
                        seq,
                        ack,
                        seq_raw: if seq_raw < 4 {
                            seq.wrapping_add(9)
                        } else {
                            seq_raw
                        },
                        ack_raw,
                        len,
                        win,
                        options,
                        notes: Notes::from_bits(notes),
                        payload: PayloadPrefix::new(&payload),
                    })
                },
            )
    }

    fn state() -> impl Strategy<Value = Event> {
        (
            t(),
            endpoint(),
            any::<bool>(),
            0usize..12,
            0usize..12,
            any::<Option<u64>>(),
            any::<(bool, bool)>(),
        )
            .prop_map(
                |(t, endpoint, server, from, to, frame, (projected, kernel))| {
                    Event::State(StateEvent {
                        t,
                        conn: 7,
                        endpoint,
                        role: if server { Role::Server } else { Role::Client },
                        from: TcpState::ALL[from],
                        to: TcpState::ALL[to],
                        frame,
                        projected,
                        source: if kernel {
                            StateSource::Kernel
                        } else {
                            StateSource::Inferred
                        },
                    })
                },
            )
    }

    fn result() -> impl Strategy<Value = Option<CallResult>> {
        prop_oneof![
            Just(None),
            Just(Some(CallResult::Ok)),
            Just(Some(CallResult::OkShutWr)),
            Just(Some(CallResult::OkShutRd)),
            Just(Some(CallResult::OkShutRdWr)),
            any::<u64>().prop_map(|n| Some(CallResult::Bytes(n))),
            any::<i32>().prop_map(|e| Some(CallResult::Errno(Errno(e)))),
            Just(Some(CallResult::FinSent)),
            Just(Some(CallResult::ShutWrSent)),
            Just(Some(CallResult::RstSent)),
            Just(Some(CallResult::Killed)),
            (any::<bool>(), any::<i32>())
                .prop_map(|(reuse, backlog)| Some(CallResult::Listening { reuse, backlog })),
        ]
    }

    fn call() -> impl Strategy<Value = Event> {
        (
            t(),
            endpoint(),
            0usize..8,
            any::<(bool, bool, bool)>(),
            result(),
        )
            .prop_map(|(t, endpoint, call, (ret, inferred, owned), result)| {
                Event::Call(CallEvent {
                    t,
                    conn: 7,
                    endpoint,
                    call: CallName::ALL[call],
                    phase: if ret { Phase::Return } else { Phase::Enter },
                    result,
                    source: if inferred {
                        CallSource::Inferred
                    } else {
                        CallSource::Observed
                    },
                    owner: owned.then(|| Owner {
                        pid: 42,
                        tid: 43,
                        comm: "python3".into(),
                    }),
                })
            })
    }

    fn anomaly() -> impl Strategy<Value = Event> {
        (t(), any::<Option<u64>>(), ".{0,12}").prop_map(|(t, frame, detail)| {
            Event::Anomaly(AnomalyEvent {
                t,
                conn: 7,
                frame,
                kind: AnomalyKind::OutOfOrder,
                detail,
            })
        })
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![4 => segment(), 3 => state(), 3 => call(), 1 => anomaly()]
    }

    proptest! {
        /// Any events of a connection come back as they went in, in order; whether they were
        /// in time order is told.
        #[test]
        fn events_come_back_as_they_went_in(events in proptest::collection::vec(event(), 0..60)) {
            let mut p = PackedEvents::default();
            for e in &events {
                p.push(e.clone());
            }
            prop_assert_eq!(p.len(), events.len());
            prop_assert_eq!(p.is_sorted(), events.iter().map(Event::t).is_sorted());
            let back = p.unpack();
            prop_assert_eq!(format!("{back:?}"), format!("{events:?}"));
            prop_assert!(p.is_empty());
        }
    }

    /// The state and call tables the packing indexes by are the enums' own orders.
    #[test]
    fn tables_follow_the_enums() {
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        assert!(TcpState::ALL.len() <= 16);
        assert!(CallName::ALL.len() <= 8);
    }

    /// A connection's usual events take a small part of an `Event`'s size each.
    #[test]
    fn a_connections_events_pack_small() {
        let c = SocketAddr::from(([127, 0, 0, 1], 40000));
        let s = SocketAddr::from(([127, 0, 0, 1], 8888));
        let mut p = PackedEvents::default();
        let mut events = 0;
        for i in 0..100u32 {
            let (src, dst, dir) = if i % 2 == 0 {
                (c, s, Dir::C2s)
            } else {
                (s, c, Dir::S2c)
            };
            p.push(Event::Segment(SegmentEvent {
                frame: 1 + u64::from(i),
                t: Timestamp(1_700_000_000_000_000_000 + i64::from(i) * 20_000),
                conn: 3,
                src: Endpoint::new(src),
                dst: Endpoint::new(dst),
                dir,
                flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
                seq: 1 + 100 * i,
                ack: 1 + 100 * i,
                seq_raw: 0x8000_0000 + 100 * i,
                ack_raw: 0x1234_5678 + 100 * i,
                len: 100,
                win: 512,
                options: TcpOptions {
                    ts: Some((1000 + i, 999 + i)),
                    ..TcpOptions::default()
                },
                notes: Notes::default(),
                payload: PayloadPrefix::new(b"hello"),
            }));
            events += 1;
        }
        let per_event = p.bytes.len() / events;
        assert!(per_event < 40, "{per_event} bytes an event");
        assert!(p.whole.is_empty());
    }
}
