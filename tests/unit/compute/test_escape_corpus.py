"""The escape corpus: hostile jobs run in the real sandbox, each stopped in one exact way.

A case is one attempt written the way an attacker would write it; the job records what the
attempt got (an errno name, an exception, or "ok" where it is harmless) into ``/out/r.json``,
or the kernel kills it (SIGSYS from the seccomp filter) and the sandbox says so. The node's
own files (its data directory, database, secrets and blobs) sit on the host at known paths
that every file case names, so "not found" means the path is not there, not a typo.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from datacoop.compute.sandbox import (
    Limits,
    SandboxResult,
    prepare_dirs,
    run_sandboxed,
    seal_read_only,
    unseal,
)

PRELUDE = """
import ctypes, errno, json, os, shutil, signal, socket, subprocess, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
NODE = {node!r}

def outcome(fn):
    try:
        value = fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    except BaseException as exc:
        return type(exc).__name__
    return value if isinstance(value, (int, str, list)) and not isinstance(value, bool) else "ok"

def syscall(nr, *args):
    if libc.syscall(nr, *args) < 0:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"

def thread_bomb():
    for _ in range(10_000):
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()

def fill(path):
    with open(path, "wb") as f:
        while True:
            f.write(b"x" * 65536)
            f.flush()

def fork_bomb():
    while True:
        os.fork()

def run(data_dir, out_dir):
    result = {attempt}
    json.dump({{"result": result}}, open(os.path.join(out_dir, "r.json"), "w"))
"""

SOCKETS = {
    "socket_inet": "outcome(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))",
    "socket_inet6": "outcome(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))",
    "socket_unix_stream": "outcome(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))",
    "socket_unix_dgram": "outcome(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))",
    "socket_netlink": "outcome(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))",
    "socket_packet": "outcome(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))",
    "socket_vsock": "outcome(lambda: socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM))",
    "socket_alg": "outcome(lambda: socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET))",
    "socketpair": "outcome(lambda: socket.socketpair())",
    "socket_raw_syscall": "syscall(41, 2, 1, 0)",
    "connect_host_loopback": "outcome(lambda: socket.create_connection(('127.0.0.1', 22), timeout=1))",
}
PROCESSES = {
    "fork": "outcome(os.fork)",
    "fork_bomb": "outcome(fork_bomb)",
    "subprocess_fork_exec": "outcome(lambda: subprocess.run([sys.executable, '-c', '0']))",
    "subprocess_posix_spawn": (
        "outcome(lambda: (setattr(subprocess, '_USE_POSIX_SPAWN', True),"
        " subprocess.run(['/usr/bin/true'], close_fds=False)))"
    ),
    "posix_spawn": "outcome(lambda: os.posix_spawn(sys.executable, [sys.executable, '-c', '0'], {}))",
    "posix_spawnp": "outcome(lambda: os.posix_spawnp('sh', ['sh', '-c', 'true'], {}))",
    "os_system": "os.system('true')",  # glibc: a shell that could not start reads as exit status 127
    "execv": "outcome(lambda: os.execv(sys.executable, [sys.executable, '-c', '0']))",
    "spawnv": "outcome(lambda: os.spawnv(os.P_WAIT, sys.executable, [sys.executable, '-c', '0']))",
    "forkpty": "outcome(os.forkpty)",
    "thread_bomb": "outcome(thread_bomb)",
    "kill_the_runner": "(outcome(lambda: os.kill(1, signal.SIGKILL)), time.sleep(0.2), 'still here')[2]",
}
FORBIDDEN_SYSCALLS = {  # x86_64 numbers; each kills the job with SIGSYS
    "ptrace_traceme": "syscall(101, 0, 0, 0, 0)",
    "unshare_user": "syscall(272, 0x10000000)",
    "unshare_mount": "syscall(272, 0x00020000)",
    "setns": "syscall(308, os.open('/proc/self/ns/net', os.O_RDONLY), 0)",
    "mount_tmpfs": "syscall(165, b'none', b'/tmp', b'tmpfs', 0, None)",
    "umount2": "syscall(166, b'/data', 2)",
    "bpf": "syscall(321, 0, None, 0)",
    "keyctl": "syscall(250, 0, 0, 0, 0, 0)",
    "add_key": "syscall(248, b'user', b'k', b'v', 1, -4)",
    "perf_event_open": "syscall(298, None, 0, -1, -1, 0)",
    "process_vm_readv": "syscall(310, 1, None, 0, None, 0, 0)",
    "chroot": "outcome(lambda: os.chroot('/tmp'))",
    "pivot_root": "syscall(155, b'/tmp', b'/tmp')",
    "init_module": "syscall(175, None, 0, b'')",
    "kexec_load": "syscall(246, 0, 0, None, 0)",
    "io_uring_setup": "syscall(425, 1, None)",
    "userfaultfd": "syscall(323, 0)",
    "open_by_handle_at": "syscall(304, -100, None, 0)",
    "pidfd_getfd": "syscall(438, 0, 0, 0)",
    # a shared object written to /tmp loads, but its ptrace is the kernel's to stop
    "native_library_from_tmp": (
        "(shutil.copy('/usr/lib/x86_64-linux-gnu/libc.so.6', '/tmp/evil.so'),"
        " ctypes.CDLL('/tmp/evil.so').ptrace(0, 0, 0, 0))"
    ),
}
SIGSYS = "killed by SIGSYS"


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node's data directory on the host, with what a job would want to steal."""
    home = tmp_path_factory.mktemp("node")
    for name in ("download_secret", "compute_url_secret", "datacoop.db", "keys/operator.json"):
        (home / name).parent.mkdir(exist_ok=True)
        (home / name).write_text("secret " + name)
    (home / "blobs" / "ba" / "bafkreiother").parent.mkdir(parents=True)
    (home / "blobs" / "ba" / "bafkreiother").write_bytes(b"another task's item")
    return home


