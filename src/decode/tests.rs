//! Decode tests on frames built in code, one per link type, plus property tests.

use super::*;
use crate::frame::LinkType;
use crate::timestamp::Timestamp;
use etherparse::PacketBuilder;
use proptest::prelude::*;

const PAYLOAD: &[u8] = b"hello";

fn tcp_v4_ip() -> Vec<u8> {
    let b = PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 9], 64)
        .tcp(54321, 8888, 1000, 65495)
        .ack(2000)
        .psh()
        .options(&[
            TcpOptionElement::MaximumSegmentSize(65495),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(11, 22),
        ])
        .unwrap();
    let mut v = Vec::new();
    b.write(&mut v, PAYLOAD).unwrap();
    v
}

fn tcp_v6_ip() -> Vec<u8> {
    let mut lo = [0u8; 16];
    lo[15] = 1;
    let b = PacketBuilder::ipv6(lo, lo, 64)
        .tcp(40000, 8888, 7, 1000)
        .syn();
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}

fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
    Frame {
        number: 3,
        ts: Timestamp(1_700_000_000_123_456_789),
        link,
        orig_len: data.len() as u32,
        data,
    }
}

fn ether(ethertype: u16, tags: &[u16], ip: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 12];
    for tpid in tags {
        v.extend(tpid.to_be_bytes());
        v.extend([0x00, 0x2a]);
    }
    v.extend(ethertype.to_be_bytes());
    v.extend(ip);
    v
}

#[track_caller]
fn assert_v4_hello(seg: Segment) {
    assert_eq!(seg.src, "127.0.0.1:54321".parse().unwrap());
    assert_eq!(seg.dst, "127.0.0.9:8888".parse().unwrap());
    assert_eq!(seg.seq, 1000);
    assert_eq!(seg.ack, 2000);
    assert_eq!(seg.window, 65495);
    assert_eq!(seg.flags, TcpFlags(TcpFlags::ACK | TcpFlags::PSH));
    assert_eq!(seg.payload_len, 5);
    assert_eq!(seg.payload.as_bytes(), PAYLOAD);
    assert_eq!(seg.frame, 3);
    assert_eq!(seg.ts, Timestamp(1_700_000_000_123_456_789));
    assert_eq!(
        seg.options,
        TcpOptions {
            mss: Some(65495),
            wscale: Some(7),
            sack_perm: true,
            ts: Some((11, 22)),
        }
    );
}

#[test]
fn raw_ipv4_and_ipv6_link_types() {
    let ip = tcp_v4_ip();
    for lt in [LinkType::RAW, LinkType::IPV4] {
        assert_v4_hello(decode(&frame(lt, &ip)).unwrap());
    }
    let ip6 = tcp_v6_ip();
    for lt in [LinkType::RAW, LinkType::IPV6] {
        let s = decode(&frame(lt, &ip6)).unwrap();
        assert_eq!(s.src, "[::1]:40000".parse().unwrap());
        assert!(s.flags.syn() && !s.flags.ack());
        assert_eq!(s.payload_len, 0);
    }
}

#[test]
fn ethernet_plain_vlan_and_qinq() {
    let ip = tcp_v4_ip();
    assert_v4_hello(decode(&frame(LinkType::EN10MB, &ether(0x0800, &[], &ip))).unwrap());
    assert_v4_hello(decode(&frame(LinkType::EN10MB, &ether(0x0800, &[0x8100], &ip))).unwrap());
    assert_v4_hello(
        decode(&frame(
            LinkType::EN10MB,
            &ether(0x0800, &[0x88a8, 0x8100], &ip),
        ))
        .unwrap(),
    );
    let ip6 = tcp_v6_ip();
    let s = decode(&frame(LinkType::EN10MB, &ether(0x86dd, &[0x8100], &ip6))).unwrap();
    assert_eq!(s.dst.port(), 8888);
    assert_eq!(
        decode(&frame(LinkType::EN10MB, &ether(0x0806, &[], &[0; 28]))),
        Err(Skip::NotIp)
    );
}

#[test]
fn linux_sll_from_lo_and_sll2() {
    let ip = tcp_v4_ip();
    // ARPHRD 772 (loopback), packet type 0 (to us), address length 6.
    let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend(&ip);
    assert_v4_hello(decode(&frame(LinkType::LINUX_SLL, &sll)).unwrap());
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6];
    sll2.extend([0u8; 8]);
    sll2.extend(&ip);
    assert_v4_hello(decode(&frame(LinkType::LINUX_SLL2, &sll2)).unwrap());
}

