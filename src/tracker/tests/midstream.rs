//! Tests of connections picked up mid-stream (UNKNOWN).

use super::*;

// Tests for UNKNOWN: connections picked up mid-stream
// =============================================================================================
#[test]
fn midstream_fin_exchange_still_yields_states() {
    let ev = run(&[
        seg(1, C, S, A, 7, 9, 10),
        seg(2, C, S, F | A, 17, 9, 0),
        seg(3, S, C, F | A, 9, 18, 0),
        seg(4, C, S, A, 18, 10, 0),
    ]);
    assert_eq!(path(&ev, C), [Unknown, FinWait1, FinWait2, TimeWait]);
    assert_eq!(path(&ev, S), [Unknown, CloseWait, LastAck, Closed]);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::Midstream)));
    assert!(verdicts(&ev)[0].roles_guessed);
}

#[test]
fn a_server_picked_up_at_its_syn_ack_never_returns_from_connect() {
    let ev = run(&[
        seg(1, S, C, SY | A, ISN_S, ISN_C + 1, 0),
        seg(2, C, S, A, ISN_C + 1, ISN_S + 1, 0),
    ]);
    assert_eq!(path(&ev, S).last(), Some(&Established));
    let server: SocketAddr = S.parse().unwrap();
    assert!(!ev.iter().any(|e| matches!(e, Event::Call(c)
        if c.endpoint.addr() == server && c.call == crate::events::CallName::Connect)));
}

#[test]
fn a_gap_in_a_connection_picked_up_mid_stream_is_not_a_letter() {
    let s = vec![
        cut(seg(1, C, S, A, ISN_C + 1, ISN_S + 1, 100)),
        seg(2, S, C, A, ISN_S + 1, ISN_C + 101, 0),
    ];
    let ev = run(&s);
    assert!(!verdicts(&ev)[0].history.contains(['G', 'g']));
}

// =============================================================================================

/// A connection that existed before the capture began, seeded with what the host's kernel said
/// of its end: that end starts in its kernel state, the roles are the kernel's (here the
/// higher port serves, against the usual guess), and the teardown runs from ESTABLISHED.
#[test]
fn a_seeded_connection_starts_in_its_kernel_state_with_its_roles() {
    let (hi, lo) = ("10.0.0.2:9000", "10.0.0.1:80");
    let segs = [
        seg(1, lo, hi, A, 7, 9, 10),
        seg(2, lo, hi, F | A, 17, 9, 0),
        seg(3, hi, lo, F | A, 9, 18, 0),
        seg(4, lo, hi, A, 18, 10, 0),
    ];
    let mut t = Tracker::new(TrackerConfig::default());
    t.seed(
        lo.parse().unwrap(),
        crate::tracker::Seed {
            local: hi.parse().unwrap(),
            state: Established,
            serves: true,
        },
    );
    let mut ev = Vec::new();
    for s in &segs {
        t.handle_segment(s);
        while let Some(e) = t.poll_event() {
            ev.push(e);
        }
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        ev.push(e);
    }
    assert_eq!(path(&ev, hi), [Established, CloseWait, LastAck, Closed]);
    assert_eq!(path(&ev, lo), [Unknown, FinWait1, FinWait2, TimeWait]);
    let v = verdicts(&ev)[0];
    assert_eq!(v.server.addr(), hi.parse::<SocketAddr>().unwrap());
    assert!(!v.roles_guessed);
    assert!(ev.iter().any(|e| matches!(e, Event::Anomaly(a)
        if a.kind == AnomalyKind::Midstream && a.detail.contains("existed before the capture"))));
}
