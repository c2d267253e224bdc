//! A small classic-BPF assembler: code with forward labels, laid out into instructions.
//! A conditional jump reaches at most 255 instructions ahead; a farther target goes through
//! an inserted `ja` (32-bit offset) placed right after the jump.

use super::bpf::Insn;

/// A jump target, placed later with `Asm::mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Debug, Clone, Copy)]
enum Op {
    Plain {
        code: u16,
        k: u32,
    },
    Jump {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    Ja(Label),
    Mark(Label),
}

/// Code being assembled.
#[derive(Debug, Default)]
pub struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

/// Opcode of `ja`.
const JA: u16 = 0x05;

impl Asm {
    /// A new label.
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    /// An instruction that does not jump.
    pub fn op(&mut self, code: u16, k: u32) {
        self.ops.push(Op::Plain { code, k });
    }
    /// A conditional jump.
    pub fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.ops.push(Op::Jump { code, k, jt, jf });
    }
    /// An unconditional jump.
    pub fn ja(&mut self, to: Label) {
        self.ops.push(Op::Ja(to));
    }
    /// Place `l` here (before the next instruction).
    pub fn mark(&mut self, l: Label) {
        self.ops.push(Op::Mark(l));
    }

    /// Lay the code out. Panics on a label used but never placed, or placed behind a jump
    /// to it (the code generator's bug, not the user's).
    pub fn finish(self) -> Vec<Insn> {
        // For each op: does its jt / jf go through a trampoline?
        let mut far = vec![(false, false); self.ops.len()];
        loop {
            let (starts, at) = self.layout(&far);
            let mut changed = false;
            for (i, op) in self.ops.iter().enumerate() {
                if let Op::Jump { jt, jf, .. } = *op {
                    let next = starts[i] + 1;
                    let too_far = |l: Label| at[l.0].expect("label placed") - next > 255;
                    let want = (far[i].0 || too_far(jt), far[i].1 || too_far(jf));
                    changed |= want != far[i];
                    far[i] = want;
                }
            }
            if !changed {
                return self.emit(&far, &starts, &at);
            }
        }
    }

    /// Where each op starts, and where each label points.
    fn layout(&self, far: &[(bool, bool)]) -> (Vec<usize>, Vec<Option<usize>>) {
        let mut starts = Vec::with_capacity(self.ops.len());
        let mut at = vec![None; self.labels];
        let mut pc = 0;
        for (op, f) in self.ops.iter().zip(far) {
            starts.push(pc);
            pc += match op {
                Op::Mark(l) => {
                    at[l.0] = Some(pc);
                    0
                }
                Op::Jump { .. } => 1 + usize::from(f.0) + usize::from(f.1),
                _ => 1,
            };
        }
        (starts, at)
    }

    fn emit(&self, far: &[(bool, bool)], starts: &[usize], at: &[Option<usize>]) -> Vec<Insn> {
        let target = |l: Label, from: usize| -> usize {
            let to = at[l.0].expect("label placed");
            assert!(to >= from, "backward jump");
            to - from
        };
        let mut out = Vec::new();
        for (i, op) in self.ops.iter().enumerate() {
            let next = starts[i] + 1;
            match *op {
                Op::Plain { code, k } => out.push(Insn::new(code, 0, 0, k)),
                Op::Ja(l) => out.push(Insn::new(JA, 0, 0, target(l, next) as u32)),
                Op::Mark(_) => {}
                Op::Jump { code, k, jt, jf } => {
                    let (ft, ff) = far[i];
                    let jt_off = if ft { 0 } else { target(jt, next) };
                    let jf_off = if ff {
                        usize::from(ft)
                    } else {
                        target(jf, next)
                    };
                    out.push(Insn::new(code, jt_off as u8, jf_off as u8, k));
                    if ft {
                        out.push(Insn::new(JA, 0, 0, target(jt, next + 1) as u32));
                    }
                    if ff {
                        let from = next + 1 + usize::from(ft);
                        out.push(Insn::new(JA, 0, 0, target(jf, from) as u32));
                    }
                }
            }
        }
        out
    }
}
