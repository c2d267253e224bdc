//! Every encapsulation through the public pipeline: a small capture per encapsulation,
//! generated in a temp dir with synfin's own pcap writer (frames built with etherparse and
//! hand-built outer headers), replayed as JSONL. The connection is the inner 4-tuple, and the
//! full handshake and close give every state change.

use etherparse::{IpNumber, PacketBuilder};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use synfin::capture::pcap_writer::PcapWriter;
use synfin::frame::{Frame, LinkType};
use synfin::timestamp::Timestamp;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One inner TCP/IP packet: `flags`, seq, ack, payload; `ae` sets AccECN's AE bit.
fn tcp(src: SocketAddr, dst: SocketAddr, flags: u8, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    let b = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => unreachable!("one family"),
    };
    let mut b = b.tcp(src.port(), dst.port(), seq, 64000);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    let mut v = Vec::new();
    b.write(&mut v, data).unwrap();
    v
}

/// A whole connection, client `c` to server `s`: handshake, 5 bytes each way, client-first
/// close.
fn connection(c: SocketAddr, s: SocketAddr) -> Vec<Vec<u8>> {
    let (ic, is) = (1000u32, 5000u32);
    vec![
        tcp(c, s, SYN, ic, 0, b""),
        tcp(s, c, SYN | ACK, is, ic + 1, b""),
        tcp(c, s, ACK, ic + 1, is + 1, b""),
        tcp(c, s, PSH | ACK, ic + 1, is + 1, b"hello"),
        tcp(s, c, PSH | ACK, is + 1, ic + 6, b"world"),
        tcp(c, s, ACK, ic + 6, is + 6, b""),
        tcp(c, s, FIN | ACK, ic + 6, is + 6, b""),
        tcp(s, c, FIN | ACK, is + 6, ic + 7, b""),
        tcp(c, s, ACK, ic + 7, is + 7, b""),
    ]
}

/// Ethernet II with VLAN tags (`tags` are their TPIDs).
fn ether(ethertype: u16, tags: &[u16], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for tpid in tags {
        v.extend(tpid.to_be_bytes());
        v.extend([0x00, 0x64]);
    }
    v.extend(ethertype.to_be_bytes());
    v.extend(payload);
    v
}

fn ethertype_of(ip: &[u8]) -> u16 {
    if ip[0] >> 4 == 6 {
        0x86dd
    } else {
        0x0800
    }
}

/// An outer IPv4 packet (198.51.100.1 → 198.51.100.2) of protocol `proto`.
fn outer_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

/// An outer UDP datagram to `port` over outer IPv4.
fn outer_udp(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 1], [198, 51, 100, 2], 64)
        .udp(51000, port)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn mpls(ip: &[u8]) -> Vec<u8> {
    // Two labels (16 and 17), the second at the bottom of the stack.
    let mut v = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40];
    v.extend(ip);
    v
}

fn pppoe(ip: &[u8]) -> Vec<u8> {
    let proto: u16 = if ip[0] >> 4 == 6 { 0x0057 } else { 0x0021 };
    let mut v = vec![0x11, 0x00, 0x00, 0x07];
    v.extend((ip.len() as u16 + 2).to_be_bytes());
    v.extend(proto.to_be_bytes());
    v.extend(ip);
    v
}

fn nflog(ip: &[u8]) -> Vec<u8> {
    let family = if ip[0] >> 4 == 6 { 10 } else { 2 };
    let mut v = vec![family, 0, 0, 1];
    // Packet header (hw protocol, hook, pad), a prefix of odd length, then the payload.
    for (kind, value) in [(1u16, &[0x08, 0x00, 1, 0][..]), (10, b"abc"), (9, ip)] {
        v.extend((4 + value.len() as u16).to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(value);
        v.resize((v.len() + 3) & !3, 0);
    }
    v
}

fn gre(proto: u16, inner: &[u8]) -> Vec<u8> {
    // Checksum and key present.
    let mut v = vec![0xa0, 0x00];
    v.extend(proto.to_be_bytes());
    v.extend([0, 0, 0, 0, 0, 0, 0x30, 0x39]);
    v.extend(inner);
    v
}

fn vxlan(inner_ether: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0x01, 0x00, 0];
    v.extend(inner_ether);
    v
}

