//! The RFC 9293 transition table for one observed endpoint.
//!
//! Read RFC 9293 §3.3.2 (the state diagram) and §3.10 (event processing) before editing.
//! We observe rather than participate, so inputs are what an endpoint was seen to send or
//! (inferred) to receive; `next_state` is the one place that says which changes are legal.

pub use crate::events::TcpState;

/// What happened to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// It sent a SYN (no ACK): an active OPEN.
    SendSyn,
    /// It sent a SYN,ACK.
    SendSynAck,
    /// It sent a FIN: CLOSE (or shutdown SHUT_WR).
    SendFin,
    /// It sent an acceptable RST: ABORT.
    SendRst,
    /// It received a SYN (no ACK).
    RecvSyn,
    /// It received a SYN,ACK acknowledging its SYN.
    RecvSynAck,
    /// It received an ACK of its SYN.
    RecvAckOfSyn,
    /// It received an ACK of its FIN.
    RecvAckOfFin,
    /// It received a FIN.
    RecvFin,
    /// It received an acceptable RST.
    RecvRst,
}

impl Input {
    /// Every input, for exhaustive checks.
    #[cfg(test)]
    pub const ALL: [Input; 10] = [
        Input::SendSyn,
        Input::SendSynAck,
        Input::SendFin,
        Input::SendRst,
        Input::RecvSyn,
        Input::RecvSynAck,
        Input::RecvAckOfSyn,
        Input::RecvAckOfFin,
        Input::RecvFin,
        Input::RecvRst,
    ];

    /// In words, for people: `sent a FIN`, `received an ACK of its FIN`.
    pub fn describe(self) -> &'static str {
        match self {
            Input::SendSyn => "sent a SYN",
            Input::SendSynAck => "sent a SYN,ACK",
            Input::SendFin => "sent a FIN",
            Input::SendRst => "sent an RST",
            Input::RecvSyn => "received a SYN",
            Input::RecvSynAck => "received a SYN,ACK",
            Input::RecvAckOfSyn => "received an ACK of its SYN",
            Input::RecvAckOfFin => "received an ACK of its FIN",
            Input::RecvFin => "received a FIN",
            Input::RecvRst => "received an RST",
        }
    }
}

