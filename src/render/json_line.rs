//! The JSON line of a segment, state or call event (nearly every line of a capture), written
//! straight into the buffer: the schema's keys as constant text, numbers with itoa. The same
//! bytes as serde's derive, which stays the reference: the other events go through it, tests
//! compare both ways of writing on generated events, and the JSON Lines snapshots of every
//! capture in `captures/` hold.

use crate::events::{CallEvent, Endpoint, Event, SegmentEvent, StateEvent, StateSource};
use crate::timestamp::Timestamp;
use std::io::Write;
use std::net::SocketAddr;

/// Write `e`'s JSON (no newline) if it is one this module writes; false for the others.
pub fn write_event(buf: &mut Vec<u8>, e: &Event) -> bool {
    match e {
        Event::Segment(s) => segment(buf, s),
        Event::State(s) => state(buf, s),
        // An owner's name is the kernel's comm: anything; serde writes those.
        Event::Call(c) if c.owner.is_none() => call(buf, c),
        _ => return false,
    }
    true
}

fn segment(b: &mut Vec<u8>, s: &SegmentEvent) {
    let mut n = itoa::Buffer::new();
    b.extend_from_slice(b"{\"type\":\"segment\",\"frame\":");
    b.extend_from_slice(n.format(s.frame).as_bytes());
    time(b, s.t);
    b.extend_from_slice(b",\"conn\":");
    b.extend_from_slice(n.format(s.conn).as_bytes());
    b.extend_from_slice(b",\"src\":");
    endpoint(b, s.src);
    b.extend_from_slice(b",\"dst\":");
    endpoint(b, s.dst);
    b.extend_from_slice(match s.dir {
        crate::events::Dir::C2s => b",\"dir\":\"c2s\",\"flags\":[",
        crate::events::Dir::S2c => b",\"dir\":\"s2c\",\"flags\":[",
    });
    for (i, name) in s.flags.names().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.push(b'"');
        b.extend_from_slice(name.as_bytes());
        b.push(b'"');
    }
    for (key, v) in [
        (&b"],\"seq\":"[..], s.seq),
        (b",\"ack\":", s.ack),
        (b",\"seq_raw\":", s.seq_raw),
        (b",\"ack_raw\":", s.ack_raw),
        (b",\"len\":", s.len),
    ] {
        b.extend_from_slice(key);
        b.extend_from_slice(n.format(v).as_bytes());
    }
    b.extend_from_slice(b",\"win\":");
    b.extend_from_slice(n.format(s.win).as_bytes());
    let o = &s.options;
    if !o.is_empty() {
        b.extend_from_slice(b",\"options\":{");
        let mut first = true;
        let mut key = |b: &mut Vec<u8>, k: &[u8]| {
            if !first {
                b.push(b',');
            }
            first = false;
            b.extend_from_slice(k);
        };
        if let Some(v) = o.mss {
            key(b, b"\"mss\":");
            b.extend_from_slice(n.format(v).as_bytes());
        }
        if let Some(v) = o.wscale {
            key(b, b"\"wscale\":");
            b.extend_from_slice(n.format(v).as_bytes());
        }
        if o.sack_perm {
            key(b, b"\"sack_perm\":true");
        }
        if let Some((x, y)) = o.ts {
            key(b, b"\"ts\":[");
            b.extend_from_slice(n.format(x).as_bytes());
            b.push(b',');
            b.extend_from_slice(n.format(y).as_bytes());
            b.push(b']');
        }
        b.push(b'}');
    }
    if !s.notes.is_empty() {
        b.extend_from_slice(b",\"notes\":[");
        for (i, note) in s.notes.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.push(b'"');
            b.extend_from_slice(note.as_str().as_bytes());
            b.push(b'"');
        }
        b.push(b']');
    }
    b.push(b'}');
}

/// What a state and a call line begin with: type, time, connection, endpoint.
fn head(b: &mut Vec<u8>, open: &[u8], t: Timestamp, conn: u64, e: Endpoint) {
    b.extend_from_slice(open);
    time(b, t);
    b.extend_from_slice(b",\"conn\":");
    b.extend_from_slice(itoa::Buffer::new().format(conn).as_bytes());
    b.extend_from_slice(b",\"endpoint\":");
    endpoint(b, e);
}

