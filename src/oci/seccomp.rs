//! linux.seccomp (the OCI JSON) → one classic-BPF program, in the form launch installs for
//! `--seccomp` programs.
//!
//! Layout: the arch in `seccomp_data` picks the ABI: x86_64 (always, as under runc, whose
//! libseccomp filter starts with the native arch), or a listed one: x32 (x86_64 calls with
//! bit 30 set in the number), i386; an ABI that is not listed is killed, as libseccomp does
//! by default. Within an ABI, a binary search over ranges of syscall numbers with the
//! same rules reaches either a return or the rules of one syscall: each rule's argument
//! checks in order (all must hold), the first rule that matches decides, and the default
//! action when none does. Names are looked up per ABI; a name unknown to an ABI is skipped,
//! as libseccomp and runc do (profiles list calls of every kernel version). An i386 call made
//! through socketcall(2) or ipc(2) meets its name's rules that check no argument (its
//! arguments are in memory), as libseccomp multiplexes them.

use super::config::{ArgRule, OciError, Seccomp, SyscallRule, err};
use crate::spec::bpf::{
    AND, ARCH, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, JA, JEQ, JGE, JGT, NR, X32_BIT, arg_lo, jump,
    ld, ret, sock_filter,
};
use crate::spec::syscalls::{self, i386};
use seccompiler::BpfProgram;
use std::collections::{BTreeMap, HashMap};

const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

/// The kernel's limit on a program's length (BPF_MAXINSNS).
const MAX_LEN: usize = 4096;

/// x32's own numbers, for the calls whose x86_64 number takes 64-bit pointers or structures
/// (the kernel's syscall_64.tbl, "x32" entries); every other x32 call has its x86_64 number.
const X32_OWN: &[(&str, u32)] = &[
    ("rt_sigaction", 512),
    ("rt_sigreturn", 513),
    ("ioctl", 514),
    ("readv", 515),
    ("writev", 516),
    ("recvfrom", 517),
    ("sendmsg", 518),
    ("recvmsg", 519),
    ("execve", 520),
    ("ptrace", 521),
    ("rt_sigpending", 522),
    ("rt_sigtimedwait", 523),
    ("rt_sigqueueinfo", 524),
    ("sigaltstack", 525),
    ("timer_create", 526),
    ("mq_notify", 527),
    ("kexec_load", 528),
    ("waitid", 529),
    ("set_robust_list", 530),
    ("get_robust_list", 531),
    ("vmsplice", 532),
    ("move_pages", 533),
    ("preadv", 534),
    ("pwritev", 535),
    ("rt_tgsigqueueinfo", 536),
    ("recvmmsg", 537),
    ("sendmmsg", 538),
    ("process_vm_readv", 539),
    ("process_vm_writev", 540),
    ("setsockopt", 541),
    ("getsockopt", 542),
    ("io_setup", 543),
    ("io_submit", 544),
    ("execveat", 545),
    ("preadv2", 546),
    ("pwritev2", 547),
];

