//! A judged connection as the grouped renderers hand it on: its verdict and its events as they
//! were gathered (packed, see [`super::packed`]), unpacked into one `Vec` where it is drawn (on a
//! drawing thread for a file).

use super::group::ConnGroup;
use super::packed::PackedEvents;
use crate::events::ConnectionEvent;

/// A judged connection: its events as gathered and its verdict, made into a [`ConnGroup`]
/// where it is drawn.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The group; its `events` stay empty until `group` moves them in.
    group: ConnGroup,
    events: PackedEvents,
    /// `group.events` was unpacked by `group` (not handed in whole).
    made: bool,
}

impl Gathered {
    /// `events` (in time order) and the verdict.
    pub fn new(events: PackedEvents, verdict: Box<ConnectionEvent>) -> Self {
        Gathered {
            group: ConnGroup {
                events: Vec::new(),
                verdict,
            },
            events,
            made: false,
        }
    }

    /// How many events (before the verdict).
    pub fn len(&self) -> usize {
        self.events.len() + self.group.events.len()
    }

    /// No events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The verdict.
    pub fn verdict(&self) -> &ConnectionEvent {
        &self.group.verdict
    }

    /// The connection as one group (the events are put in one `Vec` the first time).
    pub fn group(&mut self) -> &ConnGroup {
        if !self.events.is_empty() {
            self.group.events = self.events.unpack();
            self.made = true;
        }
        &self.group
    }

    /// Drawn on another thread than the one that gathered it: free there what `group` made
    /// there (the rest goes back to be freed where it was made).
    pub fn drawn(&mut self) {
        if self.made {
            self.group.events = Vec::new();
            self.made = false;
        }
    }

    /// The verdict, handed over (the events are dropped as gathered).
    pub fn into_verdict(self) -> Box<ConnectionEvent> {
        self.group.verdict
    }

    /// The connection as one group, handed over.
    pub fn into_group(mut self) -> ConnGroup {
        self.group();
        self.group
    }
}

impl From<ConnGroup> for Gathered {
    /// A group already in one `Vec` (nothing to unpack).
    fn from(group: ConnGroup) -> Self {
        Gathered {
            group,
            events: PackedEvents::default(),
            made: false,
        }
    }
}