@pytest.fixture
def job_root() -> Iterator[Path]:
    """A job folder where the service makes them: the system's temporary folder (others may pass through)."""
    root = Path(tempfile.mkdtemp(prefix="datacoop-test-job-"))
    yield root
    unseal(root)
    shutil.rmtree(root)


def run_attempt(root: Path, node: Path, attempt: str, limits: Limits | None = None) -> SandboxResult:
    dirs = prepare_dirs(root)
    (dirs["data"] / "items").mkdir()
    (dirs["data"] / "items" / "000000.png").write_bytes(b"licensed item")
    (dirs["algo"] / "algorithm.py").write_text(
        textwrap.dedent(PRELUDE.format(node=str(node), attempt=attempt))
    )
    seal_read_only(dirs["data"])
    seal_read_only(dirs["algo"])
    small = Limits(cpu_seconds=5, wall_seconds=15, memory_bytes=512 * 1024**2, output_bytes=4 << 20,
                   tmp_bytes=4 << 20, processes=32)  # fmt: skip
    return run_sandboxed(root, "algorithm:run", limits or small)


def outcome_of(result: SandboxResult, root: Path) -> object:
    if result.status == "denied":
        return SIGSYS if "SIGSYS" in (result.reason or "") else result.reason
    assert result.status == "finished", (result.status, result.reason, result.log[-2000:])
    return json.loads((root / "out" / "r.json").read_text())["result"]


EXPECTED: dict[str, object] = {
    **{name: "EPERM" for name in SOCKETS},
    "fork": "EPERM",
    "fork_bomb": "EPERM",
    "subprocess_fork_exec": "EPERM",
    "subprocess_posix_spawn": "EPERM",
    "posix_spawn": "EPERM",
    "posix_spawnp": "EPERM",
    "os_system": 127 << 8,
    "execv": "EPERM",
    "spawnv": "EPERM",
    "forkpty": "EPERM",
    "thread_bomb": "RuntimeError",  # can't start new thread: RLIMIT_NPROC
    "kill_the_runner": "still here",  # the runner is the namespace's init: the job's signals do not reach it
    **{name: SIGSYS for name in FORBIDDEN_SYSCALLS},
}


