//! A classic BPF interpreter for the tests, strict where the kernel is: a load past the end
//! of the packet returns 0 (drop); a read of scratch memory never written, a jump out of the
//! program, an unknown opcode or falling off the end panics.

use super::bpf::op::*;
use super::bpf::Insn;

/// A packet as a socket filter sees it: the frame bytes and the kernel's VLAN metadata.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Frame bytes from the Ethernet header on.
    pub data: Vec<u8>,
    /// A tag the kernel stripped (TCI: priority, DEI, id), seen through ancillary loads.
    pub vlan_tci: Option<u16>,
}

fn load(pkt: &Packet, size: u16, off: u32) -> Option<u32> {
    if off >= AD_OFF {
        assert_eq!(size, W, "ancillary loads here are words");
        return Some(match off - AD_OFF {
            AD_VLAN_TAG => u32::from(pkt.vlan_tci.unwrap_or(0)),
            AD_VLAN_TAG_PRESENT => u32::from(pkt.vlan_tci.is_some()),
            other => panic!("ancillary field {other} not modelled"),
        });
    }
    let n = match size {
        W => 4,
        H => 2,
        B => 1,
        _ => panic!("bad load size"),
    };
    let start = usize::try_from(off).ok()?;
    let bytes = pkt.data.get(start..start.checked_add(n)?)?;
    Some(bytes.iter().fold(0, |a, &b| (a << 8) | u32::from(b)))
}

/// Run `prog` on `pkt`: the number of bytes to keep (0 = drop).
pub fn run(prog: &[Insn], pkt: &Packet) -> u32 {
    assert!(!prog.is_empty() && prog.len() <= 4096, "program length");
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem: [Option<u32>; 16] = [None; 16];
    let mut pc = 0usize;
    loop {
        let i = *prog.get(pc).expect("ran off the end of the program");
        pc += 1;
        let class = i.code & 0x07;
        match class {
            LD | LDX => {
                let mode = i.code & 0xe0;
                let v = match mode {
                    IMM => i.k,
                    MEM => mem[i.k as usize].expect("scratch memory read before written"),
                    ABS => match load(pkt, i.code & 0x18, i.k) {
                        Some(v) => v,
                        None => return 0,
                    },
                    IND if class == LD => match load(pkt, i.code & 0x18, x.wrapping_add(i.k)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    _ => panic!("load mode {mode:#x} not modelled"),
                };
                if class == LD {
                    a = v;
                } else {
                    x = v;
                }
            }
            ST => mem[i.k as usize] = Some(a),
            STX => mem[i.k as usize] = Some(x),
            ALU => {
                let operand = if i.code & X != 0 { x } else { i.k };
                a = match i.code & 0xf0 {
                    ADD => a.wrapping_add(operand),
                    0x10 => a.wrapping_sub(operand),
                    0x40 => a | operand,
                    AND => a & operand,
                    LSH => a.checked_shl(operand).unwrap_or(0),
                    0x70 => a.checked_shr(operand).unwrap_or(0),
                    other => panic!("alu op {other:#x} not modelled"),
                };
            }
            JMP => {
                let operand = if i.code & X != 0 { x } else { i.k };
                let jump = match i.code & 0xf0 {
                    JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    JEQ => a == operand,
                    JGT => a > operand,
                    JGE => a >= operand,
                    JSET => a & operand != 0,
                    other => panic!("jump {other:#x} not modelled"),
                };
                pc += usize::from(if jump { i.jt } else { i.jf });
                assert!(pc < prog.len(), "jump out of the program");
            }
            RET => return if i.code & 0x18 == 0x10 { a } else { i.k },
            MISC => match i.code & 0xf8 {
                TAX => x = a,
                TXA => a = x,
                other => panic!("misc {other:#x} not modelled"),
            },
            _ => unreachable!(),
        }
    }
}
