//! Reordering after the capture point: a FIN captured before the data it follows is taken by
//! its receiver only when the gap below it fills (tcp_data_queue keeps it in the out-of-order
//! queue; tcp_ofo_queue hands it to tcp_fin once the data is in order). An orphan (closed with
//! close(), so RCV_SHUTDOWN) answers data or an out-of-order FIN with an RST and dies
//! (tcp_rcv_state_process's TCPABORTONDATA, tcp_timewait_state_process's TCP_TW_RST in the
//! FIN-WAIT-2 substate). An RST at RCV.NXT − 1 resets CLOSE-WAIT, CLOSING and LAST-ACK
//! (tcp_reset_check).

use super::*;

/// The frame of the (first) state event that took `ep` into `to`.
fn entered_at(events: &[Event], ep: &str, to: TcpState) -> Option<u64> {
    events.iter().find_map(|e| match e {
        Event::State(s) if s.endpoint.addr() == ep.parse().unwrap() && s.to == to => s.frame,
        _ => None,
    })
}

fn illegal(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition => Some(a.detail.clone()),
            _ => None,
        })
        .collect()
}

fn calls(events: &[Event], ep: &str) -> Vec<crate::events::CallName> {
    let ep: SocketAddr = ep.parse().unwrap();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call(c) if c.endpoint.addr() == ep => Some(c.call),
            _ => None,
        })
        .collect()
}

const P: u16 = TcpFlags::PSH;

// =============================================================================================
// A FIN ahead of its data
// =============================================================================================

/// The client's data was held up behind its FIN: the server, ESTABLISHED, keeps the FIN out
/// of order (its duplicate ACK shows it) and enters CLOSE-WAIT when the data arrives.
#[test]
fn a_fin_ahead_of_its_data_is_taken_when_the_data_arrives() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 101, ISN_S + 1, 0), // the data before it is not here yet
        seg(5, S, C, A, ISN_S + 1, ISN_C + 1, 0),       // duplicate ACK (SACK of the FIN)
        seg(205, C, S, A | P, ISN_C + 1, ISN_S + 1, 100), // the data, resent
        seg(206, S, C, A, ISN_S + 1, ISN_C + 102, 0),   // data and FIN acknowledged
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait]);
    assert_eq!(entered_at(&ev, S, CloseWait), Some(205));
    assert_eq!(entered_at(&ev, C, FinWait2), Some(206));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// With no duplicate ACK captured in between, the ACK that covers the FIN still dates its
/// delivery at the data that filled the gap, not at the FIN.
#[test]
fn a_fin_ahead_of_its_data_is_dated_at_the_data_not_the_fin() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 101, ISN_S + 1, 0),
        seg(5, C, S, A | P, ISN_C + 1, ISN_S + 1, 100), // reordered after the capture point
        seg(6, S, C, A, ISN_S + 1, ISN_C + 102, 0),
    ]);
    let ev = run(&s);
    assert_eq!(entered_at(&ev, S, CloseWait), Some(5));
}

/// Two holes below the FIN: it is taken when the last one fills.
#[test]
fn a_fin_waits_for_every_hole_below_it() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | P, ISN_C + 101, ISN_S + 1, 100), // [101, 201); [1, 101) missing
        seg(5, C, S, F | A, ISN_C + 301, ISN_S + 1, 0),   // [201, 301) missing too
        seg(6, C, S, A | P, ISN_C + 201, ISN_S + 1, 100), // second hole filled
        seg(7, S, C, A, ISN_S + 1, ISN_C + 1, 0),         // still waiting for [1, 101)
        seg(207, C, S, A | P, ISN_C + 1, ISN_S + 1, 100), // first hole filled
        seg(208, S, C, A, ISN_S + 1, ISN_C + 302, 0),
    ]);
    let ev = run(&s);
    assert_eq!(entered_at(&ev, S, CloseWait), Some(207));
}

/// A FIN whose gap never fills was never taken: the receiver stays ESTABLISHED.
#[test]
fn a_fin_whose_gap_never_fills_is_not_taken() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 101, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 1, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
}

