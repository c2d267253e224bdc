//! Parser, printer and evaluator tests (no DNS: names go to a map).

use super::ast::{Dir, FilterExpr, Primitive};
use super::eval::FilterInput;
use super::resolve::{service_in, NoResolver, Resolver};
use super::{parse, parse_with, strategies, FilterError};
use proptest::prelude::*;
use std::net::{IpAddr, SocketAddr};

/// `example.com` has an IPv4 and an IPv6 address; `http` is port 80.
struct Map;
impl Resolver for Map {
    fn host(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        match name {
            "example.com" => Ok(vec![
                "192.0.2.1".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ]),
            "one.test" => Ok(vec![
                "192.0.2.7".parse().unwrap(),
                "192.0.2.7".parse().unwrap(),
            ]),
            _ => Err("no such host".into()),
        }
    }
    fn service(&self, name: &str) -> Option<u16> {
        (name == "http").then_some(80)
    }
}

fn shown(text: &str) -> String {
    match parse_with(text, &Map) {
        Ok(e) => e.to_string(),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn err(text: &str) -> String {
    parse_with(text, &Map).expect_err(text).to_string()
}

#[test]
fn parses_and_prints_the_covered_forms() {
    let cases = [
        ("host 10.0.0.1", "host 10.0.0.1"),
        (
            "src host 10.0.0.1 and dst port 80",
            "src host 10.0.0.1 and dst port 80",
        ),
        ("src 10.0.0.1", "src host 10.0.0.1"),
        ("dst host ::1", "dst host ::1"),
        ("src or dst port 80", "port 80"),
        ("src and dst net 10/8", "src and dst net 10.0.0.0/8"),
        ("dst and src host 10.0.0.1", "src and dst host 10.0.0.1"),
        ("net 10", "net 10.0.0.0/8"),
        ("net 192.168", "net 192.168.0.0/16"),
        ("net 10.1.2.3", "net 10.1.2.3/32"),
        ("net 10.1.0.0 mask 255.255.0.0", "net 10.1.0.0/16"),
        (
            "net 10.0.0.0 mask 255.0.255.0",
            "net 10.0.0.0 mask 255.0.255.0",
        ),
        ("dst net 2001:db8::/32", "dst net 2001:db8::/32"),
        ("portrange 2000-1000", "portrange 1000-2000"),
        ("src portrange 1-1", "src port 1"),
        ("port http", "port 80"),
        ("tcp", "tcp"),
        ("ip and ip6", "ip and ip6"),
        ("tcp port 22", "tcp and port 22"),
        ("ip6 src net fe80::/10", "ip6 and src net fe80::/10"),
        ("vlan", "vlan"),
        ("vlan 100 and ip6", "vlan 100 and ip6"),
        (
            "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
            "tcp[tcpflags] & (tcp-fin|tcp-syn) != 0",
        ),
        ("tcp[13]&2!=0", "tcp[tcpflags] & tcp-syn != 0"),
        ("tcp[13] = 0x12", "tcp[tcpflags] == (tcp-syn|tcp-ack)"),
        (
            "tcp[tcpflags] & 022 == 022",
            "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)",
        ),
        (
            "tcp[tcpflags] & tcp-rst >= 300",
            "tcp[tcpflags] & tcp-rst >= 300",
        ),
        ("tcp[tcpflags] & 0xff == 0", "tcp[tcpflags] == 0"),
        // pcap-filter: and/or have equal precedence and group to the left.
        (
            "host 10.0.0.1 or host 10.0.0.2 and port 80",
            "(host 10.0.0.1 or host 10.0.0.2) and port 80",
        ),
        (
            "port 1 and port 2 or port 3",
            "(port 1 and port 2) or port 3",
        ),
        (
            "port 1 and (port 2 or port 3)",
            "port 1 and (port 2 or port 3)",
        ),
        (
            "not host 10.0.0.1 and port 80",
            "not host 10.0.0.1 and port 80",
        ),
        (
            "! port 22 && ( port 80 || port 443 )",
            "not port 22 and (port 80 or port 443)",
        ),
        ("not not tcp", "not not tcp"),
        // Implicit qualifiers: a bare value repeats the last ones.
        ("port 80 or 443", "port 80 or port 443"),
        (
            "src host 10.0.0.1 or 10.0.0.2",
            "src host 10.0.0.1 or src host 10.0.0.2",
        ),
        (
            "tcp dst port 22 or 80",
            "(tcp and dst port 22) or (tcp and dst port 80)",
        ),
        ("port 22 and (ip or 80)", "port 22 and (ip or port 80)"),
        // A name: every address it has, joined with `or` (duplicates once).
        ("host example.com", "host 192.0.2.1 or host 2001:db8::1"),
        (
            "not src host example.com",
            "not (src host 192.0.2.1 or src host 2001:db8::1)",
        ),
        ("host one.test", "host 192.0.2.7"),
    ];
    for (text, want) in cases {
        assert_eq!(shown(text), want, "{text}");
    }
}

#[test]
fn errors_name_the_word_and_column() {
    let cases = [
        (
            "tcp and prot 80",
            "filter: unexpected 'prot' at word 3, column 9 (expected a primitive such as host, port, net, tcp)",
        ),
        ("port 70000", "filter: bad '70000' at word 2, column 6: port above 65535"),
        ("port ssh", "filter: bad 'ssh' at word 2, column 6: not a port number or known TCP service"),
        ("host", "filter: unexpected end after word 1 (expected a host name or address)"),
        ("port 80 and", "filter: unexpected end after word 3 (expected a primitive such as host, port, net, tcp)"),
        ("(port 80", "filter: unexpected end after word 3 (expected ')', 'and' or 'or')"),
        ("port 80)", "filter: unexpected ')' at word 3, column 8 (expected 'and', 'or' or the end)"),
        ("port 80 port 81", "filter: unexpected 'port' at word 3, column 9 (expected 'and', 'or' or the end)"),
        ("net 10.0.0.1/8", "filter: bad '10.0.0.1/8' at word 2, column 5: address bits set outside the netmask"),
        ("net 10.0.0.0/33", "filter: bad '10.0.0.0/33' at word 2, column 5: prefix length above 32"),
        ("host 10.0.0.0/8", "filter: bad '10.0.0.0/8' at word 2, column 6: a network: use 'net'"),
        ("host nosuch.test", "filter: bad 'nosuch.test' at word 2, column 6: cannot resolve: no such host"),
        ("tcp[12] != 0", "filter: unexpected '12' at word 3, column 5 (expected 'tcpflags' or 13 (the only byte of tcp[] covered))"),
        (
            "tcp[13] & tcp-syn|tcp-ack != 0",
            "filter: unexpected '|' at word 7, column 18 (expected a comparison (write the mask as '(tcp-syn|tcp-ack)'))",
        ),
        ("tcp[13] & 0x100 != 0", "filter: bad '0x100' at word 6, column 11: mask wider than the flags byte"),
        ("tcp[13] & tcp-bogus != 0", "filter: bad 'tcp-bogus' at word 6, column 11: expected a number or a flag such as tcp-syn"),
        ("tcp[13] & 2", "filter: unexpected end after word 6 (expected a comparison such as '!= 0')"),
        ("vlan 4096", "filter: bad '4096' at word 2, column 6: VLAN id above 4095"),
        ("port 80 $", "filter: unexpected character '$' at column 9"),
        ("and port 80", "filter: unexpected 'and' at word 1, column 1 (expected a primitive such as host, port, net, tcp)"),
        ("udp", "filter: unexpected 'udp' at word 1, column 1 (expected a primitive such as host, port, net, tcp)"),
        ("", "filter: empty expression"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert_eq!(got, want, "{text}");
        assert!(!got.contains('\n'));
    }
}

#[test]
fn parse_joins_argv_words_and_needs_no_resolver_for_literals() {
    let words: Vec<String> = [
        "src", "port", "80", "and", "tcp[13]", "&", "tcp-syn", "!=", "0",
    ]
    .map(String::from)
    .into();
    let e = parse(&words).unwrap();
    assert_eq!(
        e.to_string(),
        "src port 80 and tcp[tcpflags] & tcp-syn != 0"
    );
    assert_eq!(parse(&[]), Err(FilterError::Empty));
    assert!(parse_with("host example.com", &NoResolver).is_err());
    let closure = |n: &str| -> Result<Vec<IpAddr>, String> {
        Ok(vec![if n == "a" { "10.9.9.9" } else { "10.8.8.8" }
            .parse()
            .unwrap()])
    };
    assert_eq!(
        parse_with("host a", &closure).unwrap().to_string(),
        "host 10.9.9.9"
    );
}

#[test]
fn services_file_lookup() {
    let text =
        "# comment\nhttp\t\t80/tcp\t\twww www-http # WWW\nsyslog 514/udp\nshell 514/tcp cmd\n";
    assert_eq!(service_in(text, "http"), Some(80));
    assert_eq!(service_in(text, "www"), Some(80));
    assert_eq!(service_in(text, "cmd"), Some(514));
    assert_eq!(service_in(text, "syslog"), None);
    assert_eq!(service_in(text, "comment"), None);
}

fn seg(src: &str, dst: &str, flags: u8, vlan: Option<u16>) -> FilterInput {
    FilterInput {
        src: src.parse::<SocketAddr>().unwrap(),
        dst: dst.parse::<SocketAddr>().unwrap(),
        flags,
        vlan,
    }
}

#[test]
fn evaluates_on_segments() {
    let syn = seg("10.0.0.1:40000", "10.0.1.2:80", 0x02, None);
    let synack6 = seg("[2001:db8::2]:443", "[2001:db8::1]:50000", 0x12, Some(7));
    let m = |text: &str, s: &FilterInput| parse_with(text, &Map).unwrap().matches(s);
    let cases = [
        ("host 10.0.1.2", true, false),
        ("src host 10.0.1.2", false, false),
        ("src and dst net 10.0.0.0/16", true, false),
        ("src and dst net 10.0.0.0/24", false, false),
        ("net 10.0.0.0 mask 255.0.255.0", true, false),
        ("net 2001:db8::/32", false, true),
        ("dst net 2001:db8::2/128", false, false),
        ("port 80", true, false),
        ("src port 80", false, false),
        ("portrange 400-500", false, true),
        ("dst portrange 40000-60000", false, true),
        ("ip", true, false),
        ("ip6 and tcp", false, true),
        ("vlan", false, true),
        ("vlan 7", false, true),
        ("vlan 8", false, false),
        ("tcp[tcpflags] & tcp-syn != 0", true, true),
        ("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", true, false),
        ("tcp[tcpflags] == 0x12", false, true),
        ("tcp[13] > 2", false, true),
        ("tcp[13] <= 2", true, false),
        ("not port 80 and not port 443", false, false),
        ("port 80 or 443", true, true),
        (
            "host 10.0.0.1 or host 2001:db8::2 and port 443",
            false,
            true,
        ),
    ];
    for (text, on_syn, on_synack6) in cases {
        assert_eq!(m(text, &syn), on_syn, "{text} on the SYN");
        assert_eq!(m(text, &synack6), on_synack6, "{text} on the SYN-ACK");
    }
}

#[test]
fn later_fragments_fail_port_and_flag_tests() {
    let s = seg("10.0.0.1:40000", "10.0.1.2:80", 0x02, None);
    let e = |t: &str| parse_with(t, &Map).unwrap();
    assert!(e("port 80").eval(&s, true));
    assert!(!e("port 80").eval(&s, false));
    assert!(e("not port 80").eval(&s, false));
    assert!(!e("tcp[tcpflags] & tcp-syn != 0").eval(&s, false));
    assert!(e("host 10.0.0.1 and tcp").eval(&s, false));
}

#[test]
fn input_from_segment() {
    use crate::segment::{Segment, TcpFlags};
    let s = Segment {
        frame: 1,
        orig_len: 60,
        cap_len: 60,
        ..Segment::header(
            "10.0.0.1:1234".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
            TcpFlags(TcpFlags::SYN | TcpFlags::ACK),
            0,
            0,
        )
    };
    let i = FilterInput::from(&s);
    assert_eq!(i, seg("10.0.0.1:1234", "10.0.0.2:80", 0x12, None));
    assert!(parse_with("src port 1234 and tcp[13] == 0x12", &NoResolver)
        .unwrap()
        .matches(&i));
}

#[test]
fn a_name_with_several_addresses_is_an_or() {
    let e = parse_with("dst host example.com", &Map).unwrap();
    let host = |a: &str| {
        Box::new(FilterExpr::Prim(Primitive::Host {
            dir: Dir::Dst,
            addr: a.parse().unwrap(),
        }))
    };
    assert_eq!(e, FilterExpr::Or(host("192.0.2.1"), host("2001:db8::1")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Display prints text that parses back to the same tree.
    #[test]
    fn display_round_trips(e in strategies::expr()) {
        let text = e.to_string();
        let back = parse_with(&text, &NoResolver);
        prop_assert_eq!(back.as_ref(), Ok(&e), "{}", text);
    }
}