fn geneve(inner_ether: &[u8]) -> Vec<u8> {
    // One 8-byte option (2 words), inner Ethernet.
    let mut v = vec![0x02, 0x00, 0x65, 0x58, 0, 0x01, 0x00, 0];
    v.extend([0x01, 0x02, 0x03, 0x01, 0xaa, 0xbb, 0xcc, 0xdd]);
    v.extend(inner_ether);
    v
}

/// Write the connection's packets, each wrapped by `wrap`, as a pcap of `link`; replay it as
/// JSONL; return the lines.
fn replay(link: LinkType, packets: &[Vec<u8>], wrap: &dyn Fn(&[u8]) -> Vec<u8>) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encap.pcap");
    let mut w = PcapWriter::create(&path, link).unwrap();
    for (i, ip) in packets.iter().enumerate() {
        let data = wrap(ip);
        w.write(&Frame {
            number: i as u64 + 1,
            ts: Timestamp(1_700_000_000_000_000_000 + 1_000_000 * i as i64),
            link,
            orig_len: data.len() as u32,
            data: &data,
        })
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = Command::new(env!("CARGO_BIN_EXE_synfin"))
        .args(["replay", path.to_str().unwrap(), "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The lines say: link type `name`; every segment is the inner connection, one connection,
/// every frame decoded; and every state change of a full handshake and client-first close.
#[track_caller]
fn assert_inner_connection(lines: &[Value], name: &str, c: SocketAddr, s: SocketAddr) {
    let (c, s) = (c.to_string(), s.to_string());
    let of_type = |t: &'static str| lines.iter().filter(move |l| l["type"] == t);
    assert_eq!(lines[0]["linktype"], name);
    let segs: Vec<_> = of_type("segment").collect();
    assert_eq!(segs.len(), 9);
    for seg in &segs {
        let pair = (seg["src"].as_str().unwrap(), seg["dst"].as_str().unwrap());
        assert!(pair == (&c, &s) || pair == (&s, &c), "segment {seg}");
    }
    let lens: Vec<_> = segs.iter().map(|s| s["len"].as_u64().unwrap()).collect();
    assert_eq!(lens, [0, 0, 0, 5, 5, 0, 0, 0, 0]);
    let conns: Vec<_> = of_type("connection").collect();
    assert_eq!(conns.len(), 1);
    assert_eq!(
        (conns[0]["client"].as_str(), conns[0]["server"].as_str()),
        (Some(&*c), Some(&*s))
    );
    assert_eq!(conns[0]["outcome"], "closed");
    let states: Vec<(String, String, String)> = of_type("state")
        .map(|l| {
            let who = if l["endpoint"] == c.as_str() {
                "c"
            } else {
                "s"
            };
            (
                who.into(),
                l["from"].as_str().unwrap().into(),
                l["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("c", "CLOSED", "SYN_SENT"),
        ("s", "LISTEN", "SYN_RECEIVED"),
        ("c", "SYN_SENT", "ESTABLISHED"),
        ("s", "SYN_RECEIVED", "ESTABLISHED"),
        ("c", "ESTABLISHED", "FIN_WAIT_1"),
        ("s", "ESTABLISHED", "CLOSE_WAIT"),
        ("s", "CLOSE_WAIT", "LAST_ACK"),
        ("c", "FIN_WAIT_1", "FIN_WAIT_2"),
        ("c", "FIN_WAIT_2", "TIME_WAIT"),
        ("s", "LAST_ACK", "CLOSED"),
        ("c", "TIME_WAIT", "CLOSED"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(states, want);
    let summary = of_type("summary").next().unwrap();
    assert_eq!(
        (
            &summary["frames"],
            &summary["tcp_segments"],
            &summary["skipped_frames"]
        ),
        (&Value::from(9), &Value::from(9), &Value::from(0))
    );
}

fn v4() -> (SocketAddr, SocketAddr) {
    (
        "10.1.2.3:40001".parse().unwrap(),
        "10.9.8.7:443".parse().unwrap(),
    )
}

fn v6() -> (SocketAddr, SocketAddr) {
    (
        "[fd00::3]:40002".parse().unwrap(),
        "[fd00::7]:8443".parse().unwrap(),
    )
}

/// One test per encapsulation: (link type, inner family, wrapper).
macro_rules! encapsulation_tests {
    ($($name:ident: $link:expr, $family:ident, $wrap:expr;)*) => {$(
        #[test]
        fn $name() {
            let (c, s) = $family();
            let lines = replay($link, &connection(c, s), &$wrap);
            assert_inner_connection(&lines, &$link.name(), c, s);
        }
    )*};
}

encapsulation_tests! {
    mpls_over_ethernet: LinkType::EN10MB, v4, |ip: &[u8]| ether(0x8847, &[], &mpls(ip));
    mpls_ipv6_in_a_vlan: LinkType::EN10MB, v6, |ip: &[u8]| ether(0x8847, &[0x8100], &mpls(ip));
    pppoe_session: LinkType::EN10MB, v4, |ip: &[u8]| ether(0x8864, &[], &pppoe(ip));
    pppoe_ipv6_in_qinq: LinkType::EN10MB, v6, |ip: &[u8]| ether(0x8864, &[0x88a8, 0x8100], &pppoe(ip));
    nflog_ipv4: LinkType::NFLOG, v4, |ip: &[u8]| nflog(ip);
    nflog_ipv6: LinkType::NFLOG, v6, |ip: &[u8]| nflog(ip);
    ip_over_infiniband: LinkType::IPOIB, v6,
        |ip: &[u8]| [&ethertype_of(ip).to_be_bytes()[..], &[0, 0], ip].concat();
    gre_ip: LinkType::EN10MB, v4, |ip: &[u8]| ether(0x0800, &[], &outer_v4(47, &gre(0x0800, ip)));
    gre_transparent_ethernet: LinkType::RAW, v6,
        |ip: &[u8]| outer_v4(47, &gre(0x6558, &ether(0x86dd, &[0x8100], ip)));
    vxlan_over_ethernet: LinkType::EN10MB, v4,
        |ip: &[u8]| ether(0x0800, &[], &outer_udp(4789, &vxlan(&ether(0x0800, &[], ip))));
    geneve_with_an_option: LinkType::RAW, v4, |ip: &[u8]| outer_udp(6081, &geneve(&ether(0x0800, &[], ip)));
    ipv4_in_ipv4: LinkType::RAW, v4, |ip: &[u8]| outer_v4(4, ip);
    ipv6_in_ipv4: LinkType::RAW, v6, |ip: &[u8]| outer_v4(41, ip);
    vxlan_in_gre: LinkType::RAW, v4,
        |ip: &[u8]| outer_v4(47, &gre(0x0800, &outer_udp(4789, &vxlan(&ether(0x0800, &[], ip)))));
}

/// An AccECN handshake: the SYN sets AE, CWR and ECE; the schema's list says so, first.
#[test]
fn accecn_syn_lists_ae() {
    let (c, s) = v4();
    let mut packets = connection(c, s);
    packets[0][20 + 12] |= 0x01; // AE
    packets[0][20 + 13] |= 0xc0; // CWR, ECE
    let lines = replay(LinkType::RAW, &packets, &|ip: &[u8]| ip.to_vec());
    let flags: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "segment")
        .map(|l| &l["flags"])
        .collect();
    assert_eq!(flags[0], &serde_json::json!(["AE", "CWR", "ECE", "SYN"]));
    assert_eq!(flags[1], &serde_json::json!(["ACK", "SYN"]));
    assert_inner_connection(&lines, "RAW", c, s);
}
