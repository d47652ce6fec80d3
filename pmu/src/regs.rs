//! perf's user register numbers (`sample_regs_user` bits) for the
//! architectures ftr unwinds, and the few registers a frame-pointer or
//! DWARF CFI unwinder starts from. Numbers follow
//! arch/x86/include/uapi/asm/perf_regs.h and
//! arch/arm64/include/uapi/asm/perf_regs.h.

use crate::record::UserRegs;

/// x86_64 `PERF_REG_X86_AX`: the return value.
pub const X86_64_AX: u32 = 0;
/// x86_64 `PERF_REG_X86_BP`.
pub const X86_64_BP: u32 = 6;
/// x86_64 `PERF_REG_X86_SP`.
pub const X86_64_SP: u32 = 7;
/// x86_64 `PERF_REG_X86_IP`.
pub const X86_64_IP: u32 = 8;
/// x86_64 argument registers in SysV call order: rdi, rsi, rdx, rcx, r8, r9.
pub const X86_64_ARGS: [u32; 6] = [5, 4, 3, 2, 16, 17];
/// aarch64 argument registers x0..x7 (x0 is also the return value).
pub const AARCH64_ARGS: [u32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
/// aarch64 `PERF_REG_ARM64_X29`, the frame pointer.
pub const AARCH64_FP: u32 = 29;
/// aarch64 `PERF_REG_ARM64_LR` (x30).
pub const AARCH64_LR: u32 = 30;
/// aarch64 `PERF_REG_ARM64_SP`.
pub const AARCH64_SP: u32 = 31;
/// aarch64 `PERF_REG_ARM64_PC`.
pub const AARCH64_PC: u32 = 32;

/// An instruction set whose user registers ftr can sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterArch {
    /// x86_64: ip, sp, bp.
    X86_64,
    /// aarch64: pc, sp, fp (x29), lr (x30).
    Aarch64,
}

/// The registers an unwinder starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnwindRegs {
    /// Instruction pointer / program counter.
    pub ip: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer (rbp, x29).
    pub fp: u64,
    /// Link register (aarch64 only).
    pub lr: Option<u64>,
}

impl RegisterArch {
    /// The architecture this build of ftr runs on, if supported.
    pub fn native() -> Option<RegisterArch> {
        if cfg!(target_arch = "x86_64") {
            Some(RegisterArch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(RegisterArch::Aarch64)
        } else {
            None
        }
    }

    /// The `sample_regs_user` mask with the unwinding registers. x86's
    /// segment registers are deliberately absent: the kernel rejects DS,
    /// ES, FS and GS for 64-bit tasks (`perf_reg_validate`).
    pub fn unwind_mask(self) -> u64 {
        match self {
            RegisterArch::X86_64 => (1 << X86_64_IP) | (1 << X86_64_SP) | (1 << X86_64_BP),
            RegisterArch::Aarch64 => {
                (1 << AARCH64_PC) | (1 << AARCH64_SP) | (1 << AARCH64_FP) | (1 << AARCH64_LR)
            }
        }
    }

    /// The `sample_regs_user` mask with the unwinding registers, the
    /// integer argument registers and the return-value register: what a
    /// uprobe at a function's entry (arguments) or a uretprobe (return
    /// value) needs, e.g. malloc's size and result.
    pub fn call_mask(self) -> u64 {
        let (args, ret): (&[u32], u32) = match self {
            RegisterArch::X86_64 => (&X86_64_ARGS, X86_64_AX),
            RegisterArch::Aarch64 => (&AARCH64_ARGS, AARCH64_ARGS[0]),
        };
        args.iter()
            .fold(self.unwind_mask() | (1 << ret), |m, &r| m | (1 << r))
    }

    /// Integer argument `n` (0-based) at a function's first instruction,
    /// from a sample taken with [`RegisterArch::call_mask`].
    pub fn argument(self, regs: &UserRegs, n: usize) -> Option<u64> {
        let reg = match self {
            RegisterArch::X86_64 => X86_64_ARGS.get(n)?,
            RegisterArch::Aarch64 => AARCH64_ARGS.get(n)?,
        };
        regs.get(*reg)
    }

    /// The integer return value at a uretprobe, from a sample taken with
    /// [`RegisterArch::call_mask`].
    pub fn return_value(self, regs: &UserRegs) -> Option<u64> {
        match self {
            RegisterArch::X86_64 => regs.get(X86_64_AX),
            RegisterArch::Aarch64 => regs.get(AARCH64_ARGS[0]),
        }
    }

    /// The unwinding registers of a sample taken with (a superset of)
    /// [`RegisterArch::unwind_mask`]; None when one is missing (a kernel
    /// thread has no user registers).
    pub fn unwind_regs(self, regs: &UserRegs) -> Option<UnwindRegs> {
        match self {
            RegisterArch::X86_64 => Some(UnwindRegs {
                ip: regs.get(X86_64_IP)?,
                sp: regs.get(X86_64_SP)?,
                fp: regs.get(X86_64_BP)?,
                lr: None,
            }),
            RegisterArch::Aarch64 => Some(UnwindRegs {
                ip: regs.get(AARCH64_PC)?,
                sp: regs.get(AARCH64_SP)?,
                fp: regs.get(AARCH64_FP)?,
                lr: Some(regs.get(AARCH64_LR)?),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwind_registers_come_out_of_the_mask_order() {
        let x86 = RegisterArch::X86_64;
        let regs = UserRegs {
            abi: 2,
            mask: x86.unwind_mask(),
            values: vec![0xb0, 0x5000, 0x40_1000],
        };
        assert_eq!(
            x86.unwind_regs(&regs),
            Some(UnwindRegs {
                ip: 0x40_1000,
                sp: 0x5000,
                fp: 0xb0,
                lr: None
            })
        );
        let arm = RegisterArch::Aarch64;
        let regs = UserRegs {
            abi: 2,
            mask: arm.unwind_mask(),
            values: vec![1, 2, 3, 4],
        };
        assert_eq!(
            arm.unwind_regs(&regs),
            Some(UnwindRegs {
                ip: 4,
                sp: 3,
                fp: 1,
                lr: Some(2)
            })
        );
        let x86_call = x86.call_mask();
        // ax, cx, dx, si, di, bp, sp, ip, r8, r9.
        assert_eq!(x86_call, 0b11_0000_0001_1111_1101);
        let regs = UserRegs {
            abi: 2,
            mask: x86_call,
            values: (0..x86_call.count_ones() as u64).collect(),
        };
        // Values follow the mask's bit order: ax=0, cx=1, dx=2, si=3, di=4.
        assert_eq!(x86.argument(&regs, 0), Some(4));
        assert_eq!(x86.argument(&regs, 1), Some(3));
        assert_eq!(x86.argument(&regs, 5), Some(9));
        assert_eq!(x86.argument(&regs, 6), None);
        assert_eq!(x86.return_value(&regs), Some(0));
        let none = UserRegs {
            abi: 0,
            mask: arm.unwind_mask(),
            values: vec![],
        };
        assert_eq!(arm.unwind_regs(&none), None);
    }
}
