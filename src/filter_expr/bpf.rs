//! Compile a filter to classic BPF for a packet socket (`AF_PACKET`, `SOCK_RAW`) on Ethernet
//! (and on Linux `lo`, whose frames carry a zeroed 14-byte Ethernet header).
//!
//! The program first finds the IP header and stores what the primitives need in scratch
//! memory, then runs the expression as jumping code:
//! - an 802.1Q tag either in the frame (ethertype 0x8100 at byte 12) or, as the kernel
//!   delivers it to packet sockets once it has stripped the tag, in the ancillary VLAN
//!   fields; one tag only;
//! - IPv4, or IPv6 whose next header is TCP (no extension headers); anything else, and any
//!   IP packet that is not TCP, is rejected whatever the expression says;
//! - IPv4 fragments after the first: port and flag tests are false (as tcpdump).

use super::ast::{Cmp, Dir, FilterExpr, Net, Primitive};
use super::bpf_asm::{Asm, Label};
use std::fmt::Write as _;
use thiserror::Error;

/// One classic BPF instruction, laid out as `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl Insn {
    /// An instruction.
    pub const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Self {
        Insn { code, jt, jf, k }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl From<Insn> for libc::sock_filter {
    fn from(i: Insn) -> Self {
        libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        }
    }
}

/// Why a filter has no BPF program.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BpfError {
    /// Longer than the kernel accepts.
    #[error("filter: the BPF program would have {0} instructions (the kernel takes at most {MAX_INSNS})")]
    TooLong(usize),
}

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;
/// What an accepting program returns: bytes of the packet to keep (tcpdump's default).
pub const ACCEPT_LEN: u32 = 262_144;

/// Opcode parts (linux/filter.h, linux/bpf_common.h).
pub mod op {
    #![allow(missing_docs)]
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const ADD: u16 = 0x00;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;
    /// Base of the ancillary loads (`SKF_AD_OFF`, -0x1000).
    pub const AD_OFF: u32 = 0xffff_f000;
    /// `SKF_AD_VLAN_TAG`: the stripped tag's TCI.
    pub const AD_VLAN_TAG: u32 = 44;
    /// `SKF_AD_VLAN_TAG_PRESENT`: a tag was stripped.
    pub const AD_VLAN_TAG_PRESENT: u32 = 48;
}
use op::*;

/// Scratch memory slots written by the prologue.
const M_L3: u32 = 0; // offset of the IP header
const M_L4: u32 = 1; // offset of the TCP header, 0 for an IPv4 fragment after the first
const M_VER: u32 = 2; // 4 or 6
const M_VLAN: u32 = 3; // non-zero when tagged
const M_VID: u32 = 4; // the VLAN id

/// The program for `expr` (always `tcp and (expr)`).
pub fn compile(expr: &FilterExpr) -> Result<Vec<Insn>, BpfError> {
    let mut a = Asm::default();
    let (accept, reject) = (a.label(), a.label());
    prologue(&mut a, reject);
    gen(&mut a, expr, accept, reject);
    a.mark(accept);
    a.op(RET | K, ACCEPT_LEN);
    a.mark(reject);
    a.op(RET | K, 0);
    let prog = a.finish();
    if prog.len() > MAX_INSNS {
        return Err(BpfError::TooLong(prog.len()));
    }
    Ok(prog)
}

/// The program as `tcpdump -dd` prints it (a C array body).
pub fn dump(prog: &[Insn]) -> String {
    prog.iter().fold(String::new(), |mut s, i| {
        let _ = writeln!(
            s,
            "{{ 0x{:x}, {}, {}, 0x{:08x} }},",
            i.code, i.jt, i.jf, i.k
        );
        s
    })
}

