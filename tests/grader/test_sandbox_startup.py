"""What a sandbox starts from: the software copy it sees, and the fork server that starts
its kernels and clean rooms warm (``grader.sandbox``: the software copy, the launcher, the
fork server, the kernel box)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from batch_class import HONEST, ROOT, Class, run_grader
from catalogue import NOTEBOOK, SOURCE, build_mutant, mutants

from grader.sandbox.mounts import software_layout
from grader.sandbox.scratch import remove_tree
from grader.sandbox.software import SYSTEM_FOLDERS, hidden_sources


def test_the_sandbox_layout_keeps_the_software_and_hides_the_repository() -> None:
    hide, keep = software_layout()
    kept = [Path(path) for path, read_only in keep if read_only]
    assert Path(sys.prefix).resolve() in kept
    assert str(ROOT) in hide  # the repository holds solutions/ and course/
    hidden = set(hidden_sources())
    assert {str(ROOT), str(ROOT / "grader"), str(ROOT / "jazz_utils")} <= hidden
    # Other checkouts of the project (their solutions/) may lie anywhere outside the
    # system's folders: every such top-level folder is covered.
    top = Path("/") / ROOT.parts[1]
    assert str(top) in hidden or top.name in SYSTEM_FOLDERS
    assert not hidden & {"/usr", "/etc", "/proc", "/dev"}


def test_the_sandboxes_code_is_a_copy_without_answers(tmp_path: Path) -> None:
    from grader.sandbox import software

    folder = software.install(tmp_path)
    assert software.install(tmp_path) == folder  # made once, named by its digest
    files = {p.relative_to(folder).as_posix() for p in (folder / "grader").rglob("*.py")}
    assert files == {software.module_path(name) for name in software.SANDBOX_MODULES}
    modules = {Path(name).stem for name in files}
    assert not modules & {"reference", "judges", "probes", "evidence", "run", "rubric", "extract"}
    assert (folder / "jazz_utils" / "data" / "manifest.json").is_file()
    assert not [p for p in folder.rglob("*") if p.stat().st_mode & 0o022]  # nobody else writes
    text = "\n".join(p.read_text() for p in (folder / "grader").rglob("*.py"))
    assert "BEGIN SOLUTION" not in text and "def greedy_decode" not in text


# --- warm starts ---------------------------------------------------------------------


def test_kernels_and_clean_rooms_start_warm_from_the_fork_server(klass: Class) -> None:
    """Run A's kernels were forked from their worker's fork server, in full sandboxes."""
    for student in HONEST:
        review = json.loads((klass.course / "reviews" / f"{student}.json").read_text())
        notebook = review["isolation"]["notebook"]
        assert any("fork server" in note for note in notebook["notes"]), notebook
        assert notebook["network"] == klass.report_a["students"][student]["network"]
    probed = [
        json.loads(path.read_text()).get("isolation", {}).get("clean_room") or {}
        for path in (klass.course / "reviews").glob("*.json")
    ]
    assert any("fork server" in " ".join(p.get("notes") or []) for p in probed), probed


GRADE_BOTH_WAYS = """\
import json
import os
import sys
import uuid
from pathlib import Path

from grader.sandbox import forkserver
from grader.course import Course
from grader.batch.task import Bundle, Request, code_digest, grade_isolated
from grader.sandbox.limits import Limits

course = Course(Path(sys.argv[1]))
notebook, scratch, timeout = sys.argv[2:5]
bundle = Bundle(
    config=course.config_file.read_text(encoding="utf-8"),
    template_gradebook=course.template_gradebook.read_bytes(),
    source_notebook=course.source_notebook.read_bytes(),
    code_digest=code_digest(),
    hide=(str(course.root),),
    batch_id=uuid.uuid4().hex,
)
found = {}
for mode in ("cold", "warm"):
    if mode == "cold":
        os.environ["JAZZ_GRADER_COLD_KERNELS"] = "1"
    else:
        del os.environ["JAZZ_GRADER_COLD_KERNELS"]
    limits = Limits(timeout=float(timeout))
    request = Request("ann", Path(notebook).read_bytes(), None, mode, limits)
    outcome = grade_isolated(request, bundle, scratch_base=Path(scratch))
    found[mode] = {
        "status": outcome.status,
        "reason": outcome.reason,
        "scores": outcome.result.final_scores(),
        "notebook": outcome.protections["notebook"],
        "log": outcome.result.log[-3000:],
    }
