//! The BPF program against the AST: frames built with etherparse, run in the interpreter of
//! `bpf_interp` (and checked by the kernel's own verifier), must get the AST's verdict.

use super::ast::FilterExpr;
use super::bpf::{compile, dump, BpfError, Insn, ACCEPT_LEN, MAX_INSNS};
use super::bpf_asm::Asm;
use super::bpf_interp::{run, Packet};
use super::eval::FilterInput;
use super::{parse_with, strategies, NoResolver};
use etherparse::{
    IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Header, PacketBuilder, SingleVlanHeader,
    TcpHeader, VlanHeader, VlanId, VlanPcp,
};
use proptest::prelude::*;
use std::net::IpAddr;

/// Where a frame's VLAN tag travels, and how it is shaped around the TCP header.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// The tag is in the frame (else the kernel stripped it: ancillary data).
    tag_in_frame: bool,
    /// 802.1p priority bits of the tag (must not disturb the id).
    pcp: u8,
    /// IPv4 option words (IHL - 5).
    v4_options: u8,
    /// IPv4 fragment offset (8-byte units); non-zero: not the first fragment.
    frag_offset: u16,
}

fn tcp_header(i: &FilterInput) -> TcpHeader {
    let mut t = TcpHeader::new(i.src.port(), i.dst.port(), 1000, 512);
    let f = i.flags;
    (t.fin, t.syn, t.rst, t.psh) = (f & 1 != 0, f & 2 != 0, f & 4 != 0, f & 8 != 0);
    (t.ack, t.urg, t.ece, t.cwr) = (f & 16 != 0, f & 32 != 0, f & 64 != 0, f & 128 != 0);
    t
}

/// The Ethernet frame of segment `i` shaped by `s`.
fn frame(i: &FilterInput, s: Shape) -> Packet {
    let eth = PacketBuilder::ethernet2([0; 6], [0; 6]);
    let ip = match (i.src.ip(), i.dst.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, a.octets(), b.octets()).unwrap();
            h.options = vec![1; 4 * usize::from(s.v4_options)][..]
                .try_into()
                .unwrap(); // NOPs
            IpHeaders::Ipv4(h, Ipv4Extensions::default())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => IpHeaders::Ipv6(
            Ipv6Header {
                hop_limit: 64,
                source: a.octets(),
                destination: b.octets(),
                ..Default::default()
            },
            Default::default(),
        ),
        _ => panic!("mixed families"),
    };
    let tag = |id: u16| {
        VlanHeader::Single(SingleVlanHeader {
            pcp: VlanPcp::try_new(s.pcp & 7).unwrap(),
            drop_eligible_indicator: s.pcp & 8 != 0,
            vlan_id: VlanId::try_new(id).unwrap(),
            ether_type: etherparse::EtherType(0),
        })
    };
    let mut data = Vec::new();
    let payload = [0xab; 5];
    let vlan_tci = match i.vlan {
        Some(id) if s.tag_in_frame => {
            let b = eth.vlan(tag(id)).ip(ip).tcp_header(tcp_header(i));
            b.write(&mut data, &payload).unwrap();
            None
        }
        other => {
            let b = eth.ip(ip).tcp_header(tcp_header(i));
            b.write(&mut data, &payload).unwrap();
            other.map(|id| (u16::from(s.pcp) << 12) | id)
        }
    };
    if s.frag_offset != 0 && i.src.is_ipv4() {
        let l3 = if vlan_tci.is_none() && i.vlan.is_some() {
            18
        } else {
            14
        };
        data[l3 + 6..l3 + 8].copy_from_slice(&(0x2000 | (s.frag_offset & 0x1fff)).to_be_bytes());
    }
    Packet { data, vlan_tci }
}

fn prog(text: &str) -> Vec<Insn> {
    compile(&parse_with(text, &NoResolver).unwrap()).unwrap()
}

fn seg(src: &str, dst: &str, flags: u8, vlan: Option<u16>) -> FilterInput {
    FilterInput {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        flags,
        vlan,
    }
}

