"""JupyterLab on loopback and Debian's Chromium, for ``tests/test_browser.py``.

:class:`LabServer` starts ``jupyter lab`` from the running interpreter's environment
on 127.0.0.1 with a random token and private Jupyter folders, and stops it with
every process it started (kernels included: jupyter_client puts each kernel in
a session of its own, so killing the server's process group alone would leave
them running). :func:`launch_chromium` starts ``/usr/bin/chromium`` through
Playwright with every feature that would reach the internet switched off.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

#: Debian's chromium package puts its launcher here; Playwright never downloads one.
CHROMIUM = Path("/usr/bin/chromium")

#: Headless, no sandbox (root in CI), and nothing that talks to the internet.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
)

#: How to get what the browser test needs, in the words of every failure message.
INSTALL_HINT = (
    "run `make browser-deps` (Debian's chromium at /usr/bin/chromium) and "
    "`make install` (the playwright Python package, a dev extra); "
    "never `playwright install`, which downloads a browser"
)

#: Lab extensions that would show pop-ups or ask the internet for news.
DISABLED_LAB_EXTENSIONS = {
    "@jupyterlab/apputils-extension:announcements": True,
}

#: nbgrader's server extensions the learner's JupyterLab runs (Validate needs the second).
NBGRADER_SERVER_EXTENSIONS = {
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.course_list": True,
    "nbgrader.server_extensions.formgrader": True,
}


def missing_browser_dependencies() -> str | None:
    """Say what is missing to run the browser test, or None when nothing is."""
    problems = []
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        problems.append(f"the playwright package does not import ({error})")
    if not problems:
        return None
    return f"{'; '.join(problems)}: {INSTALL_HINT}."


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------- processes


def _children_from_proc() -> dict[int, list[int]]:
    """Map each parent PID to its children, read from /proc (when psutil is absent)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children, grandchildren, ...)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        tree = _children_from_proc()
        found: set[int] = set()
        todo = [pid]
        while todo:
            for child in tree.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def _signal_all(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = {pid for pid in pids if is_running(pid)}
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {pid for pid in alive if is_running(pid)}
    return alive


# ---------------------------------------------------------------- JupyterLab


class LabServer:
    """``jupyter lab`` on 127.0.0.1 with a token, run from this interpreter's environment.

    Args:
        root_dir: the folder JupyterLab serves (``--ServerApp.root_dir``).
        home: a scratch folder for Jupyter's config, data and runtime folders,
            IPython's folder and the server's log.
        env: extra environment variables for the server and its kernels.
        start_timeout: seconds to wait for ``/api/status`` to answer.
    """

    def __init__(
        self,
        root_dir: Path,
        home: Path,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 90.0,
    ) -> None:
        self.root_dir = root_dir
        self.home = home
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = home / "jupyter-lab.log"
        self.extra_env = dict(env or {})
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._seen: set[int] = set()

    # -- configuration

    def _write_config(self) -> dict[str, str]:
        config = self.home / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": NBGRADER_SERVER_EXTENSIONS}})
        )
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": DISABLED_LAB_EXTENSIONS})
        )
        folders = {
            "JUPYTER_CONFIG_DIR": config,
            "JUPYTER_DATA_DIR": self.home / "data",
            "JUPYTER_RUNTIME_DIR": self.home / "runtime",
            "IPYTHONDIR": self.home / "ipython",
        }
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        return {name: str(folder) for name, folder in folders.items()}

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)  # a learner's kernel uses the inline backend
        env.pop("JUPYTER_PATH", None)
        env.pop("JUPYTER_CONFIG_PATH", None)
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env.update(self._write_config())
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.allow_remote_access=False",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--LanguageServerManager.autodetect=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ]

    # -- life cycle

    def start(self) -> None:
        """Start the server and wait until ``/api/status`` answers with the token."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.root_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                if "started" in self.api("GET", "api/status", timeout=2):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"jupyter lab did not answer in {self.start_timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def api(self, method: str, path: str, timeout: float = 10) -> Any:
        """Call the server's REST API with the token; the decoded JSON answer, or None."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method in ("POST", "PUT") else None,
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
        self.remember_processes()
        return json.loads(body) if body else None

    def remember_processes(self) -> set[int]:
        """Record the server's current descendants (kernels); all recorded so far."""
        if self.process is not None and self.process.poll() is None:
            self._seen |= {self.process.pid} | descendants(self.process.pid)
        return set(self._seen)

    def shutdown_kernels(self) -> None:
        """Shut every running kernel down through the REST API (as Kernel > Shut Down does)."""
        for kernel in self.api("GET", "api/kernels"):
            with contextlib.suppress(urllib.error.URLError):
                self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=30)

    def stop(self) -> set[int]:
        """Stop the server, its kernels and anything else it started.

        Asks politely first (``POST /api/shutdown``), then SIGTERM and SIGKILL to
        the server's process group and to every process recorded below it.

        Returns:
            The PIDs still running afterwards (empty when all went well).
        """
        if self.process is None:
            return set()
        pids = self.remember_processes()
        if self.process.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                self.api("POST", "api/shutdown", timeout=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        for signum, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            alive = {pid for pid in pids if is_running(pid)}
            if not alive and self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)
            _signal_all(alive, signum)
            _wait_gone(alive, grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
        return {pid for pid in pids if is_running(pid)}

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_lab(
    root_dir: Path, home: Path, env: Mapping[str, str] | None = None
) -> Iterator[LabServer]:
    """Start a :class:`LabServer`, yield it, and stop it whatever happens in between.

    Raises:
        AssertionError: after the body, when a process the server started outlived it.
    """
    server = LabServer(root_dir, home, env)
    try:
        server.start()
        yield server
    finally:
        left = server.stop()
    assert not left, f"processes left behind by jupyter lab: {sorted(left)}"


# ---------------------------------------------------------------- Chromium


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with nothing that reaches beyond loopback.

    Playwright gives every launch a new empty profile (``--user-data-dir`` in a
    temporary folder, removed on close); it refuses that flag in ``args``.
    """
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=list(CHROMIUM_ARGS),
        chromium_sandbox=False,
    )


@contextlib.contextmanager
def running_chromium() -> Iterator[Browser]:
    """:func:`launch_chromium` under a Playwright of its own; both closed after the body."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def save_page(page: Page, folder: Path, name: str) -> None:
    """Write ``NAME.png`` (a full-page screenshot) and ``NAME.html`` (the DOM) to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
    with contextlib.suppress(Exception):
        (folder / f"{name}.html").write_text(page.content())
