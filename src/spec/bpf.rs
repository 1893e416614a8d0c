//! The few classic-BPF pieces both seccomp filter builders write by hand (sbox's own arch
//! guard in launch/seccomp.rs, an OCI config's filter in oci/seccomp.rs): the opcodes of
//! linux/bpf_common.h as numbers (class | size | mode, or class | op | source), the offsets
//! of `struct seccomp_data`, and the audit arch values. Pure data; launch's tests check the
//! numbers against libc's.

pub use seccompiler::sock_filter;

/// BPF_LD | BPF_W | BPF_ABS
pub const LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JA
pub const JA: u16 = 0x05;
/// BPF_JMP | BPF_JEQ | BPF_K
pub const JEQ: u16 = 0x15;
/// BPF_JMP | BPF_JGT | BPF_K
pub const JGT: u16 = 0x25;
/// BPF_JMP | BPF_JGE | BPF_K
pub const JGE: u16 = 0x35;
/// BPF_JMP | BPF_JSET | BPF_K
pub const JSET: u16 = 0x45;
/// BPF_ALU | BPF_AND | BPF_K
pub const AND: u16 = 0x54;
/// BPF_RET | BPF_K
pub const RET: u16 = 0x06;

/// Offsets in `struct seccomp_data`; an argument is 64 bits, its low half first (x86).
pub const NR: u32 = 0;
pub const ARCH: u32 = 4;
pub const fn arg_lo(i: u32) -> u32 {
    16 + 8 * i
}

pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 syscalls are x86_64 calls with this bit set in the number.
pub const X32_BIT: u32 = 0x4000_0000;

/// A = the 32-bit word at `off` of `struct seccomp_data`.
pub fn ld(off: u32) -> sock_filter {
    jump(LD_W_ABS, off, 0, 0)
}

pub fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

pub fn ret(k: u32) -> sock_filter {
    jump(RET, k, 0, 0)
}