#[test]
fn known_verdicts() {
    let syn = seg("10.0.0.1:40000", "10.0.1.2:80", 0x02, None);
    let ack6 = seg("[2001:db8::2]:443", "[2001:db8::1]:50000", 0x10, Some(7));
    let cases = [
        ("port 80", true, false),
        ("dst port 80", true, false),
        ("src port 80", false, false),
        ("portrange 400-500", false, true),
        ("host 10.0.1.2", true, false),
        ("src host 2001:db8::2", false, true),
        ("net 10.0.0.0 mask 255.0.255.0", true, false),
        ("dst net 2001:db8::/64", false, true),
        ("ip6", false, true),
        ("vlan 7", false, true),
        ("vlan", false, true),
        ("tcp[tcpflags] & tcp-syn != 0", true, false),
        ("tcp[tcpflags] == tcp-ack", false, true),
        ("not tcp", false, false),
    ];
    for tag_in_frame in [false, true] {
        let s = Shape {
            tag_in_frame,
            pcp: 5,
            ..Shape::default()
        };
        for (text, on_syn, on_ack6) in cases {
            let p = prog(text);
            let verdict = |i: &FilterInput| run(&p, &frame(i, s));
            assert_eq!(
                verdict(&syn),
                if on_syn { ACCEPT_LEN } else { 0 },
                "{text} on the SYN"
            );
            assert_eq!(
                verdict(&ack6) != 0,
                on_ack6,
                "{text} on the ACK (tag in frame: {tag_in_frame})"
            );
        }
    }
}

#[test]
fn not_tcp_is_rejected_whatever_the_filter() {
    let udp4 = {
        let mut d = Vec::new();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([10, 0, 0, 1], [10, 0, 0, 2], 9);
        b.udp(80, 80).write(&mut d, &[1, 2]).unwrap();
        d
    };
    let udp6 = {
        let mut d = Vec::new();
        let b = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv6([1; 16], [2; 16], 9);
        b.udp(80, 80).write(&mut d, &[1, 2]).unwrap();
        d
    };
    // IPv6 with a hop-by-hop header before TCP: not covered, so rejected.
    let mut hop = frame(&seg("[::1]:80", "[::2]:80", 2, None), Shape::default()).data;
    hop[14 + 6] = 0;
    let arp = [vec![0; 12], vec![0x08, 0x06], vec![0; 28]].concat();
    for text in ["tcp", "not tcp", "not port 22", "port 80", "ip or ip6"] {
        let p = prog(text);
        for data in [&udp4, &udp6, &hop, &arp] {
            assert_eq!(
                run(
                    &p,
                    &Packet {
                        data: data.clone(),
                        vlan_tci: None
                    }
                ),
                0,
                "{text}"
            );
        }
    }
    // The same frame with TCP is accepted (the test above can fail).
    hop[14 + 6] = 6;
    assert_ne!(
        run(
            &prog("port 80"),
            &Packet {
                data: hop,
                vlan_tci: None
            }
        ),
        0
    );
}

#[test]
fn later_ipv4_fragments_pass_on_addresses_only() {
    let i = seg("10.0.0.1:40000", "10.0.1.2:80", 0x02, None);
    for frag_offset in [1, 185, 0x1000] {
        let s = Shape {
            frag_offset,
            ..Shape::default()
        };
        let verdict = |text: &str| run(&prog(text), &frame(&i, s)) != 0;
        assert!(!verdict("port 80"), "{frag_offset}");
        assert!(verdict("not port 80"), "{frag_offset}");
        assert!(!verdict("tcp[tcpflags] & tcp-syn != 0"), "{frag_offset}");
        assert!(verdict("host 10.0.0.1 and tcp"), "{frag_offset}");
    }
    // The first fragment (offset 0, more fragments set) still shows its ports.
    let mut first = frame(&i, Shape::default());
    first.data[14 + 6] = 0x20;
    assert_ne!(run(&prog("port 80"), &first), 0);
}

