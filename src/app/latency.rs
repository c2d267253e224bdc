//! Segment-to-screen latency, for `benches/live-latency.sh`: with `SYNFIN_LATENCY_LOG=FILE` in
//! the environment, `watch` notes each captured frame's kernel timestamp and, when what it
//! caused reaches the terminal (written by the output thread, the full-screen view
//! drawn), the time since; at the end it writes the count, p50, p99 and the maximum to FILE.
//! Off (and free) without the variable.

use crate::timestamp::Timestamp;
use std::path::PathBuf;

/// Latencies, in microseconds.
pub struct LatencyLog {
    path: PathBuf,
    /// Capture times of frames not yet on screen.
    pending: Vec<Timestamp>,
    /// Microseconds from capture to screen, one per frame.
    samples: Vec<u32>,
    /// Frames whose lines were left out (the terminal fell behind).
    not_shown: u64,
}

/// At most this many samples are kept (the rest are counted out).
const MAX_SAMPLES: usize = 50_000_000;

impl LatencyLog {
    /// From `SYNFIN_LATENCY_LOG`, if set.
    pub fn from_env() -> Option<LatencyLog> {
        let path = std::env::var_os("SYNFIN_LATENCY_LOG")?;
        Some(LatencyLog {
            path: path.into(),
            pending: Vec::new(),
            samples: Vec::new(),
            not_shown: 0,
        })
    }

    /// A frame captured at `t` went in.
    pub fn fed(&mut self, t: Timestamp) {
        self.pending.push(t);
    }

    /// Everything fed so far is on screen at `now`.
    pub fn shown(&mut self, now: Timestamp) {
        for t in self.pending.drain(..) {
            if self.samples.len() < MAX_SAMPLES {
                let us = (now.since(t).max(0) / 1000).min(i64::from(u32::MAX));
                self.samples.push(us as u32);
            }
        }
    }

    /// `n` frames' lines were left out (a terminal that fell behind).
    pub fn not_shown(&mut self, n: usize) {
        self.not_shown += n as u64;
    }

    /// Write `frames N p50_us X p99_us Y max_us Z`.
    pub fn write(mut self) -> std::io::Result<()> {
        self.samples.sort_unstable();
        let n = self.samples.len();
        let q = |p: f64| {
            if n == 0 {
                0
            } else {
                self.samples[((n as f64 * p) as usize).min(n - 1)]
            }
        };
        let line = format!(
            "frames {n} p50_us {} p99_us {} max_us {} not_shown {}\n",
            q(0.5),
            q(0.99),
            self.samples.last().copied().unwrap_or(0),
            self.not_shown
        );
        std::fs::write(&self.path, line)
    }
}
