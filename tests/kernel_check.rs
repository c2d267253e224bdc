//! `--kernel-check` on a reused 4-tuple: the kernel's trace has a run per socket, and each
//! run goes with its own connection (the tracker's own events for both, compared). Here,
//! not in `kernel::check`, because it needs the tracker, a layer above.

use std::collections::HashSet;
use synfin::events::TcpState::{self, *};
use synfin::kernel::check::{compare, report};
use synfin::kernel::KernelTransition;

fn tcp(n: i64, from: &str, to: &str, flags: u16, seq: u32, ack: u32) -> synfin::segment::Segment {
    use synfin::segment::{Segment, TcpFlags};
    Segment {
        ts: synfin::timestamp::Timestamp(n * 1_000_000),
        frame: n as u64,
        orig_len: 66,
        cap_len: 66,
        window: 1000,
        ..Segment::header(
            from.parse().unwrap(),
            to.parse().unwrap(),
            TcpFlags(flags),
            seq,
            ack,
        )
    }
}

fn kt(local: &str, remote: &str, from: TcpState, to: TcpState) -> KernelTransition {
    KernelTransition {
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
        from,
        to,
    }
}

/// Two connections on one 4-tuple: the server closed first, and the client's next SYN
/// from the same port took over the server's TIME_WAIT. The kernel's trace has two runs
/// per endpoint; each goes with its own connection, and the first server run's
/// FIN_WAIT2 → CLOSE reads as TIME_WAIT → CLOSED.
#[test]
fn a_reused_4_tuple_is_compared_run_by_run() {
    use synfin::segment::TcpFlags as F;
    use synfin::tracker::{Tracker, TrackerConfig};
    let (c, sv) = ("127.0.0.1:40000", "127.0.0.9:8899");
    let (syn, ack, fin, rst) = (F::SYN, F::ACK, F::FIN, F::RST);
    let segs = [
        tcp(1, c, sv, syn, 100, 0),
        tcp(2, sv, c, syn | ack, 500, 101),
        tcp(3, c, sv, ack, 101, 501),
        tcp(4, sv, c, fin | ack, 501, 101),
        tcp(5, c, sv, ack, 101, 502),
        tcp(6, c, sv, fin | ack, 101, 502),
        tcp(7, sv, c, ack, 502, 102),
        tcp(100, c, sv, syn, 90_000, 0),
        tcp(101, sv, c, syn | ack, 7000, 90_001),
        tcp(102, c, sv, ack, 90_001, 7001),
        tcp(103, c, sv, rst | ack, 90_001, 7001),
    ];
    let mut t = Tracker::new(TrackerConfig::default());
    let mut events = Vec::new();
    for sg in &segs {
        t.handle_segment(sg);
        while let Some(e) = t.poll_event() {
            events.push(e);
        }
    }
    t.finish();
    while let Some(e) = t.poll_event() {
        events.push(e);
    }
    let kernel = [
        kt(c, sv, Closed, SynSent),
        kt(sv, c, Listen, SynReceived),
        kt(c, sv, SynSent, Established),
        kt(sv, c, SynReceived, Established),
        kt(sv, c, Established, FinWait1),
        kt(c, sv, Established, CloseWait),
        kt(sv, c, FinWait1, FinWait2),
        kt(c, sv, CloseWait, LastAck),
        kt(sv, c, FinWait2, Closed),
        kt(c, sv, LastAck, Closed),
        kt(c, sv, Closed, SynSent),
        kt(sv, c, Listen, SynReceived),
        kt(c, sv, SynSent, Established),
        kt(sv, c, SynReceived, Established),
        kt(c, sv, Established, Closed),
        kt(sv, c, Established, Closed),
    ];
    let checks = compare(&events, &kernel, &HashSet::new());
    assert_eq!(checks.len(), 4);
    assert!(checks.iter().all(|c| c.agrees()), "{}", report(&checks));
    assert!(checks
        .iter()
        .any(|c| c.kernel.ends_with(&[FinWait2, TimeWait, Closed])));
}
