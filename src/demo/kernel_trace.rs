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
    /// Start tracing the state changes of TCP sockets with one of `ports` at either end, in
    /// a private tracefs instance. The filter runs in the kernel: the instance's ring buffer
    /// overwrites its oldest events when full, and a busy machine's other TCP traffic would
    /// push the demo's out of it.
    pub fn start(ports: &[u16]) -> Result<KernelTrace, TraceError> {
        let ours: Vec<String> = ports
            .iter()
            .map(|p| format!("sport == {p} || dport == {p}"))
            .collect();
        let filter = if ours.is_empty() {
            "protocol == 6".to_string()
        } else {
            format!("protocol == 6 && ({})", ours.join(" || "))
        };
        Instance::create(
            "",
            "local",
            &[],
            &[EventSpec::new("sock/inet_sock_set_state", Some(&filter))],
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
