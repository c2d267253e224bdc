//! Decoding: a captured `Frame` → a TCP `Segment`, or the reason it was skipped. etherparse's
//! lax slicers do the work (Ethernet, IPv4/IPv6 with extension headers, TCP); the big
//! `LaxSlicedPacket` is avoided on this hot path, as it moves ~1 KB per frame.
//!
//! The only module that imports etherparse. What it lacks is parsed by hand: link headers in
//! `link` (NULL/LOOP, SLL, SLL2, NFLOG, IPoIB), what lies between link and IP in `encap` (VLAN
//! tags, MPLS, PPPoE, inner Ethernet), tunnels in `tunnel` (GRE, VXLAN, Geneve; IP-in-IP is
//! just IP again). In a tunnel the innermost packet is the segment.
//! Snaplen-cut frames still decode when the TCP header is whole: the payload length then
//! comes from the IP header, not from the capture. No I/O, no clock.

mod encap;
pub(crate) mod link;
mod tunnel;

use crate::frame::Frame;
use crate::segment::{PayloadPrefix, Segment, TcpFlags, TcpOptions};
use etherparse::{
    Ethernet2Slice, IpNumber, LaxIpPayloadSlice, LaxIpSlice, TcpOptionElement, TcpSlice,
};
use link::LinkPayload;
use std::net::{IpAddr, SocketAddr};

/// Why a frame gave no segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not IPv4/IPv6 (ARP, another address family, …).
    NotIp,
    /// IP, but not TCP (also a tunnel nested deeper than `MAX_TUNNELS`).
    NotTcp,
    /// An IP fragment (synfin does not reassemble).
    Fragment,
    /// Cut before the end of the TCP header (snaplen too small, or damaged).
    Truncated,
    /// A link type synfin does not decode.
    UnsupportedLink,
}

/// How many tunnels (GRE, VXLAN, Geneve, IP-in-IP) are opened, one inside another, before a
/// frame is given up on: crafted frames cannot make decoding long.
pub const MAX_TUNNELS: usize = 4;

/// Decode one frame. In a tunnel, the innermost IP packet and its TCP are the segment.
pub fn decode(frame: &Frame<'_>) -> Result<Segment, Skip> {
    let mut ip = match link::strip(frame.link, frame.data) {
        LinkPayload::Ethernet(d) => {
            let eth = Ethernet2Slice::from_slice_without_fcs(d).map_err(|_| Skip::Truncated)?;
            encap::to_ip(eth.ether_type().0, eth.payload_slice())?
        }
        LinkPayload::EtherType(t, d) => encap::to_ip(t, d)?,
        LinkPayload::Ip(d) => d,
        LinkPayload::NotIp => return Err(Skip::NotIp),
        LinkPayload::Truncated => return Err(Skip::Truncated),
        LinkPayload::Unsupported => return Err(Skip::UnsupportedLink),
    };
    let mut tunnels = 0;
    let (src_ip, dst_ip, ip_payload, claimed) = loop {
        let (src_ip, dst_ip, ip_payload, claimed) = ip_layer(ip)?;
        if ip_payload.fragmented {
            return Err(Skip::Fragment);
        }
        // Tunnels only when the protocol says so; TCP, the common case, is tested first.
        ip = match ip_payload.ip_number {
            IpNumber::TCP => break (src_ip, dst_ip, ip_payload, claimed),
            _ if tunnels == MAX_TUNNELS => return Err(Skip::NotTcp),
            IpNumber::IPV4 | IpNumber::IPV6 => ip_payload.payload,
            IpNumber::GRE => tunnel::gre(ip_payload.payload)?,
            IpNumber::UDP => tunnel::udp(ip_payload.payload)?,
            _ => return Err(Skip::NotTcp),
        };
        tunnels += 1;
    };
    let mut fixed = [0u8; 20];
    let (tcp, header_len, options_cut) = match TcpSlice::from_slice(ip_payload.payload) {
        Ok(tcp) => {
            let header_len = tcp.slice().len() - tcp.payload().len();
            (tcp, header_len, false)
        }
        // The fixed header is whole but the options are cut (snaplen): keep the segment,
        // without its options, as tshark does. Its real header length still counts.
        Err(_) if ip_payload.payload.len() >= 20 && ip_payload.payload[12] >> 4 >= 5 => {
            fixed.copy_from_slice(&ip_payload.payload[..20]);
            let header_len = usize::from(fixed[12] >> 4) * 4;
            fixed[12] = (5 << 4) | (fixed[12] & 0x0f);
            let tcp = TcpSlice::from_slice(&fixed).map_err(|_| Skip::Truncated)?;
            (tcp, header_len.max(20), true)
        }
        Err(_) => return Err(Skip::Truncated),
    };
    let ip_len = if ip_payload.incomplete {
        claimed.unwrap_or(ip_payload.payload.len())
    } else {
        ip_payload.payload.len()
    };
    let payload_len = ip_len.saturating_sub(header_len);
    let payload = if options_cut { &[][..] } else { tcp.payload() };
    let payload_cut = payload.len() < payload_len;
    let payload = &payload[..payload.len().min(payload_len)];
    // Byte 13, and AE (the low bit of byte 12, beside the data offset) as bit 8.
    let head = tcp.header_slice();
    let flags = TcpFlags(u16::from_be_bytes([head[12] & 0x01, head[13]]));
    Ok(Segment {
        ts: frame.ts,
        frame: frame.number,
        orig_len: frame.orig_len,
        cap_len: frame.data.len() as u32,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        flags,
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        window: tcp.window_size(),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        payload: PayloadPrefix::new(payload),
        payload_cut,
        options: if options_cut {
            TcpOptions::default()
        } else {
            options(&tcp)
        },
    })
}

/// One IP header, by the lax slicer (which keeps what a snaplen-cut packet still holds and
/// says it is cut): the addresses, the payload, and the payload length the header claims.
#[inline]
fn ip_layer(ip: &[u8]) -> Result<(IpAddr, IpAddr, LaxIpPayloadSlice<'_>, Option<usize>), Skip> {
    let (net, _) = LaxIpSlice::from_slice(ip).map_err(|e| {
        use etherparse::err::ip::LaxHeaderSliceError as E;
        match e {
            E::Len(_) => Skip::Truncated,
            E::Content(_) => Skip::NotIp,
        }
    })?;
    Ok(match net {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let claimed = usize::from(h.total_len()).checked_sub(usize::from(h.ihl()) * 4);
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                v4.payload().clone(),
                claimed,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let claimed = usize::from(h.payload_length())
                .checked_sub(v6.extensions().slice().len())
                .filter(|_| h.payload_length() != 0);
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                v6.payload().clone(),
                claimed,
            )
        }
    })
}

fn options(tcp: &TcpSlice<'_>) -> TcpOptions {
    let mut o = TcpOptions::default();
    for opt in tcp.options_iterator() {
        match opt {
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => o.mss = Some(m),
            Ok(TcpOptionElement::WindowScale(w)) => o.wscale = Some(w),
            Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => o.sack_perm = true,
            Ok(TcpOptionElement::Timestamp(v, e)) => o.ts = Some((v, e)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    o
}

#[cfg(test)]
mod tests;
