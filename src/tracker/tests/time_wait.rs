//! A SYN meets TIME-WAIT (tcp_timewait_state_process): accepted (SYN,ACK) or rejected (the
//! TIME-WAIT's ACK, then the client's RST assassinates it, then the SYN again).

use super::*;

const ISN_C2: u32 = 900_000;
const ISN_S2: u32 = 700_000;

/// The server closes first and waits in TIME_WAIT; the client is CLOSED.
fn server_in_time_wait() -> Vec<Segment> {
    let mut s = handshake();
    s.extend([
        seg(4, S, C, F | A, ISN_S + 1, ISN_C + 1, 0),
        seg(5, C, S, A, ISN_C + 1, ISN_S + 2, 0),
        seg(6, C, S, F | A, ISN_C + 1, ISN_S + 2, 0),
        seg(7, S, C, A, ISN_S + 2, ISN_C + 2, 0),
    ]);
    s
}

/// `server_in_time_wait`, then `then`.
fn server_in_time_wait_then(then: &[Segment]) -> Vec<Event> {
    let mut s = server_in_time_wait();
    s.extend_from_slice(then);
    run(&s)
}

/// (frame, projected) of the server's TIME_WAIT end.
fn server_time_wait_end(ev: &[Event]) -> Option<(Option<u64>, bool)> {
    ev.iter().find_map(|e| match e {
        Event::State(st) if st.endpoint.addr() == S.parse().unwrap() && st.from == TimeWait => {
            Some((st.frame, st.projected))
        }
        _ => None,
    })
}

