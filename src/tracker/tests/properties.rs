//! Property tests: random reorderings, drops and duplications.

use super::*;

// Tests for properties: random reorderings, drops and duplications
// =============================================================================================
fn conversation() -> Vec<Segment> {
    let mut s = handshake();
    s.extend([
        seg(4, C, S, A | TcpFlags::PSH, ISN_C + 1, ISN_S + 1, 5),
        seg(5, S, C, A, ISN_S + 1, ISN_C + 6, 0),
        seg(6, S, C, A | TcpFlags::PSH, ISN_S + 1, ISN_C + 6, 5),
        seg(7, C, S, A, ISN_C + 6, ISN_S + 6, 0),
        seg(8, C, S, F | A, ISN_C + 6, ISN_S + 6, 0),
        seg(9, S, C, F | A, ISN_S + 6, ISN_C + 7, 0),
        seg(10, C, S, A, ISN_C + 7, ISN_S + 7, 0),
        seg(11, S, C, R, ISN_S + 7, 0, 0),
    ]);
    s
}

fn legal(from: TcpState, to: TcpState) -> bool {
    state::Input::ALL
        .into_iter()
        .any(|i| state::next_state(from, i) == Some(to))
        || (from == TimeWait && to == Closed)
}

proptest! {
    #[test]
    fn shuffled_dropped_duplicated_conversations_stay_legal(
        order in Just((0..11usize).collect::<Vec<_>>()).prop_shuffle(),
        keep in proptest::collection::vec(0u8..4, 11),
        dup in proptest::collection::vec(any::<bool>(), 11),
    ) {
        let base = conversation();
        let mut segs = Vec::new();
        for &i in &order {
            if keep[i] == 0 {
                continue; // dropped
            }
            segs.push(base[i]);
            if dup[i] {
                segs.push(base[i]);
            }
        }
        // Times follow the new order, as a capture's would.
        for (n, s) in segs.iter_mut().enumerate() {
            s.ts = Timestamp(1_000_000 * (n as i64 + 1));
            s.frame = n as u64 + 1;
        }
        let ev = run(&segs);
        let mut last = Timestamp(i64::MIN);
        for e in &ev {
            if let Event::Connection(_) = e { continue; }
            prop_assert!(e.t() >= last, "time went backwards at {:?}", e);
            last = e.t();
            if let Event::State(st) = e {
                prop_assert!(legal(st.from, st.to), "illegal {:?} -> {:?}", st.from, st.to);
            }
        }
    }
}

/// The tracker's events with only `wanted` asked for, the input ended.
fn run_wanting(segs: &[Segment], wanted: Wanted) -> Vec<Event> {
    let mut t = Tracker::new(TrackerConfig {
        wanted,
        ..TrackerConfig::default()
    });
    let mut out = Vec::new();
    for s in segs {
        t.handle_segment(s);
        t.poll_events(&mut out, usize::MAX);
    }
    t.finish();
    loop {
        let before = out.len();
        t.poll_events(&mut out, usize::MAX);
        if out.len() == before {
            return out;
        }
    }
}

proptest! {
    /// A summary (verdicts only) judges every connection as a consumer of every event
    /// does: what it leaves out (calls, and so whether a FIN was close() or shutdown())
    /// decides nothing in a verdict. (So far as the queue's bound is not reached: past
    /// `max_queued` waiting events, inferences are settled early, and a consumer of every
    /// event has many more waiting.) Conversations with a half-close or a full close,
    /// shuffled, with drops and copies, segments 0.1 ms to 3 s apart.
    #[test]
    fn verdicts_alone_are_the_verdicts_of_everything(
        half in any::<bool>(),
        order in Just((0..11usize).collect::<Vec<_>>()).prop_shuffle(),
        keep in proptest::collection::vec(0u8..4, 11),
        dup in proptest::collection::vec(any::<bool>(), 11),
        gaps in proptest::collection::vec(prop_oneof![Just(100_000i64), Just(3_000_000_000)], 22),
    ) {
        let base = if half { half_close() } else { conversation() };
        let mut segs = Vec::new();
        for &i in order.iter().filter(|&&i| i < base.len()) {
            if keep[i] == 0 {
                continue;
            }
            segs.push(base[i]);
            if dup[i] {
                segs.push(base[i]);
            }
        }
        let mut t = 0;
        for (n, s) in segs.iter_mut().enumerate() {
            t += gaps[n];
            s.ts = Timestamp(t);
            s.frame = n as u64 + 1;
        }
        let judged = |w| {
            verdicts(&run_wanting(&segs, w))
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(judged(Wanted::VERDICTS), judged(Wanted::ALL));
    }
}
