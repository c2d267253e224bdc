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