fn conn_of(ev: &[Event], frame: u64) -> u64 {
    ev.iter()
        .find_map(|e| match e {
            Event::Segment(s) if s.frame == frame => Some(s.conn),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_syn_the_time_wait_rejects_leaves_it_until_the_clients_rst() {
    let ev = server_in_time_wait_then(&[
        seg(1000, C, S, SY, ISN_C2, 0, 0),
        seg(1001, S, C, A, ISN_S + 2, ISN_C + 2, 0), // TCP_TW_ACK
        seg(1002, C, S, R, ISN_C + 2, 0, 0),         // SYN-SENT answers a bad ACK
        seg(2000, C, S, SY, ISN_C2, 0, 0),
        seg(2001, S, C, SY | A, ISN_S2, ISN_C2 + 1, 0),
        seg(2002, C, S, A, ISN_C2 + 1, ISN_S2 + 1, 0),
    ]);
    assert_eq!(server_time_wait_end(&ev), Some((Some(1002), false)));
    assert_eq!((conn_of(&ev, 1001), conn_of(&ev, 1002)), (1, 1));
    assert_eq!(conn_of(&ev, 2002), 2);
    let new: Vec<Event> = ev.iter().filter(|e| e.conn() == 2).cloned().collect();
    assert_eq!(path(&new, C), [Closed, SynSent, Established]);
    assert_eq!(path(&new, S), [Listen, SynReceived, Established]);
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
    assert_eq!(verdicts(&ev).len(), 2);
    assert_eq!(verdicts(&ev)[1].history, "ShA");
}

#[test]
fn a_syn_the_time_wait_accepts_ends_it_at_the_syn() {
    let ev = server_in_time_wait_then(&[
        seg(1000, C, S, SY, ISN_C2, 0, 0),
        seg(1001, S, C, SY | A, ISN_S2, ISN_C2 + 1, 0), // TCP_TW_SYN
        seg(1002, C, S, A, ISN_C2 + 1, ISN_S2 + 1, 0),
    ]);
    assert_eq!(server_time_wait_end(&ev), Some((Some(1000), false)));
    assert_eq!(verdicts(&ev).len(), 2);
}

#[test]
fn a_rejected_syn_with_no_rst_leaves_the_time_wait_its_60_s() {
    let ev = server_in_time_wait_then(&[
        seg(1000, C, S, SY, ISN_C2, 0, 0),
        seg(1001, S, C, A, ISN_S + 2, ISN_C + 2, 0),
    ]);
    assert_eq!(server_time_wait_end(&ev), Some((None, true)));
}

#[test]
fn a_time_wait_ended_by_a_late_answer_is_not_dated_before_output_that_left() {
    // Found by the shuffling property: the SYN's hold is gone (data settled it) when the
    // SYN,ACK shows TCP_TW_SYN, so the TIME-WAIT's end is told at that SYN,ACK.
    let c = conversation_after_fins();
    let ev = run(&c);
    let mut last = Timestamp(i64::MIN);
    for e in ev.iter().filter(|e| !matches!(e, Event::Connection(_))) {
        assert!(e.t() >= last, "time went backwards at {e:?}");
        last = e.t();
    }
    assert_eq!(server_time_wait_end(&ev), Some((Some(6), false)));
}

/// Mid-stream FINs, the final ACK, then a SYN, server data and the SYN,ACK (1 ms apart).
fn conversation_after_fins() -> Vec<Segment> {
    vec![
        seg(1, S, C, F | A, ISN_S + 6, ISN_C + 7, 0),
        seg(2, C, S, F | A, ISN_C + 6, ISN_S + 6, 0),
        seg(3, C, S, A, ISN_C + 7, ISN_S + 7, 0),
        seg(4, C, S, SY, ISN_C, 0, 0),
        seg(5, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 6, 5),
        seg(6, S, C, SY | A, ISN_S, ISN_C + 1, 0),
    ]
}

/// At the end of the input, the ended connections are gone for a consumer wanting verdicts
/// only as for one wanting every event (the live call join asks `conn_between` after
/// `finish`: a call then pending on a 4-tuple once in TIME_WAIT belongs to no connection).
#[test]
fn after_finish_no_ended_connection_is_found_whatever_is_wanted() {
    let s = server_in_time_wait();
    let (c, srv): (SocketAddr, SocketAddr) = (C.parse().unwrap(), S.parse().unwrap());
    for wanted in [Wanted::ALL, Wanted::VERDICTS] {
        let mut t = Tracker::new(TrackerConfig {
            wanted,
            ..TrackerConfig::default()
        });
        let mut out = Vec::new();
        for x in &s {
            t.handle_segment(x);
            t.poll_events(&mut out, usize::MAX);
        }
        assert!(t.conn_between(c, srv).is_some(), "in TIME_WAIT: {wanted:?}");
        t.finish();
        loop {
            let before = out.len();
            t.poll_events(&mut out, 1024);
            if out.len() == before {
                break;
            }
        }
        assert_eq!(t.conn_between(c, srv), None, "{wanted:?}");
        assert_eq!(verdicts(&out).len(), 1, "{wanted:?}");
    }
}

/// A TIME_WAIT runs out while the capture goes on with another connection: its end is told
/// at its 60 s (not projected, no frame), before the other connection's next segment, though
/// nothing was due for 30 s before it (the tracker looks at its deadlines only once the
/// earliest it knows of has come; with `debug_assert`s on, it checks that none was missed).
#[test]
fn a_time_wait_runs_out_on_time_among_other_traffic() {
    const C2: &str = "10.0.0.1:40001";
    let mut s = server_in_time_wait();
    s.extend([
        seg(30_000, C2, S, SY, ISN_C2, 0, 0),
        seg(30_001, S, C2, SY | A, ISN_S2, ISN_C2 + 1, 0),
        seg(30_002, C2, S, A, ISN_C2 + 1, ISN_S2 + 1, 0),
        seg(61_000, C2, S, A | TcpFlags::PSH, ISN_C2 + 1, ISN_S2 + 1, 5),
    ]);
    let ev = run(&s);
    let end = ev.iter().position(|e| {
        matches!(e, Event::State(st) if st.from == TimeWait && st.endpoint.addr() == S.parse().unwrap())
    });
    let data = ev
        .iter()
        .position(|e| matches!(e, Event::Segment(x) if x.frame == 61_000));
    assert_eq!(server_time_wait_end(&ev), Some((None, false)));
    assert!(end < data, "{end:?} {data:?}");
    assert_eq!(ev[end.unwrap()].t(), Timestamp(60_006_000_000));
}