/// The state after `input` in `state`; `None` when no rule allows it (an anomaly, never a
/// panic). A retransmission that changes nothing returns `Some(state)`.
pub fn next_state(state: TcpState, input: Input) -> Option<TcpState> {
    use Input::*;
    use TcpState::*;
    Some(match (state, input) {
        // §3.10.1 OPEN call, active: "send a SYN segment … enter SYN-SENT".
        (Closed | Unknown, SendSyn) => SynSent,
        // §3.10.7.2 LISTEN, third check: a SYN → "set RCV.NXT … enter SYN-RECEIVED".
        (Listen, RecvSyn) => SynReceived,
        // §3.10.7.3 SYN-SENT, fourth check, SYN without ACK: simultaneous open →
        // "enter SYN-RECEIVED" and send SYN,ACK.
        (SynSent, RecvSyn) => SynReceived,
        // §3.10.7.3 SYN-SENT: "If SND.UNA > ISS (our SYN has been ACKed), change the
        // connection state to ESTABLISHED" (connect() returns here).
        (SynSent, RecvSynAck) => Established,
        // Picked up after the SYN: the SYN,ACK's receiver must have been in SYN-SENT.
        (Unknown, RecvSynAck) => Established,
        // §3.10.7.4 SYN-RECEIVED, fifth check (ACK): "If SND.UNA < SEG.ACK =< SND.NXT, then
        // enter ESTABLISHED" (accept() can return). A SYN,ACK does the same in a
        // simultaneous open.
        (SynReceived, RecvAckOfSyn | RecvSynAck) => Established,
        // Sending the SYN,ACK that answers a SYN (§3.10.7.2); first seen mid-handshake, the
        // sender must be in SYN-RECEIVED.
        (SynReceived | Unknown, SendSynAck) => SynReceived,
        // §3.10.4 CLOSE in SYN-RECEIVED or ESTABLISHED: "form a FIN segment … enter
        // FIN-WAIT-1". Mid-stream endpoints were synchronized.
        (SynReceived | Established | Unknown, SendFin) => FinWait1,
        // §3.10.4 CLOSE in CLOSE-WAIT: "send a FIN … enter LAST-ACK".
        (CloseWait, SendFin) => LastAck,
        // §3.10.7.4 FIN-WAIT-1, fifth check: "if the FIN segment is now acknowledged, then
        // enter FIN-WAIT-2".
        (FinWait1, RecvAckOfFin) => FinWait2,
        // §3.10.7.4 CLOSING: "if the ACK acknowledges our FIN, then enter TIME-WAIT".
        (Closing, RecvAckOfFin) => TimeWait,
        // §3.10.7.4 LAST-ACK: "if our FIN is now acknowledged, delete the TCB, enter CLOSED".
        (LastAck, RecvAckOfFin) => Closed,
        // §3.10.7.4 eighth check, FIN: SYN-RECEIVED/ESTABLISHED "enter CLOSE-WAIT"
        // (recv() returns 0).
        (SynReceived | Established | Unknown, RecvFin) => CloseWait,
        // §3.10.7.4 FIN in FIN-WAIT-1 when our FIN is not yet acknowledged: "enter CLOSING".
        (FinWait1, RecvFin) => Closing,
        // §3.10.7.4 FIN in FIN-WAIT-2: "enter TIME-WAIT" (the ACK-before-FIN order makes an
        // ACK+FIN in FIN-WAIT-1 go FIN-WAIT-2 first, then here).
        (FinWait2, RecvFin) => TimeWait,
        // §3.10.7.4 FIN in CLOSE-WAIT, CLOSING, LAST-ACK: "remain"; TIME-WAIT: "remain …
        // restart the 2 MSL time-wait timeout" (a retransmitted FIN).
        (CloseWait | Closing | LastAck | TimeWait, RecvFin) => state,
        // Retransmissions change nothing.
        (SynSent, SendSyn) | (SynReceived, RecvSyn) => state,
        (FinWait1 | FinWait2 | Closing | LastAck | TimeWait, SendFin) => state,
        // §3.10.7.3 SYN-SENT, second check: an acceptable RST → "the user should be
        // signalled 'error: connection reset'; enter CLOSED" (connect() → ECONNREFUSED).
        (SynSent, RecvRst) => Closed,
        // §3.10.7.4 second check (RST) in SYN-RECEIVED (active), ESTABLISHED, FIN-WAIT-1/2,
        // CLOSE-WAIT: "enter the CLOSED state"; CLOSING, LAST-ACK, TIME-WAIT: "enter CLOSED"
        // (RFC 1337's TIME-WAIT assassination, which Linux allows by default).
        (
            SynReceived | Established | FinWait1 | FinWait2 | CloseWait | Closing | LastAck
            | TimeWait | Unknown,
            RecvRst,
        ) => Closed,
        // §3.10.5 ABORT (SO_LINGER 0, or close() with unread data per RFC 2525 §2.17):
        // "send a reset … enter CLOSED".
        (
            SynReceived | Established | FinWait1 | FinWait2 | CloseWait | Closing | LastAck
            | Unknown,
            SendRst,
        ) => Closed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::Input::*;
    use super::TcpState::*;
    use super::*;

    #[track_caller]
    fn walk(from: TcpState, inputs: &[Input]) -> Vec<TcpState> {
        let mut s = from;
        let mut out = vec![s];
        for &i in inputs {
            s = next_state(s, i).unwrap_or_else(|| panic!("{s:?} has no rule for {i:?}"));
            out.push(s);
        }
        out
    }

    // =========================================================================================
    // Tests for the CLOSED and LISTEN states
    // =========================================================================================
    #[test]
    fn active_open() {
        assert_eq!(
            walk(Closed, &[SendSyn, RecvSynAck]),
            [Closed, SynSent, Established]
        );
    }

    #[test]
    fn passive_open() {
        assert_eq!(
            walk(Listen, &[RecvSyn, SendSynAck, RecvAckOfSyn]),
            [Listen, SynReceived, SynReceived, Established]
        );
    }

    #[test]
    fn closed_cannot_receive_a_fin() {
        assert_eq!(next_state(Closed, RecvFin), None);
        assert_eq!(next_state(Listen, RecvFin), None);
    }

    // =========================================================================================
    // Tests for the SYN-SENT state
    // =========================================================================================
    #[test]
    fn simultaneous_open() {
        assert_eq!(
            walk(Closed, &[SendSyn, RecvSyn, SendSynAck, RecvSynAck]),
            [Closed, SynSent, SynReceived, SynReceived, Established]
        );
    }

    #[test]
    fn refused() {
        assert_eq!(
            walk(Closed, &[SendSyn, SendSyn, RecvRst]),
            [Closed, SynSent, SynSent, Closed]
        );
    }

    // =========================================================================================
    // Tests for the ESTABLISHED and CLOSE-WAIT states
    // =========================================================================================
    #[test]
    fn passive_close() {
        assert_eq!(
            walk(Established, &[RecvFin, SendFin, RecvAckOfFin]),
            [Established, CloseWait, LastAck, Closed]
        );
    }

    #[test]
    fn abort_by_either_side() {
        assert_eq!(next_state(Established, SendRst), Some(Closed));
        assert_eq!(next_state(Established, RecvRst), Some(Closed));
        assert_eq!(next_state(CloseWait, RecvRst), Some(Closed));
    }

    // =========================================================================================
    // Tests for the FIN-WAIT-1, FIN-WAIT-2, CLOSING and TIME-WAIT states
    // =========================================================================================
    #[test]
    fn active_close() {
        assert_eq!(
            walk(Established, &[SendFin, RecvAckOfFin, RecvFin]),
            [Established, FinWait1, FinWait2, TimeWait]
        );
    }

    #[test]
    fn fin_with_ack_of_our_fin_takes_two_steps() {
        // ACK field first, then the FIN bit (§3.10.7.4 order), as Linux does.
        assert_eq!(
            walk(FinWait1, &[RecvAckOfFin, RecvFin]),
            [FinWait1, FinWait2, TimeWait]
        );
    }

    #[test]
    fn crossed_fins() {
        assert_eq!(
            walk(Established, &[SendFin, RecvFin, RecvAckOfFin]),
            [Established, FinWait1, Closing, TimeWait]
        );
    }

    #[test]
    fn rst_in_time_wait_and_fin_wait_2_closes() {
        assert_eq!(next_state(TimeWait, RecvRst), Some(Closed));
        assert_eq!(next_state(FinWait2, RecvRst), Some(Closed));
        assert_eq!(next_state(TimeWait, RecvFin), Some(TimeWait));
    }

    /// The whole table, row by row: every (state, input) pair's expected result, `__` where
    /// RFC 9293 has no rule (an anomaly). Columns in `Input::ALL` order:
    /// SendSyn, SendSynAck, SendFin, SendRst, RecvSyn, RecvSynAck, RecvAckOfSyn,
    /// RecvAckOfFin, RecvFin, RecvRst.
    const __: Option<TcpState> = None;
    const UNK: Option<TcpState> = Some(Unknown);
    const CLO: Option<TcpState> = Some(Closed);
    const SYS: Option<TcpState> = Some(SynSent);
    const SYR: Option<TcpState> = Some(SynReceived);
    const EST: Option<TcpState> = Some(Established);
    const FW1: Option<TcpState> = Some(FinWait1);
    const FW2: Option<TcpState> = Some(FinWait2);
    const CLW: Option<TcpState> = Some(CloseWait);
    const CLG: Option<TcpState> = Some(Closing);
    const LAK: Option<TcpState> = Some(LastAck);
    const TWT: Option<TcpState> = Some(TimeWait);
    #[rustfmt::skip]
    const TABLE: [(TcpState, [Option<TcpState>; 10]); 12] = [
        //            SYN  SYNACK FIN  RST   rSYN rSYNACK rACKsyn rACKfin rFIN rRST
        (Unknown,     [SYS, SYR,  FW1, CLO,  __,  EST,    __,     __,     CLW, CLO]),
        (Closed,      [SYS, __,   __,  __,   __,  __,     __,     __,     __,  __ ]),
        (Listen,      [__,  __,   __,  __,   SYR, __,     __,     __,     __,  __ ]),
        (SynSent,     [SYS, __,   __,  __,   SYR, EST,    __,     __,     __,  CLO]),
        (SynReceived, [__,  SYR,  FW1, CLO,  SYR, EST,    EST,    __,     CLW, CLO]),
        (Established, [__,  __,   FW1, CLO,  __,  __,     __,     __,     CLW, CLO]),
        (FinWait1,    [__,  __,   FW1, CLO,  __,  __,     __,     FW2,    CLG, CLO]),
        (FinWait2,    [__,  __,   FW2, CLO,  __,  __,     __,     __,     TWT, CLO]),
        (CloseWait,   [__,  __,   LAK, CLO,  __,  __,     __,     __,     CLW, CLO]),
        (Closing,     [__,  __,   CLG, CLO,  __,  __,     __,     TWT,    CLG, CLO]),
        (LastAck,     [__,  __,   LAK, CLO,  __,  __,     __,     CLO,    LAK, CLO]),
        (TimeWait,    [__,  __,   TWT, __,   __,  __,     __,     __,     TWT, CLO]),
    ];

    #[test]
    fn every_state_and_input_gives_the_rfc_9293_result() {
        // The table covers each state once, in `TcpState::ALL` order.
        let states: Vec<TcpState> = TABLE.iter().map(|(s, _)| *s).collect();
        assert_eq!(states, TcpState::ALL);
        // Nothing ever enters Unknown or Listen: they are only where an endpoint starts.
        assert!(TABLE
            .iter()
            .all(|(_, row)| !row.contains(&UNK) && !row.contains(&Some(Listen))));
        let mut wrong = Vec::new();
        for (state, row) in TABLE {
            for (input, expected) in Input::ALL.into_iter().zip(row) {
                let got = next_state(state, input);
                if got != expected {
                    wrong.push(format!(
                        "{state:?} + {input:?}: {got:?}, RFC 9293 says {expected:?}"
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} transitions wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
