"""The sandbox launcher (``grader.sandbox.launcher``) against whole-submission attacks.

Each test runs small Python commands (no TensorFlow) through ``run_jailed``, as the batch
grader does, under a user of their own, and checks from outside what outlived them:
System V shared memory, files in world-writable places, processes, the sandbox's cgroup.
It also checks the limits for the sandbox as a whole (memory of all its processes
together, a fork bomb) and that setuid programs and risky system calls give nothing.

Sandboxes need root (a user of their own, namespaces, cgroups): as another user these
tests are skipped, saying why; so are those a machine without cgroups cannot run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from grader.sandbox import cgroups, mounts, seccomp
from grader.sandbox.launcher import run_jailed
from grader.sandbox.mounts import software_layout
from grader.sandbox.spec import END_LINE, JailResult, JailSpec, Protections

UID = 61990
"""The sandboxes' user (above the batch grader's slots, which start at 61000)."""

GiB = 2**30
MiB = 2**20

ROOT = Path(__file__).resolve().parents[2]

needs_root = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="sandboxes get a user of their own, namespaces and a cgroup only as root on Linux",
)


@dataclass
class Ran:
    result: JailResult
    output: str
    spec: JailSpec

    @property
    def protections(self) -> Protections:
        assert self.result.protections is not None, self.output
        return self.result.protections

    def lines(self, prefix: str) -> list[str]:
        return [line[len(prefix) :] for line in self.output.splitlines() if line.startswith(prefix)]


def _spec(base: Path, **fields: object) -> JailSpec:
    work = base / "work"
    work.mkdir(parents=True)
    os.chown(work, UID, UID)
    work.chmod(0o700)
    hide, keep = software_layout()
    defaults: dict[str, object] = {
        "workdir": str(work),
        "env": {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"},
        "status_file": str(base / "status.json"),
        "cpu_seconds": 120,
        "memory_bytes": GiB,
        "file_bytes": 256 * MiB,
        "processes": 512,
        "uid": UID,
        "gid": UID,
        "hide": hide,
        "keep": keep,
        "output": str(base / "out.log"),
        "group_memory_bytes": 3 * GiB // 2,
        "group_processes": 256,
    }
    defaults.update(fields)
    return JailSpec(**defaults)  # type: ignore[arg-type]


def _run_spec(spec: JailSpec, code: str, wall: float = 30.0) -> Ran:
    """Run ``python -c code`` in the sandbox ``spec``."""
    base = Path(spec.status_file).parent
    command = [sys.executable, "-c", textwrap.dedent(code)]
    result = run_jailed(spec, command, wall, base / "launcher.log", base / "spec.json")
    output = Path(spec.output).read_text(errors="replace") if spec.output else ""
    output += (base / "launcher.log").read_text(errors="replace")
    return Ran(result, output, spec)


def _run(base: Path, code: str, wall: float = 30.0, **fields: object) -> Ran:
    """Run ``python -c code`` in a fresh sandbox under ``base``."""
    return _run_spec(_spec(base, **fields), code, wall)


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless this machine gives sandboxes their namespaces (root, Linux)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("sandboxes get a user of their own and namespaces only as root on Linux")
    ran = _run(tmp_path_factory.mktemp("probe"), "print('hello')")
    if ran.result.protections is None:
        pytest.fail(f"the launcher did not start:\n{ran.output}")
    if not ran.protections.pid.startswith("isolated"):
        pytest.skip(f"this machine refuses namespaces: {ran.protections.pid}")


@pytest.fixture(scope="module")
def grouped(isolated: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip unless this machine gives sandboxes a cgroup with memory and pids limits."""
    ran = _run(tmp_path_factory.mktemp("probe"), "print('hello')")
    cgroup = ran.protections.cgroup
    if not cgroup.startswith("limited") or "controller" in cgroup:
        pytest.skip(f"no cgroup with memory and pids limits on this machine: {cgroup}")


def _group_folders(spec: JailSpec) -> list[Path]:
    """The cgroups (any launcher's) of sandboxes with this spec's status file."""
    prefix = cgroups.group_name(spec.status_file, 0).partition("-")[0]
    _, bases = cgroups._group_bases()
    return [
        folder
        for base in set(bases.values())
        if base.is_dir()
        for folder in base.iterdir()
        if folder.name.startswith(prefix + "-")
    ]


# --- pieces that need no root --------------------------------------------------------


