//! A connection's events gathered while it is open, for the renderers that draw whole
//! connections.
//!
//! A `Vec` growing one event at a time copies every event at each doubling and keeps up to
//! half its room empty, for each of the thousands of connections open at once: on a busy
//! capture that was most of the grouped formats' memory and the tracking thread's copying.
//! Here events go into chunks of [`CHUNK`] that never move once made; they are put in one
//! `Vec` once, where the connection is drawn (on a drawing thread for a file).

use super::group::ConnGroup;
use crate::events::{ConnectionEvent, Event};

/// Events per chunk.
pub const CHUNK: usize = 16;

/// Events in a connection's first chunk (a scan's or a flood's many short connections, up to
/// `--max-connections` open at once, would each hold a whole chunk of room otherwise).
pub const FIRST: usize = 4;

/// Events in the order they came, in chunks that never move.
#[derive(Debug, Default, Clone)]
pub struct EventChunks {
    chunks: Vec<Vec<Event>>,
}

impl EventChunks {
    /// Add `e` after the others.
    pub fn push(&mut self, e: Event) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < c.capacity() => c.push(e),
            _ => {
                let room = if self.chunks.is_empty() { FIRST } else { CHUNK };
                let mut c = Vec::with_capacity(room);
                c.push(e);
                self.chunks.push(c);
            }
        }
    }

    /// The events, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.chunks.iter().flatten()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// None yet.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Vec::is_empty)
    }

    /// The events in one `Vec`, leaving none; `true` when it is a new one (the events were
    /// in several chunks, whose emptied room stays here: memory is freed by the thread that
    /// took it, as glibc frees fastest).
    fn take_vec(&mut self) -> (Vec<Event>, bool) {
        if self.chunks.len() <= 1 {
            return (self.chunks.pop().unwrap_or_default(), false);
        }
        let mut v = Vec::with_capacity(self.len());
        for c in &mut self.chunks {
            v.append(c);
        }
        (v, true)
    }

    /// The events in one `Vec`.
    pub fn into_vec(mut self) -> Vec<Event> {
        self.take_vec().0
    }
}

impl From<Vec<Event>> for EventChunks {
    /// One chunk of whatever length (nothing is added after it).
    fn from(v: Vec<Event>) -> Self {
        EventChunks { chunks: vec![v] }
    }
}

/// A judged connection: its events as gathered and its verdict, made into a [`ConnGroup`]
/// where it is drawn.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The group; its `events` stay empty until `group` moves them in.
    group: ConnGroup,
    events: EventChunks,
    /// `group.events` was made by `group` (not one of the chunks).
    made: bool,
}

impl Gathered {
    /// `events` (in time order) and the verdict.
    pub fn new(events: EventChunks, verdict: ConnectionEvent) -> Self {
        Gathered {
            group: ConnGroup {
                events: Vec::new(),
                verdict,
            },
            events,
            made: false,
        }
    }

    /// The verdict.
    pub fn verdict(&self) -> &ConnectionEvent {
        &self.group.verdict
    }

    /// The connection as one group (the events are put in one `Vec` the first time).
    pub fn group(&mut self) -> &ConnGroup {
        if !self.events.is_empty() {
            (self.group.events, self.made) = self.events.take_vec();
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
    pub fn into_verdict(self) -> ConnectionEvent {
        self.group.verdict
    }

    /// The connection as one group, handed over.
    pub fn into_group(mut self) -> ConnGroup {
        self.group();
        self.group
    }
}

impl From<ConnGroup> for Gathered {
    /// A group already in one `Vec` (as one chunk: nothing to put together).
    fn from(g: ConnGroup) -> Self {
        Gathered::new(g.events.into(), g.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{AnomalyEvent, AnomalyKind};
    use crate::timestamp::Timestamp;
    use proptest::prelude::*;

    fn ev(tag: u64) -> Event {
        Event::Anomaly(AnomalyEvent {
            t: Timestamp(0),
            conn: 1,
            frame: Some(tag),
            kind: AnomalyKind::Duplicate,
            detail: String::new(),
        })
    }

    fn tags(v: &[Event]) -> Vec<u64> {
        v.iter()
            .map(|e| match e {
                Event::Anomaly(a) => a.frame.unwrap(),
                _ => unreachable!(),
            })
            .collect()
    }

    proptest! {
        /// Whatever the count, the events come out as they went in, and no chunk grew (a
        /// chunk that grew would have moved its events).
        #[test]
        fn events_come_out_in_order(n in 0u64..200) {
            let mut c = EventChunks::default();
            for i in 0..n {
                c.push(ev(i));
            }
            for (i, k) in c.chunks.iter().enumerate() {
                prop_assert_eq!(k.capacity(), if i == 0 { FIRST } else { CHUNK });
            }
            prop_assert_eq!(c.len() as u64, n);
            prop_assert_eq!(tags(&c.iter().cloned().collect::<Vec<_>>()), (0..n).collect::<Vec<_>>());
            prop_assert_eq!(tags(&c.into_vec()), (0..n).collect::<Vec<_>>());
        }
    }
}