/// Architectures of other machines: a call of theirs never reaches an x86 kernel, so listing
/// them changes nothing (multi-arch profiles list them).
const FOREIGN_ARCHES: &[&str] = &[
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// What this compiler takes, for `features` (a test checks each compiles).
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
];
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
];
pub const ARCHES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
pub const FLAGS: &[&str] = &["SECCOMP_FILTER_FLAG_TSYNC"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abi {
    X86_64,
    X32,
    I386,
}

/// The syscall tables by name, built once per compile (a profile names hundreds of calls).
struct Names {
    x86_64: HashMap<&'static str, u32>,
    i386: HashMap<&'static str, u32>,
    x32_own: HashMap<&'static str, u32>,
}

impl Names {
    fn new() -> Names {
        Names {
            x86_64: (syscalls::SYSCALLS.iter())
                .map(|&(n, nr)| (n, nr as u32))
                .collect(),
            i386: i386::SYSCALLS.iter().copied().collect(),
            x32_own: X32_OWN.iter().copied().collect(),
        }
    }

    /// The numbers of `name` in `abi` (x32: its own number and the x86_64 one, which the
    /// kernel refuses for x32 where it has its own, but a rule then covers both).
    fn nrs(&self, abi: Abi, name: &str) -> Vec<u32> {
        match abi {
            Abi::X86_64 => self.x86_64.get(name).copied().into_iter().collect(),
            Abi::I386 => self.i386.get(name).copied().into_iter().collect(),
            Abi::X32 => (self.x86_64.get(name).into_iter())
                .chain(self.x32_own.get(name))
                .map(|n| n | X32_BIT)
                .collect(),
        }
    }
}

/// An action's return value; `errno`: the rule's errnoRet (EPERM when absent, as runc).
fn action(path: &str, name: &str, errno: Option<u32>) -> Result<u32, OciError> {
    let data = |default: u32| -> Result<u32, OciError> {
        match errno.unwrap_or(default) {
            e if e <= 0xFFFF => Ok(e),
            e => Err(err(path, format!("errno {e}: at most 65535"))),
        }
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data(nix::errno::Errno::EPERM as u32)?,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        // Without a tracer the call fails with ENOSYS; the data is the tracer's message.
        "SCMP_ACT_TRACE" => RET_TRACE | data(0)?,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => {
            return Err(err(
                path,
                "\"SCMP_ACT_NOTIFY\": not supported (sbox has no seccomp agent)",
            ));
        }
        other => return Err(err(path, format!("{other:?}: not a seccomp action"))),
    })
}

/// One argument check, compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// (arg & mask) == value.
    MaskedEq(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
}

fn cond(path: &str, a: &ArgRule) -> Result<Cond, OciError> {
    let two = || {
        a.value_two.ok_or_else(|| {
            err(
                &format!("{path}.valueTwo"),
                "missing (required for SCMP_CMP_MASKED_EQ)",
            )
        })
    };
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_EQ" => (Op::Eq, a.value),
        "SCMP_CMP_NE" => (Op::Ne, a.value),
        "SCMP_CMP_LT" => (Op::Lt, a.value),
        "SCMP_CMP_LE" => (Op::Le, a.value),
        "SCMP_CMP_GT" => (Op::Gt, a.value),
        "SCMP_CMP_GE" => (Op::Ge, a.value),
        // The mask is `value`, the value to compare `valueTwo` (libseccomp's order).
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(a.value), two()?),
        other => {
            return Err(err(
                &format!("{path}.op"),
                format!("{other:?}: not a comparison (SCMP_CMP_EQ, NE, LT, LE, GT, GE, MASKED_EQ)"),
            ));
        }
    };
    Ok(Cond {
        index: a.index,
        op,
        value,
    })
}

/// What a syscall number gets: a return, or rules to check in order then the default.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    Rules(Vec<(Vec<Cond>, u32)>),
}

