"""What a learner's server has: the course's wheel installed, nbgrader configured for learners.

The distribution (``pip install .``, a wheel) holds ``jazz_utils`` and nothing of the
grader, the solutions notebook or the hidden tests. The test builds the wheel from a copy
of this checkout, installs it into a fresh virtual environment (no editable install, no
checkout on the path) whose third-party packages come from this interpreter's
``site-packages`` listed in a ``.pth`` file (so nothing of that folder's own ``.pth``
files, such as a development install of this project, runs), and looks for every answer
there:

- no ``grader``, ``solutions``, ``tests`` or ``tools`` module can be imported;
- no installed file is a notebook, sits under a ``grader/`` or ``solutions/`` folder, or
  holds nbgrader's solution or hidden-test markers or an import of the grader;
- no installed file holds an exercise's solution: half or more of one solution block's
  lines, or a solution line that builds a model (``inference_model = Model(inputs=[x0,
  a0, c0]...``), and no installed function builds a Keras model from LSTM steps that pass
  a state on (``initial_state=`` and ``Model(`` in one function), which is what
  ``djmodel`` and ``music_inference_model`` ask for.

What stays, by judgment: ``jazz_utils.lstm_reference`` (the LSTM's maths in NumPy, which
the notebook's prose states too; the exercises are the Keras wiring), ``jazz_utils.generate``
(the public sampling loop a learner calls after the exercises: it steps the trained layers
eagerly and builds no model), and the public checks' messages, which quote single lines of
a fix for the mistake they name.

Then a learner's Jupyter configuration (``jupyter_config/learner``, what ``make lab`` uses):
the Assignment List and Validate load; formgrader, the course list and the
create-assignment toolbar do not, even where nbgrader's own install (or ``jupyter server
extension enable --sys-prefix --py nbgrader``) enabled them all.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions" / "Improvise_a_Jazz_Solo_with_an_LSTM.ipynb"
LEARNER_CONFIG = ROOT / "jupyter_config" / "learner"

#: Folders of a checkout the wheel is never built from (made by tools, not tracked).
NOT_SOURCE = (".git", ".venv", "course", "output", "build", "dist", "*.egg-info", "__pycache__")
#: Text that marks a solution or a hidden test (nbgrader's markers) or reaches the grader.
FORBIDDEN_TEXT = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "from grader",
    "import grader",
)
#: nbgrader's lab plugins a learner must not see, and those the learner needs.
HIDDEN_LAB_PLUGINS = {
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
}
LEARNER_LAB_PLUGINS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def learner_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the course's wheel, third-party packages from this interpreter."""
    work = tmp_path_factory.mktemp("learner")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheels = work / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(source)], work)
    (wheel,) = wheels.glob("jazz_solo_lstm-*.whl")
    env = work / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], work)
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    _run([*pip, "--no-index", str(wheel)], work)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run([str(python), "-c", where], work).strip())
    (site / "zz_third_party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return env


def _installed_files(env: Path) -> list[Path]:
    """Every file of the learner's venv but the interpreter's links."""
    return [p for p in env.rglob("*") if p.is_file() and not p.is_symlink()]


def _solution_blocks() -> dict[str, list[str]]:
    """Each exercise's solution lines (stripped, non-blank), by its cell's grade_id."""
    blocks = {}
    for cell in nbformat.read(SOLUTIONS, as_version=4).cells:
        text = cell.source
        if "### BEGIN SOLUTION" not in text:
            continue
        inside = text.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
        lines = [line.strip() for line in inside.splitlines() if line.strip()]
        blocks[cell.metadata["nbgrader"]["grade_id"]] = lines
    assert set(blocks) == {"djmodel", "music_inference_model", "predict_and_sample"}
    return blocks


def builds_unrolled_lstm_model(source: str) -> list[str]:
    """Functions of ``source`` that call a layer with ``initial_state=`` and build a Model.

    Only code counts (strings and comments do not): that pair in one function is an
    unrolled LSTM made into a Keras model, the answer to djmodel or music_inference_model.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
        stateful = any(k.arg == "initial_state" for c in calls for k in c.keywords)
        model = any(
            (isinstance(c.func, ast.Name) and c.func.id == "Model")
            or (isinstance(c.func, ast.Attribute) and c.func.attr == "Model")
            for c in calls
        )
        if stateful and model:
            found.append(node.name)
    return found


def test_the_rule_finds_an_unrolled_model_and_spares_a_sampling_loop() -> None:
    answer = textwrap.dedent(
        """
        def greedy(lstm, dense, x0, a0, c0, steps):
            a, c, x, outputs = a0, c0, x0, []
            for _ in range(steps):
                _, a, c = lstm(x, initial_state=[a, c])
                outputs.append(dense(a))
            return keras.Model(inputs=[x0, a0, c0], outputs=outputs)
        """
    )
    sampler = textwrap.dedent(
        """
        def sample(lstm, dense, x, a, c):
            _, a, c = lstm(x, initial_state=[a, c])
            return "Model(inputs=...)", dense(a)
        """
    )
    assert builds_unrolled_lstm_model(answer) == ["greedy"]
    assert builds_unrolled_lstm_model(sampler) == []


def test_the_wheel_holds_jazz_utils_and_no_grader(learner_env: Path) -> None:
    python = learner_env / "bin" / "python"
    probe = textwrap.dedent(
        """
        import importlib.util, json, jazz_utils, jazz_utils.checks
        print(json.dumps({
            "found": {n: importlib.util.find_spec(n) is not None
                      for n in ("grader", "solutions", "tests", "tools", "bench")},
            "jazz_utils": jazz_utils.__file__,
        }))
        """
    )
    # -I: no current folder, PYTHONPATH or user site on the path; run outside the checkout.
    shown = json.loads(_run([str(python), "-I", "-c", probe], learner_env).splitlines()[-1])
    assert not any(shown["found"].values()), shown["found"]
    assert Path(shown["jazz_utils"]).is_relative_to(learner_env)
    records = list(learner_env.rglob("jazz_solo_lstm-*.dist-info/RECORD"))
    assert len(records) == 1
    tops = {line.split("/", 1)[0] for line in records[0].read_text().splitlines()}
    assert tops == {"jazz_utils", records[0].parent.name}, tops


def test_no_answer_or_hidden_test_is_installed(learner_env: Path) -> None:
    blocks = _solution_blocks()
    model_lines = [line for lines in blocks.values() for line in lines if "Model(inputs=" in line]
    assert len(model_lines) == 2, "djmodel's and music_inference_model's Model(...) lines"
    checked = 0
    for path in _installed_files(learner_env):
        relative = path.relative_to(learner_env)
        assert path.suffix != ".ipynb", relative
        assert not {"grader", "solutions"} & set(relative.parts), relative
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # MIDI and other binary data
        checked += 1
        for marker in FORBIDDEN_TEXT:
            assert marker not in text, f"{relative} holds {marker!r}"
        for line in model_lines:
            assert line.split(",")[0] not in text, f"{relative} holds {line!r}"
        for exercise, lines in blocks.items():
            present = [line for line in lines if line in text]
            assert len(present) < len(lines) / 2, f"{relative} holds {exercise}'s {present}"
        if path.suffix == ".py":
            assert not builds_unrolled_lstm_model(text), f"{relative} builds the exercise's model"
    assert checked > 20, "the wheel's modules were scanned"


def _server_probe(config_path: str) -> dict:
    """What a Jupyter server started with JUPYTER_CONFIG_PATH=config_path loads and shows."""
    probe = textwrap.dedent(
        """
        import json, logging
        from jupyter_server.serverapp import ServerApp
        from jupyterlab_server.config import get_page_config
        app = ServerApp()
        app.initialize(
            argv=["--ServerApp.open_browser=False", "--port=0", "--allow-root",
                  "--ServerApp.root_dir=."],
            find_extensions=True,
        )
        enabled = sorted(n for n, e in app.extension_manager.extensions.items() if e.enabled)
        patterns = [
            getattr(r.matcher, "regex", None) for rule in app.web_app.default_router.rules
            for r in getattr(rule.target, "rules", [])
        ]
        disabled = get_page_config([], None, logging.getLogger()).get("disabledExtensions", [])
        print(json.dumps({
            "enabled": enabled,
            "urls": [p.pattern for p in patterns if p is not None],
            "disabled": sorted(disabled) if isinstance(disabled, list) else sorted(
                k for k, v in disabled.items() if v),
        }))
        """
    )
    env = {**os.environ, "JUPYTER_CONFIG_PATH": config_path}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(Path(config_path.split(os.pathsep)[-1]) / name.lower())
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    out = _run([sys.executable, "-c", probe], Path(config_path.split(os.pathsep)[-1]), env)
    return json.loads(out.splitlines()[-1])


def test_learner_jupyter_shows_no_formgrader(tmp_path: Path) -> None:
    # What nbgrader's own install and `jupyter server extension enable --sys-prefix --py
    # nbgrader` leave in a venv: every nbgrader extension on, at a lower priority.
    everything = tmp_path / "prefix"
    everything.mkdir()
    extensions = {f"nbgrader.server_extensions.{n}": True for n in ("formgrader", "course_list")}
    (everything / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"nbgrader": True, **extensions}}})
    )
    shown = _server_probe(os.pathsep.join([str(LEARNER_CONFIG), str(everything)]))
    nbgrader = {n for n in shown["enabled"] if n.startswith("nbgrader")}
    assert nbgrader == {
        "nbgrader.server_extensions.assignment_list",
        "nbgrader.server_extensions.validate_assignment",
    }
    assert not [u for u in shown["urls"] if "formgrader" in u]
    assert [u for u in shown["urls"] if "assignments" in u]
    assert set(shown["disabled"]) >= HIDDEN_LAB_PLUGINS
    assert not set(shown["disabled"]) & LEARNER_LAB_PLUGINS
    # Without the learner's configuration the same venv serves formgrader: the test sees it.
    plain = _server_probe(str(everything))
    assert [u for u in plain["urls"] if "formgrader" in u]


def test_make_lab_starts_the_learners_configuration() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "JUPYTER_CONFIG_PATH" in recipe and "LEARNER_JUPYTER_CONFIG" in recipe
    assert "jupyter_config/learner" in makefile
    assert "extension enable" not in recipe