/// The client half-closed first (shutdown(SHUT_WR): it still reads). The server's last data
/// is overtaken by its FIN: the client stays FIN-WAIT-2 until the data comes, then enters
/// TIME-WAIT.
#[test]
fn fin_wait_2_waits_for_the_data_below_the_fin_before_time_wait() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 101, ISN_C + 2, 0), // ahead of its data
        seg(7, C, S, A, ISN_C + 2, ISN_S + 1, 0),       // duplicate ACK: still FIN-WAIT-2
        seg(207, S, C, A | P, ISN_S + 1, ISN_C + 2, 100),
        seg(208, C, S, A, ISN_C + 2, ISN_S + 102, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, C)[2..],
        [Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(entered_at(&ev, C, TimeWait), Some(207));
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait, LastAck, Closed]);
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

// =============================================================================================
// An orphan killed by what comes after its close()
// =============================================================================================

/// The client closed (an orphan in FIN-WAIT-2, which reads nothing more). The server's FIN
/// overtakes its data: out of order after close(), so the orphan answers with an RST
/// (seq = the FIN's ACK) and is gone, without a call; the RST closes the server in LAST-ACK.
#[test]
fn an_orphan_answers_a_fin_ahead_of_its_data_with_an_rst_and_dies() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, F | A, ISN_S + 101, ISN_C + 2, 0), // its data reordered behind it
        seg(7, C, S, R, ISN_C + 2, 0, 0),
        seg(8, S, C, A | P, ISN_S + 1, ISN_C + 2, 100), // crossing the RST: no socket now
        seg(9, C, S, R, ISN_C + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1, FinWait2, Closed]);
    assert_eq!(entered_at(&ev, C, Closed), Some(7));
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait, LastAck, Closed]);
    assert_eq!(entered_at(&ev, S, Closed), Some(7));
    let c = calls(&ev, C);
    assert_eq!(
        c.iter()
            .filter(|n| **n == crate::events::CallName::Close)
            .count(),
        1,
        "only the FIN's close(): {c:?}"
    );
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// Data after the orphan's close() (no FIN from the server yet): the orphan resets, the
/// server in CLOSE-WAIT takes the RST.
#[test]
fn an_orphan_answers_late_data_with_an_rst_and_dies() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, S, C, A | P, ISN_S + 1, ISN_C + 2, 100),
        seg(7, C, S, R, ISN_C + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1, FinWait2, Closed]);
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait, Closed]);
    assert_eq!(entered_at(&ev, S, Closed), Some(7));
    let c = calls(&ev, C);
    assert_eq!(
        c.iter()
            .filter(|n| **n == crate::events::CallName::Close)
            .count(),
        1,
        "only the FIN's close(): {c:?}"
    );
}

// =============================================================================================
// An RST at RCV.NXT − 1 after a FIN (tcp_reset_check)
// =============================================================================================

/// Crossed FINs: the client is CLOSING. The server's RST carries its FIN's own sequence
/// number (RCV.NXT − 1 for the client): Linux resets a CLOSING socket on it.
#[test]
fn closing_takes_an_rst_at_rcv_nxt_minus_one() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, F | A, ISN_S + 1, ISN_C + 1, 0),
        seg(6, C, S, A, ISN_C + 2, ISN_S + 2, 0),
        seg(7, S, C, R | A, ISN_S + 1, ISN_C + 2, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1, Closing, Closed]);
    assert_eq!(entered_at(&ev, C, Closed), Some(7));
}

/// CLOSE-WAIT takes it too; ESTABLISHED (no FIN received) answers it with a challenge ACK.
#[test]
fn close_wait_takes_an_rst_at_rcv_nxt_minus_one_established_does_not() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(6, C, S, R | A, ISN_C + 1, ISN_S + 1, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait, Closed]);

    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | P, ISN_C + 1, ISN_S + 1, 10),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 11, 0),
        seg(6, C, S, R | A, ISN_C + 10, ISN_S + 1, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
}