/// Compile linux.seccomp.
pub fn compile(s: &Seccomp) -> Result<BpfProgram, OciError> {
    let base = "linux.seccomp";
    let default = action(
        &format!("{base}.defaultAction"),
        &s.default_action,
        s.default_errno_ret,
    )?;
    for (i, f) in s.flags.iter().enumerate() {
        match f.as_str() {
            // sbox's command is single-threaded when the filter is installed.
            "SECCOMP_FILTER_FLAG_TSYNC" => {}
            other => {
                return Err(err(
                    &format!("{base}.flags[{i}]"),
                    format!("{other:?}: not supported"),
                ));
            }
        }
    }
    // The native ABI always (runc adds the listed arches to libseccomp's native filter).
    let mut abis = vec![Abi::X86_64];
    for (i, a) in s.architectures.iter().enumerate() {
        let abi = match a.as_str() {
            "SCMP_ARCH_X86_64" => Abi::X86_64,
            "SCMP_ARCH_X86" => Abi::I386,
            "SCMP_ARCH_X32" => Abi::X32,
            a if FOREIGN_ARCHES.contains(&a) => continue,
            other => {
                return Err(err(
                    &format!("{base}.architectures[{i}]"),
                    format!(
                        "{other:?}: not an architecture (SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, ...)"
                    ),
                ));
            }
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    // Rules by syscall, in the profile's order, checked once for every ABI.
    let mut rules: Vec<(&SyscallRule, Vec<Cond>, u32)> = Vec::new();
    for (i, r) in s.syscalls.iter().enumerate() {
        let path = format!("{base}.syscalls[{i}]");
        let act = action(&format!("{path}.action"), &r.action, r.errno_ret)?;
        let conds = (r.args.iter().enumerate())
            .map(|(j, a)| cond(&format!("{path}.args[{j}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        if r.names.is_empty() {
            return Err(err(&format!("{path}.names"), "empty"));
        }
        rules.push((r, conds, act));
    }
    let names = Names::new();
    let table = |abi: Abi| -> BTreeMap<u32, Leaf> {
        let mut by_nr: BTreeMap<u32, Vec<(Vec<Cond>, u32)>> = BTreeMap::new();
        // i386 calls made through socketcall(2) or ipc(2) meet their name's rules first (a
        // rule denying `socket` must hold there too), then the multiplexer's own; only rules
        // without argument checks, since the arguments are in memory, out of sight.
        if abi == Abi::I386 {
            for (r, _, act) in rules.iter().filter(|(_, c, _)| c.is_empty()) {
                for (mux, cond) in r.names.iter().flat_map(|n| multiplexed(n)) {
                    by_nr.entry(mux).or_default().push((vec![cond], *act));
                }
            }
        }
        for (r, conds, act) in &rules {
            for name in &r.names {
                for nr in names.nrs(abi, name) {
                    by_nr.entry(nr).or_default().push((conds.clone(), *act));
                }
            }
        }
        by_nr
            .into_iter()
            .map(|(nr, mut list)| {
                // What follows a rule without checks is never reached.
                if let Some(end) = list.iter().position(|(c, _)| c.is_empty()) {
                    list.truncate(end + 1);
                }
                let leaf = match list.as_slice() {
                    [(c, act)] if c.is_empty() => Leaf::Ret(*act),
                    _ => Leaf::Rules(list),
                };
                (nr, leaf)
            })
            .collect()
    };
    let kill = vec![ret(RET_KILL_PROCESS)];
    let abi_code = |abi: Abi| -> Vec<sock_filter> {
        let mut code = vec![ld(NR)];
        // The default from 0 (x32: from the bit) to the first listed number.
        let start = if abi == Abi::X32 { X32_BIT } else { 0 };
        code.extend(search(&ranges(&table(abi), start, default), default));
        code
    };
    let has = |a: Abi| abis.contains(&a);
    // x86_64 and x32 share the arch value: the number's bit 30 tells them apart.
    let native = match (has(Abi::X86_64), has(Abi::X32)) {
        (false, false) => kill.clone(),
        (x64, x32) => {
            let mut p = vec![ld(NR)];
            let on = |yes: bool, abi| if yes { abi_code(abi) } else { kill.clone() };
            // Number -1 is no call (a tracer's way to skip one; the kernel answers ENOSYS):
            // an x86_64 number with no rule, as libseccomp has it, not an x32 one.
            let minus_one = vec![ret(if x64 { default } else { RET_KILL_PROCESS })];
            p.extend(if_else(
                JGE,
                X32_BIT,
                if_else(JEQ, u32::MAX, minus_one, on(x32, Abi::X32)),
                on(x64, Abi::X86_64),
            ));
            p
        }
    };
    let compat = if has(Abi::I386) {
        abi_code(Abi::I386)
    } else {
        kill.clone()
    };
    let mut p = vec![ld(ARCH)];
    p.extend(if_else(
        JEQ,
        AUDIT_ARCH_X86_64,
        native,
        if_else(JEQ, AUDIT_ARCH_I386, compat, kill.clone()),
    ));
    if p.len() > MAX_LEN {
        return Err(err(
            base,
            format!(
                "{} BPF instructions: more than the kernel's {MAX_LEN}",
                p.len()
            ),
        ));
    }
    Ok(p)
}

/// The i386 multiplexer calls that do what `name` does: (socketcall or ipc, the check of its
/// call number). `send` and `recv` are libseccomp's names of socketcall's own calls 9, 10.
fn multiplexed(name: &str) -> Vec<(u32, Cond)> {
    let call = |value: u32, mask: Option<u64>| Cond {
        index: 0,
        op: mask.map_or(Op::Eq, Op::MaskedEq),
        value: value.into(),
    };
    let own = match name {
        "send" => Some(9),
        "recv" => Some(10),
        _ => None,
    };
    (i386::SOCKETCALL_CALLS.iter())
        .filter(|(_, n)| *n == name)
        .map(|&(c, _)| c)
        .chain(own)
        .map(|c| (i386::SOCKETCALL, call(c, None)))
        .chain(
            (i386::IPC_CALLS.iter())
                .filter(|(_, n)| *n == name)
                .map(|&(c, _)| (i386::IPC, call(c, Some(0xFFFF)))),
        )
        .collect()
}

/// Ranges of numbers with the same leaf, (first number, leaf), from `start`; the last one
/// is open-ended.
fn ranges(table: &BTreeMap<u32, Leaf>, start: u32, default: u32) -> Vec<(u32, Leaf)> {
    let mut out = vec![(start, Leaf::Ret(default))];
    // A range that starts where the last one did replaces it; equal neighbours merge.
    let push = |out: &mut Vec<(u32, Leaf)>, nr: u32, l: Leaf| {
        if out.last().is_some_and(|r| r.0 == nr) {
            out.pop();
        }
        if out.last().map(|r| &r.1) != Some(&l) {
            out.push((nr, l));
        }
    };
    for (&nr, l) in table {
        push(&mut out, nr, l.clone());
        if let Some(next) = nr.checked_add(1)
            && !table.contains_key(&next)
        {
            push(&mut out, next, Leaf::Ret(default));
        }
    }
    out
}

// --- BPF -----------------------------------------------------------------------------------

/// `if A <code> k { yes } else { no }`; both end in a return. A conditional jump reaches 255
/// instructions: a longer `no` is stepped over with JA.
fn if_else(code: u16, k: u32, yes: Vec<sock_filter>, no: Vec<sock_filter>) -> Vec<sock_filter> {
    let mut p = Vec::with_capacity(2 + yes.len() + no.len());
    match u8::try_from(no.len()) {
        Ok(n) => p.push(jump(code, k, n, 0)),
        Err(_) => p.extend([jump(code, k, 0, 1), jump(JA, no.len() as u32, 0, 0)]),
    }
    p.extend(no);
    p.extend(yes);
    p
}

/// Binary search over `ranges` (the number in A), down to each range's code.
fn search(ranges: &[(u32, Leaf)], default: u32) -> Vec<sock_filter> {
    if let [(_, l)] = ranges {
        return leaf_code(l, default);
    }
    let mid = ranges.len() / 2;
    if_else(
        JGE,
        ranges[mid].0,
        search(&ranges[mid..], default),
        search(&ranges[..mid], default),
    )
}

/// An instruction of a rule, whose jumps may go to the rule's end (`Fail`: the next rule).
enum Ins {
    Plain(sock_filter),
    /// A conditional jump: (code, k, jt, jf), each target a count to skip or the end.
    Jump(u16, u32, To, To),
}

#[derive(Clone, Copy)]
enum To {
    Skip(u8),
    Fail,
}

fn cond_code(c: &Cond) -> Vec<Ins> {
    use Ins::{Jump, Plain};
    use To::{Fail, Skip};
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let ld_hi = Plain(ld(arg_lo(c.index) + 4));
    let ld_lo = Plain(ld(arg_lo(c.index)));
    // Each falls through when the check holds, and jumps to the end of the rule when not.
    match c.op {
        Op::Eq => vec![
            ld_hi,
            Jump(JEQ, hi, Skip(0), Fail),
            ld_lo,
            Jump(JEQ, lo, Skip(0), Fail),
        ],
        Op::Ne => vec![
            ld_hi,
            Jump(JEQ, hi, Skip(0), Skip(2)),
            ld_lo,
            Jump(JEQ, lo, Fail, Skip(0)),
        ],
        Op::MaskedEq(mask) => {
            let and = |m: u32| Plain(jump(AND, m, 0, 0));
            vec![
                ld_hi,
                and((mask >> 32) as u32),
                Jump(JEQ, hi, Skip(0), Fail),
                ld_lo,
                and(mask as u32),
                Jump(JEQ, lo, Skip(0), Fail),
            ]
        }
        // Unsigned 64-bit order: the high halves decide unless equal.
        Op::Gt | Op::Ge => {
            let last = if c.op == Op::Gt { JGT } else { JGE };
            vec![
                ld_hi,
                Jump(JGT, hi, Skip(3), Skip(0)),
                Jump(JEQ, hi, Skip(0), Fail),
                ld_lo,
                Jump(last, lo, Skip(0), Fail),
            ]
        }
        Op::Lt | Op::Le => {
            // lo < v is !(lo >= v); lo <= v is !(lo > v).
            let last = if c.op == Op::Lt { JGE } else { JGT };
            vec![
                ld_hi,
                Jump(JGE, hi, Skip(0), Skip(3)),
                Jump(JEQ, hi, Skip(0), Fail),
                ld_lo,
                Jump(last, lo, Fail, Skip(0)),
            ]
        }
    }
}

fn leaf_code(l: &Leaf, default: u32) -> Vec<sock_filter> {
    let rules = match l {
        Leaf::Ret(k) => return vec![ret(*k)],
        Leaf::Rules(r) => r,
    };
    let mut p = Vec::new();
    for (conds, act) in rules {
        let ins: Vec<Ins> = conds.iter().flat_map(cond_code).collect();
        // The rule's end is just past its return.
        let n = ins.len();
        let to = |t: To, i: usize| match t {
            To::Skip(s) => s,
            To::Fail => (n - i) as u8,
        };
        for (i, x) in ins.into_iter().enumerate() {
            p.push(match x {
                Ins::Plain(f) => f,
                Ins::Jump(code, k, jt, jf) => jump(code, k, to(jt, i), to(jf, i)),
            });
        }
        p.push(ret(*act));
    }
    p.push(ret(default));
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::config::parse;
    use crate::spec::bpf::{LD_W_ABS, RET};

    /// A call: (arch, nr, args).
    type Call = (u32, u32, [u64; 6]);

    /// Run a classic-BPF program on a call, as the kernel would.
    fn run(p: &[sock_filter], c: &Call) -> u32 {
        let word = |off: u32| -> u32 {
            match off {
                0 => c.1,
                4 => c.0,
                o if (16..64).contains(&o) => {
                    let a = c.2[((o - 16) / 8) as usize];
                    if (o - 16) % 8 == 0 {
                        a as u32
                    } else {
                        (a >> 32) as u32
                    }
                }
                o => panic!("load at {o}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = &p[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = word(i.k),
                AND => acc &= i.k,
                RET => return i.k,
                JA => pc += i.k as usize,
                JEQ | JGE | JGT => {
                    let t = match i.code {
                        JEQ => acc == i.k,
                        JGE => acc >= i.k,
                        _ => acc > i.k,
                    };
                    pc += if t { i.jt } else { i.jf } as usize;
                }
                c => panic!("code {c:#x}"),
            }
        }
    }

    fn seccomp(json: &str) -> Seccomp {
        let text = format!(r#"{{"ociVersion":"1.0.2","linux":{{"seccomp":{json}}}}}"#);
        parse(&text).unwrap().linux.unwrap().seccomp.unwrap()
    }

    fn x64(name: &str, args: [u64; 6]) -> Call {
        (AUDIT_ARCH_X86_64, syscalls::nr(name).unwrap() as u32, args)
    }

    #[test]
    fn names_actions_and_arches() {
        let s = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
            "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64"],
            "syscalls":[
              {"names":["read","write","getpid","no_such_call"],"action":"SCMP_ACT_ALLOW"},
              {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
              {"names":["kill"],"action":"SCMP_ACT_KILL_PROCESS"},
              {"names":["ptrace"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let p = compile(&s).unwrap();
        let z = [0; 6];
        assert_eq!(run(&p, &x64("read", z)), RET_ALLOW);
        assert_eq!(run(&p, &x64("getpid", z)), RET_ALLOW);
        assert_eq!(run(&p, &x64("mkdir", z)), RET_ERRNO | 13);
        assert_eq!(run(&p, &x64("kill", z)), RET_KILL_PROCESS);
        assert_eq!(run(&p, &x64("openat", z)), RET_ERRNO | 38);
        assert_eq!(run(&p, &(AUDIT_ARCH_X86_64, 100_000, z)), RET_ERRNO | 38);
        // i386: by its own numbers (getpid is 20, mkdir 39).
        assert_eq!(run(&p, &(AUDIT_ARCH_I386, 20, z)), RET_ALLOW);
        assert_eq!(run(&p, &(AUDIT_ARCH_I386, 39, z)), RET_ERRNO | 13);
        assert_eq!(run(&p, &(AUDIT_ARCH_I386, 5, z)), RET_ERRNO | 38);
        // x32: the x86_64 number with bit 30, and x32's own (ptrace is 521).
        assert_eq!(run(&p, &(AUDIT_ARCH_X86_64, 39 | X32_BIT, z)), RET_ALLOW);
        assert_eq!(run(&p, &(AUDIT_ARCH_X86_64, 521 | X32_BIT, z)), RET_ALLOW);
        assert_eq!(
            run(&p, &(AUDIT_ARCH_X86_64, 2 | X32_BIT, z)),
            RET_ERRNO | 38
        );
        // -1: no call, the default (x32 is listed, yet it is not an x32 number).
        assert_eq!(run(&p, &(AUDIT_ARCH_X86_64, u32::MAX, z)), RET_ERRNO | 38);
        // Another machine's arch: killed.
        assert_eq!(run(&p, &(0xC000_00B7, 0, z)), RET_KILL_PROCESS);
    }

    /// i386 calls through socketcall and ipc meet the rules of their names (without argument
    /// checks), then the multiplexer's own rule, then the default.
    #[test]
    fn socketcall_and_ipc_meet_the_rules_of_their_calls() {
        let s = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
              {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97},
              {"names":["connect"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":3,"op":"SCMP_CMP_EQ"}]},
              {"names":["send","shmget"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
              {"names":["socketcall"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        );
        let p = compile(&s).unwrap();
        let mux = |nr, a0: u64| run(&p, &(AUDIT_ARCH_I386, nr, [a0, 0, 0, 0, 0, 0]));
        assert_eq!(mux(i386::SOCKETCALL, 1), RET_ERRNO | 97, "socket");
        assert_eq!(mux(359, 0), RET_ERRNO | 97, "socket, direct");
        assert_eq!(mux(i386::SOCKETCALL, 9), RET_ERRNO | 13, "send");
        // connect's rule checks arguments: via socketcall, socketcall's own rule decides.
        assert_eq!(mux(i386::SOCKETCALL, 3), RET_ERRNO | 38, "connect");
        assert_eq!(mux(i386::IPC, 23), RET_ERRNO | 13, "shmget");
        assert_eq!(
            mux(i386::IPC, 0x1_0017),
            RET_ERRNO | 13,
            "shmget, version bits"
        );
        assert_eq!(mux(i386::IPC, 24), RET_ALLOW, "shmctl");
    }

    #[test]
    fn unlisted_abis_are_killed() {
        let s = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let p = compile(&s).unwrap();
        let z = [0; 6];
        assert_eq!(run(&p, &x64("getpid", z)), RET_ERRNO | 1);
        assert_eq!(run(&p, &x64("getppid", z)), RET_ALLOW);
        assert_eq!(run(&p, &(AUDIT_ARCH_I386, 20, z)), RET_KILL_PROCESS);
        assert_eq!(
            run(&p, &(AUDIT_ARCH_X86_64, 39 | X32_BIT, z)),
            RET_KILL_PROCESS
        );
        // -1 is no call: x86_64's default even without x32 listed.
        assert_eq!(run(&p, &(AUDIT_ARCH_X86_64, u32::MAX, z)), RET_ALLOW);
        // Only another machine's arch listed: x86_64 is still the filter's own.
        let s = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_AARCH64"],"syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let p = compile(&s).unwrap();
        assert_eq!(run(&p, &x64("getpid", z)), RET_ERRNO | 1);
        assert_eq!(run(&p, &(AUDIT_ARCH_I386, 20, z)), RET_KILL_PROCESS);
    }

    /// Each comparison against a reference on values around the boundary, high halves too.
    #[test]
    fn argument_comparisons_are_64_bit() {
        let values = [
            0u64,
            1,
            5,
            0xFFFF_FFFF,
            0x1_0000_0000,
            0x1_0000_0005,
            u64::MAX,
        ];
        for op in ["EQ", "NE", "LT", "LE", "GT", "GE", "MASKED_EQ"] {
            for &v in &values {
                let s = seccomp(&format!(
                    r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","args":[{{"index":2,"value":{v},"valueTwo":{two},"op":"SCMP_CMP_{op}"}}]}}]}}"#,
                    two = v & 0x1_0000_0001,
                ));
                let p = compile(&s).unwrap();
                for &a in &values {
                    let want = match op {
                        "EQ" => a == v,
                        "NE" => a != v,
                        "LT" => a < v,
                        "LE" => a <= v,
                        "GT" => a > v,
                        "GE" => a >= v,
                        _ => a & v == v & 0x1_0000_0001,
                    };
                    let got = run(&p, &x64("ioctl", [0, 0, a, 0, 0, 0])) != RET_ALLOW;
                    assert_eq!(got, want, "{op} arg {a:#x} value {v:#x}");
                }
            }
        }
    }

    /// Several rules for one call (podman's personality(2) values): any that matches.
    #[test]
    fn rules_of_one_call_are_tried_in_order() {
        let s = seccomp(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
              {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
              {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
              {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let p = compile(&s).unwrap();
        let call = |n: &str, a0, a1| run(&p, &x64(n, [a0, a1, 0, 0, 0, 0]));
        assert_eq!(call("personality", 0, 0), RET_ALLOW);
        assert_eq!(call("personality", 8, 0), RET_ALLOW);
        assert_eq!(call("personality", 9, 0), RET_ERRNO | 1);
        assert_eq!(call("clone", 0x11, 0), RET_ALLOW);
        assert_eq!(call("clone", 0x1000_0000, 0), RET_ERRNO | 1);
        assert_eq!(call("clone", 0x11, 1), RET_ERRNO | 1);
    }

    /// What `features` says is what compiles.
    #[test]
    fn the_feature_lists_compile() {
        for act in ACTIONS {
            for op in OPERATORS {
                let json = format!(
                    r#"{{"defaultAction":"{act}","architectures":{ARCHES:?},"flags":{FLAGS:?},"syscalls":[{{"names":["read"],"action":"{act}","args":[{{"index":0,"value":1,"valueTwo":1,"op":"{op}"}}]}}]}}"#
                );
                assert!(compile(&seccomp(&json)).is_ok(), "{json}");
            }
        }
    }

    #[test]
    fn refusals_name_their_path() {
        let e = |json: &str| compile(&seccomp(json)).unwrap_err().0;
        assert_eq!(
            e(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#),
            "config.json: linux.seccomp.defaultAction: \"SCMP_ACT_NOTIFY\": not supported (sbox has no seccomp agent)"
        );
        assert!(e(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}"#)
            .starts_with("config.json: linux.seccomp.architectures[0]: \"SCMP_ARCH_VAX\": not an architecture"));
        assert!(e(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#)
            .starts_with("config.json: linux.seccomp.syscalls[0].args[0].valueTwo: missing"));
        assert!(e(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"]}"#)
            .starts_with("config.json: linux.seccomp.flags[0]: \"SECCOMP_FILTER_FLAG_LOG\": not supported"));
    }

    /// Long profiles: every name of both tables in rules of their own, with arguments.
    #[test]
    fn a_long_profile_fits_and_jumps_stay_inside() {
        let names: Vec<String> = syscalls::SYSCALLS
            .iter()
            .map(|(n, _)| format!("{n:?}"))
            .collect();
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{{"names":[{}],"action":"SCMP_ACT_ALLOW","args":[{{"index":1,"value":7,"op":"SCMP_CMP_NE"}}]}}]}}"#,
            names.join(",")
        );
        let p = compile(&seccomp(&json)).unwrap();
        assert!(p.len() <= MAX_LEN, "{}", p.len());
        for (i, f) in p.iter().enumerate() {
            let reach = match f.code {
                RET => 0,
                JA => f.k as usize,
                LD_W_ABS | AND => 0,
                _ => f.jt.max(f.jf) as usize,
            };
            assert!(i + reach < p.len(), "jump out at {i}");
        }
        assert_eq!(run(&p, &x64("read", [0, 1, 0, 0, 0, 0])), RET_ALLOW);
        assert_eq!(run(&p, &x64("read", [0, 7, 0, 0, 0, 0])), RET_ERRNO | 1);
    }

    // --- The compiled program against the rules read directly --------------------------

    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "read",
        "ioctl",
        "socket",
        "personality",
        "clone",
        "getpid",
        "ptrace",
    ];
    const VALUES: &[u64] = &[0, 1, 7, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0007, u64::MAX];
    const ACTIONS: &[&str] = &[
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ];
    const OPS: &[&str] = &["EQ", "NE", "LT", "LE", "GT", "GE", "MASKED_EQ"];
    const ARCHES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];

    fn arg_rule() -> impl Strategy<Value = ArgRule> {
        (
            0u32..3,
            prop::sample::select(VALUES),
            prop::sample::select(VALUES),
            prop::sample::select(OPS),
        )
            .prop_map(|(index, value, two, op)| ArgRule {
                index,
                value,
                value_two: Some(two),
                op: format!("SCMP_CMP_{op}"),
            })
    }

    fn rule() -> impl Strategy<Value = SyscallRule> {
        (
            prop::sample::subsequence(NAMES, 1..3),
            prop::sample::select(ACTIONS),
            1u32..200,
            prop::collection::vec(arg_rule(), 0..3),
        )
            .prop_map(|(names, action, errno, args)| SyscallRule {
                names: names.iter().map(|n| n.to_string()).collect(),
                action: action.into(),
                errno_ret: Some(errno),
                args,
            })
    }

    fn profile() -> impl Strategy<Value = Seccomp> {
        (
            prop::sample::select(ACTIONS),
            prop::sample::subsequence(ARCHES, 0..4),
            prop::collection::vec(rule(), 0..8),
        )
            .prop_map(|(default, arches, syscalls)| Seccomp {
                default_action: default.into(),
                default_errno_ret: Some(38),
                architectures: arches.iter().map(|a| a.to_string()).collect(),
                flags: Vec::new(),
                syscalls,
            })
    }

    /// What the profile says for a call, read from the rules: the ABI listed, then the first
    /// rule naming the call whose checks all hold, else the default.
    fn reference(s: &Seccomp, abi: Abi, name: &str, args: &[u64; 6]) -> u32 {
        let listed = abi == Abi::X86_64
            || s.architectures.iter().any(|a| match abi {
                Abi::X86_64 => true,
                Abi::I386 => a == "SCMP_ARCH_X86",
                Abi::X32 => a == "SCMP_ARCH_X32",
            });
        if !listed {
            return RET_KILL_PROCESS;
        }
        let holds = |a: &ArgRule| {
            let x = args[a.index as usize];
            match a.op.as_str() {
                "SCMP_CMP_EQ" => x == a.value,
                "SCMP_CMP_NE" => x != a.value,
                "SCMP_CMP_LT" => x < a.value,
                "SCMP_CMP_LE" => x <= a.value,
                "SCMP_CMP_GT" => x > a.value,
                "SCMP_CMP_GE" => x >= a.value,
                _ => x & a.value == a.value_two.unwrap(),
            }
        };
        for r in &s.syscalls {
            if r.names.iter().any(|n| n == name) && r.args.iter().all(holds) {
                return action("", &r.action, r.errno_ret).unwrap();
            }
        }
        action("", &s.default_action, s.default_errno_ret).unwrap()
    }

    proptest! {
        // 256 cases unless PROPTEST_CASES says (the default config reads it).
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn the_program_answers_as_the_rules_say(
            s in profile(),
            calls in prop::collection::vec(
                (prop::sample::select(NAMES), 0usize..3, prop::array::uniform6(prop::sample::select(VALUES))),
                1..16,
            ),
        ) {
            let p = compile(&s).unwrap();
            let names = Names::new();
            for (name, abi, args) in calls {
                let abi = [Abi::X86_64, Abi::I386, Abi::X32][abi];
                let arch = if abi == Abi::I386 { AUDIT_ARCH_I386 } else { AUDIT_ARCH_X86_64 };
                // Every number of the name in that ABI (x32: both).
                for nr in names.nrs(abi, name) {
                    let got = run(&p, &(arch, nr, args));
                    prop_assert_eq!(got, reference(&s, abi, name, &args), "{} {:?} nr {}", name, abi, nr);
                }
            }
        }
    }
}
