//! When a SYN or FIN reaches its receiver: decided by evidence (the receiver's answer or
//! ACK), never by how long the answer took.

use super::*;

/// The handshake with the SYN,ACK at `synack` ms after `tries` SYNs at 1 ms, 1001 ms, 3001 ms….
fn slow_handshake(syns: &[u64], synack: u64) -> Vec<Segment> {
    let mut s: Vec<Segment> = syns
        .iter()
        .map(|&n| seg(n, C, S, SY, ISN_C, 0, 0))
        .collect();
    s.push(seg(synack, S, C, SY | A, ISN_S, ISN_C + 1, 0));
    s.push(seg(synack + 1, C, S, A, ISN_C + 1, ISN_S + 1, 0));
    s
}

fn illegal(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::IllegalTransition))
        .count()
}

#[track_caller]
fn assert_slow_handshake_establishes(ev: &[Event], rtt_ms: f64) {
    assert_eq!(path(ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(ev, S), [Listen, SynReceived, Established]);
    assert_eq!(illegal(ev), 0, "{ev:?}");
    let v = verdicts(ev);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].handshake_rtt_ms, Some(rtt_ms));
    assert_eq!(v[0].history, "ShA");
}

#[test]
fn a_syn_ack_1_1_s_after_the_syn_still_delivers_the_syn() {
    let ev = run(&slow_handshake(&[1], 1101));
    assert_slow_handshake_establishes(&ev, 1101.0);
    // The server's SYN_RECEIVED is told at the evidence (the SYN,ACK), not before output
    // that may already have left.
    let syn_rcvd = ev.iter().find_map(|e| match e {
        Event::State(s) if s.to == SynReceived => Some(s.t),
        _ => None,
    });
    assert_eq!(syn_rcvd, Some(Timestamp(1_101_000_000)));
}

#[test]
fn a_syn_ack_after_a_retransmitted_syn_at_1_s_or_3_s_is_applied() {
    let ev = run(&slow_handshake(&[1, 1001], 2101));
    assert_slow_handshake_establishes(&ev, 2101.0);
    let ev = run(&slow_handshake(&[1, 1001, 3001], 4101));
    assert_slow_handshake_establishes(&ev, 4101.0);
}

#[test]
fn a_late_syn_ack_is_applied_after_the_capture_clock_steps_back() {
    // Another connection's segment at 10 s, then the clock steps back: every hold is past
    // the limit at once, yet the handshake's evidence still decides.
    let mut s = vec![seg(10_000, "10.0.0.9:1234", "10.0.0.8:22", A, 1, 1, 10)];
    s.extend(handshake());
    let ev = run(&s);
    assert_eq!(path(&ev, C), [Closed, SynSent, Established]);
    assert_eq!(path(&ev, S), [Listen, SynReceived, Established]);
    assert_eq!(illegal(&ev), 0);
}

#[test]
fn after_a_clock_step_back_each_change_keeps_its_own_time() {
    // Concatenated captures: the second begins 10 s before the first ended. The handshake's
    // changes are dated at the segments that made them (the SYN's at the SYN), not at the
    // later evidence, as if the clock had not stepped.
    let mut s = vec![seg(10_000, "10.0.0.9:1234", "10.0.0.8:22", A, 1, 1, 10)];
    s.extend(handshake());
    let ev = run(&s);
    let at = |ep: &str, to: TcpState| {
        let ep: SocketAddr = ep.parse().unwrap();
        ev.iter()
            .find_map(|e| match e {
                Event::State(st) if st.endpoint.addr() == ep && st.to == to => Some(st.t),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(at(S, SynReceived), Timestamp(1_000_000));
    assert_eq!(at(C, Established), Timestamp(2_000_000));
    assert_eq!(at(S, Established), Timestamp(3_000_000));
}

#[test]
fn a_syn_never_answered_is_still_lost_at_the_end() {
    let ev = run(&[
        seg(1, C, S, SY, ISN_C, 0, 0),
        seg(3001, C, S, SY, ISN_C, 0, 0),
    ]);
    assert_eq!(path(&ev, C), [Closed, SynSent]);
    assert!(path(&ev, S).is_empty());
    assert_eq!(verdicts(&ev)[0].conn_state.as_str(), "S0");
}

#[test]
fn a_held_syn_lets_output_go_once_its_hold_runs_out() {
    // Live: the SYN's hold runs out after the limit, so the SYN's segment event leaves
    // without waiting for an answer that may never come.
    let mut t = Tracker::new(TrackerConfig::default());
    t.handle_segment(&seg(1, C, S, SY, ISN_C, 0, 0));
    t.handle_segment(&seg(2, "10.0.0.9:1234", "10.0.0.8:22", A, 1, 1, 10));
    let mut early = Vec::new();
    while let Some(e) = t.poll_event() {
        early.push(e.t());
    }
    assert!(
        early.iter().all(|&at| at == Timestamp(1_000_000)),
        "{early:?}"
    );
    t.handle_timeout(Timestamp(1_500_000_000));
    let mut later = Vec::new();
    while let Some(e) = t.poll_event() {
        later.push(e.t());
    }
    assert!(later.contains(&Timestamp(2_000_000)), "{later:?}");
}