def test_the_world_writable_places_are_found_without_following_learner_links() -> None:
    folders, files = mounts.world_writable_places()
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        if Path(place).is_dir() and not Path(place).is_symlink():
            assert place in folders, folders
    if os.path.islink("/var/lock") and os.path.realpath("/var/lock") == "/run/lock":
        assert "/var/lock" in folders["/run/lock"]  # a link of the system's, resolved
    assert not any(path.startswith(("/proc/", "/sys/")) for path in [*folders, *files])
    assert "/dev/null" not in files  # devices are not places to leave things


def test_the_seccomp_program_jumps_within_itself() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp.seccomp_program(machine)
        assert len(program) < 256
        for index, (code, true, false, _) in enumerate(program):
            if code & 0x07 == 0x05:  # a jump
                assert index + 1 + max(true, false) < len(program)
        assert program[-3][3] == 0x7FFF0000  # the last word: allow
    with pytest.raises(ValueError):
        seccomp.seccomp_program("vax")


# --- what outlives a sandbox -----------------------------------------------------------

SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
shmid = libc.shmget({key}, 64 << 20, 0o1000 | 0o666)  # IPC_CREAT
print("SHMID", shmid, ctypes.get_errno())
keys = [line.split()[0] for line in open("/proc/sysvipc/shm").read().splitlines()[1:]]
print("INSIDE", {key} in [int(k) for k in keys])
"""


def _shm_keys() -> set[int]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


@needs_root
def test_system_v_shared_memory_dies_with_the_sandbox(isolated: None, tmp_path: Path) -> None:
    key = 0x4A5A0000 + os.getpid() % 0xFFFF
    assert key not in _shm_keys()
    ran = _run(tmp_path, SHM.format(key=key))
    assert ran.result.returncode == 0, ran.output
    assert int(ran.lines("SHMID ")[0].split()[0]) >= 0, ran.output  # the segment was made
    assert ran.lines("INSIDE ") == ["True"], ran.output
    assert key not in _shm_keys(), "a shared memory segment outlived its sandbox"
    assert ran.protections.ipc.startswith("isolated"), ran.protections.ipc


WRITE_EVERYWHERE = """
import os
for folder in {folders!r}:
    path = os.path.join(folder, {name!r})
    try:
        with open(path, "w") as handle:
            handle.write("left for later")
        print("WROTE", folder)
    except OSError as error:
        print("REFUSED", folder, error)
"""

LOOK_EVERYWHERE = """
import os
for folder in {folders!r}:
    print("FOUND" if os.path.exists(os.path.join(folder, {name!r})) else "ABSENT", folder)
