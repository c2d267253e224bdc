//! The state strip: how many sockets are in each state, over time, so that a TIME_WAIT
//! pile-up or a CLOSE_WAIT leak shows at a glance. A bounded history of samples; each
//! sample is the most sockets seen in each state during its stretch of capture time. When
//! the history is full, neighbours merge (each keeps the larger count) and a sample covers
//! twice the time: the whole run always fits, at a coarser grain the longer it gets.

use crate::events::TcpState;
use crate::timestamp::Timestamp;

/// Samples kept (merged in pairs past this).
pub const SAMPLES: usize = 256;
/// The first sample's length of time: 1 ms (doubled as the history fills).
const FIRST_SPAN_NS: i64 = 1_000_000;

/// Sockets per state: indexed by `TcpState as usize`.
pub type Counts = [u32; TcpState::ALL.len()];

/// The history.
#[derive(Debug, Clone)]
pub struct StateStrip {
    /// Where sample 0 starts.
    origin: Option<Timestamp>,
    /// How long one sample lasts.
    span_ns: i64,
    /// Peak counts per sample, oldest first.
    samples: Vec<Counts>,
    /// The counts after the latest event.
    current: Counts,
}

impl Default for StateStrip {
    fn default() -> Self {
        StateStrip {
            origin: None,
            span_ns: FIRST_SPAN_NS,
            samples: Vec::new(),
            current: [0; TcpState::ALL.len()],
        }
    }
}

impl StateStrip {
    /// The counts are `now` at time `t`.
    pub fn observe(&mut self, t: Timestamp, now: &Counts) {
        let origin = *self.origin.get_or_insert(t);
        let index = |span: i64| (t.since(origin).max(0) / span) as usize;
        while index(self.span_ns) >= SAMPLES {
            self.merge();
        }
        let at = index(self.span_ns);
        // A stretch with no event keeps the counts it started with.
        while self.samples.len() <= at {
            self.samples.push(self.current);
        }
        for (peak, n) in self.samples[at].iter_mut().zip(now) {
            *peak = (*peak).max(*n);
        }
        self.current = *now;
    }

    /// Merge neighbours: half as many samples, each twice as long.
    fn merge(&mut self) {
        let merged: Vec<Counts> = self
            .samples
            .chunks(2)
            .map(|pair| {
                let mut c = pair[0];
                if let Some(b) = pair.get(1) {
                    for (x, y) in c.iter_mut().zip(b) {
                        *x = (*x).max(*y);
                    }
                }
                c
            })
            .collect();
        self.samples = merged;
        self.span_ns *= 2;
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> &[Counts] {
        &self.samples
    }

    /// How long one sample lasts, in nanoseconds.
    pub fn span_ns(&self) -> i64 {
        self.span_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(tw: u32) -> Counts {
        let mut c = [0; TcpState::ALL.len()];
        c[TcpState::TimeWait as usize] = tw;
        c
    }

    #[test]
    fn a_sample_keeps_its_peak_and_a_quiet_stretch_its_count() {
        let mut s = StateStrip::default();
        s.observe(Timestamp(0), &counts(1));
        s.observe(Timestamp(100), &counts(5));
        s.observe(Timestamp(200), &counts(2));
        s.observe(Timestamp(3 * FIRST_SPAN_NS), &counts(0));
        let tw: Vec<u32> = s
            .samples()
            .iter()
            .map(|c| c[TcpState::TimeWait as usize])
            .collect();
        assert_eq!(tw, [5, 2, 2, 2]);
    }

    #[test]
    fn a_long_run_stays_within_the_bound_at_a_coarser_grain() {
        let mut s = StateStrip::default();
        for i in 0..10_000i64 {
            s.observe(Timestamp(i * FIRST_SPAN_NS), &counts(i as u32));
        }
        assert!(s.samples().len() <= SAMPLES);
        assert!(s.span_ns() > FIRST_SPAN_NS);
        // The peak survives merging.
        let last = s.samples().last().expect("samples")[TcpState::TimeWait as usize];
        assert_eq!(last, 9_999);
    }
}
