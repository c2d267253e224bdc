//! Call inference: the socket calls behind what is on the wire (connect, accept, send,
//! recv, close or shutdown).

use super::*;

impl Conn {
    pub(super) fn call(
        &self,
        q: &mut EventQueue,
        t: Timestamp,
        s: Side,
        call: CallName,
        phase: Phase,
        result: Option<CallResult>,
    ) {
        if !q.wants(Kind::Call) {
            return;
        }
        q.push(Event::Call(CallEvent {
            t,
            conn: self.id,
            endpoint: self.ep(s),
            call,
            phase,
            result,
            source: CallSource::Inferred,
            owner: None,
        }));
    }

    /// Emit the call behind side `s`'s FIN once known.
    pub(super) fn decide_fin_call(&mut self, q: &mut EventQueue, s: Side, shutdown: bool) {
        let Some(fc) = self.sides[s].fin_call.take() else {
            return;
        };
        q.release((fc.t, self.id, HoldKind::FinCall(s)));
        let (call, result) = if shutdown {
            (CallName::Shutdown, CallResult::ShutWrSent)
        } else {
            (CallName::Close, CallResult::FinSent)
        };
        q.push_at(
            fc.t,
            Event::Call(CallEvent {
                t: fc.t,
                conn: self.id,
                endpoint: self.ep(s),
                call,
                phase: Phase::Enter,
                result: Some(result),
                source: CallSource::Inferred,
                owner: None,
            }),
        );
    }
}
