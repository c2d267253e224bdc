//! A connection's first captured segment: who is the client (the SYN's sender, or a guess
//! as Zeek makes it), each end's first state, and the mid-stream anomaly.

use super::*;

impl Conn {
    /// A connection whose first captured segment is `seg`.
    /// (Built where it is returned: the mid-stream anomaly, which needs the queue, is
    /// `note_midstream`'s, once the connection is in its box.)
    pub fn new(
        id: ConnId,
        seg: &Segment,
        now: Timestamp,
        ranges: &crate::tracker::zeek::reassembly::RangeBudget,
        seed: Option<&[crate::tracker::Seed]>,
    ) -> Conn {
        let f = seg.flags;
        let self_connect = seg.src == seg.dst;
        // Picked up mid-stream on a socket of this host that predates the capture: its
        // kernel said which end serves and in which state each local end was.
        let seed = seed.filter(|_| !f.syn());
        let seeded_server = seed
            .and_then(|s| {
                s.iter().find_map(|x| match x.serves {
                    true => Some(x.local),
                    false => None,
                })
            })
            .or_else(|| {
                // A seeded end that does not serve is the client: the other end serves.
                seed.and_then(|s| s.first())
                    .map(|x| if x.local == seg.src { seg.dst } else { seg.src })
            });
        // Roles: the sender of a SYN without ACK is the client; of a SYN,ACK the server;
        // otherwise guess as Zeek does: a well-known (<1024) or else the lower port serves.
        let (client, server, guessed, flipped) = if f.syn() && !f.ack() {
            (seg.src, seg.dst, false, false)
        } else if f.syn() && f.ack() {
            (seg.dst, seg.src, false, true)
        } else if let Some(server) = seeded_server {
            if server == seg.src {
                (seg.dst, seg.src, false, true)
            } else {
                (seg.src, seg.dst, false, false)
            }
        } else {
            let (sp, dp) = (seg.src.port(), seg.dst.port());
            let src_serves = match (sp < 1024, dp < 1024) {
                (true, false) => true,
                (false, true) => false,
                _ => sp < dp,
            };
            if src_serves {
                (seg.dst, seg.src, true, true)
            } else {
                (seg.src, seg.dst, true, false)
            }
        };
        let init = if f.syn() {
            TcpState::Closed
        } else {
            TcpState::Unknown
        };
        let init_server = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let init_client = if f.syn() && f.ack() {
            TcpState::Unknown
        } else {
            init
        };
        let seeded = |end: std::net::SocketAddr, or: TcpState| {
            seed.and_then(|s| s.iter().find(|x| x.local == end))
                .map_or(or, |x| x.state)
        };
        let (init_client, init_server) = (seeded(client, init_client), seeded(server, init_server));
        Conn {
            id,
            key: crate::tracker::FlowKey::new(seg.src, seg.dst).compact(),
            sides: PerSide([Tcb::new(client, init_client), Tcb::new(server, init_server)]),
            self_connect,
            roles_guessed: guessed,
            simultaneous_open: false,
            start: now,
            last: now,
            record: Record::new(ZeekHistory::new(flipped, ranges)),
            tw_since: None,
            lingering: false,
            tw_scheduled: None,
            last_change: PerSide([None; 2]),
        }
    }

    /// A connection picked up after its SYN: the anomaly that says so (its first segment
    /// `seg`; `seed`, what the kernel said of sockets older than the capture).
    pub fn note_midstream(
        &mut self,
        q: &mut EventQueue,
        seg: &Segment,
        seed: Option<&[crate::tracker::Seed]>,
    ) {
        let f = seg.flags;
        let seed = seed.filter(|_| !f.syn());
        let (client, server) = (self.sides[Side::Client].addr, self.sides[Side::Server].addr);
        let (guessed, now) = (self.roles_guessed, self.start);
        if !f.syn() || f.ack() {
            let detail = if seed.is_some() {
                format!(
                    "picked up mid-stream: the connection existed before the capture began (the kernel had {}; {} serves)",
                    seed.into_iter()
                        .flatten()
                        .map(|x| format!("{} {}", x.local, x.state))
                        .collect::<Vec<_>>()
                        .join(", "),
                    server
                )
            } else if guessed {
                format!(
                    "picked up mid-stream: no handshake captured; roles guessed ({} serves: {})",
                    server,
                    if server.port() < 1024 && client.port() >= 1024 {
                        "well-known port"
                    } else {
                        "lower port"
                    }
                )
            } else {
                "picked up mid-handshake: the SYN was not captured".to_string()
            };
            self.anomaly(q, now, Some(seg.frame), AnomalyKind::Midstream, detail);
        }
    }
}
