//! The link-layer headers etherparse does not parse (NULL/LOOP, Linux SLL and SLL2, NFLOG, IP
//! over InfiniBand), parsed here, once. Ethernet (with VLAN tags) and raw IP are left to
//! etherparse; what may sit between them and IP (MPLS, PPPoE) is in `encap`.

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
#[inline]
pub fn strip(link: LinkType, data: &[u8]) -> LinkPayload<'_> {
    match link {
        LinkType::EN10MB => LinkPayload::Ethernet(data),
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 => LinkPayload::Ip(data),
        LinkType::NULL | LinkType::LOOP => null_loop(data),
        LinkType::LINUX_SLL => sll(data),
        LinkType::LINUX_SLL2 => sll2(data),
        LinkType::NFLOG => nflog(data),
        LinkType::IPOIB => ipoib(data),
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

/// NFLOG's TLV holding the packet (`NFULA_PAYLOAD`).
const NFULA_PAYLOAD: u16 = 9;

/// NFLOG (239): address family, version, resource id (4 bytes), then TLVs to the end of the
/// frame: length (including the 4-byte TLV header, the value padded to 4 bytes) and type, both
/// in the byte order of the host that wrote the file. A `Frame` does not carry that order, so
/// little-endian (every common writer) is tried first, then big-endian; a TLV type above 255
/// (netfilter's go up to about 20) marks the wrong order. The payload TLV holds the IP packet.
#[inline(never)]
fn nflog(data: &[u8]) -> LinkPayload<'_> {
    let Some((_head, tlvs)) = data.split_first_chunk::<4>() else {
        return LinkPayload::Truncated;
    };
    match nflog_payload(tlvs, u16::from_le_bytes) {
        Ok(ip) => LinkPayload::Ip(ip),
        Err(le) => match nflog_payload(tlvs, u16::from_be_bytes) {
            Ok(ip) => LinkPayload::Ip(ip),
            // One order found the TLVs plausible but cut short.
            Err(be) if le == LinkPayload::Truncated || be == LinkPayload::Truncated => {
                LinkPayload::Truncated
            }
            Err(be) => be,
        },
    }
}

/// Walk NFLOG TLVs read with `word`, to the payload's value (cut short if the frame is).
fn nflog_payload(mut tlvs: &[u8], word: fn([u8; 2]) -> u16) -> Result<&[u8], LinkPayload<'_>> {
    while !tlvs.is_empty() {
        let Some(head) = tlvs.first_chunk::<4>() else {
            return Err(LinkPayload::Truncated);
        };
        let len = usize::from(word([head[0], head[1]]));
        let kind = word([head[2], head[3]]) & 0x7fff;
        if len < 4 || kind > 0xff {
            return Err(LinkPayload::NotIp);
        }
        if kind == NFULA_PAYLOAD {
            return Ok(&tlvs[4..len.min(tlvs.len())]);
        }
        let padded = (len + 3) & !3;
        if padded > tlvs.len() {
            return Err(LinkPayload::Truncated);
        }
        tlvs = &tlvs[padded..];
    }
    Err(LinkPayload::NotIp)
}

/// IPOIB (242): a 2-byte ether type (network order) and 2 reserved bytes.
fn ipoib(data: &[u8]) -> LinkPayload<'_> {
    match data.split_first_chunk::<4>() {
        Some((head, rest)) => LinkPayload::EtherType(u16::from_be_bytes([head[0], head[1]]), rest),
        None => LinkPayload::Truncated,
    }
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

    /// An NFLOG frame: header, then (length, type, value) TLVs written with `word`.
    fn nflog_frame(tlvs: &[(u16, &[u8])], word: fn(u16) -> [u8; 2]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 5];
        for (kind, value) in tlvs {
            f.extend(word(4 + value.len() as u16));
            f.extend(word(*kind));
            f.extend(*value);
            f.resize((f.len() + 3) & !3, 0);
        }
        f
    }

    #[test]
    fn nflog_finds_the_payload_tlv_in_either_byte_order() {
        let ip = [0x45u8, 1, 2, 3, 4, 5];
        // Packet header (3 bytes + padding), prefix string of odd length, then the payload.
        let tlvs: [(u16, &[u8]); 3] = [(1, &[8, 0, 0]), (10, b"ufw\0x"), (9, &ip)];
        for word in [u16::to_le_bytes as fn(u16) -> [u8; 2], u16::to_be_bytes] {
            let f = nflog_frame(&tlvs, word);
            assert_eq!(strip(LinkType::NFLOG, &f), LinkPayload::Ip(&ip[..]));
            // Cut inside the payload: what is there is handed on.
            let cut = &f[..f.len() - 4];
            assert_eq!(
                strip(LinkType::NFLOG, cut),
                LinkPayload::Ip(&ip[..ip.len() - 2])
            );
            // Cut inside an earlier TLV: truncated.
            assert_eq!(strip(LinkType::NFLOG, &f[..10]), LinkPayload::Truncated);
        }
        // The nested flag (top bit of the type) is not part of the type.
        let f = nflog_frame(&[(0x8000 | 9, &ip)], u16::to_le_bytes);
        assert_eq!(strip(LinkType::NFLOG, &f), LinkPayload::Ip(&ip[..]));
        // No payload TLV, a zero length (would loop), a bare header.
        let f = nflog_frame(&[(1, &[8, 0, 0])], u16::to_le_bytes);
        assert_eq!(strip(LinkType::NFLOG, &f), LinkPayload::NotIp);
        assert_eq!(
            strip(LinkType::NFLOG, &[2, 0, 0, 0, 0, 0, 9, 0]),
            LinkPayload::NotIp
        );
        assert_eq!(strip(LinkType::NFLOG, &[2, 0, 0, 0]), LinkPayload::NotIp);
        assert_eq!(strip(LinkType::NFLOG, &[2, 0, 0]), LinkPayload::Truncated);
    }

    #[test]
    fn ipoib_header() {
        assert_eq!(
            strip(LinkType::IPOIB, &[0x86, 0xdd, 0, 0, 0x60]),
            LinkPayload::EtherType(ETHERTYPE_IPV6, &[0x60][..])
        );
        assert_eq!(
            strip(LinkType::IPOIB, &[0x08, 0x00, 0]),
            LinkPayload::Truncated
        );
    }
}