@pytest.mark.parametrize("name", [*SOCKETS, *PROCESSES, *FORBIDDEN_SYSCALLS])
def test_network_processes_and_forbidden_system_calls_are_stopped(
    job_root: Path, node_dir: Path, name: str
) -> None:
    attempt = {**SOCKETS, **PROCESSES, **FORBIDDEN_SYSCALLS}[name]

    result = run_attempt(job_root, node_dir, attempt)

    assert outcome_of(result, job_root) == EXPECTED[name]


FILES = {  # what each attempt gets: the node's files are simply not in the job's world
    "etc_shadow": ("outcome(lambda: open('/etc/shadow').read())", "ENOENT"),
    "etc_passwd": ("outcome(lambda: open('/etc/passwd').read())", "ENOENT"),
    "root_home": ("outcome(lambda: os.listdir('/root'))", "ENOENT"),
    "sys": ("outcome(lambda: os.listdir('/sys'))", "ENOENT"),
    "block_device": ("outcome(lambda: open('/dev/sda', 'rb'))", "ENOENT"),
    "download_secret": ("outcome(lambda: open(NODE + '/download_secret').read())", "ENOENT"),
    "compute_url_secret": ("outcome(lambda: open(NODE + '/compute_url_secret').read())", "ENOENT"),
    "database": ("outcome(lambda: open(NODE + '/datacoop.db', 'rb').read())", "ENOENT"),
    "keys": ("outcome(lambda: open(NODE + '/keys/operator.json').read())", "ENOENT"),
    "other_tasks_blob": ("outcome(lambda: open(NODE + '/blobs/ba/bafkreiother', 'rb').read())", "ENOENT"),
    "dotdot_from_data": (
        "outcome(lambda: open(data_dir + '/../../../..' + NODE + '/download_secret').read())",
        "ENOENT",
    ),
    "symlink_to_host_path": (
        "outcome(lambda: (os.symlink(NODE + '/download_secret', '/tmp/l'), open('/tmp/l').read()))",
        "ENOENT",
    ),
    "proc_runner_root": ("outcome(lambda: os.listdir('/proc/1/root'))", "EACCES"),
    "proc_runner_cwd": ("outcome(lambda: os.listdir('/proc/1/cwd'))", "EACCES"),
    "proc_runner_fds": ("outcome(lambda: os.listdir('/proc/1/fd'))", "EACCES"),
    "proc_runner_mem": ("outcome(lambda: open('/proc/1/mem', 'rb'))", "EACCES"),
    "proc_runner_environ": ("outcome(lambda: open('/proc/1/environ', 'rb').read())", "EACCES"),
    "proc_self_root": (
        "outcome(lambda: open('/proc/self/root' + NODE + '/download_secret').read())",
        "ENOENT",
    ),
    "proc_self_fd_reopen_log": ("outcome(lambda: open('/proc/self/fd/1', 'rb').read())", "EACCES"),
    "proc_self_fds": ("sorted(os.listdir('/proc/self/fd'))", ["0", "1", "2", "3"]),  # 3: the listing itself
    "proc_self_mem_is_only_its_own": ("outcome(lambda: open('/proc/self/mem', 'r+b').close())", "ok"),
    "other_processes": ("sorted(p for p in os.listdir('/proc') if p.isdigit())", ["1", "2"]),
    "write_data": ("outcome(lambda: open(data_dir + '/items/000000.png', 'ab'))", "EACCES"),
    "create_in_data": ("outcome(lambda: open(data_dir + '/new', 'w'))", "EROFS"),
    "write_algo": ("outcome(lambda: open('/algo/algorithm.py', 'a'))", "EACCES"),
    "write_root": ("outcome(lambda: open('/evil', 'w'))", "EROFS"),
    "write_libraries": ("outcome(lambda: open('/usr/lib/evil.so', 'w'))", "EROFS"),
    "write_runner": ("outcome(lambda: open('/sandbox/runner.py', 'a'))", "EACCES"),
    "write_proc_sys": ("outcome(lambda: open('/proc/sys/kernel/hostname', 'w').write('x'))", "EACCES"),
    "rename_out_of_out": (
        "outcome(lambda: (open(out_dir + '/a', 'w').close(), os.rename(out_dir + '/a', '/tmp/a')))",
        "EXDEV",
    ),
    "hardlink_item_into_out": (
        "outcome(lambda: os.link(data_dir + '/items/000000.png', out_dir + '/x'))",
        "EXDEV",
    ),
    "truncate_item": ("outcome(lambda: os.truncate(data_dir + '/items/000000.png', 0))", "EACCES"),
    "chmod_item": ("outcome(lambda: os.chmod(data_dir + '/items/000000.png', 0o666))", "EROFS"),
    "fill_out": ("(outcome(lambda: fill(out_dir + '/big')), os.remove(out_dir + '/big'))[0]", "ENOSPC"),
    "fill_tmp": ("outcome(lambda: fill('/tmp/big'))", "ENOSPC"),
    "fill_dev_shm": ("outcome(lambda: fill('/dev/shm/big'))", "EROFS"),
    "sysv_shared_memory": ("syscall(29, 0, 512 * 1024**2, 0o1600)", "EPERM"),  # shmget(IPC_PRIVATE)
    "memfd": ("outcome(lambda: os.memfd_create('x'))", "EPERM"),
    "posix_message_queue": ("syscall(240, b'/q', 0o100 | 2, 0o600, None)", "EPERM"),  # mq_open
    "memory_bomb_caught": ("outcome(lambda: bytearray(4 * 1024**3))", "MemoryError"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_host_files_are_out_of_reach_and_the_job_cannot_write_outside_out(
    job_root: Path, node_dir: Path, name: str
) -> None:
    attempt, expected = FILES[name]

    result = run_attempt(job_root, node_dir, attempt)

    assert outcome_of(result, job_root) == expected


ENDINGS = {  # (attempt, status, reason)
    "sleep_past_the_wall_clock": ("time.sleep(60)", "limit", "the algorithm ran past the time limit of 3 s"),
    "spin_past_the_cpu_limit": (
        "[0 for _ in iter(int, 1)]",
        "limit",
        "the algorithm used more than the CPU limit of 1 s",
    ),
    "memory_bomb": (
        "bytearray(4 * 1024**3)",
        "limit",
        "the algorithm ran out of its memory limit of 536,870,912 bytes",
    ),
    "uncaught_socket_error": (
        "socket.socket()",
        "denied",
        "the sandbox refused an operation (EPERM): sockets, new processes and other programs are not "
        "allowed; see the log",
    ),
    "uncaught_value_error": ("int('x')", "error", "the algorithm failed (exit code 1); see the log"),
    "inode_bomb": (
        "[open(f'/tmp/{i}', 'w').close() for i in range(10**7)]",
        "limit",
        "the algorithm made more than 10,000 files in /out and /tmp",
    ),
    "ptrace_kills": (
        "syscall(101, 0, 0, 0, 0)",
        "denied",
        "the algorithm made a system call the sandbox forbids (it was killed by SIGSYS)",
    ),
}


@pytest.mark.parametrize("name", list(ENDINGS))
def test_limits_end_the_job_with_the_reason(job_root: Path, node_dir: Path, name: str) -> None:
    attempt, status, reason = ENDINGS[name]
    wall = 3 if name == "sleep_past_the_wall_clock" else 60  # a loaded machine may take a while for 1 CPU-s
    limits = Limits(cpu_seconds=1, wall_seconds=wall, memory_bytes=512 * 1024**2, output_bytes=1 << 20)

    result = run_attempt(job_root, node_dir, attempt, limits)

    assert (result.status, result.reason) == (status, reason)
    assert result.outputs == []
