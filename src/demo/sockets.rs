//! The lesson's echo server and client, as small steps on socket2 sockets, every syscall
//! recorded in a `CallLog`.

use super::calls::{errno_of, now, CallLog, ObservedCall};
use crate::events::{CallName, CallResult};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

fn std_addr(a: &SockAddr) -> SocketAddr {
    a.as_socket()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// A TCP socket and its addresses.
pub struct Sock {
    /// The socket.
    pub sock: Socket,
    /// Its own address.
    pub local: SocketAddr,
    /// The peer, once connected.
    pub peer: Option<SocketAddr>,
    log: CallLog,
}

fn new_socket(addr: SocketAddr) -> io::Result<Socket> {
    Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
}

impl Sock {
    /// socket → [setsockopt SO_REUSEADDR] → bind → listen(backlog), recorded as `listen`.
    pub fn listen(log: &CallLog, addr: SocketAddr, reuse: bool, backlog: i32) -> io::Result<Sock> {
        let sock = new_socket(addr)?;
        sock.set_reuse_address(reuse)?;
        log.record(
            CallName::Listen,
            addr,
            None,
            || {
                sock.bind(&addr.into())?;
                sock.listen(backlog)
            },
            |_| CallResult::Listening { reuse, backlog },
        )?;
        let local = std_addr(&sock.local_addr()?);
        Ok(Sock {
            sock,
            local,
            peer: None,
            log: log.clone(),
        })
    }

    /// accept(): the connected socket (recorded under the new connection's endpoints).
    pub fn accept(&self) -> io::Result<Sock> {
        let enter = now();
        let r = self.sock.accept();
        let ret = now();
        let (peer, result) = match &r {
            Ok((_, a)) => (Some(std_addr(a)), CallResult::Ok),
            Err(e) => (None, errno_of(e)),
        };
        self.log.push(ObservedCall {
            enter,
            ret,
            local: self.local,
            peer,
            call: CallName::Accept,
            result,
        });
        let (s, _) = r?;
        let local = std_addr(&s.local_addr()?);
        Ok(Sock {
            sock: s,
            local,
            peer,
            log: self.log.clone(),
        })
    }

    /// A client socket bound to `local` (port 0: any), not yet connected.
    pub fn client(log: &CallLog, local: SocketAddr) -> io::Result<Sock> {
        Self::bound(log, local, false)
    }

    /// A socket bound to `local` with SO_REUSEADDR (the port may still have TIME_WAIT
    /// sockets of an earlier connection), to connect() from rather than listen on.
    pub fn bound_reusing(log: &CallLog, local: SocketAddr) -> io::Result<Sock> {
        Self::bound(log, local, true)
    }

    fn bound(log: &CallLog, local: SocketAddr, reuse: bool) -> io::Result<Sock> {
        let sock = new_socket(local)?;
        if reuse {
            sock.set_reuse_address(true)?;
        }
        sock.bind(&local.into())?;
        let local = std_addr(&sock.local_addr()?);
        Ok(Sock {
            sock,
            local,
            peer: None,
            log: log.clone(),
        })
    }

    /// connect() to `to`.
    pub fn connect(&mut self, to: SocketAddr) -> io::Result<()> {
        self.peer = Some(to);
        self.log.record(
            CallName::Connect,
            self.local,
            Some(to),
            || self.sock.connect(&to.into()),
            |_| CallResult::Ok,
        )
    }

    /// send(data).
    pub fn send(&self, data: &[u8]) -> io::Result<usize> {
        self.log.record(
            CallName::Send,
            self.local,
            self.peer,
            || self.sock.send(data),
            |n| CallResult::Bytes(*n as u64),
        )
    }

    /// A send of another form (`f`: sendto(MSG_FASTOPEN), which connects too), recorded as
    /// `send`.
    pub fn record_send(&self, f: impl FnOnce() -> io::Result<usize>) -> io::Result<usize> {
        self.log
            .record(CallName::Send, self.local, self.peer, f, |n| {
                CallResult::Bytes(*n as u64)
            })
    }

    /// recv(max).
    pub fn recv(&self, max: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; max];
        let n = self.log.record(
            CallName::Recv,
            self.local,
            self.peer,
            || (&self.sock).read(&mut buf),
            |n| CallResult::Bytes(*n as u64),
        )?;
        buf.truncate(n);
        Ok(buf)
    }

    /// shutdown(SHUT_WR).
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.log.record(
            CallName::Shutdown,
            self.local,
            self.peer,
            || self.sock.shutdown(Shutdown::Write),
            |_| CallResult::OkShutWr,
        )
    }

    /// SO_LINGER {on, 0}: close() will send RST.
    pub fn linger_zero(&self) -> io::Result<()> {
        self.sock.set_linger(Some(Duration::ZERO))
    }

    /// SO_RCVTIMEO.
    pub fn read_timeout(&self, d: Duration) -> io::Result<()> {
        self.sock.set_read_timeout(Some(d))
    }

    /// close().
    pub fn close(self) {
        let Sock {
            sock,
            local,
            peer,
            log,
        } = self;
        let _ = log.record(
            CallName::Close,
            local,
            peer,
            || {
                drop(sock);
                Ok(())
            },
            |_| CallResult::Ok,
        );
    }
}
