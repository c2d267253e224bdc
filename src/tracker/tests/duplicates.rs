//! Capture duplicates (copies of one frame within microseconds) against retransmissions
//! (identical resends later): only the first are duplicates; both count as packets and
//! both show in Zeek's history as Zeek sees them.

use super::*;

fn kinds(events: &[Event], kind: AnomalyKind) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Anomaly(a) if a.kind == kind => a.frame,
            _ => None,
        })
        .collect()
}

/// The handshake, C's 10 bytes at frame 4, a copy of it `after_ns` later (frame 5), and
/// S's ACK.
fn data_then_copy_after(after_ns: i64) -> Vec<Event> {
    let mut s = handshake();
    let data = seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10);
    let mut copy = data;
    copy.frame = 5;
    copy.ts = Timestamp(data.ts.0 + after_ns);
    s.extend([data, copy, seg(400, S, C, A, ISN_S + 1, ISN_C + 11, 0)]);
    run(&s)
}

#[test]
fn a_frame_captured_twice_is_a_duplicate_counted_as_zeek_counts_it() {
    for after in [0, 3_000] {
        let ev = data_then_copy_after(after);
        assert_eq!(kinds(&ev, AnomalyKind::Duplicate), [5], "{after} ns");
        assert!(kinds(&ev, AnomalyKind::Retransmission).is_empty());
        let v = verdicts(&ev)[0];
        assert_eq!(v.packets, [4, 2], "every frame counts");
        assert_eq!(v.bytes, [10, 0], "payload once");
        assert_eq!(v.history, "ShADTa");
    }
}

#[test]
fn an_identical_resend_175_ms_later_is_a_retransmission() {
    let ev = data_then_copy_after(175_000_000);
    assert!(kinds(&ev, AnomalyKind::Duplicate).is_empty());
    assert_eq!(kinds(&ev, AnomalyKind::Retransmission), [5]);
    let v = verdicts(&ev)[0];
    assert_eq!(v.packets, [4, 2]);
    assert_eq!(v.history, "ShADTa");
}

#[test]
fn the_same_tcp_timestamp_does_not_make_a_later_resend_a_duplicate() {
    let mut s = handshake();
    let mut data = seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 10);
    data.options.ts = Some((77, 55));
    let mut again = data;
    again.frame = 179;
    again.ts = Timestamp(179_000_000);
    s.extend([data, again]);
    let ev = run(&s);
    assert!(kinds(&ev, AnomalyKind::Duplicate).is_empty());
    assert_eq!(kinds(&ev, AnomalyKind::Retransmission), [179]);
}

#[test]
fn a_syn_captured_twice_is_one_s() {
    let mut s = handshake();
    let mut copy = s[0];
    copy.frame = 10;
    s.insert(1, copy);
    let ev = run(&s);
    assert_eq!(kinds(&ev, AnomalyKind::Duplicate), [10]);
    let v = verdicts(&ev)[0];
    assert_eq!(v.packets, [3, 1]);
    assert_eq!(v.history, "ShA");
}