fn state(b: &mut Vec<u8>, s: &StateEvent) {
    head(b, b"{\"type\":\"state\"", s.t, s.conn, s.endpoint);
    b.extend_from_slice(b",\"role\":\"");
    b.extend_from_slice(s.role.as_str().as_bytes());
    b.extend_from_slice(b"\",\"from\":\"");
    b.extend_from_slice(s.from.name().as_bytes());
    b.extend_from_slice(b"\",\"to\":\"");
    b.extend_from_slice(s.to.name().as_bytes());
    b.push(b'"');
    if let Some(f) = s.frame {
        b.extend_from_slice(b",\"frame\":");
        b.extend_from_slice(itoa::Buffer::new().format(f).as_bytes());
    }
    b.extend_from_slice(if s.projected {
        b",\"projected\":true"
    } else {
        b",\"projected\":false"
    });
    if s.source == StateSource::Kernel {
        b.extend_from_slice(b",\"source\":\"kernel\"");
    }
    b.push(b'}');
}

fn call(b: &mut Vec<u8>, c: &CallEvent) {
    use crate::events::{CallSource, Phase};
    head(b, b"{\"type\":\"call\"", c.t, c.conn, c.endpoint);
    b.extend_from_slice(b",\"call\":\"");
    b.extend_from_slice(c.call.as_str().as_bytes());
    b.extend_from_slice(match c.phase {
        Phase::Enter => b"\",\"phase\":\"enter\"",
        Phase::Return => b"\",\"phase\":\"return\"",
    });
    if let Some(r) = c.result {
        b.extend_from_slice(b",\"result\":");
        string(b, &r.as_text());
    }
    b.extend_from_slice(match c.source {
        CallSource::Observed => b",\"source\":\"observed\"}",
        CallSource::Inferred => b",\"source\":\"inferred\"}",
    });
}

