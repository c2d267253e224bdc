//! Tracker settings from the command line.

use super::UsageError;
use crate::cli::{Format, TrackerArgs};
use crate::tracker::TrackerConfig;
use crate::tracker::Wanted;

/// Tracker settings from the command line.
pub fn tracker_config(a: &TrackerArgs, format: Format) -> anyhow::Result<TrackerConfig> {
    if !(a.time_wait.is_finite() && a.time_wait >= 0.0 && a.time_wait < 1e6) {
        return Err(UsageError(format!(
            "--time-wait {}: give seconds from 0 to 999999",
            a.time_wait
        ))
        .into());
    }
    Ok(TrackerConfig {
        time_wait_ns: (a.time_wait * 1e9) as i64,
        max_connections: a.max_connections.max(1),
        // A summary (or nothing) needs only the verdicts: skip building the rest.
        wanted: match format {
            Format::Summary | Format::None => Wanted::VERDICTS,
            _ => Wanted::ALL,
        },
        // The live view shows events as they are made, inferences late.
        live: format == Format::Stream,
        ..TrackerConfig::default()
    })
}
