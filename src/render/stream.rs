//! `--format stream`: the live view as text. Each segment's row is written as soon as the
//! tracker has it, with both ends' states after it; connections interleave, each line under
//! its connection's gutter (`  3│`), a header line when a connection first appears and its
//! verdict line when it ends. The tracker runs live (`TrackerConfig::live`): an inference that
//! waited for evidence (a FIN's delivery, close or shutdown) comes when settled, marked
//! `(late)` and dated at its own time. The default for `watch` and for `replay` of a pipe.

use super::layout::write_segment_text;
use super::{call_text, palette, RenderOpts, Renderer};
use crate::events::{
    ConnId, ConnectionEvent, Dir, Endpoint, Event, Meta, SegmentEvent, Summary, TcpState,
};
use crate::timestamp::Timestamp;
use colored::Colorize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// What the view remembers of an open connection.
struct View {
    start: Timestamp,
    client: Endpoint,
    server: Endpoint,
    /// Each side's current state.
    states: [TcpState; 2],
    /// The latest time written for it (an earlier one is late).
    last: Timestamp,
}

/// The streaming text view.
pub struct StreamRenderer {
    opts: RenderOpts,
    open: HashMap<ConnId, View>,
    /// A segment whose row waits for the state changes it caused (same frame).
    pending: Option<SegmentEvent>,
    /// Each side's states just changed by the pending segment.
    changed: [bool; 2],
    line: String,
    connections: u64,
    /// Calls that came before their connection's first segment (a traced connect()), drawn
    /// under its header.
    early: HashMap<ConnId, Vec<crate::events::CallEvent>>,
    /// The highest connection id shown (a lower one not open has ended).
    last_id: ConnId,
    /// The ends whose owner was named.
    named: HashSet<(ConnId, Endpoint)>,
}

impl StreamRenderer {
    /// A streaming view with `opts`.
    pub fn new(opts: RenderOpts) -> Self {
        StreamRenderer {
            opts,
            open: HashMap::new(),
            pending: None,
            changed: [false; 2],
            line: String::new(),
            connections: 0,
            early: HashMap::new(),
            last_id: 0,
            named: HashSet::new(),
        }
    }

    /// `  3│ `: the gutter, coloured by connection when painting.
    fn gutter(&self, conn: ConnId) -> String {
        let g = format!("{conn:>4}│ ");
        if !self.opts.color {
            return g;
        }
        match conn % 6 {
            0 => g.cyan(),
            1 => g.green(),
            2 => g.yellow(),
            3 => g.blue(),
            4 => g.magenta(),
            _ => g.white(),
        }
        .to_string()
    }

    /// The view of `conn`, begun (with its header line) if this is its first event.
    fn view(
        &mut self,
        conn: ConnId,
        t: Timestamp,
        ends: (Endpoint, Endpoint),
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if self.open.contains_key(&conn) || conn == 0 {
            return Ok(());
        }
        self.connections += 1;
        self.last_id = self.last_id.max(conn);
        let (client, server) = ends;
        self.open.insert(
            conn,
            View {
                start: t,
                client,
                server,
                states: [TcpState::Unknown; 2],
                last: t,
            },
        );
        let early = self.early.remove(&conn).unwrap_or_default();
        // An end whose process a traced call named already is named in the header.
        let mut name = |end: Endpoint| -> String {
            let owner = early
                .iter()
                .find(|c| c.endpoint == end && c.owner.is_some())
                .and_then(|c| c.owner.clone());
            match owner {
                Some(mut o) => {
                    self.named.insert((conn, end));
                    o.tid = o.pid;
                    format!("{end} {o}")
                }
                None => end.to_string(),
            }
        };
        let head = format!("conn {conn}  {} → {}", name(client), name(server));
        writeln!(
            out,
            "{}{}",
            self.gutter(conn),
            palette::header(&head, self.opts.color)
        )?;
        if let (Some(first), Some(v)) = (early.iter().map(|c| c.t).min(), self.open.get_mut(&conn))
        {
            v.last = v.last.min(first);
        }
        for c in early {
            self.call(&c, out)?;
        }
        Ok(())
    }

    /// A call's row (under its open connection), with its process the first time that end
    /// shows one.
    fn call(&mut self, c: &crate::events::CallEvent, out: &mut dyn Write) -> io::Result<()> {
        let owner = match &c.owner {
            Some(o) if self.named.insert((c.conn, c.endpoint)) => format!("  {o}"),
            _ => String::new(),
        };
        if c.conn == 0 || !self.open.contains_key(&c.conn) {
            // On no connection (listen(), a failed bind()), or after its verdict.
            let at = if c.endpoint.addr().port() == 0 {
                "(no address)".to_string()
            } else {
                c.endpoint.to_string()
            };
            let text = format!("   {at}  {}{owner}", call_text(c));
            return writeln!(
                out,
                "{}{}",
                self.gutter(c.conn),
                palette::call(&text, self.opts.color)
            );
        }
        let (time, late) = self.when(c.conn, c.t);
        let who = match self.open.get(&c.conn) {
            Some(v) if v.client == c.endpoint => "client",
            Some(v) if v.server == c.endpoint => "server",
            _ => "",
        };
        let mut text = format!("{time}  {who} {}{owner}", call_text(c));
        if late {
            text.push_str("  (late)");
        }
        writeln!(
            out,
            "{}{}",
            self.gutter(c.conn),
            palette::call(&text, self.opts.color)
        )
    }

    /// `+0.123ms`, and ` (late)` for a time before what this connection already showed.
    fn when(&mut self, conn: ConnId, t: Timestamp) -> (String, bool) {
        let Some(v) = self.open.get_mut(&conn) else {
            return (String::new(), false);
        };
        let late = t < v.last;
        if !late {
            v.last = t;
        }
        (format!("{:>+11.3}ms", t.since(v.start) as f64 / 1e6), late)
    }

