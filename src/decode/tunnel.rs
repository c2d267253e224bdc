//! Tunnels of cloud and overlay captures, where the inner packet is the connection: GRE (IP
//! protocol 47), VXLAN (UDP port 4789) and Geneve (UDP port 6081). Each gives the inner IP
//! packet; IP-in-IP needs no parsing (the IP payload is the packet). Looked at only when the
//! outer IP protocol says so; `decode` bounds how deep they nest.

use super::encap::{self, ETHERTYPE_TEB};
use super::Skip;

/// VXLAN's UDP port (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// Geneve's UDP port (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;

/// GRE (RFC 2784, with RFC 2890's key and sequence number): flags and version, protocol type,
/// then 4 bytes for each of checksum (+ reserved), key and sequence number that the flags
/// announce. The protocol type is an ether type: IP, 0x6558 (inner Ethernet), MPLS, …
/// Version 1 (PPTP) and source routing (RFC 1701's R flag, deprecated) are not decoded.
pub fn gre(data: &[u8]) -> Result<&[u8], Skip> {
    let (head, rest) = data.split_first_chunk::<4>().ok_or(Skip::Truncated)?;
    let flags = head[0];
    if head[1] & 0x07 != 0 || flags & 0x40 != 0 {
        return Err(Skip::NotIp);
    }
    // C (checksum), K (key), S (sequence number).
    let optional = 4 * (flags & (0x80 | 0x20 | 0x10)).count_ones() as usize;
    let rest = rest.get(optional..).ok_or(Skip::Truncated)?;
    encap::to_ip(u16::from_be_bytes([head[2], head[3]]), rest)
}

/// A UDP datagram: the inner IP packet of VXLAN or Geneve (by destination port). Other UDP,
/// or UDP whose header is cut, is not TCP.
pub fn udp(data: &[u8]) -> Result<&[u8], Skip> {
    let (head, rest) = data.split_first_chunk::<8>().ok_or(Skip::NotTcp)?;
    match u16::from_be_bytes([head[2], head[3]]) {
        VXLAN_PORT => vxlan(rest),
        GENEVE_PORT => geneve(rest),
        _ => Err(Skip::NotTcp),
    }
}

/// VXLAN: 8 bytes (flags, reserved, 24-bit VNI, reserved), then an Ethernet frame.
fn vxlan(data: &[u8]) -> Result<&[u8], Skip> {
    let rest = data.get(8..).ok_or(Skip::Truncated)?;
    encap::to_ip(ETHERTYPE_TEB, rest)
}

/// Geneve: version (2 bits, 0) and options length (6 bits, in 4-byte words), flags, protocol
/// type (an ether type; 0x6558 is Ethernet), VNI and reserved: 8 bytes, then the options.
fn geneve(data: &[u8]) -> Result<&[u8], Skip> {
    let head = data.first_chunk::<8>().ok_or(Skip::Truncated)?;
    if head[0] >> 6 != 0 {
        return Err(Skip::NotIp);
    }
    let len = 8 + 4 * usize::from(head[0] & 0x3f);
    let rest = data.get(len..).ok_or(Skip::Truncated)?;
    encap::to_ip(u16::from_be_bytes([head[2], head[3]]), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_optional_fields_by_flags() {
        for (flags, optional) in [
            (0x00u8, 0usize),
            (0x80, 4),
            (0x20, 4),
            (0x10, 4),
            (0xb0, 12),
        ] {
            let mut f = vec![flags, 0x00, 0x08, 0x00];
            f.extend(vec![0xee; optional]);
            f.push(0x45);
            assert_eq!(gre(&f), Ok(&[0x45][..]), "flags {flags:#x}");
            assert_eq!(
                gre(&f[..3 + optional]),
                Err(Skip::Truncated),
                "flags {flags:#x}"
            );
        }
        // IPv6, and transparent Ethernet bridging.
        assert_eq!(gre(&[0, 0, 0x86, 0xdd, 0x60]), Ok(&[0x60][..]));
        let mut teb = vec![0x20, 0, 0x65, 0x58, 0, 0, 0, 7];
        teb.extend([0u8; 12]);
        teb.extend([0x08, 0x00, 0x45]);
        assert_eq!(gre(&teb), Ok(&[0x45][..]));
        // Version 1 (PPTP), routing present, a protocol that is not IP.
        assert_eq!(gre(&[0x30, 0x01, 0x88, 0x0b, 0x45]), Err(Skip::NotIp));
        assert_eq!(
            gre(&[0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0x45]),
            Err(Skip::NotIp)
        );
        assert_eq!(gre(&[0, 0, 0x08, 0x06, 0x45]), Err(Skip::NotIp));
    }

    fn udp_head(dst: u16) -> Vec<u8> {
        let mut v = vec![0x30, 0x39];
        v.extend(dst.to_be_bytes());
        v.extend([0, 0, 0, 0]);
        v
    }

    #[test]
    fn vxlan_inner_ethernet() {
        let mut f = udp_head(VXLAN_PORT);
        f.extend([0x08, 0, 0, 0, 0, 0x10, 0x01, 0]);
        f.extend([0u8; 12]);
        f.extend([0x86, 0xdd, 0x60]);
        assert_eq!(udp(&f), Ok(&[0x60][..]));
        assert_eq!(udp(&f[..12]), Err(Skip::Truncated));
        assert_eq!(udp(&f[..8 + 8 + 13]), Err(Skip::Truncated));
        // Another port, or a cut UDP header: UDP, not TCP.
        f[3] = 0xb6;
        assert_eq!(udp(&f), Err(Skip::NotTcp));
        assert_eq!(udp(&f[..7]), Err(Skip::NotTcp));
    }

    #[test]
    fn geneve_skips_its_options() {
        for words in [0u8, 1, 3, 63] {
            let mut f = udp_head(GENEVE_PORT);
            f.extend([words, 0x00, 0x08, 0x00, 0, 0, 0x2a, 0]);
            f.extend(vec![0xaa; 4 * usize::from(words)]);
            f.push(0x45);
            assert_eq!(udp(&f), Ok(&[0x45][..]), "{words} option words");
            assert_eq!(udp(&f[..f.len() - 2]), Err(Skip::Truncated));
        }
        let mut f = udp_head(GENEVE_PORT);
        f.extend([0x00, 0x00, 0x65, 0x58, 0, 0, 0x2a, 0]);
        f.extend([0u8; 12]);
        f.extend([0x08, 0x00, 0x45]);
        assert_eq!(udp(&f), Ok(&[0x45][..]));
        // Version 1 is unknown.
        f[8] = 0x40;
        assert_eq!(udp(&f), Err(Skip::NotIp));
    }
}
