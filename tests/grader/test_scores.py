"""The rubric and the notebook, extraction for the clean room, final scores and reviews,
and the course's nbgrader configuration."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from catalogue import nbgrader_meta, source_notebook

from grader import extract, hidden, probes, rubric
from grader.batch.integrity import Snapshot
from grader.cleanroom.evidence import build_jobs
from grader.preprocessors import skipped_when_grading
from grader.scores import CleanRoomResult, SubmissionResult, last_error

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "grader" / "nbgrader_config.py"


# --- the rubric and the notebook -----------------------------------------------------


def test_rubric_matches_the_source_notebook() -> None:
    cells = {
        nbgrader_meta(c)["grade_id"]: c
        for c in source_notebook().cells
        if nbgrader_meta(c).get("grade")
    }
    assert list(cells) == [cell.grade_id for cell in rubric.GRADE_CELLS]
    for cell in rubric.GRADE_CELLS:
        notebook_cell = cells[cell.grade_id]
        assert float(nbgrader_meta(notebook_cell)["points"]) == cell.points
        assert f'hidden.grade("{cell.grade_id}", globals().get("{cell.function}"))' in (
            notebook_cell.source
        )
        visible = notebook_cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "checks" not in visible and "grader" not in visible
    assert rubric.TOTAL_POINTS == 25
    assert [rubric.points_of(f) for f in rubric.GRADED_FUNCTIONS] == [10, 10, 5]


def test_locked_cells_run_when_grading_exist_and_are_locked_code_cells() -> None:
    cells = {nbgrader_meta(c).get("grade_id"): c for c in source_notebook().cells}
    for grade_id in rubric.LOCKED_CELLS_RUN_WHEN_GRADING:
        cell = cells[grade_id]
        assert (
            cell.cell_type == "code"
            and nbgrader_meta(cell)["locked"]
            and not nbgrader_meta(cell)["grade"]
        )


def test_hidden_tests_do_not_depend_on_the_public_checks() -> None:
    for name in (
        "hidden",
        "probes",
        "judges",
        "reference",
        "cleanroom/evidence",
        "cleanroom/run",
        "extract",
    ):
        text = (ROOT / "grader" / f"{name}.py").read_text()
        assert "jazz_utils.checks" not in text and "from jazz_utils import" not in text, name


def test_grading_skips_training_and_keeps_what_the_tests_need() -> None:
    skipped = {
        nbgrader_meta(c)["grade_id"]
        for c in source_notebook().cells
        if skipped_when_grading(c, rubric.LOCKED_CELLS_RUN_WHEN_GRADING)
    }
    assert {"train", "fused_timing", "generate_corpus", "check_djmodel"} <= skipped
    assert not skipped & {"imports", "layers", "djmodel", "test_djmodel_shapes"}
    learner = nbformat.v4.new_code_cell("x = 1")
    assert not skipped_when_grading(learner, rubric.LOCKED_CELLS_RUN_WHEN_GRADING)


# --- extraction for the clean room ---------------------------------------------------


def _cells(*sources: str) -> list[extract.CodeCell]:
    return [extract.CodeCell(i, None, s, "learner") for i, s in enumerate(sources)]


def test_extraction_keeps_what_the_function_needs_and_nothing_else() -> None:
    cells = _cells(
        "import numpy as np\nimport os\n%matplotlib inline",
        "SIZE = 3\nimport grader\ngrader.hidden = None",
        "def helper(x):\n    return np.zeros(x) + SIZE\n",
        "def djmodel(Tx, a=SIZE):\n    return helper(Tx)\n",
        "os._exit(0)",
        "SIZE = 99",
    )
    program = extract.extract(cells, "djmodel", stop=5)
    text = program.source
    assert "import numpy as np" in text and "SIZE = 3" in text and "def helper" in text
    assert "grader" not in text and "_exit" not in text and "99" not in text
    namespace: dict[str, Any] = {}
    for block in program.blocks:
        exec(block, namespace)
    assert namespace["djmodel"](2).tolist() == [3.0, 3.0]


def test_extraction_follows_conditional_and_star_bindings() -> None:
    cells = _cells(
        "LIMIT = 1",
        "if True:\n    LIMIT = 2",
        "from math import *",
        "def f():\n    return LIMIT + floor(0.5)",
        "this is not python",
    )
    text = extract.extract(cells, "f", stop=5).source
    assert "LIMIT = 1" in text and "LIMIT = 2" in text and "from math import *" in text


def test_clean_room_jobs_of_the_solution() -> None:
    jobs = {job.function: job for job in build_jobs(source_notebook(), source_notebook())}
    assert set(jobs) == set(rubric.GRADED_FUNCTIONS)
    sample = "\n".join(jobs["predict_and_sample"].blocks)
    assert "x_initializer = np.zeros" in sample and "load_music_utils()" in sample
    assert "inference_model = music_inference_model" not in sample
    assert "set_random_seed" not in "\n".join(jobs["djmodel"].blocks)


# --- scores, reviews, submissions, integrity -----------------------------------------


def test_final_score_is_the_clean_rooms_and_its_troubles_are_reviewed() -> None:
    clean = CleanRoomResult(scores={c.grade_id: float(c.points) for c in rubric.GRADE_CELLS})
    clean.scores["test_djmodel_equivalence"] = 1.0
    result = SubmissionResult("s", None, clean, None, None)
    assert result.final_scores()["test_djmodel_equivalence"] == 1.0
    assert sum(result.final_scores().values()) == 21.0
    assert result.review_reasons() == []
    clean.notes.append("the model judge gave no signed result (exit status 1)")
    failed = SubmissionResult("s", "DeadKernelError: Kernel died", clean, None, None)
    reasons = failed.review_reasons()
    assert reasons[0].startswith("nbgrader could not run the notebook: DeadKernelError")
    assert reasons[1] == "clean room: the model judge gave no signed result (exit status 1)"


def test_snapshot_restores_changed_and_planted_files(tmp_path: Path) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("original")
    snapshot = Snapshot.take([kept])
    kept.write_text("tampered")
    planted = tmp_path / "planted.txt"
    planted.write_text("x")
    changed = snapshot.changed([kept, planted])
    assert changed == sorted([kept, planted])
    snapshot.restore(changed)
    assert kept.read_text() == "original" and not planted.exists()


# --- the nbgrader configuration ------------------------------------------------------


def test_nbgrader_config_loads_and_says_what_the_course_needs() -> None:
    from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: F401 - loaded by config
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, OverwriteCells
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config()
    stub = config.ClearSolutions.code_stub["python"]
    assert stub.startswith("# YOUR CODE HERE\nraise NotImplementedError(") and "steps" in stub
    assert config.Execute.timeout >= 60 and config.Execute.kernel_name == "python3"
    assert config.IgnorePattern.enabled is True
    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    ours = config.Autograde.autograde_preprocessors
    assert [p.__name__ for p in ours] == [
        "GradingExecute" if p is Execute else p.__name__ for p in defaults
    ]
    sanitize = [p.__name__ for p in config.Autograde.sanitize_preprocessors]
    assert sanitize.index("RestoreGradeCells") == sanitize.index(OverwriteCells.__name__) + 1


@pytest.mark.parametrize(
    ("text", "ignored"),
    [
        (
            "WARNING: All log messages before absl::InitializeLog() is called are written\n",
            True,
        ),
        (
            "I0000 00:00:1795305811.924450   10757 cudart_stub.cc:31] Could not find cuda\n",
            True,
        ),
        (
            "E0000 00:00:1795305811.923301   10757 port.cc:153] oneDNN custom operations are on.\n",
            True,
        ),
        ("To enable the following instructions: AVX2 FMA, in other operations, rebuild\n", True),
        ("Traceback (most recent call last):\nValueError: wrong shape\n", False),
        ("UserWarning: Do not pass an `input_shape`\n", False),
    ],
)
def test_ignore_pattern_drops_tensorflow_noise_only(text: str, ignored: bool) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    pattern = (
        PyFileConfigLoader(CONFIG.name, str(CONFIG.parent)).load_config().IgnorePattern.pattern
    )
    assert bool(re.search(pattern, text)) is ignored


def test_grade_cells_parse_and_end_with_the_score_expression() -> None:
    for cell in source_notebook().cells:
        if nbgrader_meta(cell).get("grade"):
            tree = ast.parse(cell.source)
            last = tree.body[-1]
            assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            assert ast.unparse(last.value.func) == "hidden.grade"


def test_evidence_survives_json(solution: dict[str, Any]) -> None:
    evidence = probes.collect("test_inference_greedy", solution["music_inference_model"])
    assert json.loads(json.dumps(evidence)) == hidden.roundtrip(evidence)


def test_a_failed_notebook_run_is_reported_by_its_exception() -> None:
    output = (
        "[AutogradeApp | ERROR] There was an error processing assignment\n"
        "    nbclient.exceptions.DeadKernelError: Kernel died\n"
        "[AutogradeApp | ERROR] Please see the the above traceback for details\n"
    )
    assert last_error(output) == "nbclient.exceptions.DeadKernelError: Kernel died"
    assert last_error("[X | ERROR] something broke\n") == "[X | ERROR] something broke"
    assert last_error("all fine\n") is None