#[test]
fn null_and_loop_every_family_and_byte_order() {
    let ip = tcp_v4_ip();
    let ip6 = tcp_v6_ip();
    for lt in [LinkType::NULL, LinkType::LOOP] {
        for head in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let f = [&head[..], &ip].concat();
            assert_v4_hello(decode(&frame(lt, &f)).unwrap());
        }
        for fam in [10u32, 24, 28, 30] {
            for head in [fam.to_le_bytes(), fam.to_be_bytes()] {
                let f = [&head[..], &ip6].concat();
                assert_eq!(decode(&frame(lt, &f)).unwrap().dst.port(), 8888);
            }
        }
    }
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let mut lo = [0u8; 16];
    lo[15] = 1;
    let mut tcp = Vec::new();
    PacketBuilder::ipv6(lo, lo, 64)
        .tcp(1, 2, 3, 4)
        .fin()
        .write(&mut tcp, b"xy")
        .unwrap();
    // Insert a hop-by-hop header (8 bytes) between the fixed header and TCP.
    let mut ip = tcp[..40].to_vec();
    ip[6] = 0; // next header: hop-by-hop
    let plen = u16::from_be_bytes([ip[4], ip[5]]) + 8;
    ip[4..6].copy_from_slice(&plen.to_be_bytes());
    ip.extend([6, 0, 1, 4, 0, 0, 0, 0]); // next: TCP, len 0, PadN
    ip.extend(&tcp[40..]);
    let s = decode(&frame(LinkType::IPV6, &ip)).unwrap();
    assert!(s.flags.fin());
    assert_eq!(s.payload_len, 2);
}

#[test]
fn snaplen_cut_keeps_payload_length_from_ip_header() {
    let ip = tcp_v4_ip();
    let header_end = ip.len() - PAYLOAD.len();
    let cut = &ip[..header_end + 2];
    let s = decode(&frame(LinkType::RAW, cut)).unwrap();
    assert_eq!(s.payload_len, 5);
    assert_eq!(s.payload.as_bytes(), b"he");
    // Options cut: the fixed header still gives the segment (options dropped).
    let s = decode(&frame(LinkType::RAW, &ip[..header_end - 1])).unwrap();
    assert_eq!(
        (s.seq, s.payload_len, s.options),
        (1000, 5, TcpOptions::default())
    );
    // Cut inside the fixed 20-byte header: truncated.
    assert_eq!(
        decode(&frame(LinkType::RAW, &ip[..20 + 19])),
        Err(Skip::Truncated)
    );
}

#[test]
fn non_tcp_and_fragments_are_skipped() {
    let mut udp = Vec::new();
    PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .udp(1, 2)
        .write(&mut udp, b"x")
        .unwrap();
    assert_eq!(decode(&frame(LinkType::RAW, &udp)), Err(Skip::NotTcp));
    let mut frag = tcp_v4_ip();
    frag[6] = 0x20; // more fragments
    assert_eq!(decode(&frame(LinkType::RAW, &frag)), Err(Skip::Fragment));
    assert_eq!(
        decode(&frame(LinkType(999), &frag)),
        Err(Skip::UnsupportedLink)
    );
}

