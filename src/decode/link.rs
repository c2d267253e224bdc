//! The link-layer headers etherparse does not parse (NULL/LOOP, Linux SLL and SLL2), parsed
//! here, once. Ethernet (with VLAN tags) and raw IP are left to etherparse.

use crate::frame::LinkType;

/// IPv4 / IPv6 ether types.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IPv6 ether type.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// What follows the link header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPayload<'a> {
    /// A whole Ethernet frame (etherparse strips it, with its VLAN tags).
    Ethernet(&'a [u8]),
    /// A payload of the given ether type.
    EtherType(u16, &'a [u8]),
    /// An IP packet (version in its first nibble).
    Ip(&'a [u8]),
    /// Not IP (another address family or protocol).
    NotIp,
    /// The link header itself is cut short.
    Truncated,
    /// A link type synfin does not decode.
    Unsupported,
}

/// Strip the link header of `data` captured with `link`.
pub fn strip(link: LinkType, data: &[u8]) -> LinkPayload<'_> {
    match link {
        LinkType::EN10MB => LinkPayload::Ethernet(data),
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => LinkPayload::Ip(data),
        LinkType::NULL | LinkType::LOOP => null_loop(data),
        LinkType::LINUX_SLL => sll(data),
        LinkType::LINUX_SLL2 => sll2(data),
        _ => LinkPayload::Unsupported,
    }
}

/// NULL (0) and LOOP (108): a 4-byte address family, in the writer's byte order for NULL and
/// network order for LOOP, but writers get both wrong, so either order is accepted. AF_INET is
/// 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin).
fn null_loop(data: &[u8]) -> LinkPayload<'_> {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return LinkPayload::Truncated;
    };
    let le = u32::from_le_bytes(*head);
    let family = if le > 0xffff { le.swap_bytes() } else { le };
    match family {
        2 => LinkPayload::EtherType(ETHERTYPE_IPV4, rest),
        10 | 24 | 28 | 30 => LinkPayload::EtherType(ETHERTYPE_IPV6, rest),
        _ => LinkPayload::NotIp,
    }
}

/// LINUX_SLL (113): packet type, ARPHRD type (772 on `lo`), address length, 8 address bytes,
/// protocol (an ether type for IP).
fn sll(data: &[u8]) -> LinkPayload<'_> {
    if data.len() < 16 {
        return LinkPayload::Truncated;
    }
    let proto = u16::from_be_bytes([data[14], data[15]]);
    LinkPayload::EtherType(proto, &data[16..])
}

/// LINUX_SLL2 (276): protocol first, then reserved, ifindex, ARPHRD, packet type, address
/// length and 8 address bytes: 20 bytes in all.
fn sll2(data: &[u8]) -> LinkPayload<'_> {
    if data.len() < 20 {
        return LinkPayload::Truncated;
    }
    let proto = u16::from_be_bytes([data[0], data[1]]);
    LinkPayload::EtherType(proto, &data[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_family_in_either_byte_order() {
        for fam in [2u32, 10, 24, 28, 30] {
            for head in [fam.to_le_bytes(), fam.to_be_bytes()] {
                let mut f = head.to_vec();
                f.push(0x45);
                for lt in [LinkType::NULL, LinkType::LOOP] {
                    let want = if fam == 2 {
                        ETHERTYPE_IPV4
                    } else {
                        ETHERTYPE_IPV6
                    };
                    assert_eq!(strip(lt, &f), LinkPayload::EtherType(want, &[0x45][..]));
                }
            }
        }
        assert_eq!(strip(LinkType::NULL, &[7, 0, 0, 0]), LinkPayload::NotIp);
        assert_eq!(strip(LinkType::NULL, &[2, 0]), LinkPayload::Truncated);
    }

    #[test]
    fn sll_and_sll2_headers() {
        let mut sll = vec![0, 0, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        sll.push(0x45);
        assert_eq!(
            strip(LinkType::LINUX_SLL, &sll),
            LinkPayload::EtherType(0x0800, &[0x45][..])
        );
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend([0u8; 18]);
        sll2.push(0x60);
        assert_eq!(
            strip(LinkType::LINUX_SLL2, &sll2),
            LinkPayload::EtherType(0x86dd, &[0x60][..])
        );
        assert_eq!(
            strip(LinkType::LINUX_SLL2, &sll2[..19]),
            LinkPayload::Truncated
        );
        assert_eq!(strip(LinkType(147), &sll2), LinkPayload::Unsupported);
    }
}
