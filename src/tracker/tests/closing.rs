//! Tests of the closing states: FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT.

use super::*;

// Tests for the FIN-WAIT-1 state
// =============================================================================================
#[test]
fn fin_that_acks_our_fin_takes_two_transitions_in_one_frame() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    let ev = run(&s);
    let frames: Vec<(TcpState, Option<u64>)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::State(st) if st.endpoint.addr() == C.parse().unwrap() && st.to != Closed => {
                Some((st.to, st.frame))
            }
            _ => None,
        })
        .collect();
    assert!(frames.contains(&(FinWait2, Some(5))) && frames.contains(&(TimeWait, Some(5))));
}

// =============================================================================================
// Tests for the FIN-WAIT-2 state
// =============================================================================================
#[test]
fn rst_in_fin_wait_2_closes_both_ends() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, R | A, ISN_S + 1, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[3..], [FinWait1, FinWait2, Closed]);
    assert_eq!(path(&ev, S)[3..], [CloseWait, Closed]);
}

// =============================================================================================
// Tests for the CLOSE-WAIT state
// =============================================================================================
#[test]
fn half_close_is_inferred_as_shutdown() {
    let ev = run(&half_close());
    assert!(ev.iter().any(|e| matches!(e, Event::Call(c)
        if c.call == crate::events::CallName::Shutdown)));
    assert_eq!(path(&ev, C)[3..], [FinWait1, FinWait2, TimeWait]);
}

// =============================================================================================
// Tests for the CLOSING state
// =============================================================================================
#[test]
fn crossed_fins_give_closing_on_both_ends() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 1, 0), // did not see C's FIN
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, S, C, A, ISN_S + 2, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[3..], [FinWait1, Closing, TimeWait]);
    assert_eq!(path(&ev, S)[3..], [FinWait1, Closing, TimeWait]);
    assert_eq!(
        verdicts(&ev)[0].close_initiator,
        Some(crate::events::Initiator::Both)
    );
}

/// A retransmission that carries a newer ACK must not make a late FIN delivery go back in time.
#[test]
fn crossed_fins_then_a_retransmission_keep_each_endpoint_in_time_order() {
    let ev = run(&[
        seg(1, C, S, SY, 100, 0, 0),
        seg(2, S, C, SY | A, 500, 101, 0),
        seg(3, C, S, A, 101, 501, 0),
        seg(4, C, S, A | TcpFlags::PSH, 101, 501, 5),
        seg(5, S, C, F | A, 501, 101, 0),
        seg(6, C, S, F | A, 106, 501, 0),
        seg(7, C, S, A | TcpFlags::PSH, 101, 502, 5), // retransmitted data, newer ACK
        seg(8, S, C, A, 502, 107, 0),
    ]);
    let server: SocketAddr = S.parse().unwrap();
    let mut last = Timestamp(i64::MIN);
    let mut chain = Vec::new();
    for e in &ev {
        if let Event::State(s) = e {
            if s.endpoint.addr() == server && !s.projected {
                assert!(s.t >= last, "the server's states go back in time: {ev:?}");
                last = s.t;
                if let Some(prev) = chain.last() {
                    assert_eq!(*prev, s.from, "the server's chain breaks");
                }
                chain.push(s.to);
            }
        }
    }
    assert_eq!(chain.last(), Some(&TimeWait));
}

// =============================================================================================
// Tests for the LAST-ACK state
// =============================================================================================
/// A new SYN from a client in TIME_WAIT opens a new connection even if the server never
/// finished (its LAST_ACK still waits).
#[test]
fn reuse_while_the_peer_still_waits_in_last_ack() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    // The server saw the last ACK here; drop it to leave LAST_ACK waiting.
    s.pop();
    s.extend([
        seg(2000, C, S, SY, ISN_C + 50_000, 0, 0),
        seg(2001, S, C, SY | A, ISN_S + 70_000, ISN_C + 50_001, 0),
        seg(2002, C, S, A, ISN_C + 50_001, ISN_S + 70_001, 0),
    ]);
    let ev = run(&s);
    assert_eq!(verdicts(&ev).len(), 2);
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
}