#[test]
fn ae_flag_is_carried_and_named_without_changing_other_flags() {
    let mut ip = tcp_v4_ip();
    let s = decode(&frame(LinkType::RAW, &ip)).unwrap();
    assert!(!s.flags.has(TcpFlags::AE));
    assert_eq!(s.flags.names().collect::<Vec<_>>(), ["ACK", "PSH"]);
    // The three reserved bits beside AE are not flags.
    ip[20 + 12] |= 0x0e;
    let s = decode(&frame(LinkType::RAW, &ip)).unwrap();
    assert_eq!(s.flags, TcpFlags(TcpFlags::ACK | TcpFlags::PSH));
    ip[20 + 12] |= 0x01;
    let s = decode(&frame(LinkType::RAW, &ip)).unwrap();
    assert_eq!(
        s.flags,
        TcpFlags(TcpFlags::AE | TcpFlags::ACK | TcpFlags::PSH)
    );
    assert_eq!(s.flags.byte13(), 0x18);
    assert_eq!(s.flags.names().collect::<Vec<_>>(), ["AE", "ACK", "PSH"]);
    assert_eq!(s.flags.to_string(), "PSH,ACK,AE");
    assert_v4_hello(Segment {
        flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        ..s
    });
    // Also when the options are cut and the fixed header is copied.
    let s = decode(&frame(LinkType::RAW, &ip[..20 + 21])).unwrap();
    assert!(s.flags.has(TcpFlags::AE));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200),
                                   lt in prop::sample::select(LinkType::SUPPORTED.to_vec())) {
        let _ = decode(&frame(lt, &data));
    }

    #[test]
    fn every_truncation_of_valid_frames_is_err_or_segment(
        lt in prop::sample::select(vec![LinkType::RAW, LinkType::EN10MB, LinkType::NULL]),
        v6 in any::<bool>(),
        flip in any::<(usize, u8)>(),
    ) {
        let ip = if v6 { tcp_v6_ip() } else { tcp_v4_ip() };
        let mut full = match lt {
            LinkType::EN10MB => ether(if v6 { 0x86dd } else { 0x0800 }, &[0x8100], &ip),
            LinkType::NULL => [&2u32.to_le_bytes()[..], &ip].concat(),
            _ => ip,
        };
        for cut in 0..full.len() {
            let _ = decode(&frame(lt, &full[..cut]));
        }
        let i = flip.0 % full.len();
        full[i] ^= flip.1;
        let _ = decode(&frame(lt, &full));
    }
}

// ---- Encapsulations: MPLS, PPPoE, NFLOG, IPoIB, and tunnels (the inner packet counts). ----

