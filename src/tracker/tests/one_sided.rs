//! Captures of one direction only: the unseen side is inferred from what the seen side
//! acknowledges.

use super::*;

#[test]
fn a_client_seen_alone_establishes_sends_and_closes() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(3, C, S, A, ISN_C + 1, ISN_S + 1, 0), // acknowledges the unseen SYN,ACK
        seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 20),
        seg(6, C, S, F | A, ISN_C + 21, ISN_S + 1, 0),
        seg(8, C, S, A, ISN_C + 22, ISN_S + 2, 0), // acknowledges the unseen FIN
    ]);
    assert_eq!(
        path(&ev, C),
        [Closed, SynSent, Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        path(&ev, S),
        [Listen, SynReceived, Established, CloseWait, LastAck, Closed]
    );
    let v = verdicts(&ev)[0];
    assert_eq!(v.outcome, Outcome::Closed);
    assert_eq!(v.handshake_rtt_ms, Some(2.0));
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
}

#[test]
fn a_server_seen_alone_establishes_and_closes_second() {
    // As one-sided-2745.pcap: the responder's SYN,ACK, an ACK of 52 unseen bytes, then its
    // FIN acknowledging the client's unseen FIN.
    let ev = run(&[
        seg(1, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(41, S, C, A, ISN_S + 1, ISN_C + 53, 0),
        seg(10_589, S, C, F | A, ISN_S + 1, ISN_C + 54, 0),
    ]);
    assert_eq!(
        path(&ev, S),
        [Unknown, SynReceived, Established, CloseWait, LastAck]
    );
    assert_eq!(
        path(&ev, C),
        [Unknown, Established, FinWait1, FinWait2, TimeWait]
    );
    let v = verdicts(&ev)[0];
    assert_eq!(v.history, "^haf");
    assert_eq!(
        v.close_initiator,
        Some(crate::events::Initiator::Client),
        "the client's unseen FIN came first"
    );
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition)));
}

#[test]
fn data_acknowledged_is_no_fin() {
    // A peer seen once answers; an ACK one past the previous one is then data, not a FIN.
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A, ISN_C + 1, ISN_S + 2, 0),
        seg(5, C, S, A, ISN_C + 1, ISN_S + 3, 0),
    ]);
    let ev = run(&s);
    assert_eq!(path(&ev, S).last(), Some(&Established));
    assert_eq!(path(&ev, C).last(), Some(&Established));
}
