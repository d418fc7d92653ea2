"""The seccomp filter of the agent's side of a sandbox, as a hand-assembled BPF program.

bubblewrap's ``--seccomp FD`` loads a compiled classic-BPF program (an array of
``struct sock_filter``, 8 bytes each) and applies it to the sandboxed command just
before ``execve``; every descendant inherits it and cannot remove it. libseccomp's
Python bindings are not installable into the virtualenv here, so the program is
written out by hand below, for x86-64 only; on any other architecture the sandbox
refuses to start rather than run without a filter.

The program, in order:

1. the architecture must be x86-64 (``AUDIT_ARCH_X86_64``); anything else, including
   a 32-bit ``int 0x80`` call, kills the process;
2. x32 system calls (number with bit 30 set) fail with ``EPERM``;
3. ``clone3`` fails with ``ENOSYS``, so that the C library falls back to ``clone``,
   whose flags a classic BPF program can read (``clone3`` passes them in memory);
4. ``clone`` with any ``CLONE_NEW*`` namespace flag fails with ``EPERM``;
5. the escape primitives in :data:`DENIED` fail with ``EPERM``: namespaces
   (``unshare``, ``setns``), mounts and the new mount API, ``pivot_root``, ``chroot``,
   tracing and reading other processes (``ptrace``, ``process_vm_readv/writev``,
   ``kcmp``, ``pidfd_getfd``), the kernel keyring, ``bpf``, ``perf_event_open``,
   ``userfaultfd``, ``io_uring``, kernel modules and ``kexec``, ``open_by_handle_at``,
   swap, reboot, accounting, quotas, I/O ports and the kernel log;
6. everything else is allowed.
"""

from __future__ import annotations

import platform
import struct

# classic BPF opcodes (linux/bpf_common.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

# linux/seccomp.h return values
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
EPERM = 1
ENOSYS = 38

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# offsets into struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little-endian)
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h)
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NAMESPACES |= 0x20000000 | 0x40000000

SYS_CLONE = 56
SYS_CLONE3 = 435

# x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl)
DENIED: dict[str, int] = {
    "ptrace": 101,
    "syslog": 103,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
}


class UnsupportedArchitecture(RuntimeError):
    """The filter is written for x86-64 only."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program() -> bytes:
    """The compiled filter, ready for ``bwrap --seccomp FD`` (raises off x86-64)."""
    machine = platform.machine()
    if machine not in ("x86_64", "AMD64"):
        raise UnsupportedArchitecture(
            f"the sandbox's seccomp filter is written for x86-64, not {machine}"
        )
    eperm = RET_ERRNO | EPERM
    out = [
        _insn(_LD_W_ABS, 0, 0, _ARCH),
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _NR),
        _insn(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, eperm),
        _insn(_JEQ_K, 0, 1, SYS_CLONE3),
        _insn(_RET_K, 0, 0, RET_ERRNO | ENOSYS),
        # clone: look at the low 32 bits of its flags, where every CLONE_NEW* bit lives
        _insn(_JEQ_K, 0, 3, SYS_CLONE),
        _insn(_LD_W_ABS, 0, 0, _ARG0_LOW),
        _insn(_JSET_K, 0, 1, CLONE_NAMESPACES),
        _insn(_RET_K, 0, 0, eperm),
        # the accumulator may now hold clone's flags: reload the number
        _insn(_LD_W_ABS, 0, 0, _NR),
    ]
    for number in sorted(DENIED.values()):
        out.append(_insn(_JEQ_K, 0, 1, number))
        out.append(_insn(_RET_K, 0, 0, eperm))
    out.append(_insn(_RET_K, 0, 0, RET_ALLOW))
    return b"".join(out)