/// An IPv4 packet of protocol `proto` carrying `payload`, from 192.0.2.1 to 192.0.2.2.
fn outer_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// An IPv6 packet of next header `proto` carrying `payload`, from 2001:db8::1 to 2001:db8::2.
fn outer_v6(proto: u8, payload: &[u8]) -> Vec<u8> {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = 1;
    b[15] = 2;
    let mut v = Vec::new();
    PacketBuilder::ipv6(a, b, 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// A UDP datagram to `dst_port` over outer IPv4.
fn outer_udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(49152, dst_port)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// The IP packet's ether type, by its version nibble.
fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

fn mpls(labels: usize, ip: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..labels {
        let label = 100 + i as u32;
        let bottom = u32::from(i + 1 == labels);
        v.extend(((label << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    v.extend(ip);
    v
}

fn pppoe(ip: &[u8]) -> Vec<u8> {
    let proto: u16 = if ip[0] >> 4 == 6 { 0x0057 } else { 0x0021 };
    let mut v = vec![0x11, 0x00, 0x00, 0x2a];
    v.extend((ip.len() as u16 + 2).to_be_bytes());
    v.extend(proto.to_be_bytes());
    v.extend(ip);
    v
}

fn nflog(ip: &[u8], word: fn(u16) -> [u8; 2]) -> Vec<u8> {
    let family = if ip[0] >> 4 == 6 { 10 } else { 2 };
    let mut v = vec![family, 0, 0, 1];
    let tlvs: [(u16, &[u8]); 4] = [
        (1, &[0x08, 0x00, 3, 0]),
        (4, &[0, 0, 0, 2]),
        (10, b"x"),
        (9, ip),
    ];
    for (kind, value) in tlvs {
        v.extend(word(4 + value.len() as u16));
        v.extend(word(kind));
        v.extend(value);
        v.resize((v.len() + 3) & !3, 0);
    }
    v
}

fn gre(flags: u8, proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, 0];
    v.extend(proto.to_be_bytes());
    for _ in 0..(flags & 0xb0).count_ones() {
        v.extend([0xde, 0xad, 0xbe, 0xef]);
    }
    v.extend(inner);
    v
}

fn vxlan(inner_ether: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0];
    v.extend(inner_ether);
    v
}

fn geneve(option_words: u8, proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![option_words, 0];
    v.extend(proto.to_be_bytes());
    v.extend([0, 0x12, 0x34, 0]);
    v.extend(vec![0x5a; 4 * usize::from(option_words)]);
    v.extend(inner);
    v
}

#[track_caller]
fn assert_v6_syn(seg: Segment) {
    assert_eq!(seg.src, "[::1]:40000".parse().unwrap());
    assert_eq!(seg.dst, "[::1]:8888".parse().unwrap());
    assert_eq!(seg.seq, 7);
    assert_eq!(seg.flags, TcpFlags(TcpFlags::SYN));
}

#[test]
fn mpls_label_stacks_reach_tcp() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    for labels in [1, 2, 5] {
        for ethertype in [0x8847, 0x8848] {
            let f = ether(ethertype, &[], &mpls(labels, &ip));
            assert_v4_hello(decode(&frame(LinkType::EN10MB, &f)).unwrap());
            let f = ether(ethertype, &[0x8100], &mpls(labels, &ip6));
            assert_v6_syn(decode(&frame(LinkType::EN10MB, &f)).unwrap());
        }
    }
    // Over Linux SLL too (the ether type is the link's protocol field).
    let mut sll = vec![0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x47];
    sll.extend(mpls(2, &ip));
    assert_v4_hello(decode(&frame(LinkType::LINUX_SLL, &sll)).unwrap());
    // The stack never ends: cut.
    let f = ether(0x8847, &[], &[0, 0, 0, 64, 0, 0, 0, 64]);
    assert_eq!(decode(&frame(LinkType::EN10MB, &f)), Err(Skip::Truncated));
}

#[test]
fn pppoe_sessions_plain_and_in_stacked_tags() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    for tags in [
        &[][..],
        &[0x8100],
        &[0x88a8, 0x8100],
        &[0x88a8, 0x8100, 0x8100],
    ] {
        let f = ether(0x8864, tags, &pppoe(&ip));
        assert_v4_hello(decode(&frame(LinkType::EN10MB, &f)).unwrap());
        let f = ether(0x8864, tags, &pppoe(&ip6));
        assert_v6_syn(decode(&frame(LinkType::EN10MB, &f)).unwrap());
    }
    // PPP's LCP is not IP; PPPoE discovery (0x8863) is not IP.
    let mut lcp = pppoe(&ip);
    lcp[6..8].copy_from_slice(&[0xc0, 0x21]);
    assert_eq!(
        decode(&frame(LinkType::EN10MB, &ether(0x8864, &[], &lcp))),
        Err(Skip::NotIp)
    );
    assert_eq!(
        decode(&frame(LinkType::EN10MB, &ether(0x8863, &[], &pppoe(&ip)))),
        Err(Skip::NotIp)
    );
}

#[test]
fn nflog_payload_tlv_in_either_byte_order() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    for word in [u16::to_le_bytes as fn(u16) -> [u8; 2], u16::to_be_bytes] {
        assert_v4_hello(decode(&frame(LinkType::NFLOG, &nflog(&ip, word))).unwrap());
        assert_v6_syn(decode(&frame(LinkType::NFLOG, &nflog(&ip6, word))).unwrap());
        // Snaplen cut inside the payload: the length still comes from the IP header. The
        // 65-byte packet has 3 bytes of TLV padding after it.
        let f = nflog(&ip, word);
        let s = decode(&frame(LinkType::NFLOG, &f[..f.len() - 7])).unwrap();
        assert_eq!((s.payload_len, s.payload.as_bytes()), (5, &b"h"[..]));
    }
}

#[test]
fn ip_over_infiniband() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    let f = [&[0x08, 0x00, 0, 0][..], &ip].concat();
    assert_v4_hello(decode(&frame(LinkType::IPOIB, &f)).unwrap());
    let f = [&[0x86, 0xdd, 0, 0][..], &ip6].concat();
    assert_v6_syn(decode(&frame(LinkType::IPOIB, &f)).unwrap());
    let f = [&[0x08, 0x06, 0, 0][..], &[0; 28]].concat();
    assert_eq!(decode(&frame(LinkType::IPOIB, &f)), Err(Skip::NotIp));
}

#[test]
fn gre_carries_ip_and_ethernet_with_every_optional_field() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    for flags in [0x00, 0x80, 0x20, 0x10, 0xb0] {
        let f = ether(0x0800, &[], &outer_v4(47, &gre(flags, 0x0800, &ip)));
        assert_v4_hello(decode(&frame(LinkType::EN10MB, &f)).unwrap());
        let f = outer_v6(47, &gre(flags, 0x86dd, &ip6));
        assert_v6_syn(decode(&frame(LinkType::RAW, &f)).unwrap());
        // Transparent Ethernet bridging: inner Ethernet, with a VLAN tag.
        let inner = ether(0x0800, &[0x8100], &ip);
        let f = outer_v4(47, &gre(flags, 0x6558, &inner));
        assert_v4_hello(decode(&frame(LinkType::RAW, &f)).unwrap());
    }
    // MPLS over GRE.
    let f = outer_v4(47, &gre(0, 0x8847, &mpls(2, &ip)));
    assert_v4_hello(decode(&frame(LinkType::RAW, &f)).unwrap());
    // UDP inside GRE is not TCP.
    let f = outer_v4(47, &gre(0, 0x0800, &outer_udp(53, b"q")));
    assert_eq!(decode(&frame(LinkType::RAW, &f)), Err(Skip::NotTcp));
}