#[test]
fn far_jumps_go_through_trampolines() {
    // 300 instructions between a jump and its target: one `ja` must carry it.
    let mut a = Asm::default();
    let (far, near) = (a.label(), a.label());
    a.op(0x00, 7); // A = 7
    a.jump(0x15, 7, far, near); // jeq #7
    a.mark(near);
    a.op(0x06, 1); // ret #1
    for _ in 0..300 {
        a.op(0x06, 2);
    }
    a.mark(far);
    a.op(0x06, 3);
    let p = a.finish();
    assert_eq!(p.len(), 305);
    assert_eq!((p[1].jt, p[1].jf), (0, 1));
    assert_eq!(p[2], Insn::new(0x05, 0, 0, 301));
    assert_eq!(
        run(
            &p,
            &Packet {
                data: vec![],
                vlan_tci: None
            }
        ),
        3
    );

    // A filter long enough to need them, checked at both ends.
    let hosts: Vec<String> = (0..100)
        .map(|n| format!("host 10.1.{}.{}", n / 250, n % 250))
        .collect();
    let text = format!("({}) and port 80", hosts.join(" or "));
    let p = prog(&text);
    assert!(p.len() > 300, "{}", p.len());
    for (addr, want) in [
        ("10.1.0.0", true),
        ("10.1.0.99", true),
        ("10.1.0.100", false),
    ] {
        let i = seg(&format!("{addr}:80"), "10.9.9.9:1", 0, None);
        assert_eq!(run(&p, &frame(&i, Shape::default())) != 0, want, "{addr}");
    }
}

#[test]
fn too_long_is_an_error() {
    let hosts: Vec<String> = (0..2000)
        .map(|n| format!("host 10.2.{}.{}", n / 250, n % 250))
        .collect();
    let e = parse_with(&hosts.join(" or "), &NoResolver).unwrap();
    assert!(matches!(compile(&e), Err(BpfError::TooLong(n)) if n > MAX_INSNS));
}

#[test]
fn dump_looks_like_tcpdump_dd() {
    let d = dump(&prog("tcp"));
    assert!(d.starts_with("{ 0x28, 0, 0, 0x0000000c },\n"), "{d}");
}

/// SO_ATTACH_FILTER runs the kernel's classic BPF checker (any socket will do, no privilege
/// needed): jumps in range, scratch memory written before read, known ancillary fields.
fn kernel_accepts(p: &[Insn]) -> bool {
    let filters: Vec<libc::sock_filter> = p.iter().map(|&i| i.into()).collect();
    let fprog = libc::sock_fprog {
        len: filters.len() as u16,
        filter: filters.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: a fresh socket, closed below; fprog points at `filters`, alive for the call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        );
        libc::close(fd);
        rc == 0
    }
}

#[test]
fn the_kernel_accepts_the_programs() {
    let hosts: Vec<String> = (0..100).map(|n| format!("host 10.1.0.{n}")).collect();
    let long = format!("({}) and port 80", hosts.join(" or "));
    for text in [
        "tcp",
        "not tcp",
        "src host 10.0.0.1 and dst portrange 1-1023",
        "net 2001:db8::/33 or vlan 3 or vlan",
        "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and not ip6",
        long.as_str(),
    ] {
        assert!(kernel_accepts(&prog(text)), "{text}");
    }
    // A control: a jump past the end is refused.
    assert!(!kernel_accepts(&[
        Insn::new(0x15, 5, 0, 0),
        Insn::new(0x06, 0, 0, 0)
    ]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The heart of it: for any filter and any segment, however framed, the BPF program and
    /// the AST agree.
    #[test]
    fn bpf_verdict_is_the_ast_verdict(
        e in strategies::expr(),
        i in strategies::input(),
        tag_in_frame: bool,
        pcp in 0..16u8,
        v4_options in 0..=10u8,
        frag_offset in prop_oneof![3 => Just(0u16), 1 => 1..0x2000u16],
    ) {
        let p = compile(&e).unwrap();
        let s = Shape { tag_in_frame, pcp, v4_options, frag_offset };
        let l4 = frag_offset == 0 || i.src.is_ipv6();
        let want = e.eval(&i, l4);
        let got = run(&p, &frame(&i, s));
        prop_assert_eq!(got, if want { ACCEPT_LEN } else { 0 }, "{} on {:?} {:?}", e, i, s);
    }

    /// The kernel's checker accepts every program the compiler makes.
    #[test]
    fn kernel_accepts_random_programs(e in strategies::expr()) {
        prop_assert!(kernel_accepts(&compile(&e).unwrap()), "{}", e);
    }
}

#[test]
fn ast_shapes_make_both_verdicts() {
    // Guard against a generator whose filters are (almost) all true or all false: the
    // property above would then prove little.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..500 {
        let e: FilterExpr = strategies::expr().new_tree(&mut runner).unwrap().current();
        let i = strategies::input().new_tree(&mut runner).unwrap().current();
        if e.matches(&i) {
            yes += 1
        } else {
            no += 1
        }
    }
    assert!(yes > 100 && no > 100, "{yes} true, {no} false");
}