fn prologue(a: &mut Asm, reject: Label) {
    let (tagged, untagged, eth, v4, not_v4, v6, frag, first, body) = (
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
        a.label(),
    );
    a.op(LD | H | ABS, 12);
    a.jump(JMP | JEQ | K, 0x8100, tagged, untagged);
    a.mark(tagged);
    a.op(LD | H | ABS, 14);
    a.op(ALU | AND | K, 0x0fff);
    a.op(ST, M_VID);
    a.op(LD | IMM, 1);
    a.op(ST, M_VLAN);
    a.op(LDX | IMM, 18);
    a.op(LD | H | ABS, 16);
    a.ja(eth);
    a.mark(untagged);
    a.op(LD | W | ABS, AD_OFF + AD_VLAN_TAG_PRESENT);
    a.op(ST, M_VLAN);
    a.op(LD | W | ABS, AD_OFF + AD_VLAN_TAG);
    a.op(ALU | AND | K, 0x0fff);
    a.op(ST, M_VID);
    a.op(LDX | IMM, 14);
    a.op(LD | H | ABS, 12);
    a.mark(eth); // A = ethertype, X = IP header offset
    a.op(STX, M_L3);
    a.jump(JMP | JEQ | K, 0x0800, v4, not_v4);
    a.mark(not_v4);
    a.jump(JMP | JEQ | K, 0x86dd, v6, reject);
    a.mark(v4);
    let tcp4 = a.label();
    a.op(LD | B | IND, 9);
    a.jump(JMP | JEQ | K, 6, tcp4, reject);
    a.mark(tcp4);
    a.op(LD | IMM, 4);
    a.op(ST, M_VER);
    a.op(LD | H | IND, 6);
    a.jump(JMP | JSET | K, 0x1fff, frag, first);
    a.mark(frag);
    a.op(LD | IMM, 0);
    a.op(ST, M_L4);
    a.ja(body);
    a.mark(first);
    a.op(LD | B | IND, 0);
    a.op(ALU | AND | K, 0x0f);
    a.op(ALU | LSH | K, 2);
    a.op(ALU | ADD | X, 0);
    a.op(ST, M_L4);
    a.ja(body);
    a.mark(v6);
    let tcp6 = a.label();
    a.op(LD | B | IND, 6);
    a.jump(JMP | JEQ | K, 6, tcp6, reject);
    a.mark(tcp6);
    a.op(LD | IMM, 6);
    a.op(ST, M_VER);
    a.op(MISC | TXA, 0);
    a.op(ALU | ADD | K, 40);
    a.op(ST, M_L4);
    a.mark(body);
}

/// Jumping code: go to `t` when `e` holds, else to `f`.
fn gen(a: &mut Asm, e: &FilterExpr, t: Label, f: Label) {
    match e {
        FilterExpr::And(l, r) => {
            let mid = a.label();
            gen(a, l, mid, f);
            a.mark(mid);
            gen(a, r, t, f);
        }
        FilterExpr::Or(l, r) => {
            let mid = a.label();
            gen(a, l, t, mid);
            a.mark(mid);
            gen(a, r, t, f);
        }
        FilterExpr::Not(inner) => gen(a, inner, f, t),
        FilterExpr::Prim(p) => primitive(a, p, t, f),
    }
}

/// Test one side, then the other, as `dir` says. `side(a, is_dst, t, f)`.
fn by_dir(a: &mut Asm, dir: Dir, t: Label, f: Label, side: impl Fn(&mut Asm, bool, Label, Label)) {
    match dir {
        Dir::Src => side(a, false, t, f),
        Dir::Dst => side(a, true, t, f),
        Dir::Either | Dir::Both => {
            let mid = a.label();
            if dir == Dir::Either {
                side(a, false, t, mid);
            } else {
                side(a, false, mid, f);
            }
            a.mark(mid);
            side(a, true, t, f);
        }
    }
}

/// `A = M[slot]; if A == 0 goto f; X = A` (the TCP header must be in sight).
fn load_l4(a: &mut Asm, f: Label) {
    let ok = a.label();
    a.op(LD | MEM, M_L4);
    a.jump(JMP | JEQ | K, 0, f, ok);
    a.mark(ok);
    a.op(MISC | TAX, 0);
}

