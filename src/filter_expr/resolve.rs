//! Names in a filter (`host example.com`, `port http`) are looked up once, at parse time,
//! through a `Resolver`, so the rest of the module does no I/O and tests need no DNS.

use std::net::{IpAddr, ToSocketAddrs};

/// Looks up host and service names for the parser.
pub trait Resolver {
    /// The addresses of a host name (an empty list or an error refuses the name).
    fn host(&self, name: &str) -> Result<Vec<IpAddr>, String>;
    /// The TCP port of a service name (`http` → 80), if known.
    fn service(&self, name: &str) -> Option<u16>;
}

/// The system's resolver (`getaddrinfo` through `ToSocketAddrs`) and `/etc/services`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn host(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let addrs = (name, 0).to_socket_addrs().map_err(|e| e.to_string())?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
    fn service(&self, name: &str) -> Option<u16> {
        let text = std::fs::read_to_string("/etc/services").ok()?;
        service_in(&text, name)
    }
}

/// The TCP port of `name` (or of an alias) in the text of an `/etc/services` file.
pub fn service_in(services: &str, name: &str) -> Option<u16> {
    services.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let official = fields.next()?;
        let (port, proto) = fields.next()?.split_once('/')?;
        let named = official == name || fields.any(|alias| alias == name);
        (named && proto == "tcp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// Refuses every name: only literal addresses and port numbers parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn host(&self, _name: &str) -> Result<Vec<IpAddr>, String> {
        Err("names are not resolved here".into())
    }
    fn service(&self, _name: &str) -> Option<u16> {
        None
    }
}

/// A closure `name → addresses` is a resolver without service names.
impl<F> Resolver for F
where
    F: Fn(&str) -> Result<Vec<IpAddr>, String>,
{
    fn host(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self(name)
    }
    fn service(&self, _name: &str) -> Option<u16> {
        None
    }
}