    /// Write the pending segment's row with the states it left.
    fn flush_row(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let Some(s) = self.pending.take() else {
            return Ok(());
        };
        let changed = std::mem::take(&mut self.changed);
        let (time, late) = self.when(s.conn, s.t);
        let Some(v) = self.open.get(&s.conn) else {
            return Ok(());
        };
        // A socket connected to itself is both ends: one state, shown on both sides.
        let one = v.client == v.server;
        let side = |i: usize| {
            let i = if one { 0 } else { i };
            let st = v.states[i];
            if st == TcpState::Unknown {
                "?".to_string()
            } else if changed[i] || (one && changed[0]) {
                st.name().to_string()
            } else {
                format!("({})", st.name())
            }
        };
        let arrow = match s.dir {
            Dir::C2s => "──▶",
            Dir::S2c => "◀──",
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let _ = write!(line, "{time}  {:<14} {arrow} {:<14} ", side(0), side(1));
        write_segment_text(&mut line, &s, self.opts.payload);
        if late {
            line.push_str("  (late)");
        }
        let painted = palette::segment(&line, s.flags, self.opts.color);
        writeln!(out, "{}{painted}", self.gutter(s.conn))?;
        self.line = line;
        Ok(())
    }

    fn verdict(&mut self, v: &ConnectionEvent, out: &mut dyn Write) -> io::Result<()> {
        self.view(v.conn, v.start, (v.client, v.server), out)?;
        let fin: Vec<String> = v
            .final_states
            .0
            .iter()
            .map(|(_, st)| st.name().to_string())
            .collect();
        let text = format!(
            "── {} · {} · history {} · final {}",
            v.outcome.as_str(),
            v.conn_state,
            v.history,
            fin.join("/")
        );
        writeln!(
            out,
            "{}{}",
            self.gutter(v.conn),
            palette::header(&text, self.opts.color)
        )?;
        self.open.remove(&v.conn);
        self.named.retain(|(id, _)| *id != v.conn);
        Ok(())
    }
}

impl Renderer for StreamRenderer {
    fn start(&mut self, _meta: &Meta, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, event: &Event, out: &mut dyn Write) -> io::Result<()> {
        // A state change of the pending segment's own frame belongs on its row.
        if let (Event::State(st), Some(p)) = (event, &self.pending) {
            if st.conn == p.conn && st.frame == Some(p.frame) && !st.projected {
                let i = usize::from(st.role == crate::events::Role::Server);
                if let Some(v) = self.open.get_mut(&st.conn) {
                    v.states[i] = st.to;
                }
                self.changed[i] = true;
                return Ok(());
            }
        }
        self.flush_row(out)?;
        match event {
            Event::Segment(s) => {
                let ends = match s.dir {
                    Dir::C2s => (s.src, s.dst),
                    Dir::S2c => (s.dst, s.src),
                };
                self.view(s.conn, s.t, ends, out)?;
                self.pending = Some(s.clone());
                self.changed = [false; 2];
                Ok(())
            }
            Event::State(st) => {
                if st.conn == 0 {
                    return Ok(());
                }
                if !self.open.contains_key(&st.conn) {
                    // After its verdict: TIME_WAIT's end (also projected, after the input).
                    let text = format!(
                        "   {}  {} {} → {}{}",
                        crate::text::printable(&st.endpoint.to_string()),
                        st.role.as_str(),
                        st.from,
                        st.to,
                        if st.projected {
                            " (projected: after the input)"
                        } else {
                            ""
                        }
                    );
                    return writeln!(
                        out,
                        "{}{}",
                        self.gutter(st.conn),
                        palette::state(&text, self.opts.color)
                    );
                }
                let (time, late) = self.when(st.conn, st.t);
                if let Some(v) = self.open.get_mut(&st.conn) {
                    let i = usize::from(st.role == crate::events::Role::Server);
                    v.states[i] = st.to;
                }
                let who = st.role.as_str();
                let mut text = format!("{time}  {who} {} → {}", st.from, st.to);
                if st.projected {
                    text.push_str(" (projected: after the input)");
                } else if late {
                    text.push_str("  (late)");
                }
                writeln!(
                    out,
                    "{}{}",
                    self.gutter(st.conn),
                    palette::state(&text, self.opts.color)
                )
            }
            Event::Call(c) => {
                if c.conn == 0 {
                    // Calls on no connection: only traced ones are worth a line.
                    if c.owner.is_some() {
                        self.call(c, out)?;
                    }
                    return Ok(());
                }
                if !self.open.contains_key(&c.conn) && c.conn > self.last_id {
                    // Before the connection's first segment: under its header, when it comes.
                    self.early.entry(c.conn).or_default().push(c.clone());
                    return Ok(());
                }
                self.call(c, out)
            }
            Event::Anomaly(a) => {
                if !self.open.contains_key(&a.conn) {
                    return Ok(());
                }
                let text = format!(
                    "              ! {}: {}",
                    a.kind.as_str(),
                    crate::text::printable(&a.detail)
                );
                writeln!(
                    out,
                    "{}{}",
                    self.gutter(a.conn),
                    palette::warn(&text, self.opts.color)
                )
            }
            Event::Connection(v) => self.verdict(v, out),
        }
    }

    fn quiet(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.flush_row(out)
    }

    fn finish(&mut self, s: &Summary, out: &mut dyn Write) -> io::Result<()> {
        self.flush_row(out)?;
        writeln!(
            out,
            "{} seen, {} TCP segments in {} frames",
            super::summary::plural(self.connections, "connection", "connections"),
            s.tcp_segments,
            s.frames
        )
    }
}
