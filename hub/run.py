"""``python -m hub.run``: start and stop the course's JupyterHub on this machine (root).

    python -m hub.run start [--port 8000] [--learners 3] [--detach]   (make hub)
    python -m hub.run stop  [--remove-accounts] [--remove-state]     (make hub-stop)

``start`` makes the Unix accounts (an instructor and learners, new random passwords
each start), nbgrader's exchange, each role's Jupyter configuration and the course
(generated from ``solutions/``, the learners in its gradebook), then runs JupyterHub
with configurable-http-proxy on 127.0.0.1 and prints the address, the users and their
passwords. Without ``--detach`` it stays in the foreground; Ctrl-C stops everything, as
``stop`` does: the hub, the proxy, every user's server and kernel. Nothing a learner
made (homes, submissions, the exchange) is removed unless ``--remove-accounts`` or
``--remove-state`` asks for it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hub import accounts, course, limits

REPOSITORY = Path(__file__).resolve().parent.parent
HUB_FOLDER = Path(__file__).resolve().parent
PROXY = HUB_FOLDER / "node_modules" / ".bin" / "configurable-http-proxy"
DEFAULT_STATE = Path("/srv/jazz-hub")
DEFAULT_VENV = Path("/opt/jazz-hub/venv")
"""The hub's environment (``make hub-env``): JupyterHub, JupyterLab, nbgrader and the
course's package, installed (not editable) with an interpreter every user may run."""


class HubError(RuntimeError):
    """The hub cannot start or stop."""


@dataclass
class HubOptions:
    """What to start.

    Attributes:
        state: the hub's folder (root-owned): database, cookie secret, logs, pid files,
            the exchange, the Jupyter configuration, ``accounts.json`` (mode 0600).
        port: the address learners open, ``http://127.0.0.1:PORT/``.
        hub_port, proxy_api_port: the hub's and the proxy's own ports (loopback).
        instructor: the instructor's user name.
        learners: the learners' user names (also their nbgrader student ids).
        memory_bytes, cpus, processes: each user's limits (:class:`hub.limits.Limits`).
        cgroup_folder: this hub's folder in each cgroup hierarchy.
        venv: the environment the hub, every user's server and kernel, and the
            instructor's nbgrader commands run from (:data:`DEFAULT_VENV`). Not the
            repository's ``.venv``: its editable install would put ``solutions/`` within
            a learner's reach, and its interpreter may sit where other users cannot run it.
        environment: added to every server's (and kernel's) environment.
    """

    state: Path = DEFAULT_STATE
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    instructor: str = "jazz-instructor"
    learners: list[str] = field(default_factory=lambda: [f"jazz-learner{i}" for i in (1, 2, 3)])
    memory_bytes: int = limits.Limits.memory_bytes
    cpus: float = limits.Limits.cpus
    processes: int = limits.Limits.processes
    cgroup_folder: str = limits.FOLDER
    venv: Path = DEFAULT_VENV
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Where to open the hub."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def python(self) -> Path:
        """The hub environment's interpreter."""
        return self.venv / "bin" / "python"

    @property
    def singleuser(self) -> Path:
        """What each user's server runs."""
        return self.venv / "bin" / "jupyterhub-singleuser"

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange."""
        return self.state / "exchange"

    @property
    def jupyter_config(self) -> Path:
        """The roles' Jupyter configuration folders."""
        return self.state / "jupyter"

    @property
    def settings_file(self) -> Path:
        """What ``hub/jupyterhub_config.py`` reads."""
        return self.state / "settings.json"

    @property
    def log(self) -> Path:
        """JupyterHub's and the proxy's log."""
        return self.state / "jupyterhub.log"

    def course_root(self) -> Path:
        """The course folder, in the instructor's home."""
        return Path(pwd.getpwnam(self.instructor).pw_dir) / "course"


def _check_ready(options: HubOptions) -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root (JupyterHub starts each server as its Unix user)")
    if not (options.venv / "bin" / "jupyterhub").exists():
        problems.append(f"no jupyterhub in {options.venv}: run `make hub-env`")
    if not PROXY.exists():
        problems.append(f"{PROXY} is missing: run `make hub-env`")
    if not shutil.which("node"):
        problems.append("Node.js (node) is not on PATH: configurable-http-proxy needs it")
    missing = sorted(set(limits.CONTROLLERS) - set(limits.available()))
    if missing:
        problems.append(f"cgroup v1 controllers missing: {missing}")
    if problems:
        raise HubError("; ".join(problems))


def _settings(options: HubOptions, config_paths: dict[str, Path]) -> dict[str, object]:
    bin_dir = options.singleuser.parent
    return {
        "state": str(options.state),
        "port": options.port,
        "hub_port": options.hub_port,
        "proxy_api_port": options.proxy_api_port,
        "proxy": str(PROXY),
        "singleuser": str(options.singleuser),
        "instructors": [options.instructor],
        "learners": list(options.learners),
        "memory": options.memory_bytes,
        "cpus": options.cpus,
        "processes": options.processes,
        "cgroup_folder": options.cgroup_folder,
        "config_paths": {role: str(path) for role, path in config_paths.items()},
        "environment": {
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **options.environment,
        },
    }


