//! The kernel's own TCP state changes, for `demo --kernel-check`: tracefs's
//! `sock/inet_sock_set_state` in a private instance (the trace never shows TIME_WAIT: a
//! timewait minisock takes over and the socket reports FIN_WAIT2→CLOSE; `/proc/net/tcp`
//! shows it).

use crate::capture::tracefs::{EventSpec, Instance, TraceError};
use crate::kernel::trace_line::parse_state_line;
use crate::kernel::KernelTransition;

/// A running trace; stop it with `finish` (the instance is removed on drop too).
pub struct KernelTrace(Instance);

impl KernelTrace {
    /// Start tracing TCP state changes in a private tracefs instance.
    pub fn start() -> Result<KernelTrace, TraceError> {
        Instance::create(
            "",
            "local",
            &[],
            &[EventSpec::new(
                "sock/inet_sock_set_state",
                Some("protocol == 6"),
            )],
        )
        .map(KernelTrace)
    }

    /// Stop, and return every traced change in order.
    pub fn finish(self) -> Result<Vec<KernelTransition>, TraceError> {
        self.0.disable();
        let text = self.0.read_trace()?;
        Ok(text.lines().filter_map(parse_state_line).collect())
    }
}
