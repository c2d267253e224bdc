//! Handshakes the kernel ends or completes off the RFC 9293 path: an accept queue that was
//! full (tcp_check_req's listen_overflow), a connect() or an orphan gone before its peer's
//! answer (tcp_v4_send_reset for a port with no socket), TCP Fast Open (data on the SYN).

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

fn calls(events: &[Event], ep: &str) -> Vec<(crate::events::CallName, Option<u64>)> {
    let ep: SocketAddr = ep.parse().unwrap();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call(c) if c.endpoint.addr() == ep => {
                Some((c.call, Some((c.t.0 / 1_000_000) as u64)))
            }
            _ => None,
        })
        .collect()
}

// =============================================================================================
// 9. Accept-queue overflow: the final ACK dropped by a full backlog
// =============================================================================================

/// The server resends its SYN,ACK after the client's ACK: the request sock did not take it
/// (listen_overflow). Its child exists only once it acknowledges the client's data.
#[test]
fn a_full_accept_queue_keeps_the_server_in_syn_received_until_it_acks_data() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 10), // data, dropped too
        seg(1002, S, C, SY | A, ISN_S, ISN_C + 1, 0), // SYN,ACK again: ACK not taken
        seg(1003, C, S, A, ISN_C + 11, ISN_S + 1, 0), // dup ACK
        seg(1204, C, S, A, ISN_C + 1, ISN_S + 1, 10), // data again: now taken
        seg(1205, S, C, A, ISN_S + 1, ISN_C + 11, 0), // the child ACKs it
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Established]);
    assert_eq!(entered_at(&ev, C, Established), Some(2));
    assert_eq!(entered_at(&ev, S, Established), Some(1205));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// With tcp_abort_on_overflow the listener answers the final ACK with an RST: the request
/// is gone (never ESTABLISHED), the client's socket is reset.
#[test]
fn abort_on_overflow_resets_a_request_that_never_was_established() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 10),
        seg(5, S, C, R, ISN_S + 1, 0, 0), // answers the ACK (seq = its ack)
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established, Closed]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Closed]);
    assert_eq!(entered_at(&ev, S, Closed), Some(5));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// A request whose SYN,ACK retries ran out (the ACK never taken) is gone: the listener
/// answers the client's next segment with an RST.
#[test]
fn an_expired_request_is_answered_by_the_listeners_rst() {
    let mut s = handshake();
    s.extend([
        seg(1002, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(1003, C, S, A, ISN_C + 1, ISN_S + 1, 0),
        seg(3002, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(3003, C, S, A, ISN_C + 1, ISN_S + 1, 0),
        seg(40000, C, S, A, ISN_C + 1, ISN_S + 1, 10),
        seg(40001, S, C, R, ISN_S + 1, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established, Closed]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Closed]);
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

// =============================================================================================
// 10. Aborts before or after the exchange
// =============================================================================================

/// connect() abandoned in SYN-SENT: the SYN,ACK finds no socket, the kernel answers with an
/// RST (seq = its ACK, no ACK bit). The client was CLOSED already; no call sent it.
#[test]
fn a_syn_ack_to_an_abandoned_connect_is_answered_by_the_kernels_rst() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(3, C, S, R, ISN_C + 1, 0, 0),
    ]);
    assert_eq!(path(&ev, C), [Closed, SynSent, Closed]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Closed]);
    assert_eq!(entered_at(&ev, C, Closed), Some(3));
    assert_eq!(entered_at(&ev, S, Closed), Some(3));
    // Only the connect() that began it: no close() sent that RST.
    assert!(
        calls(&ev, C)
            .iter()
            .all(|(c, _)| *c == crate::events::CallName::Connect),
        "{:?}",
        calls(&ev, C)
    );
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// The request resends its SYN,ACK one second after sending it, and its timer fires a
/// little late (16 ms on lo): more than a second after the ACK it answers. That ACK was
/// still dropped (seen with `demo --scenario accept-overflow`). When a later ACK was taken
/// is unknown: the server is ESTABLISHED at its child's own first segment.
#[test]
fn a_syn_ack_resent_just_over_a_second_after_the_ack_still_shows_it_dropped() {
    let mut s = handshake(); // the final ACK (frame 3) was lost after the capture point
    s.extend([
        seg(1019, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(1020, C, S, A, ISN_C + 1, ISN_S + 1, 0), // the queue is full: dropped
        seg(3030, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(3031, C, S, A, ISN_C + 1, ISN_S + 1, 0), // taken
        seg(3500, C, S, A, ISN_C + 1, ISN_S + 1, 5),
        seg(3501, S, C, A, ISN_S + 1, ISN_C + 6, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Established]);
    assert_eq!(entered_at(&ev, S, Established), Some(3501));
    assert_eq!(entered_at(&ev, C, Established), Some(2));
}

/// The abandoned connect()'s first SYN,ACK was lost after the capture point: the request
/// sock resends it after a second (past the hold), and that copy meets the RST. The client
/// was never ESTABLISHED, and the request sock's end makes no call fail (seen with
/// `demo --scenario abandoned-connect --kernel-check`).
#[test]
fn a_syn_ack_resent_to_an_abandoned_connect_after_a_second_meets_an_rst() {
    let s = vec![
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(2, S, C, SY | A, ISN_S, ISN_C + 1, 0), // lost after the capture point
        seg(1100, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(1101, C, S, R, ISN_C + 1, 0, 0),
    ];
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Closed]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Closed]);
    assert_eq!(entered_at(&ev, C, Closed), Some(1101));
    let at_rst = |ep| {
        calls(&ev, ep)
            .into_iter()
            .filter(|(_, f)| *f == Some(1101))
            .count()
    };
    assert_eq!((at_rst(C), at_rst(S)), (0, 0), "{:?}", calls(&ev, S));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// A FIN-WAIT-2 orphan past tcp_fin_timeout is gone: the peer's late FIN meets the
/// kernel's RST. The orphan was CLOSED by its timer, not by a call; the peer in LAST-ACK
/// is CLOSED by the RST.
#[test]
fn a_late_fin_to_a_timed_out_fin_wait_2_orphan_meets_an_rst() {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, F | A, ISN_C + 1, ISN_S + 1, 0),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 2, 0),
        seg(70_000, S, C, F | A, ISN_S + 1, ISN_C + 2, 0),
        seg(70_001, C, S, R, ISN_C + 2, 0, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C)[2..], [Established, FinWait1, FinWait2, Closed]);
    assert_eq!(path(&ev, S)[2..], [Established, CloseWait, LastAck, Closed]);
    assert_eq!(entered_at(&ev, C, Closed), Some(70_001));
    assert_eq!(entered_at(&ev, S, Closed), Some(70_001));
    let close_calls = calls(&ev, C)
        .iter()
        .filter(|(c, _)| *c == crate::events::CallName::Close)
        .count();
    assert!(close_calls <= 1, "{:?}", calls(&ev, C)); // the FIN's close(), not the RST's
    assert!(calls(&ev, C).iter().all(|(_, f)| *f != Some(70_001)));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

