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