// =============================================================================================
// Tests for the TIME-WAIT state
// =============================================================================================
#[test]
fn client_closes_first_and_waits_in_time_wait() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, C),
        [Closed, SynSent, Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        path(&ev, S),
        [Listen, SynReceived, Established, CloseWait, LastAck, Closed]
    );
    let v = verdicts(&ev)[0];
    assert_eq!(v.history, "ShAFaf");
    assert_eq!(v.conn_state.as_str(), "SF");
    assert_eq!(v.outcome, Outcome::Closed);
    // The end of TIME_WAIT is projected 60 s after it began.
    assert!(ev.iter().any(|e| matches!(e, Event::State(st)
        if st.projected && st.from == TimeWait && st.t == Timestamp(6_000_000 + LINUX_TIME_WAIT_NS))));
}

/// The final ACK was not captured: the TIME_WAIT side still ends on time, not at the end.
#[test]
fn time_wait_ends_on_time_when_the_last_ack_is_missing() {
    const C2: &str = "10.0.0.3:40001";
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        // no final ACK; 100 s later, another connection
        seg(100_000, C2, S, SY, 7, 0, 0),
    ]);
    let ev = run(&s);
    let tw_end = ev
        .iter()
        .position(|e| matches!(e, Event::State(st) if st.from == TimeWait && st.conn == 1))
        .unwrap();
    let later = ev.iter().position(|e| e.conn() == 2).unwrap();
    assert!(tw_end < later, "TIME_WAIT's end comes in time order");
    assert!(matches!(&ev[tw_end], Event::State(st) if !st.projected));
}

#[test]
fn new_syn_on_a_time_wait_tuple_starts_a_new_connection() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, C, S, SY, ISN_C + 100_000, 0, 0),
    ]);
    let ev = run(&s);
    let tw_end = ev.iter().find_map(|e| match e {
        Event::State(st) if st.from == TimeWait => Some((st.frame, st.projected, st.conn)),
        _ => None,
    });
    assert_eq!(tw_end, Some((Some(7), false, 1)));
    assert_eq!(verdicts(&ev).len(), 2);
    assert_eq!(verdicts(&ev)[1].conn, 2);
}

#[test]
fn rst_in_time_wait_ends_it_before_its_60_s() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, S, C, R, ISN_S + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, C),
        [
            Closed,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            Closed
        ]
    );
    // Ended by the RST (frame 7), not projected.
    assert!(ev.iter().any(|e| matches!(e, Event::State(st)
        if st.from == TimeWait && st.frame == Some(7) && !st.projected)));
}

// =============================================================================================

/// The FIN exchange of `client_closes_first_and_waits_in_time_wait`, then the server's FIN
/// again (the last ACK lost after the capture point) and the client's answer `answer`.
fn fin_exchange_then_client_answers(answer: Segment) -> Vec<Event> {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(7, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(300, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        answer,
    ]);
    run(&s)
}

/// When and by which frame the client left TIME_WAIT, and whether that was projected.
fn client_time_wait_end(ev: &[Event]) -> Option<(Option<u64>, bool)> {
    ev.iter().find_map(|e| match e {
        Event::State(st) if st.endpoint.addr() == C.parse().unwrap() && st.from == TimeWait => {
            Some((st.frame, st.projected))
        }
        _ => None,
    })
}

#[test]
fn a_bare_rst_at_the_acknowledged_sequence_shows_no_time_wait_is_left() {
    let ev = fin_exchange_then_client_answers(seg(301, C, S, R, ISN_C + 2, 0, 0));
    assert_eq!(client_time_wait_end(&ev), Some((Some(301), false)));
}

#[test]
fn an_ack_from_time_wait_keeps_it_for_its_60_s() {
    let ev = fin_exchange_then_client_answers(seg(301, C, S, A, ISN_C + 2, ISN_S + 2, 0));
    assert_eq!(client_time_wait_end(&ev), Some((None, true)));
}

#[test]
fn a_bare_rst_while_the_peer_still_waits_in_last_ack_closes_both() {
    // The client's last ACK was not captured: the server stays in LAST_ACK and resends its
    // FIN after the delivery limit; the client has no TCB and answers with a bare RST.
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(1300, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(1301, C, S, R, ISN_C + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[3..], [FinWait1, FinWait2, TimeWait, Closed]);
    assert_eq!(path(&ev, S)[3..], [CloseWait, LastAck, Closed]);
    assert_eq!(client_time_wait_end(&ev), Some((Some(1301), false)));
    assert_eq!(verdicts(&ev)[0].time_wait_until, None);
}