#[test]
fn vxlan_and_geneve_carry_the_inner_connection() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    let f = ether(
        0x0800,
        &[],
        &outer_udp(4789, &vxlan(&ether(0x0800, &[], &ip))),
    );
    assert_v4_hello(decode(&frame(LinkType::EN10MB, &f)).unwrap());
    let f = outer_udp(4789, &vxlan(&ether(0x86dd, &[0x8100], &ip6)));
    assert_v6_syn(decode(&frame(LinkType::RAW, &f)).unwrap());
    for words in [0, 2, 63] {
        let f = outer_udp(6081, &geneve(words, 0x6558, &ether(0x0800, &[], &ip)));
        assert_v4_hello(decode(&frame(LinkType::RAW, &f)).unwrap());
        let f = outer_udp(6081, &geneve(words, 0x86dd, &ip6));
        assert_v6_syn(decode(&frame(LinkType::RAW, &f)).unwrap());
    }
    // Any other UDP port is plain UDP.
    let f = outer_udp(4790, &vxlan(&ether(0x0800, &[], &ip)));
    assert_eq!(decode(&frame(LinkType::RAW, &f)), Err(Skip::NotTcp));
    // A VXLAN frame cut inside its inner Ethernet header.
    let f = outer_udp(4789, &vxlan(&ether(0x0800, &[], &ip)));
    assert_eq!(
        decode(&frame(LinkType::RAW, &f[..20 + 8 + 8 + 10])),
        Err(Skip::Truncated)
    );
}

#[test]
fn ip_in_ip_both_ways() {
    let (ip, ip6) = (tcp_v4_ip(), tcp_v6_ip());
    assert_v4_hello(decode(&frame(LinkType::RAW, &outer_v4(4, &ip))).unwrap());
    assert_v4_hello(decode(&frame(LinkType::RAW, &outer_v6(4, &ip))).unwrap());
    assert_v6_syn(decode(&frame(LinkType::RAW, &outer_v4(41, &ip6))).unwrap());
    assert_v6_syn(decode(&frame(LinkType::RAW, &outer_v6(41, &ip6))).unwrap());
    // An outer fragment is a fragment, whatever it carries.
    let mut f = outer_v4(4, &ip);
    f[6] = 0x20;
    assert_eq!(decode(&frame(LinkType::RAW, &f)), Err(Skip::Fragment));
    // The inner packet cut by snaplen: its own header gives the payload length.
    let f = outer_v4(4, &ip);
    let s = decode(&frame(LinkType::RAW, &f[..f.len() - 3])).unwrap();
    assert_eq!((s.payload_len, s.payload.as_bytes()), (5, &b"he"[..]));
}

#[test]
fn tunnel_nesting_is_bounded() {
    let mut f = tcp_v4_ip();
    for depth in 1..=MAX_TUNNELS + 2 {
        f = match depth % 4 {
            0 => outer_v4(4, &f),
            1 => outer_v4(47, &gre(0x20, 0x0800, &f)),
            2 => outer_udp(4789, &vxlan(&ether(0x0800, &[], &f))),
            _ => outer_udp(6081, &geneve(1, 0x0800, &f)),
        };
        let got = decode(&frame(LinkType::RAW, &f));
        if depth <= MAX_TUNNELS {
            assert_v4_hello(got.unwrap());
        } else {
            assert_eq!(got, Err(Skip::NotTcp), "depth {depth}");
        }
    }
}