def prepare(options: HubOptions) -> list[accounts.Account]:
    """Make the accounts, the exchange, the configuration and the course.

    Returns:
        The accounts, instructor first, with their new passwords.
    """
    _check_ready(options)
    options.state.mkdir(parents=True, exist_ok=True)
    options.state.chmod(0o755)
    made = [accounts.ensure(options.instructor, "instructor")]
    made += [accounts.ensure(name, "learner") for name in options.learners]
    course.make_exchange(options.exchange, options.instructor)
    config_paths = course.write_jupyter_configs(
        options.jupyter_config, options.exchange, options.course_root()
    )
    course.prepare_course(
        options.course_root(),
        options.instructor,
        options.learners,
        python=options.python,
        repository=REPOSITORY,
        config_path=config_paths["instructor"],
    )
    options.settings_file.write_text(json.dumps(_settings(options, config_paths), indent=2))
    table = options.state / "accounts.json"
    table.touch(mode=0o600)
    table.chmod(0o600)
    table.write_text(json.dumps([vars(a) for a in made], indent=2))
    return made


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def start(options: HubOptions, timeout: float = 90.0) -> subprocess.Popen[bytes]:
    """Start JupyterHub (and its proxy) for a course :func:`prepare` made.

    Returns:
        The hub's process (a session of its own).

    Raises:
        HubError: it exited or did not answer in ``timeout`` seconds (the log's end).
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "JAZZ_HUB_SETTINGS": str(options.settings_file),
        "PATH": f"{options.venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    with options.log.open("ab") as log:
        process = subprocess.Popen(
            [
                str(options.venv / "bin" / "jupyterhub"),
                "-f",
                str(HUB_FOLDER / "jupyterhub_config.py"),
            ],
            cwd=options.state,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (options.state / "hub.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while not _answers(f"{options.url}hub/login"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(options)
            raise HubError(
                f"JupyterHub did not start; the end of {options.log}:\n{log_tail(options)}"
            )
        time.sleep(0.5)
    return process


def log_tail(options: HubOptions, lines: int = 30) -> str:
    """The end of the hub's log."""
    with contextlib.suppress(OSError):
        return "\n".join(options.log.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def _pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def _end_session(pid: int, grace: float) -> None:
    """SIGTERM ``pid``'s process group, wait, then SIGKILL what is left of it."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)
        deadline = time.monotonic() + grace
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _alive(pid):
            return


def stop(
    options: HubOptions, remove_accounts: bool = False, remove_state: bool = False
) -> set[int]:
    """Stop the hub, the proxy, every server and kernel; optionally remove what was made.

    The hub is asked first (SIGTERM: it stops the servers and the proxy), then its
    process group, the proxy and everything in the users' cgroups are ended.

    Returns:
        The processes still running afterwards (empty when all went well).
    """
    hub = _pid(options.state / "hub.pid")
    if hub is not None:
        _end_session(hub, grace=30.0)
    proxy = _pid(options.state / "proxy.pid")
    if proxy is not None and _alive(proxy):
        _end_session(proxy, grace=5.0)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proxy, signal.SIGKILL)
    left = limits.UserGroups(options.cgroup_folder).end_all()
    for name in ("hub.pid", "proxy.pid", "jupyterhub.pid"):
        with contextlib.suppress(OSError):
            (options.state / name).unlink()
    if remove_accounts:
        for name in [options.instructor, *options.learners]:
            accounts.remove(name)
    if remove_state and options.state.exists():
        shutil.rmtree(options.state)
    return {pid for pid in left if _alive(pid)} | (
        {hub} if hub is not None and _alive(hub) else set()
    )


def readable_by_everyone(path: Path) -> bool:
    """True when any user can read ``path`` (every folder above it searchable by others)."""
    try:
        if not path.stat().st_mode & stat.S_IROTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)
    except OSError:
        return False


def describe(options: HubOptions, made: list[accounts.Account]) -> str:
    """What ``start`` prints: where to open the hub, who may log in, what comes next."""
    width = max(len(a.name) for a in made)
    rows = [f"  {a.name:<{width}}  {a.password}  ({a.role})" for a in made]
    return "\n".join(
        [
            f"The course's JupyterHub runs at {options.url}",
            "Log in as (Unix accounts of this machine; passwords are new at every start):",
            *rows,
            f"Course folder: {options.course_root()}  exchange: {options.exchange}",
            "Next: README.md, 'Teaching a course' (release, collect, grade, feedback).",
            "Stop with Ctrl-C here, or `make hub-stop` in another terminal.",
            *(
                [
                    f"WARNING: {REPOSITORY / 'solutions'} is readable by every user, learners "
                    f"included: chmod 700 {REPOSITORY}"
                ]
                if readable_by_everyone(REPOSITORY / "solutions")
                else []
            ),
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hub.run", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop"):
        command = commands.add_parser(name)
        command.add_argument("--state", type=Path, default=DEFAULT_STATE)
        command.add_argument("--learners", type=int, default=3, help="how many learners")
        command.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="make hub-env's")
    first = commands.choices["start"]
    first.add_argument("--port", type=int, default=8000)
    first.add_argument("--detach", action="store_true", help="return once the hub answers")
    last = commands.choices["stop"]
    last.add_argument("--remove-accounts", action="store_true", help="and their homes")
    last.add_argument(
        "--remove-state", action="store_true", help="the state folder, exchange included"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors are reported in one line, exit status 1."""
    args = _parser().parse_args(argv)
    options = HubOptions(
        state=args.state,
        venv=args.venv,
        learners=[f"jazz-learner{i}" for i in range(1, args.learners + 1)],
    )
    try:
        if args.command == "stop":
            left = stop(options, args.remove_accounts, args.remove_state)
            print("hub stopped" + (f"; still running: {sorted(left)}" if left else ""))
            return 1 if left else 0
        options.port = args.port
        made = prepare(options)
        process = start(options)
        print(describe(options, made), flush=True)
        if args.detach:
            return 0
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            process.wait()
        except KeyboardInterrupt:
            print("\nstopping the hub, its proxy, every server and kernel...", flush=True)
        left = stop(options)
        return 1 if left else 0
    except (HubError, accounts.AccountError, course.CourseSetupError, limits.LimitError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
