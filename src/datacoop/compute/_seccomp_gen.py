"""Compile the sandbox's two seccomp programs with libseccomp (run by the system Python, stdlib + seccomp).

Started as ``/usr/bin/python3 -I _seccomp_gen.py``; prints ``{"outer": HEX, "inner": HEX}``: the
classic-BPF programs that :mod:`datacoop.compute.syscalls` hands to bubblewrap (``outer``, for
every process of the sandbox) and to the runner's child (``inner``, for the buyer's code only).
Debian's ``python3-seccomp`` comes from the same source package as libseccomp itself, so the
compiler is the library's own; the programs are built once per DataCoop process.
"""

import errno
import json
import sys
import tempfile

import seccomp  # type: ignore[import-not-found]  # Debian python3-seccomp: the system interpreter's

CLONE_THREAD = 0x00010000

# what a numeric job never needs; each ends the whole process (SIGSYS), so an attempt is seen
KILLED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr", "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "syslog", "iopl", "ioperm", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "lookup_dcookie", "uselib", "vhangup", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "kcmp", "mknod", "mknodat",
)  # fmt: skip
# no socket of any family (AF_UNIX included): refused with EPERM, as a library that probes expects;
# nor memory outside the address-space limit: SysV IPC, POSIX message queues, memfd
REFUSED = (
    "socket", "socketpair", "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
    "semop", "semtimedop", "semctl", "mq_open", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr", "mq_unlink", "memfd_create", "memfd_secret",
)  # fmt: skip
# the buyer's code starts no process and runs no program: EPERM; threads (CLONE_THREAD) still start
INNER_REFUSED = ("execve", "execveat", "fork", "vfork")


def _compile(build: "seccomp.SyscallFilter") -> str:
    with tempfile.TemporaryFile() as f:
        build.export_bpf(f)
        f.seek(0)
        return f.read().hex()


def outer() -> str:
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in KILLED:
        f.add_rule(seccomp.KILL_PROCESS, name)
    for name in REFUSED:
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    return _compile(f)


def inner() -> str:
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in INNER_REFUSED:
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # flags sit behind a pointer: glibc falls back to clone
    return _compile(f)


if __name__ == "__main__":
    json.dump({"outer": outer(), "inner": inner()}, sys.stdout)