forkserver.stop_all()
print("RESULT " + json.dumps(found))
sys.stdout.flush()
os._exit(0)  # as a Dask worker ends: without waiting for nbgrader's ZeroMQ context
"""


def test_a_cold_kernel_grades_as_a_warm_one(tmp_path: Path) -> None:
    """Without the fork server (or when it is not there) kernels start as new Pythons.

    Graded in a process of its own, as on a worker, with and without the warm start.
    """
    course, notebooks = tmp_path / "course", tmp_path / "notebooks"
    run_grader("release", "--course", str(course), "--notebooks", str(notebooks))
    source = nbformat.read(SOURCE, as_version=4)
    release = nbformat.read(notebooks / NOTEBOOK, as_version=4)
    solution = next(m for m in mutants() if m.name == "solution")
    notebook = tmp_path / "ann.ipynb"
    nbformat.write(build_mutant(solution, source, release), notebook)
    script = tmp_path / "grade_both_ways.py"
    script.write_text(GRADE_BOTH_WAYS)
    # A short scratch folder, as a machine's own is: pytest's temporary paths can be too
    # long for the kernels' Unix sockets (see test_scratch_paths_leave_room_for_sockets).
    scratch = Path(tempfile.mkdtemp(prefix="jz-", dir="/tmp"))
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(course), str(notebook), str(scratch), "75"],
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=400,
            check=False,
        )
    finally:
        remove_tree(scratch)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout[-5000:]
    found = json.loads(lines[-1][len("RESULT ") :])
    cold, warm = found["cold"], found["warm"]
    for outcome in (cold, warm):
        assert outcome["status"] == "graded", (outcome["reason"], outcome["log"])
    assert cold["scores"] == warm["scores"]
    assert sum(warm["scores"].values()) == 25
    assert not any("fork server" in n for n in cold["notebook"]["notes"])
    assert any("fork server" in n for n in warm["notebook"]["notes"])
    assert cold["notebook"]["network"] == warm["notebook"]["network"]


def test_scratch_paths_leave_room_for_sockets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long TMPDIR gives way to /tmp, and a kernel folder too deep is refused clearly."""
    from grader.errors import SandboxError
    from grader.sandbox import kernelbox, scratch

    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert scratch.default_scratch_base() == Path(f"/tmp/jazz-batch-{os.geteuid()}")
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    assert scratch.default_scratch_base() == Path(f"/tmp/jazz-batch-{os.geteuid()}")
    with pytest.raises(SandboxError, match="Unix socket"):
        kernelbox.autograde(Path("/nonexistent"), "ann", Path("spec.json"), deep, None)


def test_the_fork_server_starts_only_known_modules() -> None:
    from grader.sandbox.protocol import serves

    assert serves(["python", "-m", "ipykernel_launcher", "-f", "kernel.json"])
    assert serves([sys.executable, "-m", "grader.cleanroom.maker", "job.json", "60"])
    assert serves([sys.executable, "-m", "grader.cleanroom.modelrun", "job.json", "evidence.json"])
    assert not serves([sys.executable, "-m", "grader.cleanroom.run", "job.json"])
    assert not serves(["python", "-m", "http.server"])
    assert not serves(["/usr/bin/env", "-m", "ipykernel_launcher"])
    assert not serves(["python", "-c", "print(1)"])


def _one_shot_server(path: Path, replies: list[dict[str, Any]]) -> Any:
    """A stand-in fork server: takes one request, sends ``replies``, hangs up."""
    import socket
    import struct
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1 << 16)
            for reply in replies:
                data = json.dumps(reply).encode()
                conn.sendall(struct.pack("!I", len(data)) + data)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_fork_server_that_fails_before_the_start_is_bypassed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher starts the command itself rather than report a dead kernel."""
    from grader.sandbox.protocol import delegate

    command = ["python", "-m", "ipykernel_launcher", "-f", "kernel.json"]
    # delegate installs the launcher's signal handlers: not this test process's to change
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    assert delegate(str(tmp_path / "nobody.sock"), "{}", command, (-1, -1)) is None
    thread = _one_shot_server(tmp_path / "fails.sock", [])
    assert delegate(str(tmp_path / "fails.sock"), "{}", command, (-1, -1)) is None
    thread.join(10)
    thread = _one_shot_server(tmp_path / "dies.sock", [{"started": True}])
    assert delegate(str(tmp_path / "dies.sock"), "{}", command, (-1, -1)) == 128 + signal.SIGKILL
    thread.join(10)
    thread = _one_shot_server(tmp_path / "ends.sock", [{"started": True}, {"exit": 3}])
    assert delegate(str(tmp_path / "ends.sock"), "{}", command, (-1, -1)) == 3
    thread.join(10)