/// `,"t":` and the time as serde writes it (seconds, a float of the exact microsecond).
fn time(b: &mut Vec<u8>, t: Timestamp) {
    b.extend_from_slice(b",\"t\":");
    let us = t.as_micros();
    // From 1 s to 2^33 s (the year 2242) serde writes the microsecond decimal itself: the
    // float is the one nearest it (an exact integer divided by 10^6, correctly rounded), and
    // floats there lie less than 10^-6 apart, so no other decimal of at most six places reads
    // back as the same float, and none shorter does. Written here without the float.
    if (1_000_000..(1 << 33) * 1_000_000).contains(&us) {
        b.extend_from_slice(itoa::Buffer::new().format(us / 1_000_000).as_bytes());
        let mut frac = us % 1_000_000;
        if frac == 0 {
            b.extend_from_slice(b".0");
            return;
        }
        let mut places = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
        for p in places[1..].iter_mut().rev() {
            *p = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        let len = 7 - places.iter().rev().take_while(|&&c| c == b'0').count();
        b.extend_from_slice(&places[..len]);
        return;
    }
    let mut ser = serde_json::Serializer::new(&mut *b);
    // Writing a finite float into a Vec cannot fail.
    let _ = serde::Serializer::serialize_f64(&mut ser, t.as_secs_f64_us());
}

/// An endpoint as a JSON string: `"a.b.c.d:port"`, `"[v6]:port"` (no character to escape).
/// An IPv4 one is written a number at a time straight into the line: through
/// the text `Endpoint` makes on the stack, JSON Lines took 5% longer (large.pcap).
fn endpoint(b: &mut Vec<u8>, e: Endpoint) {
    b.push(b'"');
    match e.addr() {
        SocketAddr::V4(a) => {
            let mut n = itoa::Buffer::new();
            for (i, octet) in a.ip().octets().iter().enumerate() {
                if i > 0 {
                    b.push(b'.');
                }
                b.extend_from_slice(n.format(*octet).as_bytes());
            }
            b.push(b':');
            b.extend_from_slice(n.format(a.port()).as_bytes());
        }
        SocketAddr::V6(a) => {
            let _ = write!(b, "{a}");
        }
    }
    b.push(b'"');
}

/// A JSON string; serde_json writes any that needs escaping.
fn string(b: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| c < 0x20 || c == b'"' || c == b'\\') {
        let _ = serde_json::to_writer(&mut *b, s);
        return;
    }
    b.push(b'"');
    b.extend_from_slice(s.as_bytes());
    b.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{
        CallName, CallResult, CallSource, Dir, Errno, Note, Phase, Role, TcpState,
    };
    use crate::segment::{PayloadPrefix, TcpFlags, TcpOptions};
    use proptest::prelude::*;
    use std::net::SocketAddr;

    fn both(e: &Event) -> (String, String) {
        let mut fast = Vec::new();
        assert!(write_event(&mut fast, e), "{e:?}");
        let serde = serde_json::to_string(e).unwrap();
        (String::from_utf8(fast).unwrap(), serde)
    }

    fn addr() -> impl Strategy<Value = Endpoint> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, port)| Endpoint::new(SocketAddr::from((ip, port)))),
            (any::<[u16; 8]>(), any::<u16>())
                .prop_map(|(ip, port)| Endpoint::new(SocketAddr::from((ip, port)))),
        ]
    }

    fn time() -> impl Strategy<Value = Timestamp> {
        prop_oneof![
            any::<i64>().prop_map(Timestamp),
            (0i64..4_000_000_000_000_000_000).prop_map(Timestamp),
            (-1_000_000i64..1_000_000).prop_map(Timestamp),
        ]
    }

    fn state_() -> impl Strategy<Value = TcpState> {
        (0..TcpState::ALL.len()).prop_map(|i| TcpState::ALL[i])
    }

    proptest! {
        /// The time written without a float is serde's float: whole seconds, trailing zeros,
        /// the edges of the range, and outside it (where serde writes it).
        #[test]
        fn times_are_written_as_serde_writes_them(
            t in prop_oneof![
                any::<i64>(),
                (0i64..9_000_000_000_000_000_000),
                (0i64..9_000_000_000).prop_map(|s| s * 1_000_000_000),
                (0i64..9_000_000_000, 0i64..1000).prop_map(|(s, k)| s * 1_000_000_000 + k * 1_000_000),
                (0i64..20_000).prop_map(|d| (1i64 << 33) * 1_000_000_000 - 10_000_000 + d * 1000),
                (0i64..2_000_000).prop_map(|d| 999_000_000 + d),
            ]
        ) {
            let mut fast = Vec::new();
            super::time(&mut fast, Timestamp(t));
            let mut serde = b",\"t\":".to_vec();
            serde_json::to_writer(&mut serde, &Timestamp(t).as_secs_f64_us()).unwrap();
            prop_assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(serde).unwrap());
        }

        #[test]
        fn segments_are_written_as_serde_writes_them(
            frame in any::<u64>(), t in time(), conn in any::<u64>(),
            src in addr(), dst in addr(), c2s in any::<bool>(), flags in 0u16..512,
            nums in any::<[u32; 5]>(), win in any::<u16>(),
            mss in any::<Option<u16>>(), wscale in any::<Option<u8>>(),
            sack_perm in any::<bool>(), ts in any::<Option<(u32, u32)>>(),
            notes in proptest::collection::vec(0usize..5, 0..3),
        ) {
            let all = Note::ALL;
            let e = Event::Segment(SegmentEvent {
                frame, t, conn, src, dst,
                dir: if c2s { Dir::C2s } else { Dir::S2c },
                flags: TcpFlags(flags),
                seq: nums[0], ack: nums[1], seq_raw: nums[2], ack_raw: nums[3], len: nums[4],
                win,
                options: TcpOptions { mss, wscale, sack_perm, ts },
                notes: notes.into_iter().map(|i| all[i]).collect(),
                payload: PayloadPrefix::default(),
            });
            let (fast, serde) = both(&e);
            prop_assert_eq!(fast, serde);
        }

        #[test]
        fn states_are_written_as_serde_writes_them(
            t in time(), conn in any::<u64>(), endpoint in addr(), client in any::<bool>(),
            from in state_(), to in state_(), frame in any::<Option<u64>>(),
            projected in any::<bool>(), kernel in any::<bool>(),
        ) {
            let e = Event::State(StateEvent {
                t, conn, endpoint,
                role: if client { Role::Client } else { Role::Server },
                from, to, frame, projected,
                source: if kernel { StateSource::Kernel } else { StateSource::Inferred },
            });
            let (fast, serde) = both(&e);
            prop_assert_eq!(fast, serde);
        }

        #[test]
        fn calls_are_written_as_serde_writes_them(
            t in time(), conn in any::<u64>(), endpoint in addr(),
            call in 0..CallName::ALL.len(), enter in any::<bool>(), observed in any::<bool>(),
            result in proptest::option::of(prop_oneof![
                Just(CallResult::Ok), Just(CallResult::OkShutWr), Just(CallResult::OkShutRd),
                Just(CallResult::OkShutRdWr), Just(CallResult::FinSent),
                Just(CallResult::ShutWrSent), Just(CallResult::RstSent),
                Just(CallResult::Killed),
                any::<u64>().prop_map(CallResult::Bytes),
                any::<i32>().prop_map(|e| CallResult::Errno(Errno(e))),
                (any::<bool>(), any::<i32>())
                    .prop_map(|(reuse, backlog)| CallResult::Listening { reuse, backlog }),
            ]),
        ) {
            let e = Event::Call(CallEvent {
                t, conn, endpoint,
                call: CallName::ALL[call],
                phase: if enter { Phase::Enter } else { Phase::Return },
                result,
                source: if observed { CallSource::Observed } else { CallSource::Inferred },
                owner: None,
            });
            let (fast, serde) = both(&e);
            prop_assert_eq!(fast, serde);
        }
    }
}