"""


@needs_root
def test_world_writable_places_are_private_copies(isolated: None, tmp_path: Path) -> None:
    """Files written to /tmp, /var/tmp, /dev/shm, /run/lock (and /var/lock) stay in the
    sandbox: neither the system nor the next sandbox of the same user sees them."""
    places = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
    folders = [folder for folder in places if os.path.isdir(folder)]
    name = f"jail-test-{uuid.uuid4().hex}"
    first = _run(tmp_path / "first", WRITE_EVERYWHERE.format(folders=folders, name=name))
    assert first.result.returncode == 0, first.output
    assert sorted(first.lines("WROTE ")) == sorted(folders), first.output  # private, writable
    for folder in folders:
        assert not os.path.lexists(os.path.join(folder, name)), f"{folder} kept a file"
    second = _run(tmp_path / "second", LOOK_EVERYWHERE.format(folders=folders, name=name))
    assert second.lines("FOUND ") == [], second.output
    mounts = first.protections.mounts
    assert mounts.startswith("isolated: private copies of the world-writable places"), mounts
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        if os.path.isdir(folder) and not os.path.islink(folder):
            assert re.search(rf"{re.escape(folder)}\b", mounts), mounts


LEAVE_A_PROCESS = """
import subprocess
subprocess.Popen(["sleep", "{token}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("CGROUP", open("/proc/self/cgroup").read().replace("\\n", " "))
"""


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@needs_root
def test_no_process_and_no_cgroup_outlives_the_sandbox(grouped: None, tmp_path: Path) -> None:
    token = f"{1000 + os.getpid() % 1000}.{time.time_ns() % 10**6:06d}"  # sleep's argument
    _, bases = cgroups._group_bases()
    stale = []
    for base in set(bases.values()):  # a group left by a launcher killed long ago
        base.mkdir(exist_ok=True)
        stale.append(base / cgroups.group_name(str(tmp_path / "old"), 2**22 + 12345))
        stale[-1].mkdir()
    ran = _run(tmp_path / "run", LEAVE_A_PROCESS.format(token=token))
    assert ran.result.returncode == 0, ran.output
    assert "jazz-grader/" in ran.lines("CGROUP ")[0], ran.output  # it ran in its group
    time.sleep(0.2)
    assert _processes_with(token) == [], "a process outlived its sandbox"
    assert _group_folders(ran.spec) == [], "the sandbox's cgroup was left behind"
    assert not any(folder.exists() for folder in stale), "a dead launcher's cgroup was kept"


@needs_root
def test_a_killed_launcher_leaves_no_cgroup(grouped: None, tmp_path: Path) -> None:
    """At the wall-clock limit the launcher is killed outright; run_jailed removes its group."""
    ran = _run(tmp_path, "import time\ntime.sleep(60)", wall=2.0)
    assert ran.result.timed_out
    assert _group_folders(ran.spec) == []


# --- privileges ------------------------------------------------------------------------

PRIVILEGES = """
import ctypes, errno, subprocess, threading
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print("NONEWPRIVS", status["NoNewPrivs"].strip(), "SECCOMP", status["Seccomp"].strip())
print("SETUID", subprocess.run(["./id", "-u"], capture_output=True, text=True).stdout.strip())
libc = ctypes.CDLL(None, use_errno=True)
for name, call in (
    ("unshare", lambda: libc.unshare(0x10000000)),  # a user namespace of its own
    ("keyctl", lambda: libc.syscall(250, 0, -3, 0, 0, 0)),  # keyrings outlive sandboxes
    ("ptrace", lambda: libc.syscall(101, 0, 0, 0, 0)),
):
    print("CALL", name, "refused" if call() < 0 and ctypes.get_errno() == errno.EPERM else "ran")
thread = threading.Thread(target=print, args=("THREAD ok",))
thread.start()
thread.join()
print("SUBPROCESS", subprocess.run(["true"]).returncode)
"""


def _setuid_copy(folder: Path) -> Path:
    """A setuid-root copy of ``id`` (harmless: it only says who runs it) in ``folder``."""
    copy = folder / "id"
    shutil.copy2("/usr/bin/id", copy)
    os.chown(copy, 0, 0)
    copy.chmod(0o4755)
    return copy


@needs_root
def test_setuid_programs_and_risky_system_calls_give_nothing(
    isolated: None, tmp_path: Path
) -> None:
    spec = _spec(tmp_path)
    outside = Path(tempfile.mkdtemp(prefix="jail-test-", dir="/tmp"))
    try:
        outside.chmod(0o755)
        control = subprocess.run(  # the same program, run by the same user, unsandboxed
            [str(_setuid_copy(outside)), "-u"], user=UID, group=UID, extra_groups=[],
            cwd="/", capture_output=True, text=True, check=False,
        )  # fmt: skip
        _setuid_copy(Path(spec.workdir))
        ran = _run_spec(spec, PRIVILEGES)
    finally:
        shutil.rmtree(outside)
        (Path(spec.workdir) / "id").unlink(missing_ok=True)
    assert ran.result.returncode == 0, ran.output
    assert ran.lines("NONEWPRIVS ") == ["1 SECCOMP 2"], ran.output
    assert control.stdout.strip() == "0", control  # setuid works here, but not in a sandbox:
    assert ran.lines("SETUID ") == [str(UID)], ran.output
    assert sorted(ran.lines("CALL ")) == ["keyctl refused", "ptrace refused", "unshare refused"]
    assert ran.lines("THREAD ") == ["ok"] and ran.lines("SUBPROCESS ") == ["0"], ran.output
    assert ran.protections.privileges.startswith("no new privileges"), ran.protections
    assert ran.protections.seccomp.startswith("filter:"), ran.protections


# --- limits for the sandbox as a whole -------------------------------------------------

CHILDREN = """
import os, time
read, write = os.pipe()
children = []
for _ in range({count}):
    pid = os.fork()
    if pid == 0:
        block = b"\\x01" * (700 * 10**6)  # written, so resident
        os.write(write, b"+")
        time.sleep(30)
        os._exit(0)
    children.append(pid)
ready = 0
while ready < {count}:
    ready += len(os.read(read, 16))
print("ALL ALIVE", ready, flush=True)
for pid in children:
    os.kill(pid, 9)
"""


@needs_root
def test_memory_is_limited_for_the_whole_sandbox(grouped: None, tmp_path: Path) -> None:
    """Under a 1.5 GiB limit (and 1 GiB of address space per process), one child holding
    700 MB is fine; three are not: the sandbox is killed and its exit status says so."""
    one = _run(tmp_path / "one", CHILDREN.format(count=1), wall=60)
    assert one.result.returncode == 0, one.output
    assert one.lines("ALL ALIVE ") == ["1"], one.output
    three = _run(tmp_path / "three", CHILDREN.format(count=3), wall=60)
    assert not three.result.timed_out, three.output
    assert three.result.returncode == 128 + signal.SIGKILL, three.output
    assert three.lines("ALL ALIVE ") == [], three.output
    assert f"{END_LINE}killed by SIGKILL: out of memory" in three.output, three.output
    assert three.protections.cgroup.startswith("limited: memory 1.5 GiB"), three.protections
    assert three.protections.limits["memory_bytes"] == GiB  # per process, as before
    assert _group_folders(three.spec) == []


FORK_BOMB = """
import os, time
made = 0
for _ in range(400):
    try:
        pid = os.fork()
    except OSError as error:
        print("FORK REFUSED", made, error.errno, flush=True)
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    made += 1
print("MADE", made, flush=True)
"""


@needs_root
def test_a_fork_bomb_is_held_by_the_sandbox_process_limit(grouped: None, tmp_path: Path) -> None:
    """pids.max holds the sandbox as a whole (no per-user RLIMIT_NPROC set here)."""
    ran = _run(tmp_path, FORK_BOMB, processes=None, group_processes=40)
    assert ran.result.returncode == 0, ran.output
    refused = ran.lines("FORK REFUSED ")
    assert refused, ran.output
    made, code = (int(word) for word in refused[0].split())
    assert made < 40 and code == 11, ran.output  # EAGAIN
    assert "40 processes and threads" in ran.protections.cgroup
    assert _group_folders(ran.spec) == []


# --- the fork server's handler ---------------------------------------------------------

HANDLER = """
import json, os, socket, sys
from grader.sandbox import forkserver, launcher

spec_file, sock_path, code = sys.argv[1:4]

def run_code(command, env):
    os.environ.clear()
    os.environ.update(env)
    exec(compile(code, "<sandbox>", "exec"), {"__name__": "__main__"})
    sys.stdout.flush()
    os._exit(0)

forkserver._run_module = run_code  # a stand-in for the served module
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(1)
handler = os.fork()
if handler == 0:
    conn, _ = server.accept()
    server.close()
    os._exit(forkserver._handle(conn) & 0x7F)
server.close()
code = launcher.main([spec_file, "--", sys.executable, "-m", "ipykernel_launcher", "x"])
os.waitpid(handler, 0)
print("LAUNCHER", code)
"""


@needs_root
def test_the_fork_servers_handler_limits_the_whole_sandbox_too(
    grouped: None, tmp_path: Path
) -> None:
    """A warm start (``grader.sandbox.forkserver._handle``) gets the same cgroup, IPC namespace and
    privileges as the launcher's own start, and an out-of-memory kill ends it the same way."""
    results = {}
    for count in (1, 3):
        base = tmp_path / f"warm{count}"
        spec = replace(_spec(base), forkserver=str(base / "server.sock"))
        spec_file = base / "spec.json"
        spec_file.write_text(spec.to_json())
        code = CHILDREN.format(count=count) + "\nprint(open('/proc/self/status').read())"
        done = subprocess.run(
            [sys.executable, "-c", HANDLER, str(spec_file), spec.forkserver or "", code],
            cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        output = Path(spec.output or "").read_text() + done.stdout + done.stderr
        status = json.loads(Path(spec.status_file).read_text())
        results[count] = (done.stdout, output, status)
        assert _group_folders(spec) == [], output
    one_out, one_log, status = results[1]
    assert "LAUNCHER 0" in one_out and "ALL ALIVE 1" in one_log, one_log
    assert re.search(r"NoNewPrivs:\s+1", one_log) and re.search(r"Seccomp:\s+2", one_log)
    assert any("fork server" in note for note in status["notes"]), status
    for field in ("cgroup", "ipc", "mounts", "privileges"):
        assert not status[field].startswith("not"), status
    three_out, three_log, _ = results[3]
    assert "LAUNCHER 137" in three_out, three_log
    assert "ALL ALIVE" not in three_log and "out of memory" in three_log, three_log