// =============================================================================================
// 11. TCP Fast Open: data on the SYN
// =============================================================================================

fn tfo(synack_acks: u32) -> Vec<Segment> {
    vec![
        seg(1, C, S, SY, ISN_C, 0, 20),
        seg(2, S, C, SY | A, ISN_S, synack_acks, 0),
    ]
}

#[test]
fn a_syn_ack_that_takes_the_syns_data_opens_without_anomaly() {
    let mut s = tfo(ISN_C + 21);
    s.extend([
        seg(3, C, S, A, ISN_C + 21, ISN_S + 1, 0),
        seg(4, S, C, A, ISN_S + 1, ISN_C + 21, 5),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Established]);
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
    // connect() with data: the data counts as sent at the SYN.
    let c = calls(&ev, C);
    assert!(
        c.contains(&(crate::events::CallName::Send, Some(1))),
        "{c:?}"
    );
}

/// The server dropped the SYN's data (no cookie): its SYN,ACK acknowledges the SYN only;
/// the client sends the data again after the handshake.
#[test]
fn a_syn_ack_that_acks_only_the_syn_opens_without_anomaly() {
    let mut s = tfo(ISN_C + 1);
    s.extend([
        seg(3, C, S, A, ISN_C + 1, ISN_S + 1, 20),
        seg(4, S, C, A, ISN_S + 1, ISN_C + 21, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(&ev, S)[1..], [SynReceived, Established]);
    assert_eq!(entered_at(&ev, C, Established), Some(2));
    assert_eq!(entered_at(&ev, S, Established), Some(3));
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}

/// A Fast Open child exists from the SYN: the server may answer and close before the
/// client's final ACK (SYN-RECEIVED → FIN-WAIT-1).
#[test]
fn a_fast_open_server_may_close_before_the_final_ack() {
    let mut s = tfo(ISN_C + 21);
    s.extend([
        seg(3, S, C, F | A, ISN_S + 1, ISN_C + 21, 30),
        seg(4, C, S, A, ISN_C + 21, ISN_S + 32, 0),
        seg(5, C, S, F | A, ISN_C + 21, ISN_S + 32, 0),
        seg(6, S, C, A, ISN_S + 32, ISN_C + 22, 0),
    ]);
    let ev = run(&s);
    assert_eq!(
        path(&ev, S)[1..],
        [SynReceived, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        path(&ev, C),
        [Closed, SynSent, Established, CloseWait, LastAck, Closed]
    );
    assert!(illegal(&ev).is_empty(), "{:?}", illegal(&ev));
}