fn primitive(a: &mut Asm, p: &Primitive, t: Label, f: Label) {
    match *p {
        Primitive::Tcp => a.ja(t),
        Primitive::Ip | Primitive::Ip6 => {
            a.op(LD | MEM, M_VER);
            let v = if *p == Primitive::Ip { 4 } else { 6 };
            a.jump(JMP | JEQ | K, v, t, f);
        }
        Primitive::Vlan(id) => {
            a.op(LD | MEM, M_VLAN);
            match id {
                None => a.jump(JMP | JEQ | K, 0, f, t),
                Some(id) => {
                    let tagged = a.label();
                    a.jump(JMP | JEQ | K, 0, f, tagged);
                    a.mark(tagged);
                    a.op(LD | MEM, M_VID);
                    a.jump(JMP | JEQ | K, u32::from(id), t, f);
                }
            }
        }
        Primitive::Host { dir, addr } => {
            let net = match addr {
                std::net::IpAddr::V4(addr) => Net::V4 {
                    addr,
                    mask: u32::MAX,
                },
                std::net::IpAddr::V6(addr) => Net::V6 { addr, len: 128 },
            };
            net_test(a, dir, net, t, f);
        }
        Primitive::Net { dir, net } => net_test(a, dir, net, t, f),
        Primitive::Port { dir, lo, hi } => {
            load_l4(a, f);
            by_dir(a, dir, t, f, |a, is_dst, t, f| {
                a.op(LD | H | IND, if is_dst { 2 } else { 0 });
                if lo == hi {
                    a.jump(JMP | JEQ | K, u32::from(lo), t, f);
                } else {
                    let above_lo = a.label();
                    a.jump(JMP | JGE | K, u32::from(lo), above_lo, f);
                    a.mark(above_lo);
                    a.jump(JMP | JGT | K, u32::from(hi), f, t);
                }
            });
        }
        Primitive::TcpFlags { mask, cmp, value } => {
            load_l4(a, f);
            a.op(LD | B | IND, 13);
            if mask != 0xff {
                a.op(ALU | AND | K, u32::from(mask));
            }
            let (code, yes, no) = match cmp {
                Cmp::Eq => (JEQ, t, f),
                Cmp::Ne => (JEQ, f, t),
                Cmp::Lt => (JGE, f, t),
                Cmp::Le => (JGT, f, t),
                Cmp::Gt => (JGT, t, f),
                Cmp::Ge => (JGE, t, f),
            };
            a.jump(JMP | code | K, value, yes, no);
        }
    }
}

/// The source and/or destination address lies in `net` (X = IP header offset throughout).
fn net_test(a: &mut Asm, dir: Dir, net: Net, t: Label, f: Label) {
    let same_family = a.label();
    a.op(LD | MEM, M_VER);
    let v = if matches!(net, Net::V4 { .. }) { 4 } else { 6 };
    a.jump(JMP | JEQ | K, v, same_family, f);
    a.mark(same_family);
    a.op(LDX | MEM, M_L3);
    // (offset in the IP header, mask, value) of each 32-bit word to compare.
    let words = |is_dst: bool| -> Vec<(u32, u32, u32)> {
        match net {
            Net::V4 { addr, mask } => vec![(if is_dst { 16 } else { 12 }, mask, u32::from(addr))],
            Net::V6 { addr, len } => {
                let base = if is_dst { 24 } else { 8 };
                let a = addr.octets();
                (0..4u32)
                    .filter_map(|i| {
                        let bits = u32::from(len).saturating_sub(32 * i).min(32);
                        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                        let j = 4 * i as usize;
                        let w = u32::from_be_bytes([a[j], a[j + 1], a[j + 2], a[j + 3]]);
                        (bits > 0).then_some((base + 4 * i, mask, w))
                    })
                    .collect()
            }
        }
    };
    by_dir(a, dir, t, f, |a, is_dst, t, f| {
        let ws = words(is_dst);
        if ws.is_empty() {
            a.ja(t);
        }
        for (n, &(off, mask, w)) in ws.iter().enumerate() {
            a.op(LD | W | IND, off);
            if mask != u32::MAX {
                a.op(ALU | AND | K, mask);
            }
            let next = if n + 1 == ws.len() { t } else { a.label() };
            a.jump(JMP | JEQ | K, w, next, f);
            if next != t {
                a.mark(next);
            }
        }
    });
}
