//! Tests of ESTABLISHED: resets, content gaps.

use super::*;

// =============================================================================================
// Tests for the ESTABLISHED state (resets, content gaps)
// =============================================================================================
#[test]
fn rst_in_established_closes_both_ends() {
    let mut s = handshake();
    s.push(seg(4, C, S, R | A, ISN_C + 1, ISN_S + 1, 0));
    let ev = run(&s);
    assert_eq!(path(&ev, C).last(), Some(&Closed));
    assert_eq!(path(&ev, S).last(), Some(&Closed));
    assert_eq!(verdicts(&ev)[0].outcome, Outcome::Reset);
}

#[test]
fn rst_outside_the_window_is_ignored() {
    let mut s = handshake();
    s.push(seg(4, C, S, R, ISN_C + 900_000, 0, 0));
    let ev = run(&s);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::RstOutOfWindow)));
    assert_eq!(path(&ev, S).last(), Some(&Established));
}

#[test]
fn acked_data_the_capture_cut_is_a_content_gap() {
    let mut s = handshake();
    s.push(cut(seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100)));
    s.push(seg(5, S, C, A, ISN_S + 1, ISN_C + 101, 0));
    s.push(cut(seg(6, S, C, A, ISN_S + 1, ISN_C + 101, 50)));
    s.push(seg(7, C, S, A, ISN_C + 101, ISN_S + 51, 0));
    s.push(cut(seg(8, C, S, A, ISN_C + 101, ISN_S + 51, 100)));
    let ev = run(&s);
    assert_eq!(verdicts(&ev)[0].history, "ShADaGdg");
    // A truncated_frame anomaly for the first cut frame of each side, not for every one.
    assert_eq!(truncated(&ev), vec![4, 6]);
}

#[test]
fn acked_data_that_was_never_captured_is_a_content_gap() {
    // Bytes 1..=100 missing; 101..=150 captured; the ACK covers both.
    let h = history_after_handshake(&[
        seg(4, C, S, A, ISN_C + 101, ISN_S + 1, 50),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 151, 0),
    ]);
    assert_eq!(h, "ShADaG");
}

#[test]
fn captured_data_acked_is_no_gap() {
    let h = history_after_handshake(&[
        seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 101, 0),
    ]);
    assert_eq!(h, "ShADa");
}

#[test]
fn a_gap_revealed_by_an_rst_is_not_a_letter() {
    // The RST's sender is no longer cleanly established: Zeek does not trust it.
    let h = history_after_handshake(&[
        cut(seg(4, C, S, A, ISN_C + 1, ISN_S + 1, 100)),
        seg(5, S, C, R | A, ISN_S + 1, ISN_C + 101, 0),
    ]);
    assert_eq!(h, "ShADr");
}

// =============================================================================================

/// Data past a hole is a range Zeek's model holds against the tracker's budget; when its
/// connection ends the ranges go back (its box is kept for the next connection, its model
/// let go), and the next connection on the kept box starts from a whole budget.
#[test]
fn an_ended_connection_gives_its_ranges_back() {
    let mut t = Tracker::new(TrackerConfig::default());
    let whole = t.ranges.left();
    let mut s = handshake();
    s.push(seg(4, C, S, A, ISN_C + 101, ISN_S + 1, 10)); // 100 bytes missing before it
    s.push(seg(5, S, C, A, ISN_S + 1, ISN_C + 1, 0));
    for x in &s {
        t.handle_segment(x);
    }
    assert!(t.ranges.left() < whole, "the range past the hole is held");
    t.finish();
    while t.poll_event().is_some() {}
    assert_eq!(t.ranges.left(), whole);
    assert_eq!(t.spare.len(), 1, "its box is kept");
}

/// The verdict of `segs` run through `t`, as the tracker hands it out.
fn boxed_verdict(t: &mut Tracker, segs: &[Segment]) -> Box<crate::events::ConnectionEvent> {
    for x in segs {
        t.handle_segment(x);
    }
    t.finish();
    let mut got = None;
    while let Some(e) = t.poll_event() {
        if let Event::Connection(v) = e {
            got = Some(v);
        }
    }
    got.expect("a verdict")
}

#[test]
fn a_verdict_box_handed_back_holds_the_next_verdict() {
    let mut spent = boxed_verdict(&mut Tracker::new(TrackerConfig::default()), &handshake());
    spent.conn = 99;
    spent.history = "stale".into();
    let at: *const crate::events::ConnectionEvent = &*spent;
    let mut t = Tracker::new(TrackerConfig::default());
    t.reuse_verdicts(&mut vec![spent]);
    assert_eq!(t.spare_verdicts.len(), 1, "kept");
    let v = boxed_verdict(&mut t, &handshake());
    assert!(t.spare_verdicts.is_empty(), "taken for the verdict");
    assert!(
        std::ptr::eq(&*v, at),
        "the verdict is in the box handed back"
    );
    assert_eq!(
        (v.conn, v.history.as_str()),
        (1, "ShA"),
        "this connection's, not the old one's"
    );
}