/// A valid frame of every encapsulation: (link type, bytes).
fn encapsulated_frames(v6: bool) -> Vec<(LinkType, Vec<u8>)> {
    let ip = if v6 { tcp_v6_ip() } else { tcp_v4_ip() };
    let et = ethertype_of(&ip);
    vec![
        (LinkType::EN10MB, ether(0x8847, &[0x8100], &mpls(3, &ip))),
        (
            LinkType::EN10MB,
            ether(0x8864, &[0x88a8, 0x8100], &pppoe(&ip)),
        ),
        (LinkType::NFLOG, nflog(&ip, u16::to_le_bytes)),
        (LinkType::NFLOG, nflog(&ip, u16::to_be_bytes)),
        (
            LinkType::IPOIB,
            [&et.to_be_bytes()[..], &[0, 0], &ip].concat(),
        ),
        (LinkType::RAW, outer_v4(47, &gre(0xb0, et, &ip))),
        (
            LinkType::RAW,
            outer_v6(47, &gre(0x20, 0x6558, &ether(et, &[], &ip))),
        ),
        (
            LinkType::EN10MB,
            ether(0x0800, &[], &outer_udp(4789, &vxlan(&ether(et, &[], &ip)))),
        ),
        (LinkType::RAW, outer_udp(6081, &geneve(2, et, &ip))),
        (LinkType::RAW, outer_v6(if v6 { 41 } else { 4 }, &ip)),
    ]
}

#[test]
fn every_encapsulated_frame_decodes() {
    for v6 in [false, true] {
        for (i, (lt, f)) in encapsulated_frames(v6).into_iter().enumerate() {
            let s = decode(&frame(lt, &f)).unwrap_or_else(|e| panic!("frame {i} (v6 {v6}): {e:?}"));
            assert_eq!(s.dst.port(), 8888, "frame {i}");
        }
    }
}

/// Outer headers that hand what follows to each encapsulation's parser.
fn encapsulation_prefixes() -> Vec<(LinkType, Vec<u8>)> {
    let udp_head = |port: u16| {
        let mut v = vec![0xc0, 0x00];
        v.extend(port.to_be_bytes());
        v.extend([0, 0, 0, 0]);
        v
    };
    // An IPv4 header (20 bytes) claiming 1500 bytes, of protocol `p`.
    let ip_head = |p: u8| {
        let mut v = outer_v4(p, &[]);
        v[2..4].copy_from_slice(&1500u16.to_be_bytes());
        v
    };
    vec![
        (LinkType::EN10MB, ether(0x8847, &[], &[])),
        (LinkType::EN10MB, ether(0x8864, &[0x8100], &[])),
        (LinkType::EN10MB, ether(0x6558, &[], &[])),
        (LinkType::NFLOG, vec![2, 0, 0, 0]),
        (LinkType::IPOIB, vec![0x88, 0x47, 0, 0]),
        (LinkType::RAW, ip_head(47)),
        (LinkType::RAW, ip_head(4)),
        (LinkType::RAW, ip_head(41)),
        (LinkType::RAW, [ip_head(17), udp_head(4789)].concat()),
        (LinkType::RAW, [ip_head(17), udp_head(6081)].concat()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_behind_every_encapsulation_never_panic(
        which in 0usize..10,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let (lt, mut f) = encapsulation_prefixes().swap_remove(which);
        f.extend(tail);
        let _ = decode(&frame(lt, &f));
    }

    #[test]
    fn every_truncation_and_flip_of_encapsulated_frames_never_panics(
        which in 0usize..10,
        v6 in any::<bool>(),
        flip in any::<(usize, u8)>(),
    ) {
        let (lt, mut f) = encapsulated_frames(v6).swap_remove(which);
        for cut in 0..f.len() {
            let _ = decode(&frame(lt, &f[..cut]));
        }
        let i = flip.0 % f.len();
        f[i] ^= flip.1;
        let _ = decode(&frame(lt, &f));
    }

    #[test]
    fn random_tunnel_nesting_never_panics(kinds in proptest::collection::vec(0u8..6, 0..12)) {
        let mut f = tcp_v4_ip();
        for k in &kinds {
            f = match k {
                0 => outer_v4(4, &f),
                1 => outer_v4(47, &gre(0x80, 0x0800, &f)),
                2 => outer_udp(4789, &vxlan(&ether(0x0800, &[], &f))),
                3 => outer_udp(6081, &geneve(0, 0x0800, &f)),
                4 => outer_v4(47, &gre(0, 0x8847, &mpls(1, &f))),
                _ => outer_v4(47, &gre(0, 0x6558, &ether(0x8864, &[0x8100], &pppoe(&f)))),
            };
        }
        let got = decode(&frame(LinkType::RAW, &f));
        prop_assert_eq!(got.is_ok(), kinds.len() <= MAX_TUNNELS);
    }
}
