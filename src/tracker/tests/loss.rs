//! Loss after the capture point: a captured FIN its receiver never got is not delivered;
//! the retransmission it acknowledges is.

use super::*;

/// The frame of the state event that took `ep` into `to`.
fn entered_at(events: &[Event], ep: &str, to: TcpState) -> Option<u64> {
    events.iter().find_map(|e| match e {
        Event::State(s) if s.endpoint.addr() == ep.parse().unwrap() && s.to == to => s.frame,
        _ => None,
    })
}

#[test]
fn a_lost_client_fin_in_a_simultaneous_close_never_makes_the_server_closing() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0), // lost after the capture point
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 1, 0),
        seg(205, C, S, F | A, ISN_C + 1, ISN_S + 2, 0), // resent, acknowledging S's FIN
        seg(206, S, C, A, ISN_S + 2, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, S)[2..],
        [Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        path(&ev, C)[2..],
        [Established, FinWait1, Closing, TimeWait]
    );
    assert_eq!(entered_at(&ev, S, FinWait2), Some(205));
    assert_eq!(
        verdicts(&ev)[0].close_initiator,
        Some(crate::events::Initiator::Client)
    );
}

#[test]
fn a_fin_its_receiver_goes_on_without_is_not_delivered() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 1, 100),
        seg(6, S, C, A | TcpFlags::PSH, ISN_S + 101, ISN_C + 1, 100),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1]);
}

#[test]
fn the_acknowledged_retransmission_of_a_fin_is_the_one_delivered() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 1, 100),
        seg(205, C, S, F | A, ISN_C + 1, ISN_S + 101, 0),
        seg(206, S, C, A, ISN_S + 101, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(entered_at(&ev, S, CloseWait), Some(205));
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1, FinWait2]);
}

#[test]
fn truly_crossed_fins_still_close_both_through_closing() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 1, 0),
        seg(6, S, C, A, ISN_S + 2, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, S)[2..],
        [Established, FinWait1, Closing, TimeWait]
    );
    assert_eq!(entered_at(&ev, S, Closing), Some(4));
    assert_eq!(
        verdicts(&ev)[0].close_initiator,
        Some(crate::events::Initiator::Both)
    );
}

#[test]
fn after_a_lost_abort_rst_the_server_closes_normally() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, R | A, ISN_C + 1, ISN_S + 1, 0), // lost after the capture point
        // The server goes on within the RST's limit (250 ms: Linux's minimum RTO, 200 ms,
        // and a margin), as a retransmission would.
        seg(204, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 1, 10),
        seg(205, S, C, F | A, ISN_S + 11, ISN_C + 1, 0),
        seg(206, C, S, R, ISN_C + 1, 0, 0), // no TCB: answers with a bare RST
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established, Closed]);
    assert_eq!(
        path(&ev, S),
        [Listen, SynReceived, Established, FinWait1, Closed]
    );
    assert_eq!(entered_at(&ev, S, Closed), Some(206));
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Reset);
}

#[test]
fn an_abort_rst_met_by_silence_closes_the_receiver_at_the_rst() {
    let mut s = handshake();
    s.push(seg(4, C, S, R | A, ISN_C + 1, ISN_S + 1, 0));
    let ev = run(&s);
    assert_eq!(entered_at(&ev, S, Closed), Some(4));
    let closed_at = ev.iter().find_map(|e| match e {
        Event::State(st) if st.endpoint.addr() == S.parse().unwrap() && st.to == Closed => {
            Some(st.t)
        }
        _ => None,
    });
    assert_eq!(closed_at, Some(Timestamp(4_000_000)));
}

#[test]
fn a_segment_crossing_the_rst_in_flight_does_not_undo_it() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, R | A, ISN_C + 1, ISN_S + 1, 0),
        // sent before the RST arrived: within the handshake's round trip (2 ms)
        seg(5, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 1, 10),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S).last(), Some(&Closed));
}
