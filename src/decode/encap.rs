//! What may sit between a link header and IP, followed by ether type: VLAN tags (802.1Q,
//! 802.1ad/QinQ, stacked), MPLS label stacks, PPPoE sessions and an inner Ethernet header
//! (GRE's and Geneve's transparent Ethernet bridging). Hand-parsed: each is a few fixed bytes.

use super::link::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::Skip;

/// 802.1Q VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// 802.1ad service tag (QinQ).
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// The pre-standard QinQ tag.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// MPLS unicast.
const ETHERTYPE_MPLS: u16 = 0x8847;
/// MPLS multicast.
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
/// PPPoE session stage.
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Transparent Ethernet bridging: an Ethernet frame follows (GRE, Geneve).
pub const ETHERTYPE_TEB: u16 = 0x6558;

/// Headers followed before IP (tags, PPPoE, inner Ethernet; an MPLS stack counts once), so a
/// crafted frame cannot make the walk long.
const MAX_STEPS: usize = 8;

/// Follow `ether_type` through tags, PPPoE, MPLS and inner Ethernet to an IP packet. IP
/// itself, the common case, costs one comparison here.
#[inline]
pub fn to_ip(ether_type: u16, data: &[u8]) -> Result<&[u8], Skip> {
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(data),
        _ => walk(ether_type, data),
    }
}

#[inline(never)]
fn walk(mut ether_type: u16, mut data: &[u8]) -> Result<&[u8], Skip> {
    for _ in 0..MAX_STEPS {
        match ether_type {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return Ok(data),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                // Tag control (2 bytes), then the next ether type.
                let (tag, rest) = data.split_first_chunk::<4>().ok_or(Skip::Truncated)?;
                ether_type = u16::from_be_bytes([tag[2], tag[3]]);
                data = rest;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => return mpls(data),
            ETHERTYPE_PPPOE_SESSION => (ether_type, data) = pppoe(data)?,
            ETHERTYPE_TEB => (ether_type, data) = ethernet(data)?,
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::NotIp)
}

/// An Ethernet II header (destination, source, ether type): the ether type and what follows.
pub fn ethernet(data: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let (head, rest) = data.split_first_chunk::<14>().ok_or(Skip::Truncated)?;
    Ok((u16::from_be_bytes([head[12], head[13]]), rest))
}

/// An MPLS label stack: 4-byte entries up to the one with the bottom-of-stack bit, then IPv4
/// or IPv6 by the first nibble (anything else, such as an Ethernet pseudowire, is not IP).
fn mpls(mut data: &[u8]) -> Result<&[u8], Skip> {
    loop {
        let (entry, rest) = data.split_first_chunk::<4>().ok_or(Skip::Truncated)?;
        data = rest;
        if entry[2] & 0x01 != 0 {
            break;
        }
    }
    match data.first().map(|b| b >> 4) {
        Some(4 | 6) => Ok(data),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

/// A PPPoE session header (version/type 0x11, code 0, session id, length) and the 2-byte PPP
/// protocol: IPv4 (0x0021) and IPv6 (0x0057) map to their ether types; other PPP is not IP.
fn pppoe(data: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let (head, rest) = data.split_first_chunk::<8>().ok_or(Skip::Truncated)?;
    if head[0] != 0x11 || head[1] != 0 {
        return Err(Skip::NotIp);
    }
    match u16::from_be_bytes([head[6], head[7]]) {
        0x0021 => Ok((ETHERTYPE_IPV4, rest)),
        0x0057 => Ok((ETHERTYPE_IPV6, rest)),
        _ => Err(Skip::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_tags_stack() {
        let f = [0x00, 0x2a, 0x81, 0x00, 0x00, 0x07, 0x08, 0x00, 0x45];
        assert_eq!(to_ip(ETHERTYPE_QINQ, &f), Ok(&[0x45][..]));
        assert_eq!(to_ip(ETHERTYPE_VLAN, &f[..3]), Err(Skip::Truncated));
        // Tags forever: bounded.
        let tags: Vec<u8> = [0x00, 0x01, 0x81, 0x00].repeat(20);
        assert_eq!(to_ip(ETHERTYPE_VLAN, &tags), Err(Skip::NotIp));
    }

    #[test]
    fn mpls_stack_to_the_bottom_label() {
        // Label 16 (not bottom), label 17 (bottom), then IPv6.
        let f = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x60, 0];
        assert_eq!(to_ip(ETHERTYPE_MPLS, &f), Ok(&[0x60, 0][..]));
        assert_eq!(to_ip(ETHERTYPE_MPLS_MC, &f[4..]), Ok(&[0x60, 0][..]));
        // A bottom label followed by a pseudowire control word: not IP.
        assert_eq!(
            to_ip(ETHERTYPE_MPLS, &[0, 0, 1, 0, 0, 0, 0, 0]),
            Err(Skip::NotIp)
        );
        // No bottom-of-stack bit before the end, or nothing after it: cut.
        assert_eq!(to_ip(ETHERTYPE_MPLS, &f[..4]), Err(Skip::Truncated));
        assert_eq!(to_ip(ETHERTYPE_MPLS, &f[..8]), Err(Skip::Truncated));
    }

    #[test]
    fn pppoe_session_ipv4_ipv6_and_other_ppp() {
        let head = |proto: u16| {
            let mut v = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x02];
            v.extend(proto.to_be_bytes());
            v.push(0x45);
            v
        };
        assert_eq!(
            to_ip(ETHERTYPE_PPPOE_SESSION, &head(0x0021)),
            Ok(&[0x45][..])
        );
        assert_eq!(
            to_ip(ETHERTYPE_PPPOE_SESSION, &head(0x0057)),
            Ok(&[0x45][..])
        );
        // LCP, and a discovery-stage code.
        assert_eq!(
            to_ip(ETHERTYPE_PPPOE_SESSION, &head(0xc021)),
            Err(Skip::NotIp)
        );
        let mut padi = head(0x0021);
        padi[1] = 0x09;
        assert_eq!(to_ip(ETHERTYPE_PPPOE_SESSION, &padi), Err(Skip::NotIp));
        assert_eq!(
            to_ip(ETHERTYPE_PPPOE_SESSION, &head(0x0021)[..7]),
            Err(Skip::Truncated)
        );
    }

    #[test]
    fn inner_ethernet() {
        let mut f = vec![0u8; 12];
        f.extend([0x86, 0xdd, 0x60]);
        assert_eq!(to_ip(ETHERTYPE_TEB, &f), Ok(&[0x60][..]));
        assert_eq!(to_ip(ETHERTYPE_TEB, &f[..13]), Err(Skip::Truncated));
    }
}
