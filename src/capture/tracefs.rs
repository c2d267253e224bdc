//! A private tracefs instance (`/sys/kernel/tracing/instances/synfin-PID`): its own buffer,
//! clock and enabled events, so synfin never touches the global trace or another tool's
//! instance. Removed on drop (exit, Ctrl-C, a panic's unwinding); instances left by a synfin
//! that was killed are removed by the next one to start.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Where tracefs is (and is mounted if it is not).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// What every instance of ours is called before its pid.
const PREFIX: &str = "synfin-";

/// Why the kernel's trace cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Not root: tracefs is root's.
    #[error("tracing needs root (tracefs); capture alone works with CAP_NET_RAW")]
    NotRoot,
    /// A tracefs file could not be made, written or read.
    #[error("{what}: {cause} (tracefs: mount -t tracefs nodev /sys/kernel/tracing)")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed (not a `source`: the message already says it).
        cause: io::Error,
    },
}

fn err(what: impl Into<String>) -> impl FnOnce(io::Error) -> TraceError {
    let what = what.into();
    move |cause| TraceError::Io { what, cause }
}

/// One event to enable, with its filter.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// `system/event`, e.g. `sock/inet_sock_set_state`.
    pub name: String,
    /// A tracefs filter expression, if any.
    pub filter: Option<String>,
}

impl EventSpec {
    /// Event `name`, filtered by `filter`.
    pub fn new(name: impl Into<String>, filter: Option<&str>) -> EventSpec {
        EventSpec {
            name: name.into(),
            filter: filter.map(str::to_string),
        }
    }
}

/// A private tracefs instance with some events enabled; disabled and removed on drop.
pub struct Instance {
    dir: PathBuf,
    events: Vec<String>,
}

impl Instance {
    /// Create the instance `synfin-PID[-tag]`, set `options` (file under `options/` → value)
    /// and the trace clock, and enable `events` (each with its filter).
    pub fn create(
        tag: &str,
        clock: &str,
        options: &[(&str, &str)],
        events: &[EventSpec],
    ) -> Result<Instance, TraceError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(TraceError::NotRoot);
        }
        let root = Path::new(TRACEFS);
        if !root.join("instances").is_dir() {
            // Mount it if this kernel has it but nobody mounted it.
            let status = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .stderr(std::process::Stdio::null())
                .status()
                .map_err(err("cannot run mount"))?;
            if !status.success() || !root.join("instances").is_dir() {
                return Err(TraceError::Io {
                    what: format!("tracefs is not available at {TRACEFS}"),
                    cause: io::Error::from(io::ErrorKind::NotFound),
                });
            }
        }
        remove_stale(root);
        let name = if tag.is_empty() {
            format!("{PREFIX}{}", std::process::id())
        } else {
            format!("{PREFIX}{}-{tag}", std::process::id())
        };
        let dir = root.join("instances").join(name);
        fs::create_dir(&dir).map_err(err(format!("cannot create {}", dir.display())))?;
        let mut inst = Instance {
            dir,
            events: Vec::new(),
        };
        fs::write(inst.dir.join("trace_clock"), clock)
            .map_err(err(format!("cannot set the trace clock to {clock}")))?;
        for (opt, value) in options {
            fs::write(inst.dir.join("options").join(opt), value)
                .map_err(err(format!("cannot set the trace option {opt}")))?;
        }
        let _ = fs::write(inst.dir.join("buffer_size_kb"), "8192");
        for ev in events {
            let path = inst.dir.join("events").join(&ev.name);
            if let Some(f) = &ev.filter {
                fs::write(path.join("filter"), f)
                    .map_err(err(format!("cannot filter {}", ev.name)))?;
            }
            fs::write(path.join("enable"), "1")
                .map_err(err(format!("cannot enable {}", ev.name)))?;
            inst.events.push(ev.name.clone());
        }
        Ok(inst)
    }

    /// Stop recording (what is in the buffer stays readable).
    pub fn disable(&self) {
        for ev in &self.events {
            let _ = fs::write(self.dir.join("events").join(ev).join("enable"), "0");
        }
    }

    /// Everything recorded so far, as text.
    pub fn read_trace(&self) -> Result<String, TraceError> {
        fs::read_to_string(self.dir.join("trace")).map_err(err("cannot read the trace"))
    }

    /// An event's `format` file (its binary layout).
    pub fn event_format(&self, name: &str) -> Result<String, TraceError> {
        fs::read_to_string(self.dir.join("events").join(name).join("format"))
            .map_err(err(format!("cannot read the format of {name}")))
    }

    /// Each CPU's consuming binary reader (`per_cpu/cpuN/trace_pipe_raw`), non-blocking: a
    /// read with nothing recorded gives `WouldBlock`.
    pub fn open_cpu_pipes(&self) -> Result<Vec<File>, TraceError> {
        let mut cpus: Vec<(u32, PathBuf)> = fs::read_dir(self.dir.join("per_cpu"))
            .map_err(err("cannot list per_cpu"))?
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.strip_prefix("cpu")?.parse().ok()?;
                Some((n, e.path().join("trace_pipe_raw")))
            })
            .collect();
        cpus.sort();
        cpus.iter()
            .map(|(_, p)| {
                super::call_trace::open_nonblocking(p)
                    .map_err(err(format!("cannot open {}", p.display())))
            })
            .collect()
    }

    /// The size of one page of the ring buffer (what a binary read gives at most).
    pub fn page_size(&self) -> usize {
        fs::read_to_string(self.dir.join("buffer_subbuf_size_kb"))
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .map_or(4096, |kb| kb * 1024)
    }

    /// Events lost because the buffer was full (the `overrun` counts of every CPU).
    pub fn lost_events(&self) -> u64 {
        let Ok(cpus) = fs::read_dir(self.dir.join("per_cpu")) else {
            return 0;
        };
        cpus.flatten()
            .filter_map(|c| fs::read_to_string(c.path().join("stats")).ok())
            .flat_map(|s| {
                s.lines()
                    .filter_map(|l| l.strip_prefix("overrun: "))
                    .filter_map(|n| n.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.disable();
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Remove the instances of synfins that are no longer running (killed with SIGKILL, say).
fn remove_stale(root: &Path) {
    let Ok(entries) = fs::read_dir(root.join("instances")) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        // Still running, and a synfin (not another program given the same pid since).
        let comm = fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.starts_with(b"synfin") {
            continue;
        }
        // Disable everything first: an instance with enabled events cannot be removed.
        let _ = fs::write(e.path().join("events/enable"), "0");
        let _ = fs::remove_dir(e.path());
    }
}
